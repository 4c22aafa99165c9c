/**
 * Collects the daemon's log records (every `container-statsd` category, debug and up) while a
 * test runs, then restores LogTape's default configuration.
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";

/**
 * Runs `fn` with the daemon's log records collected into the array it is given.
 * @returns what `fn` returns.
 */
export async function withLogs<T>(fn: (records: LogRecord[]) => Promise<T> | T): Promise<T> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (r) => records.push(r) },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      { category: ["container-statsd"], lowestLevel: "debug", sinks: ["memory"] },
    ],
  });
  try {
    return await fn(records);
  } finally {
    await reset();
  }
}
