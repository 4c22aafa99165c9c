/**
 * Aligned intervals: a sample counts in the interval its own time falls in (UTC epoch multiples
 * of the interval, so a 5 m interval ends at :00, :05, ...). An interval stays open for a grace
 * after its end, so a sample delayed by less than the grace still lands where it belongs; a
 * closed interval's rows carry its end as the designated timestamp, as the Rust original did.
 *
 * Each container's previous read lives here, across intervals, until its container is gone (the
 * caller says so through `isLive`), so deltas are conserved across empty intervals and gaps.
 *
 * @module
 */
import type { Sample } from "../sample.ts";
import { type ContainerRow, type Mode, RowAccumulator } from "./reducer.ts";

/** The rows of one closed interval. */
export interface ClosedInterval {
  /** Interval end, milliseconds since the Unix epoch (UTC); the rows' designated timestamp. */
  endMs: number;
  /** One row per container that had at least one sample in the interval. */
  rows: ContainerRow[];
}

/** What the catalog says of a container whose reads have stopped. */
export type Liveness = "live" | "gone" | "unknown";

/**
 * End of the aligned interval that contains `nowMs`: the next multiple of `intervalMs`
 * strictly after it.
 * @param nowMs milliseconds since the epoch.
 * @param intervalMs interval length in milliseconds (> 0).
 */
export function intervalEnd(nowMs: number, intervalMs: number): number {
  return (Math.floor(nowMs / intervalMs) + 1) * intervalMs;
}

/** Options of {@link IntervalAggregator}. */
export interface AggregatorOptions {
  /** Interval length, milliseconds. */
  intervalMs: number;
  /** How samples are reduced. */
  mode: Mode;
  /** Wall-clock time the first interval opens at, ms since the epoch. */
  nowMs: number;
  /** How long an interval stays open after its end, ms. */
  graceMs: number;
  /**
   * Whether a container without reads in a closed interval is still there. `gone` drops its
   * previous read at once; `unknown` (not in the catalog) keeps it for `staleMs` after its last
   * read. Default: always `unknown`.
   */
  isLive?: (id: string) => Liveness;
  /**
   * How long the previous read of an `unknown` container is kept after its last read, ms.
   * Default 10 intervals, at least 10 minutes (longer than any source restart backoff).
   */
  staleMs?: number;
}

/** A container's last read, carried across intervals for deltas. */
interface Previous {
  sample: Sample;
  atMs: number;
}

/**
 * Reduces samples per container into aligned intervals by their own time. Pure apart from the
 * times passed in, so tests drive it with literal clocks.
 */
export class IntervalAggregator {
  /** Interval length, milliseconds. */
  readonly intervalMs: number;
  /** Grace after an interval's end, milliseconds. */
  readonly graceMs: number;
  /** Samples whose interval had closed already; they counted in the oldest open interval. */
  late = 0;
  readonly #mode: Mode;
  readonly #isLive: (id: string) => Liveness;
  readonly #staleMs: number;
  /** End of the last closed interval; every open interval ends after it. */
  #floor: number;
  /** Open intervals by end, each with one accumulator per container. */
  readonly #open = new Map<number, Map<string, RowAccumulator>>();
  readonly #previous = new Map<string, Previous>();

  /** Opens the interval that contains `options.nowMs`. */
  constructor(options: AggregatorOptions) {
    this.intervalMs = options.intervalMs;
    this.graceMs = options.graceMs;
    this.#mode = options.mode;
    this.#isLive = options.isLive ?? (() => "unknown");
    this.#staleMs = options.staleMs ?? Math.max(10 * options.intervalMs, 600_000);
    this.#floor = intervalEnd(options.nowMs, this.intervalMs) - this.intervalMs;
  }

  /** Containers with state (a previous read). */
  get containers(): number {
    return this.#previous.size;
  }

  /** End of the oldest open interval, ms since the epoch. */
  get nextEnd(): number {
    return this.#floor + this.intervalMs;
  }

  /**
   * Adds a sample read at `atMs` to the interval that time falls in; a sample whose interval
   * closed already counts in the oldest open one (and in {@link late}).
   */
  add(sample: Sample, atMs: number): void {
    let end = intervalEnd(atMs, this.intervalMs);
    if (end <= this.#floor) {
      end = this.nextEnd;
      this.late++;
    }
    let rows = this.#open.get(end);
    if (rows === undefined) this.#open.set(end, rows = new Map());
    let acc = rows.get(sample.id);
    if (acc === undefined) rows.set(sample.id, acc = new RowAccumulator(this.#mode));
    const prev = this.#previous.get(sample.id);
    acc.add(sample, prev?.sample ?? null);
    if (prev === undefined) this.#previous.set(sample.id, { sample, atMs });
    else {
      prev.sample = sample;
      prev.atMs = atMs;
    }
  }

  /**
   * Closes every interval whose end plus the grace is at or before `nowMs`, oldest first. An
   * interval with no rows is returned only when it is the last one closed, so each call that
   * closes anything yields at least one interval (disks report on every interval).
   */
  closeDue(nowMs: number): ClosedInterval[] {
    const out: ClosedInterval[] = [];
    const last = intervalEnd(nowMs - this.graceMs, this.intervalMs) - this.intervalMs;
    if (last <= this.#floor) return out;
    for (const end of [...this.#open.keys()].sort((a, b) => a - b)) {
      if (end < last) out.push(this.#close(end, nowMs));
    }
    out.push(this.#close(last, nowMs));
    this.#floor = last;
    return out;
  }

  /**
   * Closes every open interval, each stamped with its own end (shutdown, or a wall-clock step),
   * and opens the interval that contains `nowMs`.
   */
  closeAll(nowMs: number): ClosedInterval[] {
    const ends = [...this.#open.keys()].sort((a, b) => a - b);
    const out = ends.map((end) => this.#close(end, nowMs));
    this.#floor = intervalEnd(nowMs, this.intervalMs) - this.intervalMs;
    return out;
  }

  #close(end: number, nowMs: number): ClosedInterval {
    const accs = this.#open.get(end);
    this.#open.delete(end);
    const rows: ContainerRow[] = [];
    for (const acc of accs?.values() ?? []) {
      const row = acc.row();
      if (row !== null) rows.push(row);
    }
    this.#retire(nowMs);
    return { endMs: end, rows };
  }

  /** Forgets the previous read of containers that are gone and have no open row. */
  #retire(nowMs: number): void {
    for (const [id, prev] of this.#previous) {
      const live = this.#isLive(id);
      if (live === "live") continue;
      if (live === "unknown" && nowMs - prev.atMs < this.#staleMs) continue;
      let open = false;
      for (const rows of this.#open.values()) if (rows.has(id)) open = true;
      if (!open) this.#previous.delete(id);
    }
  }
}
