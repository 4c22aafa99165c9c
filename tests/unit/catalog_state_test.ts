/**
 * The catalog (src/catalog/catalog.ts) replaying the recorded Engine API event stream
 * (tests/fixtures/catalog/). Its engine calls are answered from the API recordings of the same
 * run (tests/helpers/recorded_engine.ts), so no engine is needed; time is fake
 * (@sinonjs/fake-timers) where an inspect is retried.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { ContainerCatalog } from "../../src/catalog/catalog.ts";
import type { CatalogChange } from "../../src/catalog/container.ts";
import type { LifecycleRow } from "../../src/catalog/events.ts";
import { ContainerFilter, type FilterOptions } from "../../src/catalog/filters.ts";
import { EVENT_LINES as LINES, idOf, LISTING, RecordedEngine } from "../helpers/recorded_engine.ts";

const LIFE = idOf("ct-rec-life");
const OOM = idOf("ct-rec-oom");
const HEALTH = idOf("ct-rec-health");

interface Run {
  catalog: ContainerCatalog;
  engine: RecordedEngine;
  rows: LifecycleRow[];
  changes: CatalogChange[];
  cgroupPids: number[];
  clock: { now: number };
}

function setup(filters?: Partial<FilterOptions>): Run {
  const engine = new RecordedEngine();
  const rows: LifecycleRow[] = [];
  const changes: CatalogChange[] = [];
  const cgroupPids: number[] = [];
  const clock = { now: 1_796_190_700_000 };
  const catalog = new ContainerCatalog({
    engine,
    ...(filters
      ? {
        filter: new ContainerFilter({
          include: [],
          exclude: [],
          includeLabels: [],
          excludeLabels: [],
          ...filters,
        }),
      }
      : {}),
    cgroupsOf: (pid) => {
      cgroupPids.push(pid);
      return Promise.resolve({ "": `/docker/pid-${pid}` });
    },
    onEvent: (r) => rows.push(r),
    retentionMs: 30_000,
    now: () => clock.now,
  });
  catalog.subscribe((c) => changes.push(c));
  return { catalog, engine, rows, changes, cgroupPids, clock };
}

/** Lists, then replays every recorded line; inspect answers switch after the rename. */
async function replay(run: Run, lines = LINES): Promise<void> {
  await run.catalog.relist();
  for (const line of lines) {
    run.catalog.handleLine(line);
    if (line.includes('"Action":"rename"')) {
      await run.catalog.idle();
      run.engine.after = true;
    }
  }
  await run.catalog.idle();
}

Deno.test("listing: one call, one inspect per running container; each starts once", async () => {
  const run = setup();
  await run.catalog.relist();
  // ct-rec-policy was between its restarts ("restarting"), oom and exit3 had exited
  assert.deepEqual(run.engine.calls, ["list", "inspect ct-rec-life", "inspect ct-rec-health"]);
  assert.deepEqual(
    run.changes.map((c) => [c.kind, c.container.name]),
    [["start", "ct-rec-life"], ["start", "ct-rec-health"]],
  );
  const life = run.catalog.get(LIFE)!;
  assert.equal(life.networkMode, "none");
  assert.deepEqual(life.cgroups, { "": `/docker/pid-${life.pid}` });
  assert.equal(life.labels["com.docker.compose.project"], "shop");
  assert.deepEqual([...run.catalog.running()].map((c) => c.name).sort(), [
    "ct-rec-health",
    "ct-rec-life",
  ]);
  // State.StartedAt, for the Prometheus exporter
  assert.equal(life.startedAtMs, Date.parse("2026-12-06T22:08:21.204469531Z"));
  await run.catalog.listed; // resolved by the first listing
});

