/**
 * The engine's container events as `docker events --format '{{json .}}' --filter
 * type=container` prints them, and the lifecycle rows made of them.
 *
 * Shape (moby api/types/events Message; checked on engine 20.10 with CLI 28.2): `Type`,
 * `Action`, `Actor.ID`, `Actor.Attributes` (every label of the container, then `name` and
 * `image`, and per action `exitCode` (die), `signal` (kill), `oldName` (rename), `execID`
 * (exec_*)), `time` (s) and `timeNano` (ns). Engines before 25 also print the deprecated
 * `status`, `id` and `from`, which are not read.
 *
 * @module
 */

/** One container event, parsed. */
export interface EngineEvent {
  /** Full container ID (`Actor.ID`). */
  readonly id: string;
  /**
   * The action without its detail: `health_status` for `health_status: healthy`,
   * `exec_start` for `exec_start: /bin/sh -c ...`.
   */
  readonly action: string;
  /** Text after `: ` in the action (`healthy`), or `""`. */
  readonly detail: string;
  /** Event time, nanoseconds since the epoch (`timeNano`, read from the text: it exceeds 2^53). */
  readonly timeNano: bigint;
  /** Container name at the event's time, without `/` (`name` attribute), or `""`. */
  readonly name: string;
  /** Image as the container was created with (`image` attribute), or `""`. */
  readonly image: string;
  /** The container's labels: the attributes less the engine's own keys. */
  readonly labels: Readonly<Record<string, string>>;
  /** Exit status of the init process (`exitCode`, on `die`). */
  readonly exitCode?: number;
  /** Signal number sent (`signal`, on `kill`). */
  readonly signal?: number;
}

/**
 * Attributes the engine adds to a container event besides the labels (moby
 * daemon/events.go `LogContainerEventWithAttributes` and its callers).
 */
const ENGINE_ATTRIBUTES = new Set([
  "name",
  "image",
  "exitCode",
  "execDuration",
  "signal",
  "oldName",
  "execID",
]);

/**
 * Actions that become lifecycle rows (issue 10). `stop`, `exec_*`, `attach`, `resize`, `top`,
 * `update`, `commit`, `copy`, `export` and the like are read and ignored.
 */
export const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set([
  "create",
  "start",
  "die",
  "oom",
  "kill",
  "restart",
  "pause",
  "unpause",
  "destroy",
  "rename",
  "health_status",
]);

const TIME_NANO = /"timeNano":(\d+)/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function wholeNumber(v: string | undefined): number | undefined {
  if (v === undefined || !/^-?\d{1,10}$/.test(v)) return undefined;
  return Number(v);
}

/**
 * Parses one line of `docker events --format '{{json .}}'`.
 *
 * @param line one JSON object (a trailing CR or spaces are allowed).
 * @returns the event, or null for an event that is not about a container.
 * @throws {SyntaxError} when the line is not JSON or lacks `Action`, `Actor.ID` or a time.
 * @example
 * ```ts
 * const e = parseEventLine(line);
 * if (e?.action === "die") console.log(e.exitCode);
 * ```
 */
export function parseEventLine(line: string): EngineEvent | null {
  const raw: unknown = JSON.parse(line);
  if (!isRecord(raw)) throw new SyntaxError("event is not a JSON object");
  if (raw.Type !== undefined && raw.Type !== "container") return null;
  const actor = raw.Actor;
  if (typeof raw.Action !== "string" || !isRecord(actor) || typeof actor.ID !== "string") {
    throw new SyntaxError("event without Action or Actor.ID");
  }
  const m = TIME_NANO.exec(line);
  let timeNano: bigint;
  if (m) timeNano = BigInt(m[1]!);
  else if (typeof raw.time === "number" && Number.isSafeInteger(raw.time)) {
    timeNano = BigInt(raw.time) * 1_000_000_000n;
  } else throw new SyntaxError("event without timeNano or time");

  const attributes: Record<string, string> = {};
  const labels: Record<string, string> = {};
  if (isRecord(actor.Attributes)) {
    for (const [k, v] of Object.entries(actor.Attributes)) {
      if (typeof v !== "string") continue;
      attributes[k] = v;
      if (!ENGINE_ATTRIBUTES.has(k)) labels[k] = v;
    }
  }
  const colon = raw.Action.indexOf(": ");
  const action = colon < 0 ? raw.Action : raw.Action.slice(0, colon);
  const detail = colon < 0 ? "" : raw.Action.slice(colon + 2);
  const exitCode = wholeNumber(attributes.exitCode);
  const signal = wholeNumber(attributes.signal);
  return {
    id: actor.ID,
    action,
    detail,
    timeNano,
    name: (attributes.name ?? "").replace(/^\//, ""),
    image: attributes.image ?? "",
    labels,
    ...(exitCode === undefined ? {} : { exitCode }),
    ...(signal === undefined ? {} : { signal }),
  };
}

/**
 * Formats nanoseconds since the epoch as `docker events --since` takes them:
 * `seconds.nanoseconds` (moby api/types/time ParseTimestamps; the bound is inclusive).
 * @param ns nanoseconds since the epoch, >= 0.
 */
export function formatSince(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${s}.${frac}`;
}

/** One row of the lifecycle table (src/schema/events.ts). */
export interface LifecycleRow {
  /** The event's time, nanoseconds since the epoch: the designated timestamp. */
  readonly timeNano: bigint;
  /** Full container ID. */
  readonly id: string;
  /** 12-character short ID. */
  readonly container: string;
  /** Name at the event's time (a `rename` row carries the new name). */
  readonly name: string;
  /** Image. */
  readonly image: string;
  /** The action: one of {@link LIFECYCLE_ACTIONS}. */
  readonly event: string;
  /** `healthy`, `unhealthy` or `starting` on `health_status` rows. */
  readonly health?: string;
  /** Exit status on `die` rows (137 = SIGKILL, e.g. an OOM kill). */
  readonly exitCode?: number;
  /** Signal number on `kill` rows. */
  readonly signal?: number;
  /** The engine's `RestartCount` as last inspected (0 for a container not inspected yet). */
  readonly restartCount: number;
  /** The container's labels (label symbols are taken from them). */
  readonly labels: Readonly<Record<string, string>>;
}
