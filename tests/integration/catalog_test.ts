/**
 * The container catalog end to end (issue 10): the daemon's own process (main.ts with the start
 * task's permissions) against the real Docker engine and a private real QuestDB.
 *
 * One run, 5 s intervals, every container named `ct-<run>-*`. The daemon follows only
 * containers labelled `ct.test=<run>` (`--include-label`), so containers of other tests on this
 * engine stay out, and `--exclude` leaves out one that has the label:
 * - compose-labelled containers give stats rows with the right compose_project/compose_service;
 * - `exit 3` gives a `die` row with exit_code=3; `--memory 16m` writing 64 MiB into /dev/shm
 *   gives an `oom` row;
 * - a renamed container's rows carry the new name after the rename;
 * - the excluded and the unlabelled container give no stats row and no event row;
 * - the engine events stream is cut mid-run (the daemon reaches the engine through a stand-in
 *   proxy, tests/helpers/engine_proxy.ts, that can cut it); containers created while it is down
 *   and after it is back are all in the catalog and in the lifecycle table: the events the
 *   engine reported meanwhile are replayed (`since`), and it lists again.
 */
import assert from "node:assert/strict";
import { ensureBusyboxImage, removeContainers, runContainer, sh } from "../helpers/docker.ts";
import { READY_LINE, startDaemon, testServerArgs } from "../helpers/daemon.ts";
import { requires } from "../helpers/requires.ts";
import { startEngineProxy } from "../helpers/engine_proxy.ts";
import { type ExecResult, startQuestDB } from "../helpers/questdb.ts";

const RUN = crypto.randomUUID().slice(0, 6);
const P = `ct-${RUN}-`;
const TAG = ["--label", `ct.test=${RUN}`];
const compose = (service: string) => [
  "--label",
  "com.docker.compose.project=shop",
  "--label",
  `com.docker.compose.service=${service}`,
];

/** Rows of a result as objects keyed by column name. */
function objects(r: ExecResult): Record<string, unknown>[] {
  return r.dataset.map((row) => Object.fromEntries(r.columns.map((c, i) => [c.name, row[i]])));
}

