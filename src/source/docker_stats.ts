/**
 * The stats process: one long-lived `docker stats --format '{{json .}}' --no-trunc` child,
 * supervised. Its stdout chunks go to a consumer (the parser); when the child exits it is
 * restarted with backoff (1 s doubling to 30 s, reset after a healthy minute; cut short when
 * the engine answers again); when it stalls (no redraw for `stallMs` while alive), or its
 * values freeze and the engine does not answer a probe, it is killed and restarted.
 *
 * Streaming, not `--no-stream` polling: a poll takes about 2 s per call and misses short jobs.
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["container-statsd", "source"]);

/** Arguments of the stats child after the `docker` executable. */
export const DOCKER_STATS_ARGS = ["stats", "--format", "{{json .}}", "--no-trunc"] as const;

/** Options for {@link DockerStatsSource}. */
export interface DockerStatsSourceOptions {
  /** Executable, found through PATH. Default `docker`. */
  docker?: string;
  /** Arguments; default {@link DOCKER_STATS_ARGS}. */
  args?: readonly string[];
  /** Receives every stdout chunk, in order. */
  onChunk: (chunk: Uint8Array) => void;
  /** Called when a child's output ends (before a restart), so the consumer can flush state. */
  onEnd?: () => void;
  /**
   * A counter of redraws parsed. When it has not changed for `stallMs` while the child lives,
   * the child hangs: it is killed and restarted.
   */
  redraws?: () => number;
  /**
   * A counter that grows with every real sample and every empty redraw: the stream shows live
   * data, not only placeholders. When it has not changed for `stallMs` while redraws go on
   * (placeholders only: the CLI's streams died with the engine), the child is restarted.
   */
  live?: () => number;
  /**
   * A counter that grows while the stream brings new values. When it has not changed for
   * `stallMs` (growing to 16x while the engine answers), the engine is probed, and the child
   * is restarted if the engine does not answer (a CLI frozen on a dead engine).
   */
  progress?: () => number;
  /** Stall limit, milliseconds. Default 10 000. */
  stallMs?: number;
  /** First restart delay, milliseconds. Default 1000. */
  initialBackoffMs?: number;
  /** Longest restart delay, milliseconds. Default 30 000. */
  maxBackoffMs?: number;
  /** A child that ran this long resets the backoff, milliseconds. Default 60 000. */
  healthyMs?: number;
  /** During a restart wait, how often the engine is probed, milliseconds. Default 3000. */
  probeEveryMs?: number;
}

/**
 * Looks `name` up in PATH the way the child will be spawned.
 * @returns the executable's path, or null when not found.
 */
