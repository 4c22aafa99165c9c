/**
 * The sample gate (src/catalog/gate.ts) in front of a real catalog fed with the recorded
 * events (tests/fixtures/catalog/). The catalog's listing and inspects are answered from the
 * API recordings, and held back where a test needs the catalog to be "still listing".
 * Time is fake (@sinonjs/fake-timers): the hold limit is reached by ticking, not sleeping.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import type { LogRecord } from "@logtape/logtape";
import { type CatalogEngine, ContainerCatalog } from "../../src/catalog/catalog.ts";
import { ContainerFilter } from "../../src/catalog/filters.ts";
import { SampleGate } from "../../src/catalog/gate.ts";
import type { Inspected, Listed } from "../../src/catalog/listing.ts";
import type { Sample } from "../../src/sample.ts";
import { withLogs } from "../helpers/logs.ts";
import { BEFORE as INSPECT, EVENT_LINES as LINES, LISTING } from "../helpers/recorded_engine.ts";

const byName = (name: string) => INSPECT.find((c) => c.name === name)!;
const LIFE = byName("ct-rec-life").id;
const HEALTH = byName("ct-rec-health").id;
const STRANGER = "5".repeat(64);

/** Listing and inspect from the recordings; `gate` holds the listing back until opened. */
function engine(gate?: Promise<void>): CatalogEngine & { inspected: string[] } {
  const inspected: string[] = [];
  return {
    inspected,
    async list(): Promise<Listed[]> {
      await gate;
      return [...LISTING];
    },
    inspect(id: string): Promise<Inspected | null> {
      inspected.push(id);
      return Promise.resolve(INSPECT.find((c) => c.id === id) ?? null);
    },
  };
}

function sample(id: string, name: string, cpu = 1): Sample {
  return {
    id,
    container: id.slice(0, 12),
    name,
    cpu,
    memoryUse: 0,
    totalMemory: 0,
    memoryPercentage: 0,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 0,
    pids: 1,
  };
}

interface Harness {
  catalog: ContainerCatalog;
  gate: SampleGate;
  out: [string, string, number, number][];
  records: LogRecord[];
  clock: { tick(ms: number): unknown };
}

async function withGate(
  fn: (h: Harness) => Promise<void> | void,
  options: { listing?: Promise<void>; exclude?: string[]; include?: string[] } = {},
): Promise<void> {
  await withLogs(async (records) => {
    const clock = FakeTimers.withGlobal(globalThis).install({
      toFake: ["setTimeout", "clearTimeout"],
    });
    try {
      const catalog = new ContainerCatalog({
        engine: engine(options.listing),
        filter: new ContainerFilter({
          include: options.include ?? [],
          exclude: options.exclude ?? [],
          includeLabels: [],
          excludeLabels: [],
        }),
      });
      const out: Harness["out"] = [];
      const gate = new SampleGate({
        catalog,
        listener: (s, at) => out.push([s.id, s.name, s.cpu ?? 0, at]),
        holdMs: 5000,
        maxHeldPerContainer: 3,
      });
      await fn({ catalog, gate, out, records, clock });
    } finally {
      clock.uninstall();
    }
  });
}

/** Lets queued promise callbacks run (fake timers leave microtasks alone). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

Deno.test("known containers pass with the catalog's name; filtered ones are dropped", async () => {
  await withGate(async ({ catalog, gate, out }) => {
    await catalog.relist();
    for (const line of LINES.slice(0, LINES.findIndex((l) => l.includes('"rename"')) + 1)) {
      catalog.handleLine(line);
    }
    await catalog.idle();
    gate.add(sample(LIFE, "ct-rec-life"), 1000); // the stats CLI keeps the old name
    gate.add(sample(HEALTH, "ct-rec-health"), 1001);
    assert.deepEqual(out.map((o) => [o[1], o[3]]), [["ct-rec-life2", 1000], [
      "ct-rec-health",
      1001,
    ]]);
    assert.equal(gate.held, 0);
  });
  await withGate(async ({ catalog, gate, out }) => {
    await catalog.relist();
    gate.add(sample(HEALTH, "ct-rec-health"), 1000);
    gate.add(sample(LIFE, "ct-rec-life"), 1000);
    assert.deepEqual(out.map((o) => o[1]), ["ct-rec-life"]);
    assert.equal(gate.counters.filtered, 1);
  }, { exclude: ["*health"] });
});

Deno.test("samples that come before the listing are held, then released in order", async () => {
  const listing = Promise.withResolvers<void>();
  await withGate(async ({ catalog, gate, out, clock }) => {
    const relisted = catalog.relist();
    gate.add(sample(LIFE, "ct-rec-life", 1), 1000);
    gate.add(sample(HEALTH, "ct-rec-health", 2), 1100);
    gate.add(sample(LIFE, "ct-rec-life", 3), 1500);
    assert.deepEqual(out, []);
    assert.equal(gate.held, 3);
    clock.tick(4000); // still within the hold
    assert.deepEqual(out, []);
    listing.resolve();
    await relisted;
    await settle();
    assert.deepEqual(out.map((o) => [o[0], o[2], o[3]]), [
      [LIFE, 1, 1000],
      [LIFE, 3, 1500],
      [HEALTH, 2, 1100],
    ]);
    assert.equal(gate.held, 0);
    assert.equal(gate.counters.released, 3);
    assert.equal(gate.counters.unlabelled, 0);
  }, { listing: listing.promise });
});

Deno.test("a container that never becomes known goes out unlabelled after the hold, logged once", async () => {
  await withGate(async ({ catalog, gate, out, records, clock }) => {
    await catalog.relist();
    gate.add(sample(STRANGER, "stranger", 1), 1000);
    await settle(); // the look-up (one inspect) finds nothing
    assert.deepEqual(out, []);
    clock.tick(4999);
    assert.deepEqual(out, []);
    clock.tick(1);
    assert.deepEqual(out.map((o) => [o[1], o[2]]), [["stranger", 1]]);
    gate.add(sample(STRANGER, "stranger", 2), 7000);
    assert.deepEqual(out.map((o) => o[2]), [1, 2], "no second hold");
    const warnings = records.filter((r) => r.level === "warning");
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!.message.join("")), /stranger.*not in the catalog/);
    assert.equal(gate.counters.unlabelled, 2);
  });
});

Deno.test("an unknown container released unlabelled is judged by its stats name", async () => {
  await withGate(async ({ catalog, gate, out, clock }) => {
    await catalog.relist();
    gate.add(sample(STRANGER, "stranger"), 1000);
    gate.add(sample("6".repeat(64), "web-1"), 1000);
    clock.tick(5000);
    assert.deepEqual(out.map((o) => o[1]), ["web-1"]);
    assert.equal(gate.counters.filtered, 1);
  }, { include: ["web-*", "ct-*"] });
});

Deno.test("holding is bounded per container; close() releases what is held", async () => {
  const listing = Promise.withResolvers<void>();
  await withGate(({ gate, out }) => {
    for (let i = 1; i <= 5; i++) gate.add(sample(LIFE, "ct-rec-life", i), 1000 + i);
    assert.equal(gate.held, 3);
    assert.equal(gate.counters.overflow, 2);
    gate.close();
    assert.deepEqual(out.map((o) => o[2]), [3, 4, 5], "the newest three, in order");
    assert.equal(gate.held, 0);
    gate.add(sample(LIFE, "ct-rec-life", 6), 2000);
    assert.deepEqual(out.map((o) => o[2]), [3, 4, 5, 6], "closed: nothing is held any more");
  }, { listing: listing.promise });
  listing.resolve();
});