Deno.test("events: one lifecycle row per event that matters, with its own fields", async () => {
  const run = setup();
  await replay(run);
  const ignored = LINES.filter((l) => /"Action":"(exec_|stop")/.test(l)).length;
  assert.equal(run.rows.length, LINES.length - ignored);
  assert.equal(run.catalog.counters.rows, run.rows.length);
  const rowsOf = (name: string, event: string) =>
    run.rows.filter((r) => r.name === name && r.event === event);
  const die3 = rowsOf("ct-rec-exit3", "die")[0]!;
  assert.equal(die3.exitCode, 3);
  assert.equal(die3.container, die3.id.slice(0, 12));
  assert.equal(die3.labels["com.docker.compose.service"], "web");
  assert.equal(rowsOf("ct-rec-oom", "oom").length, 1);
  assert.deepEqual(rowsOf("ct-rec-oom", "die").map((r) => r.exitCode), [137]);
  assert.deepEqual(rowsOf("ct-rec-life2", "kill").map((r) => r.signal), [15, 9, 9]);
  assert.equal(rowsOf("ct-rec-life2", "rename").length, 1, "the rename row has the new name");
  assert.deepEqual(
    run.rows.filter((r) => r.event === "health_status").map((r) => r.health),
    ["healthy", "unhealthy"],
  );
  for (const r of run.rows) {
    if (r.event !== "die") assert.equal(r.exitCode, undefined);
    if (r.event !== "kill") assert.equal(r.signal, undefined);
    if (r.event !== "health_status") assert.equal(r.health, undefined);
  }
  const policyStarts = rowsOf("ct-rec-policy", "start").map((r) => r.restartCount);
  assert.deepEqual(policyStarts, [1, 1, 2], "restart_count as the engine last said");
  // timeNano exact, in event order
  const times = run.rows.map((r) => r.timeNano);
  assert.deepEqual(times, [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
});

Deno.test("changes: pause, rename and restart of ct-rec-life; a stop keeps the PID", async () => {
  const run = setup();
  await replay(run);
  const life = run.changes.filter((c) => c.container.id === LIFE);
  assert.deepEqual(life.map((c) => [c.kind, c.container.name, c.container.state]), [
    ["start", "ct-rec-life", "running"],
    ["update", "ct-rec-life", "paused"],
    ["update", "ct-rec-life", "running"],
    ["update", "ct-rec-life2", "running"],
    ["stop", "ct-rec-life2", "exited"],
    ["start", "ct-rec-life2", "running"],
    ["stop", "ct-rec-life2", "exited"],
  ]);
  const [first, , , , stop1, second, stop2] = life;
  assert.ok(first!.container.pid > 0);
  assert.equal(stop1!.container.pid, first!.container.pid, "the cgroup source can read once more");
  assert.deepEqual(stop1!.container.cgroups, first!.container.cgroups);
  assert.notEqual(second!.container.pid, first!.container.pid);
  assert.equal(stop2!.container.pid, second!.container.pid);
  // cgroups read once per start, not for the events between
  const starts = run.changes.filter((c) => c.kind === "start");
  assert.deepEqual(run.cgroupPids, starts.map((c) => c.container.pid));
  assert.ok(run.cgroupPids.includes(second!.container.pid));
  assert.deepEqual([...run.catalog.running()], [], "everything was removed");
});

Deno.test("retention: a destroyed container stays known, then is forgotten", async () => {
  const run = setup();
  await replay(run);
  const info = run.catalog.get(LIFE)!;
  assert.equal(info.name, "ct-rec-life2");
  assert.equal(info.state, "removed");
  assert.equal(info.labels["com.docker.compose.service"], "db");
  run.clock.now += 29_000;
  run.engine.listing = [];
  await run.catalog.relist();
  assert.ok(run.catalog.get(LIFE), "kept for the retention");
  run.clock.now += 60_000;
  await run.catalog.relist();
  assert.equal(run.catalog.get(LIFE), undefined);
  assert.equal(run.catalog.known(LIFE), "unknown");
  assert.equal(run.catalog.size, 0);
});

Deno.test("a replayed stream (docker events --since after a restart) adds no row twice", async () => {
  const run = setup();
  await replay(run);
  const rows = run.rows.length;
  const changes = run.changes.length;
  const inspects = run.engine.calls.length;
  for (const line of LINES) run.catalog.handleLine(line);
  await run.catalog.idle();
  assert.equal(run.rows.length, rows);
  assert.equal(run.changes.length, changes);
  assert.equal(run.engine.calls.length, inspects, "no engine call for a repeat");
});

Deno.test("listing again after missed events: containers gone meanwhile get a stop", async () => {
  const run = setup();
  await run.catalog.relist();
  run.engine.listing = LISTING.map((l) => l.id === LIFE ? { ...l, state: "exited" } : l);
  await run.catalog.relist();
  const stops = run.changes.filter((c) => c.kind === "stop");
  assert.deepEqual(stops.map((c) => c.container.id), [LIFE]);
  assert.ok(stops[0]!.container.pid > 0);
  assert.equal(run.catalog.get(LIFE)!.state, "exited");
  assert.deepEqual([...run.catalog.running()].map((c) => c.id), [HEALTH]);
  // and a container the catalog missed entirely is found by the listing
  const fresh = setup();
  fresh.engine.listing = [];
  await fresh.catalog.relist();
  fresh.engine.listing = LISTING;
  await fresh.catalog.relist();
  assert.equal([...fresh.catalog.running()].length, 2);
});

Deno.test("filters: filtered-out containers get no rows and no changes", async () => {
  const run = setup({
    exclude: ["*-oom"],
    excludeLabels: [{ key: "com.docker.compose.service", value: "db" }],
  });
  await replay(run);
  const names = new Set(run.rows.map((r) => r.name));
  assert.deepEqual([...names].sort(), ["ct-rec-exit3", "ct-rec-health", "ct-rec-policy"]);
  assert.ok(!run.changes.some((c) => c.container.id === LIFE || c.container.id === OOM));
  assert.equal(run.catalog.known(OOM), "filtered");
  assert.equal(run.catalog.get(OOM), undefined);
  assert.equal(run.catalog.known(LIFE), "filtered");
  const inspects = run.engine.calls.filter((c) => c.startsWith("inspect"));
  assert.equal(inspects.length, 1 + 8 - 3, "the listing's health, then each start but three");
  assert.ok(!inspects.some((c) => /ct-rec-(oom|life)/.test(c)), "no inspect of the excluded");

  const only = setup({ includeLabels: [{ key: "com.docker.compose.project" }] });
  await replay(only);
  assert.deepEqual([...new Set(only.rows.map((r) => r.name))].sort(), [
    "ct-rec-exit3",
    "ct-rec-life",
    "ct-rec-life2",
  ]);
});

Deno.test("a rename can move a container across a name filter", async () => {
  const run = setup({ exclude: ["*-life2"] });
  await replay(run);
  const life = run.changes.filter((c) => c.container.id === LIFE);
  assert.deepEqual(life.map((c) => [c.kind, c.container.name]), [
    ["start", "ct-rec-life"],
    ["update", "ct-rec-life"],
    ["update", "ct-rec-life"],
    ["stop", "ct-rec-life2"],
  ]);
  assert.deepEqual(
    run.rows.filter((r) => r.id === LIFE).map((r) => r.event),
    ["create", "start", "pause", "unpause"],
    "rows stop at the rename that filtered it out",
  );
});

Deno.test("lookup: after the first listing, one inspect for an unknown ID", async () => {
  const run = setup();
  const oom = run.catalog.lookup(OOM); // before any listing: waits for it
  await run.catalog.relist();
  await oom;
  assert.deepEqual(run.engine.calls, [
    "list",
    "inspect ct-rec-life",
    "inspect ct-rec-health",
    "inspect ct-rec-oom",
  ]);
  assert.equal(run.catalog.known(OOM), "pass");
  assert.equal(run.catalog.get(OOM)!.state, "exited");
  await run.catalog.lookup(OOM);
  await run.catalog.lookup("f".repeat(64));
  assert.equal(run.engine.calls.length, 5, "known: no call; unknown: one");
  assert.equal(run.catalog.known("f".repeat(64)), "unknown");
});

Deno.test("bad lines are counted and skipped; a failed listing keeps what was known", async () => {
  const run = setup();
  await run.catalog.relist();
  run.catalog.handleLine("{not json");
  run.catalog.handleLine("");
  await run.catalog.idle();
  assert.equal(run.catalog.counters.badLines, 1);
  run.engine.list = () => Promise.reject(new Error("Cannot connect to the Docker daemon"));
  await run.catalog.relist();
  assert.equal([...run.catalog.running()].length, 2);
});

Deno.test("renamed into the filters while running: inspected then, and started", async () => {
  const run = setup({ include: ["*-life2"] });
  await run.catalog.relist();
  assert.equal(run.catalog.known(LIFE), "filtered");
  assert.deepEqual(run.cgroupPids, [], "no cgroups read for a filtered-out container");
  run.engine.after = true; // the engine's answers after the rename
  run.catalog.handleLine(LINES.find((l) => l.includes('"Action":"rename"'))!);
  await run.catalog.idle();
  const life = run.changes.filter((c) => c.container.id === LIFE);
  assert.deepEqual(life.map((c) => [c.kind, c.container.name]), [["start", "ct-rec-life2"]]);
  assert.deepEqual(run.cgroupPids, [life[0]!.container.pid]);
  assert.deepEqual(run.engine.calls, ["list", "inspect ct-rec-life2"]);
});

Deno.test("a failed inspect at start is tried again with backoff until the container shows", async () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout"],
  });
  try {
    const run = setup();
    await run.catalog.relist();
    const policy = idOf("ct-rec-policy");
    run.engine.failing.add(policy);
    const start = LINES.find((l) => l.includes('"Action":"start"') && l.includes(policy))!;
    run.catalog.handleLine(start);
    await run.catalog.idle();
    const shown = () => [...run.catalog.running()].some((c) => c.id === policy);
    assert.equal(shown(), false, "stored without a PID: not shown yet");
    assert.equal(run.catalog.get(policy)!.state, "running");
    assert.equal(run.catalog.pendingInspects, 1);
    const triedAt: number[] = [];
    const inspect = run.engine.inspect.bind(run.engine);
    run.engine.inspect = (id) => (triedAt.push(clock.now), inspect(id));
    await clock.tickAsync(500 + 1000 + 2000);
    await run.catalog.idle();
    assert.deepEqual(triedAt, [500, 1500, 3500], "500 ms doubling");
    assert.equal(shown(), false);
    run.engine.failing.clear(); // the engine answers again
    await clock.tickAsync(4000);
    await run.catalog.idle();
    assert.deepEqual(triedAt, [500, 1500, 3500, 7500]);
    assert.ok(shown(), "running() hands it to the sources");
    const starts = run.changes.filter((c) => c.kind === "start" && c.container.id === policy);
    assert.equal(starts.length, 1);
    assert.ok(starts[0]!.container.pid > 0, "with its PID");
    assert.deepEqual(starts[0]!.container.cgroups, {
      "": `/docker/pid-${starts[0]!.container.pid}`,
    });
    assert.equal(run.catalog.pendingInspects, 0);
    assert.equal(run.catalog.counters.inspectErrors, 4);
    await clock.tickAsync(60_000);
    assert.equal(triedAt.length, 4, "no try after success");
  } finally {
    clock.uninstall();
  }
});

