/**
 * The `containerEvents` lifecycle table (`--events-table`): one row per engine event that
 * tells why a container's numbers changed (issue 10). The designated timestamp is the event's
 * own `timeNano`, not an interval's end, so encode it with a per-row timestamp.
 *
 * @module
 */
import type { LifecycleRow } from "../catalog/events.ts";
import { defineTable, hostSymbol, type TableDecl } from "./table.ts";

/** The lifecycle table. */
export const EVENT_TABLE: TableDecl<LifecycleRow> = defineTable<LifecycleRow>({
  defaultName: "containerEvents",
  columns: [
    hostSymbol(),
    { name: "container", type: "SYMBOL", unit: "text", value: (r) => r.container },
    { name: "name", type: "SYMBOL", unit: "text", value: (r) => r.name },
    { name: "image", type: "SYMBOL", unit: "text", value: (r) => r.image },
    { name: "event", type: "SYMBOL", unit: "text", value: (r) => r.event },
    { name: "health", type: "SYMBOL", unit: "text", value: (r) => r.health },
    { name: "exit_code", type: "LONG", unit: "code", value: (r) => r.exitCode },
    { name: "signal", type: "LONG", unit: "code", value: (r) => r.signal },
    { name: "restart_count", type: "LONG", unit: "count", value: (r) => r.restartCount },
  ],
  upsertKeys: ["timestamp", "host", "container", "event"],
});

/**
 * A lifecycle row's designated timestamp, nanoseconds since the epoch: the event's
 * `timeNano`.
 */
export function eventTimestamp(row: LifecycleRow): bigint {
  return row.timeNano;
}
