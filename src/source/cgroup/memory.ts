/**
 * Memory of a container from its cgroup, reported as the engine reports it: usage without the
 * inactive file cache, the limit (the host's memory when the container has none), and the
 * percent of the one in the other.
 *
 * @module
 */
import { flatKeyValue, lineAt, numberAt, parseSingleValue } from "./_scan.ts";

/**
 * What cgroup v2 `memory.max` holds when there is no limit, as a number: containerd
 * cgroups cgroup2/utils.go reads `max` as math.MaxUint64 (2^64 - 1, which rounds to 2^64 as
 * a double).
 */
export const UNLIMITED = 2 ** 64;

/**
 * Parses the memory in use by a cgroup, page cache included: v1 `memory.usage_in_bytes` or v2
 * `memory.current`.
 *
 * Source: kernel Documentation/admin-guide/cgroup-v1/memory.rst section 5.5 (usage_in_bytes),
 * cgroup-v2.rst "memory.current".
 *
 * @param text the file, e.g. `"319488\n"`.
 * @returns bytes.
 * @throws {SyntaxError} when the text is not one number.
 */
export function parseMemoryUsage(text: string): number {
  return parseSingleValue(text, "memory usage");
}

/**
 * Parses a cgroup's memory limit: v1 `memory.limit_in_bytes` (a number; about 2^63 when
 * unlimited) or v2 `memory.max` (a number, or `max` when unlimited).
 *
 * Source: kernel cgroup-v1/memory.rst section 2.5, cgroup-v2.rst "memory.max"; `max` read as
 * containerd cgroups does (cgroup2/utils.go: math.MaxUint64).
 *
 * @param text the file, e.g. `"9223372036854771712\n"`, `"max\n"`, `"536870912\n"`.
 * @returns bytes; {@link UNLIMITED} for `max`.
 * @throws {SyntaxError} when the text is neither a number nor `max`.
 */
export function parseMemoryLimit(text: string): number {
  if (text === "max\n" || text === "max") return UNLIMITED;
  return parseSingleValue(text, "memory limit");
}

/** The inactive file cache of a cgroup from `memory.stat`, as docker's CLI looks it up. */
export interface InactiveFile {
  /** `total_inactive_file` (v1 only: this cgroup and its descendants), bytes. */
  readonly totalInactiveFile?: number;
  /** `inactive_file` (v2; v1 has it too, for this cgroup alone), bytes. */
  readonly inactiveFile?: number;
}

/** The keys of `memory.stat` a sample uses; the figures are null where the key is absent. */
export interface MemoryStat extends InactiveFile {
  /** Anonymous memory, bytes (v2 `anon`, v1 `total_rss`). */
  readonly anon: number | null;
  /** File-backed memory, page cache and tmpfs included, bytes (v2 `file`, v1 `total_cache`). */
  readonly file: number | null;
  /** Major page faults, cumulative (v2 `pgmajfault`, v1 `total_pgmajfault`). */
  readonly pgmajfault: number | null;
}

/** The v1 and v2 names of the {@link MemoryStat} figures (v1: the hierarchical `total_*`). */
const STAT_KEYS = {
  1: { anon: "total_rss", file: "total_cache", pgmajfault: "total_pgmajfault" },
  2: { anon: "anon", file: "file", pgmajfault: "pgmajfault" },
} as const;

/**
 * Parses the keys of `memory.stat` a sample needs: the two that docker's memory figure
 * subtracts (v1 `total_inactive_file` and `inactive_file`, v2 `inactive_file`), and anonymous
 * memory, file memory and major faults (v1 `total_rss`, `total_cache`, `total_pgmajfault`:
 * this cgroup and its descendants, like v2's; v2 `anon`, `file`, `pgmajfault`). Other keys are
 * not parsed.
 *
 * Source: kernel Documentation/admin-guide/cgroup-v1/memory.rst section 5.2 (total_rss,
 * total_cache, total_pgmajfault, "total_<counter>: hierarchical version of <counter>"),
 * cgroup-v2.rst "memory.stat" (anon, file, pgmajfault, inactive_file; flat keyed, "new entries
 * can show up in the middle", so keys are looked up, not positions).
 *
 * @param text the whole `memory.stat`.
 * @param version the cgroup version, which names the keys.
 * @returns the keys present.
 * @throws {SyntaxError} when a key is present with a value that is not a number.
 * @example parseMemoryStat("anon 8192\nfile 4096\ninactive_file 4096\n", 2)
 * // { inactiveFile: 4096, anon: 8192, file: 4096, pgmajfault: null }
 */
export function parseMemoryStat(text: string, version: 1 | 2): MemoryStat {
  const keys = STAT_KEYS[version];
  const totalInactiveFile = version === 1 ? flatKeyValue(text, "total_inactive_file") : undefined;
  const inactiveFile = flatKeyValue(text, "inactive_file");
  return {
    ...(totalInactiveFile === undefined ? {} : { totalInactiveFile }),
    ...(inactiveFile === undefined ? {} : { inactiveFile }),
    anon: flatKeyValue(text, keys.anon) ?? null,
    file: flatKeyValue(text, keys.file) ?? null,
    pgmajfault: flatKeyValue(text, keys.pgmajfault) ?? null,
  };
}

