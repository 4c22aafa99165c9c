/**
 * What the container catalog costs (issues 10 and 17): the daemon's CPU while containers start
 * and stop around it, and the in-process cost of one event and of one sample through the gate.
 *
 * 1. Starts `steady` idle busybox containers (`statsd-bench-ct-000`...) and, per source
 *    variant (`--source cgroup` when the runner has a --host-root bind; else the default), the
 *    daemon (main.ts, start task permissions, `--interval 1m --include 'statsd-bench-ct-*'`).
 * 2. After a warm-up, churn: `starts` containers of 1 s each (`sleep 1`, `--rm`), one every
 *    60 s / `starts`, over one minute. It reads the CPU ticks of the daemon's process tree and of
 *    the engine (dockerd, containerd and the shims: the catalog's API calls cost the engine
 *    too) at both ends: CPU per container start = daemon tree CPU / starts. The catalog talks to
 *    the engine's API socket (src/engine/api.ts): no process is spawned per start.
 * 3. The same minute without churn (idle), for the daemon's floor.
 * 4. In process: the recorded event stream (tests/fixtures/catalog/events.jsonl) through a
 *    catalog, µs per event; 50 known containers' samples through the gate, ns per sample.
 *
 *   deno task bench --parts catalog [--catalog-steady 200]
 */
import { ContainerCatalog } from "../src/catalog/catalog.ts";
import { RowGate } from "../src/catalog/gate.ts";
import type { ContainerRow } from "../src/reducer/reducer.ts";
import { READY_LINE } from "../tests/helpers/daemon.ts";
import { AFTER, EVENT_LINES } from "../tests/helpers/recorded_engine.ts";
import {
  type BenchContext,
  daemonCommand,
  type DaemonVariant,
  DEFAULT_VARIANT,
  sourceOf,
  startBenchDaemon,
} from "./lib/context.ts";
import { ensureBusyboxImage, pool, PREFIX, removeContainers, runContainer } from "./lib/docker.ts";
import { clockTicks, cpuTicksOf, pidsByComm, readTree } from "./lib/procfs.ts";

/** Options of the catalog part. */
export interface CatalogBenchOptions {
  /** Steady idle containers beside the churn (200 in the full run). */
  steady: number;
  /** Containers of 1 s started over the churn minute. */
  starts: number;
  /** Seconds between the daemon's ready line and the first window. */
  warmupS: number;
  /** Source variants; the first is measured (the cgroup source when given). */
  variants: DaemonVariant[];
}

/** One window's CPU, seconds. */
export interface CatalogWindow {
  /** Length, seconds. */
  seconds: number;
  /** CPU of the daemon's process tree (deno and any child), s. */
  daemonCpuS: number;
  /** CPU of dockerd, containerd and the containerd shims, s. */
  engineCpuS: number;
}

/** Everything the catalog part produced. */
export interface CatalogResult {
  steady: number;
  starts: number;
  warmupS: number;
  source: string;
  command: string;
  /** The minute with `starts` container starts. */
  churn: CatalogWindow;
  /** A minute without. */
  idle: CatalogWindow;
  /** Daemon tree CPU per container start, ms: churn minus idle, over the starts. */
  perStartMs: number;
  /** The same without subtracting the idle minute, ms. */
  perStartGrossMs: number;
  /** The recorded event stream through a catalog. */
  perEvent: { lines: number; rows: number; us: number };
  /** One sample of a known container through the gate (50 containers), nanoseconds. */
  perSampleNs: number;
}

const CT_PREFIX = `${PREFIX}ct-`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The engine's processes: dockerd, containerd and the shims. */
function enginePids(): number[] {
  return ["dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2"]
    .flatMap(pidsByComm);
}

/** Measures a window of `ms` around `work` (started at its beginning). */
async function window(
  daemonPid: number,
  ms: number,
  work: () => Promise<unknown>,
): Promise<CatalogWindow> {
  const t0 = performance.now();
  const d0 = readTree(daemonPid)!.cpuTicks;
  const e0 = cpuTicksOf(enginePids());
  await Promise.all([work(), sleep(ms)]);
  const d1 = readTree(daemonPid)!.cpuTicks;
  const e1 = cpuTicksOf(enginePids());
  return {
    seconds: (performance.now() - t0) / 1000,
    daemonCpuS: (d1 - d0) / clockTicks(),
    engineCpuS: Math.max(0, e1 - e0) / clockTicks(),
  };
}

