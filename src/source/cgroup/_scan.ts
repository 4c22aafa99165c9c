/**
 * Small text scanners shared by the cgroup parsers: a whole unsigned number, and the value of
 * one key in a flat-keyed file (`key value` per line). Written for the sampling hot path: they
 * walk char codes and allocate nothing beyond the number.
 *
 * File formats: kernel Documentation/admin-guide/cgroup-v2.rst, "Interface Files" (single
 * value, flat keyed, nested keyed) and cgroup-v1/memory.rst section 5.2 (memory.stat).
 *
 * @module
 */

const ZERO = 48;
const NINE = 57;
const SPACE = 32;
const NEWLINE = 10;

/**
 * Reads the unsigned decimal number that starts at `start` in `text`.
 *
 * @param text the file's text.
 * @param start index of the first digit.
 * @returns the number (exact up to 2^53; larger values, such as an unlimited v1
 *   `memory.limit_in_bytes` of 9223372036854771712, round to the nearest double), or NaN when
 *   no digit is at `start`.
 */
export function numberAt(text: string, start: number): number {
  let value = 0;
  let i = start;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
  }
  return i === start ? NaN : value;
}

/**
 * Parses a single-value file: one unsigned number and an optional trailing newline
 * (`cpuacct.usage`, `memory.usage_in_bytes`, `memory.current`, `pids.current`).
 *
 * @param text the file's text, e.g. `"34816031\n"`.
 * @param file the file's name, for the error.
 * @returns the number.
 * @throws {SyntaxError} when the text is not a single unsigned number.
 */
export function parseSingleValue(text: string, file: string): number {
  let value = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
  }
  const end = i === text.length || (i === text.length - 1 && text.charCodeAt(i) === NEWLINE);
  if (i === 0 || !end) {
    throw new SyntaxError(`Cannot parse ${file} "${text.slice(0, 40)}": expected one number`);
  }
  return value;
}

/**
 * The value of `key` in a flat-keyed file (`key value\n` lines): the key must start a line and
 * be followed by one space, so `inactive_file` does not match `total_inactive_file`.
 *
 * @param text the file's text.
 * @param key the key, e.g. `"total_inactive_file"`.
 * @returns the number, or undefined when the key is absent.
 * @throws {SyntaxError} when the key is there but its value is not a number.
 */
export function flatKeyValue(text: string, key: string): number | undefined {
  let from = 0;
  for (;;) {
    const at = text.indexOf(key, from);
    if (at < 0) return undefined;
    const after = at + key.length;
    if ((at === 0 || text.charCodeAt(at - 1) === NEWLINE) && text.charCodeAt(after) === SPACE) {
      const value = numberAt(text, after + 1);
      if (Number.isNaN(value)) {
        throw new SyntaxError(`Cannot parse "${key}" in "${lineAt(text, at)}": expected a number`);
      }
      return value;
    }
    from = after;
  }
}

/** The line of `text` that contains index `at`, for error messages (at most 80 characters). */
export function lineAt(text: string, at: number): string {
  const start = text.lastIndexOf("\n", at - 1) + 1;
  const end = text.indexOf("\n", at);
  return text.slice(start, end < 0 ? text.length : end).slice(0, 80);
}
