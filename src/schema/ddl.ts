/**
 * Table creation for idempotent delivery. A resend after a timeout may repeat a batch that
 * QuestDB did commit; a WAL table with `DEDUP UPSERT KEYS(timestamp, ...)` makes the resend
 * replace the rows instead of doubling them (QuestDB docs "Deduplication").
 */
import { getLogger } from "@logtape/logtape";
import { type TableDecl, TIMESTAMP_COLUMN } from "./table.ts";

const log = getLogger(["container-statsd", "schema"]);

/** A table the daemon writes: its declaration and the name the flags gave it. */
export interface TableSpec {
  /** Table name (validated). */
  name: string;
  /** The declaration (columns, types, upsert keys). */
  decl: TableDecl<never>;
}

/** Quotes a table or column name for QuestDB SQL. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** QuestDB's TTL units (`tables()` reports `ttlUnit` with these names). */
export type RetentionUnit = "HOUR" | "DAY" | "WEEK" | "MONTH" | "YEAR";

/** A table's time-to-live (`--retention`): QuestDB drops whole partitions older than it. */
export interface Retention {
  /** How many units, at least 1. */
  readonly value: number;
  /** The unit. */
  readonly unit: RetentionUnit;
}

const RETENTION_UNITS: Readonly<Record<string, RetentionUnit>> = {
  h: "HOUR",
  d: "DAY",
  w: "WEEK",
  M: "MONTH",
  y: "YEAR",
};

/**
 * Parses `--retention`: `<n><h|d|w|M|y>` (hours, days, weeks, months, years; `M` is months).
 * The tables are partitioned by day and QuestDB drops whole partitions, so it refuses a TTL
 * that is not a whole number of days: hours must be a multiple of 24 (QuestDB docs "ALTER
 * TABLE SET TTL"; QuestDB 9.3.4 answers "TTL value must be an integer multiple of partition
 * size").
 * @returns the retention.
 * @throws {RangeError} naming what is allowed.
 */
export function parseRetention(text: string): Retention {
  const allowed = "Allowed: <n><h|d|w|M|y> such as 7d, 2w, 3M, 1y, 48h " +
    "(hours a multiple of 24: tables are partitioned by day).";
  const m = /^([1-9]\d{0,5})([hdwMy])$/.exec(text.trim());
  if (!m) throw new RangeError(allowed);
  const value = Number(m[1]);
  const unit = RETENTION_UNITS[m[2]!]!;
  if (unit === "HOUR" && value % 24 !== 0) throw new RangeError(allowed);
  return { value, unit };
}

/** A retention in QuestDB's words, e.g. `7 DAY`; `none` for no TTL. */
export function describeRetention(r: Retention | null): string {
  return r ? `${r.value} ${r.unit}` : "none";
}

/**
 * Whether two TTLs are the same period: QuestDB stores `48 HOUR` as `2 DAY`, so fixed units
 * compare in hours and calendar units in months. `null` or a value of 0 is no TTL.
 */
function sameRetention(a: Retention | null, b: Retention | null): boolean {
  const HOURS: Partial<Record<RetentionUnit, number>> = { HOUR: 1, DAY: 24, WEEK: 168 };
  const key = (r: Retention | null) => {
    if (!r || r.value === 0) return "none";
    const h = HOURS[r.unit];
    return h ? `${r.value * h}h` : `${r.value * (r.unit === "YEAR" ? 12 : 1)}M`;
  };
  return key(a) === key(b);
}

/**
 * `CREATE TABLE IF NOT EXISTS ... TIMESTAMP(timestamp) PARTITION BY DAY [TTL n UNIT] WAL DEDUP
 * UPSERT KEYS`. QuestDB 9.3.4 takes TTL before WAL (after it: "unexpected token [TTL]").
 * @param spec the table.
 * @param retention `--retention`; null for no TTL.
 * @returns the SQL text.
 */
export function createTableSql(spec: TableSpec, retention: Retention | null = null): string {
  const cols = [
    ...spec.decl.columns.map((c) => `${ident(c.name)} ${c.type}`),
    `${ident(TIMESTAMP_COLUMN)} TIMESTAMP`,
  ].join(", ");
  const ttl = retention ? `TTL ${describeRetention(retention)} ` : "";
  return `CREATE TABLE IF NOT EXISTS ${ident(spec.name)} (${cols}) ` +
    `TIMESTAMP(${TIMESTAMP_COLUMN}) PARTITION BY DAY ${ttl}WAL ` +
    `DEDUP UPSERT KEYS(${spec.decl.upsertKeys.join(", ")})`;
}

/** Runs SQL on QuestDB (HTTP /exec) and returns the result rows. */
export type SqlExec = (sql: string) => Promise<{ dataset?: unknown[][] }>;

/**
 * Creates the tables if missing, with `retention` as their TTL. An existing table is left as
 * it is; one without DEDUP is reported once at info (resends may then duplicate rows), and
 * with a retention, one whose TTL (`tables()` `ttlValue`, `ttlUnit`) differs is reported at
 * info too.
 * @param exec runs SQL.
 * @param specs the tables.
 * @param retention `--retention`; null leaves TTLs out and unchecked.
 * @throws whatever `exec` throws for a network failure, so the caller retries later.
 */
export async function ensureTables(
  exec: SqlExec,
  specs: readonly TableSpec[],
  retention: Retention | null = null,
): Promise<void> {
  for (const spec of specs) {
    await exec(createTableSql(spec, retention));
    const where = `WHERE table_name = '${spec.name.replaceAll("'", "''")}'`;
    if (retention) await reportRetention(exec, spec.name, where, retention);
    const res = await exec(`SELECT dedup FROM tables() ${where}`);
    if (res.dataset?.[0]?.[0] === false) {
      log.info(
        "Table {table} exists without DEDUP UPSERT KEYS; a resend after a timeout may " +
          "duplicate rows. Enable it with: ALTER TABLE {table} DEDUP ENABLE UPSERT KEYS({keys})",
        { table: spec.name, keys: spec.decl.upsertKeys.join(", ") },
      );
    }
  }
}

/** Reports at info an existing table whose TTL is not `retention`; the table is left alone. */
async function reportRetention(
  exec: SqlExec,
  table: string,
  where: string,
  retention: Retention,
): Promise<void> {
  const row = (await exec(`SELECT ttlValue, ttlUnit FROM tables() ${where}`)).dataset?.[0];
  if (!row || typeof row[0] !== "number" || typeof row[1] !== "string") return;
  const current = { value: row[0], unit: row[1] as RetentionUnit };
  if (sameRetention(current, retention)) return;
  log.info(
    "Table {table} exists with TTL {current}; --retention {wanted} applies to tables the " +
      "daemon creates, so it is left as it is. Change it with: ALTER TABLE {table} SET TTL " +
      "{wanted}",
    {
      table,
      current: current.value === 0 ? "none" : describeRetention(current),
      wanted: describeRetention(retention),
    },
  );
}
