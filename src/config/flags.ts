/**
 * Command-line flags (seed-compatible names and defaults; the Rust original's README), each
 * declared once in {@link FLAGS}: commander's options, `--help` and the README's flag table are
 * built from it; the rules across flags run after parsing. A bad value prints one line naming
 * the flag and what is allowed; the caller exits with status 2 before anything starts.
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

/** QuestDB target unless --questdb, QDB_CLIENT_CONF, --influxdb, --statsd or --listen is given. */
export const DEFAULT_QUESTDB = "http::addr=localhost:9000;";

const INTERVAL_ALLOWED = "whole minutes 1 to 15, or a duration from 1s to 15m such as 10s, 90s, 2m";
const SAMPLE_PERIOD_ALLOWED = "a duration from 100ms to 60s, such as 100ms, 500ms, 1s, 2.5s, 60s";

/**
 * Parses `--interval`: a whole number is minutes (1 to 15, the seed's rule); a duration with a
 * unit (`10s`, `90s`, `2m`) is accepted from 1 s to 15 min.
 * @returns milliseconds.
 * @throws {InvalidArgumentError} (commander) naming what is allowed.
 */
export function parseInterval(value: string): number {
  const m = /^(\d{1,4})(s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`Allowed: ${INTERVAL_ALLOWED}.`);
  const n = Number(m[1]);
  const ms = m[2] === "s" ? n * 1000 : n * 60_000;
  if (ms < 1000 || ms > 15 * 60_000) {
    throw new InvalidArgumentError(`Allowed: ${INTERVAL_ALLOWED}.`);
  }
  return ms;
}

/**
 * Parses `--sample-period`: a duration with a unit, `ms` or `s` (`100ms`, `500ms`, `1s`,
 * `2.5s`), from 100 ms to 60 s.
 * @returns milliseconds.
 * @throws {InvalidArgumentError} (commander) naming the allowed range.
 */
export function parseSamplePeriod(value: string): number {
  const allowed = `Allowed: ${SAMPLE_PERIOD_ALLOWED}.`;
  const m = /^(\d{1,5}(?:\.\d{1,3})?)(ms|s)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(allowed);
  const ms = Math.round(Number(m[1]) * (m[2] === "s" ? 1000 : 1));
  if (ms < 100 || ms > 60_000) throw new InvalidArgumentError(allowed);
  return ms;
}

/** A whole number from `min` to `max` (`--buffer-rows`); else a RangeError. */
function wholeNumber(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new RangeError(`not ${min} to ${max}`);
    return n;
  };
}

/** Default spool directory: $STATE_DIRECTORY (systemd) or ~/.local/state/container-statsd. */
export function defaultSpoolDir(env: Record<string, string | undefined>): string {
  const state = env.STATE_DIRECTORY?.split(":")[0];
  if (state) return state;
  return `${env.HOME ?? "."}/.local/state/container-statsd`;
}

/** What commander holds after parsing, before the rules across flags; keys are {@link Config}'s. */
type Parsed = Omit<Config, "questdb" | "influxdb" | "influxCredentials" | "labels" | "spoolDir"> & {
  questdb: string | undefined;
  influxdb: string[];
  labels: ReturnType<typeof parseLabelFlag>[];
  spoolDir: string | undefined;
};

/** One flag, declared once: commander, `--help` and the README's table are built from it. */
export interface Flag {
  /** Commander's flags string, as every error line quotes it: `-n, --node <name>`. */
  flags: string;
  /** The {@link Config} key it sets (none: commander's own --help and --version). */
  key?: keyof Parsed;
  /** What it does, in Markdown (backticks are dropped in `--help`). */
  help: string;
  /** The value when the flag is absent. */
  default?: unknown;
  /** How the default reads, in Markdown (else none). */
  shown?: string;
  /** Commander's own check: "Allowed choices are ...". */
  choices?: readonly string[];
  /** Value of a bare `--flag [value]`. */
  preset?: string;
  /** Checks and converts one value; throws an Error whose message is the error line's tail. */
  parse?: (value: string) => unknown;
  /** A failed parse prints `Allowed: <allowed>.` (after the parser's reason when `reason`). */
  allowed?: string;
  /** Whether the parser's message comes before `Allowed:`. */
  reason?: boolean;
  /** Given once per value, gathered in an array (default empty). */
  repeatable?: boolean;
  /** Commander refuses a command line without it. */
  required?: boolean;
  /** README link for more. */
  docs?: string;
}

