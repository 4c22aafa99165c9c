/**
 * The daemon's own cost on a replayed stream: the real main.ts fed the real 200-container
 * recording (bench/out/recorded-200.jsonl, made by the footprint part; the generated stream when
 * it is missing) by a stand-in `docker` first on PATH, at the recorded pace, looping. No
 * engine, no containers: the figures are the deno process alone (CPU, RSS), free of the
 * engine's noise. `bench/run.ts --main` points it at another entry point to compare a change.
 */
import { type BenchContext, deliveredSamples, startBenchDaemon } from "./lib/context.ts";
import { clockTicks, type TreeReading, TreeSampler } from "./lib/procfs.ts";
import { pathFirst, standInDocker } from "./lib/stand_in_docker.ts";
import { median } from "./lib/stats.ts";
import { generateStream, RECORDED_200, writeRecordingFile } from "./lib/workloads.ts";

/** Options of the replay part. */
export interface ReplayOptions {
  runs: number;
  /** Length of each daemon run, seconds (the first 20 s are left out of the figures). */
  seconds: number;
}

/** One daemon run on the replayed stream. */
export interface ReplayRun {
  run: number;
  /** deno process alone, CPU seconds per minute after the first 20 s. */
  cpuPerMin: number;
  steadyRssMiB: number;
  peakRssMiB: number;
  /** Samples behind the rows delivered, per minute of the run. */
  samplesPerMin: number;
}

/** Everything the replay part produced. */
export interface ReplayResult {
  recording: string;
  seconds: number;
  runs: ReplayRun[];
}

const ROOT = new URL("../", import.meta.url).pathname;
const OUT = new URL("./out/", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the replay part. */
export async function runReplay(o: ReplayOptions, ctx: BenchContext): Promise<ReplayResult> {
  let recording = RECORDED_200.pathname;
  try {
    Deno.statSync(recording);
  } catch {
    recording = `${OUT}generated-200.jsonl`;
    const chunks = generateStream(200, 20);
    writeRecordingFile(recording, chunks.map((bytes, i) => ({ t: i * 0.25, bytes })));
  }
  const replayer = `deno run -q --allow-read ${ROOT}bench/lib/replay_docker.ts ${recording}`;
  const env = pathFirst(standInDocker("replay-docker", replayer));
  const ticks = clockTicks();
  const runs: ReplayRun[] = [];
  for (let run = 1; run <= o.runs; run++) {
    const node = `bench-replay-${run}`;
    const daemon = startBenchDaemon(ctx, node, [], env);
    const sampler = new TreeSampler(daemon.child.pid);
    await sleep(o.seconds * 1000);
    const readings = sampler.stop();
    await daemon.stop();
    const from = readings.find((r) => r.at - readings[0]!.at >= 20_000) ?? readings[0]!;
    const last = readings[readings.length - 1]!;
    const steady = readings.filter((r: TreeReading) => r.at >= from.at);
    const minutes = (last.at - from.at) / 60_000;
    const samples = await deliveredSamples(ctx.qdb, node);
    const r: ReplayRun = {
      run,
      cpuPerMin: (last.rootCpuTicks - from.rootCpuTicks) / ticks / minutes,
      steadyRssMiB: median(steady.map((x) => x.rootRssKiB)) / 1024,
      peakRssMiB: Math.max(...readings.map((x) => x.rootRssKiB)) / 1024,
      samplesPerMin: samples / ((last.at - readings[0]!.at) / 60_000),
    };
    runs.push(r);
    ctx.log(
      `replay run ${run}: deno ${r.cpuPerMin.toFixed(3)} CPU s/min, RSS ${
        r.steadyRssMiB.toFixed(1)
      } MiB, ${Math.round(r.samplesPerMin)} samples/min`,
    );
  }
  return { recording: recording.replace(ROOT, ""), seconds: o.seconds, runs };
}
