/**
 * Publish latency at 200 containers (issue 6, part 5): from the interval boundary to QuestDB's
 * 204, measured inside a harness that drives the daemon's own parts directly: `Pipeline` (real
 * clock and boundary timer), `encodeContainerRows` + `IlpEncoder`, `Delivery` with its
 * `prepare` (CREATE TABLE ... DEDUP, as main.ts does) and `HttpTransport`, against a real,
 * private QuestDB. The transport is wrapped to stamp the moment `send` resolves, which is when
 * QuestDB's 204 has arrived.
 *
 * Input: the generated 200-container stream, one redraw every 500 ms (the CLI's pace). The
 * interval is 10 s so that several boundaries pass in a minute; the work at a boundary (200
 * rows) is the same as with `--interval 1m`. The first publish also creates the table and is
 * reported apart.
 *
 * For comparison the footprint part's daemon runs at N=200 give boundary -> "Published" log
 * line arrival, with the real daemon and real containers (bench/footprint.ts).
 */
import { Delivery } from "../src/delivery/delivery.ts";
import { parseConfigString } from "../src/ilp/config.ts";
import { IlpEncoder } from "../src/ilp/encoder.ts";
import { HttpTransport } from "../src/ilp/http.ts";
import type { IlpTransport } from "../src/ilp/transport.ts";
import { Pipeline } from "../src/pipeline.ts";
import type { ClosedInterval } from "../src/reducer/interval.ts";
import {
  CONTAINER_COLUMNS,
  CONTAINER_UPSERT_KEYS,
  encodeContainerRows,
} from "../src/schema/container_table.ts";
import { ensureTables } from "../src/schema/ddl.ts";
import { generateStream } from "./lib/workloads.ts";

/** Options of the latency part. */
export interface LatencyOptions {
  httpPort: number;
  /** Boundaries to measure after the first (table-creating) one. */
  boundaries: number;
  intervalMs: number;
  log: (msg: string) => void;
}

/** One boundary. */
export interface BoundaryTiming {
  endMs: number;
  rows: number;
  bytes: number;
  /** Boundary -> the interval closed (timer lateness), ms. */
  closeMs: number;
  /** Encoding the rows, ms. */
  encodeMs: number;
  /** Boundary -> send started, ms. */
  sendStartMs: number;
  /** Boundary -> QuestDB's 204 (send resolved), ms. */
  totalMs: number;
  /** The HTTP request alone, ms. */
  requestMs: number;
}

/** Everything the latency part produced. */
export interface LatencyResult {
  intervalMs: number;
  containers: number;
  first: BoundaryTiming | null;
  boundaries: BoundaryTiming[];
}

/** Wraps a transport to stamp when each send starts and resolves. */
class TimedTransport implements IlpTransport {
  readonly target: string;
  readonly sends: { start: number; end: number; bytes: number }[] = [];
  readonly #inner: HttpTransport;
  constructor(inner: HttpTransport) {
    this.#inner = inner;
    this.target = inner.target;
  }
  async send(body: string): Promise<void> {
    const start = Date.now();
    const p0 = performance.now();
    await this.#inner.send(body);
    const ms = performance.now() - p0;
    this.sends.push({ start, end: start + ms, bytes: body.length });
  }
  exec(sql: string) {
    return this.#inner.exec(sql);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Runs the latency harness. */
export async function runLatency(o: LatencyOptions): Promise<LatencyResult> {
  const containers = 200;
  const cfg = parseConfigString(`http::addr=127.0.0.1:${o.httpPort};`);
  const transport = new TimedTransport(new HttpTransport(cfg));
  const delivery = new Delivery({
    transport,
    bufferRows: 100_000,
    prepare: () =>
      ensureTables((sql) => transport.exec(sql), [
        { name: "containerStats", columns: CONTAINER_COLUMNS, upsertKeys: CONTAINER_UPSERT_KEYS },
      ]),
  });
  delivery.start();
  const ilp = new IlpEncoder();
  const marks: { endMs: number; closedAt: number; encodeMs: number; rows: number }[] = [];
  const pipeline = new Pipeline({
    intervalMs: o.intervalMs,
    mode: "max",
    onInterval: (closed: ClosedInterval) => {
      const closedAt = Date.now();
      const p0 = performance.now();
      encodeContainerRows(ilp, "containerStats", "bench-latency", closed.rows, closed.endMs);
      const rows = ilp.rowCount;
      const text = ilp.take();
      const encodeMs = performance.now() - p0;
      marks.push({ endMs: closed.endMs, closedAt, encodeMs, rows });
      delivery.enqueue({ endMs: closed.endMs, rows, ilp: text });
    },
  });
  // One redraw per 500 ms: split the generated stream back into redraws.
  const redraws = generateStream(containers, 20, Number.MAX_SAFE_INTEGER);
  let next = 0;
  const feeder = setInterval(() => pipeline.push(redraws[next++ % redraws.length]!), 500);
  pipeline.start();
  const wanted = o.boundaries + 1;
  // The first boundary can come early (a partial interval); wait for `wanted` full ones.
  const deadline = Date.now() + (wanted + 2) * o.intervalMs + 30_000;
  while (transport.sends.length < wanted && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  clearInterval(feeder);
  pipeline.stop();
  await delivery.stop(Date.now() + 5000);
  const timings: BoundaryTiming[] = [];
  for (let i = 0; i < marks.length && i < transport.sends.length; i++) {
    const m = marks[i]!;
    const s = transport.sends[i]!;
    timings.push({
      endMs: m.endMs,
      rows: m.rows,
      bytes: s.bytes,
      closeMs: m.closedAt - m.endMs,
      encodeMs: m.encodeMs,
      sendStartMs: s.start - m.endMs,
      totalMs: s.end - m.endMs,
      requestMs: s.end - s.start,
    });
  }
  // The first interval is partial (the harness started mid-interval) and its publish creates
  // the table; the rest are full intervals of 200 rows.
  const [first, ...rest] = timings;
  for (const t of rest) {
    o.log(
      `latency: boundary -> 204 ${t.totalMs.toFixed(1)} ms (close ${t.closeMs} ms, encode ${
        t.encodeMs.toFixed(2)
      } ms, request ${t.requestMs.toFixed(1)} ms, ${t.rows} rows)`,
    );
  }
  return { intervalMs: o.intervalMs, containers, first: first ?? null, boundaries: rest };
}
