/**
 * Process logging: level selection from the environment, logtape configuration, and the
 * journald line format.
 *
 * All daemon loggers live under the category root {@link ROOT_CATEGORY}; take one with
 * `getLogger([...ROOT_CATEGORY, "notify"])` from `@logtape/logtape`.
 *
 * @module
 */

import { fstatSync } from "node:fs";
import { inspect } from "node:util";
import {
  configure,
  getTextFormatter,
  type LogRecord,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";

/** The levels the daemon logs at, least to most severe (logtape's names, without `fatal`). */
export type LogLevelName = "trace" | "debug" | "info" | "warning" | "error";

/** Category root of every logger in the daemon. */
export const ROOT_CATEGORY: readonly ["container-statsd"] = ["container-statsd"];

const LOG_LEVEL_NAMES: Readonly<Record<string, LogLevelName>> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warning: "warning",
  warn: "warning",
  error: "error",
};

/**
 * RUST_LOG level names as the Rust original's `env_logger` accepts them (docs.rs env_logger,
 * "Enabling logging"); `off` has no counterpart here and maps to the quietest level.
 */
const RUST_LEVEL_NAMES: Readonly<Record<string, LogLevelName>> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warning",
  error: "error",
  off: "error",
};

/** Crate names of the Rust original that a `RUST_LOG` target may name (`container_statsd=debug`). */
const OWN_TARGETS: readonly string[] = ["container_statsd", "container-statsd"];

/**
 * Chooses the log level from the environment.
 *
 * `LOG_LEVEL` wins: one of `trace`, `debug`, `info`, `warning` (or `warn`), `error`,
 * case-insensitive. `RUST_LOG` is accepted for drop-in compatibility with the Rust original,
 * in `env_logger` directive syntax (comma-separated `level`, `target=level` or `target`, with an
 * optional `/regex` suffix that is ignored). From it the level is, in order: the directive that
 * names the original's crate (`container_statsd` or `container_statsd::...`; a bare crate name
 * means `trace`, as in `env_logger`), else the global directive (a bare level), else the first
 * directive's level, else (only other crates named, e.g. `RUST_LOG=hyper`) `info`. `warn` maps
 * to `warning` and `off` to `error`. Empty or unset variables are ignored; with neither set the
 * level is `info`.
 *
 * @param env The environment, e.g. `{ LOG_LEVEL: Deno.env.get("LOG_LEVEL"), RUST_LOG: ... }`.
 * @returns The level to pass to {@link setupLogging}.
 * @throws {RangeError} When the chosen variable holds a value that is not a level; the
 *   one-line message names the variable, the value and the allowed values.
 * @example
 * ```ts
 * parseLogLevel({ RUST_LOG: "info,container_statsd=debug" }); // "debug"
 * parseLogLevel({ LOG_LEVEL: "warn", RUST_LOG: "trace" }); // "warning"
 * ```
 */
export function parseLogLevel(
  env: { readonly LOG_LEVEL?: string | undefined; readonly RUST_LOG?: string | undefined },
): LogLevelName {
  const logLevel = env.LOG_LEVEL?.trim();
  if (logLevel !== undefined && logLevel !== "") {
    const level = LOG_LEVEL_NAMES[logLevel.toLowerCase()];
    if (level === undefined) {
      throw new RangeError(
        `Invalid LOG_LEVEL ${JSON.stringify(logLevel)}: expected one of trace, debug, info, ` +
          `warning (or warn), error`,
      );
    }
    return level;
  }
  const rustLog = env.RUST_LOG?.trim();
  if (rustLog !== undefined && rustLog !== "") return parseRustLog(rustLog);
  return "info";
}

function parseRustLog(value: string): LogLevelName {
  const invalid = (detail: string): RangeError =>
    new RangeError(
      `Invalid RUST_LOG ${JSON.stringify(value)}: ${detail}; expected levels trace, debug, ` +
        `info, warn, error, off, as "level", "target=level" or comma-separated directives`,
    );
  let own: LogLevelName | undefined;
  let global: LogLevelName | undefined;
  let first: LogLevelName | undefined;
  const spec = value.split("/", 1)[0] ?? "";
  for (const raw of spec.split(",")) {
    const directive = raw.trim();
    if (directive === "") continue;
    const eq = directive.indexOf("=");
    let target: string | undefined;
    let level: LogLevelName | undefined;
    if (eq < 0) {
      level = RUST_LEVEL_NAMES[directive.toLowerCase()];
      if (level === undefined) {
        // A bare target enables everything for it (env_logger); only our own crate matters.
        if (isOwnTarget(directive)) own = "trace";
        continue;
      }
    } else {
      target = directive.slice(0, eq).trim();
      const name = directive.slice(eq + 1).trim();
      level = RUST_LEVEL_NAMES[name.toLowerCase()];
      if (level === undefined) throw invalid(`level ${JSON.stringify(name)} is not known`);
      if (target === "") throw invalid(`directive ${JSON.stringify(directive)} has no target`);
    }
    first ??= level;
    if (target === undefined) global = level;
    else if (isOwnTarget(target)) own = level;
  }
  // Only targets of other crates (e.g. `RUST_LOG=hyper`): nothing says how loud we should be.
  return own ?? global ?? first ?? "info";
}

function isOwnTarget(target: string): boolean {
  return OWN_TARGETS.some((name) => target === name || target.startsWith(`${name}::`));
}

