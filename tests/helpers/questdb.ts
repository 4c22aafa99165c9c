/**
 * Test harness: a private, real QuestDB server on free loopback ports with its own data
 * directory, so tests (including fault tests that stop and restart it) never disturb each
 * other or a QuestDB the developer runs on 9000.
 *
 * The server jar comes from Maven Central (`org.questdb:questdb`), found through the
 * QUESTDB_JAR environment variable or the local Maven repository.
 */
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { terminate } from "./process.ts";

/** Result of a QuestDB `/exec` query. */
export interface ExecResult {
  columns: { name: string; type: string }[];
  dataset: unknown[][];
}

/** A running private QuestDB. */
export interface QuestDB {
  httpPort: number;
  ilpTcpPort: number;
  /** PostgreSQL wire port (user `admin`, password `quest`, database `qdb`); 0 unless asked. */
  pgPort: number;
  /** `http://127.0.0.1:<httpPort>` */
  httpUrl: string;
  /** Runs SQL through GET /exec; throws with QuestDB's message on an error. */
  exec(sql: string): Promise<ExecResult>;
  /**
   * Polls `sql` until `accept` returns true or `timeoutMs` passes; returns the last result.
   * Only results read while every WAL table had applied all it committed are considered, so
   * rows QuestDB acknowledged but has not applied yet never pass as "no rows".
   */
  waitFor(
    sql: string,
    accept: (r: ExecResult) => boolean,
    timeoutMs?: number,
  ): Promise<ExecResult>;
  /**
   * Waits until every WAL table has applied what it committed (`wal_tables()`: writerTxn =
   * sequencerTxn): call it before asserting that rows are absent.
   * @throws {Error} when a table is suspended, or not applied within `timeoutMs`.
   */
  walApplied(timeoutMs?: number): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s). The data directory is kept. */
  stop(): Promise<void>;
  /** Starts the server again on the same ports and data directory. */
  start(): Promise<void>;
  /** Stops the server and removes its data directory. */
  dispose(): Promise<void>;
}

/** Finds the QuestDB server jar, or returns null with nothing found. */
export function findQuestDBJar(): string | null {
  const fromEnv = Deno.env.get("QUESTDB_JAR");
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const base = join(homedir(), ".m2/repository/org/questdb/questdb");
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, `questdb-${v}.jar`)))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const v = versions.at(-1);
  return v ? join(base, v, `questdb-${v}.jar`) : null;
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private QuestDB and waits until its HTTP endpoint answers SQL.
 * @param options `pg: true` also opens the PostgreSQL wire (as Grafana's QuestDB plugin uses).
 * @throws {Error} when no jar is found or the server does not come up within 60 s.
 */
export async function startQuestDB(options: { pg?: boolean } = {}): Promise<QuestDB> {
  const jar = findQuestDBJar();
  if (!jar) throw new Error("QuestDB jar not found (set QUESTDB_JAR or run .ci/run)");
  const root = await Deno.makeTempDir({ prefix: "statsd-qdb-" });
  const httpPort = await freePort();
  const ilpTcpPort = await freePort();
  const pgPort = options.pg ? await freePort() : 0;
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  let child: Deno.ChildProcess | null = null;

  const env = {
    QDB_HTTP_BIND_TO: `127.0.0.1:${httpPort}`,
    QDB_LINE_TCP_NET_BIND_TO: `127.0.0.1:${ilpTcpPort}`,
    QDB_HTTP_MIN_ENABLED: "false",
    QDB_PG_ENABLED: String(pgPort > 0),
    ...(pgPort > 0 ? { QDB_PG_NET_BIND_TO: `127.0.0.1:${pgPort}` } : {}),
    QDB_LINE_UDP_ENABLED: "false",
    QDB_TELEMETRY_ENABLED: "false",
    // Keep the JVM small: several servers may run during one test run on a 2-core machine.
    QDB_SHARED_WORKER_COUNT: "2",
  };

  async function exec(sql: string): Promise<ExecResult> {
    const res = await fetch(`${httpUrl}/exec?query=${encodeURIComponent(sql)}`);
    const body = await res.json() as ExecResult & { error?: string };
    if (!res.ok || body.error) throw new Error(`QuestDB: ${body.error ?? res.status} (${sql})`);
    return body;
  }

  async function start(): Promise<void> {
    child = new Deno.Command("java", {
      args: [
        "-Xms64m",
        "-Xmx512m",
        "--add-exports",
        "java.base/jdk.internal.math=io.questdb",
        "-p",
        jar!,
        "-m",
        "io.questdb/io.questdb.ServerMain",
        "-d",
        root,
      ],
      env,
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        await exec("select 1");
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await stop();
    throw new Error(`QuestDB did not start within 60 s (data dir ${root})`);
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    child = null;
    await terminate(c);
  }

  async function waitFor(
    sql: string,
    accept: (r: ExecResult) => boolean,
    timeoutMs = 15_000,
  ): Promise<ExecResult> {
    const deadline = Date.now() + timeoutMs;
    let last: ExecResult = { columns: [], dataset: [] };
    while (true) {
      try {
        if (await walSettled()) {
          last = await exec(sql);
          if (accept(last)) return last;
        }
      } catch (e) {
        // Table does not exist yet: keep polling.
        if (!String(e).includes("does not exist")) throw e;
      }
      if (Date.now() > deadline) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Whether every WAL table has applied all it committed.
   * @throws {Error} naming a suspended table and its error.
   */
  async function walSettled(): Promise<boolean> {
    const res = await exec(
      "SELECT name, suspended, writerTxn, sequencerTxn, errorMessage FROM wal_tables()",
    );
    for (const [name, suspended, writerTxn, sequencerTxn, error] of res.dataset) {
      if (suspended === true) throw new Error(`QuestDB WAL table ${name} is suspended: ${error}`);
      if (writerTxn !== sequencerTxn) return false;
    }
    return true;
  }

  async function walApplied(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await walSettled())) {
      if (Date.now() > deadline) throw new Error(`QuestDB WAL not applied within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  await start();
  return {
    httpPort,
    ilpTcpPort,
    pgPort,
    httpUrl,
    exec,
    waitFor,
    walApplied,
    stop,
    start,
    async dispose() {
      await stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}
