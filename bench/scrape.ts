/**
 * The Prometheus endpoint (issue 21): for each fleet size N, the daemon on the real engine with
 * each source, once without `--listen` and once with it, scraped every `scrapeEveryS` seconds
 * (Prometheus's default 15 s) over a loopback connection as Prometheus asks (OpenMetrics). Per
 * scrape: the round trip from request to last byte, the bytes and the series; per period: the
 * daemon's whole process tree's CPU s/min (lib/procfs.ts), so "on minus off" is the endpoint's
 * cost. Also the in-process rendering time of bench/scrape_bench.ts (`deno bench`).
 *
 * The cAdvisor figures (v0.60.5, `--docker_only`, 200 containers: 24.9 CPU s/min at a
 * 1 s housekeeping interval, 17.0 at 10 s; a scrape of 13,364 series, 2.4 MB, in 107–160 ms)
 * were measured elsewhere; cAdvisor is not built here.
 */
import { READY_LINE } from "../tests/helpers/daemon.ts";
import { freePort } from "../tests/helpers/questdb.ts";
import {
  type BenchContext,
  daemonCommand,
  type DaemonVariant,
  DEFAULT_VARIANT,
  sourceOf,
  startBenchDaemon,
} from "./lib/context.ts";
import { runDenoBench } from "./lib/denobench.ts";
import { ensureBusyboxImage, PREFIX, removeContainers, startFleet } from "./lib/docker.ts";
import { clockTicks, TreeSampler } from "./lib/procfs.ts";

/** Prometheus 2.42's scrape `Accept` header (scrape/scrape.go). */
const PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-" +
  "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/** Options of the scrape part. */
export interface ScrapeOptions {
  sizes: number[];
  runs: number;
  minutes: number;
  /** Seconds between scrapes (Prometheus's default is 15). */
  scrapeEveryS: number;
  /** One container in this many burns CPU. */
  burnEvery: number;
  /** Iterations of the burner's shell loop per second. */
  spin: number;
  /** Sources besides the default (`--source cgroup` through the bind). */
  variants: DaemonVariant[];
}

/** One scrape. */
export interface ScrapeSample {
  /** Request to last byte, ms. */
  ms: number;
  bytes: number;
  series: number;
}

/** One period of the daemon, with or without the endpoint. */
export interface ScrapePeriod {
  size: number;
  run: number;
  source: string;
  listen: boolean;
  seconds: number;
  /** Whole tree, CPU seconds per minute, from ready to the end of the period. */
  cpuPerMin: number;
  /** Root process RSS at the end, MiB. */
  rssMiB: number;
  scrapes: ScrapeSample[];
}

/** What the part saves. */
export interface ScrapeResult {
  scrapeEveryS: number;
  minutes: number;
  daemonCommands: string[];
  periods: ScrapePeriod[];
  /** `deno bench` of bench/scrape_bench.ts: bench name -> mean ns per run. */
  render: Record<string, number[]>;
}

const here = (file: string) => new URL(`./${file}`, import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One scrape as Prometheus makes it. */
async function scrapeOnce(port: number): Promise<ScrapeSample> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { accept: PROMETHEUS_ACCEPT },
  });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`scrape: HTTP ${res.status}`);
  let series = 0;
  for (const line of body.split("\n")) if (line !== "" && line[0] !== "#") series++;
  return { ms, bytes: new TextEncoder().encode(body).length, series };
}

