/**
 * A table declared once: its columns (name, QuestDB type, unit, how a row gives the value) and
 * its upsert keys. The ILP encoding ({@link encodeRows}) and the DDL (src/schema/ddl.ts) are
 * both derived from the declaration, so they cannot disagree.
 *
 * @module
 */
import type { IlpEncoder } from "../ilp/encoder.ts";

/** QuestDB column types the daemon writes (ILP: symbol, quoted string, bare double, `i` long). */
export type ColumnType = "SYMBOL" | "VARCHAR" | "DOUBLE" | "LONG";

/** What a column's number means. */
export type Unit = "bytes" | "percent" | "count" | "code" | "text";

/** What every row of a table is encoded with besides the row itself. */
export interface RowContext {
  /** Value of the `host` symbol (`--node`). */
  readonly host: string;
}

/** One column of a {@link TableDecl}. */
export interface ColumnDecl<R> {
  /** Column name, valid for QuestDB and ILP. */
  readonly name: string;
  /** QuestDB type. */
  readonly type: ColumnType;
  /** Unit of the value. */
  readonly unit: Unit;
  /**
   * The row's value; `undefined` leaves the column out of that row (NULL in QuestDB). A
   * number for DOUBLE and LONG (LONG: a safe integer), a string for SYMBOL and VARCHAR.
   */
  readonly value: (row: R, context: RowContext) => string | number | undefined;
}

/**
 * A table: columns in table order (symbols first, as ILP writes them), then the designated
 * timestamp `timestamp`, which is not listed.
 */
export interface TableDecl<R> {
  /** Default table name (a flag may rename it). */
  readonly defaultName: string;
  /** Columns, symbols first. */
  readonly columns: readonly ColumnDecl<R>[];
  /** `DEDUP UPSERT KEYS`; includes `timestamp`. */
  readonly upsertKeys: readonly string[];
}

/** A table as written: its declaration and the name the flags gave it. */
export interface NamedTable<R> {
  /** Table (measurement) name. */
  readonly name: string;
  /** Its declaration. */
  readonly decl: TableDecl<R>;
}

/** The `host` symbol (`--node`), the first column of every table. */
export function hostSymbol<R>(): ColumnDecl<R> {
  return { name: "host", type: "SYMBOL", unit: "text", value: (_, c) => c.host };
}

/** Name of the designated timestamp column of every table. */
export const TIMESTAMP_COLUMN = "timestamp";

/**
 * Checks and returns a declaration.
 * @throws {TypeError} when a symbol follows a non-symbol column, a name repeats, or an upsert
 *   key is not a column.
 */
export function defineTable<R>(decl: TableDecl<R>): TableDecl<R> {
  const seen = new Set<string>([TIMESTAMP_COLUMN]);
  let fields = false;
  for (const c of decl.columns) {
    if (seen.has(c.name)) throw new TypeError(`table ${decl.defaultName}: column ${c.name} twice`);
    seen.add(c.name);
    if (c.type !== "SYMBOL") fields = true;
    else if (fields) {
      throw new TypeError(`table ${decl.defaultName}: symbol ${c.name} after a field`);
    }
  }
  for (const k of decl.upsertKeys) {
    if (!seen.has(k)) throw new TypeError(`table ${decl.defaultName}: upsert key ${k} unknown`);
  }
  return decl;
}

/**
 * The same table with extra SYMBOL columns after its own symbols (e.g. container labels).
 * @throws {TypeError} when a name clashes with an existing column.
 */
export function withSymbols<R>(
  decl: TableDecl<R>,
  extra: readonly ColumnDecl<R>[],
): TableDecl<R> {
  const symbols = decl.columns.filter((c) => c.type === "SYMBOL");
  const rest = decl.columns.filter((c) => c.type !== "SYMBOL");
  return defineTable({
    ...decl,
    columns: [...symbols, ...extra.map((c) => ({ ...c, type: "SYMBOL" as const })), ...rest],
  });
}

/** How rows are written for a sink. */
export interface EncodeOptions {
  /** Write VARCHAR columns as string fields. Default true; false for VictoriaMetrics. */
  readonly stringFields?: boolean;
}

/**
 * Milliseconds since the epoch to ILP nanoseconds.
 * @param ms a whole number of milliseconds.
 */
export function msToNs(ms: number): bigint {
  return BigInt(ms) * 1_000_000n;
}

/**
 * Appends one ILP row per element of `rows`. A row that cannot be encoded (a non-finite DOUBLE,
 * a LONG that is not a safe integer, a bad symbol) costs that row alone: the encoder discards
 * it, `onError` hears of it, and the next row is encoded.
 *
 * @param encoder where the rows go.
 * @param decl the table's declaration.
 * @param table the table's name (validated by the flags).
 * @param rows the rows.
 * @param timestampNs designated timestamp, ns since the epoch, for all rows or per row.
 * @param context values shared by all rows (`host`).
 * @param onError called for each row that failed, with the error.
 * @param options sink dialect.
 * @returns the number of rows encoded.
 */
export function encodeRows<R>(
  encoder: IlpEncoder,
  decl: TableDecl<R>,
  table: string,
  rows: readonly R[],
  timestampNs: bigint | ((row: R) => bigint),
  context: RowContext,
  onError: (row: R, error: Error) => void,
  options: EncodeOptions = {},
): number {
  const strings = options.stringFields ?? true;
  let ok = 0;
  for (const row of rows) {
    try {
      encoder.table(table);
      for (const c of decl.columns) {
        const v = c.value(row, context);
        if (v === undefined) continue;
        switch (c.type) {
          case "SYMBOL":
            encoder.symbol(c.name, v as string);
            break;
          case "VARCHAR":
            if (strings) encoder.stringColumn(c.name, v as string);
            break;
          case "DOUBLE":
            encoder.floatColumn(c.name, v as number);
            break;
          case "LONG":
            encoder.intColumn(c.name, v as number);
            break;
        }
      }
      encoder.at(typeof timestampNs === "bigint" ? timestampNs : timestampNs(row));
      ok++;
    } catch (e) {
      onError(row, e instanceof Error ? e : new Error(String(e)));
    }
  }
  return ok;
}
