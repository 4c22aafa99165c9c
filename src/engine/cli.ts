/**
 * The docker CLI as the `docker stats` source uses it: finding it, asking whether the engine
 * answers, and keeping its long-lived child running. (The catalog talks to the engine's API
 * socket instead: src/engine/api.ts.)
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["container-statsd", "engine"]);

/**
 * Looks `name` up in PATH the way a child will be spawned.
 * @param name executable name, or a path (returned as is).
 * @param path the PATH value (colon-separated directories).
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

/**
 * Whether `docker version` reaches the engine within 5 s.
 * @param docker the executable.
 */
export async function engineAnswers(docker: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(docker, {
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

/** Options of {@link SupervisedChild}. */
export interface SupervisedChildOptions {
  /** Executable, found through PATH. */
  docker: string;
  /** Arguments after the executable, or a function called before each start for them. */
  args: readonly string[] | (() => readonly string[]);
  /** Receives every stdout chunk, in order. */
  onChunk: (chunk: Uint8Array) => void;
  /** A child started (before its first chunk). */
  onStart?: () => void;
  /** A child's output ended (before a restart), so the consumer can flush state. */
  onEnd?: () => void;
  /** First restart delay, ms. Default 1000. */
  initialBackoffMs?: number;
  /** Longest restart delay, ms. Default 30 000. */
  maxBackoffMs?: number;
  /** A child that ran this long resets the backoff, ms. Default 60 000. */
  healthyMs?: number;
  /** During a restart wait, how often the engine is probed, ms. Default 3000. */
  probeEveryMs?: number;
}

/**
 * Keeps one docker CLI child running. When it exits it is restarted with backoff: 1 s doubling
 * to 30 s, reset after a healthy minute, and cut short when the engine answers again after a
 * failed probe, so collection resumes within seconds of the engine's return.
 */
export class SupervisedChild {
  readonly #o: Required<Omit<SupervisedChildOptions, "onStart" | "onEnd">>;
  readonly #onStart: (() => void) | undefined;
  readonly #onEnd: (() => void) | undefined;
  #child: Deno.ChildProcess | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #backoff: number;
  /** Number of times a child was started. */
  starts = 0;

  /** Prepares the supervisor; nothing runs until {@link SupervisedChild.start}. */
  constructor(options: SupervisedChildOptions) {
    this.#o = {
      docker: options.docker,
      args: options.args,
      onChunk: options.onChunk,
      initialBackoffMs: options.initialBackoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      healthyMs: options.healthyMs ?? 60_000,
      probeEveryMs: options.probeEveryMs ?? 3000,
    };
    this.#onStart = options.onStart;
    this.#onEnd = options.onEnd;
    this.#backoff = this.#o.initialBackoffMs;
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

  /** Stops the child (SIGTERM, SIGKILL after 3 s) and the loop. Safe to call twice. */
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

  /** Kills the current child so that it is restarted. */
  restart(reason: string): void {
    if (!this.#child) return;
    log.warn("Restarting docker {cmd}: {reason}", { cmd: this.#args()[0], reason });
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
      this.#onEnd?.();
      if (!this.#running) break;
      if (Date.now() - startedAt >= this.#o.healthyMs) this.#backoff = this.#o.initialBackoffMs;
      const delay = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, this.#o.maxBackoffMs);
      log.warn("docker {cmd} exited ({exit}); restarting in {delayMs} ms", {
        cmd: this.#args()[0],
        exit,
        delayMs: delay,
      });
      await this.#backoffWait(delay);
    }
  }

  /** Waits `delay` ms, ending early when the engine answers again after a failed probe. */
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
      const up = await engineAnswers(this.#o.docker);
      if (up && engineWasDown) {
        log.info("Docker engine answers again; restarting docker {cmd} now", {
          cmd: this.#args()[0],
        });
        break;
      }
      engineWasDown = !up;
    }
  }

  #args(): readonly string[] {
    const a = this.#o.args;
    return typeof a === "function" ? a() : a;
  }

  async #once(): Promise<string> {
    const args = this.#args();
    const child = new Deno.Command(this.#o.docker, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.starts++;
    log.info("Started {cmd} (pid {pid})", {
      cmd: [this.#o.docker, ...args].join(" "),
      pid: child.pid,
    });
    this.#onStart?.();
    const stderr = collectTail(child.stderr, 2048);
    for await (const chunk of child.stdout) this.#o.onChunk(chunk);
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
