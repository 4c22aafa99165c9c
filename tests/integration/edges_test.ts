/**
 * The edges of issue 16 on a real engine and a real QuestDB, with the daemon's own process:
 * counters are conserved across a stalled daemon (SIGSTOP for longer than an interval) and
 * across restarts of the `docker stats` child. Each delta belongs to the interval of the later
 * of two consecutive reads, so a container's `block_io_out_delta` over all its rows adds up to
 * the bytes it wrote, whatever happened in between.
 *
 * Block I/O: kernel 6.18 with cgroup v1 counts `blkio.throttle.io_service_bytes` only for a
 * cgroup with a throttle rule (shared/notes/facts.md), so each writer gets
 * `--device-write-bps <disk>:2mb` and writes with `oflag=direct`: 2 MB/s, spread over many
 * intervals. Each writer sleeps first, so the daemon's first read of it is 0 bytes.
 *
 * Needs a Docker engine and a QuestDB jar; under CI=true they are mandatory, elsewhere a missing
 * one ignores the test. The cgroup daemon reads the host's files itself (every permission).
 */
import assert from "node:assert/strict";
import { type DaemonProcess, startDaemon } from "../helpers/daemon.ts";
import {
  dataDisk,
  engineStats,
  ensureBusyboxImage,
  removeContainers,
  runContainer,
  sh,
} from "../helpers/docker.ts";
import { type QuestDB, startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The daemon's flags shared by both tests: QuestDB, no watchdog, only `prefix*` containers. */
function args(qdb: QuestDB, prefix: string, spool: string, interval: string): string[] {
  return [
    "--node",
    "edges",
    "--interval",
    interval,
    "--mode",
    "max",
    "--questdb",
    `http::addr=127.0.0.1:${qdb.httpPort};`,
    "--watchdog",
    "disabled",
    "--events",
    "disabled",
    "--include",
    `${prefix}*`,
    "--spool-dir",
    spool,
  ];
}

/** The writer's rows: designated timestamp, block_io_out and block_io_out_delta. */
async function writerRows(qdb: QuestDB, name: string, minRows: number) {
  const res = await qdb.waitFor(
    `SELECT timestamp, block_io_out, block_io_out_delta FROM containerStats ` +
      `WHERE name = '${name}' ORDER BY timestamp`,
    (r) => r.dataset.length >= minRows,
  );
  return res.dataset.map((r) => ({
    ts: r[0] as string,
    out: r[1] as number,
    delta: r[2] as number,
  }));
}

/** The PID of the daemon's `docker stats` child, once it runs (after a restart backoff). */
async function statsChild(daemon: DaemonProcess): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const out = await sh("pgrep", ["-P", String(daemon.child.pid), "-f", "docker stats"])
      .catch(() => "");
    if (out !== "") return out.split("\n")[0]!;
    await sleep(100);
  }
  throw new Error("no docker stats child");
}

async function stopped(daemon: DaemonProcess): Promise<void> {
  const { code } = await daemon.stop("SIGTERM");
  assert.equal(code, 0, daemon.lines.slice(-20).join("\n"));
}

Deno.test({
  name: "edges: a daemon stalled (SIGSTOP) longer than an interval loses no written byte",
  ignore: await requires("docker", "questdb"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const prefix = `edge-${crypto.randomUUID().slice(0, 6)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spool = await Deno.makeTempDir({ prefix: "edge-spool-" });
    const daemon = startDaemon([...args(qdb, prefix, spool, "2s"), "--source", "cgroup"]);
    try {
      await daemon.waitForLog(/The cgroup source is producing; ready/);
      const id = await runContainer(
        `${prefix}io`,
        ["--device-write-bps", `${await dataDisk()}:2mb`],
        "sleep 2; dd if=/dev/zero of=/data bs=1M count=16 oflag=direct 2>/dev/null; sleep 600",
      );
      await sleep(4000); // writing, at 2 MB/s for 8 s
      Deno.kill(daemon.child.pid, "SIGSTOP");
      await sleep(5000); // two and a half intervals without a read
      Deno.kill(daemon.child.pid, "SIGCONT");
      await sleep(7000); // the write ends, and one more interval
      const api = await engineStats(id);
      assert.equal(api.blockWrite, 16 * MiB, "the engine counted the whole write");
      await stopped(daemon);
      const rows = await writerRows(qdb, `${prefix}io`, 4);
      const sum = rows.reduce((s, r) => s + r.delta, 0);
      console.log(rows.map((r) => `${r.ts} out=${r.out} delta=${r.delta}`).join("\n"));
      assert.equal(sum, api.blockWrite, "the deltas add up to the engine's write total");
      assert.ok(rows.filter((r) => r.delta > 0).length >= 3, "the write spans three intervals");
    } finally {
      await daemon.stop("SIGKILL").catch(() => {});
      await removeContainers(prefix);
      await qdb.dispose();
      await Deno.remove(spool, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "edges: the docker stats child killed three times loses no written byte",
  ignore: await requires("docker", "questdb"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const prefix = `edgd-${crypto.randomUUID().slice(0, 6)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spool = await Deno.makeTempDir({ prefix: "edge-spool-" });
    const daemon = startDaemon(args(qdb, prefix, spool, "1s"));
    try {
      await daemon.waitForLog(/The docker source is producing; ready/);
      const id = await runContainer(
        `${prefix}io`,
        ["--device-write-bps", `${await dataDisk()}:2mb`],
        "sleep 4; dd if=/dev/zero of=/data bs=1M count=24 oflag=direct 2>/dev/null; sleep 600",
      );
      await sleep(6000);
      // Backoffs of 1, 2 and 4 s: the child is down for 7 s or more of the 12 s write.
      for (const pause of [2500, 3500, 1000]) {
        const pid = await statsChild(daemon);
        await sh("kill", ["-KILL", pid]);
        await sleep(pause);
      }
      await sleep(10_000); // the write ends, the child is back, a few more intervals
      const api = await engineStats(id);
      await stopped(daemon);
      assert.equal(daemon.lines.filter((l) => /docker stats exited/.test(l)).length, 3);
      const rows = await writerRows(qdb, `${prefix}io`, 3);
      const sum = rows.reduce((s, r) => s + r.delta, 0);
      const last = rows.at(-1)!.out;
      console.log(`engine ${api.blockWrite} B; last block_io_out ${last}; deltas sum ${sum}`);
      // The CLI prints %.3g in steps of 1000: the last counter is within 0.05 MB of the
      // engine's, and the deltas telescope to the last printed counter minus the first (0).
      assert.ok(Math.abs(last - api.blockWrite) <= 50_000, `${last} vs ${api.blockWrite}`);
      assert.ok(Math.abs(sum - last) <= 100_000, `deltas ${sum} against last ${last}`);
    } finally {
      await daemon.stop("SIGKILL").catch(() => {});
      await removeContainers(prefix);
      await qdb.dispose();
      await Deno.remove(spool, { recursive: true }).catch(() => {});
    }
  },
});