const TABLE_RULES = "validated against QuestDB's table-name rules";
const CATALOG = "docs/catalog.md";
const CGROUP = "docs/cgroup.md";

/** Every flag, in `--help` and README order. */
export const FLAGS = [
  {
    flags: "-n, --node <name>",
    key: "node",
    help: "value of the `host` symbol on every row",
    required: true,
    parse: (v: string) => {
      if (v.trim() === "") throw new RangeError("empty");
      return v;
    },
    allowed: "a non-empty name",
  },
  {
    flags: "-m, --mode <mode>",
    key: "mode",
    help: "`avg`: mean of the interval's samples; `max`: maximum of each column",
    choices: ["avg", "max"],
    default: "avg",
    shown: "`avg`",
  },
  {
    flags: "-i, --interval <n|duration>",
    key: "intervalMs",
    help: "a whole number is minutes, 1 to 15; a duration `10s`, `90s`, `2m` is accepted from " +
      "1 s to 15 min",
    default: 5 * 60_000,
    shown: "`5`",
    parse: parseInterval,
    allowed: INTERVAL_ALLOWED,
  },
  {
    flags: "-q, --questdb <target>",
    key: "questdb",
    help: "a host (`db1` means `http::addr=db1:9000;`), `host:port`, or a QuestDB client " +
      "configuration string: `http::addr=db1:9000;`, `https::addr=db1:9000;token=...;`, " +
      "`http::addr=db1:9000;username=u;password=p;`, `tcp::addr=db1:9009;`, `tcps::...`",
    shown: `\`$QDB_CLIENT_CONF\`, else \`${DEFAULT_QUESTDB}\``,
  },
  {
    flags: "--influxdb <url>",
    key: "influxdb",
    help: "InfluxDB 1.x/2.x/3.x or VictoriaMetrics to write to as well; alone, instead of " +
      `QuestDB: ${INFLUX_URL_FORMS}; credentials from INFLUX_TOKEN, or INFLUX_USERNAME and ` +
      "INFLUX_PASSWORD",
    repeatable: true,
    docs: "docs/influxdb.md",
  },
  {
    flags: "--statsd <url>",
    key: "statsd",
    help: "StatsD or DogStatsD server to send metrics to over UDP; alone, instead of QuestDB: " +
      `\`${STATSD_URL_FORM}\``,
    repeatable: true,
    parse: parseStatsdTarget,
    allowed: STATSD_URL_FORM,
    reason: true,
    docs: "docs/statsd.md",
  },
  {
    flags: "--dry-run [format]",
    key: "dryRun",
    help: "no QuestDB: print each interval's rows to stdout, as an aligned table (`--dry-run`) " +
      "or as ILP lines (`--dry-run=ilp`)",
    choices: ["table", "ilp"],
    preset: "table",
    default: null,
    shown: "off",
  },
  {
    flags: "--retention <period>",
    key: "retention",
    help: "QuestDB TTL of the tables the daemon creates: `<n><h|d|w|M|y>` such as `7d`, `2w`, " +
      "`3M`, `1y` (hours in whole days); an existing table keeps its own, reported at info",
    default: null,
    shown: "none",
    parse: parseRetention,
    docs: "docs/how-it-works.md#retention---retention",
  },
  {
    flags: "-t, --table <name>",
    key: "table",
    help: `container table; ${TABLE_RULES}`,
    default: "containerStats",
    parse: validateTableName,
  },
  {
    flags: "--events <state>",
    key: "events",
    help: "whether the lifecycle table of container events is written",
    choices: ["enabled", "disabled"],
    default: "enabled",
    docs: CATALOG,
  },
  {
    flags: "--events-table <name>",
    key: "eventsTable",
    help: `lifecycle table; ${TABLE_RULES}`,
    default: "containerEvents",
    parse: validateTableName,
    docs: CATALOG,
  },
  {
    flags: "--label <key[=column]>",
    key: "labels",
    help: "container label kept as a SYMBOL column; `none` drops the defaults",
    repeatable: true,
    shown: "the compose project and service",
    parse: parseLabelFlag,
    docs: CATALOG,
  },
  {
    flags: "--include <glob>",
    key: "include",
    help: "follow only containers whose name matches",
    repeatable: true,
    shown: "all",
    parse: validateGlob,
    docs: CATALOG,
  },
  {
    flags: "--exclude <glob>",
    key: "exclude",
    help: "leave out containers whose name matches; exclude wins",
    repeatable: true,
    parse: validateGlob,
    docs: CATALOG,
  },
  {
    flags: "--include-label <key[=value]>",
    key: "includeLabels",
    help: "follow only containers with this label",
    repeatable: true,
    shown: "all",
    parse: parseLabelMatch,
    docs: CATALOG,
  },
  {
    flags: "--exclude-label <key[=value]>",
    key: "excludeLabels",
    help: "leave out containers with this label; exclude wins",
    repeatable: true,
    parse: parseLabelMatch,
    docs: CATALOG,
  },
  {
    flags: "--listen <[host:]port>",
    key: "listen",
    help: "serve Prometheus `/metrics` (cAdvisor's names) and `/healthz` there (`:9338`); alone, " +
      "no sink is written",
    default: null,
    shown: "off",
    parse: parseListen,
    docs: "docs/prometheus.md",
  },
  {
    flags: "--listen-host-label",
    key: "listenHostLabel",
    help: "`host=<--node>` on every container series of `/metrics`",
    default: false,
    shown: "off",
    docs: "docs/prometheus.md",
  },
  {
    flags: "--source <kind>",
    key: "source",
    help: "where samples come from: the `docker stats` stream, or each container's cgroup " +
      "files and `/proc/<pid>/net/dev` read directly (under `--host-root`)",
    choices: ["docker", "cgroup"],
    default: "docker",
    docs: CGROUP,
  },
  {
    flags: "--sample-period <duration>",
    key: "samplePeriodMs",
    help: "how often `--source cgroup` reads: 100 ms to 60 s, at most the interval",
    default: 1000,
    shown: "`1s`",
    parse: parseSamplePeriod,
    allowed: SAMPLE_PERIOD_ALLOWED,
    docs: CGROUP,
  },
  {
    flags: "-d, --disks <disk>",
    key: "disks",
    help: "host disk to report: a device (`/dev/nvme0n1p1`), a link to one " +
      "(`/dev/disk/by-uuid/...`), a mount point (`/`, `/var/lib/docker`) or a device name " +
      "(`nvme0n1p1`)",
    repeatable: true,
    parse: validateDiskArgument,
  },
  {
    flags: "-b, --disk-table <name>",
    key: "diskTable",
    help: `disk table; ${TABLE_RULES}`,
    default: "diskStats",
    parse: validateTableName,
  },
  {
    flags: "--host-root <dir>",
    key: "hostRoot",
    help: "root under which `/proc` and `/sys` are read (a containerised daemon mounts the " +
      "host's there: `/host` of `-v /:/host:ro,rslave`)",
    default: "/",
  },
  {
    flags: "-w, --watchdog <state>",
    key: "watchdog",
    help: "systemd notify and watchdog; `disabled` never touches `NOTIFY_SOCKET`",
    choices: ["enabled", "disabled"],
    default: "enabled",
  },
  {
    flags: "--buffer-rows <n>",
    key: "bufferRows",
    help: `most rows held for delivery (up to ${MAX_BUFFER_ROWS}); beyond it the oldest are ` +
      "dropped, with a warning and a count",
    default: 100_000,
    parse: wholeNumber(1, MAX_BUFFER_ROWS),
    allowed: `a whole number from 1 to ${MAX_BUFFER_ROWS} (the queue must fit in one V8 ` +
      "string, 2^29-24 characters: about 512 a row)",
  },
  {
    flags: "--spool-dir <dir>",
    key: "spoolDir",
    help: "where undelivered rows are kept across restarts",
    shown: "`$STATE_DIRECTORY`, else `~/.local/state/container-statsd`",
  },
  { flags: "-V, --version", help: "print the version and exit" },
  { flags: "-h, --help", help: "print this help and exit" },
] as const satisfies readonly Flag[];