/** The report's view of the part: one row per size and source, the render times. */
export function scrapeView(r: ScrapeResult) {
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
  };
  const f = (x: number, d = 2) => Number.isFinite(x) ? x.toFixed(d) : "–";
  const rows: string[][] = [];
  const keys = [...new Set(r.periods.map((p) => `${p.size} ${p.source}`))];
  for (const key of keys) {
    const of = r.periods.filter((p) => `${p.size} ${p.source}` === key);
    const on = of.filter((p) => p.listen);
    const off = of.filter((p) => !p.listen);
    const scrapes = on.flatMap((p) => p.scrapes);
    const [size, source] = key.split(" ");
    rows.push([
      size!,
      source!,
      f(med(off.map((p) => p.cpuPerMin))),
      f(med(on.map((p) => p.cpuPerMin))),
      f(med(scrapes.map((s) => s.ms)), 1) + " / " + f(Math.max(...scrapes.map((s) => s.ms)), 1),
      f(med(scrapes.map((s) => s.bytes)) / 1024, 0),
      f(med(scrapes.map((s) => s.series)), 0),
    ]);
  }
  const render = Object.entries(r.render).map(([name, ns]) => [name, f(med(ns) / 1e6, 2)]);
  const table = (head: string[], body: string[][]) =>
    [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`]
      .concat(body.map((b) => `| ${b.join(" | ")} |`)).join("\n");
  return {
    minutes: r.minutes,
    scrapeEveryS: r.scrapeEveryS,
    commands: r.daemonCommands.map((c) => `\`${c}\``).join("; "),
    table: table([
      "N",
      "source",
      "tree CPU s/min, endpoint off",
      "on (scraped)",
      "scrape ms, median / max",
      "size KiB",
      "series",
    ], rows),
    render: table(["rendering in process (`deno bench`)", "ms"], render),
  };
}

/** Runs the part. */
export async function runScrape(o: ScrapeOptions, ctx: BenchContext): Promise<ScrapeResult> {
  await ensureBusyboxImage();
  const prefix = `${PREFIX}scrape-`;
  const ticks = clockTicks();
  const periods: ScrapePeriod[] = [];
  const variants = [DEFAULT_VARIANT, ...o.variants];
  for (const size of o.sizes) {
    await removeContainers(prefix);
    ctx.log(`scrape: starting ${size} containers`);
    await startFleet(prefix, size, o.burnEvery, o.spin);
    try {
      for (let run = 1; run <= o.runs; run++) {
        for (const variant of variants) {
          for (const listen of [false, true]) {
            const port = await freePort();
            const extra = [
              ...variant.args,
              "--include",
              `${prefix}*`,
              ...(listen ? ["--listen", `127.0.0.1:${port}`] : []),
            ];
            const source = sourceOf(variant);
            ctx.log(`scrape: N=${size} run ${run} ${source} listen=${listen}`);
            const daemon = startBenchDaemon(ctx, `bench-scrape-${size}`, extra);
            try {
              await daemon.waitForLog(READY_LINE);
              await sleep(5000); // every container read at least once
              const sampler = new TreeSampler(daemon.child.pid);
              const scrapes: ScrapeSample[] = [];
              const end = performance.now() + o.minutes * 60_000;
              while (performance.now() < end) {
                if (listen) scrapes.push(await scrapeOnce(port));
                await sleep(Math.min(o.scrapeEveryS * 1000, Math.max(0, end - performance.now())));
              }
              const readings = sampler.stop();
              const first = readings[0]!;
              const last = readings.at(-1)!;
              const seconds = (last.at - first.at) / 1000;
              periods.push({
                size,
                run,
                source,
                listen,
                seconds,
                cpuPerMin: (last.cpuTicks - first.cpuTicks) / ticks / (seconds / 60),
                rssMiB: last.rootRssKiB / 1024,
                scrapes,
              });
            } finally {
              await daemon.stop("SIGTERM");
            }
          }
        }
      }
    } finally {
      await removeContainers(prefix);
    }
  }
  const render = await runDenoBench(here("scrape_bench.ts"), o.runs);
  return {
    scrapeEveryS: o.scrapeEveryS,
    minutes: o.minutes,
    daemonCommands: variants.map((v) =>
      daemonCommand("<node>", [
        ...(v.shownArgs ?? v.args),
        "--include",
        `${prefix}*`,
        "--listen",
        "127.0.0.1:<port>",
      ])
    ),
    periods,
    render,
  };
}
