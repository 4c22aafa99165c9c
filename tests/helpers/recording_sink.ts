/**
 * A {@link RowSink} that keeps the batches it is handed, for tests about what is published
 * rather than how it is delivered (tests/unit/delivery_test.ts covers delivery).
 */
import type { Batch } from "../../src/delivery/queue.ts";
import type { DeliveryStats } from "../../src/delivery/delivery.ts";
import { newDeliveryStats, type RowSink } from "../../src/delivery/sink.ts";
import type { EncodeOptions } from "../../src/schema/table.ts";

/** A sink that keeps what it is handed. */
export class RecordingSink implements RowSink {
  readonly batches: Batch[] = [];
  readonly stats: DeliveryStats = newDeliveryStats();
  readonly pendingRows = 0;
  /**
   * @param name the sink's name in logs.
   * @param encoding its dialect.
   */
  constructor(readonly name = "recorder", readonly encoding: EncodeOptions = {}) {}
  /** Nothing to load. */
  loadSpool(): Promise<number> {
    return Promise.resolve(0);
  }
  /** Keeps the batch. */
  enqueue(batch: Batch): void {
    this.batches.push(batch);
  }
  /** Nothing to start. */
  start(): void {}
  /** Nothing left undelivered. */
  stop(): Promise<number> {
    return Promise.resolve(0);
  }
  /** The ILP lines of every batch. */
  lines(): string[] {
    return this.batches.flatMap((b) => b.ilp.split("\n").filter((l) => l !== ""));
  }
}
