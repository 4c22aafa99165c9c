/**
 * The benchmark suite of issue 6: one command runs it and writes BENCHMARKS.md.
 *
 *   deno task bench                      # the values: 3 runs, 3 min, N = 10,50,200
 *   deno task bench --runs 1 --minutes 1 --sizes 10     # a short smoke version
 *   deno task bench --parts parser,encoder              # only some parts
 *   deno task bench --report-only                       # rewrite BENCHMARKS.md from bench/out
 *   deno task bench --parts footprint --variant 'cgroup=--source cgroup'   # a second daemon
 *
 * Parts: footprint (real engine: idle, bare `docker stats`, the daemon with each source),
 * fidelity (3 s burst, 2 s container, each source vs a --no-stream loop), catalog (engine calls
 * and CPU of the container catalog on an idle host, issue 10), cgroup (`deno bench` of the
 * cgroup source's read round), latency (boundary -> 204 at 200 containers), replay (the
 * daemon's own CPU on a replayed 200-container stream), floor (bare Deno and the daemon with no
 * data), parser and encoder (`deno bench`). Each part writes bench/out/<part>.json as soon as
 * it ends; the report is rebuilt from whatever results are there (bench/report.ts, prose in
 * bench/BENCHMARKS.prose.md). Parts run one after another (2-core machine).
 *
 * `--sources docker,cgroup` (the default) measures the daemon with `--source cgroup` next to
 * the default `--source docker` in footprint, fidelity and catalog: the runner makes the
 * read-only recursive bind of `/` that `--host-root` needs (root only) and removes it at the end.
 */
import { parseArgs } from "node:util";
import { findQuestDBJar, type QuestDB, startQuestDB } from "../tests/helpers/questdb.ts";
import { runCatalog } from "./catalog.ts";
import { runFidelity } from "./fidelity.ts";
import { runFootprint } from "./footprint.ts";
import { runLatency } from "./latency.ts";
import { runReplay } from "./replay.ts";
import { runFloor } from "./floor.ts";
import { type BenchContext, CGROUP_VARIANT, type DaemonVariant } from "./lib/context.ts";
import { runScrape } from "./scrape.ts";

import { runDenoBench } from "./lib/denobench.ts";
import { readEnvironment } from "./lib/env.ts";
import { clockTicks } from "./lib/procfs.ts";
import { parserWorkloads } from "./lib/workloads.ts";
import { encodedBytes } from "./lib/rows.ts";
import { writeReport } from "./report.ts";

const here = (file: string) => new URL(`./${file}`, import.meta.url).pathname;
const PARTS = [
  "footprint",
  "fidelity",
  "catalog",
  "cgroup",
  "latency",
  "replay",
  "floor",
  "parser",
  "encoder",
  "scrape",
] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "3" },
    minutes: { type: "string", default: "3" },
    sizes: { type: "string", default: "10,50,200" },
    parts: { type: "string", default: PARTS.join(",") },
    sources: { type: "string", default: "docker,cgroup" },
    "catalog-steady": { type: "string", default: "200" },
    "quiet-wait": { type: "string", default: "120" },
    "burn-every": { type: "string", default: "10" },
    spin: { type: "string", default: "20000" },
    "latency-boundaries": { type: "string", default: "6" },
    "latency-interval": { type: "string", default: "10" },
    "replay-seconds": { type: "string", default: "120" },
    "scrape-every": { type: "string", default: "15" },
    out: { type: "string", default: new URL("./out/", import.meta.url).pathname },
    report: { type: "string", default: new URL("../BENCHMARKS.md", import.meta.url).pathname },
    "report-only": { type: "boolean", default: false },
    main: { type: "string", default: new URL("../main.ts", import.meta.url).pathname },
    variant: { type: "string", multiple: true, default: [] },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(`deno task bench [options]
  --runs N               runs per measurement (default 3)
  --minutes M            length of each footprint period (default 3)
  --sizes a,b,c          container counts for the footprint (default 10,50,200)
  --parts p,q            any of ${PARTS.join(",")} (default all)
  --sources s,t          daemon sources measured: docker (always) and cgroup (default both;
                         cgroup needs root: the runner mounts the --host-root bind of /)
  --catalog-steady N     steady containers beside the catalog part's churn (default 200)
  --quiet-wait S         footprint: before each period, wait at most S seconds for other
                         \`docker stats\` clients to be gone for 5 s (default 120)
  --burn-every K         one container in K burns a little CPU (default 10)
  --spin S               shell-loop iterations per second of a burner (default 20000)
  --latency-boundaries B boundaries measured by the latency harness (default 6)
  --latency-interval S   the harness's interval in seconds (default 10)
  --replay-seconds S     length of each replay run (default 120)
  --scrape-every S       scrape part: seconds between scrapes of /metrics (default 15)
  --out DIR              results directory (default bench/out)
  --report FILE          report to write (default BENCHMARKS.md)
  --report-only          only rebuild the report from DIR
  --main FILE            daemon entry point to measure (default main.ts)
  --variant NAME=FLAGS   footprint: also measure the daemon with these extra flags
                         (repeatable; e.g. 'cgroup=--source cgroup')`);
  Deno.exit(0);
}

