/**
 * What the container catalog costs (issue 10): engine calls per minute and CPU on an idle host
 * of 50 containers, and the in-process cost of one event and of one sample through the gate.
 *
 * 1. Starts 50 idle busybox containers (`ct-bench-000`...), a private QuestDB, and the daemon
 *    (main.ts, start task permissions, `--interval 1m`) with a counting `docker` first on its
 *    PATH: every docker invocation of the daemon is written down (time, arguments) and then
 *    exec'd as the real CLI, so the long-lived children stay the same processes.
 * 2. After a warm-up it counts the invocations over the idle window, by command, and reads the
 *    CPU ticks of the `docker events` child and of the whole daemon tree from /proc.
 * 3. Churn: starts and removes 10 more containers, counting the calls that causes.
 * 4. In process: the recorded event stream (tests/fixtures/catalog/events.jsonl) through a
 *    catalog, µs per event; 50 known containers' samples through the gate, ns per sample.
 *
 * Run as root on a quiet machine (`uptime`):
 *   deno run --allow-all bench/catalog.ts [--minutes 5] [--containers 50]
 * It prints a Markdown section for BENCHMARKS.md.
 */
import { parseArgs } from "node:util";
import { ContainerCatalog } from "../src/catalog/catalog.ts";
import { SampleGate } from "../src/catalog/gate.ts";
import { parseInspect } from "../src/catalog/listing.ts";
import { findOnPath } from "../src/engine/cli.ts";
import type { Sample } from "../src/sample.ts";
import { launchDaemon, READY_LINE } from "../tests/helpers/daemon.ts";
import { ensureBusyboxImage, removeContainers, runContainer, sh } from "../tests/helpers/docker.ts";
import { startQuestDB } from "../tests/helpers/questdb.ts";
import { pool } from "./lib/docker.ts";
import { childrenOf, clockTicks, readStat, readTree } from "./lib/procfs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "5" },
    containers: { type: "string", default: "50" },
    warmup: { type: "string", default: "30" },
  },
});
const MINUTES = Number(values.minutes);
const N = Number(values.containers);
const WARMUP_S = Number(values.warmup);
const PREFIX = "ct-bench-";
const log = (m: string) => console.error(`[catalog bench] ${m}`);

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