Deno.test({
  name: "catalog end to end: labels, lifecycle rows, rename, filters, events stream cut",
  ignore: await requires("docker", "questdb"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spoolDir = await Deno.makeTempDir({ prefix: "ct-spool-" });
    const proxy = await startEngineProxy();
    try {
      await runContainer(`${P}web`, [...TAG, ...compose("web")], "sleep 600");
      await runContainer(`${P}db`, [...TAG, ...compose("db")], "sleep 600");
      await runContainer(`${P}skip`, [...TAG, ...compose("web")], "sleep 600");
      await runContainer(`${P}outsider`, compose("web"), "sleep 600");
      const daemon = startDaemon([
        "--node",
        "ct-host",
        "--interval",
        "5s",
        ...testServerArgs(qdb.httpPort, spoolDir),
        "--exclude",
        `${P}skip`,
        "--include-label",
        `ct.test=${RUN}`,
      ], { DOCKER_HOST: proxy.dockerHost });
      let stopped = false;
      try {
        await daemon.waitForLog(READY_LINE, 30_000);
        await runContainer(`${P}exit3`, TAG, "sleep 1; exit 3");
        await runContainer(
          `${P}oom`,
          [...TAG, "--memory", "16m"],
          "dd if=/dev/zero of=/dev/shm/f bs=1M count=64",
        );
        // a row under the first name, then the rename
        await qdb.waitFor(
          `SELECT count() FROM containerStats WHERE name = '${P}web'`,
          (r) => Number(r.dataset[0]?.[0]) > 0,
          30_000,
        );
        await sh("docker", ["rename", `${P}web`, `${P}web2`]);
        const renamedAtMs = Date.now();

        // Cut the events stream; while it is down (backoff) containers come and go.
        const before = proxy.eventStreams;
        proxy.cutEvents();
        await runContainer(`${P}gap`, TAG, "sleep 1; exit 5");
        await runContainer(`${P}gaplive`, [...TAG, ...compose("cache")], "sleep 600");
        const deadline = Date.now() + 20_000;
        while (proxy.eventStreams === before) {
          if (Date.now() > deadline) throw new Error("the events stream was not reconnected");
          await new Promise((r) => setTimeout(r, 200));
        }
        await runContainer(`${P}late`, TAG, "exit 4");

        const dies = await qdb.waitFor(
          `SELECT name, exit_code FROM containerEvents WHERE event = 'die' AND name IN ` +
            `('${P}gap', '${P}late', '${P}exit3', '${P}oom')`,
          (r) => r.dataset.length >= 4,
          30_000,
        );
        assert.equal(dies.dataset.length, 4, JSON.stringify(dies.dataset));
        await qdb.waitFor(
          `SELECT count() FROM containerStats WHERE name = '${P}web2' AND ` +
            `timestamp > ${renamedAtMs * 1000 + 5_000_000} AND compose_service = 'web'`,
          (r) => Number(r.dataset[0]?.[0]) > 0,
          30_000,
        );
        await qdb.waitFor(
          `SELECT count() FROM containerStats WHERE name = '${P}gaplive' AND ` +
            `compose_service = 'cache'`,
          (r) => Number(r.dataset[0]?.[0]) > 0,
          30_000,
        );
        const { code } = await daemon.stop("SIGTERM");
        stopped = true;
        assert.equal(code, 0, daemon.lines.slice(-20).join("\n"));
      } finally {
        if (!stopped) await daemon.stop("SIGTERM");
        if (Deno.env.get("CT_SHOW_LOG")) console.log(daemon.lines.join("\n"));
      }
      const logs = daemon.lines.join("\n");

      const events = objects(
        await qdb.exec(
          "SELECT timestamp, name, event, exit_code, signal, health, restart_count, " +
            "compose_project, compose_service FROM containerEvents WHERE host = 'ct-host' " +
            "ORDER BY timestamp",
        ),
      );
      console.log("containerEvents rows QuestDB returned:");
      for (const e of events) {
        const extra = ["exit_code", "signal", "restart_count", "compose_project", "compose_service"]
          .filter((k) => e[k] !== null).map((k) => `${k}=${e[k]}`).join(" ");
        console.log(`  ${e.timestamp} ${String(e.event).padEnd(8)} ${e.name} ${extra}`);
      }
      const stats = objects(
        await qdb.exec(
          "SELECT timestamp, name, compose_project, compose_service FROM containerStats " +
            "WHERE host = 'ct-host' ORDER BY timestamp",
        ),
      );
      const of = (name: string, event: string) =>
        events.filter((e) => e.name === `${P}${name}` && e.event === event);

      await t.step("compose labels become symbols on stats rows", () => {
        for (const [name, service] of [["db", "db"], ["web", "web"], ["gaplive", "cache"]]) {
          const rows = stats.filter((r) => r.name === `${P}${name}`);
          assert.ok(rows.length > 0, name);
          for (const r of rows) {
            assert.equal(r.compose_project, "shop", name);
            assert.equal(r.compose_service, service, name);
          }
        }
        const exit3 = stats.filter((r) => r.name === `${P}exit3`);
        for (const r of exit3) assert.equal(r.compose_project, null, "no label, no value");
      });

      await t.step("exit 3 gives die with exit_code=3; the memory hog gives oom", () => {
        assert.deepEqual(of("exit3", "die").map((e) => e.exit_code), [3]);
        assert.equal(of("oom", "oom").length, 1);
        assert.deepEqual(of("oom", "die").map((e) => e.exit_code), [137]);
        for (const name of ["exit3", "oom"]) {
          assert.equal(of(name, "create").length, 1, name);
          assert.equal(of(name, "start").length, 1, name);
        }
      });

      await t.step("a renamed container carries its new name after the rename", () => {
        assert.equal(of("web2", "rename").length, 1);
        const renameTs = Date.parse(String(of("web2", "rename")[0]!.timestamp));
        const web = stats.filter((r) => String(r.name).startsWith(`${P}web`));
        for (const r of web) {
          const ts = Date.parse(String(r.timestamp));
          // rows of intervals that ended after the rename's interval have the new name
          if (ts >= renameTs + 5000) assert.equal(r.name, `${P}web2`, String(r.timestamp));
          if (ts < renameTs) assert.equal(r.name, `${P}web`, String(r.timestamp));
        }
        assert.ok(web.some((r) => r.name === `${P}web`));
        assert.ok(web.some((r) => r.name === `${P}web2`));
      });

      await t.step("--exclude and --include-label keep exactly the right containers out", () => {
        const mine = (r: Record<string, unknown>) => String(r.name).startsWith(P);
        assert.ok(stats.every(mine), "only ct.test-labelled containers of this run");
        assert.ok(events.every(mine));
        const names = new Set([...stats, ...events].map((r) => String(r.name).slice(P.length)));
        assert.ok(!names.has("skip") && !names.has("outsider"), [...names].join(","));
        for (const n of ["web", "web2", "db", "exit3", "oom", "gap", "gaplive", "late"]) {
          assert.ok(names.has(n), n);
        }
      });

      await t.step(
        "events stream cut: relisted, and no event reported meanwhile is missing",
        () => {
          assert.equal((logs.match(/Following engine events/g) ?? []).length, 2, "one restart");
          assert.ok((logs.match(/Listed \d+ containers/g) ?? []).length >= 2, "relisted");
          assert.deepEqual(of("gap", "create").length, 1);
          assert.deepEqual(of("gap", "start").length, 1);
          assert.deepEqual(of("gap", "die").map((e) => e.exit_code), [5]);
          assert.deepEqual(of("gaplive", "start").length, 1);
          assert.deepEqual(of("late", "die").map((e) => e.exit_code), [4]);
          // no row twice (a replay repeats the last event read; DEDUP and the catalog agree)
          const keys = events.map((e) => `${e.timestamp}/${e.name}/${e.event}`);
          assert.equal(new Set(keys).size, keys.length);
        },
      );

      await t.step(
        "the example SQL of docs/catalog.md finds the dead and the OOM-killed",
        async () => {
          const recent = objects(
            await qdb.exec(
              "SELECT timestamp, host, name, event, exit_code, compose_project, compose_service " +
                "FROM containerEvents " +
                "WHERE event IN ('die', 'oom') AND timestamp > dateadd('d', -1, now()) " +
                "ORDER BY timestamp DESC",
            ),
          );
          const seen = recent.map((r) =>
            `${String(r.name).slice(P.length)} ${r.event} ${r.exit_code}`
          );
          for (
            const s of ["exit3 die 3", "oom oom null", "oom die 137", "gap die 5", "late die 4"]
          ) {
            assert.ok(seen.includes(s), `${s} in ${seen.join(", ")}`);
          }
          const per = objects(
            await qdb.exec(
              "SELECT host, name, " +
                "sum(CASE WHEN event = 'oom' THEN 1 ELSE 0 END) AS oom_kills, " +
                "sum(CASE WHEN event = 'die' AND exit_code <> 0 THEN 1 ELSE 0 END) AS failed_exits, " +
                "max(timestamp) AS last_event FROM containerEvents " +
                "WHERE event IN ('die', 'oom') AND timestamp > dateadd('d', -1, now()) " +
                "GROUP BY host, name ORDER BY last_event DESC",
            ),
          );
          const oom = per.find((r) => r.name === `${P}oom`)!;
          assert.deepEqual([oom.oom_kills, oom.failed_exits], [1, 1]);
          const exit3 = per.find((r) => r.name === `${P}exit3`)!;
          assert.deepEqual([exit3.oom_kills, exit3.failed_exits], [0, 1]);
        },
      );

      await t.step(
        "the lifecycle table: WAL, DEDUP UPSERT KEYS(timestamp, host, container, event)",
        async () => {
          const keys = await qdb.exec(
            "SELECT \"column\" FROM table_columns('containerEvents') WHERE upsertKey ORDER BY 1",
          );
          assert.deepEqual(keys.dataset.map((r) => r[0]), [
            "container",
            "event",
            "host",
            "timestamp",
          ]);
          const cols = await qdb.exec("SHOW COLUMNS FROM containerEvents");
          const types = Object.fromEntries(cols.dataset.map((r) => [r[0], r[1]]));
          assert.equal(types.exit_code, "LONG");
          assert.equal(types.event, "SYMBOL");
          assert.equal(types.compose_project, "SYMBOL");
        },
      );
    } finally {
      await removeContainers(P);
      await proxy.close();
      await qdb.dispose();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});
