/**
 * One container's statistics from one `docker stats` redraw, normalised to bytes and percent.
 *
 * Field sources are the keys of `docker stats --format '{{json .}}' --no-trunc`
 * (docker/cli cli/command/container/formatter_stats.go).
 */
export interface Sample {
  /** Full 64-character container ID (`ID`). */
  readonly id: string;
  /** 12-character short container ID (`Container`, or the first 12 characters of `ID`). */
  readonly container: string;
  /** Container name (`Name`). */
  readonly name: string;
  /** CPU usage in percent of one CPU; ranges 0 to 100 x online CPUs (`CPUPerc`). */
  readonly cpu: number;
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
}
