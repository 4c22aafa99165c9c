/**
 * The seam between where samples come from and what is done with them.
 *
 * A source is anything that yields {@link Sample}s: the `docker stats` child and its parser
 * (src/source/docker_stats/), or the engine-free cgroup reader (src/source/cgroup/). The
 * pipeline downstream takes samples, never bytes, so it does not know which one runs.
 *
 * @module
 */
import type { Sample } from "../sample.ts";

/** Receives every sample a source yields, with its arrival time (wall clock, ms since epoch). */
export type SampleListener = (sample: Sample, atMs: number) => void;

/**
 * Whether a source is doing its work, read by the systemd watchdog and by the STATUS line.
 * One object per source; its clock is monotonic (`performance.now()` milliseconds), so a
 * wall-clock step can neither fake health nor cause a restart.
 */
export interface SourceHealth {
  /**
   * Whether the source showed real activity (a sample, or a redraw or read round that found no
   * container) within its health window, `max(10 s, WATCHDOG_USEC)`.
   * @param nowMs monotonic time, milliseconds.
   */
  healthy(nowMs: number): boolean;
  /** Resolves at the first real activity: the moment to send systemd `READY=1`. */
  readonly ready: Promise<void>;
}

/**
 * A producer of samples.
 *
 * Lifecycle: {@link Source.start} once with the listener, then {@link Source.stop} once. A
 * source supervises itself (restarts a dead child, retries unreadable files); it never throws
 * from a callback and never calls the listener after `stop()` resolved.
 */
export interface Source {
  /** What it is, for logs and STATUS: `docker` or `cgroup`. */
  readonly kind: "docker" | "cgroup";
  /**
   * Starts producing. Every sample goes to `samples` in arrival order.
   * @param samples the listener (the reducer pipeline).
   */
  start(samples: SampleListener): void;
  /** Stops producing and releases children, timers and open files. Safe to call twice. */
  stop(): Promise<void>;
  /** The source's health, one object for its whole life. */
  readonly health: SourceHealth;
}
