/**
 * Unit parsing for `docker stats` values.
 *
 * docker/cli formats memory with go-units `BytesSize` (binary: B, KiB, MiB, ... `%.4g`) and
 * network and block I/O with `HumanSizeWithPrecision(v, 3)` (decimal: B, kB, MB, ... `%.3g`),
 * so values such as `1e+03kB` occur (docker/cli formatter_stats.go; docker/go-units size.go).
 * There is no space between the number and the unit.
 */

/** Binary units of go-units `BytesSize`, bytes per unit. */
const BINARY_UNITS: ReadonlyMap<string, number> = new Map([
  ["B", 1],
  ["KiB", 1024],
  ["MiB", 1024 ** 2],
  ["GiB", 1024 ** 3],
  ["TiB", 1024 ** 4],
  ["PiB", 1024 ** 5],
  ["EiB", 1024 ** 6],
]);

/** Decimal units of go-units `HumanSize`, bytes per unit. */
const DECIMAL_UNITS: ReadonlyMap<string, number> = new Map([
  ["B", 1],
  ["kB", 1e3],
  ["MB", 1e6],
  ["GB", 1e9],
  ["TB", 1e12],
  ["PB", 1e15],
  ["EB", 1e18],
]);

/** Which unit table a size uses. */
export type SizeKind = "memory" | "io";

/**
 * Index of the first character after the leading number of `text` (digits, `.`, sign and
 * lower-case exponent as Go's `%g` prints them). Units never start with `e`, so `1e+03kB`
 * splits as `1e+03` / `kB` and `1.5EB` as `1.5` / `EB`.
 */
function numberEnd(text: string): number {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    // 0-9 . + - e
    if ((c >= 48 && c <= 57) || c === 46 || c === 43 || c === 45 || c === 101) i++;
    else break;
  }
  return i;
}

/**
 * Parses a size such as `536KiB` (memory, binary units) or `1.2MB`, `1e+03kB` (I/O, decimal
 * units) into bytes, rounded to a whole byte.
 *
 * @param text the size as docker/cli prints it, without surrounding spaces.
 * @param kind `memory` for binary units (B, KiB, MiB, GiB, TiB, PiB, EiB) or `io` for decimal
 *   units (B, kB, MB, GB, TB, PB, EB).
 * @returns bytes (a non-negative integer).
 * @throws {SyntaxError} when the number is malformed or the unit is not in the kind's table,
 *   e.g. `Cannot parse memory size "12.3QB": unknown unit "QB"`.
 */
export function parseSize(text: string, kind: SizeKind): number {
  const end = numberEnd(text);
  const value = end === 0 ? NaN : Number(text.slice(0, end));
  if (!Number.isFinite(value) || value < 0) {
    throw new SyntaxError(`Cannot parse ${kind} size "${text}": bad number`);
  }
  const unit = text.slice(end);
  const factor = (kind === "memory" ? BINARY_UNITS : DECIMAL_UNITS).get(unit);
  if (factor === undefined) {
    throw new SyntaxError(`Cannot parse ${kind} size "${text}": unknown unit "${unit}"`);
  }
  return Math.round(value * factor);
}

/**
 * Parses a pair such as `536KiB / 23.54GiB` or `1.2kB / 648B` into bytes.
 *
 * @returns `[left, right]` in bytes.
 * @throws {SyntaxError} when the separator ` / ` is missing or either side fails
 *   {@link parseSize}.
 */
export function parseSizePair(text: string, kind: SizeKind): [number, number] {
  const sep = text.indexOf(" / ");
  if (sep === -1) throw new SyntaxError(`Cannot parse ${kind} pair "${text}": no " / "`);
  return [parseSize(text.slice(0, sep), kind), parseSize(text.slice(sep + 3), kind)];
}

/**
 * Parses a percentage such as `12.34%` (docker/cli `%.2f%%`) into percent. CPU percent may
 * exceed 100 (up to 100 x online CPUs).
 *
 * @returns percent, a finite non-negative number.
 * @throws {SyntaxError} when the `%` sign or the number is missing or malformed.
 */
export function parsePercent(text: string): number {
  const n = text.length;
  if (n < 2 || text.charCodeAt(n - 1) !== 37 /* % */) {
    throw new SyntaxError(`Cannot parse percentage "${text}": expected a number and "%"`);
  }
  const body = text.slice(0, n - 1);
  const value = numberEnd(body) === body.length ? Number(body) : NaN;
  if (!Number.isFinite(value) || value < 0) {
    throw new SyntaxError(`Cannot parse percentage "${text}": bad number`);
  }
  return value;
}

/**
 * Parses the PIDs count (docker/cli prints `%d`).
 *
 * @returns a non-negative integer.
 * @throws {SyntaxError} when `text` is not a whole non-negative number.
 */
export function parseCount(text: string): number {
  const value = text.length > 0 && text.length < 16 ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < 0) {
    throw new SyntaxError(`Cannot parse PIDs "${text}": expected a whole number`);
  }
  return value;
}
