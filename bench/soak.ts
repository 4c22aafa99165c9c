/**
 * Churn soak (issue 16): containers started and removed at about one a second for `--minutes`
 * beside `--steady` sleeping ones, with the daemon (`--source cgroup`, `--listen`, no sink)
 * following them all. Open file descriptors of the daemon's tree, its RSS and the catalog's size
 * (`container_statsd_catalog_containers` from its own /metrics) are read after a warm-up and
 * again once the churn has ended and the catalog's retention has passed; a leak shows as a
 * difference that grows with the minutes. Writes bench/out/soak.json; the report shows it.
 *
 *   deno task bench:soak                          # the run: 10 minutes beside 200
 *   deno task bench:soak --minutes 2 --steady 20  # a smoke run
 */
import { parseArgs } from "node:util";
import { launchDaemon } from "../tests/helpers/daemon.ts";
import { freePort } from "../tests/helpers/questdb.ts";
import {
  ensureBusyboxImage,
  PREFIX,
  removeContainers,
  runContainer,
  startFleet,
} from "./lib/docker.ts";
import { readTree, treeOf } from "./lib/procfs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "10" },
    steady: { type: "string", default: "200" },
    out: { type: "string", default: new URL("./out/", import.meta.url).pathname },
  },
});
const minutes = Number(values.minutes);
const steady = Number(values.steady);
const STEADY = `${PREFIX}soak-steady-`;
const CHURN = `${PREFIX}soak-churn-`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One reading of the daemon's footprint. */
interface Reading {
  /** Open file descriptors of the daemon's process tree. */
  fds: number;
  /** Resident memory of the tree, KiB. */
  rssKiB: number;
  /** Containers the catalog holds. */
  catalog: number;
}

function openFds(pid: number): number {
  let n = 0;
  for (const p of treeOf(pid)) {
    try {
      for (const _ of Deno.readDirSync(`/proc/${p}/fd`)) n++;
    } catch { /* gone */ }
  }
  return n;
}

async function reading(pid: number, port: number): Promise<Reading> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^container_statsd_catalog_containers(?:\{[^}]*\})? (\d+)/m.exec(text);
  if (!m) throw new Error("no container_statsd_catalog_containers on /metrics");
  return { fds: openFds(pid), rssKiB: readTree(pid)?.rssKiB ?? NaN, catalog: Number(m[1]) };
}

await ensureBusyboxImage();
await removeContainers(`${PREFIX}soak-`);
console.log(`soak: ${steady} steady containers`);
await startFleet(STEADY, steady, 1_000_000, 0);
const port = await freePort();
const daemon = launchDaemon([
  "--node",
  "soak",
  "--interval",
  "10s",
  "--source",
  "cgroup",
  "--watchdog",
  "disabled",
  "--listen",
  `127.0.0.1:${port}`,
  "--include",
  `${PREFIX}soak-*`,
], { logLevel: "info", waitTimeoutMs: 120_000, killAfterMs: 15_000 });
try {
  await daemon.waitForLog(/The cgroup source is producing; ready/);
  await sleep(30_000);
  const start = await reading(daemon.child.pid, port);
  console.log(`soak: start ${JSON.stringify(start)}; churning for ${minutes} min`);
  const until = Date.now() + minutes * 60_000;
  let started = 0;
  const runs: Promise<unknown>[] = [];
  while (Date.now() < until) {
    const at = Date.now();
    runs.push(
      runContainer(`${CHURN}${started++}`, "sleep 1", ["--rm"]).catch((e) => console.error(e)),
    );
    await sleep(Math.max(0, 1000 - (Date.now() - at)));
  }
  await Promise.all(runs);
  await sleep(60_000); // the last containers exit and the catalog's retention passes
  const end = await reading(daemon.child.pid, port);
  console.log(`soak: end ${JSON.stringify(end)} after ${started} containers`);
  const result = { date: new Date().toISOString(), minutes, steady, started, start, end };
  await Deno.mkdir(values.out!, { recursive: true });
  await Deno.writeTextFile(`${values.out}soak.json`, JSON.stringify(result, null, 2) + "\n");
} finally {
  await daemon.stop("SIGTERM");
  await removeContainers(`${PREFIX}soak-`);
}
