import assert from "node:assert/strict";
import fc from "fast-check";
import FakeTimers from "@sinonjs/fake-timers";
import { RowAccumulator } from "../../src/reducer/reducer.ts";
import {
  type ClosedInterval,
  IntervalAggregator,
  intervalEnd,
  type Liveness,
} from "../../src/reducer/interval.ts";
import { graceFor, IntervalClock } from "../../src/reducer/interval_clock.ts";
import { StatsParser } from "../../src/source/docker_stats/parser.ts";
import type { CgroupFigures, Sample } from "../../src/sample.ts";
import { loadRecording } from "../helpers/recording.ts";
import { withLogs } from "../helpers/logs.ts";

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

const NO_FIGURES: CgroupFigures = {
  monoMs: 0,
  cpuUsageNs: 0,
  cpuQuotaUs: null,
  cpuPeriodUs: null,
  cpuPeriods: null,
  cpuThrottledPeriods: null,
  cpuThrottledUs: null,
  memoryUsage: 0,
  memoryAnon: null,
  memoryFile: null,
  memoryMaxEvents: null,
  oomKills: null,
  pgmajfault: null,
  cpuPressureSomeUs: null,
  memoryPressureSomeUs: null,
  memoryPressureFullUs: null,
  ioPressureSomeUs: null,
  ioPressureFullUs: null,
  netRxPackets: null,
  netTxPackets: null,
  netRxErrors: null,
  netTxErrors: null,
  netRxDropped: null,
  netTxDropped: null,
  blockReads: null,
  blockWrites: null,
  pidsLimit: null,
};

/** Folds reads into one accumulator, each with the one before it as its previous read. */
function fold(mode: "avg" | "max", reads: Sample[], before: Sample | null = null) {
  const acc = new RowAccumulator(mode);
  let prev = before;
  for (const s of reads) {
    acc.add(s, prev);
    prev = s;
  }
  return acc.row();
}

Deno.test("avg: mean of each column, pids rounded, limit is the last value, null CPU skipped", () => {
  const row = fold("avg", [
    sample({ cpu: null, memoryUse: 100, memoryPercentage: 1, pids: 1, totalMemory: 1000 }),
    sample({ cpu: 30, memoryUse: 300, memoryPercentage: 3, pids: 2, totalMemory: 2000 }),
    sample({ cpu: 50, memoryUse: 200, memoryPercentage: 2, pids: 2, totalMemory: 1500 }),
  ])!;
  assert.equal(row.cpu, 40, "the first read has no window: mean of the two others");
  assert.equal(row.memoryUse, 200);
  assert.equal(row.memoryPercentage, 2);
  assert.equal(row.pids, 2); // 5/3 = 1.67 -> 2
  assert.equal(row.totalMemory, 1500);
  assert.equal(row.samples, 3, "samples counts reads, with or without CPU");
  assert.equal(new RowAccumulator("avg").row(), null, "no samples, no row");
  assert.equal(fold("max", [sample({ cpu: null })])!.cpu, null, "no window at all: null");
});

Deno.test("max: maximum of each column independently", () => {
  const row = fold("max", [
    sample({ cpu: 90, memoryUse: 100, netIn: 5, pids: 1, totalMemory: 3000 }),
    sample({ cpu: null, memoryUse: 400, netIn: 7, pids: 9, totalMemory: 1000 }),
    sample({ cpu: 20, memoryUse: 200, netIn: 9, pids: 3, totalMemory: 2000 }),
  ])!;
  assert.deepEqual(
    [row.cpu, row.memoryUse, row.netIn, row.pids, row.totalMemory, row.samples],
    [90, 400, 9, 9, 2000, 3],
  );
});

Deno.test("deltas: from the previous read, a fall counts from zero", () => {
  const row = fold("avg", [
    sample({ netIn: 1700 }), // +200 since the previous read (another interval)
    sample({ netIn: 300 }), // fell: restarted, counts 300 from zero
    sample({ netIn: 400 }),
  ], sample({ netIn: 1500, blockOut: 50 }))!;
  assert.equal(row.netInDelta, 200 + 300 + 100);
  assert.equal(row.blockOutDelta, 0, "50 -> 0 -> 0: a fall to zero counts zero");
});

