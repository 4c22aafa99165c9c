/**
 * Writes BENCHMARKS.md: the hand-written text of bench/BENCHMARKS.prose.md (a Mustache
 * template) with the tables and figures computed here from the JSON results in bench/out/ (see
 * run.ts). This file holds no prose: a part's section of the template is shown when its results
 * exist (`{{#footprint}}...{{/footprint}}`), and says so when they do not.
 *
 *   deno run -A bench/report.ts        # the same as `deno task bench --report-only`
 */
// @ts-types="@types/mustache"
import Mustache from "mustache";
import { type ScrapeResult, scrapeView } from "./scrape.ts";
import { CONTAINER_TABLE } from "../src/schema/containers.ts";
import type { CatalogResult, CatalogWindow } from "./catalog.ts";
import type { FidelityResult, FidelityRun } from "./fidelity.ts";
import type { FootprintResult, FootprintRun, PhaseResult } from "./footprint.ts";
import type { LatencyResult } from "./latency.ts";
import type { ReplayResult } from "./replay.ts";
import type { FloorRun } from "./floor.ts";
import { benchCommand, parserBenchName } from "./lib/denobench.ts";
import type { Environment } from "./lib/env.ts";
import { fmt, fmtSummary, median, summarize } from "./lib/stats.ts";

/** The hand-written part of the report. */
export const PROSE = new URL("./BENCHMARKS.prose.md", import.meta.url);

/** A result file of bench/out/, as run.ts saves it. */
interface Saved<T> {
  part: string;
  startedAt: string;
  finishedAt: string;
  data: T;
}

interface ParserData {
  workloads: { name: string; source: string; bytes: number; samples: number; containers: number }[];
  /** Bench name -> mean ns per iteration, one per run. */
  times: Record<string, number[]>;
}

interface EncoderData {
  rows: number;
  bytes: number;
  times: Record<string, number[]>;
}

type EnvData = Environment & { argv: string[] };

function load<T>(dir: string, part: string): Saved<T> | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}${part}.json`)) as Saved<T>;
  } catch {
    return null;
  }
}

/** `median (min–max)` of `values` with `digits` decimals. */
const cell = (values: number[], digits = 2) => fmtSummary(summarize(values), digits);
const yes = (b: boolean) => (b ? "yes" : "**no**");

/** Commits made after `iso` (other engineers' work landing while the suite ran). */
function commitsSince(iso: string): string {
  try {
    const o = new Deno.Command("git", {
      args: ["log", `--since=${iso}`, "--format=%h %s"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const lines = new TextDecoder().decode(o.stdout).trim().split("\n").filter((l) => l);
    return lines.length ? lines.map((l) => l.replaceAll("|", "/")).join("; ") : "none";
  } catch {
    return "unknown";
  }
}

/** A markdown table. */
function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One row of the report's targets table. */
interface Target {
  what: string;
  figure: string;
  met: boolean | null;
}

function envView(env: Saved<EnvData>, extra: Saved<EnvData>[]) {
  const e = env.data;
  const uncommitted = e.uncommitted?.length
    ? ` plus uncommitted work in ${e.uncommitted.join(", ")} (other engineers' work in progress)`
    : "";
  return {
    machine: table(["", ""], [
      ["date", e.date],
      ["CPU", `${e.cpu}, ${e.cores} cores`],
      ["memory", `${e.memoryGiB} GiB`],
      ["OS, kernel", `${e.os}, ${e.kernel}, cgroup ${e.cgroup}`],
      ["Deno", `${e.deno} (V8 ${e.v8})`],
      [
        "Docker",
        `CLI ${e.dockerClient}, engine ${e.dockerServer}, storage driver ${e.storageDriver}`,
      ],
      ["QuestDB", e.questdb],
      ["clock ticks", `${e.clkTck} per second (getconf CLK_TCK)`],
      ["code measured", `commit ${e.commit}${uncommitted}`],
      ["invocation", `\`deno task bench${e.argv.length ? " " + e.argv.join(" ") : ""}\``],
      ["commits since the suite started", commitsSince(e.date)],
    ]),
    remeasured: extra.map((x) => ({
      date: x.data.date,
      argv: x.data.argv.join(" "),
      commit: x.data.commit,
    })),
  };
}

