/**
 * Publish latency at 200 containers (issue 6; part 7 of BENCHMARKS.md): from the interval
 * boundary to QuestDB's 204, measured inside a harness wired like main.ts from the daemon's own parts: a
 * `DockerStatsSource` (its child a stand-in `docker` replaying the generated 200-container
 * stream), `IntervalClock` (real clock and boundary timer), `Publisher` (rows encoded from the
 * table declaration) and `Delivery` with its `prepare` (CREATE TABLE ... DEDUP) and
 * `HttpTransport`, against a real, private QuestDB. The transport is wrapped to stamp the moment
 * `send` resolves, which is when QuestDB's 204 has arrived.
 *
 * Input: one redraw of 200 containers every 500 ms (the CLI's pace). The interval is 10 s so
 * that several boundaries pass in a minute; the work at a boundary (200 rows) is the same as
 * with `--interval 1m`. The first publish also creates the table and is reported apart.
 *
 * For comparison the footprint part's daemon runs at N=200 give boundary -> "Published" log
 * line arrival, with the real daemon and real containers (bench/footprint.ts).
 */
import { Delivery } from "../src/delivery/delivery.ts";
import { parseConfigString } from "../src/ilp/config.ts";
import { HttpTransport } from "../src/ilp/http.ts";
import type { IlpTransport } from "../src/ilp/transport.ts";
import { Publisher } from "../src/publish.ts";
import { IntervalClock } from "../src/reducer/interval_clock.ts";
import { CONTAINER_TABLE } from "../src/schema/containers.ts";
import { ensureTables } from "../src/schema/ddl.ts";
import { DockerStatsSource } from "../src/source/docker_stats/source.ts";
import { standInDocker } from "./lib/stand_in_docker.ts";
import { generateStream, writeRecordingFile } from "./lib/workloads.ts";

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
  /** Interval closed -> its rows encoded and queued on the sink (`Publisher`), ms. */
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

const OUT = new URL("./out/", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** A stand-in `docker` whose `stats` prints a redraw of `containers` every 500 ms. */
function pacedStream(containers: number): string {
  const recording = `${OUT}latency-${containers}.jsonl`;
  const redraws = generateStream(containers, 20, Number.MAX_SAFE_INTEGER);
  writeRecordingFile(recording, redraws.map((bytes, i) => ({ t: i * 0.5, bytes })));
  const replayer = `deno run -q --allow-read ${ROOT}bench/lib/replay_docker.ts ${recording}`;
  return `${standInDocker("latency-docker", replayer)}docker`;
}

/** Runs the latency harness. */
export async function runLatency(o: LatencyOptions): Promise<LatencyResult> {
  const containers = 200;
  const cfg = parseConfigString(`http::addr=127.0.0.1:${o.httpPort};`);
  const transport = new TimedTransport(new HttpTransport(cfg));
  const table = { name: CONTAINER_TABLE.defaultName, decl: CONTAINER_TABLE };
  const delivery = new Delivery({
    transport,
    bufferRows: 100_000,
    prepare: () => ensureTables((sql) => transport.exec(sql), [table]),
  });
  const marks: { endMs: number; closedAt: number; p0: number; encodeMs: number; rows: number }[] =
    [];
  const publisher = new Publisher({
    host: "bench-latency",
    containers: table,
    sinks: [delivery],
    // Publishes are serialised, so the one just queued is the last one marked.
    onPublished: () => {
      const m = marks.at(-1);
      if (m) m.encodeMs = performance.now() - m.p0;
    },
  });
  const clock = new IntervalClock({
    intervalMs: o.intervalMs,
    mode: "max",
    onInterval: (closed) => {
      // An interval without rows is not sent, so it gets no mark.
      if (closed.rows.length === 0) return;
      const at = Date.now();
      marks.push({
        endMs: closed.endMs,
        closedAt: at,
        p0: performance.now(),
        encodeMs: NaN,
        rows: closed.rows.length,
      });
      void publisher.publish(closed);
    },
  });
  const source = new DockerStatsSource({ docker: pacedStream(containers) });
  delivery.start();
  source.start(clock.add);
  clock.start();
  const wanted = o.boundaries + 1;
  // The first boundary can come early (a partial interval); wait for `wanted` full ones.
  const deadline = Date.now() + (wanted + 2) * o.intervalMs + 30_000;
  while (transport.sends.length < wanted && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  await source.stop();
  clock.stop();
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
