/**
 * What every part that runs the real daemon shares: the private QuestDB, a spool directory, the
 * entry point (`--main`), the log; the daemon's command line; and what the daemon delivered.
 * The daemon itself is started by the launcher the tests use (tests/helpers/daemon.ts).
 */
import { launchDaemon, type LaunchedDaemon } from "../../tests/helpers/daemon.ts";
import type { QuestDB } from "../../tests/helpers/questdb.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";

/** Shared by the parts that run the daemon. */
export interface BenchContext {
  /** The private QuestDB the daemon publishes to. */
  qdb: QuestDB;
  /** `--spool-dir` of every daemon run. */
  spoolDir: string;
  /** Entry point to measure (main.ts unless `bench/run.ts --main`). */
  main: string;
  /** Progress log. */
  log: (msg: string) => void;
}

/**
 * A way of running the daemon, measured side by side with the others: extra flags after the
 * common ones (e.g. `--source cgroup`). The default variant has the name `""` and no flags.
 */
export interface DaemonVariant {
  name: string;
  args: string[];
  /** `args` as the report shows them (a temporary path replaced by a placeholder). */
  shownArgs?: string[];
}

/** The variant every part measures: the daemon as a user starts it. */
export const DEFAULT_VARIANT: DaemonVariant = { name: "", args: [] };

/**
 * The engine-free source of issue 13: `--source cgroup --sample-period 1s`, reading the host's
 * files directly (the daemon has every permission; issue 19).
 */
export const CGROUP_VARIANT: DaemonVariant = {
  name: "cgroup",
  args: ["--source", "cgroup", "--sample-period", "1s"],
};

/** The source a variant reads: `cgroup` when it passes `--source cgroup`, else `docker`. */
export function sourceOf(variant: DaemonVariant): string {
  const i = variant.args.indexOf("--source");
  return i >= 0 ? variant.args[i + 1] ?? "docker" : "docker";
}

/**
 * The daemon's arguments in the benchmarks: `--node <node> --interval 1m --questdb
 * http::addr=127.0.0.1:<port>; --watchdog disabled --spool-dir <dir>`, then `extra`.
 */
export function daemonArgs(
  node: string,
  httpPort: number,
  spoolDir: string,
  extra: readonly string[] = [],
): string[] {
  return [
    "--node",
    node,
    "--interval",
    "1m",
    "--questdb",
    `http::addr=127.0.0.1:${httpPort};`,
    "--watchdog",
    "disabled",
    "--spool-dir",
    spoolDir,
    ...extra,
  ];
}

/** The daemon command as the report shows it (placeholders for the node, port and directory). */
export function daemonCommand(node: string, extra: readonly string[] = []): string {
  return `LOG_LEVEL=info deno run -q <start task flags> main.ts ${
    daemonArgs(node, 0, "<tmp>", extra).join(" ").replace(":0;", ":<port>;")
  }`;
}

/**
 * Starts the daemon at log level info (the default a user runs), with `SIGKILL` 15 s after a
 * `stop()` that did not end it. Set `DAEMON_LOG=1` to see its lines.
 * @param extra flags after {@link daemonArgs}' (a variant's, `--mode max`).
 * @param env extra environment (a stand-in `docker` first on PATH).
 */
export function startBenchDaemon(
  ctx: BenchContext,
  node: string,
  extra: readonly string[] = [],
  env: Record<string, string> = {},
): LaunchedDaemon {
  return launchDaemon(daemonArgs(node, ctx.qdb.httpPort, ctx.spoolDir, extra), {
    env,
    logLevel: "info",
    main: ctx.main,
    waitTimeoutMs: 60_000,
    killAfterMs: 15_000,
  });
}

/**
 * Samples behind the container rows the daemon `node` delivered (the sum of the `samples`
 * column), read once QuestDB has applied them: two readings 1 s apart agree. Counted from what
 * arrived, so it holds for every source. NaN when nothing arrived within `timeoutMs`.
 */
export async function deliveredSamples(
  qdb: QuestDB,
  node: string,
  timeoutMs = 30_000,
): Promise<number> {
  const sql = `SELECT sum(samples) FROM "${CONTAINER_TABLE.defaultName}" ` +
    `WHERE host = '${node.replaceAll("'", "''")}'`;
  const deadline = Date.now() + timeoutMs;
  let last = NaN;
  while (Date.now() < deadline) {
    const res = await qdb.exec(sql).catch(() => null);
    const n = Number(res?.dataset[0]?.[0] ?? NaN);
    if (Number.isFinite(n) && n > 0 && n === last) return n;
    last = n;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return NaN;
}
