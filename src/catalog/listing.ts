/**
 * Pure parsers of the Engine API's container answers: the listing `GET /containers/json`
 * (which containers exist, and in which state) and the inspect `GET /containers/{id}/json`
 * (what the catalog holds of one).
 *
 * Field names: moby api/types/container `Summary` (listing) and `InspectResponse` (inspect),
 * API 1.41 to 1.51. Checked on engine 20.10 (tests/fixtures/catalog/).
 *
 * @module
 */
import { isRecord } from "../engine/api.ts";
import type { ContainerInfo } from "./container.ts";

/** One container of the listing. */
export interface Listed {
  /** Full ID (`Id`). */
  readonly id: string;
  /** First name without the `/` (`Names[0]`). */
  readonly name: string;
  /** Image as created (`Image`). */
  readonly image: string;
  /** Every label (`Labels`). */
  readonly labels: Readonly<Record<string, string>>;
  /** `running`, `paused`, `exited`, `created`, ... (`State`). */
  readonly state: string;
}

/** What the inspect says of one container, without its cgroups. */
export interface Inspected extends Omit<ContainerInfo, "cgroups"> {
  /** `State.Health.Status` (`starting`, `healthy`, `unhealthy`), when a check is defined. */
  readonly health?: string;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function labelsOf(v: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (isRecord(v)) {
    for (const [k, x] of Object.entries(v)) if (typeof x === "string") labels[k] = x;
  }
  return labels;
}

/**
 * Parses the answer of `GET /containers/json?all=1`.
 *
 * @param json the parsed body: an array of container summaries.
 * @returns one entry per object with an `Id`; others are skipped.
 * @throws {SyntaxError} when the body is not an array.
 * @example
 * ```ts
 * const running = parseContainerList(await api.get("/containers/json?all=1"))
 *   .filter((c) => c.state === "running");
 * ```
 */
export function parseContainerList(json: unknown): Listed[] {
  if (!Array.isArray(json)) throw new SyntaxError("container listing is not a JSON array");
  const out: Listed[] = [];
  for (const c of json) {
    if (!isRecord(c) || typeof c.Id !== "string" || c.Id === "") continue;
    const names = Array.isArray(c.Names) ? c.Names : [];
    out.push({
      id: c.Id,
      name: str(names[0]).replace(/^\//, ""),
      image: str(c.Image),
      labels: labelsOf(c.Labels),
      state: str(c.State),
    });
  }
  return out;
}

/**
 * `State.StartedAt` as ms since the epoch; 0 for the engine's zero time (`0001-01-01T00:00:00Z`,
 * never started) or a value that does not parse.
 */
function startedAt(v: unknown): number {
  const ms = Date.parse(str(v));
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/**
 * Parses the answer of `GET /containers/{id}/json`.
 *
 * @param json the parsed body.
 * @returns what the catalog holds of the container.
 * @throws {SyntaxError} when it is not an object with an `Id`.
 */
export function parseInspect(json: unknown): Inspected {
  if (!isRecord(json) || typeof json.Id !== "string" || json.Id === "") {
    throw new SyntaxError("container inspect is not a JSON object with an Id");
  }
  const state = isRecord(json.State) ? json.State : {};
  const config = isRecord(json.Config) ? json.Config : {};
  const host = isRecord(json.HostConfig) ? json.HostConfig : {};
  const health = isRecord(state.Health) ? str(state.Health.Status) : "";
  const pid = typeof state.Pid === "number" && state.Pid > 0 ? state.Pid : 0;
  return {
    id: json.Id,
    name: str(json.Name).replace(/^\//, ""),
    image: str(config.Image),
    labels: labelsOf(config.Labels),
    pid,
    networkMode: str(host.NetworkMode),
    restartCount: typeof json.RestartCount === "number" ? json.RestartCount : 0,
    state: str(state.Status),
    startedAtMs: startedAt(state.StartedAt),
    ...(health ? { health } : {}),
  };
}
