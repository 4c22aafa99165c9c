/**
 * Runs the real daemon (main.ts) as a child process with exactly the permissions of the
 * `start` task in deno.json, and collects its log lines.
 */
import denoJson from "../../deno.json" with { type: "json" };

/** The permission and unstable flags of `deno task start`. */
export function startTaskFlags(): string[] {
  const task = (denoJson.tasks as Record<string, string>).start ?? "";
  return task.split(/\s+/).filter((a) => a.startsWith("--allow") || a.startsWith("--unstable"));
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running daemon. */
export interface DaemonProcess {
  child: Deno.ChildProcess;
  /** stderr lines so far (logs). */
  lines: string[];
  /** Resolves when a log line matches. @throws {Error} after `timeoutMs`. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and waits for exit; returns the exit code and how long it took. */
  stop(signal?: Deno.Signal): Promise<{ code: number; ms: number }>;
}

/** A log line of the daemon and when it reached this process (`Date.now()`, ms since epoch). */
export interface StampedLine {
  at: number;
  line: string;
}

/** What {@link launchDaemon} returns: a {@link DaemonProcess} plus what benchmarks read. */
export interface LaunchedDaemon extends DaemonProcess {
  /** The same lines as `lines`, each with its arrival time (publish latency). */
  stamped: StampedLine[];
  /** The command line that started it (`deno run ...`), for reports. */
  command: string[];
}

/** Options of {@link launchDaemon}. */
export interface LaunchOptions {
  /** Extra environment (PATH for a stand-in `docker`, ...). */
  env?: Record<string, string>;
  /** `LOG_LEVEL`. Default `debug`. */
  logLevel?: string;
  /** Entry point. Default the repository's main.ts. */
  main?: string;
  /** Default timeout of `waitForLog`, ms. Default 30 000. */
  waitTimeoutMs?: number;
  /** `stop()` sends SIGKILL when the daemon has not exited this long after the signal, ms. */
  killAfterMs?: number;
  /** Echo every line to stderr with this prefix (e.g. when `DAEMON_LOG` is set). */
  echo?: string;
  /** A command that execs the rest, e.g. `["setpriv", "--reuid=65534", ...]` for another user. */
  wrapper?: string[];
  /**
   * Permission flags instead of the start task's, e.g. `["--allow-all"]` so that `--host-root /`
   * reads /proc and /sys without a bind of / (Deno refuses them under narrower permissions).
   */
  permissions?: string[];
}

/** Starts `deno run <start task flags> main.ts ...args`. */
export function startDaemon(
  args: string[],
  env: Record<string, string> = {},
): DaemonProcess {
  return launchDaemon(args, { env });
}

/**
 * The one daemon launcher of tests and benchmarks: `deno run -q <start task flags> <main>
 * ...args` with `LOG_LEVEL` and `NO_COLOR=1`, stdout and stderr collected line by line.
 */
export function launchDaemon(args: string[], options: LaunchOptions = {}): LaunchedDaemon {
  const flags = options.permissions ?? startTaskFlags();
  const command = [
    ...options.wrapper ?? [],
    ...["deno", "run", "-q", ...flags, options.main ?? MAIN, ...args],
  ];
  const child = new Deno.Command(command[0]!, {
    args: command.slice(1),
    env: { LOG_LEVEL: options.logLevel ?? "debug", NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const echo = options.echo ?? (Deno.env.get("DAEMON_LOG") ? "  daemon| " : undefined);
  const lines: string[] = [];
  const stamped: StampedLine[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let carry = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + chunk).split("\n");
      carry = parts.pop()!;
      const at = Date.now();
      for (const line of parts) {
        lines.push(line);
        stamped.push({ at, line });
        if (echo !== undefined) console.error(`${echo}${line}`);
        for (const w of [...waiters]) {
          if (w.re.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  };
  const pumps = Promise.all([pump(child.stderr), pump(child.stdout)]);
  return {
    child,
    lines,
    stamped,
    command,
    waitForLog(re, timeoutMs = options.waitTimeoutMs ?? 30_000) {
      const found = lines.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          const i = waiters.findIndex((w) => w.re === re);
          if (i >= 0) waiters.splice(i, 1);
          reject(
            new Error(`no log line matching ${re} within ${timeoutMs} ms:\n${lines.join("\n")}`),
          );
        }, timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
      });
    },
    async stop(signal = "SIGTERM") {
      const t0 = performance.now();
      try {
        child.kill(signal);
      } catch { /* exited */ }
      const killer = options.killAfterMs === undefined ? undefined : setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, options.killAfterMs);
      const status = await child.status;
      clearTimeout(killer);
      await pumps;
      return { code: status.code, ms: performance.now() - t0 };
    },
  };
}

/** The log line that says the source produces (systemd READY=1 goes out with it). */
export const READY_LINE = /source is producing; ready/;

/** The delivery log line of a batch: `Published {rows} rows ({bytes} bytes) in {ms} ms to ...`. */
export const PUBLISHED_LINE = /Published (\d+) rows \((\d+) bytes\) in (\d+) ms/;

/**
 * The flags every integration test's daemon shares: a private QuestDB over HTTP, no systemd
 * notify, and a private spool directory.
 * @param httpPort the test QuestDB's HTTP port.
 * @param spoolDir the test's spool directory.
 */
export function testServerArgs(httpPort: number, spoolDir: string): string[] {
  return [
    "--questdb",
    `http::addr=127.0.0.1:${httpPort};`,
    "--watchdog",
    "disabled",
    "--spool-dir",
    spoolDir,
  ];
}