/** Footprint runs grouped by fleet size, then daemon variant (default first). */
function footprintGroups(runs: FootprintRun[]): { label: string; runs: FootprintRun[] }[] {
  const keys: [number, string][] = [];
  for (const r of runs) {
    const v = r.variant ?? "";
    if (!keys.some(([n, k]) => n === r.size && k === v)) keys.push([r.size, v]);
  }
  return keys.map(([n, v]) => ({
    label: v ? `${n} (${v})` : String(n),
    runs: runs.filter((r) => r.size === n && (r.variant ?? "") === v),
  }));
}

/** The default variant's runs at the largest size (the targets' figures). */
function largestDefault(runs: FootprintRun[]): { size: number; runs: FootprintRun[] } {
  const size = Math.max(...runs.map((r) => r.size));
  return { size, runs: runs.filter((r) => r.size === size && !r.variant) };
}

/** Engine CPU over the idle period of the same run (dockerd + containerd and shims), s/min. */
const engineExtra = (p: PhaseResult, idle: PhaseResult) =>
  p.dockerdPerMin + p.containerdPerMin - idle.dockerdPerMin - idle.containerdPerMin;
/**
 * Total host CPU of a collector: its own tree plus the engine's extra, s/min. An extra below
 * zero (the engine busier in the idle period, from other work on the machine) counts as zero:
 * a collector cannot save the engine work, and the goal's comparison stays conservative.
 */
const hostTotal = (p: PhaseResult, idle: PhaseResult) =>
  p.cpuPerMin + Math.max(0, engineExtra(p, idle));

/** Least-squares line y = a + b x. */
function fitLine(points: [number, number][]): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const b = sxx > 0 ? sxy / sxx : NaN;
  return { a: my - b * mx, b };
}

/** Samples per container per minute at the cgroup source's 1 s period. */
const PER_MINUTE = 60;

/**
 * The side-by-side table of issue 13 (idle, bare CLI, daemon per source at each N), the goals
 * at the largest N, and the cost per container per sample with a line fitted over N.
 * Empty when no cgroup runs exist.
 */
