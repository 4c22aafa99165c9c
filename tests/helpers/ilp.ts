/**
 * Helpers of the ILP transport and delivery tests: an assertion on `IlpDeliveryError`, and a
 * wait on a condition.
 *
 * @module
 */
import assert from "node:assert/strict";
import { IlpDeliveryError } from "../../src/ilp/errors.ts";

/** Asserts that `p` rejects with an {@link IlpDeliveryError} that passes `check`. */
export async function rejectsDelivery(
  p: Promise<unknown>,
  check: (e: IlpDeliveryError) => void,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof IlpDeliveryError, `expected IlpDeliveryError, got ${e}`);
    check(e);
    return true;
  });
}

/**
 * Waits until `cond` holds, checking every `everyMs`: a wait on a positive signal (the
 * condition), never an assumption about how long something takes.
 * @throws {Error} naming `what` after `timeoutMs`.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 10,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
