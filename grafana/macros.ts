/**
 * What Grafana and the QuestDB data source do to a panel's SQL before QuestDB sees it, so that
 * tests run the dashboard's queries exactly as Grafana would:
 *
 * 1. the plugin's frontend expands `$__conditionalAll(condition, $var)` (the condition, or
 *    `1=1` when `$var` has All selected), then replaces template variables (`$host`,
 *    `${name}`, and Grafana's own `$__interval_ms`) through Grafana's template service,
 *    formatting a multi-value variable as `'a','b'` and a single value as is
 *    (questdb/grafana-questdb-datasource src/data/QuestDbDatasource.ts,
 *    `applyTemplateVariables`, `applyConditionalAll`, `getMacroArgs` and `format`);
 * 2. the plugin's backend expands the SQL macros with grafana-plugin-sdk-go's
 *    `sqlutil.Interpolate` (data/sqlutil/macros.go, v0.291.1 as the plugin's go.mod pins it):
 *    sqlutil's default macros merged with the plugin's own, which win
 *    (questdb/grafana-questdb-datasource pkg/macros/macros.go, registered in
 *    pkg/plugin/driver.go `Macros()`: `fromTime`, `toTime`, `timeFilter`, `sampleByInterval`).
 *
 * Not implemented: ad hoc filters (the dashboard has none).
 *
 * @module
 */

/** The part of a Grafana query request that the macros read. */
export interface QueryRange {
  /** Start of the dashboard's time range, ms since the epoch. */
  readonly fromMs: number;
  /** End of the dashboard's time range, ms since the epoch. */
  readonly toMs: number;
  /** Grafana's interval for the panel (`intervalMs` of the request), ms. */
  readonly intervalMs: number;
}

/** A multi-value variable with All selected (and no custom all value): its options. */
export interface AllSelected {
  /** Every option's value, as Grafana passes them to the format function. */
  readonly all: readonly string[];
}

/** A variable's current value: one value, several (multi-value), or All. */
export type VariableValue = string | readonly string[] | AllSelected;

/** Current values of the dashboard's variables by name. */
export type VariableValues = Readonly<Record<string, VariableValue>>;

/** A macro: the query's range and the trimmed arguments to the SQL text that replaces it. */
type MacroFunc = (q: QueryRange, args: readonly string[] | null) => string;

/**
 * Microseconds since the epoch, as Go's `time.UnixMicro()` gives for a time built from ms.
 * @param ms milliseconds since the epoch (a whole number, as Grafana sends).
 */
function unixMicro(ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1000n).toString();
}

/** `fmt.Errorf("%w: expected 1 argument, received %d", ErrorBadArgumentCount, n)`. */
function oneArgument(args: readonly string[] | null): string {
  const n = args?.length ?? 0;
  if (n !== 1 || !args) {
    throw new RangeError(`unexpected number of arguments: expected 1 argument, received ${n}`);
  }
  return args[0]!;
}

/** `time.Time.UTC().Format(time.RFC3339)`: whole seconds, `Z`. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/**
 * `$__sampleByInterval` (pkg/macros/macros.go `SampleByInterval`): whole hours as `Nh` (or
 * `Nd` when the interval is a whole number of hours, at least 24), else whole seconds as `Ns`,
 * else milliseconds as `NT` (at least `1T`). Go truncates each unit towards zero, so 90 min
 * gives `1h` and 1.5 s gives `1s`.
 * @param intervalMs Grafana's interval, ms.
 * @returns a QuestDB SAMPLE BY unit string.
 */
export function sampleByInterval(intervalMs: number): string {
  const HOUR = 3_600_000;
  const hours = Math.trunc(Math.max(intervalMs / HOUR, 0));
  const seconds = Math.trunc(Math.max(intervalMs / 1000, 0));
  if (hours > 0) {
    if (hours >= 24 && intervalMs % HOUR === 0) return `${Math.trunc(hours / 24)}d`;
    return `${hours}h`;
  }
  if (seconds > 0) return `${seconds}s`;
  return `${Math.max(Math.trunc(intervalMs), 1)}T`;
}

