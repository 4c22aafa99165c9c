/**
 * Per-container reducer: folds the samples of one interval into one row.
 *
 * Rules (the Rust original's avg/max modes; issues 16 and 18):
 * - `avg`: mean of the interval's samples; `pids` rounded to a whole number. `max`: maximum of
 *   each column independently. A null CPU (no window) is skipped by both; `samples` counts reads.
 * - Limits (`total_memory`, `cpu_limit`, `pids_limit`) are the interval's last value.
 * - A delta is the increase between two consecutive reads of the same container and belongs to
 *   the interval of the later read, so a container's deltas over all its rows add up to its last
 *   counter minus its first, across empty intervals and source gaps. A counter that falls (the
 *   container restarted) counts from zero.
 * - Shares (`cpu_throttled_pct`, `*_pressure_pct`) come from the interval's deltas, not from
 *   averaging per-read shares.
 */
import type { CgroupFigures, Sample } from "../sample.ts";

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
  /** CPU, percent of one CPU; null when no read of the interval had a window. */
  cpu: number | null;
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

/** Cumulative cgroup counters that become `*Delta` columns, in {@link CgroupFigures} keys. */
const COUNTERS = [
  "cpuThrottledUs",
  "oomKills",
  "memoryMaxEvents",
  "pgmajfault",
  "netRxDropped",
  "netTxDropped",
  "netRxErrors",
  "netTxErrors",
  "cpuPeriods",
  "cpuThrottledPeriods",
  "cpuPressureSomeUs",
  "memoryPressureSomeUs",
  "memoryPressureFullUs",
  "ioPressureSomeUs",
  "ioPressureFullUs",
] as const satisfies readonly (keyof CgroupFigures)[];
type Counter = typeof COUNTERS[number];
const C = Object.fromEntries(COUNTERS.map((k, i) => [k, i])) as Record<Counter, number>;

/**
 * One container's samples within one interval. The previous read (for deltas) is passed in by
 * the caller, which keeps it across intervals. O(1) memory whatever the number of samples.
 */
export class RowAccumulator {
  readonly #max: boolean;
  #last: Sample | null = null;
  #n = 0;
  #cpuN = 0;
  #cpu = 0;
  #memPct = 0;
  #memUse = 0;
  #blockIn = 0;
  #blockOut = 0;
  #netIn = 0;
  #netOut = 0;
  #pids = 0;
  #dBlockIn = 0;
  #dBlockOut = 0;
  #dNetIn = 0;
  #dNetOut = 0;
  #cg: CgroupAcc | null = null;

  /** @param mode `avg` or `max`. */
  constructor(mode: Mode) {
    this.#max = mode === "max";
  }

  /** Reads in this interval. */
  get samples(): number {
    return this.#n;
  }

