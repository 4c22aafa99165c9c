/**
 * Fidelity (issue 6, part 4; issue 13 for the cgroup source). Inside one aligned 1-minute
 * interval: a container bursts 100 % CPU for 3 s (`timeout 3 yes`), and a container lives 2 s
 * (`sleep 2`). One daemon per source (`--source docker`, and `--source cgroup` when given) runs
 * with `--interval 1m --mode max` through the same minute; each one's row for that interval is
 * read back from QuestDB.
 *
 * References, over the same minute:
 * - a raw `docker stats --format '{{json .}}' --no-trunc` recording: the peak CPU % the CLI
 *   printed for the burst container (the target: the max row shows at least 90 % of it), and
 *   whether the 2 s container appeared at all;
 * - a `docker stats --no-stream --format '{{json .}}' --no-trunc` loop, run back to back with
 *   no pause (the Rust original's method at its best): the peak it caught and whether it saw
 *   the 2 s container.
 */
import { CONTAINER_TABLE } from "../src/schema/containers.ts";
import { DOCKER_STATS_ARGS } from "../src/source/docker_stats/source.ts";
import { READY_LINE } from "../tests/helpers/daemon.ts";
import {
  type BenchContext,
  daemonCommand,
  type DaemonVariant,
  DEFAULT_VARIANT,
  sourceOf,
  startBenchDaemon,
} from "./lib/context.ts";
import { PREFIX, removeContainers, runContainer, sh } from "./lib/docker.ts";
import { pidsByComm } from "./lib/procfs.ts";

/** The daemon's flags besides the common ones (bench/lib/context.ts). */
const MODE_MAX = ["--mode", "max"];

/** What one daemon (one source) wrote for the interval under test. */
export interface FidelityDaemon {
  /** `docker` or `cgroup`. */
  source: string;
  burst: {
    /** The max-mode row's cpu, and samples behind it; null when there was no row. */
    rowCpu: number | null;
    rowSamples: number | null;
    /** rowCpu / the raw stream's peak */
    ratio: number;
  };
  short: {
    /** The daemon wrote a row for the 2 s container. */
    row: boolean;
    rowSamples: number | null;
  };
  /**
   * The daemon's own stats child being killed and restarted (its warnings), in seconds from
   * the interval's start: a restart leaves a gap in the stream.
   */
  restarts: { at: number; line: string }[];
}

/** One fidelity run. */
export interface FidelityRun {
  run: number;
  intervalEnd: string;
  /** Highest CPU % the raw stream printed for the burst container in the interval. */
  rawPeak: number;
  /** The raw stream printed at least one real (non-placeholder) row for the 2 s container. */
  rawShortSeen: boolean;
  /** One per source, the default (docker) first. */
  daemons: FidelityDaemon[];
  poll: {
    polls: number;
    meanPollMs: number;
    peak: number;
    /** peak / rawPeak */
    ratio: number;
    shortSeen: boolean;
  };
}

/** Everything the fidelity part produced. */
export interface FidelityResult {
  /** Runs measured again because dockerd was restarted under them (or they failed). */
  discarded: number;
  /** `daemon` (the default source), `daemon (cgroup)`, `raw`, `poll`, `burst`, `short`. */
  commands: Record<string, string>;
  runs: FidelityRun[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - Date.now()));

interface RowSeen {
  at: number;
  name: string;
  cpu: number;
}

/** JSON rows in a text blob (placeholder rows have `--` CPU and are skipped). */
function rowsIn(text: string, at: number): RowSeen[] {
  const out: RowSeen[] = [];
  for (const m of text.matchAll(/\{[^{}]*\}/g)) {
    try {
      const o = JSON.parse(m[0]) as Record<string, string>;
      const cpu = Number.parseFloat(o["CPUPerc"] ?? "");
      if (o["Name"] && Number.isFinite(cpu)) out.push({ at, name: o["Name"], cpu });
    } catch { /* a torn object at a chunk edge: ignored */ }
  }
  return out;
}

