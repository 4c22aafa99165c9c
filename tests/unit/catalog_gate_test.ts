/**
 * The row gate (src/catalog/gate.ts) behind a real catalog fed with the recorded events
 * (tests/fixtures/catalog/). The catalog's listing and inspects are answered from the API
 * recordings.
 */
import assert from "node:assert/strict";
import { type CatalogEngine, ContainerCatalog } from "../../src/catalog/catalog.ts";
import { ContainerFilter } from "../../src/catalog/filters.ts";
import { RowGate } from "../../src/catalog/gate.ts";
import type { Inspected, Listed } from "../../src/catalog/listing.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { withLogs } from "../helpers/logs.ts";
import { BEFORE as INSPECT, EVENT_LINES as LINES, LISTING } from "../helpers/recorded_engine.ts";

const byName = (name: string) => INSPECT.find((c) => c.name === name)!;
const LIFE = byName("ct-rec-life").id;
const HEALTH = byName("ct-rec-health").id;
const STRANGER = "5".repeat(64);

/** Listing and inspect from the recordings; `inspected` records what was asked. */
function engine(): CatalogEngine & { inspected: string[] } {
  const inspected: string[] = [];
  return {
    inspected,
    list(): Promise<Listed[]> {
      return Promise.resolve([...LISTING]);
    },
    inspect(id: string): Promise<Inspected | null> {
      inspected.push(id);
      return Promise.resolve(INSPECT.find((c) => c.id === id) ?? null);
    },
  };
}

function row(id: string, name: string): ContainerRow {
  return {
    id,
    container: id.slice(0, 12),
    name,
    cpu: 1,
    memoryUse: 0,
    totalMemory: 0,
    memoryPercentage: 0,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 0,
    blockInDelta: 0,
    blockOutDelta: 0,
    netInDelta: 0,
    netOutDelta: 0,
    pids: 1,
    samples: 1,
  };
}

async function catalogWith(
  filter: { exclude?: string[]; include?: string[] } = {},
): Promise<{ catalog: ContainerCatalog; inspected: string[] }> {
  const e = engine();
  const catalog = new ContainerCatalog({
    engine: e,
    filter: new ContainerFilter({
      include: filter.include ?? [],
      exclude: filter.exclude ?? [],
      includeLabels: [],
      excludeLabels: [],
    }),
  });
  await catalog.relist();
  return { catalog, inspected: e.inspected };
}

const names = (rows: ContainerRow[]) => rows.map((r) => r.name);

Deno.test("known containers go out with the catalog's name; filtered ones are dropped", async () => {
  const { catalog } = await catalogWith();
  for (const line of LINES.slice(0, LINES.findIndex((l) => l.includes('"rename"')) + 1)) {
    catalog.handleLine(line);
  }
  await catalog.idle();
  const gate = new RowGate(catalog);
  // The stats CLI keeps the old name; the catalog has the rename.
  const out = gate.resolve({
    endMs: 10_000,
    rows: [row(LIFE, "ct-rec-life"), row(HEALTH, "ct-rec-health")],
  });
  assert.equal(out.endMs, 10_000);
  assert.deepEqual(names(out.rows), ["ct-rec-life2", "ct-rec-health"]);

  const filtered = await catalogWith({ exclude: ["*health"] });
  const g2 = new RowGate(filtered.catalog);
  const rows = g2.resolve({
    endMs: 0,
    rows: [row(HEALTH, "ct-rec-health"), row(LIFE, "ct-rec-life")],
  }).rows;
  assert.deepEqual(names(rows), ["ct-rec-life"]);
  assert.equal(g2.counters.filtered, 1);
});

Deno.test("an unknown container goes out under its stats name, logged once, and is looked up", async () => {
  await withLogs(async (records) => {
    const { catalog, inspected } = await catalogWith();
    const gate = new RowGate(catalog);
    for (let i = 0; i < 3; i++) {
      const out = gate.resolve({ endMs: i, rows: [row(STRANGER, "stranger")] });
      assert.deepEqual(names(out.rows), ["stranger"]);
    }
    for (let i = 0; i < 50 && !inspected.includes(STRANGER); i++) await Promise.resolve();
    const warnings = records.filter((r) => r.level === "warning");
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]!.message.join("")), /stranger.*not in the catalog/);
    assert.equal(gate.counters.unlabelled, 3);
    assert.ok(inspected.includes(STRANGER), "the catalog was asked to look it up");
  });
});

Deno.test("an unknown container is judged by its stats name", async () => {
  const { catalog } = await catalogWith({ include: ["web-*", "ct-*"] });
  const gate = new RowGate(catalog);
  const out = gate.resolve({
    endMs: 0,
    rows: [row(STRANGER, "stranger"), row("6".repeat(64), "web-1")],
  });
  assert.deepEqual(names(out.rows), ["web-1"]);
  assert.equal(gate.counters.filtered, 1);
});

Deno.test("liveness: running is live, a died container is gone, a stranger unknown", async () => {
  const { catalog } = await catalogWith();
  const gate = new RowGate(catalog);
  assert.equal(gate.liveness(LIFE), "live");
  assert.equal(gate.liveness(STRANGER), "unknown");
  for (const line of LINES.filter((l) => l.includes(LIFE) && l.includes('"die"'))) {
    catalog.handleLine(line);
  }
  await catalog.idle();
  assert.equal(gate.liveness(LIFE), "gone");
});
