/**
 * One container's statistics from one read, normalised to bytes and percent: a `docker stats`
 * redraw (docker/cli cli/command/container/formatter_stats.go keys) or a read of the
 * container's cgroup files (src/source/cgroup/).
 *
 * @module
 */

/** One read of one container. Counters are cumulative since the container (or cgroup) began. */
export interface Sample {
  /** Full 64-character container ID (`ID`). */
  readonly id: string;
  /** 12-character short container ID (`Container`, or the first 12 characters of `ID`). */
  readonly container: string;
  /** Container name (`Name`). */
  readonly name: string;
  /**
   * CPU usage in percent of one CPU, 0 to 100 x online CPUs (`CPUPerc`); null when the read
   * has no real window: a container's first read, or one less than half a sample period after
   * the previous read.
   */
  readonly cpu: number | null;
  /** Memory in use, bytes: usage minus inactive file cache (`MemUsage`, left side). */
  readonly memoryUse: number;
  /** Memory limit, bytes (`MemUsage`, right side). */
  readonly totalMemory: number;
  /** Memory in use as percent of the limit (`MemPerc`). */
  readonly memoryPercentage: number;
  /** Cumulative bytes received over all interfaces (`NetIO`, left side). */
  readonly netIn: number;
  /** Cumulative bytes sent over all interfaces (`NetIO`, right side). */
  readonly netOut: number;
  /** Cumulative bytes read from block devices (`BlockIO`, left side). */
  readonly blockIn: number;
  /** Cumulative bytes written to block devices (`BlockIO`, right side). */
  readonly blockOut: number;
  /** Number of processes and threads (`PIDs`). */
  readonly pids: number;
  /** What only the cgroup files tell; absent from the `docker stats` source. */
  readonly cgroup?: CgroupFigures;
}

/**
 * The figures `docker stats` cannot tell, from one read of a container's cgroup files and
 * `/proc/<pid>/net/dev`. Each is null where the kernel or the layout has no value (a file or
 * key missing, pressure on cgroup v1, no limit set). Sources of each key: kernel
 * Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/*.rst; docs/cgroup.md has the table.
 */
export interface CgroupFigures {
  /** Monotonic time of the read, milliseconds (`performance.now()`): the window of shares. */
  readonly monoMs: number;
  /** CPU time used, nanoseconds, cumulative (v1 `cpuacct.usage`, v2 `cpu.stat` usage_usec). */
  readonly cpuUsageNs: number;
  /** CFS quota per period, µs; null when unlimited (v1 `cpu.cfs_quota_us`, v2 `cpu.max`). */
  readonly cpuQuotaUs: number | null;
  /** CFS period, µs (v1 `cpu.cfs_period_us`, v2 `cpu.max`). */
  readonly cpuPeriodUs: number | null;
  /** Enforcement periods elapsed, cumulative (`cpu.stat` nr_periods). */
  readonly cpuPeriods: number | null;
  /** Periods in which the group was throttled, cumulative (`cpu.stat` nr_throttled). */
  readonly cpuThrottledPeriods: number | null;
  /** Time throttled, µs, cumulative (v2 throttled_usec; v1 throttled_time ns / 1000). */
  readonly cpuThrottledUs: number | null;
  /** Memory usage including page cache, bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`). */
  readonly memoryUsage: number;
  /** Anonymous memory, bytes (`memory.stat` v2 anon, v1 total_rss). */
  readonly memoryAnon: number | null;
  /** File-backed memory (page cache), bytes (`memory.stat` v2 file, v1 total_cache). */
  readonly memoryFile: number | null;
  /** Times usage hit the limit, cumulative (v2 `memory.events` max, v1 `memory.failcnt`). */
  readonly memoryMaxEvents: number | null;
  /** Processes OOM-killed, cumulative (v2 `memory.events` oom_kill, v1 `memory.oom_control`). */
  readonly oomKills: number | null;
  /** Major page faults, cumulative (`memory.stat` pgmajfault; v1 total_pgmajfault). */
  readonly pgmajfault: number | null;
  /** Stall time of some task on CPU, µs, cumulative (v2 `cpu.pressure` some total). */
  readonly cpuPressureSomeUs: number | null;
  /** Stall time of some task on memory, µs, cumulative (v2 `memory.pressure` some total). */
  readonly memoryPressureSomeUs: number | null;
  /** Stall time of all tasks on memory, µs, cumulative (v2 `memory.pressure` full total). */
  readonly memoryPressureFullUs: number | null;
  /** Stall time of some task on I/O, µs, cumulative (v2 `io.pressure` some total). */
  readonly ioPressureSomeUs: number | null;
  /** Stall time of all tasks on I/O, µs, cumulative (v2 `io.pressure` full total). */
  readonly ioPressureFullUs: number | null;
  /** Packets received, cumulative (`/proc/<pid>/net/dev`, interfaces other than `lo`). */
  readonly netRxPackets: number | null;
  /** Packets sent, cumulative. */
  readonly netTxPackets: number | null;
  /** Receive errors, cumulative. */
  readonly netRxErrors: number | null;
  /** Transmit errors, cumulative. */
  readonly netTxErrors: number | null;
  /** Received packets dropped, cumulative. */
  readonly netRxDropped: number | null;
  /** Sent packets dropped, cumulative. */
  readonly netTxDropped: number | null;
  /** Block I/O read operations, cumulative (v1 `blkio.throttle.io_serviced`, v2 `io.stat` rios). */
  readonly blockReads: number | null;
  /** Block I/O write operations, cumulative (v1 `blkio.throttle.io_serviced`, v2 `io.stat` wios). */
  readonly blockWrites: number | null;
  /** Task limit; null when unlimited (`pids.max`). */
  readonly pidsLimit: number | null;
}