/** Raw stream recorder: rows with arrival times. */
function startRecorder() {
  const child = new Deno.Command("docker", {
    args: [...DOCKER_STATS_ARGS],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const rows: RowSeen[] = [];
  const done = (async () => {
    let carry = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const text = carry + chunk;
      const cut = text.lastIndexOf("\n");
      if (cut === -1) {
        carry = text;
        continue;
      }
      rows.push(...rowsIn(text.slice(0, cut), Date.now()));
      carry = text.slice(cut + 1);
    }
  })();
  return {
    rows,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await done;
    },
  };
}

async function pollLoop(until: number) {
  const rows: RowSeen[] = [];
  const durations: number[] = [];
  while (Date.now() < until) {
    const t0 = Date.now();
    const out = await new Deno.Command("docker", {
      args: ["stats", "--no-stream", "--format", "{{json .}}", "--no-trunc"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const t1 = Date.now();
    durations.push(t1 - t0);
    // A poll's numbers describe the moments up to its end: count it in the interval if it
    // ended inside.
    if (t1 < until) rows.push(...rowsIn(new TextDecoder().decode(out.stdout), t1));
  }
  return { rows, durations };
}

const nodeOf = (run: number | string, v: DaemonVariant) =>
  `bench-fid-${run}${v.name ? `-${v.name}` : ""}`;

async function oneRun(
  run: number,
  variants: DaemonVariant[],
  ctx: BenchContext,
): Promise<FidelityRun> {
  const prefix = `${PREFIX}fid-${run}-`;
  const burst = `${prefix}burst`;
  const short = `${prefix}short`;
  await removeContainers(prefix);
  await runContainer(burst, "sleep 3600");
  await runContainer(`${prefix}idle`, "sleep 3600");
  // The interval under test starts at the first minute boundary at least 25 s away.
  const start = (Math.floor((Date.now() + 25_000) / 60_000) + 1) * 60_000;
  const end = start + 60_000;
  await sleepUntil(start - 20_000);
  const daemons = variants.map((v) =>
    startBenchDaemon(ctx, nodeOf(run, v), [...v.args, ...MODE_MAX])
  );
  const recorder = startRecorder();
  try {
    for (const d of daemons) await d.waitForLog(READY_LINE, 20_000);
    await sleepUntil(start);
    const polling = pollLoop(end);
    await sleepUntil(start + 15_000);
    await runContainer(short, "sleep 2");
    await sleepUntil(start + 30_000);
    await sh("docker", ["exec", "-d", burst, "sh", "-c", "timeout 3 yes > /dev/null"]);
    const poll = await polling;
    await sleepUntil(end + 1000);
    await recorder.stop();
    const inWindow = (r: RowSeen) => r.at >= start && r.at < end;
    const rawBurst = recorder.rows.filter((r) => r.name === burst && inWindow(r));
    const rawPeak = Math.max(0, ...rawBurst.map((r) => r.cpu));
    const iso = new Date(end).toISOString().replace("Z", "000Z");
    const written: FidelityDaemon[] = [];
    for (const [i, v] of variants.entries()) {
      const sql = `SELECT name, cpu, samples FROM "${CONTAINER_TABLE.defaultName}" ` +
        `WHERE host = '${nodeOf(run, v)}' AND timestamp = '${iso}'`;
      const res = await ctx.qdb.waitFor(sql, (r) => r.dataset.length >= 2, 30_000);
      const row = (name: string) => res.dataset.find((r) => r[0] === name);
      const b = row(burst);
      const s = row(short);
      written.push({
        source: sourceOf(v),
        burst: {
          rowCpu: b ? Number(b[1]) : null,
          rowSamples: b ? Number(b[2]) : null,
          ratio: b && rawPeak > 0 ? Number(b[1]) / rawPeak : NaN,
        },
        short: { row: s !== undefined, rowSamples: s ? Number(s[2]) : null },
        restarts: daemons[i]!.stamped
          .filter((l) => /Restarting docker stats|docker stats exited/.test(l.line))
          .map((l) => ({
            at: Math.round((l.at - start) / 100) / 10,
            line: l.line.replace(/^.*?(Restarting|docker stats exited)/, "$1"),
          })),
      });
    }
    const pollPeak = Math.max(0, ...poll.rows.filter((r) => r.name === burst).map((r) => r.cpu));
    const result: FidelityRun = {
      run,
      intervalEnd: new Date(end).toISOString(),
      rawPeak,
      rawShortSeen: recorder.rows.some((r) => r.name === short && inWindow(r)),
      daemons: written,
      poll: {
        polls: poll.durations.length,
        meanPollMs: poll.durations.reduce((a, x) => a + x, 0) / poll.durations.length,
        peak: pollPeak,
        ratio: rawPeak > 0 ? pollPeak / rawPeak : NaN,
        shortSeen: poll.rows.some((r) => r.name === short),
      },
    };
    for (const d of written) {
      ctx.log(
        `fidelity run ${run} (${d.source}): raw peak ${rawPeak}%, max row ${d.burst.rowCpu}% ` +
          `(${d.burst.rowSamples ?? "no"} samples); 2 s container row ${d.short.row}; ` +
          `stats child restarted at ${d.restarts.map((x) => `${x.at} s`).join(", ") || "never"}`,
      );
    }
    ctx.log(
      `fidelity run ${run}: polling ${result.poll.polls} polls peak ${pollPeak}% ` +
        `short ${result.poll.shortSeen}`,
    );
    return result;
  } finally {
    await recorder.stop().catch(() => {});
    for (const d of daemons) await d.stop();
    await removeContainers(prefix);
  }
}

/**
 * Runs the fidelity part.
 * @param variants daemons besides the default (`--source docker`) run through the same minute,
 *   e.g. the cgroup source (`cgroupVariant` of bench/lib/context.ts).
 */
export async function runFidelity(
  runCount: number,
  variants: DaemonVariant[],
  ctx: BenchContext,
): Promise<FidelityResult> {
  const all = [DEFAULT_VARIANT, ...variants];
  const runs: FidelityRun[] = [];
  let discarded = 0;
  for (let run = 1; run <= runCount; run++) {
    // A run during which dockerd was restarted (another engineer's fault test) is void.
    for (let attempt = 1;; attempt++) {
      const before = pidsByComm("dockerd").join(",");
      let r: FidelityRun | null = null;
      try {
        r = await oneRun(run, all, ctx);
      } catch (e) {
        if (attempt >= 3) throw e;
        ctx.log(`fidelity run ${run} failed (${(e as Error).message.split("\n")[0]}); again`);
      }
      if (r !== null) {
        if (pidsByComm("dockerd").join(",") === before || attempt >= 3) {
          runs.push(r);
          break;
        }
        ctx.log(`fidelity run ${run}: dockerd was restarted during the run; again`);
      }
      discarded++;
      await sleep(5000);
    }
  }
  return {
    discarded,
    commands: {
      ...Object.fromEntries(all.map((v) => [
        v.name ? `daemon (${v.name})` : "daemon",
        daemonCommand(nodeOf("<run>", v), [...(v.shownArgs ?? v.args), ...MODE_MAX]),
      ])),
      raw: "docker stats --format '{{json .}}' --no-trunc",
      poll: "while :; do docker stats --no-stream --format '{{json .}}' --no-trunc; done",
      burst: "docker exec -d statsd-bench-fid-<run>-burst sh -c 'timeout 3 yes > /dev/null'",
      short: "docker run -d --name statsd-bench-fid-<run>-short busybox:local sh -c 'sleep 2'",
    },
    runs,
  };
}
