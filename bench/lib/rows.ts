/**
 * Reduced container rows for the encoder benchmark: one interval of the generated
 * 200-container stream through the real parser and reducers, and their ILP as the daemon
 * writes it (`encodeRows` over `CONTAINER_TABLE`).
 */
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { IntervalAggregator } from "../../src/reducer/interval.ts";
import type { ContainerRow, Mode } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { encodeRows, msToNs } from "../../src/schema/table.ts";
import { StatsParser } from "../../src/source/docker_stats/parser.ts";
import { generateStream } from "./workloads.ts";

/** Table, host and interval end the encoder benchmark writes. */
export const ENCODER_TABLE = CONTAINER_TABLE.defaultName;
export const ENCODER_HOST = "bench-host";
export const ENCODER_END_MS = 1_700_000_100_000;

/**
 * `containers` rows of one interval, reduced in `mode` from 20 redraws of the generated
 * stream. `avg` rows carry means with many decimals (the costlier case for float formatting).
 */
export function benchRows(containers = 200, mode: Mode = "avg"): ContainerRow[] {
  const t0 = 1_700_000_040_000;
  const agg = new IntervalAggregator({ intervalMs: 60_000, mode, nowMs: t0, graceMs: 0 });
  const p = new StatsParser((s) => agg.add(s, t0));
  for (const c of generateStream(containers, 20)) p.push(c);
  p.end();
  return agg.closeAll(t0)[0]!.rows;
}

/**
 * Appends `rows` to `encoder` as the daemon's publisher does: `ENCODER_TABLE`, host
 * `ENCODER_HOST`, designated timestamp `ENCODER_END_MS`.
 * @throws {Error} when a row cannot be encoded (the benchmark's rows all can).
 */
export function encodeBenchRows(encoder: IlpEncoder, rows: readonly ContainerRow[]): void {
  encodeRows(
    encoder,
    CONTAINER_TABLE,
    ENCODER_TABLE,
    rows,
    msToNs(ENCODER_END_MS),
    { host: ENCODER_HOST },
    (row, e) => {
      throw new Error(`row ${row.name} cannot be encoded: ${e.message}`);
    },
  );
}

/** Bytes of the ILP text for `benchRows()` (what one interval's 200 rows weigh on the wire). */
export function encodedBytes(): number {
  const enc = new IlpEncoder();
  encodeBenchRows(enc, benchRows());
  return new TextEncoder().encode(enc.take()).length;
}
