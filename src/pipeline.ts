/**
 * The collection half of the data path: stats bytes -> parser -> per-container reducers ->
 * closed intervals at aligned wall-clock boundaries. Publishing is the caller's (see
 * src/delivery/). Time comes from `now()` and timers, so tests can drive it with fake time.
 */
import { getLogger } from "@logtape/logtape";
import { type ParserCounters, StatsParser } from "./parser/stats_parser.ts";
import type { Mode } from "./reducer/reducer.ts";
import type { Sample } from "./sample.ts";
import { type ClosedInterval, IntervalAggregator } from "./reducer/interval.ts";

const log = getLogger(["container-statsd", "parser"]);

/** Options for {@link Pipeline}. */
export interface PipelineOptions {
  /** Interval length, milliseconds. */
  intervalMs: number;
  /** How samples are reduced: `avg` or `max`. */
  mode: Mode;
  /** Receives every closed interval, including ones with no rows (disks still report). */
  onInterval: (closed: ClosedInterval) => void;
  /**
   * Called for every sample and every redraw boundary with the time, ms: the stream is alive
   * (feeds the systemd watchdog, including on a host with no containers).
   */
  onActivity?: (nowMs: number) => void;
  /**
   * Called once, when the stream first shows a sample or a redraw (systemd READY=1). A redraw
   * counts so that a host with no containers still becomes ready.
   */
  onStreaming?: () => void;
  /** Wall clock, milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Stats stream to closed intervals. */
export class Pipeline {
  readonly #parser: StatsParser;
  readonly #agg: IntervalAggregator;
  readonly #onInterval: (closed: ClosedInterval) => void;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #streaming = false;
  /** Each container's previous sample, to tell fresh values from a frozen stream. */
  readonly #previous = new Map<string, Sample>();
  #changes = 0;

  /** Makes the pipeline; call {@link Pipeline.start} to run the boundary timer. */
  constructor(options: PipelineOptions) {
    this.#onInterval = options.onInterval;
    this.#now = options.now ?? Date.now;
    this.#agg = new IntervalAggregator(options.intervalMs, options.mode, this.#now());
    const { onActivity, onStreaming } = options;
    const activity = (now: number) => {
      if (!this.#streaming) {
        this.#streaming = true;
        onStreaming?.();
      }
      onActivity?.(now);
    };
    this.#parser = new StatsParser((sample) => {
      const now = this.#now();
      activity(now);
      const prev = this.#previous.get(sample.id);
      if (prev === undefined || changed(prev, sample)) this.#changes++;
      this.#previous.set(sample.id, sample);
      const closed = this.#agg.add(sample, now);
      if (closed) this.#emit(closed);
    }, {
      onRedraw: () => activity(this.#now()),
      onSkip: (reason, message) =>
        log.debug("Skipped line ({reason}): {message}", {
          reason,
          message,
        }),
    });
  }

  /** Parser counts (lines, samples, skipped, placeholders, duplicates, redraws). */
  get counters(): Readonly<ParserCounters> {
    return this.#parser.counters;
  }

  /**
   * Grows while the stream brings news: samples whose values differ from the container's
   * previous sample, and redraws that show no container at all. A stream that redraws the same
   * values (a CLI frozen after the engine died) or nothing (hung) stops it growing.
   */
  get progress(): number {
    return this.#changes + this.#parser.counters.emptyRedraws;
  }

  /**
   * Grows with every sample and every empty redraw: the stream shows live data. Redraws of
   * placeholder rows only (the CLI's streams died with the engine) leave it unchanged.
   */
  get live(): number {
    return this.#parser.counters.samples + this.#parser.counters.emptyRedraws;
  }

  /** Containers with reducer state. */
  get containers(): number {
    return this.#agg.containers;
  }

  /** End of the open interval, milliseconds since the epoch. */
  get currentEnd(): number {
    return this.#agg.currentEnd;
  }

  /** Feeds a chunk of `docker stats` output. */
  push(chunk: Uint8Array): void {
    this.#parser.push(chunk);
  }

  /** The stats child's output ended (it will be restarted): flush the parser's line state. */
  endOfStream(): void {
    this.#parser.end();
  }

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
    // Forget previous samples of containers that are gone, so the map stays bounded.
    if (this.#previous.size > 2 * this.#agg.containers + 16) {
      const live = new Set(closed.rows.map((r) => r.id));
      for (const id of this.#previous.keys()) if (!live.has(id)) this.#previous.delete(id);
    }
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

/** Whether any value of `b` differs from `a` (same container). */
function changed(a: Sample, b: Sample): boolean {
  return a.cpu !== b.cpu || a.memoryUse !== b.memoryUse || a.netIn !== b.netIn ||
    a.netOut !== b.netOut || a.blockIn !== b.blockIn || a.blockOut !== b.blockOut ||
    a.pids !== b.pids || a.totalMemory !== b.totalMemory;
}
