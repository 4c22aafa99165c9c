/**
 * The `docker stats` source: one long-lived `docker stats --format '{{json .}}' --no-trunc`
 * child, its parser, and its stall rules.
 *
 * Streaming, not `--no-stream` polling: a poll takes about 2 s per call and misses short jobs.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { engineAnswers, SupervisedChild } from "../../engine/cli.ts";
import type { Sample } from "../../sample.ts";
import { StreamHealth } from "../health.ts";
import type { SampleListener, Source } from "../source.ts";
import { type ParserCounters, StatsParser } from "./parser.ts";

const log = getLogger(["container-statsd", "source"]);

/** Arguments of the stats child after the `docker` executable. */
export const DOCKER_STATS_ARGS = ["stats", "--format", "{{json .}}", "--no-trunc"] as const;

/** Options for {@link DockerStatsSource}. */
export interface DockerStatsSourceOptions {
  /** Executable, found through PATH. Default `docker`. */
  docker?: string;
  /** Arguments; default {@link DOCKER_STATS_ARGS}. */
  args?: readonly string[];
  /** systemd `WATCHDOG_USEC`, µs: widens the health window to `max(10 s, WATCHDOG_USEC)`. */
  watchdogUsec?: number | null;
  /** Stall limit, ms. Default 10 000. */
  stallMs?: number;
  /** How often the stall rules are applied, ms. Default `min(1000, stallMs / 4)`. */
  checkEveryMs?: number;
  /** First restart delay, ms. Default 1000. */
  initialBackoffMs?: number;
  /** Longest restart delay, ms. Default 30 000. */
  maxBackoffMs?: number;
  /**
   * An unchanged redraw of a container within this long after its last sample repeats the
   * engine's reading and is dropped, ms. Default 1500: the engine refreshes about once a second
   * (every 2 s with 200 containers) while the CLI redraws every 500 ms.
   */
  repeatWindowMs?: number;
  /** Wall clock for sample arrival times, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Monotonic clock for health, ms. Default `performance.now()`. */
  monotonic?: () => number;
}

/**
 * Supervises the `docker stats` child, parses its output into samples, and applies the stall
 * rules of {@link StreamHealth}: a hung child or one showing only placeholders is restarted;
 * frozen values trigger an engine probe, and a restart only when the engine does not answer.
 */
export class DockerStatsSource implements Source {
  /** @inheritdoc */
  readonly kind = "docker" as const;
  /** @inheritdoc */
  readonly health: StreamHealth;
  readonly #child: SupervisedChild;
  readonly #parser: StatsParser;
  readonly #docker: string;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #checkEveryMs: number;
  /** Each container's previous sample as printed, and when it was taken (monotonic ms). */
  readonly #previous = new Map<string, { sample: Sample; atMs: number }>();
  readonly #repeatWindowMs: number;
  #listener: SampleListener | null = null;
  /** True while a dead child's last bytes are flushed: they are data, not activity. */
  #flushing = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Prepares the source; nothing runs until {@link DockerStatsSource.start}. */
  constructor(options: DockerStatsSourceOptions = {}) {
    this.#docker = options.docker ?? "docker";
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonic ?? (() => performance.now());
    this.#repeatWindowMs = options.repeatWindowMs ?? 1500;
    this.health = new StreamHealth({
      startMs: this.#mono(),
      watchdogUsec: options.watchdogUsec ?? null,
      ...(options.stallMs === undefined ? {} : { stallMs: options.stallMs }),
    });
    this.#checkEveryMs = options.checkEveryMs ?? Math.min(1000, this.health.stallMs / 4);
    this.#parser = new StatsParser((s) => this.#sample(s), {
      onRedraw: (rows) => {
        if (!this.#flushing) this.health.redraw(this.#mono(), rows);
      },
      onSkip: (reason, message) =>
        log.debug("Skipped line ({reason}): {message}", { reason, message }),
    });
    this.#child = new SupervisedChild({
      docker: this.#docker,
      args: options.args ?? DOCKER_STATS_ARGS,
      onChunk: (chunk) => this.#parser.push(chunk),
      onStart: () => {
        this.#previous.clear(); // a new child's first sample of each container has no CPU window
        this.health.childStarted(this.#mono());
      },
      onEnd: () => {
        this.#flushing = true;
        try {
          this.#parser.end();
        } finally {
          this.#flushing = false;
        }
      },
      ...(options.initialBackoffMs === undefined
        ? {}
        : { initialBackoffMs: options.initialBackoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    });
  }

  /** Parser counts (lines, samples, skipped, placeholders, duplicates, redraws). */
  get counters(): Readonly<ParserCounters> {
    return this.#parser.counters;
  }

  /** Number of times the child was started. */
  get starts(): number {
    return this.#child.starts;
  }

  /** Process ID of the running child, if any. */
  get pid(): number | null {
    return this.#child.pid;
  }

  /** @inheritdoc */
  start(samples: SampleListener): void {
    if (this.#listener) return;
    this.#listener = samples;
    this.#child.start();
    this.#timer = setInterval(() => this.#check(), this.#checkEveryMs);
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#child.stop();
    this.#listener = null;
  }

  #check(): void {
    const now = this.#mono();
    const verdict = this.health.check(now);
    if (verdict.action === "restart") this.#child.restart(verdict.reason);
    else if (verdict.action === "probe") {
      void engineAnswers(this.#docker).then((up) => {
        const reason = this.health.probeResult(up, this.#mono(), verdict.silentMs);
        if (reason !== null) this.#child.restart(reason);
      });
    }
  }

  /**
   * One parsed row: a container's first row of a child has no CPU window (the engine's first
   * sample has no previous CPU reading, so the CLI prints 0 %) and goes on with CPU null; a row
   * that repeats the previous one within the repeat window is the same engine sample redrawn
   * and is dropped, so `samples` counts engine samples and a repeat adds no weight.
   */
  #sample(sample: Sample): void {
    const now = this.#mono();
    const prev = this.#previous.get(sample.id);
    const fresh = prev === undefined || changed(prev.sample, sample);
    if (!this.#flushing) this.health.sample(now, fresh);
    if (!fresh && now - prev!.atMs < this.#repeatWindowMs) return;
    if (this.#previous.size >= 4096 && prev === undefined) this.#previous.clear();
    this.#previous.set(sample.id, { sample, atMs: now });
    this.#listener?.(prev === undefined ? { ...sample, cpu: null } : sample, this.#now());
  }
}

/** Whether any value of `b` differs from `a` (same container). */
function changed(a: Sample, b: Sample): boolean {
  return a.cpu !== b.cpu || a.memoryUse !== b.memoryUse || a.netIn !== b.netIn ||
    a.netOut !== b.netOut || a.blockIn !== b.blockIn || a.blockOut !== b.blockOut ||
    a.pids !== b.pids || a.totalMemory !== b.totalMemory;
}
