/**
 * Fault tests on the real components (issue "No row lost"): the daemon itself, a real Docker
 * engine and a real private QuestDB that the tests stop and start. Each scenario asserts the
 * rows in QuestDB afterwards: for a container that runs throughout, one row for every interval
 * end from its first to its last, none twice.
 *
 * QuestDB answering 500 or 400 on demand is covered in tests/unit/delivery_test.ts with a
 * stand-in server, since a real QuestDB cannot be made to do that.
 */
import assert from "node:assert/strict";
import { ensureBusyboxImage, removeContainers, runContainer, sh } from "../helpers/docker.ts";
import { type DaemonProcess, READY_LINE, startDaemon, testServerArgs } from "../helpers/daemon.ts";
import { privateDockerdMissing, startPrivateDockerd } from "../helpers/private_dockerd.ts";
import { type QuestDB, startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";
import { silentServer } from "../helpers/silent.ts";

const INTERVAL_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sleeps until `n` interval boundaries have passed, plus `extraMs`. */
function boundaries(n: number, extraMs = 1500): Promise<unknown> {
  const target = (Math.floor(Date.now() / INTERVAL_MS) + n) * INTERVAL_MS + extraMs;
  return sleep(target - Date.now());
}

interface Scenario {
  prefix: string;
  qdb: QuestDB;
  spoolDir: string;
  daemon(extra?: string[]): DaemonProcess;
}

/** Sets up a steady container, a private QuestDB and a spool dir; tears them down after. */
async function scenario(fn: (s: Scenario) => Promise<void>): Promise<void> {
  const prefix = `statsd-ft-${crypto.randomUUID().slice(0, 8)}-`;
  await ensureBusyboxImage();
  const qdb = await startQuestDB();
  const spoolDir = await Deno.makeTempDir({ prefix: "statsd-spool-" });
  const running: DaemonProcess[] = [];
  try {
    await runContainer(`${prefix}steady`, [], "while true; do sleep 0.2; done");
    await fn({
      prefix,
      qdb,
      spoolDir,
      daemon(extra = []) {
        const d = startDaemon([
          "--node",
          prefix,
          "--mode",
          "max",
          "--interval",
          "5s",
          "--questdb",
          `http::addr=127.0.0.1:${qdb.httpPort};request_timeout=2000;`,
          "--watchdog",
          "disabled",
          "--spool-dir",
          spoolDir,
          // Only this test's containers: others on the host must not change its row counts.
          "--include",
          `${prefix}*`,
          ...extra,
        ]);
        running.push(d);
        return d;
      },
    });
  } finally {
    for (const d of running) await d.stop("SIGKILL").catch(() => {});
    await removeContainers(prefix);
    await qdb.dispose();
    await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}

/**
 * The steady container's row timestamps (ms), in order, once at least `expectAtLeast` are in
 * (read only while QuestDB has applied every WAL commit, so none is missing or extra).
 */
async function steadyRows(s: Scenario, expectAtLeast: number): Promise<number[]> {
  const sql = `SELECT timestamp FROM containerStats WHERE host = '${s.prefix}' AND ` +
    `name = '${s.prefix}steady' ORDER BY timestamp`;
  const res = await s.qdb.waitFor(sql, (r) => r.dataset.length >= expectAtLeast, 20_000);
  return res.dataset.map((r) => Date.parse(r[0] as string));
}

/** A batch in the spool. */
interface SpooledBatch {
  endMs: number;
  rows: number;
  ilp: string;
}

/**
 * The batches in the QuestDB sink's spool files (`spool.<n>.jsonl` segments, src/delivery/
 * spool.ts), oldest first: what the next start loads.
 */
function spoolBatches(dir: string): SpooledBatch[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name)
    .filter((n) => /^spool\.\d{12}\.jsonl$/.test(n)).sort()
    .flatMap((n) =>
      Deno.readTextFileSync(`${dir}/${n}`).split("\n").slice(1).filter((l) => l !== "")
        .map((l) => JSON.parse(l) as SpooledBatch)
    );
}

/** Every interval from the first row to the last is there once. */
function assertContiguous(ts: number[], label: string): void {
  assert.ok(ts.length >= 2, `${label}: ${ts.length} rows`);
  assert.equal(new Set(ts).size, ts.length, `${label}: no duplicates`);
  for (let i = 1; i < ts.length; i++) {
    assert.equal(
      ts[i]! - ts[i - 1]!,
      INTERVAL_MS,
      `${label}: gap between ${new Date(ts[i - 1]!).toISOString()} and ` +
        `${new Date(ts[i]!).toISOString()}`,
    );
  }
}

const opts = {
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: await requires("docker", "questdb"),
};

Deno.test({
  ...opts,
  name: "fault 1: QuestDB stopped for two intervals, then started: every interval, no duplicates",
  fn: () =>
    scenario(async (s) => {
      const d = s.daemon();
      await d.waitForLog(READY_LINE);
      await boundaries(2);
      await s.qdb.stop();
      await boundaries(2);
      await s.qdb.start();
      await d.waitForLog(/Delivery to .* recovered after/, 30_000);
      await boundaries(1);
      const { code } = await d.stop();
      assert.equal(code, 0);
      const ts = await steadyRows(s, 5);
      assertContiguous(ts, "fault 1");
      assert.ok(ts.length >= 5, `${ts.length} intervals`);
    }),
});

Deno.test({
  ...opts,
  name: "fault 3: SIGTERM during an outage spools; the next daemon delivers it, no duplicates",
  fn: () =>
    scenario(async (s) => {
      const d1 = s.daemon();
      await d1.waitForLog(READY_LINE);
      await boundaries(1);
      await s.qdb.stop();
      await boundaries(2, 3000); // past the grace, and the partial interval has reads
      const stoppedAt = Date.now();
      const { code } = await d1.stop("SIGTERM");
      assert.equal(code, 0);
      // The partial interval at SIGTERM is stamped with the end of the interval it belongs to.
      const partialEnd = (Math.floor(stoppedAt / INTERVAL_MS) + 1) * INTERVAL_MS;
      assert.ok(d1.lines.some((l) => /Shutdown with \d+ undelivered rows: spooled/.test(l)));
      assert.ok(spoolBatches(s.spoolDir).length > 0, "spool holds batches");

      const d2 = s.daemon();
      await d2.waitForLog(/Loaded \d+ undelivered rows/);
      await s.qdb.start();
      await d2.waitForLog(/Published \d+ rows/, 30_000);
      await boundaries(2);
      assert.equal((await d2.stop()).code, 0);
      const ts = await steadyRows(s, 5);
      // Every interval of the first daemon, its partial one included, arrived through the
      // spool; the second daemon's intervals follow. If the restart fell inside the partial
      // interval, both daemons stamp a row with its end and DEDUP keeps one: no duplicates.
      assertContiguous(ts.filter((t) => t <= partialEnd), "fault 3, first daemon");
      assert.equal(ts.filter((t) => t <= partialEnd).at(-1), partialEnd, "partial interval");
      assertContiguous(ts.filter((t) => t >= partialEnd), "fault 3, second daemon");
      assert.deepEqual([...Deno.readDirSync(s.spoolDir)], [], "spool removed");
    }),
});

Deno.test({
  ...opts,
  name: "fault 5: SIGKILL with undelivered rows: what the periodic spool covered is delivered",
  fn: () =>
    scenario(async (s) => {
      const d1 = s.daemon();
      await d1.waitForLog(READY_LINE);
      await s.qdb.stop();
      await boundaries(3, 3000);
      await d1.waitForLog(/Spooled \d+ undelivered rows/);
      const spooledEnds = spoolBatches(s.spoolDir).map((b) => b.endMs);
      await d1.stop("SIGKILL");
      assert.ok(spooledEnds.length >= 1);

      await s.qdb.start();
      const d2 = s.daemon();
      await d2.waitForLog(/Loaded \d+ undelivered rows/);
      await boundaries(1);
      assert.equal((await d2.stop()).code, 0);
      const ts = await steadyRows(s, spooledEnds.length);
      for (const end of spooledEnds) assert.ok(ts.includes(end), `spooled ${end} delivered`);
      assert.equal(new Set(ts).size, ts.length, "no duplicates");
    }),
});

Deno.test({
  ...opts,
  name: "fault 6: a long outage with --interval 1s and a small buffer: oldest dropped, RSS flat",
  fn: () =>
    scenario(async (s) => {
      await s.qdb.stop();
      const d = s.daemon(["--interval", "1s", "--buffer-rows", "20"]);
      await d.waitForLog(READY_LINE);
      // ps, not /proc: Deno needs --allow-all to read /proc directly.
      const rss = async (): Promise<number> =>
        Number(await sh("ps", ["-o", "rss=", "-p", String(d.child.pid)])) * 1024;
      await sleep(15_000);
      const early = await rss();
      await sleep(45_000);
      const late = await rss();
      const dropped = d.lines.filter((l) => /dropped the \d+ oldest rows/.test(l));
      assert.ok(dropped.length > 0, "drops are reported");
      const total = Number(/\((\d+) dropped so far\)/.exec(dropped.at(-1)!)![1]);
      assert.ok(total > 20, `${total} rows dropped`);
      console.log(
        `RSS at 15 s ${(early / 2 ** 20).toFixed(1)} MiB, at 60 s ` +
          `${(late / 2 ** 20).toFixed(1)} MiB; ${total} rows dropped`,
      );
      assert.ok(late - early < 8 * 2 ** 20, "RSS stays flat (< 8 MiB growth over 45 s)");
      await s.qdb.start();
      await d.waitForLog(/recovered after/, 60_000);
      assert.equal((await d.stop()).code, 0);
      assert.ok(
        d.lines.some((l) => /Stopped questdb: .* [1-9]\d* dropped/.test(l)),
        "drops counted",
      );
      const ts = await steadyRows(s, 1);
      assert.ok(ts.length <= 25, `at most the buffer's rows (+ live ones): ${ts.length}`);
    }),
});

Deno.test({
  name: "fault 4: a private dockerd killed (-9) and restarted: the daemon stays up, the catalog " +
    "reconnects with one log line, rows and lifecycle rows resume",
  sanitizeOps: false,
  sanitizeResources: false,
  // A PRIVATE engine (tests/helpers/private_dockerd.ts): the shared one is never killed.
  ignore: (await requires("docker", "questdb")) || ignorePrivate(),
  fn: async () => {
    const prefix = `statsd-ft-${crypto.randomUUID().slice(0, 8)}-`;
    const engine = await startPrivateDockerd();
    const qdb = await startQuestDB();
    const spoolDir = await Deno.makeTempDir({ prefix: "statsd-spool-" });
    const run = (name: string, cmd: string, extra: string[] = []) =>
      engine.docker([
        "run",
        "-d",
        "--name",
        `${prefix}${name}`,
        ...extra,
        "busybox:local",
        "sh",
        "-c",
        cmd,
      ]);
    try {
      await run("steady", "while true; do sleep 0.2; done", ["--restart", "always"]);
      const d = startDaemon([
        "--node",
        prefix,
        "--interval",
        "5s",
        ...testServerArgs(qdb.httpPort, spoolDir),
        "--include",
        `${prefix}*`,
      ], { DOCKER_HOST: engine.dockerHost });
      try {
        await d.waitForLog(READY_LINE);
        await boundaries(1);
        await engine.kill9();
        const killedAt = Date.now();
        await d.waitForLog(/The Docker engine does not answer on .*: is dockerd running\?/, 20_000);
        await sleep(3000);
        await engine.restart();
        await d.waitForLog(/The engine answers again on /, 30_000);
        await run("after", "sleep 1; exit 4");
        await boundaries(3);
        const exited = await Promise.race([
          d.child.status.then((st) => `exited with status ${st.code}`),
          sleep(100).then(() => null),
        ]);
        assert.equal(exited, null, "the daemon outlived the engine");
        const { code } = await d.stop();
        assert.equal(code, 0, "the daemon stayed up and stopped cleanly");
        // one warning per failure, its repeats at debug: the stream the kill cut, the engine
        // down (connection refused), perhaps a slow answer while it starts again
        const warned = d.lines.filter((l) => /\[WARNING\] container-statsd\.catalog:/.test(l))
          .map((l) => l.replace(/^\S+ /, ""));
        for (const w of warned) {
          assert.match(w, /events stream from .* broke|does not answer on|did not answer GET/, w);
        }
        const down = warned.filter((w) => /The Docker engine does not answer on/.test(w));
        assert.equal(down.length, 1, warned.join("\n"));
        assert.equal(new Set(warned).size, warned.length, "no failure warned twice");
        const steady = await qdb.waitFor(
          `SELECT timestamp FROM containerStats WHERE host = '${prefix}' AND ` +
            `name = '${prefix}steady' ORDER BY timestamp`,
          (r) => r.dataset.some((x) => Date.parse(String(x[0])) > killedAt + INTERVAL_MS),
          30_000,
        );
        const ts = steady.dataset.map((x) => Date.parse(String(x[0])));
        assert.equal(new Set(ts).size, ts.length, "no duplicates");
        const after = await qdb.waitFor(
          `SELECT event, exit_code FROM containerEvents WHERE name = '${prefix}after' ` +
            "ORDER BY timestamp",
          (r) => r.dataset.length >= 3,
          30_000,
        );
        assert.deepEqual(after.dataset.map((x) => x[0]), ["create", "start", "die"]);
        assert.equal(after.dataset[2]![1], 4);
        // the restarted engine restarts `steady` (--restart always): its start is a row too
        const starts = await qdb.waitFor(
          `SELECT timestamp FROM containerEvents WHERE name = '${prefix}steady' AND ` +
            "event = 'start'",
          (r) => r.dataset.some((x) => Date.parse(String(x[0])) > killedAt),
          30_000,
        );
        assert.ok(starts.dataset.length >= 1);
      } finally {
        await d.stop("SIGKILL").catch(() => {});
      }
    } finally {
      await engine.dispose();
      await qdb.dispose();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  ...opts,
  name:
    "fault 7: SIGTERM while the sink accepts and never answers: exit 0 within TimeoutStopSec, " +
    "all spooled; a restart delivers each row once, a second replay of the spool too",
  fn: () =>
    scenario(async (s) => {
      const unit = Deno.readTextFileSync(
        new URL("../../systemd/container-statsd.service", import.meta.url),
      );
      const stopTimeoutMs = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)![1]) * 1000;
      // The sink: a stand-in that accepts connections on an HTTP port and never answers
      // (tests/helpers/silent.ts); a request timeout of 60 s, so only shutdown can end it.
      const silent = silentServer();
      try {
        const d1 = s.daemon([
          "--questdb",
          `http::addr=127.0.0.1:${silent.port};request_timeout=60000;`,
        ]);
        await d1.waitForLog(READY_LINE);
        await boundaries(2, 3000); // past the grace, and the partial interval has reads
        assert.ok(silent.received().length > 0, "a request is out to the silent sink");
        const stoppedAt = Date.now();
        const { code, ms } = await d1.stop("SIGTERM");
        assert.equal(code, 0);
        assert.ok(ms < stopTimeoutMs, `exited ${Math.round(ms)} ms after SIGTERM`);
        console.log(
          `exit 0 ${Math.round(ms)} ms after SIGTERM (TimeoutStopSec ${stopTimeoutMs} ms)`,
        );
        const steady = `name=${s.prefix}steady`;
        const ends = spoolBatches(s.spoolDir).filter((b) => b.ilp.includes(steady)).map((b) =>
          b.endMs
        );
        const partialEnd = (Math.floor(stoppedAt / INTERVAL_MS) + 1) * INTERVAL_MS;
        assert.ok(ends.length >= 2, `spooled intervals of the steady container: ${ends}`);
        assert.equal(ends.at(-1), partialEnd, "the partial interval is spooled");
        const saved = spoolBatches(s.spoolDir);

        // A restart against the real QuestDB delivers the spool: each interval once.
        const d2 = s.daemon();
        await d2.waitForLog(/Loaded \d+ undelivered rows/);
        await d2.waitForLog(/Published \d+ rows/, 30_000);
        assert.equal((await d2.stop()).code, 0);
        const ts = await steadyRows(s, ends.length);
        for (const end of ends) {
          assert.equal(ts.filter((t) => t === end).length, 1, `interval ${end} once`);
        }
        assert.equal(new Set(ts).size, ts.length, "no duplicates");

        // The same rows delivered again (a batch QuestDB committed just before the abort is
        // both delivered and spooled): DEDUP UPSERT KEYS keep one row per timestamp.
        Deno.writeTextFileSync(
          `${s.spoolDir}/spool.000000000001.jsonl`,
          [
            JSON.stringify({ spool: "container-statsd", version: 1 }),
            ...saved.map((b) => JSON.stringify(b)),
            "",
          ].join("\n"),
        );
        const d3 = s.daemon();
        await d3.waitForLog(/Loaded \d+ undelivered rows/);
        await d3.waitForLog(/Published \d+ rows/, 30_000);
        assert.equal((await d3.stop()).code, 0);
        await s.qdb.walApplied();
        const again = await steadyRows(s, ts.length);
        for (const end of ends) {
          assert.equal(again.filter((t) => t === end).length, 1, `interval ${end} still once`);
        }
        assert.equal(new Set(again).size, again.length, "no duplicates after the replay");
      } finally {
        await silent.close();
      }
    }),
});
/** The private engine's own need, printed like requires() does. */
function ignorePrivate(): boolean {
  const missing = privateDockerdMissing();
  if (missing !== null) console.log(`IGNORED (needs a private dockerd): ${missing}`);
  return missing !== null;
}
