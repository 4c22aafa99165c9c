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
import { MAX_BUFFER_ROWS } from "../delivery/queue.ts";
import { describeConfig } from "../ilp/config.ts";
import { readCaCerts } from "../ilp/tls.ts";
import {
  INFLUX_URL_FORMS,
  type InfluxCredentials,
  type InfluxTarget,
  parseInfluxTarget,
  readInfluxCredentials,
} from "../ilp/influx.ts";
import { type LogLevelName, parseLogLevel } from "../service/logging.ts";
import { parseStatsdTarget, STATSD_URL_FORM, type StatsdTarget } from "../sink/statsd.ts";
import { type LabelMatch, parseLabelMatch, validateGlob } from "../catalog/filters.ts";
import { type LabelColumn, parseLabelFlag, resolveLabelColumns } from "../catalog/labels.ts";
import { CONTAINER_TABLE } from "../schema/containers.ts";
import { EVENT_TABLE } from "../schema/events.ts";
import { TIMESTAMP_COLUMN } from "../schema/table.ts";
import { describeRetention, parseRetention, type Retention } from "../schema/ddl.ts";
import { type ListenAddress, parseListen, showListen } from "../exporter/listen.ts";

/** The daemon's effective configuration. */
export interface Config {
  /** Value of the `host` symbol on every row. */
  node: string;
  /** How samples are reduced: `avg` or `max`. */
  mode: Mode;
  /**
   * The QuestDB sink (parsed client configuration): from --questdb or QDB_CLIENT_CONF, else the
   * default target unless --influxdb is given; null for no QuestDB sink.
   */
  questdb: ClientConfig | null;
  /** `--influxdb`: InfluxDB and VictoriaMetrics sinks, one per URL. */
  influxdb: InfluxTarget[];
  /** `--statsd`: StatsD sinks, one per URL. */
  statsd: StatsdTarget[];
  /** Credentials of the --influxdb sinks, from INFLUX_* variables. Secret. */
  influxCredentials: InfluxCredentials;
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
  /** `--source`: where samples come from, the `docker stats` stream or the cgroup files. */
  source: "docker" | "cgroup";
  /** `--sample-period`: how often the cgroup source reads, milliseconds (100 to 60 000). */
  samplePeriodMs: number;
  /** Most rows held for delivery; the oldest are dropped beyond it. */
  bufferRows: number;
  /** Directory for the undelivered-rows spool. */
  spoolDir: string;
  /** `--events`: whether the lifecycle table is written. */
  events: "enabled" | "disabled";
  /** `--events-table`: lifecycle table name. */
  eventsTable: string;
  /** `--label`: container labels kept as symbol columns (defaults resolved). */
  labels: LabelColumn[];
  /** `--include`: name globs a container must match one of (none: all). */
  include: string[];
  /** `--exclude`: name globs that leave a container out (exclude wins). */
  exclude: string[];
  /** `--include-label`: label conditions a container must match one of (none: all). */
  includeLabels: LabelMatch[];
  /** `--exclude-label`: label conditions that leave a container out. */
  excludeLabels: LabelMatch[];
  /** `--dry-run`: print each interval's rows to stdout (`table` or `ilp`), no QuestDB; or null. */
  dryRun: "table" | "ilp" | null;
  /** `--retention`: TTL of the tables the daemon creates; null for none. */
  retention: Retention | null;
  /** `--listen`: where the Prometheus endpoint listens; null for none. */
  listen: ListenAddress | null;
  /** `--listen-host-label`: add `host=<node>` to every container series on /metrics. */
  listenHostLabel: boolean;
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

/** Default QuestDB target when none of --questdb, QDB_CLIENT_CONF and --influxdb is given. */
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

/**
 * Parses `--sample-period`: a duration with a unit, `ms` or `s` (`100ms`, `500ms`, `1s`,
 * `2.5s`), from 100 ms to 60 s.
 * @returns milliseconds.
 * @throws {InvalidArgumentError} (commander) naming the allowed range.
 */
export function parseSamplePeriod(value: string): number {
  const allowed = "Allowed: a duration from 100ms to 60s, such as 100ms, 500ms, 1s, 2.5s, 60s.";
  const m = /^(\d{1,5}(?:\.\d{1,3})?)(ms|s)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(allowed);
  const ms = Math.round(Number(m[1]) * (m[2] === "s" ? 1000 : 1));
  if (ms < 100 || ms > 60_000) throw new InvalidArgumentError(allowed);
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

/** Accumulates the values of a repeatable flag, each checked by `parse`. */
function repeatable<T>(parse: (v: string) => T): (value: string, previous: T[]) => T[] {
  return (value, previous) => [...previous, wrap(parse)(value)];
}

/** Accumulates repeated `--disks` values, each checked by the disk source's own rule. */
function collectDisk(value: string, previous: string[]): string[] {
  return [...previous, wrap(validateDiskArgument)(value)];
}

function positiveInt(min: number, max: number, why?: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      const because = why === undefined ? "" : ` (${why})`;
      throw new InvalidArgumentError(`Allowed: a whole number from ${min} to ${max}${because}.`);
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
 * @param env environment (QDB_CLIENT_CONF, INFLUX_TOKEN, INFLUX_USERNAME, INFLUX_PASSWORD,
 *   STATE_DIRECTORY, HOME).
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
      "Samples every container of a Docker host, from the `docker stats` stream (--source " +
        "docker, the default) or from its cgroup files (--source cgroup: also sees short-lived " +
        "containers, for about a twentieth of the host CPU), reduces the samples per " +
        "container over aligned intervals, and publishes one row per container per interval " +
        "to QuestDB over ILP.",
    )
    .version(denoJson.version, "-V, --version")
    .exitOverride()
    // No colour probing: commander would read FORCE_COLOR and CLICOLOR_FORCE, which the start
    // task does not grant (--help died with NotCapable).
    .configureOutput({
      writeOut: output.out,
      writeErr: output.err,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
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
    .option(
      "--influxdb <url>",
      "InfluxDB or VictoriaMetrics to write to as well (repeatable; alone: instead of QuestDB): " +
        "http(s)://host:8086/?db=NAME[&rp=RP] (1.x), ?org=ORG&bucket=BUCKET (2.x/3.x), " +
        "http(s)://host:8428/ (VictoriaMetrics); credentials from INFLUX_TOKEN or " +
        "INFLUX_USERNAME/INFLUX_PASSWORD",
      repeatable(String),
      [] as string[],
    )
    .option(
      "--statsd <url>",
      "StatsD or DogStatsD server to send metrics to as well (repeatable; alone: instead of " +
        `QuestDB): ${STATSD_URL_FORM}`,
      repeatable((v) => {
        try {
          return parseStatsdTarget(v);
        } catch (e) {
          throw new InvalidArgumentError(`${(e as Error).message}. Allowed: ${STATSD_URL_FORM}.`);
        }
      }),
      [] as StatsdTarget[],
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
    .addOption(
      new Option("--events <state>", "lifecycle table of container events")
        .choices(["enabled", "disabled"]).default("enabled"),
    )
    .option(
      "--events-table <name>",
      "lifecycle table",
      wrap(validateTableName),
      "containerEvents",
    )
    .option(
      "--label <key[=column]>",
      "container label kept as a symbol column (repeatable); `none` drops the defaults " +
        "compose_project and compose_service",
      repeatable(parseLabelFlag),
      [] as ReturnType<typeof parseLabelFlag>[],
    )
    .option(
      "--include <glob>",
      "follow only containers whose name matches (repeatable)",
      repeatable(validateGlob),
      [] as string[],
    )
    .option(
      "--exclude <glob>",
      "leave out containers whose name matches (repeatable; exclude wins)",
      repeatable(validateGlob),
      [] as string[],
    )
    .option(
      "--include-label <key[=value]>",
      "follow only containers with this label (repeatable)",
      repeatable(parseLabelMatch),
      [] as LabelMatch[],
    )
    .option(
      "--exclude-label <key[=value]>",
      "leave out containers with this label (repeatable; exclude wins)",
      repeatable(parseLabelMatch),
      [] as LabelMatch[],
    )
    .option(
      "--host-root <dir>",
      "where the host's / is seen (a daemon in a container: /host of -v /:/host:ro,rslave)",
      "/",
    )
    .addOption(
      new Option(
        "--source <kind>",
        "where samples come from: the `docker stats` stream, or each container's cgroup " +
          "files and /proc/<pid>/net/dev read directly (under --host-root)",
      ).choices(["docker", "cgroup"]).default("docker"),
    )
    .option(
      "--sample-period <duration>",
      "how often --source cgroup reads: 100ms to 60s",
      parseSamplePeriod,
      1000,
    )
    .option(
      "--buffer-rows <n>",
      "most rows held for delivery; oldest dropped beyond",
      wrap(
        positiveInt(
          1,
          MAX_BUFFER_ROWS,
          "the queue must fit in one V8 string, 2^29-24 characters: about 512 a row",
        ),
      ),
      100_000,
    )
    .option(
      "--spool-dir <dir>",
      "where undelivered rows are kept across restarts " +
        "(default $STATE_DIRECTORY, else ~/.local/state/container-statsd)",
    )
    .addOption(
      new Option(
        "--dry-run [format]",
        "no QuestDB: print each interval's rows to stdout, as an aligned table or ILP lines",
      ).choices(["table", "ilp"]).preset("table"),
    )
    .option(
      "--retention <period>",
      "TTL of the tables the daemon creates: <n><h|d|w|M|y> such as 7d, 2w, 3M (default none)",
      wrap(parseRetention),
    )
    .option(
      "--listen <[host:]port>",
      "serve Prometheus /metrics (cAdvisor's names) and /healthz here, e.g. :9338; " +
        "alone, without --questdb or --influxdb, no sink is written",
      wrap(parseListen),
    )
    .option("--listen-host-label", "add host=<--node> to every container series on /metrics");

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
    influxdb: string[];
    statsd: StatsdTarget[];
    table: string;
    interval: number;
    watchdog: "enabled" | "disabled";
    disks: string[];
    diskTable: string;
    events: "enabled" | "disabled";
    eventsTable: string;
    label: ReturnType<typeof parseLabelFlag>[];
    include: string[];
    exclude: string[];
    includeLabel: LabelMatch[];
    excludeLabel: LabelMatch[];
    hostRoot: string;
    source: "docker" | "cgroup";
    samplePeriod: number;
    bufferRows: number;
    spoolDir?: string;
    dryRun?: "table" | "ilp";
    retention?: Retention;
    listen?: ListenAddress;
    listenHostLabel?: true;
  }>();

  let questdb: ClientConfig | null = null;
  const target = o.questdb ?? env.QDB_CLIENT_CONF ??
    (o.influxdb.length + o.statsd.length === 0 && o.listen === undefined
      ? DEFAULT_QUESTDB
      : undefined);
  try {
    if (target !== undefined) {
      questdb = parseQuestdbTarget(target);
      readCaCerts(questdb); // an unreadable tls_roots file is a bad flag too
    }
  } catch (e) {
    const source = o.questdb !== undefined
      ? "option '-q, --questdb <target>'"
      : env.QDB_CLIENT_CONF !== undefined
      ? "environment variable QDB_CLIENT_CONF"
      : "default QuestDB target";
    const msg = `error: ${source} is invalid. ${(e as Error).message.replace(/\.?$/, ".")} ` +
      "Allowed: a host, host:port, or a client configuration string such as " +
      "http::addr=db1:9000; (http, https, tcp, tcps).";
    output.err(msg + "\n");
    throw new FlagExit(2, msg);
  }

  const { influxdb, influxCredentials } = parseInfluxFlags(o.influxdb, env, output);

  const tableFlags = [
    ["-t, --table <name>", o.table],
    ["-b, --disk-table <name>", o.diskTable],
    ["--events-table <name>", o.eventsTable],
  ] as const;
  for (const [i, [flag, name]] of tableFlags.entries()) {
    const other = tableFlags.slice(0, i).find(([, n]) => n === name);
    if (other !== undefined) {
      const msg = `error: option '${flag}' argument '${name}' is invalid. Allowed: a table name ` +
        `other than that of '${other[0]}'.`;
      output.err(msg + "\n");
      throw new FlagExit(2, msg);
    }
  }

  const period = o.source === "docker"
    ? program.getOptionValueSource("samplePeriod") === "cli"
      ? "a --source cgroup flag (the docker source reads at the engine's pace)"
      : null
    : o.samplePeriod > o.interval
    ? `at most the interval (${o.interval} ms) with --source cgroup`
    : null;
  if (period !== null) {
    const msg =
      `error: option '--sample-period <duration>' argument is invalid. Allowed: ${period}.`;
    output.err(msg + "\n");
    throw new FlagExit(2, msg);
  }

  let labels: LabelColumn[];
  try {
    const reserved = [...CONTAINER_TABLE.columns, ...EVENT_TABLE.columns].map((c) => c.name);
    labels = resolveLabelColumns(o.label, [...reserved, TIMESTAMP_COLUMN]);
  } catch (e) {
    const msg = `error: option '--label <key[=column]>' is invalid. ${(e as Error).message}`;
    output.err(msg + "\n");
    throw new FlagExit(2, msg);
  }

  return {
    node: o.node,
    mode: o.mode,
    questdb,
    influxdb,
    statsd: o.statsd,
    influxCredentials,
    table: o.table,
    intervalMs: o.interval,
    watchdog: o.watchdog,
    disks: o.disks,
    diskTable: o.diskTable,
    events: o.events,
    eventsTable: o.eventsTable,
    labels,
    include: o.include,
    exclude: o.exclude,
    includeLabels: o.includeLabel,
    excludeLabels: o.excludeLabel,
    hostRoot: o.hostRoot,
    source: o.source,
    samplePeriodMs: o.samplePeriod,
    bufferRows: o.bufferRows,
    spoolDir: o.spoolDir ?? defaultSpoolDir(env),
    dryRun: o.dryRun ?? null,
    retention: o.retention ?? null,
    listen: o.listen ?? null,
    listenHostLabel: o.listenHostLabel ?? false,
  };
}

/**
 * Reads the `--influxdb` URLs, after commander so that a URL is never echoed (it may hold a
 * password), and the INFLUX_* credentials they use.
 * @throws {FlagExit} (2) after writing one line to `output.err`: a bad URL, one given twice,
 *   or INFLUX_USERNAME without INFLUX_PASSWORD (or the reverse).
 */
function parseInfluxFlags(
  urls: readonly string[],
  env: Record<string, string | undefined>,
  output: { err: (s: string) => void },
): { influxdb: InfluxTarget[]; influxCredentials: InfluxCredentials } {
  const fail = (msg: string): never => {
    output.err(msg + "\n");
    throw new FlagExit(2, msg);
  };
  const flag = "error: option '--influxdb <url>' is invalid.";
  const allowed = `Allowed: ${INFLUX_URL_FORMS}, each once.`;
  const influxdb = urls.map((url) => {
    try {
      return parseInfluxTarget(url);
    } catch (e) {
      return fail(`${flag} ${(e as Error).message}. ${allowed}`);
    }
  });
  if (new Set(influxdb.map((t) => t.spoolFile)).size < influxdb.length) {
    fail(`${flag} The same server and database is given twice. ${allowed}`);
  }
  try {
    return { influxdb, influxCredentials: urls.length > 0 ? readInfluxCredentials(env) : {} };
  } catch (e) {
    return fail(`error: ${(e as Error).message} (for --influxdb).`);
  }
}

/** Environment variables the daemon reads (the start task grants exactly these). */
export const ENV_NAMES = [
  "LOG_LEVEL",
  "RUST_LOG",
  "QDB_CLIENT_CONF",
  "INFLUX_TOKEN",
  "INFLUX_USERNAME",
  "INFLUX_PASSWORD",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "JOURNAL_STREAM",
  "STATE_DIRECTORY",
  "HOME",
  "PATH",
  "DOCKER_HOST",
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
 * @returns `name=value` pairs separated by spaces, in a stable order.
 */
export function startupFields(config: Config): string {
  const fields: Record<string, string | number> = {
    node: config.node,
    mode: config.mode,
    interval: `${config.intervalMs / 1000}s`,
    source: config.source === "cgroup"
      ? `cgroup(period=${config.samplePeriodMs}ms,hostRoot=${config.hostRoot})`
      : "docker",
    table: config.table,
    questdb: config.questdb ? describeConfig(config.questdb) : "none",
    influxdb: config.influxdb.map((t) => t.name).join(",") || "none",
    statsd: config.statsd.map((t) => t.name).join(",") || "none",
    disks: config.disks.length ? config.disks.join(",") : "none",
    diskTable: config.diskTable,
    events: config.events === "enabled" ? config.eventsTable : "disabled",
    labels: config.labels.map((l) => `${l.key}=${l.column}`).join(",") || "none",
    include: config.include.join(",") || "all",
    exclude: config.exclude.join(",") || "none",
    includeLabels: config.includeLabels.map(showMatch).join(",") || "all",
    excludeLabels: config.excludeLabels.map(showMatch).join(",") || "none",
    watchdog: config.watchdog,
    bufferRows: config.bufferRows,
    spoolDir: config.spoolDir,
    dryRun: config.dryRun ?? "off",
    retention: describeRetention(config.retention).replace(" ", ""),
    listen: config.listen ? showListen(config.listen) : "off",
  };
  return Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ");
}

function showMatch(m: LabelMatch): string {
  return m.value === undefined ? m.key : `${m.key}=${m.value}`;
}