function sourcesView(f: FootprintResult, targets: Target[]) {
  const cg = f.runs.filter((r) => r.variant === "cgroup");
  if (cg.length === 0) return false;
  const dk = f.runs.filter((r) => !r.variant);
  const sizes = [...new Set(f.runs.map((r) => r.size))].sort((a, b) => a - b);
  const at = (runs: FootprintRun[], n: number) => runs.filter((r) => r.size === n);
  const rows: string[][] = [];
  for (const n of sizes) {
    const d = at(dk, n);
    const c = at(cg, n);
    rows.push([
      String(n),
      "idle (engine alone, absolute)",
      "",
      "",
      "",
      "",
      cell(d.map((r) => r.idle.dockerdPerMin + r.idle.containerdPerMin), 3),
      "",
      String(Math.max(...d.map((r) => r.idle.foreignStatsClients))),
    ]);
    const line = (what: string, runs: FootprintRun[], pick: (r: FootprintRun) => PhaseResult) => [
      String(n),
      what,
      cell(runs.map((r) => pick(r).cpuPerMin), 3),
      cell(runs.map((r) => pick(r).steadyCpuPerMin), 3),
      cell(runs.map((r) => pick(r).steadyRssMiB), 1),
      pick(runs[0]!).kind === "baseline" ? "" : cell(runs.map((r) => pick(r).rootSteadyRssMiB), 1),
      cell(runs.map((r) => engineExtra(pick(r), r.idle)), 3),
      `**${cell(runs.map((r) => hostTotal(pick(r), r.idle)), 3)}**`,
      String(Math.max(...runs.map((r) => pick(r).foreignStatsClients))),
    ];
    rows.push(line("bare `docker stats`", d, (r) => r.baseline));
    rows.push(line("daemon `--source docker`", d, (r) => r.daemon));
    rows.push(line("daemon `--source cgroup`", c, (r) => r.daemon));
  }
  const big = sizes[sizes.length - 1]!;
  const goal = `N=${big}, ${fmt(f.options.minutes, 0)}-min periods`;
  const bigD = at(dk, big);
  const bigC = at(cg, big);
  // Goals of issue 13, each from the runs at the largest N (same run for the pairs).
  const pairs = bigC.map((c) => [c, bigD.find((d) => d.run === c.run)] as const)
    .filter((p): p is readonly [FootprintRun, FootprintRun] => p[1] !== undefined);
  const ratio = pairs.map(([c, d]) => hostTotal(c.daemon, c.idle) / hostTotal(d.daemon, d.idle));
  // Another `docker stats` client makes the engine serve a stream in that period: its engine
  // extra is not the collector's, and the comparison says nothing.
  const foreign = pairs.some(([c, d]) =>
    c.idle.foreignStatsClients + c.daemon.foreignStatsClients + d.daemon.foreignStatsClients > 0
  );
  targets.push({
    what: `${goal}: \`--source cgroup\` total host CPU ≤ 1/20 of \`--source docker\`'s`,
    figure: `${cell(bigC.map((r) => hostTotal(r.daemon, r.idle)), 3)} vs ${
      cell(bigD.map((r) => hostTotal(r.daemon, r.idle)), 3)
    } s/min: ratio ${cell(ratio, 3)} (1/${fmt(1 / median(ratio), 0)}); goal 0.050${
      foreign ? "; not judged: another `docker stats` client ran during these periods" : ""
    }`,
    met: ratio.length && !foreign ? median(ratio) <= 0.05 : null,
  });
  const own = bigC.map((r) => r.daemon.steadyCpuPerMin);
  targets.push({
    what: `${goal}: \`--source cgroup\` own tree ≤ 1.0 CPU s/min (after the first 30 s)`,
    figure: `${cell(own, 3)} s/min after 30 s; ${
      cell(bigC.map((r) => r.daemon.cpuPerMin), 3)
    } over the whole period with startup`,
    met: own.length ? median(own) <= 1.0 : null,
  });
  const rss = pairs.map(([c, d]) => c.daemon.rootSteadyRssMiB - d.daemon.rootSteadyRssMiB);
  targets.push({
    what: `${goal}: \`--source cgroup\` RSS ≤ the docker source's Deno process`,
    figure: `Deno process ${cell(bigC.map((r) => r.daemon.rootSteadyRssMiB), 1)} vs ${
      cell(bigD.map((r) => r.daemon.rootSteadyRssMiB), 1)
    } MiB (difference ${cell(rss, 1)}); whole tree ${
      cell(bigC.map((r) => r.daemon.steadyRssMiB), 1)
    } vs ${cell(bigD.map((r) => r.daemon.steadyRssMiB), 1)} MiB`,
    met: rss.length ? median(rss) <= 0 : null,
  });
  // Cost per container per sample: the average at each N, and the slope of a line over N.
  const perSample = (cpuPerMin: number, n: number) => cpuPerMin * 1e6 / (n * PER_MINUTE);
  const scaling = sizes.map((n) => {
    const c = at(cg, n);
    const d = at(dk, n);
    return [
      String(n),
      cell(c.map((r) => r.daemon.steadyCpuPerMin), 3),
      cell(c.map((r) => r.daemon.samplesPerMin ?? NaN), 0),
      cell(c.map((r) => perSample(r.daemon.steadyCpuPerMin, n)), 1),
      cell(d.map((r) => hostTotal(r.daemon, r.idle)), 3),
      cell(d.map((r) => perSample(hostTotal(r.daemon, r.idle), n)), 1),
    ];
  });
  const fitC = fitLine(cg.map((r) => [r.size, r.daemon.steadyCpuPerMin]));
  const fitD = fitLine(dk.map((r) => [r.size, hostTotal(r.daemon, r.idle)]));
  const at1000 = (l: { a: number; b: number }) => l.a + l.b * 1000;
  return {
    big,
    minutes: f.options.minutes,
    runs: bigC.length,
    table: table(
      [
        "N",
        "collector",
        "own tree CPU (s/min)",
        "own tree, after the first 30 s",
        "tree RSS (MiB)",
        "Deno process RSS (MiB)",
        "engine extra CPU (s/min)",
        "total host CPU (s/min)",
        "other `docker stats` clients seen",
      ],
      rows,
    ),
    scaling: table(
      [
        "N",
        "cgroup: own tree after 30 s (s/min)",
        "cgroup: samples/min delivered",
        "cgroup: µs per container per sample",
        "docker: total host CPU (s/min)",
        "docker: total host µs per container per sample",
      ],
      scaling,
    ),
    fit: table([
      "line over all runs",
      "fixed (s/min)",
      "per container (s/min)",
      "per container per sample (µs)",
      "predicted at N=1,000 (s/min)",
    ], [
      [
        "cgroup: own tree after 30 s",
        fmt(fitC.a, 3),
        fmt(fitC.b, 5),
        fmt(fitC.b * 1e6 / PER_MINUTE, 1),
        fmt(at1000(fitC), 2),
      ],
      [
        "docker: total host CPU",
        fmt(fitD.a, 3),
        fmt(fitD.b, 5),
        fmt(fitD.b * 1e6 / PER_MINUTE, 1),
        fmt(at1000(fitD), 2),
      ],
    ]),
    cgroup1000: fmt(at1000(fitC), 2),
    docker1000: fmt(at1000(fitD), 1),
    cgroupUs: fmt(fitC.b * 1e6 / PER_MINUTE, 1),
    cgroupFixed: fmt(fitC.a, 3),
  };
}

