/**
 * Stopping the sinks at shutdown (main.ts builds them from the flags).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { RowSink } from "./sink.ts";

const log = getLogger(["container-statsd", "delivery"]);

/**
 * Stops every sink with the shutdown deadline (each delivers what it can, then spools the
 * rest) and logs each one's totals.
 * @param deadlineMs epoch ms by which delivery attempts end.
 */
export async function stopSinks(sinks: readonly RowSink[], deadlineMs: number): Promise<void> {
  await Promise.allSettled(sinks.map(async (sink) => {
    const left = await sink.stop(deadlineMs);
    const s = sink.stats;
    log.info(
      "Stopped {sink}: {delivered} rows delivered, {left} undelivered, {dropped} dropped, " +
        "{rejected} refused",
      {
        sink: sink.name,
        delivered: s.deliveredRows,
        left,
        dropped: s.droppedRows,
        rejected: s.rejectedRows,
      },
    );
  }));
}
