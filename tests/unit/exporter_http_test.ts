/**
 * The endpoint (src/exporter/exporter.ts): `/metrics` negotiation and the daemon's own
 * `container_statsd_*` figures read from real objects (a StreamHealth, the reducer's
 * IntervalClock on fake clocks and timers, the catalog on recorded engine output and its row
 * gate, a Delivery against a local stand-in that answers 500, a spool in a temporary
 * directory), `/healthz` by the watchdog's rule, a port in use, and a hundred concurrent
 * scrapes of the real HTTP server on a loopback port.
 */
import assert from "node:assert/strict";
import { Delivery } from "../../src/delivery/delivery.ts";
import type { Batch } from "../../src/delivery/queue.ts";
import { Spool } from "../../src/delivery/spool.ts";
import { Exporter, type ExporterParts, openExporter } from "../../src/exporter/exporter.ts";
import { HttpTransport } from "../../src/ilp/http.ts";
import { parseQuestdbTarget } from "../../src/ilp/config.ts";
import FakeTimers from "@sinonjs/fake-timers";
import { ContainerCatalog } from "../../src/catalog/catalog.ts";
import { RowGate } from "../../src/catalog/gate.ts";
import { RecordedEngine } from "../helpers/recorded_engine.ts";
import { IntervalClock } from "../../src/reducer/interval_clock.ts";
import { StreamHealth } from "../../src/source/health.ts";
import type { Sample } from "../../src/sample.ts";
import { until } from "../helpers/ilp.ts";
import { withLogs } from "../helpers/logs.ts";

const ID = "f2ed3b37b4ea5f6961ecb97cac755984a07a87e16a609d891a47f6d1d51b69ee";
const PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-" +
  "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

function sample(cpu: number | null): Sample {
  return {
    id: ID,
    container: ID.slice(0, 12),
    name: "burner",
    cpu,
    memoryUse: 319_488,
    totalMemory: 2_087_755_776,
    memoryPercentage: 0.02,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 0,
    pids: 1,
  };
}

/** Fake clocks: wall and monotonic, set by the test. */
function clocks() {
  const c = { wall: 1_796_594_923_000, mono: 0 };
  return { c, now: () => c.wall, monotonic: () => c.mono };
}

/**
 * The real catalog (the recorded API listing and inspects), row gate and
 * reducer on the test's clocks, with `sinks`.
 */
async function parts(
  health: StreamHealth,
  sinks: ExporterParts["sinks"] = [],
  time = clocks(),
): Promise<ExporterParts & { clock: IntervalClock }> {
  const catalog = new ContainerCatalog({ engine: new RecordedEngine() });
  await catalog.relist();
  const gate = new RowGate(catalog);
  const clock = new IntervalClock({
    intervalMs: 10_000,
    mode: "avg",
    isLive: gate.liveness,
    onInterval: (closed) => void gate.resolve(closed),
    now: time.now,
    monotonic: time.monotonic,
  });
  return { source: { kind: "docker", health }, catalog, gate, reducer: clock, sinks, clock };
}

const get = (path: string, accept?: string) =>
  new Request(`http://127.0.0.1${path}`, accept ? { headers: { accept } } : {});

Deno.test("/metrics: OpenMetrics for Prometheus, text otherwise; the daemon's figures", async () => {
  const time = clocks();
  const { c, monotonic } = time;
  const timers = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout"],
  });
  const exporter = new Exporter({ labels: [], host: null, monotonic });
  // Before main attaches the parts: build info only, and not healthy.
  const early = await exporter.handle(get("/metrics")).text();
  assert.deepEqual(early.split("\n").filter((l) => !l.startsWith("#")), [
    `container_statsd_build_info{deno="${Deno.version.deno}",version="0.1.0"} 1`,
    "",
  ]);
  assert.equal(exporter.handle(get("/healthz")).status, 503);

  const p = await parts(new StreamHealth({ startMs: 0 }), [], time);
  exporter.attach(p);
  p.clock.start();
  // A container the catalog does not know (its rows go out unlabelled), read twice 1 s apart.
  const tee = exporter.tee(p.clock.add);
  tee(sample(null), c.wall);
  c.wall += 1000;
  c.mono += 1000;
  tee(sample(50), c.wall);
  // The interval (10 s, from 1_796_594_920_000) closes at its end plus the grace.
  c.wall = 1_796_594_930_000 + 5000;
  c.mono = 12_000;
  timers.tick(12_000);
  c.mono = 13_500;
  timers.uninstall();

  const om = exporter.handle(get("/metrics", PROMETHEUS_ACCEPT));
  assert.equal(
    om.headers.get("content-type"),
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
  );
  const omText = await om.text();
  assert.ok(omText.endsWith("# EOF\n"));
  assert.match(omText, /# TYPE container_cpu_usage_seconds counter\n/);

  const res = exporter.handle(get("/metrics", "*/*"));
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  const own = text.split("\n").filter((l) => l.startsWith("container_statsd_"));
  assert.deepEqual(own.slice(1), [
    'container_statsd_source_healthy{source="docker"} 0', // 13.5 s without activity
    "container_statsd_samples_read_total 2",
    "container_statsd_samples_late_total 0",
    "container_statsd_rows_filtered_total 0",
    "container_statsd_rows_unlabelled_total 1",
    "container_statsd_catalog_containers 2", // the recorded listing's running containers
    "container_statsd_last_interval_age_seconds 1.5",
  ]);
  assert.match(text, /container_cpu_usage_seconds_total\{[^}]*name="burner",cpu="total"\} 0.5\n/);
  assert.doesNotMatch(text, /# EOF/);
});

