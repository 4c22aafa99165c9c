/**
 * Health of the cgroup source, driven by literal clocks: it is doing its work while its read
 * rounds read some container, or find none to read.
 *
 * @module
 */
import { MIN_HEALTH_WINDOW_MS } from "../health.ts";
import type { SourceHealth } from "../source.ts";

/**
 * The cgroup source's {@link SourceHealth}. The source reports each read round
 * ({@link RoundHealth.round}); a round that read at least one container, or that had no
 * container to read (a host with no containers is healthy), is activity. With containers
 * running and none readable for the window, `max(10 s, WATCHDOG_USEC)` (or two sample periods
 * when that is longer, so a 60 s period does not look like a stall between rounds), the source
 * is unhealthy and the systemd watchdog stops being pinged. `ready` resolves at the first round.
 */
export class RoundHealth implements SourceHealth {
  /** Health window, ms: `max(10 s, WATCHDOG_USEC, 2 x period)`. */
  readonly windowMs: number;
  /** @inheritdoc */
  readonly ready: Promise<void>;
  readonly #ready = Promise.withResolvers<void>();
  #lastActive: number;

  /**
   * @param startMs monotonic time the source starts, ms: one window of grace.
   * @param periodMs the sample period, ms.
   * @param watchdogUsec systemd `WATCHDOG_USEC`, µs, if any.
   */
  constructor(startMs: number, periodMs: number, watchdogUsec: number | null = null) {
    this.windowMs = Math.max(MIN_HEALTH_WINDOW_MS, (watchdogUsec ?? 0) / 1000, 2 * periodMs);
    this.ready = this.#ready.promise;
    this.#lastActive = startMs;
  }

  /**
   * A read round ended.
   * @param nowMs monotonic time, ms.
   * @param containers containers the round tried to read.
   * @param read containers it read.
   */
  round(nowMs: number, containers: number, read: number): void {
    this.#ready.resolve();
    if (containers === 0 || read > 0) this.#lastActive = nowMs;
  }

  /** @inheritdoc */
  healthy(nowMs: number): boolean {
    return nowMs - this.#lastActive <= this.windowMs;
  }
}
