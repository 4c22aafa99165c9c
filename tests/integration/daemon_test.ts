/**
 * End to end on the real components: a real Docker engine running busybox containers (a CPU
 * burner, a 200 MiB /dev/shm holder, a 3 s container), the daemon itself (main.ts with the
 * start task's permissions), and a real QuestDB queried over /exec.
 */
import assert from "node:assert/strict";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { DISK_TABLE } from "../../src/schema/disks.ts";
import type { TableDecl } from "../../src/schema/table.ts";
import { ensureBusyboxImage, removeContainers, runContainer } from "../helpers/docker.ts";
import { READY_LINE, startDaemon, testServerArgs } from "../helpers/daemon.ts";
import { type ExecResult, startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";

const INTERVAL_MS = 10_000;
const MiB = 1024 * 1024;

/** Asserts that QuestDB's `SHOW COLUMNS` gives each declared column its declared type. */
function assertColumnTypes<R>(cols: ExecResult, decl: TableDecl<R>): void {
  const types = new Map(cols.dataset.map((r) => [r[0] as string, r[1] as string]));
  for (const c of decl.columns) assert.equal(types.get(c.name), c.type, c.name);
  assert.equal(types.get("timestamp"), "TIMESTAMP");
  const designated = cols.dataset.find((r) => r[0] === "timestamp")!;
  assert.equal(designated[cols.columns.findIndex((c) => c.name === "designated")], true);
}

Deno.test({
  name: "daemon end to end: docker stats -> max rows per container per 10 s interval -> QuestDB",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: await requires("docker", "questdb"),
  async fn(t) {
    const prefix = `statsd-it-${crypto.randomUUID().slice(0, 8)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spoolDir = await Deno.makeTempDir({ prefix: "statsd-spool-" });
    try {
      await runContainer(`${prefix}burner`, [], "yes > /dev/null");
      await runContainer(
        `${prefix}mem`,
        ["--shm-size", "512m"],
        "dd if=/dev/zero of=/dev/shm/f bs=1M count=200 2>/dev/null; sleep 600",
      );
      const daemon = startDaemon([
        "--node",
        "it-host",
        "--mode",
        "max",
        "--interval",
        "10s",
        ...testServerArgs(qdb.httpPort, spoolDir),
        "--disks",
        "/",
      ]);
      await daemon.waitForLog(READY_LINE, 30_000);
      await runContainer(`${prefix}short`, [], "sleep 3");
      // Two whole intervals after the short container started, then stop mid-interval.
      const after = (Math.floor(Date.now() / INTERVAL_MS) + 2) * INTERVAL_MS + 3000;
      await new Promise((r) => setTimeout(r, after - Date.now()));
      const { code, ms } = await daemon.stop("SIGTERM");
      assert.equal(code, 0, daemon.lines.slice(-20).join("\n"));
      assert.ok(ms < 10_000, `stopped in ${ms} ms`);

      const logs = daemon.lines.join("\n");
      assert.ok(
        /Starting container-statsd: node=it-host mode=max interval=10s/.test(logs),
        "config",
      );
      assert.ok(
        /Published \d+ rows \(\d+ bytes\) in \d+ ms to http:\/\/127\.0\.0\.1:\d+/.test(logs),
        "publish log",
      );

      await t.step("containerStats column types", async () => {
        assertColumnTypes(await qdb.exec("SHOW COLUMNS FROM containerStats"), CONTAINER_TABLE);
      });

      await t.step(
        "tables were created WAL with DEDUP UPSERT KEYS (idempotent resends)",
        async () => {
          const res = await qdb.exec(
            "SELECT table_name, walEnabled, dedup, partitionBy FROM tables() " +
              "WHERE table_name IN ('containerStats', 'diskStats') ORDER BY table_name",
          );
          assert.deepEqual(res.dataset, [
            ["containerStats", true, true, "DAY"],
            ["diskStats", true, true, "DAY"],
          ]);
          const keys = await qdb.exec(
            "SELECT \"column\" FROM table_columns('containerStats') WHERE upsertKey ORDER BY 1",
          );
          assert.deepEqual(keys.dataset.map((r) => r[0]), ["container", "host", "timestamp"]);
        },
      );

      const res = await qdb.waitFor(
        "SELECT timestamp, name, container, id, cpu, memory_use, total_memory, pids, samples " +
          "FROM containerStats WHERE host = 'it-host' ORDER BY timestamp, name",
        (r) => r.dataset.some((row) => String(row[1]).endsWith("short")),
      );
      const rows = res.dataset.map((r) => ({
        ts: Date.parse(r[0] as string),
        name: String(r[1]).replace(prefix, ""),
        container: r[2] as string,
        id: r[3] as string,
        cpu: r[4] as number | null, // null: no read of the interval had a CPU window
        memoryUse: r[5] as number,
        totalMemory: r[6] as number,
        pids: r[7] as number,
        samples: r[8] as number,
      })).filter((r) => ["burner", "mem", "short"].includes(r.name));
      console.log("rows QuestDB returned:");
      for (const r of rows) {
        console.log(
          `  ${new Date(r.ts).toISOString()} ${r.name.padEnd(6)} cpu=${
            r.cpu?.toFixed(2) ?? "-"
          }% ` +
            `memory_use=${(r.memoryUse / MiB).toFixed(1)}MiB pids=${r.pids} samples=${r.samples}`,
        );
      }

      await t.step("one row per container per interval, aligned, stamped with the end", () => {
        const keys = rows.map((r) => `${r.ts}/${r.name}`);
        assert.equal(new Set(keys).size, keys.length);
        for (const r of rows) assert.equal(r.ts % INTERVAL_MS, 0, "aligned to 10 s");
        const burnerTs = rows.filter((r) => r.name === "burner").map((r) => r.ts);
        assert.ok(burnerTs.length >= 3, "two whole intervals and the partial one");
        for (let i = 1; i < burnerTs.length; i++) {
          assert.equal(burnerTs[i]! - burnerTs[i - 1]!, INTERVAL_MS, "no interval missing");
        }
        for (const r of rows) {
          assert.equal(r.id.length, 64);
          assert.equal(r.container, r.id.slice(0, 12));
          assert.ok(r.samples >= 1);
        }
      });

      await t.step("the burner is above 40 % CPU in max mode", () => {
        const burner = rows.filter((r) => r.name === "burner");
        assert.ok(Math.max(...burner.map((r) => r.cpu ?? 0)) > 40);
      });

      await t.step("the memory holder is within 5 % of 200 MiB", () => {
        const mem = rows.filter((r) => r.name === "mem");
        const last = mem[mem.length - 1]!;
        assert.ok(Math.abs(last.memoryUse - 200 * MiB) <= 0.05 * 200 * MiB, `${last.memoryUse}`);
        assert.ok(last.totalMemory > last.memoryUse);
      });

      await t.step("the 3 s container has its row", () => {
        const short = rows.filter((r) => r.name === "short");
        assert.ok(short.length >= 1);
        assert.ok(short.every((r) => r.samples >= 1));
      });

      await t.step("diskStats: column types and one row per interval for /", async () => {
        assertColumnTypes(await qdb.exec("SHOW COLUMNS FROM diskStats"), DISK_TABLE);
        await qdb.walApplied();
        const disk = await qdb.exec(
          "SELECT timestamp, name, mount_point, available_space, total_space, percentage_use, " +
            "read_bytes, write_bytes, read_bytes_delta, write_bytes_delta FROM diskStats " +
            "WHERE host = 'it-host' ORDER BY timestamp",
        );
        console.log("diskStats rows:", JSON.stringify(disk.dataset));
        const ts = disk.dataset.map((r) => r[0] as string);
        assert.equal(new Set(ts).size, ts.length, "one row per interval");
        assert.ok(disk.dataset.length >= 3);
        for (const r of disk.dataset) {
          assert.equal(r[2], "/");
          const [avail, total, pct] = [r[3] as number, r[4] as number, r[5] as number];
          assert.ok(total > 0 && avail >= 0 && avail <= total);
          assert.ok(pct >= 0 && pct <= 100);
          // A block device (not an overlay without one) has been read since boot.
          if (String(r[1]).startsWith("/dev/")) assert.ok((r[6] as number) > 0, `${r[1]} read`);
        }
        assert.equal(disk.dataset[0]![8], 0, "first interval's delta is 0");
        assert.equal(disk.dataset[0]![9], 0, "first interval's delta is 0");
        // Each later delta is the counters' growth since the previous interval: none lost.
        for (let i = 1; i < disk.dataset.length; i++) {
          const [prev, row] = [disk.dataset[i - 1]!, disk.dataset[i]!];
          assert.equal(row[8], (row[6] as number) - (prev[6] as number), "read_bytes_delta");
          assert.equal(row[9], (row[7] as number) - (prev[7] as number), "write_bytes_delta");
        }
      });
    } finally {
      await removeContainers(prefix);
      await qdb.dispose();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});
