/**
 * `--dry-run`: a sink that prints each interval's rows to stdout instead of sending them, so a
 * newcomer sees what would be written without a QuestDB. Logs still go to stderr.
 *
 * - `--dry-run=ilp` prints the batch's ILP text exactly as QuestDB would receive it.
 * - `--dry-run` (`table`) prints one aligned table per table and interval. The sink receives
 *   the same ILP batch as any other sink and decodes it (ILP as src/ilp/encoder.ts writes it:
 *   backslash escapes in names and symbols, quoted strings, `i` longs), so the table shows
 *   exactly the rows that would be written, and publishing keeps one interface for every sink.
 *
 * Nothing is queued, retried or spooled: a dry run never touches the spool of a real install.
 *
 * @module
 */
import { CONTAINER_TABLE } from "../schema/containers.ts";
import type { TableSpec } from "../schema/ddl.ts";
import { DISK_TABLE } from "../schema/disks.ts";
import type { ColumnDecl, TableDecl, Unit } from "../schema/table.ts";
import type { Batch } from "./queue.ts";
import { type DeliveryStats, newDeliveryStats, type RowSink } from "./sink.ts";

/** One decoded ILP row. */
export interface IlpRow {
  /** Table (measurement). */
  readonly table: string;
  /** Symbols and fields by column name: strings for symbols and strings, numbers otherwise. */
  readonly values: ReadonlyMap<string, string | number>;
  /** Designated timestamp, ns since the epoch; null when the line has none. */
  readonly timestampNs: bigint | null;
}

/** A space, a timestamp and the end of the line, matched where it starts (`y`). */
const TIMESTAMP_ONLY = / \d+(?:\n|$)/y;

/**
 * Decodes ILP text (one row per line) as the daemon's encoder writes it: `table,sym=v,...
 * col=v,... ts` (a row may have symbols only). Backslash escapes are undone in names and symbol values; `"..."` is a string,
 * `12i` a long, anything else a double (ILP line protocol reference, QuestDB docs).
 * @param text one or more complete lines.
 * @returns the rows in order.
 * @throws {SyntaxError} naming the line when it is not ILP.
 */
export function decodeIlp(text: string): IlpRow[] {
  const rows: IlpRow[] = [];
  let i = 0;
  /** Reads up to an unescaped character of `stops`, undoing escapes. */
  const until = (stops: string): string => {
    let out = "";
    while (i < text.length && !stops.includes(text[i]!)) {
      if (text[i] === "\\" && i + 1 < text.length) i++;
      out += text[i++];
    }
    return out;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`Cannot decode ILP row ${rows.length + 1}: ${what}`);
  };
  while (i < text.length) {
    const table = until(", \n");
    const values = new Map<string, string | number>();
    while (text[i] === ",") {
      i++;
      const key = until("=\n");
      if (text[i++] !== "=") fail(`symbol ${key} has no value`);
      values.set(key, until(", \n"));
    }
    if (text[i] !== " ") fail("no fields and no timestamp");
    // A row of symbols only (QuestDB takes it) goes straight on to its timestamp.
    TIMESTAMP_ONLY.lastIndex = i;
    const symbolsOnly = TIMESTAMP_ONLY.test(text);
    while (!symbolsOnly && (text[i] === " " || text[i] === ",")) {
      i++;
      const key = until("=\n");
      if (text[i++] !== "=") fail(`field ${key} has no value`);
      if (text[i] === '"') {
        i++;
        values.set(key, until('"'));
        if (text[i++] !== '"') fail(`string ${key} is not closed`);
      } else {
        const raw = until(", \n");
        const n = Number(raw.endsWith("i") ? raw.slice(0, -1) : raw);
        if (raw === "" || Number.isNaN(n)) fail(`field ${key} is not a number: ${raw}`);
        values.set(key, n);
      }
      if (text[i] === " ") break;
    }
    let timestampNs: bigint | null = null;
    if (text[i] === " ") {
      i++;
      const ts = until("\n");
      if (!/^\d+$/.test(ts)) fail(`bad timestamp ${ts}`);
      timestampNs = BigInt(ts);
    }
    if (i < text.length && text[i++] !== "\n") fail("trailing text");
    rows.push({ table, values, timestampNs });
  }
  return rows;
}

/**
 * Columns the table view shows for the daemon's own tables, by default table name; label
 * symbols a table gained (`withSymbols`, e.g. `compose_project`) follow `name`. Other tables
 * show every column but VARCHARs.
 */
const VIEWS = new Map<string, { base: TableDecl<never>; columns: readonly string[] }>([
  [CONTAINER_TABLE.defaultName, {
    base: CONTAINER_TABLE as TableDecl<never>,
    columns: [
      "host",
      "name",
      "cpu",
      "memory_use",
      "total_memory",
      "net_io_in_delta",
      "net_io_out_delta",
      "block_io_in_delta",
      "block_io_out_delta",
      "pids",
      "samples",
    ],
  }],
  [DISK_TABLE.defaultName, {
    base: DISK_TABLE as TableDecl<never>,
    columns: [
      "host",
      "name",
      "mount_point",
      "percentage_use",
      "available_space",
      "total_space",
      "read_bytes_delta",
      "write_bytes_delta",
    ],
  }],
]);

