/**
 * A container's {@link Sample} from two readings of its cgroup, in the units and with the
 * formulas of the `docker stats` source, so the pipeline cannot tell the sources apart.
 *
 * @module
 */
import type { ContainerInfo } from "../../catalog/container.ts";
import type { Sample } from "../../sample.ts";
import { cpuPercent } from "./cpu.ts";
import { memoryInUse, memoryPercent, reportedLimit } from "./memory.ts";
import type { Reading } from "./reader.ts";

/**
 * Builds the sample of a reading.
 *
 * - cpu: {@link cpuPercent} over the window since `previous`; null when there is no real
 *   window: no previous reading (a container's first), or one taken less than half a sample
 *   period ago (a read at a `start` or `stop` change just after a round). The caller keeps
 *   `previous` in that case, so that the next read spans a real window (issue 16);
 * - memoryUse, totalMemory, memoryPercentage: {@link memoryInUse}, {@link reportedLimit},
 *   {@link memoryPercent} (docker/cli stats_helpers.go, moby daemon/stats_unix.go);
 * - blockIn/blockOut, netIn/netOut: the cumulative counters, exact bytes (`docker stats`
 *   prints them with 3 significant digits);
 * - pids: `pids.current`;
 * - cgroup: the reading's figures as read (src/sample.ts `CgroupFigures`).
 *
 * @param info the container (ID and current name).
 * @param previous the container's previous reading with a real window, if any.
 * @param current this reading.
 * @param machineMemory the host's MemTotal, bytes (0 when unknown).
 * @param periodMs the sample period, ms: the shortest window is half of it.
 * @returns the sample.
 */
export function sampleOf(
  info: Pick<ContainerInfo, "id" | "name">,
  previous: Reading | undefined,
  current: Reading,
  machineMemory: number,
  periodMs: number,
): Sample {
  const used = memoryInUse(current.cgroup.memoryUsage, current.inactive);
  const limit = reportedLimit(current.memoryLimit, machineMemory);
  const windowMs = previous === undefined ? 0 : current.cgroup.monoMs - previous.cgroup.monoMs;
  return {
    id: info.id,
    container: info.id.slice(0, 12),
    name: info.name,
    cpu: previous === undefined || windowMs < periodMs / 2
      ? null
      : cpuPercent(previous.cgroup.cpuUsageNs, current.cgroup.cpuUsageNs, windowMs),
    memoryUse: used,
    totalMemory: limit,
    memoryPercentage: memoryPercent(used, limit),
    netIn: current.net?.rx ?? 0,
    netOut: current.net?.tx ?? 0,
    blockIn: current.blockIo.read,
    blockOut: current.blockIo.write,
    pids: current.pids,
    cgroup: current.cgroup,
  };
}
