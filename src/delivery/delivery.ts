/**
 * Delivery: moves queued batches to one sink's server, in order, until they are acknowledged.
 *
 * - A batch goes out in one request; a backlog goes out several batches per request (at most
 *   `maxRowsPerRequest` rows).
 * - 2xx: delivered. A non-retryable error (e.g. HTTP 400): the server's message is logged, the
 *   batch is dropped and counted (a backlog request is first split so that only the bad batch
 *   is dropped). A retryable one (5xx, timeout, connection error, TCP write error, and what the
 *   transport marks so) is retried while the daemon runs: first quickly for `retryTimeoutMs`
 *   after the streak's first failure (10 ms doubling to `retryMaxBackoffMs`, the QuestDB
 *   clients' `retry_timeout` rule), then with exponential backoff and jitter, 1 s doubling to
 *   60 s. A `Retry-After` on the error is a floor for the next wait (up to 15 minutes).
 * - A failure is logged at warning once the quick retries are over, and again only when its
 *   kind (HTTP status, or no answer) changes; a recovery after that is logged at info.
 * - While delivery fails, the queue is written to the spool at most every `spoolEveryMs`, and
 *   on shutdown; a delivered queue removes the spool.
 *
 * Sources: QuestDB ILP over HTTP error handling (docs "ILP overview: HTTP transaction
 * semantics"; py-questdb-client docs/conf.rst for `retry_timeout`); Telegraf's output buffer
 * (models/running_output.go) for drop-oldest.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { IlpDeliveryError } from "../ilp/errors.ts";
import type { IlpTransport } from "../ilp/transport.ts";
import { type Batch, BatchQueue } from "./queue.ts";
import type { Spool } from "./spool.ts";
import { type DeliveryStats, newDeliveryStats, type RowSink } from "./sink.ts";
import type { EncodeOptions } from "../schema/table.ts";

export type { DeliveryStats } from "./sink.ts";

const log = getLogger(["container-statsd", "delivery"]);

/** First wait of the quick retries, ms (the QuestDB clients' 10 ms). */
const QUICK_FIRST_BACKOFF_MS = 10;
/** Longest `Retry-After` obeyed, ms; a longer one is cut to this. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;

/** Options for {@link Delivery}. */
export interface DeliveryOptions {
  /** Sink name for logs and STATUS. Default `questdb`. */
  name?: string;
  /** How rows are encoded for this sink. Default: every column. */
  encoding?: EncodeOptions;
  /** Where batches go. */
  transport: IlpTransport;
  /** Queue capacity in rows (--buffer-rows). */
  bufferRows: number;
  /** Where undelivered rows survive a restart; none when undefined. */
  spool?: Spool;
  /**
   * Runs before the first send, and again before each later send until it has succeeded once
   * (e.g. CREATE TABLE); its failure counts as a failed send.
   */
  prepare?: () => Promise<void>;
  /** Most rows in one request when draining a backlog. Default 20 000. */
  maxRowsPerRequest?: number;
  /** How long after a streak's first failure retries are quick, ms; 0 for none. Default 0. */
  retryTimeoutMs?: number;
  /** Longest wait between quick retries, ms. Default 1000. */
  retryMaxBackoffMs?: number;
  /** First wait after the quick retries, ms. Default 1000. */
  initialBackoffMs?: number;
  /** Longest wait after the quick retries, ms. Default 60 000. */
  maxBackoffMs?: number;
  /** Least time between two spool writes while failing, ms. Default 5000. */
  spoolEveryMs?: number;
  /** Called after every send attempt (delivered, refused or failed), e.g. to update STATUS. */
  onAttempt?: () => void;
}

/** A run of failed attempts, from the first failure to the next answer. */
interface FailureStreak {
  /** When the first attempt failed, epoch ms. */
  readonly startedAt: number;
  /** Quick retries waited for so far. */
  quick: number;
  /** Slow retries waited for so far. */
  slow: number;
  /** The failure kind last logged at warning, if any. */
  reported?: string;
  /** The last error's `Retry-After`, ms. */
  retryAfterMs?: number;
}

