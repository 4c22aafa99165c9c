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
 * - While delivery fails, the batches not yet spooled are appended to the spool (spool.ts) at
 *   most every `spoolEveryMs`, and on shutdown; delivered, refused or dropped batches leave it.
 * - Shutdown ({@link Delivery.stop}) never waits past its deadline: the request in flight is
 *   aborted then, and whatever is queued, that request's batches included, is spooled. A batch
 *   the server committed just before the abort is thus both delivered and spooled; its resend
 *   after a restart replaces the same rows (DEDUP UPSERT KEYS on QuestDB; InfluxDB's rule for
 *   a point with the same measurement, tags and time), so it is stored once.
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
  /** Aborts the request in flight at the shutdown deadline. */
  readonly #abort = new AbortController();
  #lastSpoolAt = 0;
  #spooledSinceChange = true;
  #spoolTimer: ReturnType<typeof setTimeout> | undefined;
  /** The spool's updates, one at a time in call order; none after `stop` wrote the last. */
  #spoolChain: Promise<void> = Promise.resolve();
  #spoolClosed = false;

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
    const batches = await this.#spool.load(this.#queue.nextSeq);
    let rows = 0;
    for (const b of batches) {
      this.#add(b);
      rows += b.rows;
    }
    if (rows > 0) {
      log.info("Loaded {rows} undelivered rows ({batches} intervals) from {path}", {
        rows,
        batches: batches.length,
        path: this.#spool.path,
      });
      await this.#syncSpool(false); // rows dropped above leave the files too
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
      void this.#syncSpool(false); // the dropped rows leave the spool too
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
   * Stops the loop: tries to deliver what is queued until `deadlineMs` (epoch ms), aborts the
   * request in flight then (never waiting for a transport that ignores the abort), writes
   * whatever is left to the spool and closes the transport. The spool write follows the
   * deadline, so the caller's budget must leave time for it (src/service/lifecycle.ts).
   * @returns rows left undelivered (spooled if a spool is configured).
   */
  async stop(deadlineMs: number): Promise<number> {
    this.#running = false;
    clearTimeout(this.#spoolTimer);
    const signal = this.#abort.signal;
    const timer = setTimeout(
      () => this.#abort.abort(new Error("shutdown deadline")),
      Math.max(0, deadlineMs - Date.now()),
    );
    const aborted = new Promise<"retry">((r) => {
      if (signal.aborted) r("retry");
      signal.addEventListener("abort", () => r("retry"), { once: true });
    });
    this.#wake?.();
    await Promise.race([this.#loop, aborted]);
    while (this.#queue.length > 0 && !signal.aborted) {
      if (await Promise.race([this.#sendOnce(), aborted]) === "retry") break;
    }
    clearTimeout(timer);
    const left = this.#queue.rows;
    const spooled = await this.#syncSpool(true);
    this.#spoolClosed = true; // a request still out cannot change the spool any more
    if (left > 0 && spooled) {
      log.warn("Shutdown with {rows} undelivered rows: spooled to {path}", {
        rows: left,
        path: this.#spool!.path,
      });
    } else if (left > 0) {
      log.error("Shutdown with {rows} undelivered rows, not spooled: they are lost", {
        rows: left,
      });
    }
    await Promise.race([this.#t.close().catch(() => {}), aborted]);
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

  /** One request: the oldest batches up to the row cap; then the spool drops what left. */
  async #sendOnce(): Promise<"ok" | "rejected" | "retry"> {
    const outcome = await this.#attempt();
    // Always: a spool write under way may be about to add batches that just left the queue.
    if (outcome !== "retry") await this.#syncSpool(false);
    return outcome;
  }

  async #attempt(): Promise<"ok" | "rejected" | "retry"> {
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
      await this.#t.send(body, this.#abort.signal);
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
        await this.#t.send(b.ilp, this.#abort.signal);
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
    if (await this.#syncSpool(true)) {
      log.debug("Spooled {rows} undelivered rows to {path}", {
        rows: this.#queue.rows,
        path: this.#spool.path,
      });
    }
  }

  /**
   * Brings the spool in line with the queue (spool.ts `sync`), after every update called
   * before it, so that one still under way (started from `enqueue`) can neither bring back
   * batches a delivery has just removed nor finish after `stop` wrote the last one.
   * @param append also write the queued batches not yet spooled.
   * @returns whether it succeeded (a failure is logged; the next update retries it).
   */
  #syncSpool(append: boolean): Promise<boolean> {
    const spool = this.#spool;
    if (spool === undefined || this.#spoolClosed) return Promise.resolve(false);
    const run = this.#spoolChain.then(() => spool.sync(this.#queue, append)).then(
      () => {
        this.stats.spooledRows = spool.rows;
        return true;
      },
      (e) => {
        log.error("Cannot update spool {path}: {error}", {
          path: spool.path,
          error: (e as Error).message,
        });
        return false;
      },
    );
    this.#spoolChain = run.then(() => {});
    return run;
  }
}
