import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { ContainerReducer } from "../../src/reducer/reducer.ts";
import { IntervalAggregator, intervalEnd } from "../../src/reducer/interval.ts";
import { IntervalClock } from "../../src/reducer/interval_clock.ts";
import { StatsParser } from "../../src/source/docker_stats/parser.ts";
import type { ClosedInterval } from "../../src/reducer/interval.ts";
import type { Sample } from "../../src/sample.ts";
import { loadRecording } from "../helpers/recording.ts";

function sample(over: Partial<Sample> = {}): Sample {
  return {
    id: "a".repeat(64),
    container: "a".repeat(12),
    name: "web",
    cpu: 0,
    memoryUse: 0,
    totalMemory: 1000,
    memoryPercentage: 0,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 0,
    pids: 1,
    ...over,
  };
}

Deno.test("avg: mean of each column, pids rounded, limit is the last value", () => {
  const r = new ContainerReducer("a".repeat(64), "avg");
  r.add(sample({ cpu: 10, memoryUse: 100, memoryPercentage: 1, pids: 1, totalMemory: 1000 }));
  r.add(sample({ cpu: 30, memoryUse: 300, memoryPercentage: 3, pids: 2, totalMemory: 2000 }));
  r.add(sample({ cpu: 50, memoryUse: 200, memoryPercentage: 2, pids: 2, totalMemory: 1500 }));
  const row = r.take()!;
  assert.equal(row.cpu, 30);
  assert.equal(row.memoryUse, 200);
  assert.equal(row.memoryPercentage, 2);
  assert.equal(row.pids, 2); // 5/3 = 1.67 -> 2
  assert.equal(row.totalMemory, 1500);
  assert.equal(row.samples, 3);
  assert.equal(r.take(), null, "an interval with no samples gives no row");
});

Deno.test("max: maximum of each column independently", () => {
  const r = new ContainerReducer("x", "max");
  r.add(sample({ cpu: 90, memoryUse: 100, netIn: 5, pids: 1, totalMemory: 3000 }));
  r.add(sample({ cpu: 10, memoryUse: 400, netIn: 7, pids: 9, totalMemory: 1000 }));
  r.add(sample({ cpu: 20, memoryUse: 200, netIn: 9, pids: 3, totalMemory: 2000 }));
  const row = r.take()!;
  assert.deepEqual(
    [row.cpu, row.memoryUse, row.netIn, row.pids, row.totalMemory, row.samples],
    [90, 400, 9, 9, 2000, 3],
  );
});

Deno.test("deltas: growth within the interval, carried across intervals, restart counts from zero", () => {
  const r = new ContainerReducer("x", "avg");
  r.add(sample({ netIn: 1000, blockOut: 50 }));
  r.add(sample({ netIn: 1500, blockOut: 50 }));
  let row = r.take()!;
  assert.equal(row.netInDelta, 500);
  assert.equal(row.blockOutDelta, 0);
  r.add(sample({ netIn: 1700 })); // +200 since the last sample of the previous interval
  r.add(sample({ netIn: 300 })); // fell: restarted, counts 300 from zero
  r.add(sample({ netIn: 400 }));
  row = r.take()!;
  assert.equal(row.netInDelta, 200 + 300 + 100);
  assert.equal(row.blockOutDelta, 0, "50 -> 0 -> 0: fall to zero counts zero");
});

Deno.test("intervalEnd aligns to wall-clock multiples (UTC)", () => {
  const t = Date.UTC(2026, 10, 21, 12, 3, 17, 500);
  assert.equal(intervalEnd(t, 5 * 60_000), Date.UTC(2026, 10, 21, 12, 5));
  assert.equal(
    intervalEnd(Date.UTC(2026, 10, 21, 12, 5), 5 * 60_000),
    Date.UTC(2026, 10, 21, 12, 10),
  );
  assert.equal(intervalEnd(t, 10_000), Date.UTC(2026, 10, 21, 12, 3, 20));
});

