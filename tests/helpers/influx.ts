/**
 * Test harness: a private, real InfluxDB 1.x (Debian's `influxdb` package, `influxd`) on free
 * loopback ports with its own directories, read back through InfluxQL `/query`. Also the
 * process handling that tests/helpers/victoria.ts shares.
 */
import { freePort } from "./questdb.ts";
import { terminate } from "./process.ts";

/** A server process started by a test, stopped and started again on the same ports. */
export interface LocalServer {
  /** Stops the process (SIGTERM, then SIGKILL after 10 s). Its data directory is kept. */
  stop(): Promise<void>;
  /** Starts it again and waits until it answers. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
}

/**
 * Starts `command args` and waits until `ready()` resolves true (checked every 200 ms, up to
 * 60 s); `root` is removed by `dispose()`.
 * @throws {Error} when the server does not answer within 60 s (its output is in `root`/log).
 */
export async function spawnLocalServer(
  command: string,
  args: string[],
  root: string,
  ready: () => Promise<boolean>,
): Promise<LocalServer> {
  let child: Deno.ChildProcess | null = null;
  const log = `${root}/server.log`;
  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    child = null;
    await terminate(c);
  }
  async function start(): Promise<void> {
    const out = await Deno.open(log, { append: true, create: true, write: true });
    child = new Deno.Command(command, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn();
    // Both streams into one log file, for a failing test to show.
    void Promise.all(
      [child.stdout, child.stderr].map((s) =>
        s.pipeTo(new WritableStream({ write: (chunk) => void out.writeSync(chunk) }))
      ),
    ).catch(() => {}).finally(() => out.close());
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (await ready().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    await stop();
    throw new Error(`${command} did not answer within 60 s (log ${log})`);
  }
  await start();
  return {
    stop,
    start,
    async dispose() {
      await stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** An InfluxQL answer: one result per statement, series of rows. */
export interface InfluxQueryResult {
  results: {
    series?: {
      name: string;
      columns: string[];
      values: unknown[][];
      tags?: Record<string, string>;
    }[];
    error?: string;
  }[];
}

/** A running private InfluxDB 1.x. */
export interface InfluxDB extends LocalServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Runs InfluxQL through `/query` (POST for statements that write, like CREATE). */
  query(q: string, db?: string): Promise<InfluxQueryResult>;
  /** The rows of the first series of the first statement (empty when none). */
  rows(q: string, db: string): Promise<{ columns: string[]; values: unknown[][] }>;
}

/**
 * Starts influxd with a config file that moves every port and directory into a temporary
 * directory (shared/notes/environment.md): HTTP and RPC on free 127.0.0.1 ports, no reporting.
 * @throws {Error} when influxd does not answer `/ping` within 60 s.
 */
export async function startInfluxDB(): Promise<InfluxDB> {
  const root = await Deno.makeTempDir({ prefix: "statsd-influx-" });
  const port = await freePort();
  const rpc = await freePort();
  await Deno.writeTextFile(
    `${root}/influx.conf`,
    [
      "reporting-disabled = true",
      `bind-address = "127.0.0.1:${rpc}"`,
      "[meta]",
      `  dir = "${root}/meta"`,
      "[data]",
      `  dir = "${root}/data"`,
      `  wal-dir = "${root}/wal"`,
      "  query-log-enabled = false",
      "[http]",
      `  bind-address = "127.0.0.1:${port}"`,
      "  log-enabled = false",
      "",
    ].join("\n"),
  );
  const url = `http://127.0.0.1:${port}`;
  const server = await spawnLocalServer(
    "influxd",
    ["-config", `${root}/influx.conf`],
    root,
    async () => (await fetch(`${url}/ping`)).status === 204,
  );
  async function query(q: string, db?: string): Promise<InfluxQueryResult> {
    const form = new URLSearchParams({ q });
    if (db !== undefined) form.set("db", db);
    const res = await fetch(`${url}/query`, { method: "POST", body: form });
    const body = await res.json() as InfluxQueryResult & { error?: string };
    const error = body.error ?? body.results?.find((r) => r.error)?.error;
    if (!res.ok || error) throw new Error(`InfluxDB: ${error ?? res.status} (${q})`);
    return body;
  }
  return {
    ...server,
    url,
    query,
    async rows(q, db) {
      const s = (await query(q, db)).results[0]?.series?.[0];
      return { columns: s?.columns ?? [], values: s?.values ?? [] };
    },
  };
}
