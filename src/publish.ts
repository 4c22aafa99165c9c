/**
 * A closed interval becomes rows, and rows become one batch per sink. One row that cannot be
 * encoded costs that row alone: it is logged and counted, and every other row of the interval,
 * disk rows included, is published (Telegraf's serializer skips a bad metric the same way).
 * An error anywhere else in one publish (a sink, the encoder, a callback) costs that publish
 * (or that sink's batch of it) alone: it is logged and counted, and the next one goes out.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { DiskReading } from "./disks/collector.ts";
import { IlpEncoder } from "./ilp/encoder.ts";
import type { ClosedInterval } from "./reducer/interval.ts";
import type { ContainerRow } from "./reducer/reducer.ts";
import type { LifecycleRow } from "./catalog/events.ts";
import { eventTimestamp } from "./schema/events.ts";
import { encodeRows, msToNs, type NamedTable } from "./schema/table.ts";
import type { RowSink } from "./delivery/sink.ts";

const log = getLogger(["container-statsd", "publish"]);

/** Options of {@link Publisher}. */
export interface PublisherOptions {
  /** Value of the `host` symbol (`--node`). */
  host: string;
  /** The container table. */
  containers: NamedTable<ContainerRow>;
  /** The disk table and the readings of each interval, when `--disks` is given. */
  disks?: { table: NamedTable<DiskReading>; collect: () => Promise<DiskReading[]> };
  /** The lifecycle table (src/schema/events.ts), unless `--events disabled`. */
  events?: NamedTable<LifecycleRow> | null;
  /** Where batches go. */
  sinks: readonly RowSink[];
  /** Called after each interval was handed to the sinks (e.g. to update STATUS). */
  onPublished?: () => void;
}

/** Turns closed intervals into batches, in order. */
export class Publisher {
  /** Rows that could not be encoded and were dropped (each logged). */
  rowErrors = 0;
  /** Publishes (or one sink's batch of one) lost to an unexpected error (each logged). */
  publishErrors = 0;
  readonly #o: PublisherOptions;
  #encoder = new IlpEncoder();
  #chain: Promise<void> = Promise.resolve();

  /** Makes the publisher. */
  constructor(options: PublisherOptions) {
    this.#o = options;
  }

  /**
   * Publishes one interval: its container rows and, with `--disks`, one disk reading per disk,
   * all stamped with the interval's end. Calls are serialised so intervals reach the sinks in
   * order; a failure to read the disks is logged and the container rows still go out.
   * @returns when the interval's batches are queued on every sink; it never rejects (an error
   *   is logged and counted in {@link Publisher.publishErrors}).
   */
  publish(closed: ClosedInterval): Promise<void> {
    return this.#serial(
      () => this.#publish(closed),
      `interval ${new Date(closed.endMs).toISOString()}`,
    );
  }

  /**
   * Publishes lifecycle rows, each stamped with its event's own time (`timeNano`), as one
   * batch per sink behind the intervals already queued. A row that cannot be encoded costs that
   * row alone. Without an events table it does nothing.
   * @param rows the rows, in event order.
   * @returns when the batch is queued on every sink; it never rejects (as `publish`).
   */
  publishEvents(rows: readonly LifecycleRow[]): Promise<void> {
    const table = this.#o.events;
    if (!table || rows.length === 0) return this.#chain;
    return this.#serial(() => {
      const endMs = Number(rows.at(-1)!.timeNano / 1_000_000n);
      this.#eachSink("lifecycle rows", (sink, i) => {
        const onError = i > 0 ? () => {} : (row: LifecycleRow, e: Error) => {
          this.rowErrors++;
          log.error("Dropped {event} row of {name}: {error}", {
            event: row.event,
            name: row.name,
            error: e.message,
          });
        };
        const enc = this.#encoder;
        encodeRows(
          enc,
          table.decl,
          table.name,
          rows,
          eventTimestamp,
          { host: this.#o.host },
          onError,
          sink.encoding,
        );
        const n = enc.rowCount;
        sink.enqueue({ endMs, rows: n, ilp: enc.take() });
      });
    }, `${rows.length} lifecycle rows`);
  }

  /**
   * Runs `step` after every earlier one; an error in it is logged and counted, and never
   * reaches the steps after it (one broken publish would otherwise stop all later ones).
   */
  #serial(step: () => void | Promise<void>, what: string): Promise<void> {
    this.#chain = this.#chain.then(step).catch((e) => this.#lost(what, e));
    return this.#chain;
  }

  /** Runs `encode` for each sink; a sink whose batch throws loses that batch alone. */
  #eachSink(what: string, encode: (sink: RowSink, i: number) => void): void {
    this.#o.sinks.forEach((sink, i) => {
      try {
        encode(sink, i);
      } catch (e) {
        this.#encoder = new IlpEncoder(); // it may hold a part of the lost batch
        this.#lost(`${what} for ${sink.name}`, e);
      }
    });
  }

  #lost(what: string, e: unknown): void {
    this.publishErrors++;
    log.error("Publishing {what} failed, its rows are lost ({count} so far): {error}", {
      what,
      count: this.publishErrors,
      error: e instanceof Error ? e.message : String(e),
    });
  }

  async #publish(closed: ClosedInterval): Promise<void> {
    const { host, containers, disks } = this.#o;
    let readings: DiskReading[] = [];
    if (disks) {
      try {
        readings = await disks.collect();
      } catch (e) {
        log.error("Reading disks failed: {error}", { error: (e as Error).message });
      }
    }
    const ts = msToNs(closed.endMs);
    const context = { host };
    this.#eachSink(`interval ${new Date(closed.endMs).toISOString()}`, (sink, i) => {
      const onError = i > 0 ? () => {} : (row: { name: string }, e: Error) => {
        this.rowErrors++;
        log.error("Dropped row {name} of interval {end}: {error}", {
          name: row.name,
          end: new Date(closed.endMs).toISOString(),
          error: e.message,
        });
      };
      const enc = this.#encoder;
      encodeRows(
        enc,
        containers.decl,
        containers.name,
        closed.rows,
        ts,
        context,
        onError,
        sink.encoding,
      );
      if (disks) {
        encodeRows(
          enc,
          disks.table.decl,
          disks.table.name,
          readings,
          ts,
          context,
          onError,
          sink.encoding,
        );
      }
      const rows = enc.rowCount;
      sink.enqueue({ endMs: closed.endMs, rows, ilp: enc.take() });
    });
    this.#o.onPublished?.();
  }
}
