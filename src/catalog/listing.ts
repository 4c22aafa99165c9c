/**
 * Pure parsers of the engine's listings: `docker ps --no-trunc --format '{{json .}}'` (which
 * containers run) and `docker inspect` (what the catalog holds of each).
 *
 * Field names: docker/cli cli/command/formatter/container.go (ps) and moby api/types
 * container.InspectResponse (inspect). Checked on engine 20.10 with CLI 28.2.
 *
 * @module
 */
import type { ContainerInfo } from "./container.ts";

/** One line of `docker ps`. */
export interface PsEntry {
  /** Full ID (`ID` with `--no-trunc`). */
  readonly id: string;
  /** First name (`Names`, comma-separated when a container has links). */
  readonly name: string;
  /** Image (`Image`). */
  readonly image: string;
  /** `running`, `paused`, ... (`State`). */
  readonly state: string;
}

/** What `docker inspect` says of one container, without its cgroups. */
export interface Inspected extends Omit<ContainerInfo, "cgroups"> {
  /** `State.Health.Status` (`starting`, `healthy`, `unhealthy`), when a check is defined. */
  readonly health?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/**
 * Parses the output of `docker ps --no-trunc --format '{{json .}}'`, one object per line.
 * `Labels` is not read: the CLI joins them with commas, which values may contain; labels come
 * from `docker inspect`.
 *
 * @param text the whole output.
 * @returns the running (and paused) containers.
 * @throws {SyntaxError} when a non-empty line is not a JSON object with an `ID`.
 */
export function parsePs(text: string): PsEntry[] {
  const out: PsEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const o: unknown = JSON.parse(line);
    if (!isRecord(o) || typeof o.ID !== "string" || o.ID === "") {
      throw new SyntaxError(`docker ps line without ID: ${line.slice(0, 80)}`);
    }
    out.push({
      id: o.ID,
      name: str(o.Names).split(",")[0] ?? "",
      image: str(o.Image),
      state: str(o.State),
    });
  }
  return out;
}

/**
 * Parses `docker inspect` output (a JSON array) into what the catalog holds.
 *
 * @param text the whole output.
 * @returns one entry per container object; objects without an `Id` are skipped.
 * @throws {SyntaxError} when the text is not a JSON array.
 */
export function parseInspect(text: string): Inspected[] {
  const arr: unknown = JSON.parse(text);
  if (!Array.isArray(arr)) throw new SyntaxError("docker inspect output is not a JSON array");
  const out: Inspected[] = [];
  for (const c of arr) {
    if (!isRecord(c) || typeof c.Id !== "string") continue;
    const state = isRecord(c.State) ? c.State : {};
    const config = isRecord(c.Config) ? c.Config : {};
    const host = isRecord(c.HostConfig) ? c.HostConfig : {};
    const labels: Record<string, string> = {};
    if (isRecord(config.Labels)) {
      for (const [k, v] of Object.entries(config.Labels)) if (typeof v === "string") labels[k] = v;
    }
    const health = isRecord(state.Health) ? str(state.Health.Status) : "";
    const pid = typeof state.Pid === "number" && state.Pid > 0 ? state.Pid : 0;
    out.push({
      id: c.Id,
      name: str(c.Name).replace(/^\//, ""),
      image: str(config.Image),
      labels,
      pid,
      networkMode: str(host.NetworkMode),
      restartCount: typeof c.RestartCount === "number" ? c.RestartCount : 0,
      state: str(state.Status),
      ...(health ? { health } : {}),
    });
  }
  return out;
}