/** OOM figures of a cgroup, cumulative; null where the file lacks the key. */
export interface MemoryEvents {
  /** Times usage was about to go over the limit (v2 `max`, v1 `memory.failcnt`). */
  readonly max: number | null;
  /** Processes killed by the OOM killer (`oom_kill`). */
  readonly oomKill: number | null;
}

/**
 * Parses cgroup v2 `memory.events` (flat keyed: low, high, max, oom, oom_kill,
 * oom_group_kill) for `max` and `oom_kill`. The file counts this cgroup and its descendants
 * (`memory.events.local` would not).
 *
 * Source: kernel Documentation/admin-guide/cgroup-v2.rst "memory.events" ("max: The number
 * of times the cgroup's memory usage was about to go over the max boundary"; "oom_kill: The
 * number of processes belonging to this cgroup killed by any kind of OOM killer").
 *
 * @param text the file, e.g. `"low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n"`.
 * @returns the two counters.
 * @throws {SyntaxError} when a key is there with a value that is not a number.
 */
export function parseMemoryEvents(text: string): MemoryEvents {
  return {
    max: flatKeyValue(text, "max") ?? null,
    oomKill: flatKeyValue(text, "oom_kill") ?? null,
  };
}

/**
 * Parses `oom_kill` from cgroup v1 `memory.oom_control` (`oom_kill_disable 0`, `under_oom 0`,
 * `oom_kill N`; the last line since kernel 4.13).
 *
 * Source: kernel Documentation/admin-guide/cgroup-v1/memory.rst section 10 "OOM Control"
 * ("oom_kill: OOM kill counter"; "oom_kill_disable", "under_oom").
 *
 * @param text the file, e.g. `"oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"`.
 * @returns the number of processes OOM-killed, or null on a kernel without the key.
 * @throws {SyntaxError} when the key's value is not a number.
 */
export function parseOomControl(text: string): number | null {
  return flatKeyValue(text, "oom_kill") ?? null;
}

/**
 * Parses cgroup v1 `memory.failcnt`: how many times usage hit the limit.
 *
 * Source: kernel Documentation/admin-guide/cgroup-v1/memory.rst section 5 ("memory.failcnt:
 * show the number of memory usage hits limits").
 *
 * @param text the file, e.g. `"124\n"`.
 * @returns a count.
 * @throws {SyntaxError} when the text is not one number.
 */
export function parseMemoryFailcnt(text: string): number {
  return parseSingleValue(text, "memory.failcnt");
}

/**
 * Memory in use the way `docker stats` shows it: usage minus `total_inactive_file` when that
 * key exists and is below usage (cgroup v1), else minus `inactive_file` when below usage
 * (cgroup v2), else usage.
 *
 * Source: docker/cli cli/command/container/stats_helpers.go `calculateMemUsageUnixNoCache`
 * (the same order of checks, so the two agree even in its edge cases).
 *
 * @param usage `memory.usage_in_bytes` or `memory.current`, bytes.
 * @param stat the keys of {@link parseMemoryStat}.
 * @returns bytes.
 */
export function memoryInUse(usage: number, stat: InactiveFile): number {
  const total = stat.totalInactiveFile;
  if (total !== undefined && total < usage) return usage - total;
  const inactive = stat.inactiveFile ?? 0;
  return inactive < usage ? usage - inactive : usage;
}

/**
 * The limit the engine reports: the cgroup's limit, or the host's memory when that is lower
 * (a container with no limit has a v1 limit of about 2^63 or a v2 `max`).
 *
 * Source: moby daemon/stats_unix.go statsV1 and statsV2 ("if the container does not set memory
 * limit, use the machineMemory"); machineMemory is MemTotal of /proc/meminfo
 * (daemon/stats_collector.go, pkg/meminfo), 0 when unknown.
 *
 * @param limit the cgroup's limit, bytes.
 * @param machineMemory the host's MemTotal, bytes; 0 when unknown (the limit is kept).
 * @returns bytes.
 */
export function reportedLimit(limit: number, machineMemory: number): number {
  return limit > machineMemory && machineMemory > 0 ? machineMemory : limit;
}

/**
 * Memory percent as `docker stats` shows it: used / limit x 100, 0 when the limit is 0.
 *
 * Source: docker/cli stats_helpers.go `calculateMemPercentUnixNoCache`.
 *
 * @param used bytes in use ({@link memoryInUse}).
 * @param limit bytes ({@link reportedLimit}).
 * @returns percent.
 */
export function memoryPercent(used: number, limit: number): number {
  return limit !== 0 ? used / limit * 100 : 0;
}

/**
 * Parses `MemTotal` from /proc/meminfo (`MemTotal:       24683568 kB`).
 *
 * Source: kernel Documentation/filesystems/proc.rst (meminfo); moby pkg/meminfo
 * meminfo_linux.go multiplies the kB figure by 1024 the same way.
 *
 * @param text the whole /proc/meminfo.
 * @returns bytes.
 * @throws {SyntaxError} when there is no `MemTotal: N kB` line.
 */
export function parseMemTotal(text: string): number {
  const at = text.indexOf("MemTotal:");
  if (at >= 0) {
    let i = at + "MemTotal:".length;
    while (text.charCodeAt(i) === 32) i++;
    const kib = numberAt(text, i);
    if (!Number.isNaN(kib) && lineAt(text, at).endsWith(" kB")) return kib * 1024;
  }
  throw new SyntaxError(`Cannot parse /proc/meminfo: no "MemTotal: N kB" line`);
}
