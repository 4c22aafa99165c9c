/**
 * What publishing hands rows to: one per destination (QuestDB, InfluxDB, VictoriaMetrics, or
 * the dry run's stdout), each with its own queue, retries, spool and figures, so an outage of
 * one never holds back or duplicates another.
 *
 * @module
 */
import type { EncodeOptions } from "../schema/table.ts";
import type { Batch } from "./queue.ts";

/** Running totals, for logs and the systemd STATUS line. */
export interface DeliveryStats {
  /** Rows the server acknowledged (HTTP) or that were written to the socket (TCP). */
  deliveredRows: number;
  /** Rows dropped because the queue was full (oldest first). */
  droppedRows: number;
  /** Rows the server refused (e.g. HTTP 400), dropped. */
  rejectedRows: number;
  /** Failed attempts since the last success. */
  failures: number;
  /** Failed attempts (retried), cumulative. */
  failedRequests: number;
  /** Rows in the spool file as last written (0 once removed). */
  spooledRows: number;
  /** The last publish: interval end (ms), rows, and the error if it failed. */
  last: { endMs: number; rows: number; ok: boolean; error?: string } | null;
}

/** The totals of a sink that has done nothing yet. */
export function newDeliveryStats(): DeliveryStats {
  return {
    deliveredRows: 0,
    droppedRows: 0,
    rejectedRows: 0,
    failures: 0,
    failedRequests: 0,
    spooledRows: 0,
    last: null,
  };
}

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