/** µs per recorded event line through a catalog (inspects answered from the recording). */
async function perEvent(): Promise<CatalogResult["perEvent"]> {
  const ROUNDS = 200;
  const stream: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const l of EVENT_LINES) {
      stream.push(
        l.replace(/"timeNano":(\d+)/, (_, n: string) => `"timeNano":${BigInt(n) + BigInt(r)}`),
      );
    }
  }
  let rows = 0;
  const catalog = new ContainerCatalog({
    engine: {
      list: () => Promise.resolve([]),
      inspect: (id) => Promise.resolve(AFTER.find((c) => c.id === id) ?? null),
    },
    onEvent: () => rows++,
  });
  const t0 = performance.now();
  for (const l of stream) catalog.handleLine(l);
  await catalog.idle();
  return { lines: stream.length, rows, us: (performance.now() - t0) * 1000 / stream.length };
}

/** ns per row through the row gate at interval close, 50 known containers. */
async function perSample(): Promise<number> {
  const inspected = Array.from({ length: 50 }, (_, i) => ({
    id: i.toString(16).padStart(64, "0"),
    name: `c${i}`,
    image: "busybox:local",
    labels: { "com.docker.compose.project": "shop" },
    pid: 1000 + i,
    networkMode: "default",
    restartCount: 0,
    state: "running",
  }));
  const catalog = new ContainerCatalog({
    engine: {
      list: () => Promise.resolve(inspected.map((c) => ({ ...c, state: "running" }))),
      inspect: (id) => Promise.resolve(inspected.find((c) => c.id === id) ?? null),
    },
  });
  await catalog.relist();
  const gate = new RowGate(catalog);
  const rows: ContainerRow[] = inspected.map((c) => ({
    id: c.id,
    container: c.id.slice(0, 12),
    name: c.name,
    cpu: 1,
    memoryUse: 1,
    totalMemory: 2,
    memoryPercentage: 50,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 0,
    blockInDelta: 0,
    blockOutDelta: 0,
    netInDelta: 0,
    netOutDelta: 0,
    pids: 1,
    samples: 1,
  }));
  const ROUNDS = 40_000;
  let n = 0;
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) n += gate.resolve({ endMs: r, rows }).rows.length;
  const ns = (performance.now() - t0) * 1e6 / (ROUNDS * rows.length);
  if (n !== ROUNDS * rows.length) throw new Error(`gate passed ${n}`);
  return ns;
}

/** Runs the catalog part: the in-process figures, then churn and idle beside steady ones. */
export async function runCatalog(
  o: CatalogBenchOptions,
  ctx: BenchContext,
): Promise<CatalogResult> {
  const event = await perEvent();
  const sampleNs = await perSample();
  await ensureBusyboxImage();
  await removeContainers(CT_PREFIX);
  const names = Array.from(
    { length: o.steady },
    (_, i) => `${CT_PREFIX}${String(i).padStart(3, "0")}`,
  );
  ctx.log(`catalog: starting ${o.steady} steady containers`);
  await pool(4, names.map((n) => () => runContainer(n, "sleep 86400")));
  const v = o.variants[0] ?? DEFAULT_VARIANT;
  const source = sourceOf(v);
  const daemon = startBenchDaemon(ctx, `bench-ct-${source}`, [
    ...v.args,
    "--include",
    `${CT_PREFIX}*`,
  ]);
  try {
    await daemon.waitForLog(READY_LINE, 120_000);
    ctx.log(`catalog (${source}): ready; warming up ${o.warmupS} s`);
    await sleep(o.warmupS * 1000);
    ctx.log(`catalog (${source}): idle minute`);
    const idle = await window(daemon.child.pid, 60_000, () => Promise.resolve());
    ctx.log(`catalog (${source}): churn minute, ${o.starts} containers of 1 s`);
    const every = 60_000 / o.starts;
    const churn = await window(daemon.child.pid, 60_000, async () => {
      const t0 = performance.now();
      const runs: Promise<unknown>[] = [];
      for (let i = 0; i < o.starts; i++) {
        await sleep(Math.max(0, t0 + i * every - performance.now()));
        runs.push(runContainer(`${CT_PREFIX}churn-${i}`, "sleep 1", ["--rm"]).catch(() => ""));
      }
      await Promise.all(runs);
    });
    // the last starts' exits land after the minute: let them finish before the next part
    await sleep(5000);
    return {
      steady: o.steady,
      starts: o.starts,
      warmupS: o.warmupS,
      source,
      command: daemonCommand(`bench-ct-${source}`, [
        ...(v.shownArgs ?? v.args),
        "--include",
        `'${CT_PREFIX}*'`,
      ]),
      churn,
      idle,
      perStartMs: Math.max(0, churn.daemonCpuS - idle.daemonCpuS * churn.seconds / idle.seconds) *
        1000 / o.starts,
      perStartGrossMs: churn.daemonCpuS * 1000 / o.starts,
      perEvent: event,
      perSampleNs: sampleNs,
    };
  } finally {
    await daemon.stop("SIGTERM").catch(() => ({ code: -1, ms: 0 }));
    await removeContainers(CT_PREFIX);
  }
}