// Every key of Parsed is declared above (a compile error names a missing one).
const _declared: Record<
  Exclude<keyof Parsed, Extract<(typeof FLAGS)[number], { key: string }>["key"]>,
  never
> = {};

/** The flag's default as `--help` and the README show it. */
function shownDefault(flag: Flag): string | undefined {
  if (flag.shown !== undefined) return flag.shown;
  if (flag.default !== undefined && flag.default !== null) return `\`${flag.default}\``;
  return flag.repeatable ? "none" : undefined;
}

/** The flag's line in `--help`. */
function helpLine(flag: Flag): string {
  const notes = [
    flag.required ? "required" : undefined,
    flag.choices ? `one of ${flag.choices.join(", ")}` : undefined,
    flag.repeatable ? "repeatable" : undefined,
    flag.key && !flag.required ? `default ${shownDefault(flag) ?? "none"}` : undefined,
  ].filter((n) => n !== undefined);
  const text = notes.length ? `${flag.help} (${notes.join("; ")})` : flag.help;
  return text.replaceAll("`", "");
}

/**
 * The README's "## Flags" table, from {@link FLAGS}: a `<mode>` placeholder reads as its choices
 * (`<avg|max>`); the docs link follows the meaning.
 * @returns Markdown, one row per flag, unpadded (`deno fmt` aligns it), ending in a newline.
 */
