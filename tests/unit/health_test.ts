/**
 * StreamHealth, the stall rules of a streaming source, driven by literal monotonic clocks (ms):
 * no timers, no sleeps, no child process. The three rules of src/source/health.ts:
 * 1. no redraw at all for the stall limit: restart;
 * 2. redraws that hold only placeholder rows for the stall limit: restart;
 * 3. samples whose values never change: probe the engine; restart only when it does not
 *    answer, else double the limit (up to 16 x) until a value changes.
 * Plus the watchdog's side: only live activity (a sample, an empty redraw) keeps the source
 * healthy for `max(10 s, WATCHDOG_USEC)`, and `ready` resolves at the first such activity.
 */
import assert from "node:assert/strict";
import { MIN_HEALTH_WINDOW_MS, type StallVerdict, StreamHealth } from "../../src/source/health.ts";

const S = 1000;
const T0 = 5_000_000; // an arbitrary monotonic start, ms

/** The verdicts of `check` at every whole second from `fromMs` to `toMs` inclusive. */
function checks(h: StreamHealth, fromMs: number, toMs: number): [number, StallVerdict][] {
  const out: [number, StallVerdict][] = [];
  for (let t = fromMs; t <= toMs; t += S) {
    const v = h.check(t);
    if (v.action !== "none") out.push([t - T0, v]);
  }
  return out;
}

/** Whether `p` has settled, after letting queued reactions run. */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 3; i++) await Promise.resolve();
  return done;
}

Deno.test("rule 1: no redraw for the stall limit restarts, not a millisecond earlier", () => {
  const h = new StreamHealth({ startMs: T0 });
  assert.equal(h.stallMs, 10 * S);
  assert.deepEqual(h.check(T0 + 10 * S - 1), { action: "none" });
  assert.deepEqual(h.check(T0 + 10 * S), { action: "restart", reason: "no redraw for 10 s" });
  // The verdict restarted the clocks: the next child gets a whole stall limit.
  assert.deepEqual(checks(h, T0 + 11 * S, T0 + 19 * S), []);
  assert.deepEqual(checks(h, T0 + 20 * S, T0 + 20 * S), [
    [20 * S, { action: "restart", reason: "no redraw for 10 s" }],
  ]);
});

Deno.test("rule 1: redraws keep a live child; its stall limit counts from the last one", () => {
  const h = new StreamHealth({ startMs: T0, stallMs: 4 * S });
  for (let t = 0; t <= 20 * S; t += S) {
    h.sample(T0 + t, true);
    h.redraw(T0 + t, 1);
    assert.deepEqual(h.check(T0 + t), { action: "none" }, `at ${t} ms`);
  }
  assert.deepEqual(checks(h, T0 + 21 * S, T0 + 24 * S), [
    [24 * S, { action: "restart", reason: "no redraw for 4 s" }],
  ]);
});

Deno.test("rule 2: redraws of placeholder rows only restart after the stall limit", () => {
  const h = new StreamHealth({ startMs: T0 });
  h.sample(T0, true);
  h.redraw(T0, 1);
  // From here on every redraw holds one row and no sample: a placeholder (`--`).
  const verdicts: [number, StallVerdict][] = [];
  for (let t = T0 + 500; t <= T0 + 12 * S; t += 500) {
    h.redraw(t, 1);
    const v = h.check(t);
    if (v.action !== "none") verdicts.push([t - T0, v]);
  }
  assert.deepEqual(verdicts, [
    [10 * S, { action: "restart", reason: "only placeholder rows for 10 s" }],
  ]);
});

Deno.test("rule 2: an empty redraw (no container runs) is live, not a placeholder stall", () => {
  const h = new StreamHealth({ startMs: T0 });
  for (let t = T0; t <= T0 + 60 * S; t += 500) {
    h.redraw(t, 0);
    assert.deepEqual(h.check(t), { action: "none" }, "an empty host is neither stalled nor frozen");
  }
  assert.equal(h.healthy(T0 + 60 * S + 10 * S), true);
});

Deno.test("rule 3: frozen values ask for one probe; a failed probe gives the restart reason", () => {
  const h = new StreamHealth({ startMs: T0 });
  h.sample(T0, true);
  const verdicts: [number, StallVerdict][] = [];
  for (let t = T0 + S; t <= T0 + 15 * S; t += S) {
    h.redraw(t, 1);
    h.sample(t, false);
    const v = h.check(t);
    if (v.action !== "none") verdicts.push([t - T0, v]);
  }
  assert.deepEqual(verdicts, [[10 * S, { action: "probe", silentMs: 10 * S }]], "asked once");
  assert.equal(
    h.probeResult(false, T0 + 15 * S, 10 * S),
    "no new values for 10 s and the engine does not answer",
  );
});

