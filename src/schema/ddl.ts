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

/**
 * `CREATE TABLE IF NOT EXISTS ... TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS`.
 * @returns the SQL text.
 */
export function createTableSql(spec: TableSpec): string {
  const cols = [
    ...spec.decl.columns.map((c) => `${ident(c.name)} ${c.type}`),
    `${ident(TIMESTAMP_COLUMN)} TIMESTAMP`,
  ].join(", ");
  return `CREATE TABLE IF NOT EXISTS ${ident(spec.name)} (${cols}) ` +
    `TIMESTAMP(${TIMESTAMP_COLUMN}) PARTITION BY DAY WAL ` +
    `DEDUP UPSERT KEYS(${spec.decl.upsertKeys.join(", ")})`;
}

/** Runs SQL on QuestDB (HTTP /exec) and returns the result rows. */
export type SqlExec = (sql: string) => Promise<{ dataset?: unknown[][] }>;

/**
 * Creates the tables if missing. An existing table is left as it is; one without DEDUP is
 * reported once at info (resends may then duplicate rows).
 * @throws whatever `exec` throws for a network failure, so the caller retries later.
 */
export async function ensureTables(exec: SqlExec, specs: readonly TableSpec[]): Promise<void> {
  for (const spec of specs) {
    await exec(createTableSql(spec));
    const res = await exec(
      `SELECT dedup FROM tables() WHERE table_name = '${spec.name.replaceAll("'", "''")}'`,
    );
    if (res.dataset?.[0]?.[0] === false) {
      log.info(
        "Table {table} exists without DEDUP UPSERT KEYS; a resend after a timeout may " +
          "duplicate rows. Enable it with: ALTER TABLE {table} DEDUP ENABLE UPSERT KEYS({keys})",
        { table: spec.name, keys: spec.decl.upsertKeys.join(", ") },
      );
    }
  }
}
