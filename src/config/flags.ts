/**
 * Command-line flags (seed-compatible names and defaults; the Rust original's README), parsed
 * with commander. A bad value prints one line naming the flag and what is allowed; the caller
 * exits with status 2 before anything starts.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import denoJson from "../../deno.json" with { type: "json" };
import { type ClientConfig, parseQuestdbTarget } from "../ilp/config.ts";
import { IlpEncoder } from "../ilp/encoder.ts";
import type { Mode } from "../reducer/reducer.ts";
import { validateDiskArgument } from "../disks/collector.ts";
import { describeConfig } from "../ilp/config.ts";
import { type LogLevelName, parseLogLevel } from "../service/logging.ts";

/** The daemon's effective configuration. */
export interface Config {
  /** Value of the `host` symbol on every row. */
  node: string;
  /** How samples are reduced: `avg` or `max`. */
  mode: Mode;
  /** Where rows go (parsed QuestDB client configuration). */
  questdb: ClientConfig;
  /** Container table name. */
  table: string;
  /** Interval length, milliseconds (1 s to 15 min). */
  intervalMs: number;
  /** systemd notify and watchdog: `disabled` never touches NOTIFY_SOCKET. */
  watchdog: "enabled" | "disabled";
  /** Host disks to report, as given. */
  disks: string[];
  /** Disk table name. */
  diskTable: string;
  /** Root under which /proc and /sys are read (containerised daemons mount the host's). */
  hostRoot: string;
  /** Most rows held for delivery; the oldest are dropped beyond it. */
  bufferRows: number;
  /** Directory for the undelivered-rows spool. */
  spoolDir: string;
}

/** Thrown by {@link parseFlags} after commander printed its message (or help/version). */
export class FlagExit extends Error {
  /** 0 after --help or --version, 2 for a bad flag. */
  readonly exitCode: number;
  /**
   * Records how the process should exit.
   *
   * @param exitCode 0 after --help/--version, 2 for a bad flag.
   * @param message what commander printed.
   */
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * Validates a table name with the ILP encoder's own rules (QuestDB's `isValidTableName`, as the
 * official clients apply them), so the flag and the encoder cannot disagree.
 * @throws {Error} from the encoder, naming the bad character.
 */
export function validateTableName(name: string): string {
  new IlpEncoder().table(name);
  return name;
}

/** Default QuestDB target when neither --questdb nor QDB_CLIENT_CONF is given. */
export const DEFAULT_QUESTDB = "http::addr=localhost:9000;";

/**
 * Parses `--interval`: a whole number is minutes (1 to 15, the seed's rule); a duration with a
 * unit (`10s`, `90s`, `2m`) is accepted from 1 s to 15 min.
 * @returns milliseconds.
 * @throws {InvalidArgumentError} (commander) naming what is allowed.
 */
export function parseInterval(value: string): number {
  const allowed = "whole minutes 1 to 15, or a duration from 1s to 15m such as 10s, 90s, 2m";
  const m = /^(\d{1,4})(s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`Allowed: ${allowed}.`);
  const n = Number(m[1]);
  const ms = m[2] === "s" ? n * 1000 : n * 60_000;
  if (ms < 1000 || ms > 15 * 60_000) throw new InvalidArgumentError(`Allowed: ${allowed}.`);
  return ms;
}

