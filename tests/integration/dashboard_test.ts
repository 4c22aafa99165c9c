/**
 * Every query of the committed Grafana dashboard (grafana/dashboards/container-statsd.json)
 * runs on a real QuestDB over the PostgreSQL wire, as the QuestDB plugin sends it: template
 * variables and macros expanded as the plugin expands them (grafana/macros.ts). The rows are
 * the daemon's own: main.ts with the start task's permissions, `--interval 1s --disks /
 * --source cgroup` (so the rows carry the cgroup figures of issue 18), against busybox
 * containers on the real engine (a CPU burner, one at `--cpus 0.2`, a memory holder, a
 * container the OOM killer stops, one whose child it kills, one that exits 3). A query error
 * fails the test, and so does a query that returns no rows where rows exist.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { DASHBOARD_PATH, dashboardQueries, Format, VARIABLE_SQL } from "../../grafana/dashboard.ts";
import { expandQuery, type QueryRange, type VariableValues } from "../../grafana/macros.ts";
import { DEFAULT_LABELS } from "../../src/catalog/labels.ts";
import { EVENT_TABLE } from "../../src/schema/events.ts";
import { startDaemon, testServerArgs } from "../helpers/daemon.ts";
import {
  ensureBusyboxImage,
  mountCgroupRoot,
  removeContainers,
  runContainer,
  unmountHostRoot,
} from "../helpers/docker.ts";
import { requires } from "../helpers/requires.ts";
import { startQuestDB } from "../helpers/questdb.ts";

const MiB = 1024 * 1024;

/** Compose labels for a test container. */
function compose(project: string, service: string): string[] {
  return [
    "--label",
    `com.docker.compose.project=${project}`,
    "--label",
    `com.docker.compose.service=${service}`,
  ];
}

