/**
 * Where the daemon's memory and CPU floor lies: the deno process's RSS and CPU when
 *
 * - `bare deno`: `deno run` of a script that only waits (the runtime alone);
 * - `daemon, no containers`: the daemon with a stand-in `docker` whose `stats` prints nothing
 *   (all modules loaded, timers running, no data).
 *
 * Compared in the report with the daemon on the 200-container stream (replay and footprint
 * parts): what the runtime costs, what our modules cost, and what the data costs.
 */
import { startTaskFlags } from "../tests/helpers/daemon.ts";
import { type BenchContext, startBenchDaemon } from "./lib/context.ts";
import { pathFirst, standInDocker } from "./lib/stand_in_docker.ts";
import { clockTicks, TreeSampler } from "./lib/procfs.ts";
import { median } from "./lib/stats.ts";

/** Options of the floor part. */
export interface FloorOptions {
  runs: number;
  /** Length of each measurement, seconds (the first 10 s are left out). */
  seconds: number;
}

/** One measurement. */
export interface FloorRun {
  what: "bare deno" | "daemon, no containers";
  run: number;
  steadyRssMiB: number;
  /** CPU seconds per minute after the first 10 s. */
  cpuPerMin: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function figures(sampler: TreeSampler, ticks: number): { rss: number; cpu: number } {
  const readings = sampler.stop();
  const first = readings[0]!;
  const from = readings.find((r) => r.at - first.at >= 10_000) ?? first;
  const last = readings[readings.length - 1]!;
  return {
    rss: median(readings.filter((r) => r.at >= from.at).map((r) => r.rootRssKiB)) / 1024,
    cpu: (last.rootCpuTicks - from.rootCpuTicks) / ticks / ((last.at - from.at) / 60_000),
  };
}

/** Runs the floor part. */
export async function runFloor(
  o: FloorOptions,
  ctx: BenchContext,
): Promise<{ seconds: number; runs: FloorRun[] }> {
  const ticks = clockTicks();
  const fake = standInDocker("idle-docker", "sleep 86400");
  const waiter = `${fake}wait.ts`;
  Deno.writeTextFileSync(waiter, "await new Promise((r) => setTimeout(r, 86_400_000));\n");
  const runs: FloorRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    const bare = new Deno.Command("deno", {
      args: ["run", "-q", ...startTaskFlags(), waiter],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let sampler = new TreeSampler(bare.pid);
    await sleep(o.seconds * 1000);
    let f = figures(sampler, ticks);
    bare.kill("SIGTERM");
    await bare.status;
    runs.push({ what: "bare deno", run, steadyRssMiB: f.rss, cpuPerMin: f.cpu });

    const daemon = startBenchDaemon(ctx, `bench-floor-${run}`, [], pathFirst(fake));
    sampler = new TreeSampler(daemon.child.pid);
    await sleep(o.seconds * 1000);
    f = figures(sampler, ticks);
    await daemon.stop();
    runs.push({ what: "daemon, no containers", run, steadyRssMiB: f.rss, cpuPerMin: f.cpu });
    ctx.log(
      `floor run ${run}: bare deno ${runs.at(-2)!.steadyRssMiB.toFixed(1)} MiB, idle daemon ${
        f.rss.toFixed(1)
      } MiB, ${f.cpu.toFixed(3)} CPU s/min`,
    );
  }
  return { seconds: o.seconds, runs };
}
