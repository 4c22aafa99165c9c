/**
 * Samples in, closed intervals out: the per-container reducers of
 * {@link IntervalAggregator} closed at aligned wall-clock boundaries by a timer. Time comes
 * from `now()` and timers, so tests drive it with fake time.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Mode } from "./reducer.ts";
import type { SampleListener } from "../source/source.ts";
import type { Sample } from "../sample.ts";
import { type ClosedInterval, IntervalAggregator } from "./interval.ts";

const log = getLogger(["container-statsd", "reducer"]);

/** Options for {@link IntervalClock}. */
export interface IntervalClockOptions {
  /** Interval length, milliseconds. */
  intervalMs: number;
  /** How samples are reduced: `avg` or `max`. */
  mode: Mode;
  /** Receives every closed interval, including ones with no rows (disks still report). */
  onInterval: (closed: ClosedInterval) => void;
  /** Wall clock, milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Reduces samples per container and closes each aligned interval on time. */
export class IntervalClock {
  readonly #agg: IntervalAggregator;
  readonly #onInterval: (closed: ClosedInterval) => void;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** Opens the interval containing now; call {@link IntervalClock.start} to run the timer. */
  constructor(options: IntervalClockOptions) {
    this.#onInterval = options.onInterval;
    this.#now = options.now ?? Date.now;
    this.#agg = new IntervalAggregator(options.intervalMs, options.mode, this.#now());
  }

  /** Containers with reducer state. */
  get containers(): number {
    return this.#agg.containers;
  }

  /** End of the open interval, milliseconds since the epoch. */
  get currentEnd(): number {
    return this.#agg.currentEnd;
  }

  /**
   * Adds a sample that arrived at `atMs` (a {@link SampleListener}).
   * @param sample the sample.
   * @param atMs arrival time, ms since the epoch: it picks the interval.
   */
  readonly add: SampleListener = (sample: Sample, atMs: number): void => {
    const closed = this.#agg.add(sample, atMs);
    if (closed) this.#emit(closed);
  };

  /** Starts the boundary timer. */
  start(): void {
    this.#schedule();
  }

  /**
   * Stops the timer and closes the open interval early.
   * @returns the partial interval, stamped with the end of the interval it belongs to.
   */
  stop(): ClosedInterval {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const due = this.#agg.closeDue(this.#now());
    if (due) this.#emit(due);
    return this.#agg.closePartial();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = Math.max(0, this.#agg.currentEnd - this.#now());
    this.#timer = setTimeout(() => {
      const closed = this.#agg.closeDue(this.#now());
      if (closed) this.#emit(closed);
      this.#schedule();
    }, delay);
  }

  #emit(closed: ClosedInterval): void {
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
