/**
 * Per-container reducer: folds the samples of one interval into one row.
 *
 * Rules (issue "The daemon end to end"; the Rust original's avg/max modes):
 * - `avg`: mean of the interval's samples; `pids` rounded to a whole number.
 * - `max`: maximum of each column independently.
 * - `total_memory` (the limit) is the interval's last value in both modes.
 * - Cumulative I/O counters keep the mode's rule, and `*_delta` columns add the bytes moved
 *   during the interval: the sum of increases between consecutive samples, starting from the
 *   container's last sample of the previous interval (or its first sample ever), so deltas of
 *   consecutive intervals add up to the counter's growth. A counter that falls (the container
 *   restarted) counts from zero.
 */
import type { Sample } from "../sample.ts";

/** How samples are reduced. */
export type Mode = "avg" | "max";

/** One reduced row: the values of one container over one interval. Units as in {@link Sample}. */
export interface ContainerRow {
  /** Full container ID. */
  id: string;
  /** 12-character short ID. */
  container: string;
  /** Container name. */
  name: string;
  /** CPU, percent of one CPU. */
  cpu: number;
  /** Memory used, percent of the limit. */
  memoryPercentage: number;
  /** Memory used, bytes. */
  memoryUse: number;
  /** Memory limit, bytes: the interval's last value. */
  totalMemory: number;
  /** Bytes read from block devices, cumulative (mode's rule). */
  blockIn: number;
  /** Bytes written to block devices, cumulative (mode's rule). */
  blockOut: number;
  /** Bytes received, cumulative (mode's rule). */
  netIn: number;
  /** Bytes sent, cumulative (mode's rule). */
  netOut: number;
  /** Bytes read during the interval. */
  blockInDelta: number;
  /** Bytes written during the interval. */
  blockOutDelta: number;
  /** Bytes received during the interval. */
  netInDelta: number;
  /** Bytes sent during the interval. */
  netOutDelta: number;
  /** Processes and threads (rounded in avg mode). */
  pids: number;
  /** Samples behind the row. */
  samples: number;
  /** The interval's cgroup figures (issue 18); absent for the `docker stats` source. */
  cgroup?: CgroupRow;
}

/**
 * A row's figures from the cgroup files (src/sample.ts `CgroupFigures`), over one
 * interval. Counters become `*Delta` sums of consecutive reads (conserved like the I/O deltas);
 * gauges reduce by the mode; shares come from the interval's deltas. Null where the kernel or
 * the layout has no value (the column is left out of the ILP line).
 */
export interface CgroupRow {
  /** Cores the CFS quota allows (quota / period); null when unlimited. */
  cpuLimit: number | null;
  /** Throttled periods / periods in the interval x 100, percent; null without a quota. */
  cpuThrottledPct: number | null;
  /** Time throttled in the interval, µs. */
  cpuThrottledUsDelta: number | null;
  /** Anonymous memory, bytes (mode's rule). */
  memoryAnon: number | null;
  /** File-backed memory, bytes (mode's rule). */
  memoryFile: number | null;
  /** Processes OOM-killed in the interval. */
  oomKillsDelta: number | null;
  /** Times usage hit the limit in the interval. */
  memoryMaxEventsDelta: number | null;
  /** Major page faults in the interval. */
  pgmajfaultDelta: number | null;
  /** Share of the interval some task stalled on CPU, percent (v2 only). */
  cpuPressurePct: number | null;
  /** Share of the interval some task stalled on memory, percent (v2 only). */
  memoryPressurePct: number | null;
  /** Share of the interval all tasks stalled on memory, percent (v2 only). */
  memoryPressureFullPct: number | null;
  /** Share of the interval some task stalled on I/O, percent (v2 only). */
  ioPressurePct: number | null;
  /** Share of the interval all tasks stalled on I/O, percent (v2 only). */
  ioPressureFullPct: number | null;
  /** Received packets dropped in the interval. */
  netRxDroppedDelta: number | null;
  /** Sent packets dropped in the interval. */
  netTxDroppedDelta: number | null;
  /** Receive errors in the interval. */
  netRxErrorsDelta: number | null;
  /** Transmit errors in the interval. */
  netTxErrorsDelta: number | null;
  /** Task limit (`pids.max`); null when unlimited. */
  pidsLimit: number | null;
}

/** Increase of a cumulative counter from `prev` to `cur`; a fall means a restart from zero. */
function increase(prev: number, cur: number): number {
  return cur >= prev ? cur - prev : cur;
}