Deno.test("cgroup figures: counters as deltas, shares from the interval's deltas, limits last", () => {
  const f = (monoMs: number, over: Partial<CgroupFigures>): Sample =>
    sample({ cgroup: { ...NO_FIGURES, monoMs, ...over } });
  const q = { cpuQuotaUs: 50_000, cpuPeriodUs: 100_000, pidsLimit: 64 };
  const row = fold("max", [
    f(1000, { ...q, cpuPeriods: 20, cpuThrottledPeriods: 15, cpuThrottledUs: 900_000 }),
    f(2000, { ...q, cpuPeriods: 30, cpuThrottledPeriods: 20, cpuThrottledUs: 1_000_000 }),
  ], f(0, { ...q, cpuPeriods: 10, cpuThrottledPeriods: 5, cpuThrottledUs: 400_000 }))!;
  const cg = row.cgroup!;
  assert.equal(cg.cpuLimit, 0.5);
  assert.equal(cg.cpuThrottledPct, 75, "15 of 20 periods, not the mean of 100 % and 50 %");
  assert.equal(cg.cpuThrottledUsDelta, 600_000);
  assert.equal(cg.pidsLimit, 64);
  assert.equal(cg.oomKillsDelta, null, "a counter the kernel does not have stays null");
  assert.equal(cg.cpuPressurePct, null);

  const p = fold("avg", [
    f(1000, { cpuPressureSomeUs: 250_000, oomKills: 1, memoryAnon: 10, memoryFile: null }),
    f(3000, { cpuPressureSomeUs: 750_000, oomKills: 1, memoryAnon: 30 }),
  ], f(0, { cpuPressureSomeUs: 0, oomKills: 0 }))!.cgroup!;
  assert.equal(p.cpuPressurePct, 25, "750 ms stalled in 3 s of read windows");
  assert.equal(p.oomKillsDelta, 1);
  assert.equal(p.memoryAnon, 20);
  assert.equal(p.memoryFile, null);
  assert.equal(p.cpuLimit, null, "unlimited");
  assert.equal(p.cpuThrottledPct, null, "no quota, no throttled share");
  assert.equal(fold("avg", [sample()])!.cgroup, undefined, "the docker source has none");
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

const T0 = Date.UTC(2026, 0, 1);
const A = { id: "A".repeat(64), container: "A".repeat(12), name: "long" };
const B = { id: "B".repeat(64), container: "B".repeat(12), name: "short" };

Deno.test("aggregator: a sample counts in its own interval, within the grace and after it", () => {
  const agg = new IntervalAggregator({ intervalMs: 10_000, mode: "avg", nowMs: T0, graceMs: 1000 });
  agg.add(sample({ ...A, cpu: 10 }), T0 + 9_900);
  assert.deepEqual(agg.closeDue(T0 + 10_999), [], "still in the grace");
  agg.add(sample({ ...A, cpu: 20 }), T0 + 9_950); // read before the boundary, handed on late
  agg.add(sample({ ...A, cpu: 90 }), T0 + 10_100);
  const [first] = agg.closeDue(T0 + 11_000);
  assert.equal(first!.endMs, T0 + 10_000);
  assert.deepEqual(first!.rows.map((r) => [r.samples, r.cpu]), [[2, 15]]);
  agg.add(sample({ ...A, cpu: 30 }), T0 + 9_999); // past the grace: counts in the next one
  assert.equal(agg.late, 1);
  const [second] = agg.closeAll(T0 + 12_000);
  assert.deepEqual(second!.rows.map((r) => [r.samples, r.cpu]), [[2, 60]]);
});

Deno.test("aggregator: counters are conserved across empty intervals; gone containers are retired", () => {
  const live = new Map<string, Liveness>([[A.id, "live"], [B.id, "live"]]);
  const agg = new IntervalAggregator({
    intervalMs: 1000,
    mode: "max",
    nowMs: T0,
    graceMs: 0,
    isLive: (id) => live.get(id) ?? "unknown",
    staleMs: 10_000,
  });
  agg.add(sample({ ...A, blockOut: 100 }), T0 + 100);
  agg.add(sample({ ...B, blockOut: 5 }), T0 + 200);
  assert.equal(agg.closeDue(T0 + 1000).length, 1);
  // A's source is silent for three intervals (a gap) while it writes.
  assert.deepEqual(agg.closeDue(T0 + 4000).map((c) => c.rows.length), [0]);
  assert.equal(agg.containers, 2, "no reads is not gone");
  agg.add(sample({ ...A, blockOut: 700 }), T0 + 4100);
  live.set(B.id, "gone");
  const [row] = agg.closeDue(T0 + 5000)[0]!.rows;
  assert.equal(row!.blockOutDelta, 600, "the gap's bytes land in the row after it");
  assert.equal(agg.containers, 1, "B is gone: its previous read is forgotten");
  live.delete(A.id); // unknown: kept for 10 intervals after its last read
  agg.closeDue(T0 + 14_000);
  assert.equal(agg.containers, 1);
  agg.closeDue(T0 + 15_000);
  assert.equal(agg.containers, 0);
});

Deno.test("IntervalClock with fake time: aligned boundaries after the grace, partial on stop", () => {
  const start = Date.UTC(2026, 10, 21, 12, 0, 3);
  // Fakes timers, Date and performance for the clock; restored below.
  const clock = FakeTimers.install({
    now: start,
    toFake: ["setTimeout", "clearTimeout", "Date", "performance"],
  });
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
    let reads = 0;
    const counting = new StatsParser(() => reads++);
    for (const chunk of loadRecording("cli28-notrunc.jsonl")) {
      clock.tick(Math.max(0, start + chunk.t * 1000 - clock.now));
      parser.push(chunk.bytes);
      counting.push(chunk.bytes);
    }
    parser.end();
    counting.end();
    clock.tick(30_000 - (clock.now - start)); // past two boundaries
    const last = c.stop();
    assert.equal(closed[0]!.endMs, Date.UTC(2026, 10, 21, 12, 0, 10));
    assert.deepEqual(
      closed.map((x) => x.endMs - closed[0]!.endMs),
      closed.map((_, i) => i * 10_000),
      "every boundary closes once, aligned, in order",
    );
    const all = [...closed, ...last];
    const names = new Set(all.flatMap((x) => x.rows.map((r) => r.name)));
    for (const n of ["mem", "idle", "burner", "short"]) assert.ok(names.has(n), `row for ${n}`);
    for (const x of all) {
      const ids = x.rows.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, "one row per container per interval");
    }
    assert.equal(
      all.reduce((n, x) => n + x.rows.reduce((m, r) => m + r.samples, 0), 0),
      reads,
      "every sample in exactly one row",
    );
  } finally {
    clock.uninstall();
  }
});