Deno.test("/healthz follows the source's health window on the monotonic clock", async () => {
  const { c, monotonic } = clocks();
  const health = new StreamHealth({ startMs: 0 }); // window 10 s
  const exporter = new Exporter({ labels: [], host: null, monotonic });
  exporter.attach(await parts(health));
  c.mono = 10_000;
  assert.equal(exporter.handle(get("/healthz")).status, 200);
  c.mono = 10_001;
  const stalled = exporter.handle(get("/healthz"));
  assert.equal(stalled.status, 503);
  assert.match(exporter.render("text"), /container_statsd_source_healthy\{source="docker"\} 0\n/);
  health.sample(10_500, true);
  assert.equal(exporter.handle(get("/healthz")).status, 200);
  assert.equal(exporter.handle(get("/nope")).status, 404);
  assert.equal(exporter.handle(new Request("http://x/metrics", { method: "POST" })).status, 405);
});

Deno.test("per sink: queued, delivered, refused, dropped, spooled rows and failed requests", async () => {
  await withLogs(async () => {
    const dir = await Deno.makeTempDir({ prefix: "w21-exporter-" });
    // A /write stand-in that always answers 500: a server cannot be made to fail on cue.
    const failing = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("boom", { status: 500 }),
    );
    const transport = new HttpTransport(
      parseQuestdbTarget(`http::addr=127.0.0.1:${failing.addr.port};`),
    );
    const sink = new Delivery({
      transport,
      bufferRows: 3,
      spool: new Spool(dir),
      initialBackoffMs: 5,
      maxBackoffMs: 10,
      spoolEveryMs: 0,
    });
    const batch: Batch = { endMs: 1000, rows: 2, ilp: "t c=1i 1\nt c=2i 2\n" };
    const exporter = new Exporter({ labels: [], host: null });
    exporter.attach(await parts(new StreamHealth({ startMs: performance.now() }), [sink]));
    sink.start();
    sink.enqueue(batch);
    sink.enqueue({ ...batch, endMs: 2000 }); // 4 rows in a queue of 3: the oldest 2 dropped
    await until(() => sink.stats.failedRequests >= 3 && sink.stats.spooledRows === 2, "spooled");
    const lines = exporter.render("text").split("\n").filter((l) => l.includes("sink_"));
    const value = (name: string) => Number(lines.find((l) => l.startsWith(name))?.split(" ")[1]);
    assert.equal(value('container_statsd_sink_rows_queued{sink="questdb"}'), 2);
    assert.equal(value('container_statsd_sink_rows_dropped_total{sink="questdb"}'), 2);
    assert.equal(value('container_statsd_sink_rows_spooled{sink="questdb"}'), 2);
    assert.equal(value('container_statsd_sink_rows_delivered_total{sink="questdb"}'), 0);
    assert.equal(value('container_statsd_sink_rows_refused_total{sink="questdb"}'), 0);
    assert.ok(value('container_statsd_sink_failed_requests_total{sink="questdb"}') >= 3);
    await sink.stop(Date.now());
    await failing.shutdown();
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("a port in use is one line and status 2; a hundred concurrent scrapes are served", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const errors: string[] = [];
  const write = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (b: Uint8Array) => (errors.push(new TextDecoder().decode(b)), b.length);
  try {
    assert.equal(openExporter({ hostname: "127.0.0.1", port }, { labels: [], host: null }), 2);
  } finally {
    Deno.stderr.writeSync = write;
  }
  assert.deepEqual(errors, [
    `error: option '--listen <[host:]port>' argument '127.0.0.1:${port}' cannot be bound: ` +
    "the address is in use. Allowed: a free port on an address of this host.\n",
  ]);
  taken.close();

  const exporter = openExporter({ hostname: "127.0.0.1", port }, { labels: [], host: null });
  assert.ok(exporter instanceof Exporter);
  exporter.attach(await parts(new StreamHealth({ startMs: performance.now() })));
  const tee = exporter.tee(() => {});
  for (let i = 0; i < 200; i++) tee({ ...sample(10), id: String(i).padStart(64, "0") }, i);
  const bodies = await Promise.all(
    Array.from(
      { length: 100 },
      () => fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => [r.status, await r.text()]),
    ),
  );
  assert.equal(bodies.length, 100);
  for (const [status, body] of bodies) {
    assert.equal(status, 200);
    assert.equal(String(body).match(/^container_last_seen\{/gm)?.length, 200);
  }
  await exporter.close();
});