  /**
   * Adds one read.
   * @param s the read.
   * @param prev the same container's previous read (any interval), or null for its first.
   */
  add(s: Sample, prev: Sample | null): void {
    if (prev !== null) {
      this.#dBlockIn += increase(prev.blockIn, s.blockIn);
      this.#dBlockOut += increase(prev.blockOut, s.blockOut);
      this.#dNetIn += increase(prev.netIn, s.netIn);
      this.#dNetOut += increase(prev.netOut, s.netOut);
    }
    if (s.cgroup !== undefined) {
      this.#cg ??= new CgroupAcc(this.#max);
      this.#cg.add(s.cgroup, prev?.cgroup ?? null);
    }
    const first = this.#n === 0;
    this.#last = s;
    this.#n++;
    if (s.cpu !== null) {
      this.#cpu = this.#max
        ? (this.#cpuN === 0 ? s.cpu : Math.max(this.#cpu, s.cpu))
        : this.#cpu + s.cpu;
      this.#cpuN++;
    }
    if (this.#max && !first) {
      this.#memPct = Math.max(this.#memPct, s.memoryPercentage);
      this.#memUse = Math.max(this.#memUse, s.memoryUse);
      this.#blockIn = Math.max(this.#blockIn, s.blockIn);
      this.#blockOut = Math.max(this.#blockOut, s.blockOut);
      this.#netIn = Math.max(this.#netIn, s.netIn);
      this.#netOut = Math.max(this.#netOut, s.netOut);
      this.#pids = Math.max(this.#pids, s.pids);
    } else {
      const k = this.#max ? 0 : 1;
      this.#memPct = this.#memPct * k + s.memoryPercentage;
      this.#memUse = this.#memUse * k + s.memoryUse;
      this.#blockIn = this.#blockIn * k + s.blockIn;
      this.#blockOut = this.#blockOut * k + s.blockOut;
      this.#netIn = this.#netIn * k + s.netIn;
      this.#netOut = this.#netOut * k + s.netOut;
      this.#pids = this.#pids * k + s.pids;
    }
  }

  /**
   * The interval's row.
   * @returns the row, or null when the interval had no samples.
   */
  row(): ContainerRow | null {
    const s = this.#last;
    if (s === null) return null;
    const d = this.#max ? 1 : this.#n;
    const row: ContainerRow = {
      id: s.id,
      container: s.container,
      name: s.name,
      cpu: this.#cpuN === 0 ? null : this.#max ? this.#cpu : this.#cpu / this.#cpuN,
      memoryPercentage: this.#memPct / d,
      memoryUse: this.#memUse / d,
      totalMemory: s.totalMemory,
      blockIn: this.#blockIn / d,
      blockOut: this.#blockOut / d,
      netIn: this.#netIn / d,
      netOut: this.#netOut / d,
      blockInDelta: this.#dBlockIn,
      blockOutDelta: this.#dBlockOut,
      netInDelta: this.#dNetIn,
      netOutDelta: this.#dNetOut,
      pids: Math.round(this.#pids / d),
      samples: this.#n,
    };
    if (this.#cg !== null && s.cgroup !== undefined) row.cgroup = this.#cg.row(s.cgroup);
    return row;
  }
}

/** The cgroup figures of one container within one interval. */
class CgroupAcc {
  readonly #max: boolean;
  readonly #delta = new Array<number>(COUNTERS.length).fill(0);
  /** Microseconds of read windows that end in this interval (the denominator of pressure). */
  #windowUs = 0;
  #anon = 0;
  #anonN = 0;
  #file = 0;
  #fileN = 0;

  constructor(max: boolean) {
    this.#max = max;
  }

  add(f: CgroupFigures, prev: CgroupFigures | null): void {
    if (prev !== null) {
      for (let i = 0; i < COUNTERS.length; i++) {
        const k = COUNTERS[i]!;
        const a = prev[k];
        const b = f[k];
        if (a !== null && b !== null) this.#delta[i]! += increase(a, b);
      }
      this.#windowUs += Math.max(0, f.monoMs - prev.monoMs) * 1000;
    }
    if (f.memoryAnon !== null) {
      this.#anon = this.#fold(this.#anon, this.#anonN++, f.memoryAnon);
    }
    if (f.memoryFile !== null) {
      this.#file = this.#fold(this.#file, this.#fileN++, f.memoryFile);
    }
  }

  #fold(acc: number, n: number, v: number): number {
    return this.#max ? (n === 0 ? v : Math.max(acc, v)) : acc + v;
  }

  /** The row's figures; `last` is the interval's last read (limits, which keys exist). */
  row(last: CgroupFigures): CgroupRow {
    const delta = (k: Counter) => last[k] === null ? null : this.#delta[C[k]]!;
    const share = (k: Counter) => {
      const d = delta(k);
      return d === null || this.#windowUs === 0 ? null : Math.min(100, (d / this.#windowUs) * 100);
    };
    const quota = last.cpuQuotaUs !== null && last.cpuPeriodUs ? last.cpuQuotaUs : null;
    const periods = delta("cpuPeriods");
    const throttled = delta("cpuThrottledPeriods");
    return {
      cpuLimit: quota === null ? null : quota / last.cpuPeriodUs!,
      cpuThrottledPct: quota === null || periods === null || throttled === null
        ? null
        : periods === 0
        ? 0
        : (throttled / periods) * 100,
      cpuThrottledUsDelta: delta("cpuThrottledUs"),
      memoryAnon: this.#anonN === 0 ? null : this.#max ? this.#anon : this.#anon / this.#anonN,
      memoryFile: this.#fileN === 0 ? null : this.#max ? this.#file : this.#file / this.#fileN,
      oomKillsDelta: delta("oomKills"),
      memoryMaxEventsDelta: delta("memoryMaxEvents"),
      pgmajfaultDelta: delta("pgmajfault"),
      cpuPressurePct: share("cpuPressureSomeUs"),
      memoryPressurePct: share("memoryPressureSomeUs"),
      memoryPressureFullPct: share("memoryPressureFullUs"),
      ioPressurePct: share("ioPressureSomeUs"),
      ioPressureFullPct: share("ioPressureFullUs"),
      netRxDroppedDelta: delta("netRxDropped"),
      netTxDroppedDelta: delta("netTxDropped"),
      netRxErrorsDelta: delta("netRxErrors"),
      netTxErrorsDelta: delta("netTxErrors"),
      pidsLimit: last.pidsLimit,
    };
  }
}
