/**
 * Helpers of the ILP transport and delivery tests: an assertion on `IlpDeliveryError`, and a
 * wait on a condition.
 *
 * @module
 */
import assert from "node:assert/strict";
import { IlpDeliveryError } from "../../src/ilp/errors.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import type { ColumnDecl } from "../../src/schema/table.ts";

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

/**
 * The container table's columns that a `--source docker` row has: all but the cgroup figures,
 * which only `--source cgroup` reads (a row without them leaves those columns out).
 */
export function dockerSourceColumns(): ColumnDecl<ContainerRow>[] {
  const row: ContainerRow = {
    id: "0".repeat(64),
    container: "0".repeat(12),
    name: "n",
    cpu: 1,
    memoryPercentage: 1,
    memoryUse: 1,
    totalMemory: 1,
    blockIn: 1,
    blockOut: 1,
    netIn: 1,
    netOut: 1,
    blockInDelta: 1,
    blockOutDelta: 1,
    netInDelta: 1,
    netOutDelta: 1,
    pids: 1,
    samples: 1,
  };
  return CONTAINER_TABLE.columns.filter((c) => c.value(row, { host: "h" }) !== undefined);
}
