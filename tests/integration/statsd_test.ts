/**
 * `--statsd` end to end on seed 003's stack, all real: the daemon's own process (main.ts with
 * the start task's permissions) follows the test's containers on the real Docker engine and
 * writes to a real QuestDB and to Etsy's StatsD server (npm `statsd` 0.9.0), which flushes
 * every 2 s to Graphite's carbon-cache (Debian's `graphite-carbon`, one point per second);
 * the Whisper files are read back with `whisper-fetch` (tests/helpers/statsd.ts).
 *
 * StatsD has no timestamps of ours: a gauge keeps its last value from flush to flush, and a
 * counter's flushes sum to what was sent. So the checks are: each gauge's Whisper series,
 * with repeats collapsed, is the QuestDB column of the same rows in order; each counter's
 * flushes sum to the QuestDB `*_delta` column over the run; each lifecycle event's counter sums
 * to its QuestDB rows.
 */
import assert from "node:assert/strict";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { READY_LINE, startDaemon, testServerArgs } from "../helpers/daemon.ts";
import { ensureBusyboxImage, removeContainers, runContainer } from "../helpers/docker.ts";
import { until } from "../helpers/ilp.ts";
import { startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";
import { FLUSH_MS, startCarbon, startStatsd } from "../helpers/statsd.ts";

/** Consecutive repeats made one (a gauge is flushed again each second until it changes). */
function collapse(values: readonly number[]): number[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/**
 * The one stored series named `name` whose tags include `tags`: Etsy's StatsD turns DogStatsD
 * tags `|#k:v` into Graphite tags `name;k=v` (stats.js), which carbon stores as tagged series.
 * @returns its full name and all its tags.
 */
function tagged(
  names: Iterable<string>,
  name: string,
  tags: Record<string, string>,
): { series: string; tags: Record<string, string> } {
  const found = [...names].map((s) => {
    const [n, ...kv] = s.split(";");
    return { n, series: s, tags: Object.fromEntries(kv.map((p) => p.split("="))) };
  }).filter((s) => s.n === name && Object.entries(tags).every(([k, v]) => s.tags[k] === v));
  assert.equal(found.length, 1, `${name} ${JSON.stringify(tags)}: ${found.map((f) => f.series)}`);
  return found[0]!;
}

Deno.test({
  name: "seed 003's stack: gauges in Graphite equal the QuestDB rows, counters sum to the deltas",
  ignore: await requires("docker", "questdb", "statsd", "carbon"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const INTERVAL_MS = 5000;
    const tag = crypto.randomUUID().slice(0, 6);
    const prefix = `sd-${tag}-`;
    const host = `sd-host-${tag}`;
    await ensureBusyboxImage();
    const spoolDir = await Deno.makeTempDir({ prefix: "statsd-sd-spool-" });
    const servers: { dispose(): Promise<void> }[] = [];
    /** Keeps `server` to dispose of it, the last started first. */
    const serve = <T extends { dispose(): Promise<void> }>(server: T): T => {
      servers.unshift(server);
      return server;
    };
    try {
      const qdb = serve(await startQuestDB());
      const carbon = serve(await startCarbon());
      const statsd = serve(await startStatsd(carbon));
      // CPU, and block I/O from synced writes, so that gauges and counters move.
      await runContainer(
        `${prefix}burner`,
        ["--cpus", "0.2", "--label", "com.docker.compose.service=burner"],
        "while true; do dd if=/dev/zero of=/f bs=64k count=16 conv=fsync 2>/dev/null; " +
          "sleep 1; done & yes > /dev/null",
      );
      const daemon = startDaemon([
        ...["--node", host, "--interval", "5s", "--include", `${prefix}*`],
        ...testServerArgs(qdb.httpPort, spoolDir),
        ...["--statsd", `udp://127.0.0.1:${statsd.port}`],
        ...["--statsd", `udp://127.0.0.1:${statsd.port}?prefix=dd&tags=dogstatsd`],
      ]);
      try {
        await daemon.waitForLog(READY_LINE, 30_000);
        assert.match(
          daemon.lines.join("\n"),
          new RegExp(`Starting container-statsd: .*statsd=statsd@127\\.0\\.0\\.1:${statsd.port}`),
        );
        // A lifecycle: create, start, die (exit 3).
        await runContainer(`${prefix}exit3`, [], "sleep 2; exit 3");
        await qdb.waitFor(
          `SELECT count(DISTINCT timestamp) FROM containerStats WHERE host = '${host}' ` +
            `AND name = '${prefix}burner'`,
          (r) => Number(r.dataset[0]?.[0]) >= 5,
          60_000,
        );
        await qdb.waitFor(
          `SELECT count() FROM containerEvents WHERE host = '${host}' AND event = 'die'`,
          (r) => Number(r.dataset[0]?.[0]) >= 1,
          30_000,
        );
        // Stop half-way through an interval, so that the partial interval's gauges reach
        // StatsD half an interval after the last full one's: each value lives through a flush.
        await new Promise((r) =>
          setTimeout(r, (INTERVAL_MS * 1.5 - Date.now() % INTERVAL_MS) % INTERVAL_MS)
        );
      } finally {
        const { code } = await daemon.stop("SIGTERM");
        assert.equal(code, 0, daemon.lines.slice(-30).join("\n"));
      }
      await qdb.walApplied();

      const stats = await qdb.exec(
        `SELECT * FROM containerStats WHERE host = '${host}' AND name = '${prefix}burner' ` +
          "ORDER BY timestamp",
      );
      const column = (name: string) => {
        const i = stats.columns.findIndex((c) => c.name === name);
        return stats.dataset.map((r) => r[i]).filter((v): v is number => typeof v === "number");
      };
      const base = `container_statsd.${host}.${prefix}burner`;
      const numeric = CONTAINER_TABLE.columns.filter((c) =>
        c.type === "DOUBLE" || c.type === "LONG"
      )
        .filter((c) => column(c.name).length > 0);
      const gauges = numeric.filter((c) => !c.name.endsWith("_delta"));
      const counters = numeric.filter((c) => c.name.endsWith("_delta"));
      assert.ok(gauges.length >= 8 && counters.length === 4, numeric.map((c) => c.name).join());
      assert.ok(sum(column("block_io_out_delta")) > 0, "the burner wrote to its disk");

      // Wait for the last interval's values to reach Whisper (a flush every FLUSH_MS).
      const rows = stats.dataset.length;
      await until(
        async () => {
          for (const c of gauges) {
            const w = (await carbon.fetch(`stats.gauges.${base}.${c.name}`)).map(([, v]) => v);
            if (w.at(-1) !== column(c.name).at(-1)) return false;
          }
          for (const c of counters) {
            const w = await carbon.fetch(`stats.counters.${base}.${c.name}.count`);
            if (sum(w.map(([, v]) => v)) !== sum(column(c.name))) return false;
          }
          return true;
        },
        "Whisper holds the last interval",
        10 * FLUSH_MS,
        500,
      ).catch(() => {}); // the assertions below say what differs

      const series = [...carbon.series().keys()].filter((s) =>
        s.startsWith(`stats.gauges.${base}.`)
      );
      assert.deepEqual(
        series.map((s) => s.slice(`stats.gauges.${base}.`.length)).sort(),
        gauges.map((c) => c.name).sort(),
        "a gauge per numeric column",
      );
      for (const c of gauges) {
        const w = (await carbon.fetch(`stats.gauges.${base}.${c.name}`)).map(([, v]) => v);
        assert.deepEqual(
          collapse(w),
          collapse(column(c.name)),
          `gauge ${c.name} over ${rows} rows`,
        );
      }
      for (const c of counters) {
        const w = await carbon.fetch(`stats.counters.${base}.${c.name}.count`);
        assert.equal(sum(w.map(([, v]) => v)), sum(column(c.name)), `counter ${c.name}`);
      }

      console.log(
        `${rows} rows; cpu ${collapse(column("cpu")).length} distinct in a row; ` +
          counters.map((c) => `${c.name} sum ${sum(column(c.name))}`).join(", "),
      );

      // The same through DogStatsD tags. Graphite reserves the tag `name` for the series name
      // (graphite docs, "Graphite Tag Support"), so carbon drops ours: the burner's series are
      // found by host and its compose service label; the container ID is never a tag.
      const burner = { host, compose_service: "burner" };
      const cpu = tagged(carbon.series().keys(), "stats.gauges.dd.containerStats.cpu", burner);
      assert.deepEqual(Object.keys(cpu.tags).sort(), ["compose_service", "host"]);
      for (const c of gauges) {
        const { series } = tagged(
          carbon.series().keys(),
          `stats.gauges.dd.containerStats.${c.name}`,
          burner,
        );
        const w = (await carbon.fetch(series)).map(([, v]) => v);
        assert.deepEqual(collapse(w), collapse(column(c.name)), `tagged gauge ${c.name}`);
      }
      for (const c of counters) {
        const { series } = tagged(
          carbon.series().keys(),
          `stats.counters.dd.containerStats.${c.name}.count`,
          burner,
        );
        const w = await carbon.fetch(series);
        assert.equal(sum(w.map(([, v]) => v)), sum(column(c.name)), `tagged counter ${c.name}`);
      }

      // Lifecycle rows: one counter per event, summing to the rows of each name and event.
      const events = await qdb.exec(
        `SELECT name, event, count() FROM containerEvents WHERE host = '${host}' ORDER BY name, event`,
      );
      assert.ok(events.dataset.some(([n, e]) => n === `${prefix}exit3` && e === "die"));
      for (const [name, event, n] of events.dataset as [string, string, number][]) {
        const w = await carbon.fetch(
          `stats.counters.container_statsd.${host}.${name}.${event}.count`,
        );
        assert.equal(sum(w.map(([, v]) => v)), n, `${name} ${event}`);
        const { series } = tagged(
          carbon.series().keys(),
          `stats.counters.dd.containerEvents.${event}.count`,
          { host, event },
        );
        const t = await carbon.fetch(series);
        assert.equal(sum(t.map(([, v]) => v)), n, `tagged ${name} ${event}`);
      }
    } finally {
      await removeContainers(prefix);
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
      for (const s of servers) await s.dispose();
    }
  },
});
