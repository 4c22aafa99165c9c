/**
 * The `diskStats` table (`--disk-table`): one row per configured host disk per interval.
 *
 * @module
 */
import type { DiskReading } from "../disks/collector.ts";
import { defineTable, hostSymbol, type TableDecl } from "./table.ts";

/** The disk table; the designated timestamp is the interval's end. */
export const DISK_TABLE: TableDecl<DiskReading> = defineTable<DiskReading>({
  defaultName: "diskStats",
  columns: [
    hostSymbol(),
    { name: "name", type: "SYMBOL", unit: "text", value: (r) => r.name },
    { name: "file_system", type: "SYMBOL", unit: "text", value: (r) => r.fileSystem },
    { name: "mount_point", type: "SYMBOL", unit: "text", value: (r) => r.mountPoint },
    { name: "type", type: "SYMBOL", unit: "text", value: (r) => r.type },
    { name: "available_space", type: "LONG", unit: "bytes", value: (r) => r.availableSpace },
    { name: "total_space", type: "LONG", unit: "bytes", value: (r) => r.totalSpace },
    { name: "percentage_use", type: "DOUBLE", unit: "percent", value: (r) => r.percentageUse },
    { name: "read_bytes", type: "LONG", unit: "bytes", value: (r) => r.readBytes },
    { name: "write_bytes", type: "LONG", unit: "bytes", value: (r) => r.writeBytes },
    { name: "read_bytes_delta", type: "LONG", unit: "bytes", value: (r) => r.readBytesDelta },
    { name: "write_bytes_delta", type: "LONG", unit: "bytes", value: (r) => r.writeBytesDelta },
  ],
  upsertKeys: ["timestamp", "host", "name"],
});
