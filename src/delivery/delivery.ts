/**
 * Delivery: moves queued batches to QuestDB, in order, until they are acknowledged.
 *
 * - A batch goes out in one request; a backlog goes out several batches per request (at most
 *   `maxRowsPerRequest` rows).
 * - 2xx: delivered. A non-retryable error (HTTP 4xx): the server's message is logged, the
 *   batch is dropped and counted (a backlog request is first split so that only the bad batch
 *   is dropped). Anything else (5xx, timeout, connection error, TCP write error) is retried
 *   with exponential backoff and full jitter, 1 s doubling to 60 s, while the daemon runs.
 * - While delivery fails, the queue is written to the spool at most every `spoolEveryMs`, and
 *   on shutdown; a delivered queue removes the spool.
 *
 * Sources: QuestDB ILP over HTTP error handling (docs "ILP overview: HTTP transaction
 * semantics"); Telegraf's output buffer (models/running_output.go) for drop-oldest.
 */
import { getLogger } from "@logtape/logtape";
import { IlpDeliveryError, type IlpTransport } from "../ilp/transport.ts";
import { type Batch, BatchQueue } from "./queue.ts";
import type { Spool } from "./spool.ts";
import type { RowSink } from "./sink.ts";
import type { EncodeOptions } from "../schema/table.ts";

const log = getLogger(["container-statsd", "delivery"]);

/** Options for {@link Delivery}. */
export interface DeliveryOptions {
  /** Sink name for logs and STATUS. Default `questdb`. */
  name?: string;
  /** How rows are encoded for this sink. Default: every column. */
  encoding?: EncodeOptions;
  /** Where batches go (HTTP or TCP). */
  transport: IlpTransport;
  /** Queue capacity in rows (--buffer-rows). */
  bufferRows: number;
  /** Where undelivered rows survive a restart; none when undefined. */
  spool?: Spool;
  /** Called once before the first send of each connection attempt cycle (e.g. CREATE TABLE). */
  prepare?: () => Promise<void>;
  /** Most rows in one request when draining a backlog. Default 20 000. */
  maxRowsPerRequest?: number;
  /** First retry delay, ms. Default 1000. */
  initialBackoffMs?: number;
  /** Longest retry delay, ms. Default 60 000. */
  maxBackoffMs?: number;
  /** Least time between two spool writes while failing, ms. Default 5000. */
  spoolEveryMs?: number;
  /** Called after every send attempt (delivered, refused or failed), e.g. to update STATUS. */
  onAttempt?: () => void;
}

/** Running totals, for logs and the systemd STATUS line. */
export interface DeliveryStats {
  /** Rows QuestDB acknowledged (HTTP) or that were written to the socket (TCP). */
  deliveredRows: number;
  /** Rows dropped because the queue was full (oldest first). */
  droppedRows: number;
  /** Rows QuestDB refused (4xx), dropped. */
  rejectedRows: number;
  /** Failed attempts since the last success. */
  failures: number;
  /** The last publish: interval end (ms), rows, and the error if it failed. */
  last: { endMs: number; rows: number; ok: boolean; error?: string } | null;
}

/** The delivery loop. */
export class Delivery implements RowSink {
  /** @inheritdoc */
  readonly name: string;
  /** @inheritdoc */
  readonly encoding: EncodeOptions;
  /** Running totals; read them, do not write them. */
  readonly stats: DeliveryStats = {
    deliveredRows: 0,
    droppedRows: 0,
    rejectedRows: 0,
    failures: 0,
    last: null,
  };
  readonly #t: IlpTransport;
  readonly #queue: BatchQueue;
  readonly #spool: Spool | undefined;
  readonly #prepare: (() => Promise<void>) | undefined;
  #prepared = false;
  readonly #maxRows: number;
  readonly #initialBackoff: number;
  readonly #maxBackoff: number;
  readonly #spoolEvery: number;
  readonly #onAttempt: (() => void) | undefined;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #lastSpoolAt = 0;
  /** Whether the spool file may hold rows not yet delivered. */
  #spoolDirty = false;
  #spooledSinceChange = true;
  #spoolTimer: ReturnType<typeof setTimeout> | undefined;

