/**
 * The `--influxdb` sinks end to end on real components: the daemon's own process (main.ts with
 * the start task's permissions) following a real Docker engine, writing to a real InfluxDB 1.x
 * and real VictoriaMetrics servers (tests/helpers/influx.ts, victoria.ts), and, with
 * `--questdb` as well, to a real QuestDB that is stopped for two intervals.
 *
 * Between the daemon and a server sits a small pass-through proxy (`WriteProxy`): it times
 * every write, and can forward one write yet answer 503, a network failure after the server
 * committed, which a real server cannot be made to do on demand. The daemon then resends.
 */
import assert from "node:assert/strict";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { READY_LINE, startDaemon } from "../helpers/daemon.ts";
import { ensureBusyboxImage, removeContainers, runContainer } from "../helpers/docker.ts";
import { startInfluxDB } from "../helpers/influx.ts";
import { dockerSourceColumns, until } from "../helpers/ilp.ts";
import { startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";
import { startVictoriaMetrics } from "../helpers/victoria.ts";

/** One write that reached the proxy. */
interface Write {
  /** Arrival, epoch ms (wall clock). */
  at: number;
  body: string;
  /** What the daemon was answered. */
  status: number;
}

/** A pass-through proxy in front of one server's write endpoint (see the module doc). */
class WriteProxy {
  readonly writes: Write[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  /**
   * @param upstream the server's origin.
   * @param loseAnswer whether to answer 503 to the second write holding container rows (once
   *   the server took it with 204).
   */
  constructor(upstream: string, loseAnswer = false) {
    let statsWrites = 0;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const url = new URL(req.url);
      const body = await req.text();
      const res = await fetch(upstream + url.pathname + url.search, {
        method: req.method,
        headers: req.headers,
        body,
      });
      const text = await res.text();
      const stats = containerPoints(body).length > 0 && ++statsWrites === 2;
      const status = loseAnswer && stats && res.status === 204 ? 503 : res.status;
      this.writes.push({ at: Date.now(), body, status });
      return new Response(status === 204 ? null : text || "lost", { status });
    });
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** How many writes holding container rows the server took (204). */
  get statsWrites(): number {
    return this.writes.filter((w) => w.status === 204 && containerPoints(w.body).length > 0)
      .length;
  }

  /** The write that was forwarded twice: the one answered 503, and its resend. */
  get lostAnswer(): Write | undefined {
    return this.writes.find((w) => w.status === 503);
  }

  close(): Promise<void> {
    return this.#server.shutdown();
  }
}

/** A parsed `containerStats` line: tags and designated timestamp (ms). */
interface Point {
  host: string;
  container: string;
  name: string;
  ms: number;
}

/** The `containerStats` points of ILP text (tag values here have no escaped characters). */
function containerPoints(ilp: string): Point[] {
  return ilp.split("\n").filter((l) => l.startsWith("containerStats,")).map((line) => {
    const [series, , ts] = line.split(/(?<!\\) /);
    const tags = Object.fromEntries(series!.split(",").slice(1).map((kv) => kv.split("=")));
    return {
      host: tags.host,
      container: tags.container,
      name: tags.name,
      ms: Number(BigInt(ts!) / 1_000_000n),
    };
  });
}

/** What a test runs the daemon with. */
interface DaemonRun {
  /** Names the test's containers (`il-<tag>-<random>-`). */
  tag: string;
  /** `--node`. */
  node: string;
  /** `--interval`. */
  interval: string;
  /** The sink flags (`--influxdb ...`, `--questdb ...`). */
  sinks: string[];
  /** Extra environment of the daemon. */
  env?: Record<string, string>;
  /** Containers started first: name suffix to `sh -c` command (a 0.2-CPU `yes` burner if absent). */
  containers?: Record<string, string>;
}

/** What {@link runDaemon} leaves for the checks. */
interface DaemonRunResult {
  /** The containers' name prefix. */
  prefix: string;
  /** Name suffix to full container ID. */
  ids: Record<string, string>;
  /** The daemon's log lines. */
  lines: string[];
  /** Spool files left in its spool directory after it stopped. */
  spools: string[];
}

/**
 * Runs the daemon's own process on the real engine, on the test's own containers and spool
 * directory: starts the containers, then the daemon, waits for it to be ready, runs `during`,
 * stops it with SIGTERM and checks it exited 0. Containers and spool directory are removed.
 */
async function runDaemon(
  o: DaemonRun,
  during: (prefix: string) => Promise<void>,
): Promise<DaemonRunResult> {
  const prefix = `il-${o.tag}-${crypto.randomUUID().slice(0, 6)}-`;
  await ensureBusyboxImage();
  const spoolDir = await Deno.makeTempDir({ prefix: "statsd-il-spool-" });
  try {
    const ids: Record<string, string> = {};
    for (const [name, command] of Object.entries(o.containers ?? { burner: "yes > /dev/null" })) {
      ids[name] = await runContainer(`${prefix}${name}`, ["--cpus", "0.2"], command);
    }
    const daemon = startDaemon([
      ...["--node", o.node, "--interval", o.interval, "--watchdog", "disabled"],
      ...["--spool-dir", spoolDir, ...o.sinks],
    ], o.env);
    try {
      await daemon.waitForLog(READY_LINE, 30_000);
      await during(prefix);
    } finally {
      const { code } = await daemon.stop("SIGTERM");
      assert.equal(code, 0, daemon.lines.slice(-30).join("\n"));
    }
    const spools = [...Deno.readDirSync(spoolDir)].map((e) => e.name);
    return { prefix, ids, lines: daemon.lines, spools };
  } finally {
    await removeContainers(prefix);
    await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}

/** Field type InfluxDB reports for each column type (symbols are tags). */
const INFLUX_TYPE = { VARCHAR: "string", DOUBLE: "float", LONG: "integer" } as const;

Deno.test({
  name: "influxdb 1.x: tags, field types and timestamps; a resend does not double a point",
  ignore: await requires("docker", "influxdb"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const influx = await startInfluxDB();
    const proxy = new WriteProxy(influx.url, true);
    try {
      await influx.query("CREATE DATABASE statsd");
      const { prefix, ids, lines } = await runDaemon(
        {
          tag: "ifx",
          node: "il-host",
          interval: "2s",
          sinks: ["--influxdb", `${proxy.url}/?db=statsd`],
        },
        () => until(() => proxy.statsWrites >= 4, "4 writes of container rows", 60_000),
      );
      const id = ids["burner"]!;
      const logs = lines.join("\n");
      assert.match(
        logs,
        /Starting container-statsd: .*questdb=none influxdb=influxdb@127\.0\.0\.1:\d+\/statsd/,
      );
      assert.match(
        logs,
        /Publish of \d+ rows to http:\/\/127\.0\.0\.1:\d+\/write\?db=statsd&precision=ns failed .*HTTP 503/,
      );

      // Tags and field types, as the table declaration says.
      // Symbols are tags (label columns such as compose_project may add more).
      const tags = new Set((await influx.rows("SHOW TAG KEYS FROM containerStats", "statsd"))
        .values.flat());
      for (const c of CONTAINER_TABLE.columns.filter((c) => c.type === "SYMBOL")) {
        assert.ok(tags.has(c.name), `tag ${c.name} in ${[...tags]}`);
      }
      const fields = await influx.rows("SHOW FIELD KEYS FROM containerStats", "statsd");
      const expected = dockerSourceColumns().filter((c) => c.type !== "SYMBOL")
        .map((c) => [c.name, INFLUX_TYPE[c.type as keyof typeof INFLUX_TYPE]]);
      assert.deepEqual(
        fields.values.sort(),
        expected.sort(),
        "VARCHAR id is a string, LONG keeps integer, DOUBLE is float",
      );

      // The burner's points: tags, the full ID as a string field, aligned timestamps.
      const burner = await influx.rows(
        `SELECT "id", "cpu", "pids", "samples" FROM containerStats ` +
          `WHERE "name" = '${prefix}burner' AND "host" = 'il-host'`,
        "statsd",
      );
      assert.ok(burner.values.length >= 3, JSON.stringify(burner));
      for (const [time, fullId, cpu, pids, samples] of burner.values) {
        assert.equal(Date.parse(time as string) % 2000, 0, `interval end ${time}`);
        assert.equal(fullId, id);
        // null: the burner's first read has no CPU window (the column is left out)
        assert.ok(cpu === null || typeof cpu === "number", `cpu ${cpu}`);
        assert.ok(Number.isInteger(pids) && Number.isInteger(samples));
      }
      assert.ok(burner.values.some((v) => typeof v[2] === "number"), "a CPU in later points");
      const container = await influx.rows(
        `SHOW TAG VALUES FROM containerStats WITH KEY = "container" WHERE "name" = '${prefix}burner'`,
        "statsd",
      );
      assert.deepEqual(container.values, [["container", id.slice(0, 12)]]);

      // The write whose answer was lost went to InfluxDB twice (both 204 upstream); every
      // point is stored once: InfluxDB holds exactly the distinct points the daemon sent.
      const lost = proxy.lostAnswer;
      assert.ok(lost !== undefined, "no write was answered 503");
      const resent = containerPoints(lost.body);
      assert.ok(resent.length > 0);
      const after = proxy.writes.slice(proxy.writes.indexOf(lost) + 1).map((w) => w.body).join("");
      const again = new Set(containerPoints(after).map((p) => `${p.container}@${p.ms}`));
      assert.ok(resent.every((p) => again.has(`${p.container}@${p.ms}`)), "resent");
      const sent = new Set(
        proxy.writes.flatMap((w) => containerPoints(w.body))
          .filter((p) => p.host === "il-host").map((p) => `${p.container}@${p.ms}`),
      );
      const stored = await influx.rows(
        `SELECT "container", "samples" FROM containerStats WHERE "host" = 'il-host'`,
        "statsd",
      );
      const storedKeys = stored.values.map(([t, c]) => `${c}@${Date.parse(t as string)}`);
      assert.equal(storedKeys.length, sent.size, "one point per container and interval");
      assert.deepEqual(new Set(storedKeys), sent);
    } finally {
      await proxy.close();
      await influx.dispose();
    }
  },
});

Deno.test({
  name: "victoriametrics: a series per field, no string field, ms timestamps; " +
    "duplicates kept unless -dedup.minScrapeInterval",
  ignore: await requires("docker", "victoria-metrics"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const plain = await startVictoriaMetrics();
    const dedup = await startVictoriaMetrics(["-dedup.minScrapeInterval=1ms"]);
    // Each server gets its second write of container rows twice (the first answer lost, then the resend).
    const proxies = [new WriteProxy(plain.url, true), new WriteProxy(dedup.url, true)];
    try {
      const { prefix, ids, spools } = await runDaemon(
        {
          tag: "vm",
          node: "il-vm",
          interval: "2s",
          sinks: proxies.flatMap((p) => ["--influxdb", `${p.url}/`]),
        },
        () => until(() => proxies.every((p) => p.statsWrites >= 5), "5 writes to each", 60_000),
      );
      const id = ids["burner"]!;
      assert.equal(spools.length, 0, `delivered, so no spool left: ${spools}`);

      for (const p of proxies) {
        assert.ok(!p.writes.some((w) => /\bid="/.test(w.body)), "no string field is sent");
      }
      const selector = `{__name__=~"containerStats_.*",name="${prefix}burner"}`;
      const lostMs = containerPoints(proxies[0]!.lostAnswer!.body)[0]!.ms;
      const [fromPlain, fromDedup] = await Promise.all([plain, dedup].map(async (vm) => {
        let series: Awaited<ReturnType<typeof vm.exportSeries>> = [];
        await until(
          async () => {
            series = await vm.exportSeries(selector);
            return series.length > 0 &&
              series.every((s) => new Set(s.timestamps).size >= 3 && s.timestamps.includes(lostMs));
          },
          "VictoriaMetrics shows the samples",
          30_000,
          500,
        );
        return series;
      }));

      const names = fromPlain!.map((s) => s.metric["__name__"]).sort();
      const numeric = dockerSourceColumns().filter((c) => c.type === "DOUBLE" || c.type === "LONG");
      assert.deepEqual(names, numeric.map((c) => `containerStats_${c.name}`).sort());
      for (const s of fromPlain!) {
        assert.deepEqual(
          { ...s.metric, __name__: undefined },
          {
            __name__: undefined,
            host: "il-vm",
            container: id.slice(0, 12),
            name: `${prefix}burner`,
          },
        );
        assert.ok(s.timestamps.every((t) => t % 2000 === 0), `ms interval ends: ${s.timestamps}`);
      }
      const cpuAt = (series: typeof fromPlain, ms: number) =>
        series!.find((s) => s.metric["__name__"] === "containerStats_cpu")!.timestamps
          .filter((t) => t === ms).length;
      assert.equal(cpuAt(fromPlain, lostMs), 2, "the resent sample is stored twice");
      assert.equal(cpuAt(fromDedup, lostMs), 1, "-dedup.minScrapeInterval keeps one");
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all([plain.dispose(), dedup.dispose()]);
    }
  },
});

Deno.test({
  name: "both sinks: QuestDB down for two intervals; InfluxDB gets every interval on time, " +
    "QuestDB the backlog later, neither a duplicate",
  ignore: await requires("docker", "influxdb", "questdb"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const INTERVAL_MS = 5000;
    const [qdb, influx] = await Promise.all([startQuestDB(), startInfluxDB()]);
    const proxy = new WriteProxy(influx.url);
    /** Interval ends (ms) of the container rows InfluxDB received, in arrival order. */
    const intervalsAtInflux = () =>
      proxy.writes.map((w) => ({ at: w.at, ms: containerPoints(w.body)[0]?.ms }))
        .filter((w): w is { at: number; ms: number } => w.ms !== undefined);
    try {
      await influx.query("CREATE DATABASE statsd");
      let downAt = 0;
      let upAt = 0;
      const questdb = `http::addr=127.0.0.1:${qdb.httpPort};`;
      const { lines } = await runDaemon(
        {
          tag: "both",
          node: "il-both",
          interval: "5s",
          sinks: ["--questdb", questdb, "--influxdb", `${proxy.url}/?db=statsd`],
        },
        async () => {
          await until(() => intervalsAtInflux().length >= 2, "two intervals with both up", 60_000);
          await qdb.stop();
          downAt = Date.now();
          await until(
            () => intervalsAtInflux().filter((w) => w.ms > downAt).length >= 2,
            "two intervals while QuestDB is down",
            60_000,
          );
          await qdb.start();
          upAt = Date.now();
          await until(
            () => intervalsAtInflux().some((w) => w.ms > upAt + INTERVAL_MS),
            "two more intervals",
            60_000,
          );
        },
      );
      const logs = lines.join("\n");
      assert.match(logs, /Delivery to http:\/\/127\.0\.0\.1:\d+ recovered/);

      // InfluxDB: every interval, each within 3 s of its end, none missing.
      const got = intervalsAtInflux();
      const ends = got.map((w) => w.ms);
      for (let i = 1; i < ends.length; i++) {
        // The last batch is the partial interval at shutdown: its end is still the next one.
        assert.equal(ends[i]! - ends[i - 1]!, INTERVAL_MS, `interval after ${ends[i - 1]}`);
      }
      for (const w of got.slice(0, -1)) {
        assert.ok(
          w.at - w.ms < 3000,
          `interval ${new Date(w.ms).toISOString()} ${w.at - w.ms} ms late`,
        );
      }
      assert.ok(got.filter((w) => w.ms > downAt && w.ms < upAt).length >= 2);

      // QuestDB: the same points, once each (the backlog arrived after the restart).
      const influxPoints = await influx.rows(
        `SELECT "container", "samples" FROM containerStats WHERE "host" = 'il-both'`,
        "statsd",
      );
      const influxKeys = influxPoints.values.map(([t, c]) => `${c}@${Date.parse(t as string)}`)
        .sort();
      const sql = "SELECT container, timestamp FROM containerStats WHERE host = 'il-both'";
      const rows = await qdb.waitFor(sql, (r) => r.dataset.length >= influxKeys.length, 30_000);
      const questKeys = rows.dataset.map(([c, t]) => `${c}@${Date.parse(t as string)}`).sort();
      assert.deepEqual(questKeys, influxKeys);
      assert.match(logs, /Stopped questdb: \d+ rows delivered, 0 undelivered/);
      assert.match(
        logs,
        /Stopped influxdb@127\.0\.0\.1:\d+\/statsd: \d+ rows delivered, 0 undelivered/,
      );
    } finally {
      await proxy.close();
      await Promise.all([qdb.dispose(), influx.dispose()]);
    }
  },
});

Deno.test({
  name: "influxdb 2.x/3.x form from the daemon: /api/v2/write and INFLUX_TOKEN " +
    "(stand-in: no 2.x or 3.x server is packaged here)",
  ignore: await requires("docker"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seen: { path: string; authorization: string | null; body: string }[] = [];
    const standIn = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const url = new URL(req.url);
      seen.push({
        path: url.pathname + url.search,
        authorization: req.headers.get("authorization"),
        body: await req.text(),
      });
      return new Response(null, { status: 204 });
    });
    const token = "v2-t0ken-s3cret";
    try {
      const { prefix, lines } = await runDaemon(
        {
          tag: "v2",
          node: "il-v2",
          interval: "1s",
          sinks: ["--influxdb", `http://127.0.0.1:${standIn.addr.port}/?org=acme&bucket=stats`],
          env: { INFLUX_TOKEN: token },
          containers: { sleeper: "sleep 600" },
        },
        (prefix) =>
          until(() => seen.some((s) => s.body.includes(`name=${prefix}sleeper`)), "a row", 60_000),
      );
      for (const s of seen) {
        assert.equal(s.path, "/api/v2/write?org=acme&bucket=stats&precision=ns");
        assert.equal(s.authorization, `Token ${token}`);
      }
      const row = seen.flatMap((s) => s.body.split("\n")).find((l) => l.includes(prefix))!;
      // cpu is left out of a row whose reads had no CPU window (a container's first read)
      assert.match(row, /^containerStats,host=il-v2,container=\w{12},name=\S+ id="\w{64}",/);
      assert.ok(!lines.some((l) => l.includes(token)), "the token is never logged");
    } finally {
      await standIn.shutdown();
    }
  },
});
