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

/** Starts `deno run <start task flags> main.ts ...args`. */
export function startDaemon(
  args: string[],
  env: Record<string, string> = {},
): DaemonProcess {
  const child = new Deno.Command("deno", {
    args: ["run", "-q", ...startTaskFlags(), MAIN, ...args],
    env: { LOG_LEVEL: "debug", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let carry = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + chunk).split("\n");
      carry = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (Deno.env.get("DAEMON_LOG")) console.error(`  daemon| ${line}`);
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
    waitForLog(re, timeoutMs = 30_000) {
      const found = lines.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.splice(waiters.findIndex((w) => w.re === re), 1);
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
      const status = await child.status;
      await pumps;
      return { code: status.code, ms: performance.now() - t0 };
    },
  };
}
