/**
 * The `containerStats` table (`--table`): one row per container per interval. Columns and types
 * are those of the Rust original, so its dashboards keep working (seeds/001,
 * `show columns from containerStats`).
 *
 * @module
 */
import type { ContainerRow } from "../reducer/reducer.ts";
import { defineTable, hostSymbol, type TableDecl } from "./table.ts";

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
  ],
  upsertKeys: ["timestamp", "host", "container"],
});
