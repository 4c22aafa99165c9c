/**
 * The `containerStats` table: column names and types (compatible with the Rust original's
 * dashboards; seeds/001 `show columns from containerStats`), its ILP encoding and its DDL.
 */
import type { IlpEncoder } from "../ilp/encoder.ts";
import type { ContainerRow } from "../reducer/reducer.ts";

/** Column name to QuestDB type, in table order; `timestamp` is the designated timestamp. */
export const CONTAINER_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["host", "SYMBOL"],
  ["container", "SYMBOL"],
  ["name", "SYMBOL"],
  ["id", "VARCHAR"],
  ["cpu", "DOUBLE"],
  ["memory_percentage", "DOUBLE"],
  ["memory_use", "DOUBLE"],
  ["total_memory", "DOUBLE"],
  ["block_io_in", "DOUBLE"],
  ["block_io_out", "DOUBLE"],
  ["net_io_in", "DOUBLE"],
  ["net_io_out", "DOUBLE"],
  ["block_io_in_delta", "LONG"],
  ["block_io_out_delta", "LONG"],
  ["net_io_in_delta", "LONG"],
  ["net_io_out_delta", "LONG"],
  ["pids", "LONG"],
  ["samples", "LONG"],
  ["timestamp", "TIMESTAMP"],
];

/** Keys that make a resent row replace itself (QuestDB DEDUP UPSERT KEYS). */
export const CONTAINER_UPSERT_KEYS = ["timestamp", "host", "container"] as const;

/**
 * Milliseconds since the epoch to ILP nanoseconds.
 * @param ms a whole number of milliseconds.
 */
export function msToNs(ms: number): bigint {
  return BigInt(ms) * 1_000_000n;
}

/**
 * Appends one ILP row per container to `encoder`.
 *
 * @param encoder the ILP encoder to append to.
 * @param table table name (already validated).
 * @param host value of the `host` symbol (--node).
 * @param rows reduced rows of one interval.
 * @param endMs interval end, milliseconds since the epoch: the designated timestamp.
 * @throws {RangeError} from the encoder for a non-finite value (cannot happen for parsed
 *   samples) or an invalid name.
 */
export function encodeContainerRows(
  encoder: IlpEncoder,
  table: string,
  host: string,
  rows: readonly ContainerRow[],
  endMs: number,
): void {
  const ts = msToNs(endMs);
  for (const r of rows) {
    encoder.table(table)
      .symbol("host", host)
      .symbol("container", r.container)
      .symbol("name", r.name)
      .stringColumn("id", r.id)
      .floatColumn("cpu", r.cpu)
      .floatColumn("memory_percentage", r.memoryPercentage)
      .floatColumn("memory_use", r.memoryUse)
      .floatColumn("total_memory", r.totalMemory)
      .floatColumn("block_io_in", r.blockIn)
      .floatColumn("block_io_out", r.blockOut)
      .floatColumn("net_io_in", r.netIn)
      .floatColumn("net_io_out", r.netOut)
      .intColumn("block_io_in_delta", r.blockInDelta)
      .intColumn("block_io_out_delta", r.blockOutDelta)
      .intColumn("net_io_in_delta", r.netInDelta)
      .intColumn("net_io_out_delta", r.netOutDelta)
      .intColumn("pids", r.pids)
      .intColumn("samples", r.samples)
      .at(ts);
  }
}