export function flagsTable(): string {
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const rows = (FLAGS as readonly Flag[]).map((flag) => {
    const flags = flag.choices
      ? flag.flags.replace(
        /[<[][^>\]]*[>\]]$/,
        (p) => `${p[0]}${flag.choices!.join("|")}${p.at(-1)}`,
      )
      : flag.flags;
    const meaning = flag.help + (flag.repeatable ? "; repeatable" : "") +
      (flag.docs ? ` ([${flag.docs.split("#")[0]}](${flag.docs}))` : "");
    const shown = flag.required ? "(required)" : shownDefault(flag) ?? "";
    return `| \`${cell(flags)}\` | ${cell(shown)} | ${cell(meaning)} |`;
  });
  return ["| flag | default | meaning |", "| --- | --- | --- |", ...rows].join("\n") + "\n";
}

/** Commander's option for a declared flag: its parser reports `Allowed: ...` as declared. */
function option(flag: Flag): Option {
  const o = new Option(flag.flags, helpLine(flag));
  if (flag.choices) o.choices(flag.choices);
  if (flag.preset !== undefined) o.preset(flag.preset);
  if (flag.default !== undefined) o.default(flag.default);
  else if (flag.repeatable) o.default([]);
  if (flag.required) o.makeOptionMandatory();
  const parse = flag.parse;
  if (parse === undefined && !flag.repeatable) return o;
  return o.argParser((value: string, previous: unknown) => {
    let v: unknown = value;
    try {
      if (parse) v = parse(value);
    } catch (e) {
      const reason = (e as Error).message;
      throw new InvalidArgumentError(
        flag.allowed === undefined
          ? reason
          : `${flag.reason ? `${reason}. ` : ""}Allowed: ${flag.allowed}.`,
      );
    }
    return flag.repeatable ? [...previous as unknown[], v] : v;
  });
}

/** Writes one error line and stops: a bad flag. */
function fail(output: { err: (s: string) => void }, msg: string): never {
  output.err(msg + "\n");
  throw new FlagExit(2, msg);
}

/**
 * Parses the daemon's flags ({@link FLAGS}), then the rules across flags.
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
    .exitOverride()
    // No colour probing: commander would read FORCE_COLOR and CLICOLOR_FORCE, which the start
    // task does not grant (--help died with NotCapable).
    .configureOutput({
      writeOut: output.out,
      writeErr: output.err,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .configureHelp({ optionDescription: (o) => o.description })
    .showSuggestionAfterError(false)
    .allowExcessArguments(false);
  const options = new Map<keyof Parsed, Option>();
  for (const flag of FLAGS as readonly Flag[]) {
    if (flag.key !== undefined) {
      options.set(flag.key, option(flag));
      program.addOption(options.get(flag.key)!);
    } else if (flag.flags.endsWith("--version")) {
      program.version(denoJson.version, flag.flags, flag.help);
    } else program.helpOption(flag.flags, flag.help);
  }
  try {
    program.parse(argv as string[], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) throw new FlagExit(e.exitCode === 0 ? 0 : 2, e.message);
    throw e;
  }
  const o = Object.fromEntries(
    [...options].map(([key, opt]) => [key, program.getOptionValue(opt.attributeName())]),
  ) as Parsed;
  const given = (key: keyof Parsed) =>
    program.getOptionValueSource(options.get(key)!.attributeName()) === "cli";

  distinctTables(o, output);
  checkSamplePeriod(o, given("samplePeriodMs"), output);
  return {
    ...o,
    questdb: questdbTarget(o, env, output),
    ...parseInfluxFlags(o.influxdb, env, output),
    labels: labelColumns(o.labels, output),
    spoolDir: o.spoolDir ?? defaultSpoolDir(env),
  };
}

/**
 * The QuestDB sink: --questdb, else QDB_CLIENT_CONF, else {@link DEFAULT_QUESTDB} unless
 * --influxdb or --statsd is given (then null).
 * @throws {FlagExit} (2) after one line naming where the bad target came from.
 */