/**
 * Tells whether stderr is connected to the journal.
 *
 * systemd sets `JOURNAL_STREAM=<device>:<inode>` (decimal) for a service whose stdout or stderr
 * goes to journald; a process is talking to the journal when that pair equals the `st_dev` and
 * `st_ino` of its stderr, which also rules out an inherited variable after a redirect
 * (man systemd.exec, "$JOURNAL_STREAM").
 *
 * @param journalStream The variable's value, `null` when unset; when omitted it is read with
 *   `Deno.env.get("JOURNAL_STREAM")` (without `--allow-env` for it, as if unset).
 * @param stderrStat Returns stderr's device and inode; defaults to `fstat(2)`.
 * @returns `true` when stderr is the journal stream, `false` otherwise (also when the variable
 *   is missing or malformed, or when stderr cannot be examined).
 */
export function underJournald(
  journalStream: string | null = readEnv("JOURNAL_STREAM"),
  stderrStat: () => { dev: number | bigint; ino: number | bigint } = () => fstatSync(2),
): boolean {
  if (journalStream === null) return false;
  const match = /^(\d+):(\d+)$/.exec(journalStream.trim());
  if (match === null) return false;
  try {
    const stat = stderrStat();
    return String(stat.dev) === match[1] && String(stat.ino) === match[2];
  } catch {
    return false;
  }
}

function readEnv(name: string): string | null {
  try {
    return Deno.env.get(name) ?? null;
  } catch {
    return null; // no --allow-env for it
  }
}

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  /**
   * Writes lines in journald's format (`<P>message`, no timestamp). Defaults to
   * {@link underJournald}().
   */
  readonly journald?: boolean;
  /**
   * Receives each formatted record, ending in a newline. Defaults to a synchronous write to
   * stderr, so nothing is lost when the process exits right after logging. Meant for tests.
   */
  readonly write?: (text: string) => void;
}

/**
 * The syslog priority that journald reads from a `<P>` line prefix: 3 err, 4 warning, 6 info,
 * 7 debug (man sd-daemon, "SD_ERR"...; man systemd.exec, SyslogLevelPrefix=).
 *
 * @param level A logtape level (`LogLevelName` or `fatal`).
 * @returns The priority digit, 2 (crit) for `fatal`.
 */
export function journalPriority(level: LogLevelName | "fatal"): number {
  switch (level) {
    case "fatal":
      return 2;
    case "error":
      return 3;
    case "warning":
      return 4;
    case "info":
      return 6;
    case "debug":
    case "trace":
      return 7;
  }
}

/**
 * Builds the formatter for journald: every line of the message (a multi-line message becomes
 * several journal entries) is prefixed with `<P>`; no timestamp, since the journal stamps each
 * entry itself, and no category (the journal entry carries the unit's identifier).
 *
 * @returns A logtape text formatter whose output ends in a newline.
 */
export function journaldFormatter(): TextFormatter {
  const base = getTextFormatter({
    timestamp: "none",
    value: renderValue,
    format: ({ message }) => message,
  });
  return (record: LogRecord): string => {
    const prefix = `<${journalPriority(record.level)}>`;
    const body = base(record).replace(/\r?\n$/, "");
    return body.split(/\r?\n/).map((line) => prefix + line).join("\n") + "\n";
  };
}

/**
 * Builds the formatter for a terminal or a log file:
 * `2025-01-02T03:04:05.678Z [INFO] container-statsd.notify: message`.
 *
 * @returns A logtape text formatter whose output ends in a newline.
 */
export function plainFormatter(): TextFormatter {
  return getTextFormatter({
    timestamp: "rfc3339",
    level: "FULL",
    category: ".",
    value: renderValue,
  });
}

/**
 * Renders a message property: strings as they are (`node=web-1`, not `node="web-1"`, so log
 * lines read like the daemon's flags) but with control characters escaped (`\n`, `\u001b`),
 * so that a value (an error text, a container name) can neither forge a log line nor send
 * terminal escapes; everything else as `node:util` `inspect` shows it, on one line.
 */
function renderValue(value: unknown): string {
  return typeof value === "string"
    ? escapeControls(value)
    : inspect(value, { breakLength: Infinity });
}

function escapeControls(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      out += char === "\n"
        ? "\\n"
        : char === "\r"
        ? "\\r"
        : char === "\t"
        ? "\\t"
        : `\\u${code.toString(16).padStart(4, "0")}`;
    } else {
      out += char;
    }
  }
  return out;
}

/**
 * Configures logtape for the daemon: loggers under {@link ROOT_CATEGORY} at `level` and above
 * go to stderr (formatted by {@link journaldFormatter} or {@link plainFormatter}); logtape's own
 * meta logger reports warnings and errors there too. Replaces any earlier configuration, so it
 * may be called again (e.g. by tests). Nothing from the environment is logged here.
 *
 * @param level The lowest level to write, usually from {@link parseLogLevel}.
 * @param options Output format and destination; see {@link LoggingOptions}.
 * @throws {Error} logtape's `ConfigError` if the configuration is rejected (not expected).
 */
export async function setupLogging(level: LogLevelName, options?: LoggingOptions): Promise<void> {
  const journald = options?.journald ?? underJournald();
  const formatter = journald ? journaldFormatter() : plainFormatter();
  const write = options?.write ?? writeStderr;
  const sink: Sink = (record) => write(formatter(record));
  await configure({
    reset: true,
    sinks: { stderr: sink },
    loggers: [
      { category: [...ROOT_CATEGORY], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  try {
    while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
  } catch {
    // stderr is gone (closed pipe); there is nowhere left to report it.
  }
}
