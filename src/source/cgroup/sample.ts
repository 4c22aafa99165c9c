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
 * - cpu: {@link cpuPercent} from the previous reading (0 for a container's first reading);
 * - memoryUse, totalMemory, memoryPercentage: {@link memoryInUse}, {@link reportedLimit},
 *   {@link memoryPercent} (docker/cli stats_helpers.go, moby daemon/stats_unix.go);
 * - blockIn/blockOut, netIn/netOut: the cumulative counters, exact bytes (`docker stats`
 *   prints them with 3 significant digits);
 * - pids: `pids.current`.
 *
 * @param info the container (ID and current name).
 * @param previous the container's previous reading, if any.
 * @param current this reading.
 * @param machineMemory the host's MemTotal, bytes (0 when unknown).
 * @returns the sample.
 */
export function sampleOf(
  info: Pick<ContainerInfo, "id" | "name">,
  previous: Reading | undefined,
  current: Reading,
  machineMemory: number,
): Sample {
  const used = memoryInUse(current.memoryUsage, current.inactive);
  const limit = reportedLimit(current.memoryLimit, machineMemory);
  return {
    id: info.id,
    container: info.id.slice(0, 12),
    name: info.name,
    cpu: previous === undefined
      ? 0
      : cpuPercent(previous.cpuNs, current.cpuNs, current.atMs - previous.atMs),
    memoryUse: used,
    totalMemory: limit,
    memoryPercentage: memoryPercent(used, limit),
    netIn: current.net.rx,
    netOut: current.net.tx,
    blockIn: current.blockIo.read,
    blockOut: current.blockIo.write,
    pids: current.pids,
  };
}
