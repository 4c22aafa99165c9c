/**
 * Processes and threads of a container from its cgroup.
 *
 * @module
 */
import { parseSingleValue } from "./_scan.ts";

/**
 * Parses `pids.current` (cgroup v1 and v2): the number of tasks (processes and threads) in the
 * cgroup and its descendants, the figure `docker stats` shows as PIDS.
 *
 * Sources: kernel Documentation/admin-guide/cgroup-v1/pids.rst, cgroup-v2.rst "pids.current";
 * moby daemon/stats_unix.go copies it to `PidsStats.Current`.
 *
 * @param text the file, e.g. `"1\n"`.
 * @returns a count.
 * @throws {SyntaxError} when the text is not one number.
 */
export function parsePidsCurrent(text: string): number {
  return parseSingleValue(text, "pids.current");
}

/**
 * Parses `pids.max` (cgroup v1 and v2): the task limit, `max` when unlimited.
 *
 * Sources: kernel Documentation/admin-guide/cgroup-v1/pids.rst ("pids.max ... the special
 * value 'max'"), cgroup-v2.rst "pids.max" ("A read-write single value file which exists on
 * non-root cgroups. The default is \"max\"").
 *
 * @param text the file, e.g. `"100\n"` or `"max\n"`.
 * @returns the limit, or null for `max`.
 * @throws {SyntaxError} when the text is neither a number nor `max`.
 */
export function parsePidsMax(text: string): number | null {
  return text === "max\n" || text === "max" ? null : parseSingleValue(text, "pids.max");
}
