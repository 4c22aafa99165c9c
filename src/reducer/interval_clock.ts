/**
 * Samples in, closed intervals out: {@link IntervalAggregator} closed by a timer on the monotonic
 * clock and stamped with aligned wall-clock boundaries. A timer never sleeps longer than one
 * interval, and each wake-up compares how far the wall clock and the monotonic clock moved: a
 * step of either sign closes the open intervals under their own ends and re-aligns to the new
 * wall time, so rows resume on the right boundary within one interval. Time comes from `now()`,
 * `monotonic()` and timers, so tests drive it with fake time.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Mode } from "./reducer.ts";
import type { SampleListener } from "../source/source.ts";
import type { Sample } from "../sample.ts";
import { type ClosedInterval, IntervalAggregator, type Liveness } from "./interval.ts";

const log = getLogger(["container-statsd", "reducer"]);

/** A difference between wall and monotonic progress larger than this is a clock step, ms. */
const STEP_MS = 1000;

/**
 * The grace an interval stays open after its end: a tenth of the interval, at least 250 ms and
 * at most 2 s (a sample is read and handed on in well under that; an event-loop stall is not).
 * @param intervalMs interval length, ms.
 * @returns grace, ms.
 */
export function graceFor(intervalMs: number): number {
  return Math.min(2000, Math.max(250, intervalMs / 10), intervalMs / 2);
}

/** Options for {@link IntervalClock}. */
export interface IntervalClockOptions {
  /** Interval length, milliseconds. */
  intervalMs: number;
  /** How samples are reduced: `avg` or `max`. */
  mode: Mode;
  /** Receives every closed interval, including ones with no rows (disks still report). */
  onInterval: (closed: ClosedInterval) => void;
  /** Whether a container is still there (the catalog); see `AggregatorOptions.isLive`. */
  isLive?: (id: string) => Liveness;
  /** Grace after each boundary, ms. Default {@link graceFor}. */
  graceMs?: number;
  /** Wall clock, milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Monotonic clock, milliseconds. Default `performance.now()`. */
  monotonic?: () => number;
}

/** Reduces samples per container and closes each aligned interval on time. */
export class IntervalClock {
  readonly #agg: IntervalAggregator;
  readonly #onInterval: (closed: ClosedInterval) => void;
  readonly #now: () => number;
  readonly #mono: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** Wall minus monotonic time at the last wake-up, ms. */
  #offset: number;
  /** Monotonic time the last interval was closed, ms; null before the first. */
  #closedAt: number | null = null;

  /** Opens the interval containing now; call {@link IntervalClock.start} to run the timer. */
  constructor(options: IntervalClockOptions) {
    this.#onInterval = options.onInterval;
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonic ?? (() => performance.now());
    this.#offset = this.#now() - this.#mono();
    this.#agg = new IntervalAggregator({
      intervalMs: options.intervalMs,
      mode: options.mode,
      nowMs: this.#now(),
      graceMs: options.graceMs ?? graceFor(options.intervalMs),
      ...(options.isLive ? { isLive: options.isLive } : {}),
    });
  }

  /** Containers with reducer state. */
  get containers(): number {
    return this.#agg.containers;
  }

  /** Samples that arrived after their interval had closed (counted in the next one). */
  get late(): number {
    return this.#agg.late;
  }

  /** Monotonic milliseconds since the last interval closed, or null before the first. */
  sinceLastClose(): number | null {
    return this.#closedAt === null ? null : this.#mono() - this.#closedAt;
  }

  /**
   * Adds a sample read at `atMs` (a {@link SampleListener}).
   * @param sample the sample.
   * @param atMs the read's wall-clock time, ms since the epoch: it picks the interval.
   */
  readonly add: SampleListener = (sample: Sample, atMs: number): void => {
    this.#agg.add(sample, atMs);
  };

  /** Starts the boundary timer. */
  start(): void {
    this.#schedule();
  }

  /**
   * Stops the timer and closes every open interval early, each stamped with its own end.
   * @returns the closed intervals, oldest first.
   */
  stop(): ClosedInterval[] {
    this.#stopped = true;
    clearTimeout(this.#timer);
    return this.#agg.closeAll(this.#now());
  }

  #schedule(): void {
    if (this.#stopped) return;
    const due = this.#agg.nextEnd + this.#agg.graceMs - this.#now();
    const delay = Math.min(Math.max(0, due), this.#agg.intervalMs);
    this.#timer = setTimeout(() => this.#tick(), delay);
  }

  #tick(): void {
    const now = this.#now();
    const offset = now - this.#mono();
    const step = offset - this.#offset;
    this.#offset = offset;
    let closed: ClosedInterval[];
    if (Math.abs(step) > STEP_MS) {
      closed = this.#agg.closeAll(now);
      log.warning(
        "The wall clock stepped by {step} s; closed the open intervals and re-aligned to the " +
          "interval ending {end}",
        { step: (step / 1000).toFixed(3), end: new Date(this.#agg.nextEnd).toISOString() },
      );
    } else closed = this.#agg.closeDue(now);
    for (const c of closed) this.#emit(c);
    this.#schedule();
  }

  #emit(closed: ClosedInterval): void {
    this.#closedAt = this.#mono();
    try {
      this.#onInterval(closed);
    } catch (e) {
      log.error("Publishing interval {end} failed: {error}", {
        end: new Date(closed.endMs).toISOString(),
        error: (e as Error).message,
      });
    }
  }
}