Deno.test("a retried inspect stops when the container dies; close() cancels the rest", async () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout"],
  });
  try {
    const run = setup();
    run.engine.failing.add(LIFE).add(HEALTH);
    await run.catalog.relist();
    assert.equal(run.catalog.pendingInspects, 2, "both listed, neither inspected");
    assert.deepEqual([...run.catalog.running()], []);
    const die = LINES.find((l) => l.includes('"Action":"die"') && l.includes(LIFE))!;
    run.catalog.handleLine(die);
    await run.catalog.idle();
    const before = run.engine.calls.length;
    await clock.tickAsync(500);
    await run.catalog.idle();
    assert.deepEqual(run.engine.calls.slice(before), ["inspect ct-rec-health"], "not the dead one");
    assert.equal(run.catalog.pendingInspects, 1);
    run.catalog.close();
    assert.equal(run.catalog.pendingInspects, 0);
    assert.equal(clock.countTimers(), 0, "no timer left");
  } finally {
    clock.uninstall();
  }
});

Deno.test("a listing without events: missed containers added, gone ones removed, size back down", async () => {
  const run = setup();
  await run.catalog.relist();
  assert.equal(run.catalog.size, 2);
  // every recorded container ran and was removed while no event was read
  run.engine.listing = [];
  await run.catalog.relist(false);
  assert.deepEqual(run.changes.filter((c) => c.kind === "stop").map((c) => c.container.name), [
    "ct-rec-life",
    "ct-rec-health",
  ]);
  assert.equal(run.catalog.get(LIFE)!.state, "removed");
  run.clock.now += 31_000;
  await run.catalog.relist(false);
  assert.equal(run.catalog.size, 0, "forgotten after the retention");
  // a light listing inspects only what it needs: the known running ones are not asked again
  run.engine.listing = LISTING;
  await run.catalog.relist(false);
  const calls = run.engine.calls.length;
  await run.catalog.relist(false);
  assert.deepEqual(run.engine.calls.slice(calls), ["list"]);
  await run.catalog.relist(true);
  assert.deepEqual(run.engine.calls.slice(calls + 1), [
    "list",
    "inspect ct-rec-life",
    "inspect ct-rec-health",
  ]);
});