async function idleHost(): Promise<string[]> {
  const real = findOnPath("docker");
  if (!real) throw new Error("docker not on PATH");
  const dir = await Deno.makeTempDir({ prefix: "ct-bench-docker-" });
  const callLog = `${dir}/calls`;
  await Deno.writeTextFile(
    `${dir}/docker`,
    `#!/bin/sh\nprintf '%s %s\\n' "$(date +%s.%N)" "$*" >> ${callLog}\nexec ${real} "$@"\n`,
  );
  await Deno.chmod(`${dir}/docker`, 0o755);

  await ensureBusyboxImage();
  await removeContainers(PREFIX);
  const names = Array.from({ length: N }, (_, i) => `${PREFIX}${String(i).padStart(3, "0")}`);
  log(`starting ${N} idle containers`);
  await pool(4, names.map((n) => () => runContainer(n, [], "sleep 86400")));
  const qdb = await startQuestDB();
  const spool = await Deno.makeTempDir({ prefix: "ct-bench-spool-" });
  const out: string[] = [];
  try {
    const daemon = launchDaemon([
      "--node",
      "ct-bench",
      "--interval",
      "1m",
      "--questdb",
      `http::addr=127.0.0.1:${qdb.httpPort};`,
      "--watchdog",
      "disabled",
      "--spool-dir",
      spool,
      "--include",
      `${PREFIX}*`,
    ], { env: { PATH: `${dir}:${Deno.env.get("PATH") ?? ""}` }, logLevel: "info" });
    try {
      await daemon.waitForLog(READY_LINE, 60_000);
      log(`ready; warming up ${WARMUP_S} s`);
      await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
      const startup = byCommand(readCalls(callLog));
      const events = eventsChild(daemon.child.pid);
      if (events === null) throw new Error("no docker events child");
      const t0 = Date.now();
      const ev0 = ticksOf(events);
      const tree0 = readTree(daemon.child.pid)!;
      const root0 = tree0.rootCpuTicks;
      log(`measuring ${MINUTES} min of idle`);
      await new Promise((r) => setTimeout(r, MINUTES * 60_000));
      const t1 = Date.now();
      const ev1 = ticksOf(events);
      const tree1 = readTree(daemon.child.pid)!;
      const idle = readCalls(callLog).filter((c) => c.at >= t0 && c.at < t1);
      const hz = clockTicks();
      const minutes = (t1 - t0) / 60_000;
      const pct = (ticks: number) => ((ticks / hz) / ((t1 - t0) / 1000) * 100).toFixed(3);

      log("churn: 10 containers started and removed");
      const c0 = Date.now();
      const churn = Array.from({ length: 10 }, (_, i) => `${PREFIX}churn-${i}`);
      for (const n of churn) await runContainer(n, [], "sleep 1; exit 0");
      await new Promise((r) => setTimeout(r, 3000));
      await sh("docker", ["rm", "-f", ...churn]);
      await new Promise((r) => setTimeout(r, 2000));
      const churnCalls = readCalls(callLog).filter((c) => c.at >= c0);

      out.push(
        `Idle host: ${N} sleeping containers, daemon with \`--interval 1m --include '${PREFIX}*'\`, ` +
          `${minutes.toFixed(1)} min measured after a ${WARMUP_S} s warm-up ` +
          `(\`${Deno.build.target}\`, ${navigator.hardwareConcurrency} cores).`,
        "",
        "| figure | value |",
        "| --- | --- |",
        `| docker invocations at startup (all) | ${fmtCounts(startup)} |`,
        `| docker invocations per minute while idle | ${(idle.length / minutes).toFixed(2)} ` +
          `(${fmtCounts(byCommand(idle))}) |`,
        `| \`docker events\` child CPU while idle | ${pct(ev1 - ev0)} % of one core |`,
        `| daemon process CPU while idle (stats parser, reducers, catalog, publish) | ` +
          `${pct(tree1.rootCpuTicks - root0)} % of one core |`,
        `| docker invocations for 10 containers started, exited and removed | ` +
          `${churnCalls.length} (${fmtCounts(byCommand(churnCalls))}) |`,
      );
    } finally {
      await daemon.stop("SIGTERM").catch(() => ({ code: -1, ms: 0 }));
    }
  } finally {
    await removeContainers(PREFIX);
    await qdb.dispose();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(spool, { recursive: true }).catch(() => {});
  }
  return out;
}

function fmtCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts).sort().map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(", ") : "none";
}

/** µs per recorded event through a catalog (inspects answered from the recording). */
async function perEvent(): Promise<string> {
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
  const us = (performance.now() - t0) * 1000 / stream.length;
  return `| catalog, one recorded event line (parse, apply, lifecycle row; ${stream.length} lines, ` +
    `${rows} rows) | ${us.toFixed(1)} µs |`;
}

/** ns per sample through the gate, 50 known containers. */
async function perSample(): Promise<string> {
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
  let n = 0;
  const gate = new SampleGate({ catalog, listener: () => n++ });
  const samples: Sample[] = inspected.map((c) => ({
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
    pids: 1,
  }));
  const ROUNDS = 40_000;
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) for (const s of samples) gate.add(s, r);
  const ns = (performance.now() - t0) * 1e6 / (ROUNDS * samples.length);
  if (n !== ROUNDS * samples.length) throw new Error(`gate forwarded ${n}`);
  return `| gate, one sample of a known container | ${ns.toFixed(0)} ns |`;
}

const inProcess = [
  "",
  "| in process | cost |",
  "| --- | --- |",
  await perEvent(),
  await perSample(),
];
const host = await idleHost();
console.log(["## Container catalog", "", ...host, ...inProcess].join("\n"));
