/**
 * Pressure stall information (PSI) of a cgroup: how long some or all of its tasks waited for
 * CPU, memory or I/O. cgroup v2 only; cgroup v1 has no per-cgroup pressure files.
 *
 * @module
 */
import { lineAt, numberAt } from "./_scan.ts";

/** Cumulative stall time of one resource, µs; null for a line the file lacks. */
export interface Pressure {
  /** Time in which at least one task stalled (`some` total). */
  readonly someUs: number | null;
  /** Time in which all non-idle tasks stalled at once (`full` total). */
  readonly fullUs: number | null;
}

const TOTAL = "total=";

/**
 * Parses `cpu.pressure`, `memory.pressure` or `io.pressure`: lines
 * `some avg10=0.00 avg60=0.00 avg300=0.00 total=<µs>` and `full ...` (cpu.pressure has a
 * `full` line since kernel 5.13). Only `total` is parsed: the averages are the kernel's own
 * windows, while the interval's share comes from the delta of the totals.
 *
 * Sources: kernel Documentation/accounting/psi.rst ("Pressure interface": the format, total
 * in microseconds), Documentation/admin-guide/cgroup-v2.rst "cpu.pressure",
 * "memory.pressure", "io.pressure".
 *
 * @param text the file, e.g.
 *   `"some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 ... total=56\n"`.
 * @returns the two totals.
 * @throws {SyntaxError} for a `some` or `full` line without a numeric `total=`.
 * @example parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n")
 * // { someUs: 1234, fullUs: null }
 */
export function parsePressure(text: string): Pressure {
  return { someUs: total(text, "some "), fullUs: total(text, "full ") };
}

/** The `total=` of the line starting with `kind`, or null when no line does. */
function total(text: string, kind: string): number | null {
  let at = 0;
  if (!text.startsWith(kind)) {
    const newline = text.indexOf("\n" + kind);
    if (newline < 0) return null;
    at = newline + 1;
  }
  const end = text.indexOf("\n", at);
  const key = text.indexOf(TOTAL, at);
  const value = key >= 0 && (end < 0 || key < end) ? numberAt(text, key + TOTAL.length) : NaN;
  if (Number.isNaN(value)) throw new SyntaxError(`Cannot parse pressure "${lineAt(text, at)}"`);
  return value;
}
