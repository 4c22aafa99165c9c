/**
 * CPU of a container from its cgroup: the cumulative CPU time, and docker's CPU % from two
 * readings of it.
 *
 * @module
 */
import { flatKeyValue, numberAt, parseSingleValue } from "./_scan.ts";

/**
 * Parses cgroup v1 `cpuacct.usage`: the cgroup's total CPU time (all CPUs, user and system).
 *
 * Source: kernel Documentation/admin-guide/cgroup-v1/cpuacct.rst ("cpuacct.usage gives the
 * CPU time (in nanoseconds) obtained by this group").
 *
 * @param text the file, e.g. `"34816031\n"`.
 * @returns nanoseconds.
 * @throws {SyntaxError} when the text is not one number.
 * @example parseCpuacctUsage("34816031\n") // 34816031
 */
export function parseCpuacctUsage(text: string): number {
  return parseSingleValue(text, "cpuacct.usage");
}

/**
 * Parses `usage_usec` from cgroup v2 `cpu.stat` (flat keyed: `usage_usec`, `user_usec`,
 * `system_usec`, then `nr_periods`... when the cpu controller is enabled).
 *
 * Source: kernel Documentation/admin-guide/cgroup-v2.rst, "cpu.stat"; moby
 * daemon/stats_unix.go statsV2 turns it into nanoseconds the same way (`UsageUsec * 1000`).
 *
 * @param text the file, e.g. `"usage_usec 34816\nuser_usec 21849\n..."`.
 * @returns nanoseconds (`usage_usec` x 1000).
 * @throws {SyntaxError} when `usage_usec` is missing or not a number.
 * @example parseCpuStatUsage("usage_usec 34816\nuser_usec 21849\n") // 34816000
 */
export function parseCpuStatUsage(text: string): number {
  const usec = flatKeyValue(text, "usage_usec");
  if (usec === undefined) {
    throw new SyntaxError(`Cannot parse cpu.stat "${text.slice(0, 40)}": no usage_usec`);
  }
  return usec * 1000;
}

/** The CFS bandwidth counters of `cpu.stat`, cumulative; null for a key the file lacks. */
export interface CpuThrottling {
  /** Enforcement periods elapsed (`nr_periods`). */
  readonly periods: number | null;
  /** Periods in which the group was throttled (`nr_throttled`). */
  readonly throttledPeriods: number | null;
  /** Time throttled, µs (v2 `throttled_usec`; v1 `throttled_time` ns / 1000, rounded down). */
  readonly throttledUs: number | null;
}

/**
 * Parses the CFS bandwidth keys of `cpu.stat`: v1 (the `cpu` controller's file, not
 * cpuacct's) `nr_periods`, `nr_throttled`, `throttled_time` (ns); v2 `nr_periods`,
 * `nr_throttled`, `throttled_usec`. A v2 cgroup without the cpu controller enabled has only
 * the usage keys: every figure is then null.
 *
 * Sources: kernel Documentation/scheduler/sched-bwc.rst ("Statistics": nr_periods,
 * nr_throttled, throttled_time; cgroup v1 documents its cpu controller there, not under
 * admin-guide/cgroup-v1/), Documentation/admin-guide/cgroup-v2.rst "cpu.stat" (nr_periods,
 * nr_throttled, throttled_usec, present when the cpu controller is enabled).
 *
 * @param text the file, e.g. `"nr_periods 102\nnr_throttled 101\nthrottled_time 4886052452\n"`.
 * @returns the counters.
 * @throws {SyntaxError} when a key is there with a value that is not a number.
 * @example parseCpuThrottling("nr_periods 4\nnr_throttled 2\nthrottled_usec 30\n")
 * // { periods: 4, throttledPeriods: 2, throttledUs: 30 }
 */
export function parseCpuThrottling(text: string): CpuThrottling {
  const usec = flatKeyValue(text, "throttled_usec");
  const ns = usec === undefined ? flatKeyValue(text, "throttled_time") : undefined;
  return {
    periods: flatKeyValue(text, "nr_periods") ?? null,
    throttledPeriods: flatKeyValue(text, "nr_throttled") ?? null,
    throttledUs: usec ?? (ns === undefined ? null : Math.floor(ns / 1000)),
  };
}

