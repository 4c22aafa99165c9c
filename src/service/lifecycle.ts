/**
 * Signals and the shutdown budget: SIGTERM or SIGINT starts one orderly stop, which must end
 * within {@link SHUTDOWN_BUDGET_MS} (systemd's `TimeoutStopSec=` default is 90 s; the unit sets
 * 10 s), else the process exits anyway.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["container-statsd"]);

/** Time from the signal to the end of delivery attempts, ms; spooling follows within 1 s. */
export const SHUTDOWN_BUDGET_MS = 9000;

/**
 * Resolves with the first SIGTERM or SIGINT; later signals are ignored (the stop is under way).
 * @returns the signal's name.
 */
export function waitForStopSignal(): Promise<Deno.Signal> {
  const done = Promise.withResolvers<Deno.Signal>();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => done.resolve(sig));
  }
  return done.promise;
}

/**
 * Runs the stop steps with a deadline. A guard timer exits the process with status 0 when the
 * steps overrun the budget by 500 ms (a hung step must not keep systemd waiting).
 * @param steps receives the deadline (epoch ms) by which delivery attempts must end.
 */
export async function shutdown(steps: (deadlineMs: number) => Promise<void>): Promise<void> {
  const guard = setTimeout(() => {
    log.error("Shutdown took longer than {ms} ms; exiting", { ms: SHUTDOWN_BUDGET_MS });
    Deno.exit(0);
  }, SHUTDOWN_BUDGET_MS + 500);
  try {
    await steps(Date.now() + SHUTDOWN_BUDGET_MS);
  } finally {
    clearTimeout(guard);
  }
}