function footprintView(f: FootprintResult, targets: Target[]) {
  const groups = footprintGroups(f.runs);
  const col = (g: FootprintRun[], fn: (r: FootprintRun) => number, digits: number) =>
    cell(g.map(fn), digits);
  const addedPct = (r: FootprintRun) =>
    (r.daemon.cpuPerMin - r.baseline.cpuPerMin) / r.baseline.cpuPerMin * 100;
  const denoPct = (r: FootprintRun) => r.daemon.rootCpuPerMin / r.baseline.cpuPerMin * 100;
  const big = largestDefault(f.runs);
  const added = big.runs.map(addedPct);
  targets.push({
    what: `added CPU at N=${big.size} (daemon tree − baseline) ≤ 25 % of the baseline's`,
    figure: `${cell(added, 1)} % (deno alone: ${cell(big.runs.map(denoPct), 1)} %)`,
    met: added.length ? Math.max(...added) <= 25 : null,
  });
  const rssBig = big.runs.map((r) => r.daemon.rootSteadyRssMiB);
  const rss = f.runs.map((r) => r.daemon.rootSteadyRssMiB);
  targets.push({
    what: "steady RSS of the daemon alone ≤ 80 MB",
    figure: `${cell(rssBig, 1)} MiB at N=${big.size} (${fmt(median(rssBig) * 1.048576, 1)} MB); ` +
      `largest run at any N ${fmt(Math.max(...rss), 1)} MiB`,
    met: rssBig.length ? median(rssBig) * 1.048576 <= 80 : null,
  });
  const variants = Object.entries(f.commands.variants ?? {});
  return {
    sources: sourcesView(f, targets),
    burnEvery: f.options.burnEvery,
    spin: f.options.spin,
    minutes: f.options.minutes,
    baselineCommand: f.commands.baseline,
    daemonCommand: f.commands.daemon,
    variants: variants.map(([name, command]) => `${name}: \`${command}\``).join("; "),
    cpu: table(
      [
        "N",
        "runs",
        "baseline tree",
        "daemon tree",
        "daemon: deno alone",
        "deno alone, after the first 30 s",
        "daemon / baseline",
        "added (daemon − baseline)",
        "added, % of baseline",
        "deno alone, % of baseline",
      ],
      groups.map(({ label, runs: g }) => [
        label,
        String(g.length),
        col(g, (r) => r.baseline.cpuPerMin, 3),
        col(g, (r) => r.daemon.cpuPerMin, 3),
        col(g, (r) => r.daemon.rootCpuPerMin, 3),
        col(g, (r) => r.daemon.rootSteadyCpuPerMin, 3),
        col(g, (r) => r.daemon.cpuPerMin / r.baseline.cpuPerMin, 3),
        col(g, (r) => r.daemon.cpuPerMin - r.baseline.cpuPerMin, 3),
        col(g, addedPct, 1),
        col(g, denoPct, 1),
      ]),
    ),
    memory: table(
      [
        "N",
        "baseline peak",
        "baseline steady",
        "daemon tree peak",
        "daemon tree steady",
        "deno alone peak",
        "deno alone steady",
      ],
      groups.map(({ label, runs: g }) => [
        label,
        col(g, (r) => r.baseline.peakRssMiB, 1),
        col(g, (r) => r.baseline.steadyRssMiB, 1),
        col(g, (r) => r.daemon.peakRssMiB, 1),
        col(g, (r) => r.daemon.steadyRssMiB, 1),
        col(g, (r) => r.daemon.rootPeakRssMiB, 1),
        col(g, (r) => r.daemon.rootSteadyRssMiB, 1),
      ]),
    ),
    engine: table(
      [
        "N",
        "dockerd idle",
        "dockerd extra, baseline",
        "dockerd extra, daemon",
        "containerd + shims extra, baseline",
        "containerd + shims extra, daemon",
        "stream (MB/min)",
      ],
      groups.map(({ label, runs: g }) => [
        label,
        col(g, (r) => r.idle.dockerdPerMin, 3),
        col(g, (r) => r.baseline.dockerdPerMin - r.idle.dockerdPerMin, 3),
        col(g, (r) => r.daemon.dockerdPerMin - r.idle.dockerdPerMin, 3),
        col(g, (r) => r.baseline.containerdPerMin - r.idle.containerdPerMin, 3),
        col(g, (r) => r.daemon.containerdPerMin - r.idle.containerdPerMin, 3),
        fmt((f.streamBytesPerMin[String(g[0]!.size)] ?? NaN) / 1e6, 2),
      ]),
    ),
    discarded: f.discardedRuns?.length
      ? table(
        ["N", "run", "period", "why"],
        f.discardedRuns.map((x) => [String(x.size), String(x.run), x.phase, x.why]),
      )
      : "",
    perRun: table(
      [
        "N",
        "run",
        "dockerd idle",
        "baseline",
        "daemon",
        "ratio",
        "deno steady RSS",
        "samples/min",
        "publishes",
        "other clients",
      ],
      f.runs.map((r) => [
        r.variant ? `${r.size} (${r.variant})` : String(r.size),
        String(r.run),
        fmt(r.idle.dockerdPerMin, 3),
        fmt(r.baseline.cpuPerMin, 3),
        fmt(r.daemon.cpuPerMin, 3),
        fmt(r.daemon.cpuPerMin / r.baseline.cpuPerMin, 3),
        fmt(r.daemon.rootSteadyRssMiB, 1),
        fmt(r.daemon.samplesPerMin ?? NaN, 0),
        String(r.daemon.publishes?.length ?? 0),
        `${r.daemon.foreignStatsClients} / ${r.baseline.foreignStatsClients}`,
      ]),
    ),
  };
}

