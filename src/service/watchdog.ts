/**
 * The systemd watchdog pinger: sends `WATCHDOG=1` every half `WATCHDOG_USEC`, but only while the
 * daemon shows it is doing its work (man sd_notify, "WATCHDOG=1"; man sd_watchdog_enabled).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const logger = getLogger(["container-statsd", "watchdog"]);

/** Options of {@link Watchdog}. */
export interface WatchdogOptions {
  /**
   * The watchdog timeout in microseconds, as systemd passes it in `WATCHDOG_USEC` (the unit's
   * `WatchdogSec=`). Pings go out every half of it, the period man sd_watchdog_enabled
   * recommends.
   */
  readonly intervalUsec: number;
  /** Sends one `WATCHDOG=1`; must not throw (a rejection is logged and ignored). */
  readonly ping: () => Promise<void> | void;
  /**
   * Whether the daemon does its work at `nowMs` (on this watchdog's clock): the source's
   * `SourceHealth.healthy`, which owns the health window `max(10 s, WATCHDOG_USEC)`.
   */
  readonly healthy: (nowMs: number) => boolean;
  /**
   * How late a tick may fire before it counts as starved and its ping is skipped,
   * milliseconds. Defaults to the ping period (half of `intervalUsec`).
   */
  readonly lateToleranceMs?: number;
  /** Monotonic clock in milliseconds. Defaults to `performance.now()`. */
  readonly now?: () => number;
}

/**
 * Pings the systemd watchdog only while the daemon is healthy, so that systemd restarts a daemon
 * that is alive but no longer collecting (man sd_notify: the watchdog exists to catch a hung
 * service; ping only while the service does its work).
 *
 * Healthy means both:
 * - the source says so (`options.healthy`, the source's health object: real samples within
 *   `max(10 s, WATCHDOG_USEC)`);
 * - the timer itself is not starved: a tick that fires more than the tolerance (default: one
 *   period) after it was due means the event loop was blocked, and that tick sends nothing.
 *
 * Ticks are chained `setTimeout`s one period apart (period = `WATCHDOG_USEC / 2`), unref'd so
 * that they never keep the process alive on their own.
 *
 * @example
 * ```ts
 * const dog = new Watchdog({
 *   intervalUsec: 30_000_000,
 *   ping: () => notifier.watchdogPing(),
 *   healthy: (now) => source.health.healthy(now),
 * });
 * dog.start();
 * // on shutdown:
 * dog.stop();
 * ```
 */
export class Watchdog {
  /** Time between ticks, milliseconds (`WATCHDOG_USEC / 2000`). */
  readonly periodMs: number;
  /** A tick later than this is starved and sends nothing, milliseconds. */
  readonly lateToleranceMs: number;

  readonly #ping: () => Promise<void> | void;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = 0;
  readonly #healthy: (nowMs: number) => boolean;
  #withholding = false;

  /**
   * Creates a stopped watchdog; call {@link Watchdog.start} to begin ticking.
   *
   * @param options See {@link WatchdogOptions}.
   * @throws {RangeError} When `intervalUsec` or `lateToleranceMs` is not a positive finite
   *   number.
   */
  constructor(options: WatchdogOptions) {
    const { intervalUsec } = options;
    if (!(Number.isFinite(intervalUsec) && intervalUsec > 0)) {
      throw new RangeError(
        `Invalid watchdog interval ${intervalUsec} µs: expected a positive number`,
      );
    }
    this.periodMs = intervalUsec / 2000;
    this.lateToleranceMs = options.lateToleranceMs ?? this.periodMs;
    if (!(Number.isFinite(this.lateToleranceMs) && this.lateToleranceMs > 0)) {
      throw new RangeError(
        `Invalid watchdog lateToleranceMs ${this.lateToleranceMs} ms: expected a positive number`,
      );
    }
    this.#ping = options.ping;
    this.#healthy = options.healthy;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether ticks are scheduled. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Starts ticking; the first ping is due one period from now. Calling it while running does
   * nothing.
   *
   * @param nowMs The current time on the watchdog's clock, milliseconds; defaults to it.
   */
  start(nowMs: number = this.#now()): void {
    if (this.#timer !== undefined) return;
    this.#withholding = false;
    this.#schedule(nowMs);
  }

  /** Stops ticking; no ping is sent after this returns. Safe to call more than once. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(nowMs: number): void {
    this.#due = nowMs + this.periodMs;
    const id = setTimeout(() => this.#tick(), this.periodMs);
    unrefTimer(id);
    this.#timer = id;
  }

  #tick(): void {
    const id = this.#timer;
    if (id === undefined) return;
    const nowMs = this.#now();
    const lateMs = nowMs - this.#due;
    if (lateMs > this.lateToleranceMs) {
      logger.warn(
        "Watchdog tick fired {lateMs} ms late (event loop starved); skipping this WATCHDOG=1",
        { lateMs: Math.round(lateMs) },
      );
    } else if (!this.#healthy(nowMs)) {
      if (!this.#withholding) {
        this.#withholding = true;
        logger.warn(
          "The source shows no samples; withholding WATCHDOG=1 so that systemd restarts the " +
            "service if this persists",
        );
      }
    } else {
      if (this.#withholding) {
        this.#withholding = false;
        logger.info("Samples resumed; watchdog pings resumed");
      }
      try {
        Promise.resolve(this.#ping()).catch((error: unknown) => {
          logger.warn("Watchdog ping failed: {error}", { error });
        });
      } catch (error: unknown) {
        logger.warn("Watchdog ping failed: {error}", { error });
      }
    }
    // A ping callback may have stopped (or restarted) the watchdog.
    if (this.#timer === id) this.#schedule(nowMs);
  }
}

/** Lets the process exit while a timer is pending (Deno's numeric ids, or Node-style objects). */
function unrefTimer(id: unknown): void {
  try {
    if (typeof id === "number") Deno.unrefTimer(id);
    else if (typeof id === "object" && id !== null && "unref" in id) {
      const unref: unknown = id.unref;
      if (typeof unref === "function") unref.call(id);
    }
  } catch {
    // A fake timer id from a test clock: nothing to unref.
  }
}
