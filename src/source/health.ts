/**
 * The stall rules of a streaming source, as one pure class driven by literal clocks.
 *
 * @module
 */
import type { SourceHealth } from "./source.ts";

/** Shortest health window and stall limit, milliseconds: sources refresh about once a second. */
export const MIN_HEALTH_WINDOW_MS = 10_000;

/** What the supervisor should do now, from {@link StreamHealth.check}. */
export type StallVerdict =
  | { readonly action: "none" }
  | { readonly action: "restart"; readonly reason: string }
  | { readonly action: "probe"; readonly silentMs: number };

/** Options of {@link StreamHealth}. */
export interface StreamHealthOptions {
  /** Monotonic time the source starts, ms: it counts as activity (one window of grace). */
  startMs: number;
  /** Stall limit, ms. Default {@link MIN_HEALTH_WINDOW_MS}. */
  stallMs?: number;
  /** systemd `WATCHDOG_USEC`, µs, if any: the health window is `max(10 s, WATCHDOG_USEC)`. */
  watchdogUsec?: number | null;
}

/**
 * Health of a streaming source such as `docker stats`. The supervisor reports what the child
 * shows ({@link StreamHealth.redraw}, {@link StreamHealth.sample}) and asks
 * {@link StreamHealth.check} about once a second; the watchdog asks
 * {@link StreamHealth.healthy}. Three stall rules, each over `stallMs`:
 *
 * 1. no redraw at all while the child lives: it hangs, restart it;
 * 2. redraws, but only placeholder rows (no sample, no empty redraw): the CLI's per-container
 *    streams died with the engine, which may be back already, so restart it;
 * 3. samples, but no value changed: every container is idle, or the CLI keeps printing the
 *    last values of a dead engine. Only an engine probe tells them apart: on `probe` the
 *    supervisor asks the engine and reports {@link StreamHealth.probeResult}; a failed probe
 *    restarts, an answered one doubles the limit (up to 16 x) so an idle host is probed rarely
 *    and never restarted.
 *
 * Activity for the watchdog is a sample or an empty redraw from a live child. A restart, the
 * flush of a killed child's last bytes, and placeholder-only redraws are not activity, so with
 * the stream stalled at T the last watchdog ping comes no later than T + window + one period.
 */
export class StreamHealth implements SourceHealth {
  /** Stall limit, ms. */
  readonly stallMs: number;
  /** Health window, ms: `max(10 s, WATCHDOG_USEC)`. */
  readonly windowMs: number;
  /** Resolves at the first live activity: a sample or an empty redraw. */
  readonly ready: Promise<void>;
  readonly #ready = Promise.withResolvers<void>();
  #isReady = false;
  /** Last redraw, or the child's start (rule 1). */
  #lastRedraw: number;
  /** Last live activity, or the child's start (rule 2). */
  #liveClock: number;
  /** Last changed value, the child's start, or the last probe answer (rule 3). */
  #lastChange: number;
  /** Last live activity; a restart leaves it alone (watchdog). */
  #lastLive: number;
  #frozenLimit: number;
  #probing = false;
  /** Counts value changes and child starts, so a probe's answer can tell it is stale. */
  #epoch = 0;
  /** {@link StreamHealth.#epoch} when the pending probe was asked for. */
  #probeEpoch = 0;

  /**
   * Creates the health record of a source that starts at `options.startMs`.
   * @throws {RangeError} for a non-positive stall limit.
   */
  constructor(options: StreamHealthOptions) {
    this.stallMs = options.stallMs ?? MIN_HEALTH_WINDOW_MS;
    if (!(this.stallMs > 0)) throw new RangeError(`stallMs ${this.stallMs}: expected > 0`);
    const usec = options.watchdogUsec ?? 0;
    this.windowMs = Math.max(MIN_HEALTH_WINDOW_MS, usec / 1000);
    this.ready = this.#ready.promise;
    this.#lastRedraw =
      this.#liveClock =
      this.#lastChange =
      this.#lastLive =
        options.startMs;
    this.#frozenLimit = this.stallMs;
  }

  /**
   * A new child started: the stall clocks restart so it gets `stallMs` to show a redraw. Not
   * activity: the watchdog's clock is left alone.
   */
  childStarted(nowMs: number): void {
    this.#lastRedraw = this.#liveClock = this.#lastChange = nowMs;
    this.#epoch++;
    this.#probing = false;
    this.#frozenLimit = this.stallMs;
  }

  /**
   * A live child drew a redraw boundary.
   * @param nowMs monotonic time, ms.
   * @param rows rows the redraw held; 0 is an empty redraw (no container runs), which is live
   *   activity and news.
   */
  redraw(nowMs: number, rows: number): void {
    this.#lastRedraw = nowMs;
    if (rows === 0) this.#live(nowMs, true);
  }

  /**
   * A live child gave a sample.
   * @param nowMs monotonic time, ms.
   * @param changed whether any value differs from the container's previous sample.
   */
  sample(nowMs: number, changed: boolean): void {
    this.#live(nowMs, changed);
  }

  /**
   * Applies the three stall rules at `nowMs`. A `restart` verdict restarts the clocks as
   * {@link childStarted} does; a `probe` verdict is given once, until {@link probeResult}.
   */
  check(nowMs: number): StallVerdict {
    const seconds = Math.round(this.stallMs / 1000);
    if (nowMs - this.#lastRedraw >= this.stallMs) {
      this.childStarted(nowMs);
      return { action: "restart", reason: `no redraw for ${seconds} s` };
    }
    if (nowMs - this.#liveClock >= this.stallMs) {
      this.childStarted(nowMs);
      return { action: "restart", reason: `only placeholder rows for ${seconds} s` };
    }
    if (!this.#probing && nowMs - this.#lastChange >= this.#frozenLimit) {
      this.#probing = true;
      this.#probeEpoch = this.#epoch;
      return { action: "probe", silentMs: nowMs - this.#lastChange };
    }
    return { action: "none" };
  }

  /**
   * The engine probe asked for by a `probe` verdict answered (`up`) or not. A value that
   * changed, or a child that started, while the probe ran makes the answer moot: the stream is
   * not frozen, so neither a restart nor a longer limit follows.
   * @returns a restart reason when the values are frozen on a dead engine, else null.
   */
  probeResult(up: boolean, nowMs: number, silentMs: number): string | null {
    this.#probing = false;
    if (this.#epoch !== this.#probeEpoch) return null;
    this.#lastChange = nowMs;
    if (up) {
      this.#frozenLimit = Math.min(this.#frozenLimit * 2, this.stallMs * 16);
      return null;
    }
    this.#frozenLimit = this.stallMs;
    return `no new values for ${Math.round(silentMs / 1000)} s and the engine does not answer`;
  }

  /** @inheritdoc */
  healthy(nowMs: number): boolean {
    return nowMs - this.#lastLive <= this.windowMs;
  }

  #live(nowMs: number, changed: boolean): void {
    this.#markReady();
    this.#lastLive = this.#liveClock = nowMs;
    if (changed) {
      this.#epoch++;
      this.#lastChange = nowMs;
      this.#frozenLimit = this.stallMs;
    }
  }

  #markReady(): void {
    if (this.#isReady) return;
    this.#isReady = true;
    this.#ready.resolve();
  }
}