Deno.test("aggregator: one row per container seen; a 2 s container and a stopped one keep their row", () => {
  const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
  const agg = new IntervalAggregator(60_000, "max", t0 + 1000);
  const A = sample({ id: "A".repeat(64), container: "A".repeat(12), name: "long" });
  const B = sample({ id: "B".repeat(64), container: "B".repeat(12), name: "short" });
  for (let s = 1; s < 60; s++) agg.add({ ...A, cpu: s }, t0 + s * 1000);
  agg.add(B, t0 + 10_000);
  agg.add(B, t0 + 11_000);
  const closed = agg.add({ ...A, cpu: 5 }, t0 + 61_000)!;
  assert.equal(closed.endMs, t0 + 60_000);
  assert.deepEqual(closed.rows.map((r) => [r.name, r.samples, r.cpu]), [
    ["long", 59, 59],
    ["short", 2, 0],
  ]);
  const next = agg.closeDue(t0 + 120_000)!;
  assert.deepEqual(next.rows.map((r) => [r.name, r.samples]), [["long", 1]]);
  assert.equal(agg.containers, 1, "the stopped container's state is dropped");
  assert.equal(agg.closeDue(t0 + 130_000), null);
  assert.deepEqual(agg.closeDue(t0 + 180_000)!.rows, [], "no samples, no rows");
});

Deno.test("IntervalClock with fake time: aligned boundaries, rows stamped with the end, partial on stop", () => {
  const start = Date.UTC(2026, 10, 21, 12, 0, 3);
  // Fakes setTimeout/clearTimeout/Date for the clock's boundary timer; restored below.
  const clock = FakeTimers.install({ now: start, toFake: ["setTimeout", "clearTimeout", "Date"] });
  const closed: ClosedInterval[] = [];
  try {
    const c = new IntervalClock({
      intervalMs: 10_000,
      mode: "max",
      onInterval: (x) => closed.push(x),
    });
    c.start();
    // Samples come from a real recording, at its own timing, as a source would hand them over.
    const parser = new StatsParser((sample) => c.add(sample, Date.now()));
    for (const chunk of loadRecording("cli28-notrunc.jsonl")) {
      clock.tick(Math.max(0, start + chunk.t * 1000 - clock.now));
      parser.push(chunk.bytes);
    }
    parser.end();
    clock.tick(30_000 - (clock.now - start)); // past two boundaries
    const partial = c.stop();
    assert.equal(closed[0]!.endMs, Date.UTC(2026, 10, 21, 12, 0, 10));
    assert.deepEqual(
      closed.map((x) => x.endMs - closed[0]!.endMs),
      closed.map((_, i) => i * 10_000),
      "every boundary closes once, aligned, in order",
    );
    const names = new Set(closed.flatMap((x) => x.rows.map((r) => r.name)));
    for (const n of ["mem", "idle", "burner", "short"]) assert.ok(names.has(n), `row for ${n}`);
    for (const x of closed) {
      const ids = x.rows.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, "one row per container per interval");
    }
    assert.equal(partial.endMs, Date.UTC(2026, 10, 21, 12, 0, 40));
  } finally {
    clock.uninstall();
  }
});

Deno.test("IntervalClock: a sample past the boundary closes the interval before it counts", () => {
  const t0 = Date.UTC(2026, 0, 1);
  const closed: ClosedInterval[] = [];
  // No timer runs (start() is not called): add() alone must close a due interval.
  const c = new IntervalClock({
    intervalMs: 60_000,
    mode: "avg",
    onInterval: (x) => closed.push(x),
    now: () => t0 + 1000,
  });
  c.add(sample({ cpu: 10 }), t0 + 1000);
  c.add(sample({ cpu: 30 }), t0 + 59_999);
  assert.equal(closed.length, 0);
  c.add(sample({ cpu: 90 }), t0 + 60_000);
  assert.deepEqual(closed.map((x) => [x.endMs - t0, x.rows.map((r) => r.cpu)]), [[60_000, [20]]]);
  assert.equal(c.currentEnd, t0 + 120_000);
  assert.deepEqual(c.stop().rows.map((r) => r.cpu), [90]);
});

Deno.test("IntervalClock: an onInterval that throws is logged; the clock goes on", () => {
  const t0 = Date.UTC(2026, 0, 1);
  let calls = 0;
  const c = new IntervalClock({
    intervalMs: 1000,
    mode: "max",
    onInterval: () => {
      calls++;
      throw new Error("publish failed");
    },
    now: () => t0,
  });
  c.add(sample(), t0);
  c.add(sample(), t0 + 1000);
  c.add(sample(), t0 + 2000);
  assert.equal(calls, 2);
});
