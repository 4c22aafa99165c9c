/** Summaries over repeated runs: median, min and max. */

/** Median, min and max of a set of runs, plus the individual values. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Number of runs behind the summary. */
  n: number;
  values: number[];
}

/** Median (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Summarises `values` (NaN entries are left out). */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x));
  return {
    median: median(v),
    min: v.length ? Math.min(...v) : NaN,
    max: v.length ? Math.max(...v) : NaN,
    n: v.length,
    values: v,
  };
}

/** Formats a number with `decimals` decimals (none from 1000 up, with separators); `n/a` for NaN. */
export function fmt(x: number, decimals = 2): string {
  if (!Number.isFinite(x)) return "n/a";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(decimals);
}

/** `median (min–max)` of a summary. */
export function fmtSummary(s: Summary, digits = 2): string {
  if (s.n === 0) return "n/a";
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}