/** The delivery loop. */
export class Delivery implements RowSink {
  /** @inheritdoc */
  readonly name: string;
  /** @inheritdoc */
  readonly encoding: EncodeOptions;
  /** Running totals; read them, do not write them. */
  readonly stats: DeliveryStats = newDeliveryStats();
  readonly #t: IlpTransport;
  readonly #queue: BatchQueue;
  readonly #spool: Spool | undefined;
  readonly #prepare: (() => Promise<void>) | undefined;
  #prepared = false;
  readonly #maxRows: number;
  readonly #retryTimeout: number;
  readonly #retryMaxBackoff: number;
  readonly #initialBackoff: number;
  readonly #maxBackoff: number;
  readonly #spoolEvery: number;
  readonly #onAttempt: (() => void) | undefined;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #streak: FailureStreak | null = null;
  #lastSpoolAt = 0;
  /** Whether the spool file may hold rows not yet delivered. */
  #spoolDirty = false;
  #spooledSinceChange = true;
  #spoolTimer: ReturnType<typeof setTimeout> | undefined;
  /** The spool's writes and removals, one at a time in call order. */
  #spoolChain: Promise<void> = Promise.resolve();

  /** Makes an idle delivery loop; call {@link Delivery.start}. */
  constructor(o: DeliveryOptions) {
    this.name = o.name ?? "questdb";
    this.encoding = o.encoding ?? {};
    this.#t = o.transport;
    this.#queue = new BatchQueue(o.bufferRows);
    this.#spool = o.spool;
    this.#prepare = o.prepare;
    this.#maxRows = o.maxRowsPerRequest ?? 20_000;
    this.#retryTimeout = o.retryTimeoutMs ?? 0;
    this.#retryMaxBackoff = o.retryMaxBackoffMs ?? 1000;
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
      this.stats.spooledRows = rows;
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
    await this.#spoolIo(async (spool) => {
      if (left === 0 && !this.#spoolDirty) return;
      try {
        await spool.write(this.#queue.toArray());
        this.#spoolDirty = left > 0;
        this.stats.spooledRows = left;
        if (left > 0) {
          log.warn("Shutdown with {rows} undelivered rows: spooled to {path}", {
            rows: left,
            path: spool.path,
          });
        }
      } catch (e) {
        log.error("Cannot write spool {path}: {error}; {rows} rows lost", {
          path: spool.path,
          error: (e as Error).message,
          rows: left,
        });
      }
    });
    await this.#t.close().catch(() => {});
    return left;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      if (this.#queue.length === 0) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = null;
        continue;
      }
      const outcome = await this.#sendOnce();
      this.#onAttempt?.();
      if (outcome !== "retry") continue;
      await this.#maybeSpool();
      const delay = this.#retryDelay();
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

  /**
   * The wait before the next attempt, ms: quick (10 ms doubling to `retryMaxBackoffMs`) within
   * `retryTimeoutMs` of the streak's first failure, then 1 s doubling to 60 s; each uniform in
   * [cap/2, cap] (jitter keeps retries apart without long silences), and never below the
   * server's `Retry-After`.
   */
  #retryDelay(): number {
    const s = this.#streak!;
    const cap = this.#quick(s)
      ? Math.min(this.#retryMaxBackoff, QUICK_FIRST_BACKOFF_MS * 2 ** Math.min(s.quick++, 30))
      : Math.min(this.#maxBackoff, this.#initialBackoff * 2 ** Math.min(s.slow++, 30));
    const delay = cap / 2 + Math.random() * (cap / 2);
    return Math.max(delay, Math.min(s.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  }

  /** Whether the streak is still within `retryTimeoutMs` of its first failure. */
  #quick(s: FailureStreak): boolean {
    return Date.now() - s.startedAt < this.#retryTimeout;
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
      if (e instanceof IlpDeliveryError && !e.retryable) {
        // Find the bad batch: send them one at a time from here on.
        return n > 1 ? this.#sendEach(batches) : this.#reject(last, e);
      }
      this.#failed(err, rows, last.endMs);
      return "retry";
    }
    for (let i = 0; i < n; i++) this.#queue.shift();
    const ms = Math.round(performance.now() - started);
    this.#answered();
    this.stats.deliveredRows += rows;
    this.stats.last = { endMs: last.endMs, rows, ok: true };
    log.info("Published {rows} rows ({bytes} bytes) in {ms} ms to {target}", {
      rows,
      bytes: body.length,
      ms,
      target: this.#t.target,
    });
    if (this.#queue.length === 0) {
      // After any spool write still under way: it would bring back delivered rows.
      await this.#spoolIo(async (spool) => {
        if (this.#queue.length > 0 || !this.#spoolDirty) return;
        await spool.remove().catch(() => {});
        this.#spoolDirty = false;
        this.stats.spooledRows = 0;
      });
    }
    return "ok";
  }

  /** Records a retryable failure and logs it once per kind, after the quick retries. */
  #failed(err: Error, rows: number, endMs: number): void {
    const now = Date.now();
    const s = this.#streak ??= { startedAt: now, quick: 0, slow: 0 };
    const retryAfter = err instanceof IlpDeliveryError ? err.retryAfterMs : undefined;
    if (retryAfter !== undefined) s.retryAfterMs = retryAfter;
    else delete s.retryAfterMs;
    this.stats.failures++;
    this.stats.failedRequests++;
    this.stats.last = { endMs, rows, ok: false, error: err.message };
    const kind = err instanceof IlpDeliveryError && err.status !== undefined
      ? `HTTP ${err.status}`
      : "no answer";
    const report = !this.#quick(s) && s.reported !== kind;
    if (report) s.reported = kind;
    log[report ? "warn" : "debug"](
      "Publish of {rows} rows to {target} failed (attempt {attempt}), will retry: {error}",
      { rows, target: this.#t.target, attempt: this.stats.failures, error: err.message },
    );
  }

  /** The server answered (delivered or refused): the failure streak, if any, is over. */
  #answered(): void {
    const s = this.#streak;
    if (s !== null) {
      log[s.reported !== undefined ? "info" : "debug"](
        "Delivery to {target} recovered after {failures} failed attempts",
        { target: this.#t.target, failures: this.stats.failures },
      );
    }
    this.#streak = null;
    this.stats.failures = 0;
  }

  /** Drops the oldest batch, which the server refused. */
  #reject(b: Batch, e: IlpDeliveryError): "rejected" {
    this.#queue.shift();
    this.#answered();
    this.stats.rejectedRows += b.rows;
    this.stats.last = { endMs: b.endMs, rows: b.rows, ok: false, error: e.message };
    log.error("{sink} refused {rows} rows of interval {end}, dropped: {error}", {
      sink: this.name,
      rows: b.rows,
      end: new Date(b.endMs).toISOString(),
      error: e.message,
    });
    return "rejected";
  }