function questdbTarget(
  o: Parsed,
  env: Record<string, string | undefined>,
  output: { err: (s: string) => void },
): ClientConfig | null {
  const target = o.questdb ?? env.QDB_CLIENT_CONF ??
    (o.influxdb.length + o.statsd.length === 0 && o.listen === null ? DEFAULT_QUESTDB : undefined);
  if (target === undefined) return null;
  try {
    const questdb = parseQuestdbTarget(target);
    readCaCerts(questdb); // an unreadable tls_roots file is a bad flag too
    return questdb;
  } catch (e) {
    const source = o.questdb !== undefined
      ? "option '-q, --questdb <target>'"
      : env.QDB_CLIENT_CONF !== undefined
      ? "environment variable QDB_CLIENT_CONF"
      : "default QuestDB target";
    return fail(
      output,
      `error: ${source} is invalid. ${(e as Error).message.replace(/\.?$/, ".")} ` +
        "Allowed: a host, host:port, or a client configuration string such as " +
        "http::addr=db1:9000; (http, https, tcp, tcps).",
    );
  }
}

/** The three tables are distinct: the later flag of two alike is refused. */
function distinctTables(o: Parsed, output: { err: (s: string) => void }): void {
  const tables = [
    ["-t, --table <name>", o.table],
    ["-b, --disk-table <name>", o.diskTable],
    ["--events-table <name>", o.eventsTable],
  ] as const;
  for (const [i, [flag, name]] of tables.entries()) {
    const other = tables.slice(0, i).find(([, n]) => n === name);
    if (other !== undefined) {
      fail(
        output,
        `error: option '${flag}' argument '${name}' is invalid. Allowed: a table name ` +
          `other than that of '${other[0]}'.`,
      );
    }
  }
}

/**
 * `--sample-period` is for `--source cgroup` only (the docker source reads at the engine's
 * pace), and at most the interval.
 */
function checkSamplePeriod(o: Parsed, given: boolean, output: { err: (s: string) => void }) {
  const period = o.source === "docker"
    ? given ? "a --source cgroup flag (the docker source reads at the engine's pace)" : null
    : o.samplePeriodMs > o.intervalMs
    ? `at most the interval (${o.intervalMs} ms) with --source cgroup`
    : null;
  if (period !== null) {
    fail(
      output,
      `error: option '--sample-period <duration>' argument is invalid. Allowed: ${period}.`,
    );
  }
}

/** `--label` with defaults resolved; a column may not clash with the tables' own. */
function labelColumns(
  labels: Parsed["labels"],
  output: { err: (s: string) => void },
): LabelColumn[] {
  try {
    const reserved = [...CONTAINER_TABLE.columns, ...EVENT_TABLE.columns].map((c) => c.name);
    return resolveLabelColumns(labels, [...reserved, TIMESTAMP_COLUMN]);
  } catch (e) {
    return fail(
      output,
      `error: option '--label <key[=column]>' is invalid. ${(e as Error).message}`,
    );
  }
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
  const flag = "error: option '--influxdb <url>' is invalid.";
  const allowed = `Allowed: ${INFLUX_URL_FORMS}, each once.`;
  const influxdb = urls.map((url) => {
    try {
      return parseInfluxTarget(url);
    } catch (e) {
      return fail(output, `${flag} ${(e as Error).message}. ${allowed}`);
    }
  });
  if (new Set(influxdb.map((t) => t.spoolFile)).size < influxdb.length) {
    fail(output, `${flag} The same server and database is given twice. ${allowed}`);
  }
  try {
    return { influxdb, influxCredentials: urls.length > 0 ? readInfluxCredentials(env) : {} };
  } catch (e) {
    return fail(output, `error: ${(e as Error).message} (for --influxdb).`);
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