function parserView(d: ParserData, targets: Target[]) {
  const rows: string[][] = [];
  let slowest = Infinity;
  let slowestName = "";
  const mbs = (bytes: number, ns: number[]) => ns.map((t) => bytes / 1e6 / (t / 1e9));
  const line = (name: string, source: string, w: ParserData["workloads"][0], ns: number[]) => [
    name,
    source,
    String(w.containers),
    fmt(w.bytes / 1e6, 3),
    String(w.samples),
    cell(mbs(w.bytes, ns), 1),
    cell(ns.map((t) => w.samples / (t / 1e9)), 0),
  ];
  for (const w of d.workloads) {
    const cur = d.times[parserBenchName("parser", w.name)] ?? [];
    const m = median(mbs(w.bytes, cur));
    if (m < slowest) {
      slowest = m;
      slowestName = w.name;
    }
    rows.push(line(w.name, w.source, w, cur));
    const withReducers = d.times[parserBenchName("parser+reducers", w.name)];
    if (withReducers) {
      rows.push(line(`${w.name} (parser + reducers)`, "as the daemon per chunk", w, withReducers));
    }
  }
  targets.push({
    what: "parser ≥ 50 MB/s",
    figure: `slowest stream ${slowestName}: ${fmt(slowest, 1)} MB/s (median)`,
    met: Number.isFinite(slowest) ? slowest >= 50 : null,
  });
  return {
    command: benchCommand("bench/parser_bench.ts").join(" "),
    runs: Object.values(d.times)[0]?.length ?? 0,
    table: table(["stream", "source", "containers", "MB", "samples", "MB/s", "samples/s"], rows),
  };
}

function encoderView(d: EncoderData, targets: Target[]) {
  const official = d.times["official"] ?? [];
  const rows = ["ours (string)", "ours (bytes)", "official"].map((name) => {
    const t = d.times[name] ?? [];
    return [
      name,
      cell(t.map((x) => d.rows / (x / 1e9)), 0),
      cell(t.map((x) => d.bytes / 1e6 / (x / 1e9)), 1),
      cell(t.map((x) => x / 1e3), 1),
      cell(t.map((x, i) => (official[i] ?? NaN) / x), 2),
    ];
  });
  const ratio = (d.times["ours (bytes)"] ?? []).map((x, i) => (official[i] ?? NaN) / x);
  targets.push({
    what: "our encoder at least as fast as the official client",
    figure: `ours (bytes) is ${cell(ratio, 1)} × the official client's speed`,
    met: ratio.length ? median(ratio) >= 1 : null,
  });
  return {
    command: benchCommand("bench/encoder_bench.ts").join(" "),
    runs: Object.values(d.times)[0]?.length ?? 0,
    rows: d.rows,
    bytes: d.bytes,
    columns: CONTAINER_TABLE.columns.length,
    table: CONTAINER_TABLE.defaultName,
    speed: table(
      ["encoder", "rows/s", "MB/s", `µs per ${d.rows} rows`, "speed vs official (×)"],
      rows,
    ),
  };
}

