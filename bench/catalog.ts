/**
 * What the container catalog costs (issue 10): engine calls per minute and CPU on an idle host
 * of 50 containers, and the in-process cost of one event and of one sample through the gate.
 *
 * 1. Starts 50 idle busybox containers (`statsd-bench-ct-000`...) and, per source (the default
 *    `docker`, then each variant such as `--source cgroup`), the daemon (main.ts, start task
 *    permissions, `--interval 1m --include 'statsd-bench-ct-*'`) with a counting `docker`
 *    first on its PATH: every docker invocation of the daemon is written down (time, arguments)
 *    and then exec'd as the real CLI, so the long-lived children stay the same processes.
 * 2. After a warm-up it counts the invocations over the idle window, by command, and reads the
 *    CPU ticks of the `docker events` child and of the daemon process from /proc.
 * 3. Churn: starts and removes 10 more containers, counting the calls that causes.
 * 4. In process: the recorded event stream (tests/fixtures/catalog/events.jsonl) through a
 *    catalog, µs per event; 50 known containers' samples through the gate, ns per sample.
 *
 *   deno task bench --parts catalog [--catalog-minutes 2]
 */
import { ContainerCatalog } from "../src/catalog/catalog.ts";
import { RowGate } from "../src/catalog/gate.ts";
import type { ContainerRow } from "../src/reducer/reducer.ts";
import { parseInspect } from "../src/catalog/listing.ts";
import { findOnPath } from "../src/engine/cli.ts";
import { READY_LINE } from "../tests/helpers/daemon.ts";
import {
  type BenchContext,
  daemonCommand,
  type DaemonVariant,
  DEFAULT_VARIANT,
  sourceOf,
  startBenchDaemon,
} from "./lib/context.ts";
import {
  ensureBusyboxImage,
  pool,
  PREFIX,
  removeContainers,
  runContainer,
  sh,
} from "./lib/docker.ts";
import { childrenOf, clockTicks, readStat, readTree } from "./lib/procfs.ts";

/** Options of the catalog part. */
export interface CatalogBenchOptions {
  /** Idle window per source, minutes. */
  minutes: number;
  /** Idle containers on the host. */
  containers: number;
  /** Seconds between the daemon's ready line and the idle window. */
  warmupS: number;
  /** Daemons besides the default (`--source docker`), e.g. the cgroup source. */
  variants: DaemonVariant[];
}

/** One source's figures. */
export interface CatalogSourceResult {
  source: string;
  /** Length of the idle window, minutes. */
  minutes: number;
  /** docker invocations from spawn to the end of the warm-up, by command. */
  startupCalls: Record<string, number>;
  /** docker invocations in the idle window, by command. */
  idleCalls: Record<string, number>;
  idleCallsPerMin: number;
  /** CPU of the `docker events` child in the idle window, seconds per minute. */
  eventsCpuPerMin: number;
  /** CPU of the daemon process alone (deno) in the idle window, seconds per minute. */
  daemonCpuPerMin: number;
  /** docker invocations for 10 containers started, exited and removed, by command. */
  churnCalls: Record<string, number>;
}

/** Everything the catalog part produced. */
export interface CatalogResult {
  containers: number;
  warmupS: number;
  commands: Record<string, string>;
  sources: CatalogSourceResult[];
  /** The recorded event stream through a catalog. */
  perEvent: { lines: number; rows: number; us: number };
  /** One sample of a known container through the gate (50 containers), nanoseconds. */
  perSampleNs: number;
}

const CT_PREFIX = `${PREFIX}ct-`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Call {
  at: number;
  args: string;
}

function readCalls(file: string): Call[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch { /* none yet */ }
  return text.split("\n").filter((l) => l).map((l) => {
    const sp = l.indexOf(" ");
    return { at: Number(l.slice(0, sp)) * 1000, args: l.slice(sp + 1) };
  });
}

function byCommand(calls: readonly Call[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) {
    const cmd = c.args.split(" ")[0] ?? "";
    out[cmd] = (out[cmd] ?? 0) + 1;
  }
  return out;
}

function ticksOf(pid: number): number {
  const s = readStat(pid);
  return s ? s.utime + s.stime : 0;
}

function eventsChild(daemonPid: number): number | null {
  for (const pid of childrenOf(daemonPid)) {
    try {
      const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      if (args.includes("events")) return pid;
    } catch { /* gone */ }
  }
  return null;
}

/** A counting `docker` wrapper in a new directory: every call appended to `<dir>/calls`. */
async function countingDocker(): Promise<{ dir: string; calls: string }> {
  const real = findOnPath("docker");
  if (!real) throw new Error("docker not on PATH");
  const dir = await Deno.makeTempDir({ prefix: "statsd-bench-docker-" });
  const calls = `${dir}/calls`;
  await Deno.writeTextFile(
    `${dir}/docker`,
    `#!/bin/sh\nprintf '%s %s\\n' "$(date +%s.%N)" "$*" >> ${calls}\nexec ${real} "$@"\n`,
  );
  await Deno.chmod(`${dir}/docker`, 0o755);
  return { dir, calls };
}