/** A CFS quota: µs of CPU time per period; `quotaUs` null when unlimited. */
export interface CpuQuota {
  /** Quota per period, µs; null when unlimited. */
  readonly quotaUs: number | null;
  /** Period, µs. */
  readonly periodUs: number;
}

/**
 * Parses cgroup v1 `cpu.cfs_quota_us`: µs per period, `-1` when unlimited.
 *
 * Source: kernel Documentation/scheduler/sched-bwc.rst ("A value of -1 for
 * cpu.cfs_quota_us indicates that the group does not have any bandwidth restriction").
 *
 * @param text the file, e.g. `"50000\n"` or `"-1\n"`.
 * @returns µs, or null for `-1`.
 * @throws {SyntaxError} for anything else than a number or -1.
 */
export function parseCfsQuota(text: string): number | null {
  return text === "-1\n" || text === "-1" ? null : parseSingleValue(text, "cpu.cfs_quota_us");
}

/**
 * Parses cgroup v1 `cpu.cfs_period_us`.
 *
 * Source: kernel Documentation/scheduler/sched-bwc.rst (cpu.cfs_period_us, µs).
 *
 * @param text the file, e.g. `"100000\n"`.
 * @returns µs.
 * @throws {SyntaxError} when the text is not one number.
 */
export function parseCfsPeriod(text: string): number {
  return parseSingleValue(text, "cpu.cfs_period_us");
}

/**
 * Parses cgroup v2 `cpu.max`: `$MAX $PERIOD`, `max` for no limit.
 *
 * Source: kernel Documentation/admin-guide/cgroup-v2.rst "cpu.max" ("A read-write two value
 * file ... The default is \"max 100000\"").
 *
 * @param text the file, e.g. `"50000 100000\n"` or `"max 100000\n"`.
 * @returns the quota.
 * @throws {SyntaxError} when the text is not `max|N N`.
 * @example parseCpuMax("max 100000\n") // { quotaUs: null, periodUs: 100000 }
 */
export function parseCpuMax(text: string): CpuQuota {
  const space = text.indexOf(" ");
  const periodUs = space > 0 ? numberAt(text, space + 1) : NaN;
  const quotaUs = text.startsWith("max ") ? null : numberAt(text, 0);
  if (Number.isNaN(periodUs) || Number.isNaN(quotaUs)) {
    throw new SyntaxError(`Cannot parse cpu.max "${text.slice(0, 40)}": expected "max|N N"`);
  }
  return { quotaUs, periodUs };
}

/**
 * Docker's CPU %, from two readings of a container's CPU time: Δusage / Δwall x 100, in
 * percent of one CPU (0 to 100 x online CPUs).
 *
 * docker/cli cli/command/container/stats_helpers.go `calculateCPUPercentUnix` computes
 * Δusage / Δsystem x onlineCPUs x 100, where moby daemon/stats_unix.go `getSystemCPUUsage`
 * takes Δsystem from the `cpu` line of /proc/stat: the time all CPUs spent in every state,
 * which over one period is Δwall x onlineCPUs. The two forms are the same figure
 * (tests/unit/cgroup_cpu_test.ts checks it on recorded readings). As docker, the result is 0
 * unless both deltas are positive. A first reading has no window at all: src/source/cgroup/
 * sample.ts gives no value for it rather than docker's 0.
 *
 * @param previousNs CPU time at the previous reading, nanoseconds.
 * @param currentNs CPU time now, nanoseconds.
 * @param elapsedMs wall time between the two readings, milliseconds (monotonic clock).
 * @returns percent of one CPU.
 * @example cpuPercent(0, 500_000_000, 1000) // 50
 */
export function cpuPercent(previousNs: number, currentNs: number, elapsedMs: number): number {
  const usedNs = currentNs - previousNs;
  if (!(usedNs > 0) || !(elapsedMs > 0)) return 0;
  return usedNs / (elapsedMs * 1e6) * 100;
}
