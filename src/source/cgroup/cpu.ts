/**
 * CPU of a container from its cgroup: the cumulative CPU time, and docker's CPU % from two
 * readings of it.
 *
 * @module
 */
import { flatKeyValue, parseSingleValue } from "./_scan.ts";

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

/**
 * Docker's CPU %, from two readings of a container's CPU time: Δusage / Δwall x 100, in
 * percent of one CPU (0 to 100 x online CPUs).
 *
 * docker/cli cli/command/container/stats_helpers.go `calculateCPUPercentUnix` computes
 * Δusage / Δsystem x onlineCPUs x 100, where moby daemon/stats_unix.go `getSystemCPUUsage`
 * takes Δsystem from the `cpu` line of /proc/stat: the time all CPUs spent in every state,
 * which over one period is Δwall x onlineCPUs. The two forms are the same figure
 * (tests/unit/cgroup_cpu_test.ts checks it on recorded readings). As docker, the result is 0
 * unless both deltas are positive: a container's first reading has no previous one and gives
 * 0, as docker's first streamed frame (PreCPUStats empty) shows about 0.
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