function fidelityView(d: FidelityResult, targets: Target[]) {
  const sources = [...new Set(d.runs.flatMap((r) => r.daemons.map((x) => x.source)))];
  const of = (source: string) =>
    d.runs.flatMap((r) => r.daemons.filter((x) => x.source === source));
  for (const source of sources) {
    const ds = of(source);
    targets.push({
      what: `burst: max row ≥ 90 % of the printed peak (\`--source ${source}\`)`,
      figure: `${cell(ds.map((x) => x.burst.ratio * 100), 1)} %`,
      met: ds.length > 0 && ds.every((x) => x.burst.ratio >= 0.9),
    });
    targets.push({
      what: `a container that lives 2 s gets a row (\`--source ${source}\`)`,
      figure: `${ds.filter((x) => x.short.row).length} of ${ds.length} runs`,
      met: ds.length > 0 && ds.every((x) => x.short.row),
    });
  }
  const restartsOf = (x: FidelityRun["daemons"][0]) =>
    x.restarts.filter((r) => /^Restarting/.test(r.line)).map((r) => String(r.at)).join(", ") ||
    "none";
  return {
    shortCommand: d.commands["short"],
    burstCommand: d.commands["burst"],
    rawCommand: d.commands["raw"],
    pollCommand: d.commands["poll"],
    daemonCommands: Object.entries(d.commands).filter(([k]) => k.startsWith("daemon"))
      .map(([, v]) => `\`${v}\``).join("; "),
    discarded: d.discarded,
    perRun: table(
      [
        "run",
        "source",
        "raw stream peak CPU %",
        "daemon max row CPU %",
        "row / peak",
        "2 s container: row (samples)",
        "daemon's stats child restarted at (s into the minute)",
      ],
      d.runs.flatMap((r) =>
        r.daemons.map((x) => [
          String(r.run),
          x.source,
          fmt(r.rawPeak, 2),
          x.burst.rowCpu === null ? "no row" : `${fmt(x.burst.rowCpu, 2)} (${x.burst.rowSamples})`,
          fmt(x.burst.ratio * 100, 1) + " %",
          x.short.row ? `yes (${x.short.rowSamples})` : "**no**",
          x.source === "docker" ? restartsOf(x) : "n/a",
        ])
      ),
    ),
    polling: table(
      ["run", "polls in the minute", "poll peak CPU %", "poll / peak", "2 s container seen"],
      d.runs.map((r) => [
        String(r.run),
        `${r.poll.polls} (${fmt(r.poll.meanPollMs / 1000, 2)} s each)`,
        fmt(r.poll.peak, 2),
        fmt(r.poll.ratio * 100, 1) + " %",
        r.poll.shortSeen ? "yes" : "no",
      ]),
    ),
    summary: table(
      ["", ...sources.map((x) => `daemon \`--source ${x}\`, max mode`), "--no-stream polling"],
      [
        [
          "burst caught, % of the printed peak",
          ...sources.map((x) => cell(of(x).map((y) => y.burst.ratio * 100), 1)),
          cell(d.runs.map((r) => r.poll.ratio * 100), 1),
        ],
        [
          "2 s container recorded",
          ...sources.map((x) =>
            `${of(x).filter((y) => y.short.row).length} of ${of(x).length} runs`
          ),
          `${d.runs.filter((r) => r.poll.shortSeen).length} of ${d.runs.length} runs`,
        ],
      ],
    ),
  };
}

function catalogView(c: CatalogResult) {
  const w = (x: CatalogWindow) => [fmt(x.daemonCpuS, 3), fmt(x.engineCpuS, 3)];
  return {
    steady: c.steady,
    starts: c.starts,
    warmupS: c.warmupS,
    source: c.source,
    command: `\`${c.command}\``,
    table: table([
      "one minute",
      "daemon tree CPU (s)",
      "engine CPU (s): dockerd, containerd, shims",
    ], [
      ["idle", ...w(c.idle)],
      [`${c.starts} containers of 1 s started`, ...w(c.churn)],
    ]),
    perStart: `**${fmt(c.perStartMs, 1)} ms** over idle (${fmt(c.perStartGrossMs, 1)} ms gross)`,
    inProcess: table(["in process", "cost"], [
      [
        `catalog, one recorded event line (parse, apply, lifecycle row; ${c.perEvent.lines} lines, ${c.perEvent.rows} rows)`,
        `${fmt(c.perEvent.us, 1)} µs`,
      ],
      [
        "row gate, one row of a known container at interval close (50 containers)",
        `${fmt(c.perSampleNs, 0)} ns`,
      ],
    ]),
  };
}

