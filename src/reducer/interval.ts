/**
 * Aligned intervals: one reducer per container ID, closed at wall-clock multiples of the
 * interval (UTC epoch based, so a 5 m interval ends at :00, :05, ...). A closed interval's rows
 * carry its end as the designated timestamp, as the Rust original did.
 */
import type { Sample } from "../sample.ts";
import { ContainerReducer, type ContainerRow, type Mode } from "./reducer.ts";

/** The rows of one closed interval. */
export interface ClosedInterval {
  /** Interval end, milliseconds since the Unix epoch (UTC); the rows' designated timestamp. */
  endMs: number;
  /** One row per container that had at least one sample in the interval. */
  rows: ContainerRow[];
}

/**
 * End of the aligned interval that contains `nowMs`: the next multiple of `intervalMs`
 * strictly after it.
 * @param nowMs milliseconds since the epoch.
 * @param intervalMs interval length in milliseconds (> 0).
 */
export function intervalEnd(nowMs: number, intervalMs: number): number {
  return (Math.floor(nowMs / intervalMs) + 1) * intervalMs;
}

/**
 * Assigns samples to aligned intervals by arrival time and reduces them per container.
 * Pure apart from the times passed in, so tests drive it with literal clocks.
 */
export class IntervalAggregator {
  /** Interval length, milliseconds. */
  readonly intervalMs: number;
  /** How samples are reduced. */
  readonly mode: Mode;
  #end: number;
  readonly #reducers = new Map<string, ContainerReducer>();

  /**
   * Opens the interval that contains `nowMs`.
   *
   * @param intervalMs interval length, milliseconds.
   * @param mode `avg` or `max`.
   * @param nowMs the start time, milliseconds since the epoch.
   */
  constructor(intervalMs: number, mode: Mode, nowMs: number) {
    this.intervalMs = intervalMs;
    this.mode = mode;
    this.#end = intervalEnd(nowMs, intervalMs);
  }

  /** End of the open interval, milliseconds since the epoch. */
  get currentEnd(): number {
    return this.#end;
  }

  /** Containers with state (seen in this or the previous interval). */
  get containers(): number {
    return this.#reducers.size;
  }

  /**
   * Adds a sample that arrived at `nowMs`. If that time is past the open interval's end, the
   * interval is closed first and returned, so no sample lands in an interval it was not in.
   */
  add(sample: Sample, nowMs: number): ClosedInterval | null {
    const closed = nowMs >= this.#end ? this.closeDue(nowMs) : null;
    let r = this.#reducers.get(sample.id);
    if (r === undefined) {
      r = new ContainerReducer(sample.id, this.mode);
      this.#reducers.set(sample.id, r);
    }
    r.add(sample);
    return closed;
  }

  /**
   * Closes the open interval if `nowMs` has reached its end.
   * @returns the closed interval (possibly with no rows), or null if none was due.
   */
  closeDue(nowMs: number): ClosedInterval | null {
    if (nowMs < this.#end) return null;
    const closed = this.#close(this.#end);
    this.#end = intervalEnd(nowMs, this.intervalMs);
    return closed;
  }

  /**
   * Closes the open interval early (shutdown). Its rows are stamped with the end of the
   * interval they belong to.
   */
  closePartial(): ClosedInterval {
    return this.#close(this.#end);
  }

  #close(endMs: number): ClosedInterval {
    const rows: ContainerRow[] = [];
    for (const [id, r] of this.#reducers) {
      const row = r.take();
      // A container with no sample in the whole interval is gone: drop its state.
      if (row === null) this.#reducers.delete(id);
      else rows.push(row);
    }
    return { endMs, rows };
  }
}
