/**
 * The `containerStats` table (`--table`): one row per container per interval. Columns and types
 * are those of the Rust original, so its dashboards keep working (seeds/001,
 * `show columns from containerStats`), then the cgroup figures of issue 18, which only
 * `--source cgroup` has (docs/cgroup.md names the file and key of each).
 *
 * @module
 */
import type { CgroupRow, ContainerRow } from "../reducer/reducer.ts";
import { type ColumnDecl, defineTable, hostSymbol, type TableDecl, type Unit } from "./table.ts";

/**
 * A column of a cgroup figure: `value` is `r.cgroup?.<key> ?? undefined`, so a null figure (no
 * limit, no key, pressure on v1) or a row without figures (the docker source) leaves it out.
 */
function cgroupColumn(
  name: string,
  type: "DOUBLE" | "LONG",
  unit: Unit,
  key: keyof CgroupRow,
): ColumnDecl<ContainerRow> {
  return { name, type, unit, value: (r) => r.cgroup?.[key] ?? undefined };
}

/** The container table; the designated timestamp is the interval's end. */
export const CONTAINER_TABLE: TableDecl<ContainerRow> = defineTable<ContainerRow>({
  defaultName: "containerStats",
  columns: [
    hostSymbol(),
    { name: "container", type: "SYMBOL", unit: "text", value: (r) => r.container },
    { name: "name", type: "SYMBOL", unit: "text", value: (r) => r.name },
    { name: "id", type: "VARCHAR", unit: "text", value: (r) => r.id },
    { name: "cpu", type: "DOUBLE", unit: "percent", value: (r) => r.cpu ?? undefined },
    {
      name: "memory_percentage",
      type: "DOUBLE",
      unit: "percent",
      value: (r) => r.memoryPercentage,
    },
    { name: "memory_use", type: "DOUBLE", unit: "bytes", value: (r) => r.memoryUse },
    { name: "total_memory", type: "DOUBLE", unit: "bytes", value: (r) => r.totalMemory },
    { name: "block_io_in", type: "DOUBLE", unit: "bytes", value: (r) => r.blockIn },
    { name: "block_io_out", type: "DOUBLE", unit: "bytes", value: (r) => r.blockOut },
    { name: "net_io_in", type: "DOUBLE", unit: "bytes", value: (r) => r.netIn },
    { name: "net_io_out", type: "DOUBLE", unit: "bytes", value: (r) => r.netOut },
    { name: "block_io_in_delta", type: "LONG", unit: "bytes", value: (r) => r.blockInDelta },
    { name: "block_io_out_delta", type: "LONG", unit: "bytes", value: (r) => r.blockOutDelta },
    { name: "net_io_in_delta", type: "LONG", unit: "bytes", value: (r) => r.netInDelta },
    { name: "net_io_out_delta", type: "LONG", unit: "bytes", value: (r) => r.netOutDelta },
    { name: "pids", type: "LONG", unit: "count", value: (r) => r.pids },
    { name: "samples", type: "LONG", unit: "count", value: (r) => r.samples },
    cgroupColumn("cpu_limit", "DOUBLE", "count", "cpuLimit"), // cores
    cgroupColumn("cpu_throttled_pct", "DOUBLE", "percent", "cpuThrottledPct"),
    cgroupColumn("cpu_throttled_us_delta", "LONG", "count", "cpuThrottledUsDelta"), // µs
    cgroupColumn("memory_anon", "DOUBLE", "bytes", "memoryAnon"),
    cgroupColumn("memory_file", "DOUBLE", "bytes", "memoryFile"),
    cgroupColumn("oom_kills_delta", "LONG", "count", "oomKillsDelta"),
    cgroupColumn("memory_max_events_delta", "LONG", "count", "memoryMaxEventsDelta"),
    cgroupColumn("pgmajfault_delta", "LONG", "count", "pgmajfaultDelta"),
    cgroupColumn("cpu_pressure_pct", "DOUBLE", "percent", "cpuPressurePct"),
    cgroupColumn("memory_pressure_pct", "DOUBLE", "percent", "memoryPressurePct"),
    cgroupColumn("memory_pressure_full_pct", "DOUBLE", "percent", "memoryPressureFullPct"),
    cgroupColumn("io_pressure_pct", "DOUBLE", "percent", "ioPressurePct"),
    cgroupColumn("io_pressure_full_pct", "DOUBLE", "percent", "ioPressureFullPct"),
    cgroupColumn("net_rx_dropped_delta", "LONG", "count", "netRxDroppedDelta"),
    cgroupColumn("net_tx_dropped_delta", "LONG", "count", "netTxDroppedDelta"),
    cgroupColumn("net_rx_errors_delta", "LONG", "count", "netRxErrorsDelta"),
    cgroupColumn("net_tx_errors_delta", "LONG", "count", "netTxErrorsDelta"),
    cgroupColumn("pids_limit", "LONG", "count", "pidsLimit"),
  ],
  upsertKeys: ["timestamp", "host", "container"],
});
