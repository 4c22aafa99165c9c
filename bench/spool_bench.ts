/**
 * The spool's write while delivery fails (issue 16, "The spool rewrites the whole queue as one
 * string every 5 s"): a queue of `SPOOL_BENCH_ROWS` rows (default 100 000, the default
 * `--buffer-rows`) in intervals of 200 real container rows (bench/lib/rows.ts), full, so each
 * new interval drops the oldest. Each iteration queues one interval and writes the spool, as
 * the periodic write does:
 *
 * - `whole queue (before)`: the earlier spool's write, `formatSpool` of every queued batch to
 *   one temporary file, fsync, rename (one string the size of the queue);
 * - `append (now)`: `Spool.sync(queue, true)` of src/delivery/spool.ts: the dropped interval's
 *   segment leaves, the new interval is written as a segment of its own.
 *
 * Run: deno bench --allow-read --allow-write --allow-env bench/spool_bench.ts
 * (SPOOL_BENCH_ROWS=1000000 for --buffer-rows' maximum).
 */
import { IlpEncoder } from "../src/ilp/encoder.ts";
import { type Batch, BatchQueue } from "../src/delivery/queue.ts";
import { formatSpool, Spool } from "../src/delivery/spool.ts";
import { benchRows, encodeBenchRows, ENCODER_END_MS } from "./lib/rows.ts";

const rowsTotal = Number(Deno.env.get("SPOOL_BENCH_ROWS") ?? 100_000);
const enc = new IlpEncoder();
encodeBenchRows(enc, benchRows(200, "avg"));
const ilp = enc.take();
let endMs = ENCODER_END_MS;
const next = (): Batch => ({ endMs: endMs += 5000, rows: 200, ilp });

/** A full queue and its directory. */
function fullQueue(): { queue: BatchQueue; dir: string } {
  const queue = new BatchQueue(rowsTotal);
  while (queue.rows + 200 <= rowsTotal) queue.push(next());
  return { queue, dir: Deno.makeTempDirSync({ prefix: "statsd-spool-bench-" }) };
}

const before = fullQueue();
const after = fullQueue();
const spool = new Spool(after.dir);
await spool.sync(after.queue, true); // the outage's first write: everything so far

console.log(
  `queue: ${after.queue.rows} rows in ${after.queue.length} intervals, ` +
    `${(after.queue.length * ilp.length / 2 ** 20).toFixed(1)} MiB of ILP`,
);

Deno.bench({
  name: "whole queue (before)",
  group: `spool write, queue of ${rowsTotal} rows`,
  baseline: true,
  async fn() {
    before.queue.push(next());
    const tmp = `${before.dir}/spool.jsonl.tmp`;
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    const data = new TextEncoder().encode(formatSpool(before.queue.toArray()));
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
    await file.sync();
    file.close();
    await Deno.rename(tmp, `${before.dir}/spool.jsonl`);
  },
});

Deno.bench({
  name: "append (now)",
  group: `spool write, queue of ${rowsTotal} rows`,
  async fn() {
    after.queue.push(next());
    await spool.sync(after.queue, true);
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(before.dir, { recursive: true });
  Deno.removeSync(after.dir, { recursive: true });
});
