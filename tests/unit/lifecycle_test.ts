/**
 * The shutdown timeouts agree (issue 16, "Shutdown under a slow sink"): delivery attempts end
 * first (the request in flight is aborted then), the spool is written after, and the guard exits
 * before the unit's TimeoutStopSec sends SIGKILL. Before the fix the guard (9.5 s) fired before
 * a request in flight (10 s plus size) was given up, so nothing was spooled.
 */
import assert from "node:assert/strict";
import { SHUTDOWN_BUDGET_MS, STOP_GUARD_MS } from "../../src/service/lifecycle.ts";
import { parseConfigString } from "../../src/ilp/config.ts";

const units = ["container-statsd.service", "container-statsd.user.service"];

Deno.test("shutdown: deadline < guard < every unit's TimeoutStopSec, with time left to spool", () => {
  for (const unit of units) {
    const text = Deno.readTextFileSync(new URL(`../../systemd/${unit}`, import.meta.url));
    const m = /^TimeoutStopSec=(\d+)s$/m.exec(text);
    assert.ok(m, `${unit} sets TimeoutStopSec in seconds`);
    const stopMs = Number(m[1]) * 1000;
    assert.ok(STOP_GUARD_MS < stopMs, `${unit}: guard ${STOP_GUARD_MS} < ${stopMs}`);
  }
  assert.ok(STOP_GUARD_MS - SHUTDOWN_BUDGET_MS >= 10_000, "10 s or more to write the spool");
  // The default request timeout fits in the budget: a healthy sink answers before the abort.
  assert.ok(parseConfigString("http::addr=h;").requestTimeoutMs <= SHUTDOWN_BUDGET_MS);
});
