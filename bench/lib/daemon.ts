/**
 * Starts the real daemon the way tests/helpers/daemon.ts does (`deno run` with the start task's
 * permission flags, main.ts), but at the default log level (info), and stamps every log line
 * with the wall-clock time it arrived (for publish latency).
 */
import { startTaskFlags } from "../../tests/helpers/daemon.ts";

let main = new URL("../../main.ts", import.meta.url).pathname;

/** Entry point the benchmarks start (default main.ts; `bench/run.ts --main` changes it). */
export function setDaemonMain(path: string): void {
  main = path;
}

/** A log line and when it arrived (Date.now()). */
export interface StampedLine {
  at: number;
  line: string;
}

/** A running daemon. */
export interface BenchDaemon {
  child: Deno.ChildProcess;
  lines: StampedLine[];
  /** The command line, for the report. */
  command: string[];
  /** Resolves with the first line matching `re`. @throws {Error} after `timeoutMs`. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<StampedLine>;
  /** SIGTERM, wait for exit; returns the exit code. */
  stop(): Promise<number>;
}

/** `deno run -q <start task flags> main.ts ...args` with LOG_LEVEL=info (and `env` added). */
export function startBenchDaemon(
  args: string[],
  logLevel = "info",
  env: Record<string, string> = {},
): BenchDaemon {
  const command = ["deno", "run", "-q", ...startTaskFlags(), main, ...args];
  const child = new Deno.Command(command[0]!, {
    args: command.slice(1),
    env: { LOG_LEVEL: logLevel, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: StampedLine[] = [];
  const waiters: { re: RegExp; resolve: (l: StampedLine) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let carry = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (carry + chunk).split("\n");
      carry = parts.pop()!;
      const at = Date.now();
      for (const line of parts) {
        const l = { at, line };
        lines.push(l);
        if (Deno.env.get("BENCH_DAEMON_LOG")) console.error(`  daemon| ${line}`);
        for (const w of [...waiters]) {
          if (w.re.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
        }
      }
    }
  };
  const pumps = Promise.all([pump(child.stderr), pump(child.stdout)]);
  return {
    child,
    lines,
    command,
    waitForLog(re, timeoutMs = 60_000) {
      const found = lines.find((l) => re.test(l.line));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          const i = waiters.findIndex((w) => w.re === re);
          if (i >= 0) waiters.splice(i, 1);
          reject(
            new Error(
              `no daemon log line matching ${re} within ${timeoutMs} ms:\n` +
                lines.map((l) => l.line).join("\n"),
            ),
          );
        }, timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
      });
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 15_000);
      const status = await child.status;
      clearTimeout(killer);
      await pumps;
      return status.code;
    },
  };
}

/** `Published {rows} rows ({bytes} bytes) in {ms} ms to ...` */
export const PUBLISHED = /Published (\d+) rows \((\d+) bytes\) in (\d+) ms/;