Deno.test("IntervalClock: a wall-clock step either way re-aligns within one interval, and is logged", async () => {
  for (const stepMs of [-3_600_000, 3_600_000]) {
    await withLogs((records) => {
      const clock = FakeTimers.install({
        now: T0 + 500,
        toFake: ["setTimeout", "clearTimeout", "Date", "performance"],
      });
      try {
        const closed: [number, number][] = [];
        const c = new IntervalClock({
          intervalMs: 5000,
          mode: "avg",
          onInterval: (x) => closed.push([x.endMs, Date.now()]),
        });
        c.start();
        const read = () => c.add(sample(), Date.now());
        for (let i = 0; i < 12; i++) (read(), clock.tick(1000));
        clock.setSystemTime(Date.now() + stepMs); // moves Date only, as a step does
        const stepAt = Date.now();
        for (let i = 0; i < 20; i++) (read(), clock.tick(1000));
        c.stop();
        for (const [end] of closed) assert.equal(end % 5000, 0, "aligned boundaries only");
        const after = closed.filter(([, at]) => at >= stepAt + 5000 + graceFor(5000));
        assert.ok(after.length >= 2);
        for (const [end, at] of after) {
          assert.ok(at - end >= 0 && at - end <= 5000 + graceFor(5000), `${end} closed at ${at}`);
        }
        assert.ok(records.some((r) => String(r.message.join("")).includes("stepped")));
      } finally {
        clock.uninstall();
      }
    });
  }
});