export function findOnPath(name: string, path = Deno.env.get("PATH") ?? ""): string | null {
  if (name.includes("/")) return name;
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const candidate = `${dir}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Supervises the `docker stats` child. */
export class DockerStatsSource {
  readonly #o:
    & Required<Omit<DockerStatsSourceOptions, "onEnd" | "progress" | "redraws" | "live">>
    & {
      onEnd: (() => void) | undefined;
      progress: (() => number) | undefined;
      redraws: (() => number) | undefined;
      live: (() => number) | undefined;
    };
  #child: Deno.ChildProcess | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #backoff: number;
  #frozenLimit: number;
  /** Number of times the child was (re)started. */
  starts = 0;

  /** Prepares the supervisor; nothing runs until {@link DockerStatsSource.start}. */
  constructor(options: DockerStatsSourceOptions) {
    this.#o = {
      docker: options.docker ?? "docker",
      args: options.args ?? DOCKER_STATS_ARGS,
      onChunk: options.onChunk,
      onEnd: options.onEnd,
      progress: options.progress,
      redraws: options.redraws,
      live: options.live,
      stallMs: options.stallMs ?? 10_000,
      initialBackoffMs: options.initialBackoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      healthyMs: options.healthyMs ?? 60_000,
      probeEveryMs: options.probeEveryMs ?? 3000,
    };
    this.#backoff = this.#o.initialBackoffMs;
    this.#frozenLimit = this.#o.stallMs;
  }

  /** Process ID of the running child, if any. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Starts the supervision loop. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops the child (SIGTERM, SIGKILL after 3 s) and the loop. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    this.#kill("SIGTERM");
    const c = this.#child;
    const killer = setTimeout(() => this.#kill("SIGKILL"), 3000);
    try {
      if (c) await c.status;
      await this.#loop;
    } finally {
      clearTimeout(killer);
    }
  }

  /** Kills the current child so that it is restarted (used on a stall or a dead engine). */
  restart(reason: string): void {
    if (!this.#child) return;
    log.warn("Restarting docker stats: {reason}", { reason });
    this.#kill("SIGKILL");
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child?.kill(signal);
    } catch {
      // already exited
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const startedAt = Date.now();
      let exit = "";
      try {
        exit = await this.#once();
      } catch (e) {
        exit = `failed to start: ${(e as Error).message}`;
      }
      this.#o.onEnd?.();
      if (!this.#running) break;
      if (Date.now() - startedAt >= this.#o.healthyMs) this.#backoff = this.#o.initialBackoffMs;
      const delay = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, this.#o.maxBackoffMs);
      log.warn("docker stats exited ({exit}); restarting in {delayMs} ms", {
        exit,
        delayMs: delay,
      });
      await this.#backoffWait(delay);
    }
  }

  /**
   * Waits `delay` ms before the next start. While waiting, probes the engine every
   * `probeEveryMs`: when a probe fails and a later one answers, the engine is back and the wait
   * ends early, so samples resume within seconds of the engine's return whatever the backoff.
   */
  async #backoffWait(delay: number): Promise<void> {
    const until = Date.now() + delay;
    let engineWasDown = false;
    while (this.#running && Date.now() < until) {
      const step = Math.min(this.#o.probeEveryMs, until - Date.now());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, step);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
      if (!this.#running || Date.now() >= until) break;
      const up = await this.#engineAnswers();
      if (up && engineWasDown) {
        log.info("Docker engine answers again; restarting docker stats now");
        break;
      }
      engineWasDown = !up;
    }
  }

  /** Whether `docker version` reaches the engine (within 5 s). */
  async #engineAnswers(): Promise<boolean> {
    try {
      const out = await new Deno.Command(this.#o.docker, {
        args: ["version", "--format", "{{.Server.Version}}"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(5000),
      }).output();
      return out.success;
    } catch {
      return false;
    }
  }

  async #once(): Promise<string> {
    const child = new Deno.Command(this.#o.docker, {
      args: [...this.#o.args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.starts++;
    log.info("Started {cmd} (pid {pid})", {
      cmd: [this.#o.docker, ...this.#o.args].join(" "),
      pid: child.pid,
    });
    // Stall watch. No redraw at all for stallMs: the child hangs, restart it. Redraws of
    // placeholder rows only for stallMs: the CLI's stats streams died with the engine (which
    // may be back already), restart it. Redraws but no
    // new values for the (growing) frozen limit: either every container is idle, or the CLI
    // keeps printing the last values of an engine that died. Only an engine probe tells them
    // apart, so the child is restarted only when the engine does not answer; an idle host is
    // never restarted (a restart would leave a gap in the samples).
    let lastRedraws = this.#o.redraws?.() ?? 0;
    let lastRedrawAt = Date.now();
    let lastLive = this.#o.live?.() ?? 0;
    let lastLiveAt = Date.now();
    let lastProgress = this.#o.progress?.() ?? 0;
    let lastChange = Date.now();
    let probing = false;
    const stallTimer = this.#o.progress || this.#o.redraws
      ? setInterval(() => {
        const now = Date.now();
        const r = this.#o.redraws?.() ?? 0;
        if (r !== lastRedraws) {
          lastRedraws = r;
          lastRedrawAt = now;
        } else if (this.#o.redraws && now - lastRedrawAt >= this.#o.stallMs) {
          lastRedrawAt = now;
          this.restart(`no redraw for ${Math.round(this.#o.stallMs / 1000)} s`);
          return;
        }
        const l = this.#o.live?.() ?? 0;
        if (l !== lastLive) {
          lastLive = l;
          lastLiveAt = now;
        } else if (this.#o.live && now - lastLiveAt >= this.#o.stallMs) {
          lastLiveAt = now;
          this.restart(`only placeholder rows for ${Math.round(this.#o.stallMs / 1000)} s`);
          return;
        }
        const p = this.#o.progress?.() ?? 0;
        if (p !== lastProgress) {
          lastProgress = p;
          lastChange = now;
          this.#frozenLimit = this.#o.stallMs;
        } else if (this.#o.progress && !probing && now - lastChange >= this.#frozenLimit) {
          const seconds = Math.round((now - lastChange) / 1000);
          probing = true;
          void this.#engineAnswers().then((up) => {
            probing = false;
            lastChange = Date.now();
            if (up) {
              // Idle: probe less often while nothing changes (10 s doubling to 160 s).
              this.#frozenLimit = Math.min(this.#frozenLimit * 2, this.#o.stallMs * 16);
            } else {
              this.restart(`no new values for ${seconds} s and the engine does not answer`);
            }
          });
        }
      }, Math.min(1000, this.#o.stallMs / 4))
      : undefined;
    const stderr = collectTail(child.stderr, 2048);
    try {
      for await (const chunk of child.stdout) this.#o.onChunk(chunk);
    } finally {
      clearInterval(stallTimer);
    }
    const status = await child.status;
    this.#child = null;
    const err = (await stderr).trim().split("\n").at(-1) ?? "";
    const how = status.signal ? `signal ${status.signal}` : `status ${status.code}`;
    return err ? `${how}: ${err}` : how;
  }
}

/** Reads a stream to its end, keeping only the last `max` bytes as text. */
async function collectTail(stream: ReadableStream<Uint8Array>, max: number): Promise<string> {
  let tail = new Uint8Array(0);
  for await (const chunk of stream) {
    const joined = new Uint8Array(tail.length + chunk.length);
    joined.set(tail);
    joined.set(chunk, tail.length);
    tail = joined.length > max ? joined.slice(joined.length - max) : joined;
  }
  return new TextDecoder().decode(tail);
}
