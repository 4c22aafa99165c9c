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
  /** Each container's previous sample, to tell fresh values from a frozen stream. */
  readonly #previous = new Map<string, Sample>();
  #listener: SampleListener | null = null;
  /** True while a dead child's last bytes are flushed: they are data, not activity. */
  #flushing = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Prepares the source; nothing runs until {@link DockerStatsSource.start}. */
  constructor(options: DockerStatsSourceOptions = {}) {
    this.#docker = options.docker ?? "docker";
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonic ?? (() => performance.now());
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
      onStart: () => this.health.childStarted(this.#mono()),
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

  #sample(sample: Sample): void {
    if (!this.#flushing) {
      const prev = this.#previous.get(sample.id);
      this.health.sample(this.#mono(), prev === undefined || changed(prev, sample));
      this.#previous.set(sample.id, sample);
      if (this.#previous.size > 4096) this.#previous.clear();
    }
    this.#listener?.(sample, this.#now());
  }
}

/** Whether any value of `b` differs from `a` (same container). */
function changed(a: Sample, b: Sample): boolean {
  return a.cpu !== b.cpu || a.memoryUse !== b.memoryUse || a.netIn !== b.netIn ||
    a.netOut !== b.netOut || a.blockIn !== b.blockIn || a.blockOut !== b.blockOut ||
    a.pids !== b.pids || a.totalMemory !== b.totalMemory;
}