const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`error: --${name} must be a whole number >= 1, got ${v}`);
    Deno.exit(2);
  }
  return n;
};
const runs = int("runs", values.runs);
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`error: --minutes must be > 0, got ${values.minutes}`);
  Deno.exit(2);
}
const sizes = (values.sizes ?? "").split(",").map((s) => int("sizes", s));
const parts = (values.parts ?? "").split(",").map((p) => p.trim()) as Part[];
for (const p of parts) {
  if (!PARTS.includes(p)) {
    console.error(`error: unknown part ${p}; parts are ${PARTS.join(",")}`);
    Deno.exit(2);
  }
}
const SOURCES = ["docker", "cgroup"];
const sources = (values.sources ?? "").split(",").map((s) => s.trim());
for (const s of sources) {
  if (!SOURCES.includes(s)) {
    console.error(`error: --sources takes ${SOURCES.join(",")}, got ${s}`);
    Deno.exit(2);
  }
}
const extraVariants: DaemonVariant[] = (values.variant ?? []).map((v) => {
  const m = /^([a-z0-9][a-z0-9_-]*)=(.*)$/i.exec(v);
  if (!m) {
    console.error(`error: --variant must be NAME=FLAGS (NAME letters, digits, - or _), got ${v}`);
    Deno.exit(2);
  }
  return { name: m[1]!, args: m[2]!.split(/\s+/).filter((a) => a !== "") };
});
const outDir = values.out!.endsWith("/") ? values.out! : `${values.out}/`;
const reportPath = values.report!;
await Deno.mkdir(outDir, { recursive: true });

const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

function save(part: string, data: unknown, startedAt: string): void {
  const path = `${outDir}${part}.json`;
  Deno.writeTextFileSync(
    path,
    JSON.stringify({ part, startedAt, finishedAt: new Date().toISOString(), data }, null, 1),
  );
  log(`wrote ${path}`);
}

if (!values["report-only"]) {
  const env = await readEnvironment(findQuestDBJar(), clockTicks());
  // env.json describes the main run (the one with the footprint part); a later run of some
  // parts only records its own env-<parts>.json, listed in the report.
  let haveMain = true;
  try {
    Deno.statSync(`${outDir}env.json`);
  } catch {
    haveMain = false;
  }
  const envName = parts.includes("footprint") || !haveMain ? "env" : `env-${parts.join("-")}`;
  save(envName, { ...env, argv: Deno.args, parts }, env.date);
  const needsQdb = parts.some((p) => !["parser", "encoder", "cgroup"].includes(p));
  let qdb: QuestDB | null = null;
  const spoolDir = await Deno.makeTempDir({ prefix: "statsd-bench-spool-" });
  // The daemon's sources: the default (docker) first, then cgroup, reading the host directly.
  const sourceVariants = sources.includes("cgroup") ? [CGROUP_VARIANT] : [];
  try {
    if (needsQdb) {
      qdb = await startQuestDB();
      log(`private QuestDB on ${qdb.httpUrl}`);
    }
    const context = (): BenchContext => ({ qdb: qdb!, spoolDir, main: values.main!, log });
    for (const part of PARTS.filter((p) => parts.includes(p))) {
      const startedAt = new Date().toISOString();
      log(`part ${part}`);
      try {
        switch (part) {
          case "footprint":
            save(
              part,
              await runFootprint({
                sizes,
                runs,
                minutes,
                burnEvery: int("burn-every", values["burn-every"]),
                spin: int("spin", values.spin),
                quietWaitS: int("quiet-wait", values["quiet-wait"]),
                variants: [...sourceVariants, ...extraVariants],
              }, context()),
              startedAt,
            );
            break;
          case "fidelity":
            save(part, await runFidelity(runs, sourceVariants, context()), startedAt);
            break;
          case "catalog":
            save(
              part,
              await runCatalog({
                steady: Number(values["catalog-steady"]),
                starts: 60,
                warmupS: 30,
                variants: sourceVariants,
              }, context()),
              startedAt,
            );
            break;
          case "cgroup": {
            const times = await runDenoBench(here("cgroup_bench.ts"), runs, ["--allow-all"]);
            save(part, { times }, startedAt);
            break;
          }
          case "latency": {
            const all = [];
            for (let r = 1; r <= runs; r++) {
              log(`latency run ${r}/${runs}`);
              all.push(
                await runLatency({
                  httpPort: qdb!.httpPort,
                  boundaries: int("latency-boundaries", values["latency-boundaries"]),
                  intervalMs: int("latency-interval", values["latency-interval"]) * 1000,
                  log,
                }),
              );
            }
            save(part, { runs: all }, startedAt);
            break;
          }
          case "replay":
            save(
              part,
              await runReplay(
                { runs, seconds: int("replay-seconds", values["replay-seconds"]) },
                context(),
              ),
              startedAt,
            );
            break;
          case "floor":
            save(
              part,
              await runFloor({ runs, seconds: 45 }, context()),
              startedAt,
            );
            break;
          case "parser": {
            const workloads = parserWorkloads().map((w) => ({
              name: w.name,
              source: w.source,
              bytes: w.bytes,
              samples: w.samples,
              containers: w.containers,
            }));
            const times = await runDenoBench(here("parser_bench.ts"), runs);
            save(part, { workloads, times }, startedAt);
            break;
          }
          case "scrape":
            save(
              part,
              await runScrape({
                sizes,
                runs,
                minutes,
                scrapeEveryS: int("scrape-every", values["scrape-every"]),
                burnEvery: int("burn-every", values["burn-every"]),
                spin: int("spin", values.spin),
                variants: sourceVariants,
              }, context()),
              startedAt,
            );
            break;
          case "encoder": {
            const bytes = encodedBytes();
            const times = await runDenoBench(here("encoder_bench.ts"), runs);
            save(part, { rows: 200, bytes, times }, startedAt);
            break;
          }
        }
      } catch (e) {
        log(`part ${part} failed: ${(e as Error).stack ?? e}`);
        save(`${part}-error`, { error: String((e as Error).stack ?? e) }, startedAt);
      }
      writeReport(outDir, reportPath);
    }
  } finally {
    await qdb?.dispose();
    await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}
writeReport(outDir, reportPath);
log(`wrote ${reportPath}`);