Deno.test({
  name: "dashboard: every query runs on QuestDB (PostgreSQL wire) over rows the daemon wrote",
  ignore: await requires("docker", "questdb", "root"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const tag = crypto.randomUUID().slice(0, 8);
    const prefix = `gf-${tag}-`;
    const project = `gf${tag}`;
    const host = `gf-host-${tag}`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB({ pg: true });
    const spoolDir = await Deno.makeTempDir({ prefix: "gf-spool-" });
    const hostRoot = await mountCgroupRoot();
    const sql = postgres({
      host: "127.0.0.1",
      port: qdb.pgPort,
      user: "admin",
      password: "quest",
      database: "qdb",
      fetch_types: false,
      prepare: false,
      max: 1,
    });
    try {
      const startMs = Date.now();
      await runContainer(`${prefix}burner`, compose(project, "burner"), "yes > /dev/null");
      await runContainer(
        `${prefix}mem`,
        [...compose(project, "mem"), "--shm-size", "256m"],
        "dd if=/dev/zero of=/dev/shm/f bs=1M count=64 2>/dev/null; sleep 600",
      );
      const daemon = startDaemon([
        "--node",
        host,
        "--interval",
        "1s",
        ...testServerArgs(qdb.httpPort, spoolDir),
        "--disks",
        "/",
        "--host-root",
        hostRoot,
        "--source",
        "cgroup",
      ]);
      await daemon.waitForLog(/; ready/, 30_000);
      await runContainer(
        `${prefix}limited`,
        [...compose(project, "limited"), "--cpus", "0.2"],
        "yes > /dev/null & yes > /dev/null",
      );
      // facts.md: a child filling a 100 MB variable is OOM-killed at 32m; PID 1 lives on.
      await runContainer(
        `${prefix}oomchild`,
        [...compose(project, "oomchild"), "--memory", "32m"],
        "sleep 2; (x=$(yes | head -c 100000000)); sleep 600",
      );
      // Lifecycle: killed for memory (oom, die 137), and an exit with status 3 (die).
      await runContainer(
        `${prefix}oom`,
        [...compose(project, "oom"), "--memory", "16m", "--memory-swap", "16m"],
        // sh execs its last command: dd is PID 1, so the OOM kill ends the container.
        "dd if=/dev/zero of=/dev/shm/f bs=1M count=64",
      );
      await runContainer(`${prefix}exit3`, compose(project, "exit3"), "sleep 2; exit 3");
      await qdb.waitFor(
        `SELECT count(DISTINCT timestamp) FROM containerStats WHERE host = '${host}'`,
        (r) => Number(r.dataset[0]?.[0]) >= 8,
        30_000,
      );
      await qdb.waitFor(
        `SELECT sum(oom_kills_delta) FROM containerStats WHERE name = '${prefix}oomchild'`,
        (r) => Number(r.dataset[0]?.[0]) >= 1,
        30_000,
      );
      const { code } = await daemon.stop("SIGTERM");
      assert.equal(code, 0, daemon.lines.slice(-20).join("\n"));
      const toMs = Date.now() + 1000;

      const tables = await qdb.exec("SELECT table_name FROM tables()");
      const events = tables.dataset.some((r) => r[0] === EVENT_TABLE.defaultName);
      const cols = await qdb.exec("SELECT \"column\" FROM table_columns('containerStats')");
      const labelColumns = DEFAULT_LABELS.map((l) => l.column);
      const composeColumns = labelColumns.every((c) => cols.dataset.some((r) => r[0] === c));
      assert.ok(events, "the daemon wrote no containerEvents table");
      assert.ok(composeColumns, "containerStats has no compose label columns");
      {
        // Wait for the very rows the lifecycle step reads: the OOM kill's oom and die, and the
        // exit-3 die (other containers' die rows must not satisfy the wait).
        await qdb.waitFor(
          `SELECT count() FROM ${EVENT_TABLE.defaultName} WHERE host = '${host}' AND ` +
            `((name = '${prefix}oom' AND event IN ('oom', 'die')) OR ` +
            `(name = '${prefix}exit3' AND event = 'die'))`,
          (r) => Number(r.dataset[0]?.[0]) >= 3,
          30_000,
        );
      }

      const model = JSON.parse(await Deno.readTextFile(DASHBOARD_PATH));
      const queries = dashboardQueries(model);
      const run = async (text: string): Promise<postgres.RowList<postgres.Row[]>> => {
        try {
          return await sql.unsafe(text);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n${text}`);
        }
      };
      const range = (intervalMs: number): QueryRange => ({
        fromMs: startMs - 60_000,
        toMs,
        intervalMs,
      });

      // The variables, as Grafana queries them (with All selected for the multi-value ones).
      const all: VariableValues = {
        host,
        project: { all: [] },
        service: { all: [] },
        name: { all: [] },
      };
      const interval = await run(expandQuery(VARIABLE_SQL.collector_interval, all, range(1000)));
      const collector = String(Object.values(interval[0] ?? {})[0]);
      await t.step("collector_interval finds the daemon's --interval", () => {
        assert.equal(collector, "1s");
      });
      const hosts = await run(expandQuery(VARIABLE_SQL.host, all, range(1000)));
      await t.step("host lists the daemon's --node", () => {
        assert.ok(hosts.some((r) => r.host === host), JSON.stringify(hosts));
      });
      const names = (await run(expandQuery(VARIABLE_SQL.name, all, range(1000))))
        .map((r) => String(r.name));
      await t.step("name lists the test's containers", () => {
        for (const n of ["burner", "mem"]) assert.ok(names.includes(`${prefix}${n}`), n);
      });
      await t.step({
        name: "project and service list the compose labels",
        async fn() {
          const projects = await run(expandQuery(VARIABLE_SQL.project, all, range(1000)));
          assert.ok(projects.some((r) => Object.values(r).includes(project)));
          const services = await run(
            expandQuery(VARIABLE_SQL.service, { ...all, project: [project] }, range(1000)),
          );
          const got = services.map((r) => String(Object.values(r)[0])).sort();
          assert.ok(["burner", "mem"].every((s) => got.includes(s)), got.join());
        },
      });

      const ours = ["burner", "limited", "mem", "oom", "oomchild", "exit3"];
      const variants: { name: string; vars: VariableValues; compose: boolean }[] = [
        { name: "All selected", vars: { ...all, name: { all: names } }, compose: false },
        {
          name: "the test's project, services and containers selected",
          vars: {
            host,
            project: [project],
            service: ours,
            name: ours.map((n) => `${prefix}${n}`),
          },
          compose: true,
        },
      ];
      const results = new Map<string, postgres.Row[]>();
      for (const variant of variants) {
        await t.step({
          name: `${variant.name}: every query runs and returns rows`,
          async fn(t2) {
            for (const q of queries) {
              await t2.step({
                name: q.where,
                async fn() {
                  for (const intervalMs of [1000, 10_000]) {
                    const vars = { ...variant.vars, collector_interval: collector };
                    const text = expandQuery(q.rawSql, vars, range(intervalMs));
                    assert.doesNotMatch(text, /\$/, text);
                    const rows = await run(text);
                    assert.ok(rows.length > 0, `no rows from ${q.where}:\n${text}`);
                    if (q.format === Format.TimeSeries) {
                      assert.equal(rows.columns[0]?.name, "time", q.where);
                      assert.ok(rows[0]!.time instanceof Date, q.where);
                    }
                    results.set(`${variant.compose}|${q.where}|${intervalMs}`, rows);
                  }
                },
              });
            }
          },
        });
      }

      const rowsOf = (where: string, intervalMs = 1000, selected = false) => {
        const key = [...results.keys()].find((k) =>
          k.startsWith(`${selected}|`) && k.includes(where) && k.endsWith(`|${intervalMs}`)
        );
        assert.ok(key, `no result for ${where}`);
        return results.get(key)!;
      };

      await t.step("the panels show what the containers did", () => {
        const cpu = rowsOf("CPU % per container (max").filter((r) => r.name === `${prefix}burner`);
        assert.ok(Math.max(...cpu.map((r) => Number(r.cpu))) > 40, "the burner spikes");
        const mem = rowsOf("Memory used against").filter((r) => r.name === `${prefix}mem`);
        assert.ok(Math.max(...mem.map((r) => Number(r.used))) > 60 * MiB, "64 MiB in /dev/shm");
        assert.ok(mem.every((r) => Number(r.memory_limit) > Number(r.used)));
        const top = rowsOf("Top 10 containers by memory").map((r) => String(r.name));
        assert.ok(top.length <= 10 && top.includes(`${prefix}mem`), top.join());
        const rowsPerInterval = rowsOf("Rows delivered per interval");
        assert.ok(rowsPerInterval.some((r) => Number(r.container_rows) >= 2));
      });

      await t.step(
        "the cgroup panels: the limit, the OOM kill, anon and file, no v1 pressure",
        () => {
          const limited = rowsOf("CPU used against the limit").filter((r) =>
            r.name === `${prefix}limited`
          );
          assert.ok(limited.length > 0 && limited.every((r) => Number(r.cpu_limit) === 0.2));
          assert.ok(
            rowsOf("CPU used against the limit").every((r) => r.cpu_limit !== null),
            "containers with a limit only",
          );
          const throttling = rowsOf("CPU throttling").filter((r) => r.name === `${prefix}limited`);
          assert.ok(throttling.length > 0 && throttling.every((r) => r.throttled_periods !== null));
          const kills = rowsOf("OOM kills and limit hits")
            .filter((r) => r.name === `${prefix}oomchild`);
          assert.equal(kills.reduce((s, r) => s + Number(r.oom_kills), 0), 1, "one OOM kill");
          assert.ok(kills.some((r) => Number(r.limit_hits) > 0), "the limit was hit");
          const notes = rowsOf("annotation OOM kills", 1000).map((r) => String(r.text));
          assert.deepEqual(notes, [`${prefix}oomchild 1 process(es) OOM-killed`]);
          const mem = rowsOf("Memory: anonymous and file").filter((r) => r.name === `${prefix}mem`);
          assert.ok(Math.max(...mem.map((r) => Number(r.file))) > 60 * MiB, "/dev/shm is file");
          assert.ok(mem.every((r) => Number(r.memory_limit) > Number(r.anon)));
          const pressure = rowsOf("Pressure");
          assert.ok(pressure.length > 0, "a row per container and bucket");
          assert.ok(
            pressure.every((r) => r.cpu_some === null && r.io_full === null),
            "cgroup v1 has no pressure files",
          );
        },
      );

      await t.step("bytes per second times the bucket gives back the deltas", async () => {
        for (const intervalMs of [1000, 10_000]) {
          const panel = rowsOf("Disk I/O", intervalMs);
          const fromPanel = panel.reduce((s, r) => s + Number(r.written), 0) * intervalMs / 1000;
          const raw = await run(expandQuery(
            "SELECT sum(write_bytes_delta) AS b FROM diskStats " +
              "WHERE $__timeFilter(timestamp) AND host = '$host'",
            all,
            range(intervalMs),
          ));
          const want = Number(raw[0]?.b);
          console.log(`  disk writes at ${intervalMs} ms buckets: ${fromPanel} B from the panel`);
          assert.ok(Math.abs(fromPanel - want) <= 1e-6 * Math.max(want, 1), `${fromPanel} ${want}`);
        }
      });

      await t.step({
        name: "the lifecycle panels show the OOM kill and the exit 3",
        fn() {
          const rows = rowsOf("Lifecycle events", 1000, composeColumns);
          const oom = rows.filter((r) => r.name === `${prefix}oom`).map((r) => r.event);
          assert.ok(oom.includes("oom") && oom.includes("die"), JSON.stringify(rows));
          const exit3 = rows.find((r) => r.name === `${prefix}exit3` && r.event === "die");
          assert.equal(Number(exit3?.exit_code), 3);
          const notes = rowsOf("annotation", 1000, composeColumns).map((r) => String(r.text));
          assert.ok(notes.includes(`${prefix}exit3 die exit 3`), notes.join("\n"));
          assert.ok(notes.includes(`${prefix}oom oom`), notes.join("\n"));
        },
      });
    } finally {
      await sql.end();
      await removeContainers(prefix);
      await unmountHostRoot(hostRoot);
      await qdb.dispose();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});