function cgroupBenchView(times: Record<string, number[]>) {
  const roundName = Object.keys(times).find((k) => /^cgroup round \d+ containers$/.test(k));
  const n = Number(/\d+/.exec(roundName ?? "")?.[0] ?? NaN);
  const us = (name: string | undefined, per: number) =>
    cell((name ? times[name] ?? [] : []).map((t) => t / 1000 / per), 1);
  return {
    command: benchCommand("bench/cgroup_bench.ts", ["--allow-all"]).join(" "),
    runs: Object.values(times)[0]?.length ?? 0,
    containers: n,
    table: table(["read", "µs per container per sample"], [
      [
        `one round over ${n} containers (files kept open, as the source does), per container`,
        us(roundName, n),
      ],
      ["one container, files kept open", us("cgroup one container", 1)],
      [
        "one container, open/read/close every time (the naive reader)",
        us("cgroup one container, open/read/close each time", 1),
      ],
    ]),
  };
}

function latencyView(runs: LatencyResult[], fp: FootprintResult | null) {
  const all = runs.flatMap((r) => r.boundaries);
  const first = runs[0];
  let crossCheck: { size: number; table: string } | false = false;
  if (fp) {
    const big = largestDefault(fp.runs);
    const firsts = big.runs.flatMap((r) => (r.daemon.publishes ?? []).slice(0, 1));
    const later = big.runs.flatMap((r) => (r.daemon.publishes ?? []).slice(1));
    const line = (what: string, pubs: typeof firsts) => [
      `${what} (${pubs.length})`,
      cell(pubs.map((x) => x.latencyMs), 0),
      cell(pubs.map((x) => x.requestMs), 0),
      cell(pubs.map((x) => x.rows), 0),
    ];
    if (firsts.length) {
      crossCheck = {
        size: big.size,
        table: table(
          ["publishes", "boundary → log line (ms)", "request, daemon's figure (ms)", "rows"],
          later.length
            ? [line("later publishes", later), line("first after start", firsts)]
            : [line("first after start", firsts)],
        ),
      };
    }
  }
  return {
    intervalS: (first?.intervalMs ?? 0) / 1000,
    runs: runs.length,
    perRunBoundaries: first?.boundaries.length ?? 0,
    table: table(
      ["", "boundary → 204", "boundary → interval closed", "encode 200 rows", "HTTP request"],
      [[
        `${all.length} boundaries`,
        cell(all.map((b) => b.totalMs), 1),
        cell(all.map((b) => b.closeMs), 1),
        cell(all.map((b) => b.encodeMs), 2),
        cell(all.map((b) => b.requestMs), 1),
      ]],
    ),
    crossCheck,
  };
}

function floorView(
  floor: { seconds: number; runs: FloorRun[] },
  replay: ReplayResult | null,
  fp: FootprintResult | null,
) {
  const of = (w: FloorRun["what"]) => floor.runs.filter((r) => r.what === w);
  const line = (what: string, runs: { rss: number; cpu: number }[]) => [
    what,
    cell(runs.map((r) => r.rss), 1),
    cell(runs.map((r) => r.cpu), 3),
  ];
  const fl = (w: FloorRun["what"]) => of(w).map((r) => ({ rss: r.steadyRssMiB, cpu: r.cpuPerMin }));
  const rows = [
    line("bare Deno (a script that only waits)", fl("bare deno")),
    line(
      "the daemon, no containers (stand-in `docker stats` prints nothing)",
      fl("daemon, no containers"),
    ),
  ];
  if (replay) {
    rows.push(line(
      "the daemon, replayed 200-container stream (replay part)",
      replay.runs.map((r) => ({ rss: r.steadyRssMiB, cpu: r.cpuPerMin })),
    ));
  }
  if (fp) {
    const big = largestDefault(fp.runs);
    const cg = fp.runs.filter((r) => r.size === big.size && r.variant === "cgroup");
    for (const [what, runs] of [["", big.runs], [", `--source cgroup`", cg]] as const) {
      if (runs.length === 0) continue;
      rows.push(line(
        `the daemon${what}, real engine, N=${big.size} (footprint part; CPU includes startup)`,
        runs.map((r) => ({ rss: r.daemon.rootSteadyRssMiB, cpu: r.daemon.rootCpuPerMin })),
      ));
    }
  }
  return {
    seconds: floor.seconds,
    table: table(["deno process", "steady RSS (MiB)", "CPU (s/min)"], rows),
  };
}