Deno.test("IntervalClock: an onInterval that throws is logged; the clock goes on", () => {
  const clock = FakeTimers.install({
    now: T0,
    toFake: ["setTimeout", "clearTimeout", "Date", "performance"],
  });
  try {
    let calls = 0;
    const c = new IntervalClock({
      intervalMs: 1000,
      mode: "max",
      onInterval: () => {
        calls++;
        throw new Error("publish failed");
      },
    });
    c.start();
    clock.tick(3500);
    assert.equal(calls, 3);
    c.stop();
  } finally {
    clock.uninstall();
  }
});

/** One generated read: container, own time, counter growth, and how late it is handed on. */
const readArb = fc.record({
  c: fc.integer({ min: 0, max: 3 }),
  gapMs: fc.oneof(fc.integer({ min: 1, max: 900 }), fc.integer({ min: 1, max: 30_000 })),
  grow: fc.nat({ max: 1_000_000 }),
  delayMs: fc.nat({ max: 400 }),
  cpu: fc.option(fc.double({ min: 0, max: 200, noNaN: true })),
});

Deno.test("property: each sample in exactly one row, on its own aligned interval; deltas sum to last minus first", () => {
  fc.assert(
    fc.property(
      fc.array(readArb, { minLength: 1, maxLength: 200 }),
      fc.constantFrom(1000, 5000, 10_000),
      fc.constantFrom("avg" as const, "max" as const),
      (reads, intervalMs, mode) => {
        const graceMs = 500; // every generated delay is under it
        const agg = new IntervalAggregator({
          intervalMs,
          mode,
          nowMs: T0,
          graceMs,
          isLive: () => "live",
        });
        const counters = new Map<number, { first: number; last: number }>();
        const expected = new Map<string, number>();
        let t = T0;
        const queue: { atMs: number; arrive: number; s: Sample }[] = [];
        const arrived = new Map<number, number>();
        for (const r of reads) {
          t += r.gapMs;
          const k = counters.get(r.c) ?? { first: r.grow, last: 0 };
          k.last = counters.has(r.c) ? k.last + r.grow : k.first;
          counters.set(r.c, k);
          const id = String(r.c).repeat(64);
          const s = sample({ id, name: `c${r.c}`, blockOut: k.last, cpu: r.cpu });
          // One source reads a container in order, so its reads are handed on in order.
          const arrive = Math.max(t + r.delayMs, arrived.get(r.c) ?? 0);
          arrived.set(r.c, arrive);
          queue.push({ atMs: t, arrive, s });
          const key = `${id}@${intervalEnd(t, intervalMs)}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        queue.sort((a, b) => a.arrive - b.arrive || a.atMs - b.atMs);
        const closed: ClosedInterval[] = [];
        for (const q of queue) {
          closed.push(...agg.closeDue(q.arrive));
          agg.add(q.s, q.atMs);
        }
        closed.push(...agg.closeAll(t + 1000));
        const got = new Map<string, number>();
        const deltas = new Map<string, number>();
        for (const c of closed) {
          assert.equal(c.endMs % intervalMs, 0);
          for (const row of c.rows) {
            got.set(`${row.id}@${c.endMs}`, row.samples);
            deltas.set(row.id, (deltas.get(row.id) ?? 0) + row.blockOutDelta);
          }
        }
        assert.deepEqual(got, expected);
        for (const [c, k] of counters) {
          assert.equal(deltas.get(String(c).repeat(64)), k.last - k.first);
        }
        assert.equal(agg.late, 0);
      },
    ),
  );
});

Deno.test("property: samples later than the grace still count once, in a later interval", () => {
  fc.assert(
    fc.property(fc.array(readArb, { minLength: 1, maxLength: 100 }), (reads) => {
      const agg = new IntervalAggregator({
        intervalMs: 1000,
        mode: "avg",
        nowMs: T0,
        graceMs: 100,
      });
      let t = T0;
      let n = 0;
      const closed: ClosedInterval[] = [];
      for (const r of reads) {
        t += r.gapMs;
        closed.push(...agg.closeDue(t + r.delayMs));
        agg.add(sample({ id: String(r.c).repeat(64) }), t);
        n++;
      }
      closed.push(...agg.closeAll(t + 1));
      let rows = 0;
      for (const c of closed) {
        for (const row of c.rows) {
          rows += row.samples;
          assert.ok(row.samples > 0);
        }
      }
      assert.equal(rows, n);
    }),
  );
});
