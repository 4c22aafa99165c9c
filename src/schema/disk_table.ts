/**
 * The `diskStats` table: column names and types (issue "Host disk usage"). Rows are encoded by
 * src/disks/rows.ts; a unit test checks the two agree.
 */

/** Column name to QuestDB type, in table order; `timestamp` is the designated timestamp. */
export const DISK_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["host", "SYMBOL"],
  ["name", "SYMBOL"],
  ["file_system", "SYMBOL"],
  ["mount_point", "SYMBOL"],
  ["type", "SYMBOL"],
  ["available_space", "LONG"],
  ["total_space", "LONG"],
  ["percentage_use", "DOUBLE"],
  ["read_bytes", "LONG"],
  ["write_bytes", "LONG"],
  ["read_bytes_delta", "LONG"],
  ["write_bytes_delta", "LONG"],
  ["timestamp", "TIMESTAMP"],
];

/** Keys that make a resent row replace itself (QuestDB DEDUP UPSERT KEYS). */
export const DISK_UPSERT_KEYS = ["timestamp", "host", "name"] as const;
