/**
 * Signals and the shutdown budget: SIGTERM or SIGINT starts one orderly stop. Delivery attempts
 * end {@link SHUTDOWN_BUDGET_MS} after the signal (the request in flight is aborted then), the
 * queue is spooled right after, and a guard exits anyway at {@link STOP_GUARD_MS}: both under
 * the units' `TimeoutStopSec=30s` (systemd/*.service; tests/unit/lifecycle_test.ts checks),
 * after which systemd sends SIGKILL.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["container-statsd"]);

/** Time from the signal to the end of delivery attempts, ms (QuestDB's request_timeout). */
export const SHUTDOWN_BUDGET_MS = 10_000;

/**
 * Time from the signal to the guard's exit, ms: the budget plus 15 s for the spool write
 * (hundreds of MB at disk speed), 5 s under the units' `TimeoutStopSec=30s`.
 */
export const STOP_GUARD_MS = 25_000;

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
 * steps are not done {@link STOP_GUARD_MS} after the call (a hung step must not keep systemd
 * waiting until its SIGKILL).
 * @param steps receives the deadline (epoch ms) by which delivery attempts must end.
 */
export async function shutdown(steps: (deadlineMs: number) => Promise<void>): Promise<void> {
  const guard = setTimeout(() => {
    log.error("Shutdown took longer than {ms} ms; exiting", { ms: STOP_GUARD_MS });
    Deno.exit(0);
  }, STOP_GUARD_MS);
  try {
    await steps(Date.now() + SHUTDOWN_BUDGET_MS);
  } finally {
    clearTimeout(guard);
  }
}