/** grafana-plugin-sdk-go backend/gtime `FormatInterval` (sqlutil's `$__interval`). */
function formatInterval(ms: number): string {
  const units: [number, string][] = [
    [365 * 86_400_000, "y"],
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1000, "s"],
    [1, "ms"],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.trunc(ms / size)}${unit}`;
  return "1ms";
}

/** sqlutil `macroTimeGroup`: nested `datepart` calls, from the named period up to the year. */
function timeGroup(_q: QueryRange, args: readonly string[] | null): string {
  const n = args?.length ?? 0;
  if (n !== 2 || !args) {
    throw new RangeError(`unexpected number of arguments: expected 1 argument, received ${n}`);
  }
  const parts = ["minute", "hour", "day", "month", "year"];
  const start = parts.indexOf(args[1]!);
  if (start < 0) return "";
  return parts.slice(start).map((p) => `datepart(${p}, ${args[0]})`).join(",");
}

/**
 * sqlutil's `DefaultMacros`, then the QuestDB plugin's, which replace those of the same name.
 * `$__table` and `$__column` give the query's table and column, which the plugin never sets.
 */
const MACROS: Readonly<Record<string, MacroFunc>> = {
  interval: (q) => formatInterval(q.intervalMs),
  interval_ms: (q) => String(Math.trunc(q.intervalMs)),
  timeFrom: (q, a) => `${oneArgument(a)} >= '${rfc3339(q.fromMs)}'`,
  timeTo: (q, a) => `${oneArgument(a)} <= '${rfc3339(q.toMs)}'`,
  timeGroup,
  table: () => "",
  column: () => "",
  // pkg/macros/macros.go:
  fromTime: (q) => `cast(${unixMicro(q.fromMs)} as timestamp)`,
  toTime: (q) => `cast(${unixMicro(q.toMs)} as timestamp)`,
  timeFilter: (q, a) => {
    const c = oneArgument(a);
    return `${c} >= cast(${unixMicro(q.fromMs)} as timestamp) AND ` +
      `${c} <= cast(${unixMicro(q.toMs)} as timestamp)`;
  },
  sampleByInterval: (q) => sampleByInterval(q.intervalMs),
};

/**
 * sqlutil `parseArgs`: a bracketed argument list at the start of `text`, split on commas at
 * depth 1 and trimmed.
 * @returns the arguments (null without a bracket) and the length of the bracketed text, or -1
 *   when the bracket is not closed.
 */
function parseArgs(text: string): { args: string[] | null; length: number } {
  if (!text.startsWith("(")) return { args: null, length: 0 };
  const args: string[] = [];
  let depth = 0;
  let arg = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "(") {
      depth++;
      if (depth === 1) continue;
    } else if (c === ")") {
      depth--;
      if (depth === 0) {
        args.push(arg.trim());
        return { args, length: i + 1 };
      }
    } else if (c === "," && depth === 1) {
      args.push(arg.trim());
      arg = "";
      continue;
    }
    arg += c;
  }
  return { args: null, length: -1 };
}

/**
 * Expands the SQL macros as the plugin's backend does (sqlutil `Interpolate`): macro names
 * longest first; for each, every `$__name` at a word boundary with its optional bracketed
 * arguments is replaced everywhere it occurs by the macro's text.
 *
 * @param sql SQL after template variables were replaced.
 * @param range the request's time range and interval.
 * @returns the SQL QuestDB receives.
 * @throws {SyntaxError} "failed to parse macro arguments (missing close bracket?)".
 * @throws {RangeError} when a macro gets the wrong number of arguments.
 */
export function interpolateMacros(sql: string, range: QueryRange): string {
  const names = Object.keys(MACROS).sort((a, b) => b.length - a.length);
  let raw = sql;
  for (const name of names) {
    const re = new RegExp(`\\$__${name}\\b`, "g");
    const matches: { full: string; args: string[] | null }[] = [];
    for (const m of raw.matchAll(re)) {
      const end = m.index + m[0].length;
      const { args, length } = parseArgs(raw.slice(end));
      if (length < 0) {
        throw new SyntaxError("failed to parse macro arguments (missing close bracket?)");
      }
      matches.push({ full: raw.slice(m.index, end + length), args });
    }
    for (const match of matches) {
      raw = raw.replaceAll(match.full, MACROS[name]!(range, match.args));
    }
  }
  return raw;
}

/**
 * The plugin's `getMacroArgs`: the arguments of a frontend macro whose `(` is at `argsIndex`,
 * split at commas of bracket depth 1, untrimmed; `[]` when the bracket is not closed.
 */
function getMacroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let bracketCount = 0;
  let lastArgEndIndex = 1;
  const argsSubstr = query.substring(argsIndex);
  let m: RegExpExecArray | null;
  while ((m = re.exec(argsSubstr)) !== null) {
    if (m[0] === "(") bracketCount++;
    else if (m[0] === ")") bracketCount--;
    if (m[0] === "," && bracketCount === 1) {
      args.push(argsSubstr.substring(lastArgEndIndex, re.lastIndex - 1));
      lastArgEndIndex = re.lastIndex;
    }
    if (bracketCount === 0) {
      args.push(argsSubstr.substring(lastArgEndIndex, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

/**
 * The plugin's `applyConditionalAll`: from the last `$__conditionalAll(condition, $var)` back
 * to the first, the condition, or `1=1` when `$var` has All selected (its value is `$__all`) or
 * is empty. A macro without exactly two arguments stops the expansion there.
 * @param sql a query as stored.
 * @param variables the variables' current values.
 * @returns the query with the macro expanded.
 */
export function applyConditionalAll(sql: string, variables: VariableValues): string {
  const macro = "$__conditionalAll(";
  let raw = sql;
  let at = raw.lastIndexOf(macro);
  while (at !== -1) {
    const params = getMacroArgs(raw, at + macro.length - 1);
    if (params.length !== 2) return raw;
    const name = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(params[1]!.trim())?.[0];
    let phrase = params[0]!;
    if (name !== undefined) {
      const v = variables[name];
      // Grafana's current.value.toString(): All is ["$__all"], several values join with ",".
      const text = v === undefined
        ? undefined
        : typeof v === "string"
        ? v
        : "all" in v
        ? "$__all"
        : v.join(",");
      if (text === "" || text === "$__all") phrase = "1=1";
    }
    raw = raw.replace(`${macro}${params[0]},${params[1]})`, phrase);
    at = raw.lastIndexOf(macro);
  }
  return raw;
}

/**
 * Replaces `$name` and `${name}` as Grafana's template service does with the plugin's format
 * function: several values (or All, as every option's value) as `'a','b'`, a single value as it
 * is. Grafana's built-in `$__interval_ms` comes from the request. Any other name, including the
 * macros (`$__timeFilter`), is left for the backend; so is `$__interval`, which the backend's
 * default macro spells as gtime does (`90s` is `1m`), where Grafana's frontend may spell it
 * otherwise. Only the `$name` and `${name}` forms are handled (not `${name:format}` or
 * `[[name]]`).
 *
 * @param sql a query after {@link applyConditionalAll}.
 * @param variables the variables' current values.
 * @param range the request, for `$__interval_ms`.
 * @returns the SQL the plugin's backend receives.
 */
export function applyTemplateVariables(
  sql: string,
  variables: VariableValues,
  range: QueryRange,
): string {
  const builtins: VariableValues = { __interval_ms: String(Math.trunc(range.intervalMs)) };
  return sql.replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, plain?: string, braced?: string) => {
    const name = plain ?? braced ?? "";
    const value = variables[name] ?? builtins[name];
    if (value === undefined) return whole;
    if (typeof value === "string") return value;
    const values = "all" in value ? value.all : value;
    return `'${values.join("','")}'`;
  });
}

/**
 * A query as QuestDB receives it from Grafana: `$__conditionalAll`, template variables, then
 * the backend's macros.
 * @throws {SyntaxError|RangeError} as {@link interpolateMacros}.
 */
export function expandQuery(sql: string, variables: VariableValues, range: QueryRange): string {
  const frontend = applyTemplateVariables(applyConditionalAll(sql, variables), variables, range);
  return interpolateMacros(frontend, range);
}
