/**
 * `--retention` on a real QuestDB: the daemon's own process creates its tables with a TTL, and
 * QuestDB reports that TTL in `tables()` (`ttlValue`, `ttlUnit`); a table that already exists
 * keeps its own TTL, which the daemon reports at info.
 */
import assert from "node:assert/strict";
import { startDaemon, testServerArgs } from "../helpers/daemon.ts";
import { ensureBusyboxImage, removeContainers, runContainer } from "../helpers/docker.ts";
import { requires } from "../helpers/requires.ts";
import { type QuestDB, startQuestDB } from "../helpers/questdb.ts";

/** Runs the daemon until its first delivery, then stops it; @returns its log lines. */
async function runUntilPublished(qdb: QuestDB, args: string[]): Promise<string[]> {
  const spoolDir = await Deno.makeTempDir({ prefix: "gf-spool-" });
  try {
    const daemon = startDaemon([
      "--node",
      "gf-retention",
      "--interval",
      "1s",
      ...testServerArgs(qdb.httpPort, spoolDir),
      ...args,
    ]);
    await daemon.waitForLog(/Published \d+ rows/, 30_000);
    const { code } = await daemon.stop("SIGTERM");
    assert.equal(code, 0, daemon.lines.slice(-20).join("\n"));
    return daemon.lines;
  } finally {
    await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}

/** `tables()`'s TTL of each named table. */
async function ttls(qdb: QuestDB, names: string[]): Promise<Record<string, string>> {
  const res = await qdb.exec(
    "SELECT table_name, ttlValue, ttlUnit FROM tables() WHERE table_name IN (" +
      names.map((n) => `'${n}'`).join(", ") + ")",
  );
  return Object.fromEntries(res.dataset.map((r) => [r[0] as string, `${r[1]} ${r[2]}`]));
}

Deno.test({
  name: "--retention: created tables get QuestDB's TTL; an existing table keeps its own",
  ignore: await requires("docker", "questdb"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const prefix = `gf-${crypto.randomUUID().slice(0, 8)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    try {
      await runContainer(`${prefix}idle`, [], "sleep 600");

      await t.step("--retention 2w: every table the daemon creates has TTL 2 WEEK", async () => {
        await runUntilPublished(qdb, [
          "--retention",
          "2w",
          "--table",
          "gf_c1",
          "--events-table",
          "gf_e1",
          "--disk-table",
          "gf_d1",
          "--disks",
          "/",
        ]);
        assert.deepEqual(await ttls(qdb, ["gf_c1", "gf_e1", "gf_d1"]), {
          gf_c1: "2 WEEK",
          gf_e1: "2 WEEK",
          gf_d1: "2 WEEK",
        });
      });

      await t.step("without --retention: no TTL", async () => {
        await runUntilPublished(qdb, ["--table", "gf_c0", "--events-table", "gf_e0"]);
        assert.deepEqual(await ttls(qdb, ["gf_c0", "gf_e0"]), { gf_c0: "0 HOUR", gf_e0: "0 HOUR" });
      });

      await t.step("an existing table's TTL is left alone and reported at info", async () => {
        await qdb.exec(
          "CREATE TABLE gf_c2 (host SYMBOL, timestamp TIMESTAMP) TIMESTAMP(timestamp) " +
            "PARTITION BY DAY TTL 1 DAY WAL",
        );
        const lines = await runUntilPublished(qdb, [
          "--retention",
          "48h",
          "--table",
          "gf_c2",
          "--events-table",
          "gf_e2",
          "--disk-table",
          "gf_d2",
          "--disks",
          "/",
        ]);
        // QuestDB stores 48 HOUR as 2 DAY.
        assert.deepEqual(await ttls(qdb, ["gf_c2", "gf_e2", "gf_d2"]), {
          gf_c2: "1 DAY",
          gf_e2: "2 DAY",
          gf_d2: "2 DAY",
        });
        const reported = lines.filter((l) => /exists with TTL/.test(l));
        assert.equal(reported.length, 1, reported.join("\n"));
        assert.match(reported[0]!, /\[INFO\].*gf_c2 exists with TTL 1 DAY; --retention 48 HOUR/);
      });
    } finally {
      await removeContainers(prefix);
      await qdb.dispose();
    }
  },
});