function wrap<T>(fn: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return fn(v);
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw e;
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** Accumulates repeated `--disks` values, each checked by the disk source's own rule. */
function collectDisk(value: string, previous: string[]): string[] {
  return [...previous, wrap(validateDiskArgument)(value)];
}

function positiveInt(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      throw new InvalidArgumentError(`Allowed: a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Default spool directory: $STATE_DIRECTORY (systemd) or ~/.local/state/container-statsd. */
export function defaultSpoolDir(env: Record<string, string | undefined>): string {
  const state = env.STATE_DIRECTORY?.split(":")[0];
  if (state) return state;
  return `${env.HOME ?? "."}/.local/state/container-statsd`;
}

/**
 * Parses the daemon's flags.
 *
 * @param argv arguments after the program name.
 * @param env environment (QDB_CLIENT_CONF, STATE_DIRECTORY, HOME).
 * @param output where commander writes help/version (`out`) and errors (`err`).
 * @returns the effective configuration.
 * @throws {FlagExit} with exit code 0 after --help/--version, 2 after a bad flag (the one-line
 *   message has been written to `output.err`).
 */
export function parseFlags(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  output: { out: (s: string) => void; err: (s: string) => void },
): Config {
  const program = new Command("container-statsd")
    .description(
      "Streams `docker stats`, reduces samples per container over aligned intervals, and " +
        "publishes one row per container per interval to QuestDB over ILP.",
    )
    .version(denoJson.version, "-V, --version")
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showSuggestionAfterError(false)
    .allowExcessArguments(false)
    .requiredOption(
      "-n, --node <name>",
      "value of the `host` symbol on every row",
      wrap((v) => {
        if (v.trim() === "") throw new InvalidArgumentError("Allowed: a non-empty name.");
        return v;
      }),
    )
    .addOption(
      new Option("-m, --mode <mode>", "how samples are reduced per interval")
        .choices(["avg", "max"]).default("avg"),
    )
    .option(
      "-q, --questdb <target>",
      "QuestDB host, host:port, or client configuration string " +
        `(env QDB_CLIENT_CONF; default ${DEFAULT_QUESTDB})`,
    )
    .option("-t, --table <name>", "container table", wrap(validateTableName), "containerStats")
    .option(
      "-i, --interval <n|duration>",
      "interval: whole minutes 1-15, or a duration 1s-15m (10s, 90s, 2m)",
      wrap(parseInterval),
      5 * 60_000,
    )
    .addOption(
      new Option("-w, --watchdog <state>", "systemd notify and watchdog")
        .choices(["enabled", "disabled"]).default("enabled"),
    )
    .option(
      "-d, --disks <disk>",
      "host disk to report (repeatable): device, /dev/disk/by-* link, mount point or name",
      collectDisk,
      [] as string[],
    )
    .option("-b, --disk-table <name>", "disk table", wrap(validateTableName), "diskStats")
    .option("--host-root <dir>", "root under which /proc and /sys are read", "/")
    .option(
      "--buffer-rows <n>",
      "most rows held for delivery; oldest dropped beyond",
      wrap(positiveInt(1, 100_000_000)),
      100_000,
    )
    .option(
      "--spool-dir <dir>",
      "where undelivered rows are kept across restarts " +
        "(default $STATE_DIRECTORY, else ~/.local/state/container-statsd)",
    );

  try {
    program.parse(argv as string[], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) throw new FlagExit(e.exitCode === 0 ? 0 : 2, e.message);
    throw e;
  }
  const o = program.opts<{
    node: string;
    mode: Mode;
    questdb?: string;
    table: string;
    interval: number;
    watchdog: "enabled" | "disabled";
    disks: string[];
    diskTable: string;
    hostRoot: string;
    bufferRows: number;
    spoolDir?: string;
  }>();

  let questdb: ClientConfig;
  const target = o.questdb ?? env.QDB_CLIENT_CONF ?? DEFAULT_QUESTDB;
  try {
    questdb = parseQuestdbTarget(target);
  } catch (e) {
    const source = o.questdb !== undefined
      ? "option '-q, --questdb <target>'"
      : env.QDB_CLIENT_CONF !== undefined
      ? "environment variable QDB_CLIENT_CONF"
      : "default QuestDB target";
    const msg = `error: ${source} is invalid. ${(e as Error).message} ` +
      "Allowed: a host, host:port, or a client configuration string such as " +
      "http::addr=db1:9000; (http, https, tcp, tcps).";
    output.err(msg + "\n");
    throw new FlagExit(2, msg);
  }

  return {
    node: o.node,
    mode: o.mode,
    questdb,
    table: o.table,
    intervalMs: o.interval,
    watchdog: o.watchdog,
    disks: o.disks,
    diskTable: o.diskTable,
    hostRoot: o.hostRoot,
    bufferRows: o.bufferRows,
    spoolDir: o.spoolDir ?? defaultSpoolDir(env),
  };
}

/** Environment variables the daemon reads (the start task grants exactly these). */
export const ENV_NAMES = [
  "LOG_LEVEL",
  "RUST_LOG",
  "QDB_CLIENT_CONF",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "JOURNAL_STREAM",
  "STATE_DIRECTORY",
  "HOME",
  "PATH",
] as const;

/** What {@link parseCommandLine} gives when the daemon may start. */
export interface CommandLine {
  /** The configuration. */
  config: Config;
  /** The variables of {@link ENV_NAMES}. */
  env: Record<string, string | undefined>;
  /** Log level from LOG_LEVEL or RUST_LOG. */
  level: LogLevelName;
}

/**
 * Reads the process's arguments and environment.
 * @param argv arguments after the program name.
 * @returns the configuration, or the exit status when the process must exit now (0 after
 *   --help/--version, 2 after a bad flag or log level: one line was printed to stderr).
 */
export function parseCommandLine(argv: readonly string[]): CommandLine | number {
  const env: Record<string, string | undefined> = Object.fromEntries(
    ENV_NAMES.map((name) => [name, Deno.env.get(name)]),
  );
  const utf8 = new TextEncoder();
  try {
    const config = parseFlags(argv, env, {
      out: (s) => Deno.stdout.writeSync(utf8.encode(s)),
      err: (s) => Deno.stderr.writeSync(utf8.encode(s)),
    });
    return { config, env, level: parseLogLevel(env) };
  } catch (e) {
    if (e instanceof FlagExit) return e.exitCode;
    if (e instanceof RangeError) {
      Deno.stderr.writeSync(utf8.encode(`error: ${e.message}\n`));
      return 2;
    }
    throw e;
  }
}

/**
 * The configuration as logged at startup: every setting, no secrets.
 * @returns name to value, in a stable order.
 */
export function startupFields(config: Config): Record<string, string | number> {
  return {
    node: config.node,
    mode: config.mode,
    interval: `${config.intervalMs / 1000}s`,
    table: config.table,
    questdb: describeConfig(config.questdb),
    disks: config.disks.length ? config.disks.join(",") : "none",
    diskTable: config.diskTable,
    watchdog: config.watchdog,
    bufferRows: config.bufferRows,
    spoolDir: config.spoolDir,
  };
}