  /** Makes an idle delivery loop; call {@link Delivery.start}. */
  constructor(o: DeliveryOptions) {
    this.name = o.name ?? "questdb";
    this.encoding = o.encoding ?? {};
    this.#t = o.transport;
    this.#queue = new BatchQueue(o.bufferRows);
    this.#spool = o.spool;
    this.#prepare = o.prepare;
    this.#maxRows = o.maxRowsPerRequest ?? 20_000;
    this.#initialBackoff = o.initialBackoffMs ?? 1000;
    this.#maxBackoff = o.maxBackoffMs ?? 60_000;
    this.#spoolEvery = o.spoolEveryMs ?? 5000;
    this.#onAttempt = o.onAttempt;
  }

  /** Rows waiting for delivery. */
  get pendingRows(): number {
    return this.#queue.rows;
  }

  /**
   * Loads the spool left by an earlier run into the queue, ahead of new rows.
   * @returns the number of rows loaded.
   */
  async loadSpool(): Promise<number> {
    if (!this.#spool) return 0;
    const batches = await this.#spool.read();
    let rows = 0;
    for (const b of batches) {
      this.#add(b);
      rows += b.rows;
    }
    if (rows > 0) {
      this.#spoolDirty = true;
      log.info("Loaded {rows} undelivered rows ({batches} intervals) from {path}", {
        rows,
        batches: batches.length,
        path: this.#spool.path,
      });
    }
    return rows;
  }

  /** Queues a batch; it is sent as soon as the ones before it are delivered. */
  enqueue(batch: Batch): void {
    if (batch.rows === 0) return;
    this.#add(batch);
    this.#spooledSinceChange = false;
    if (this.stats.failures > 0) void this.#maybeSpool();
    this.#wake?.();
  }

  #add(batch: Batch): void {
    const dropped = this.#queue.push(batch);
    if (dropped > 0) {
      this.stats.droppedRows += dropped;
      log.warn(
        "Delivery queue full ({capacity} rows): dropped the {dropped} oldest rows " +
          "({total} dropped so far)",
        { capacity: this.#queue.capacityRows, dropped, total: this.stats.droppedRows },
      );
    }
  }

  /** Starts the loop. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /**
   * Stops the loop: tries to deliver what is queued until `deadlineMs` (epoch ms), then writes
   * whatever is left to the spool and closes the transport.
   * @returns rows left undelivered (spooled if a spool is configured).
   */
  async stop(deadlineMs: number): Promise<number> {
    this.#running = false;
    clearTimeout(this.#spoolTimer);
    this.#wake?.();
    await this.#loop;
    while (this.#queue.length > 0 && Date.now() < deadlineMs) {
      const outcome = await this.#sendOnce(deadlineMs - Date.now());
      if (outcome === "retry") break;
    }
    const left = this.#queue.rows;
    if (this.#spool && (left > 0 || this.#spoolDirty)) {
      try {
        await this.#spool.write(this.#queue.toArray());
        if (left > 0) {
          log.warn("Shutdown with {rows} undelivered rows: spooled to {path}", {
            rows: left,
            path: this.#spool.path,
          });
        }
      } catch (e) {
        log.error("Cannot write spool {path}: {error}; {rows} rows lost", {
          path: this.#spool.path,
          error: (e as Error).message,
          rows: left,
        });
      }
    }
    await this.#t.close().catch(() => {});
    return left;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      if (this.#queue.length === 0) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = null;
        continue;
      }
      const outcome = await this.#sendOnce();
      this.#onAttempt?.();
      if (outcome !== "retry") {
        attempt = 0;
        continue;
      }
      await this.#maybeSpool();
      // Full jitter: uniform in [cap/2, cap] keeps retries apart without long silences.
      const cap = Math.min(this.#maxBackoff, this.#initialBackoff * 2 ** attempt);
      attempt = Math.min(attempt + 1, 30);
      const delay = cap / 2 + Math.random() * (cap / 2);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.#wake = () => {
          if (!this.#running) {
            clearTimeout(t);
            resolve();
          }
        };
      });
      this.#wake = null;
    }
  }

  /** One request: the oldest batches up to the row cap. */
  async #sendOnce(timeLeftMs?: number): Promise<"ok" | "rejected" | "retry"> {
    let batches = this.#queue.peek(64);
    let rows = 0;
    let n = 0;
    for (const b of batches) {
      if (n > 0 && rows + b.rows > this.#maxRows) break;
      rows += b.rows;
      n++;
    }
    batches = batches.slice(0, n);
    const body = batches.length === 1 ? batches[0]!.ilp : batches.map((b) => b.ilp).join("");
    const last = batches[batches.length - 1]!;
    let started = performance.now();
    try {
      if (!this.#prepared && this.#prepare) {
        await this.#prepare();
        this.#prepared = true;
        started = performance.now(); // the publish log times the request alone
      }
      if (timeLeftMs !== undefined && timeLeftMs <= 0) return "retry";
      await this.#t.send(body);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const retryable = !(e instanceof IlpDeliveryError) || e.retryable;
      if (!retryable && n > 1) {
        // Find the bad batch: send them one at a time from here on.
        return this.#sendEach(batches);
      }
      if (!retryable) {
        this.#queue.shift();
        this.stats.rejectedRows += last.rows;
        this.stats.last = { endMs: last.endMs, rows: last.rows, ok: false, error: err.message };
        log.error("QuestDB refused {rows} rows of interval {end}, dropped: {error}", {
          rows: last.rows,
          end: new Date(last.endMs).toISOString(),
          error: err.message,
        });
        return "rejected";
      }
      this.stats.failures++;
      this.stats.last = { endMs: last.endMs, rows, ok: false, error: err.message };
      const level = this.stats.failures === 1 ? "warn" : "debug";
      log[level](
        "Publish of {rows} rows to {target} failed (attempt {attempt}), will retry: {error}",
        { rows, target: this.#t.target, attempt: this.stats.failures, error: err.message },
      );
      return "retry";
    }
    for (let i = 0; i < n; i++) this.#queue.shift();
    const ms = Math.round(performance.now() - started);
    if (this.stats.failures > 0) {
      log.info("Delivery to {target} recovered after {failures} failed attempts", {
        target: this.#t.target,
        failures: this.stats.failures,
      });
    }
    this.stats.failures = 0;
    this.stats.deliveredRows += rows;
    this.stats.last = { endMs: last.endMs, rows, ok: true };
    log.info("Published {rows} rows ({bytes} bytes) in {ms} ms to {target}", {
      rows,
      bytes: body.length,
      ms,
      target: this.#t.target,
    });
    if (this.#queue.length === 0 && this.#spoolDirty && this.#spool) {
      await this.#spool.remove().catch(() => {});
      this.#spoolDirty = false;
    }
    return "ok";
  }

  async #sendEach(batches: Batch[]): Promise<"ok" | "rejected" | "retry"> {
    let outcome: "ok" | "rejected" | "retry" = "ok";
    for (const b of batches) {
      if (this.#queue.peek(1)[0] !== b) break;
      try {
        await this.#t.send(b.ilp);
        this.#queue.shift();
        this.stats.deliveredRows += b.rows;
        this.stats.last = { endMs: b.endMs, rows: b.rows, ok: true };
      } catch (e) {
        if (e instanceof IlpDeliveryError && !e.retryable) {
          this.#queue.shift();
          this.stats.rejectedRows += b.rows;
          outcome = "rejected";
          this.stats.last = { endMs: b.endMs, rows: b.rows, ok: false, error: e.message };
          log.error("QuestDB refused {rows} rows of interval {end}, dropped: {error}", {
            rows: b.rows,
            end: new Date(b.endMs).toISOString(),
            error: e.message,
          });
        } else {
          return "retry";
        }
      }
    }
    return outcome;
  }

  async #maybeSpool(): Promise<void> {
    if (!this.#spool || this.#spooledSinceChange) return;
    const now = Date.now();
    const wait = this.#lastSpoolAt + this.#spoolEvery - now;
    if (wait > 0) {
      // Throttled: come back when allowed, so the window of unspooled rows stays bounded.
      this.#spoolTimer ??= setTimeout(() => {
        this.#spoolTimer = undefined;
        if (this.stats.failures > 0 && this.#running) void this.#maybeSpool();
      }, wait);
      return;
    }
    this.#lastSpoolAt = now;
    this.#spooledSinceChange = true;
    try {
      await this.#spool.write(this.#queue.toArray());
      this.#spoolDirty = true;
      log.debug("Spooled {rows} undelivered rows to {path}", {
        rows: this.#queue.rows,
        path: this.#spool.path,
      });
    } catch (e) {
      log.error("Cannot write spool {path}: {error}", {
        path: this.#spool.path,
        error: (e as Error).message,
      });
    }
  }
}