  async #sendEach(batches: Batch[]): Promise<"ok" | "rejected" | "retry"> {
    let outcome: "ok" | "rejected" | "retry" = "ok";
    for (const b of batches) {
      if (this.#queue.peek(1)[0] !== b) break;
      try {
        await this.#t.send(b.ilp);
        this.#queue.shift();
        this.#answered();
        this.stats.deliveredRows += b.rows;
        this.stats.last = { endMs: b.endMs, rows: b.rows, ok: true };
      } catch (e) {
        if (!(e instanceof IlpDeliveryError && !e.retryable)) {
          this.#failed(e instanceof Error ? e : new Error(String(e)), b.rows, b.endMs);
          return "retry";
        }
        outcome = this.#reject(b, e);
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
    await this.#spoolIo(async (spool) => {
      try {
        const batches = this.#queue.toArray();
        await spool.write(batches);
        this.#spoolDirty = batches.length > 0;
        this.stats.spooledRows = batches.reduce((n, b) => n + b.rows, 0);
        log.debug("Spooled {rows} undelivered rows to {path}", {
          rows: this.#queue.rows,
          path: spool.path,
        });
      } catch (e) {
        log.error("Cannot write spool {path}: {error}", {
          path: spool.path,
          error: (e as Error).message,
        });
      }
    });
  }

  /**
   * Runs `op` on the spool after every spool operation called before it: a write that is
   * still under way (started from `enqueue`) can then neither recreate a spool that a
   * delivery has just removed, nor finish after `stop` has written the last one.
   */
  #spoolIo(op: (spool: Spool) => Promise<void>): Promise<void> {
    const spool = this.#spool;
    if (spool === undefined) return Promise.resolve();
    const run = this.#spoolChain.then(() => op(spool));
    this.#spoolChain = run.catch(() => {});
    return run;
  }
}