/**
 * Accumulates one container's samples. Create one per container ID; call {@link take} at each
 * interval boundary. O(1) memory per container whatever the number of samples.
 */
export class ContainerReducer {
  /** Full container ID this reducer is for. */
  readonly id: string;
  #container = "";
  #name = "";
  #n = 0;
  #cpu = 0;
  #memPct = 0;
  #memUse = 0;
  #totalMemory = 0;
  #blockIn = 0;
  #blockOut = 0;
  #netIn = 0;
  #netOut = 0;
  #pids = 0;
  #dBlockIn = 0;
  #dBlockOut = 0;
  #dNetIn = 0;
  #dNetOut = 0;
  /** Last sample's counters, carried across intervals; null before the first sample. */
  #last: Sample | null = null;
  readonly #max: boolean;

  /**
   * Makes an empty reducer.
   *
   * @param id full container ID.
   * @param mode `avg` or `max`.
   */
  constructor(id: string, mode: Mode) {
    this.id = id;
    this.#max = mode === "max";
  }

  /** Number of samples in the current interval. */
  get samples(): number {
    return this.#n;
  }

  /** Adds one sample (its `id` must be this reducer's). */
  add(s: Sample): void {
    const last = this.#last;
    if (last !== null) {
      this.#dBlockIn += increase(last.blockIn, s.blockIn);
      this.#dBlockOut += increase(last.blockOut, s.blockOut);
      this.#dNetIn += increase(last.netIn, s.netIn);
      this.#dNetOut += increase(last.netOut, s.netOut);
    }
    this.#last = s;
    this.#container = s.container;
    this.#name = s.name;
    this.#totalMemory = s.totalMemory;
    if (this.#max && this.#n > 0) {
      if ((s.cpu ?? 0) > this.#cpu) this.#cpu = s.cpu ?? 0;
      if (s.memoryPercentage > this.#memPct) this.#memPct = s.memoryPercentage;
      if (s.memoryUse > this.#memUse) this.#memUse = s.memoryUse;
      if (s.blockIn > this.#blockIn) this.#blockIn = s.blockIn;
      if (s.blockOut > this.#blockOut) this.#blockOut = s.blockOut;
      if (s.netIn > this.#netIn) this.#netIn = s.netIn;
      if (s.netOut > this.#netOut) this.#netOut = s.netOut;
      if (s.pids > this.#pids) this.#pids = s.pids;
    } else if (this.#max) {
      this.#cpu = s.cpu ?? 0;
      this.#memPct = s.memoryPercentage;
      this.#memUse = s.memoryUse;
      this.#blockIn = s.blockIn;
      this.#blockOut = s.blockOut;
      this.#netIn = s.netIn;
      this.#netOut = s.netOut;
      this.#pids = s.pids;
    } else {
      this.#cpu += s.cpu ?? 0;
      this.#memPct += s.memoryPercentage;
      this.#memUse += s.memoryUse;
      this.#blockIn += s.blockIn;
      this.#blockOut += s.blockOut;
      this.#netIn += s.netIn;
      this.#netOut += s.netOut;
      this.#pids += s.pids;
    }
    this.#n++;
  }

  /**
   * Returns the interval's row and starts the next interval (the last counters are kept for
   * the next deltas).
   * @returns the row, or null when the interval had no samples.
   */
  take(): ContainerRow | null {
    const n = this.#n;
    if (n === 0) return null;
    const d = this.#max ? 1 : n;
    const row: ContainerRow = {
      id: this.id,
      container: this.#container,
      name: this.#name,
      cpu: this.#cpu / d,
      memoryPercentage: this.#memPct / d,
      memoryUse: this.#memUse / d,
      totalMemory: this.#totalMemory,
      blockIn: this.#blockIn / d,
      blockOut: this.#blockOut / d,
      netIn: this.#netIn / d,
      netOut: this.#netOut / d,
      blockInDelta: this.#dBlockIn,
      blockOutDelta: this.#dBlockOut,
      netInDelta: this.#dNetIn,
      netOutDelta: this.#dNetOut,
      pids: Math.round(this.#pids / d),
      samples: n,
    };
    this.#n = 0;
    this.#cpu = this.#memPct = this.#memUse = 0;
    this.#blockIn =
      this.#blockOut =
      this.#netIn =
      this.#netOut =
      this.#pids =
        0;
    this.#dBlockIn =
      this.#dBlockOut =
      this.#dNetIn =
      this.#dNetOut =
        0;
    return row;
  }
}