/** What bench/soak.ts writes. */
interface SoakResult {
  date: string;
  minutes: number;
  steady: number;
  started: number;
  start: { fds: number; rssKiB: number; catalog: number };
  end: { fds: number; rssKiB: number; catalog: number };
}

/** The churn soak: the daemon's footprint before and after the churn. */
function soakView(r: SoakResult): Record<string, unknown> {
  const row = (
    what: string,
    a: number,
    b: number,
    unit = "",
  ) => [what, `${a}${unit}`, `${b}${unit}`, `${b - a > 0 ? "+" : ""}${b - a}${unit}`];
  return {
    ...r,
    table: table(["", "after warm-up", "after the churn", "difference"], [
      row("open file descriptors (daemon tree)", r.start.fds, r.end.fds),
      row("catalog entries", r.start.catalog, r.end.catalog),
      row(
        "RSS (daemon tree)",
        Math.round(r.start.rssKiB / 1024),
        Math.round(r.end.rssKiB / 1024),
        " MiB",
      ),
    ]),
  };
}

/**
 * The view the template is rendered with: one object per part that has results (absent
 * otherwise), each holding that part's tables (markdown) and figures, and the targets table.
 */
export function buildView(dir: string): Record<string, unknown> {
  const env = load<EnvData>(dir, "env");
  const fp = load<FootprintResult>(dir, "footprint");
  // The side-by-side table measured again with longer periods (a separate invocation's
  // footprint.json, copied here as footprint-long.json).
  const fpLong = load<FootprintResult>(dir, "footprint-long");
  const fid = load<FidelityResult>(dir, "fidelity");
  const lat = load<{ runs: LatencyResult[] }>(dir, "latency");
  const parser = load<ParserData>(dir, "parser");
  const encoder = load<EncoderData>(dir, "encoder");
  const replay = load<ReplayResult>(dir, "replay");
  const floor = load<{ seconds: number; runs: FloorRun[] }>(dir, "floor");
  const catalog = load<CatalogResult>(dir, "catalog");
  const cgroup = load<{ times: Record<string, number[]> }>(dir, "cgroup");
  const soak = load<SoakResult>(dir, "soak");
  const scrape = load<ScrapeResult>(dir, "scrape");
  const extraEnv = [...Deno.readDirSync(dir)]
    .filter((f) => /^env-.+\.json$/.test(f.name))
    .map((f) => f.name.replace(/\.json$/, ""))
    .sort()
    .map((name) => load<EnvData>(dir, name))
    .filter((x) => x !== null);
  const targets: Target[] = [];
  const view: Record<string, unknown> = {
    env: env && envView(env, extraEnv),
    footprint: fp && footprintView(fp.data, targets),
    footprintLong: fpLong && sourcesView(fpLong.data, targets),
    parser: parser && parserView(parser.data, targets),
    encoder: encoder && encoderView(encoder.data, targets),
    fidelity: fid && fidelityView(fid.data, targets),
    catalog: catalog && catalogView(catalog.data),
    cgroup: cgroup && cgroupBenchView(cgroup.data.times),
    latency: lat && latencyView(lat.data.runs, fp?.data ?? null),
    floor: floor && floorView(floor.data, replay?.data ?? null, fp?.data ?? null),
    soak: soak && soakView(soak.data),
    scrape: scrape && scrapeView(scrape.data),
  };
  view["targets"] = targets.length
    ? table(
      ["target", "figure", "met"],
      targets.map((t) => [t.what, t.figure, t.met === null ? "n/a" : yes(t.met)]),
    )
    : "";
  return view;
}

/**
 * The report text: the template rendered with the view, nothing HTML-escaped (it is markdown).
 * @param dir results directory, ending in `/`.
 * @param prose the template (default bench/BENCHMARKS.prose.md).
 */
export function buildReport(dir: string, prose: string | URL = PROSE): string {
  const template = Deno.readTextFileSync(prose);
  return Mustache.render(template, buildView(dir), {}, { escape: (s: string) => s });
}

/** Writes the report to `path`, formatted by `deno fmt` (so `deno task fmt` stays clean). */
export function writeReport(dir: string, path: string): void {
  Deno.writeTextFileSync(path, buildReport(dir));
  new Deno.Command("deno", { args: ["fmt", "-q", path], stdout: "null", stderr: "null" })
    .outputSync();
}

if (import.meta.main) {
  const dir = new URL("./out/", import.meta.url).pathname;
  writeReport(dir, new URL("../BENCHMARKS.md", import.meta.url).pathname);
}
