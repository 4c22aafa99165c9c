/**
 * One `/metrics` scrape rendered in process (issue 21): the exposition of N containers, each
 * with every cgroup figure (the most series a read gives), in the text format and in
 * OpenMetrics, as `Exporter.render` builds it per request. The HTTP round trip on the real
 * daemon is measured by bench/scrape.ts.
 *
 * Run: deno bench --allow-read --allow-env bench/scrape_bench.ts
 */
import { Exporter } from "../src/exporter/exporter.ts";
import { ContainerCatalog } from "../src/catalog/catalog.ts";
import { RowGate } from "../src/catalog/gate.ts";
import type { Inspected } from "../src/catalog/listing.ts";
import { IntervalClock } from "../src/reducer/interval_clock.ts";
import { StreamHealth } from "../src/source/health.ts";
import type { CgroupFigures, Sample } from "../src/sample.ts";

const figures = (i: number): CgroupFigures => ({
  monoMs: 1000,
  cpuUsageNs: 1_234_567_890_123 + i,
  cpuQuotaUs: 50_000,
  cpuPeriodUs: 100_000,
  cpuPeriods: 123_456,
  cpuThrottledPeriods: 120_000,
  cpuThrottledUs: 98_765_432,
  memoryUsage: 123_456_789,
  memoryAnon: 23_456_789,
  memoryFile: 100_000_000,
  memoryMaxEvents: 0,
  oomKills: 0,
  pgmajfault: 12,
  cpuPressureSomeUs: 1_234_567,
  memoryPressureSomeUs: 2345,
  memoryPressureFullUs: 1234,
  ioPressureSomeUs: 34_567,
  ioPressureFullUs: 23_456,
  netRxPackets: 123_456,
  netTxPackets: 65_432,
  netRxErrors: 0,
  netTxErrors: 0,
  netRxDropped: 0,
  netTxDropped: 0,
  blockReads: 4567,
  blockWrites: 7654,
  pidsLimit: null,
});

/**
 * An exporter holding the latest read of `n` containers with compose labels, with the real
 * catalog (listing them), row gate and reducer.
 */
async function benchExporter(n: number): Promise<Exporter> {
  const exporter = new Exporter({
    labels: [{ key: "com.docker.compose.project" }, { key: "com.docker.compose.service" }],
    host: null,
    hostMemory: 25_276_194_816,
  });
  const containers: Inspected[] = Array.from({ length: n }, (_, i) => ({
    id: i.toString(16).padStart(64, "0"),
    name: `statsd-bench-${String(i).padStart(3, "0")}`,
    image: "busybox:local",
    labels: { "com.docker.compose.project": "bench", "com.docker.compose.service": `s${i % 7}` },
    pid: 1000 + i,
    networkMode: "default",
    restartCount: 0,
    state: "running",
    startedAtMs: 1_700_000_000_000,
  }));
  const catalog = new ContainerCatalog({
    engine: {
      list: () =>
        Promise.resolve(
          containers.map(({ id, name, image, labels, state }) => ({
            id,
            name,
            image,
            labels,
            state,
          })),
        ),
      inspect: (id) => Promise.resolve(containers.find((c) => c.id === id) ?? null),
    },
    cgroupsOf: (pid) => {
      const c = containers.find((x) => x.pid === pid)!;
      return Promise.resolve({ memory: `/docker/${c.id}` });
    },
  });
  await catalog.relist();
  const gate = new RowGate(catalog);
  const clock = new IntervalClock({ intervalMs: 60_000, mode: "avg", onInterval: () => {} });
  exporter.attach({
    source: { kind: "cgroup", health: new StreamHealth({ startMs: performance.now() }) },
    catalog,
    gate,
    reducer: clock,
    sinks: [],
  });
  const add = exporter.tee(() => {});
  containers.forEach((c, i) => {
    const sample: Sample = {
      id: c.id,
      container: c.id.slice(0, 12),
      name: c.name,
      cpu: 1.5,
      memoryUse: 23_456_789,
      totalMemory: 25_276_194_816,
      memoryPercentage: 0.09,
      netIn: 12_345_678,
      netOut: 8_765_432,
      blockIn: 4_567_890,
      blockOut: 9_876_543,
      pids: 3,
      cgroup: figures(i),
    };
    add(sample, 1_700_000_000_000 + i);
  });
  return exporter;
}

let sink = 0;
// Bench names are `render <n> containers <format>`; bench/scrape.ts reads them back.
for (const n of [10, 200]) {
  const exporter = await benchExporter(n);
  for (const format of ["text", "openmetrics"] as const) {
    Deno.bench({
      name: `render ${n} containers ${format}`,
      group: `render ${n}`,
      fn() {
        sink += exporter.render(format).length;
      },
    });
  }
}
globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