Deno.test("rule 3: an answering engine doubles the limit up to 16 x, a change resets it", () => {
  const h = new StreamHealth({ startMs: T0 });
  h.sample(T0, true);
  const probes: number[] = [];
  for (let t = T0 + S; t <= T0 + 500 * S; t += S) {
    h.redraw(t, 1);
    h.sample(t, false);
    const v = h.check(t);
    if (v.action === "probe") {
      probes.push((t - T0) / S);
      assert.equal(h.probeResult(true, t, v.silentMs), null, "an idle host is never restarted");
    } else assert.equal(v.action, "none");
  }
  // Limits 10, 20, 40, 80, 160 s, then 160 s (16 x 10 s) each time.
  assert.deepEqual(probes, [10, 30, 70, 150, 310, 470]);
  // A changed value brings the limit back to 10 s.
  h.sample(T0 + 501 * S, true);
  for (let t = T0 + 502 * S; t <= T0 + 511 * S; t += S) {
    h.redraw(t, 1);
    h.sample(t, false);
  }
  assert.deepEqual(checks(h, T0 + 502 * S, T0 + 511 * S).map(([t, v]) => [t / S, v.action]), [
    [511, "probe"],
  ]);
});

Deno.test("rule 3: a change while the probe runs makes its answer moot (no restart, no doubling)", () => {
  const h = new StreamHealth({ startMs: T0 });
  const frozen = (from: number, to: number) => {
    for (let t = T0 + from * S; t <= T0 + to * S; t += S) {
      h.redraw(t, 1);
      h.sample(t, false);
    }
  };
  h.sample(T0, true);
  frozen(1, 10);
  const v = h.check(T0 + 10 * S);
  assert.deepEqual(v, { action: "probe", silentMs: 10 * S });
  h.sample(T0 + 11 * S, true); // the engine answered the CLI meanwhile
  assert.equal(h.probeResult(false, T0 + 12 * S, 10 * S), null);
  // The limit stayed 10 s from the change at 11 s: the next probe is due at 21 s, not 31 s.
  frozen(12, 21);
  assert.deepEqual(checks(h, T0 + 12 * S, T0 + 21 * S).map(([t, x]) => [t / S, x.action]), [
    [21, "probe"],
  ]);
});

Deno.test("childStarted is not activity: it gives the child a stall limit, not health", () => {
  const h = new StreamHealth({ startMs: T0, watchdogUsec: 2_000_000 });
  h.sample(T0, true); // the stream stalls after this sample
  h.childStarted(T0 + 9 * S);
  assert.deepEqual(h.check(T0 + 18 * S), { action: "none" }, "stall limit counts from the start");
  assert.equal(h.healthy(T0 + 10 * S), true);
  assert.equal(h.healthy(T0 + 10 * S + 1), false, "the restart did not extend the health window");
  h.childStarted(T0 + 19 * S);
  assert.equal(h.healthy(T0 + 19 * S), false);
  h.redraw(T0 + 20 * S, 3); // redraws with rows but no sample: placeholders, not activity
  assert.equal(h.healthy(T0 + 20 * S), false);
  h.sample(T0 + 21 * S, false); // a sample from a live child, even an unchanged one, is
  assert.equal(h.healthy(T0 + 21 * S), true);
});

Deno.test("health window: max(10 s, WATCHDOG_USEC); the start counts as activity", () => {
  const cases: [number | null | undefined, number][] = [
    [undefined, MIN_HEALTH_WINDOW_MS],
    [null, MIN_HEALTH_WINDOW_MS],
    [2_000_000, MIN_HEALTH_WINDOW_MS],
    [10_000_000, 10 * S],
    [30_000_000, 30 * S],
  ];
  for (const [watchdogUsec, windowMs] of cases) {
    const h = new StreamHealth(
      watchdogUsec === undefined ? { startMs: T0 } : { startMs: T0, watchdogUsec },
    );
    assert.equal(h.windowMs, windowMs, `WATCHDOG_USEC ${watchdogUsec}`);
    assert.equal(h.healthy(T0 + windowMs), true, "one window of grace from the start");
    assert.equal(h.healthy(T0 + windowMs + 1), false);
    h.sample(T0 + 100 * S, true);
    assert.equal(h.healthy(T0 + 100 * S + windowMs), true);
    assert.equal(h.healthy(T0 + 100 * S + windowMs + 1), false);
  }
  assert.equal(MIN_HEALTH_WINDOW_MS, 10 * S);
});

Deno.test("a non-positive stall limit is a RangeError", () => {
  assert.throws(() => new StreamHealth({ startMs: 0, stallMs: 0 }), RangeError);
  assert.throws(() => new StreamHealth({ startMs: 0, stallMs: -1 }), RangeError);
  assert.throws(() => new StreamHealth({ startMs: 0, stallMs: Number.NaN }), RangeError);
});

Deno.test("ready resolves at the first sample, not at a start or a placeholder redraw", async () => {
  const h = new StreamHealth({ startMs: T0 });
  h.childStarted(T0 + S);
  h.redraw(T0 + 2 * S, 2);
  assert.equal(await settled(h.ready), false);
  h.sample(T0 + 3 * S, true);
  assert.equal(await settled(h.ready), true);
});

Deno.test("ready resolves at the first empty redraw (a host with no container)", async () => {
  const h = new StreamHealth({ startMs: T0 });
  assert.equal(await settled(h.ready), false);
  h.redraw(T0 + S, 0);
  assert.equal(await settled(h.ready), true);
});
