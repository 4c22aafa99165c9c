/**
 * What publishing hands rows to: one per destination (QuestDB, InfluxDB, VictoriaMetrics, or
 * the dry run's stdout), each with its own queue, retries, spool and figures, so an outage of
 * one never holds back or duplicates another.
 *
 * @module
 */
import type { EncodeOptions } from "../schema/table.ts";
import type { Batch } from "./queue.ts";
import type { DeliveryStats } from "./delivery.ts";

/** A destination for ILP batches. `Delivery` is the one that talks to a server. */
export interface RowSink {
  /** Short name for logs and STATUS: `questdb`, `influxdb`, `victoriametrics`, `stdout`. */
  readonly name: string;
  /** How rows are encoded for it (VictoriaMetrics takes no string fields). */
  readonly encoding: EncodeOptions;
  /** Running totals. */
  readonly stats: Readonly<DeliveryStats>;
  /** Rows waiting for delivery. */
  readonly pendingRows: number;
  /** Loads rows an earlier run left undelivered; @returns how many. */
  loadSpool(): Promise<number>;
  /** Queues a batch (a batch of 0 rows is ignored). */
  enqueue(batch: Batch): void;
  /** Starts delivering. */
  start(): void;
  /**
   * Delivers what it can until `deadlineMs` (epoch ms), spools the rest, closes.
   * @returns rows left undelivered.
   */
  stop(deadlineMs: number): Promise<number>;
}