/**
 * The columns a table view shows, in order.
 * @throws {Error} when a view names a column its table does not declare.
 */
export function viewColumns(decl: TableDecl<never>): ColumnDecl<never>[] {
  const view = VIEWS.get(decl.defaultName);
  if (!view) return decl.columns.filter((c) => c.type !== "VARCHAR");
  const labels = decl.columns.filter((c) =>
    c.type === "SYMBOL" && !view.base.columns.some((b) => b.name === c.name)
  ).map((c) => c.name);
  const names = [...view.columns];
  names.splice(names.indexOf("name") + 1, 0, ...labels);
  return names.map((n) => {
    const c = decl.columns.find((col) => col.name === n);
    if (!c) throw new Error(`${decl.defaultName} has no column ${n} for the dry run's table`);
    return c;
  });
}

/**
 * A value as the table view prints it: percent with 2 decimals, bytes in binary units
 * (`KiB`, `MiB`, `GiB`, as `docker stats` prints memory), counts whole, text as it is, `-`
 * for a value the row does not have.
 */
export function formatValue(value: string | number | undefined, unit: Unit): string {
  if (value === undefined) return "-";
  if (typeof value === "string") return value;
  if (unit === "percent") return value.toFixed(2);
  if (unit !== "bytes") return String(value);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = value;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v.toFixed(1)}${units[u]}`;
}

/**
 * Lays out rows as an aligned text table: a header of column names, text left-aligned and
 * numbers right-aligned, two spaces between columns.
 * @returns the lines, each ending with a newline.
 */
export function alignedTable(
  columns: readonly ColumnDecl<never>[],
  rows: readonly IlpRow[],
): string {
  const cells = rows.map((r) => columns.map((c) => formatValue(r.values.get(c.name), c.unit)));
  const widths = columns.map((c, j) => Math.max(c.name.length, ...cells.map((r) => r[j]!.length)));
  const right = columns.map((c) => c.unit !== "text");
  const line = (values: readonly string[]) =>
    values.map((v, j) => right[j] ? v.padStart(widths[j]!) : v.padEnd(widths[j]!)).join("  ")
      .trimEnd() + "\n";
  return line(columns.map((c) => c.name)) + cells.map(line).join("");
}

/** Every column of rows whose table is not declared, shown as text. */
function undeclaredColumns(rows: readonly IlpRow[]): ColumnDecl<never>[] {
  const names = new Set(rows.flatMap((r) => [...r.values.keys()]));
  return [...names].map((name) => ({ name, type: "VARCHAR", unit: "text", value: () => "" }));
}

/** Options of {@link DryRunSink}. */
export interface DryRunOptions {
  /** `table`: aligned tables; `ilp`: the ILP lines as they would be sent. */
  format: "table" | "ilp";
  /** The tables the daemon writes (to find each row's declaration). */
  tables: readonly TableSpec[];
  /** Where the text goes. Default: stdout, written synchronously. */
  write?: (text: string) => void;
  /** Called after each printed batch (STATUS). */
  onAttempt?: () => void;
}

/** Writes all of `text` to stdout (writeSync may write part of it). */
function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** The `--dry-run` sink: every batch is printed at once and counted as delivered. */
export class DryRunSink implements RowSink {
  /** @inheritdoc */
  readonly name = "stdout";
  /** @inheritdoc */
  readonly encoding = {};
  /** @inheritdoc */
  readonly stats: DeliveryStats = newDeliveryStats();
  /** Nothing ever waits. */
  readonly pendingRows = 0;
  readonly #o: DryRunOptions;
  readonly #write: (text: string) => void;

  /** Makes the sink. */
  constructor(options: DryRunOptions) {
    this.#o = options;
    this.#write = options.write ?? writeStdout;
  }

  /** No spool in a dry run. @returns 0. */
  loadSpool(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Prints the batch. A batch that cannot be decoded is printed as ILP, with a note. */
  enqueue(batch: Batch): void {
    if (batch.rows === 0) return;
    this.#write(this.#o.format === "ilp" ? batch.ilp : this.#render(batch));
    this.stats.deliveredRows += batch.rows;
    this.stats.last = { endMs: batch.endMs, rows: batch.rows, ok: true };
    this.#o.onAttempt?.();
  }

  #render(batch: Batch): string {
    const end = new Date(batch.endMs).toISOString();
    let rows: IlpRow[];
    try {
      rows = decodeIlp(batch.ilp);
    } catch (e) {
      return `# interval ending ${end}: ${(e as Error).message}; as ILP:\n${batch.ilp}\n`;
    }
    let out = "";
    for (const table of new Set(rows.map((r) => r.table))) {
      const own = rows.filter((r) => r.table === table);
      const decl = this.#o.tables.find((t) => t.name === table)?.decl;
      const columns = decl ? viewColumns(decl) : undeclaredColumns(own);
      out +=
        `# ${table}, interval ending ${end} (${own.length} row${own.length === 1 ? "" : "s"})\n` +
        alignedTable(columns, own) + "\n";
    }
    return out;
  }

  /** Nothing to start. */
  start(): void {}

  /** Nothing left. @returns 0. */
  stop(_deadlineMs: number): Promise<number> {
    return Promise.resolve(0);
  }
}