async function oneSource(
  v: DaemonVariant,
  o: CatalogBenchOptions,
  ctx: BenchContext,
): Promise<CatalogSourceResult> {
  const { dir, calls } = await countingDocker();
  const source = sourceOf(v);
  const daemon = startBenchDaemon(
    ctx,
    `bench-ct-${source}`,
    [...v.args, "--include", `${CT_PREFIX}*`],
    { PATH: `${dir}:${Deno.env.get("PATH") ?? ""}` },
  );
  try {
    await daemon.waitForLog(READY_LINE, 60_000);
    ctx.log(`catalog (${source}): ready; warming up ${o.warmupS} s`);
    await sleep(o.warmupS * 1000);
    const startupCalls = byCommand(readCalls(calls));
    const events = eventsChild(daemon.child.pid);
    if (events === null) throw new Error("no docker events child");
    const t0 = Date.now();
    const ev0 = ticksOf(events);
    const root0 = readTree(daemon.child.pid)!.rootCpuTicks;
    ctx.log(`catalog (${source}): measuring ${o.minutes} min of idle`);
    await sleep(o.minutes * 60_000);
    const t1 = Date.now();
    const ev1 = ticksOf(events);
    const root1 = readTree(daemon.child.pid)!.rootCpuTicks;
    const idle = readCalls(calls).filter((c) => c.at >= t0 && c.at < t1);
    const minutes = (t1 - t0) / 60_000;
    const perMin = (ticks: number) => ticks / clockTicks() / minutes;

    ctx.log(`catalog (${source}): churn, 10 containers started and removed`);
    const c0 = Date.now();
    const churn = Array.from({ length: 10 }, (_, i) => `${CT_PREFIX}churn-${i}`);
    for (const n of churn) await runContainer(n, "sleep 1; exit 0");
    await sleep(3000);
    await sh("docker", ["rm", "-f", ...churn]);
    await sleep(2000);
    return {
      source,
      minutes,
      startupCalls,
      idleCalls: byCommand(idle),
      idleCallsPerMin: idle.length / minutes,
      eventsCpuPerMin: perMin(ev1 - ev0),
      daemonCpuPerMin: perMin(root1 - root0),
      churnCalls: byCommand(readCalls(calls).filter((c) => c.at >= c0)),
    };
  } finally {
    await daemon.stop("SIGTERM").catch(() => ({ code: -1, ms: 0 }));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** µs per recorded event line through a catalog (inspects answered from the recording). */
async function perEvent(): Promise<CatalogResult["perEvent"]> {
  const dir = new URL("../tests/fixtures/catalog/", import.meta.url);
  const lines = Deno.readTextFileSync(new URL("events.jsonl", dir)).split("\n").filter((l) => l);
  const inspected = parseInspect(Deno.readTextFileSync(new URL("inspect-later.json", dir)));
  const ROUNDS = 200;
  const stream: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const l of lines) {
      stream.push(
        l.replace(/"timeNano":(\d+)/, (_, n: string) => `"timeNano":${BigInt(n) + BigInt(r)}`),
      );
    }
  }
  let rows = 0;
  const catalog = new ContainerCatalog({
    engine: {
      list: () => Promise.resolve([]),
      inspect: (ids) => Promise.resolve(inspected.filter((c) => ids.includes(c.id))),
    },
    onEvent: () => rows++,
  });
  const t0 = performance.now();
  for (const l of stream) catalog.handleLine(l);
  await catalog.idle();
  return { lines: stream.length, rows, us: (performance.now() - t0) * 1000 / stream.length };
}

/** ns per sample through the gate, 50 known containers. */
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
      list: () =>
        Promise.resolve(inspected.map((c) => ({
          id: c.id,
          name: c.name,
          image: c.image,
          state: "running",
        }))),
      inspect: () => Promise.resolve(inspected),
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

/** Runs the catalog part: the in-process figures, then each source on the idle host. */
export async function runCatalog(
  o: CatalogBenchOptions,
  ctx: BenchContext,
): Promise<CatalogResult> {
  const event = await perEvent();
  const sampleNs = await perSample();
  await ensureBusyboxImage();
  await removeContainers(CT_PREFIX);
  const names = Array.from(
    { length: o.containers },
    (_, i) => `${CT_PREFIX}${String(i).padStart(3, "0")}`,
  );
  ctx.log(`catalog: starting ${o.containers} idle containers`);
  await pool(4, names.map((n) => () => runContainer(n, "sleep 86400")));
  const variants = [DEFAULT_VARIANT, ...o.variants];
  try {
    const sources: CatalogSourceResult[] = [];
    for (const v of variants) sources.push(await oneSource(v, o, ctx));
    return {
      containers: o.containers,
      warmupS: o.warmupS,
      commands: Object.fromEntries(variants.map((v) => [
        sourceOf(v),
        daemonCommand(`bench-ct-${sourceOf(v)}`, [
          ...(v.shownArgs ?? v.args),
          "--include",
          `'${CT_PREFIX}*'`,
        ]),
      ])),
      sources,
      perEvent: event,
      perSampleNs: sampleNs,
    };
  } finally {
    await removeContainers(CT_PREFIX);
  }
}
