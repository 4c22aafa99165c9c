/**
 * Reduced container rows for the encoder and publish benchmarks: one interval of the
 * generated 200-container stream through the real parser and reducers.
 */
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { StatsParser } from "../../src/source/docker_stats/parser.ts";
import { encodeContainerRows } from "../../src/schema/container_table.ts";
import { IntervalAggregator } from "../../src/reducer/interval.ts";
import type { Mode } from "../../src/reducer/reducer.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { generateStream } from "./workloads.ts";

/** Table, host and interval end the encoder benchmark writes. */
export const ENCODER_TABLE = "containerStats";
export const ENCODER_HOST = "bench-host";
export const ENCODER_END_MS = 1_700_000_100_000;

/**
 * `containers` rows of one interval, reduced in `mode` from 20 redraws of the generated
 * stream. `avg` rows carry means with many decimals (the costlier case for float formatting).
 */
export function benchRows(containers = 200, mode: Mode = "avg"): ContainerRow[] {
  const t0 = 1_700_000_040_000;
  const agg = new IntervalAggregator(60_000, mode, t0);
  const p = new StatsParser((s) => agg.add(s, t0));
  for (const c of generateStream(containers, 20)) p.push(c);
  p.end();
  const closed = agg.closePartial();
  return closed.rows;
}

/** Bytes of the ILP text for `benchRows()` (what one interval's 200 rows weigh on the wire). */
export function encodedBytes(table: string, host: string, endMs: number): number {
  const enc = new IlpEncoder();
  encodeContainerRows(enc, table, host, benchRows(), endMs);
  return new TextEncoder().encode(enc.take()).length;
}
