/**
 * Labels as symbols and the lifecycle table: the catalog's flags (src/config/flags.ts with
 * src/catalog/labels.ts and filters.ts), the ILP rows of both tables with label symbols
 * (src/schema/events.ts, src/publish.ts `publishEvents`) and the lifecycle table's DDL. Rows
 * are built from the recorded events of tests/fixtures/catalog/.
 */
import assert from "node:assert/strict";
import { type Config, FlagExit, parseFlags } from "../../src/config/flags.ts";
import { ContainerCatalog } from "../../src/catalog/catalog.ts";
import type { LifecycleRow } from "../../src/catalog/events.ts";
import { createCatalog } from "../../main.ts";
import { labelSymbols } from "../../src/catalog/labels.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { Publisher } from "../../src/publish.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { createTableSql } from "../../src/schema/ddl.ts";
import { EVENT_TABLE } from "../../src/schema/events.ts";
import { encodeRows, withSymbols } from "../../src/schema/table.ts";
import { RecordingSink } from "../helpers/recording_sink.ts";

const DIR = new URL("../fixtures/catalog/", import.meta.url);
const LINES = Deno.readTextFileSync(new URL("events.jsonl", DIR)).split("\n").filter((l) => l);

function parse(argv: string[]) {
  let err = "";
  try {
    const config = parseFlags(["--node", "h1", ...argv], { HOME: "/home/u" }, {
      out: () => {},
      err: (s) => (err += s),
    });
    return { config, err, code: null as number | null };
  } catch (e) {
    if (!(e instanceof FlagExit)) throw e;
    return { config: null as Config | null, err, code: e.exitCode };
  }
}

Deno.test("flags: defaults keep compose project and service; events on", () => {
  const { config } = parse([]);
  assert.deepEqual(config!.labels, [
    { key: "com.docker.compose.project", column: "compose_project" },
    { key: "com.docker.compose.service", column: "compose_service" },
  ]);
  assert.equal(config!.events, "enabled");
  assert.equal(config!.eventsTable, "containerEvents");
  assert.deepEqual(
    [config!.include, config!.exclude, config!.includeLabels, config!.excludeLabels],
    [[], [], [], []],
  );
});

Deno.test("flags: --label none, KEY, KEY=COLUMN, a default's key renamed; filters", () => {
  assert.deepEqual(parse(["--label", "none"]).config!.labels, []);
  assert.deepEqual(
    parse(["--label", "none", "--label", "app.tier-name", "--label", "team=owner"]).config!
      .labels,
    [{ key: "app.tier-name", column: "app_tier_name" }, { key: "team", column: "owner" }],
  );
  assert.deepEqual(
    parse(["--label", "com.docker.compose.project=project"]).config!.labels.map((l) => l.column),
    ["compose_service", "project"],
  );
  const { config } = parse([
    "--events",
    "disabled",
    "--events-table",
    "lifecycle",
    "--include",
    "web-*",
    "--include",
    "db-?",
    "--exclude",
    "*-tmp",
    "--include-label",
    "com.docker.compose.project=shop",
    "--exclude-label",
    "ci",
  ]);
  assert.equal(config!.events, "disabled");
  assert.equal(config!.eventsTable, "lifecycle");
  assert.deepEqual(config!.include, ["web-*", "db-?"]);
  assert.deepEqual(config!.exclude, ["*-tmp"]);
  assert.deepEqual(config!.includeLabels, [{ key: "com.docker.compose.project", value: "shop" }]);
  assert.deepEqual(config!.excludeLabels, [{ key: "ci" }]);
});

Deno.test("flags: a bad or clashing label column is one line naming --label; exit 2", () => {
  const cases: [string[], RegExp][] = [
    [["--label", "host"], /Column 'host' of label 'host' clashes/],
    [["--label", "x=Name"], /Column 'Name' of label 'x' clashes/],
    [["--label", "x=exit_code"], /clashes/],
    [["--label", "x=timestamp"], /clashes/],
    [["--label", "a=c", "--label", "b=c"], /Labels 'a' and 'b' both map to column 'c'/],
    [["--label", "a", "--label", "a"], /Label 'a' is given twice/],
    [["--label", "x=compose_project"], /both map to column 'compose_project'/],
    [["--label", "io.k8s/name"], /invalid character '\/'.*KEY=COLUMN/],
    [["--label", "k=a.b"], /invalid character '\.'/],
    [["--label", "=col"], /non-empty KEY/],
  ];
  for (const [argv, re] of cases) {
    const { code, err } = parse(argv);
    assert.equal(code, 2, argv.join(" "));
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err, /^error: option '--label <key\[=column\]>'/, err);
    assert.match(err, re, err);
  }
  assert.equal(parse(["--label", "none", "--label", "x=compose_project"]).code, null);
});

Deno.test("flags: bad events, table, glob and label-filter values exit 2 with one line", () => {
  const cases: [string[], RegExp][] = [
    [["--events", "on"], /--events <state>.*Allowed choices are enabled, disabled/],
    [["--events-table", "a/b"], /--events-table <name>.*invalid character '\/'/],
    [["--include", ""], /--include <glob>.*non-empty/],
    [["--exclude-label", "=x"], /--exclude-label <key\[=value\]>.*non-empty KEY/],
  ];
  for (const [argv, re] of cases) {
    const { code, err } = parse(argv);
    assert.equal(code, 2, argv.join(" "));
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err, re);
  }
});

/** Lifecycle rows of the recording, as the catalog makes them (its engine answers nothing). */
async function recordedRows(): Promise<LifecycleRow[]> {
  const rows: LifecycleRow[] = [];
  const catalog = new ContainerCatalog({
    engine: { list: () => Promise.resolve([]), inspect: () => Promise.resolve(null) },
    onEvent: (r) => rows.push(r),
  });
  for (const line of LINES) catalog.handleLine(line);
  await catalog.idle();
  return rows;
}

const LABELS = parse([]).config!.labels;

Deno.test("lifecycle rows: symbols, label symbols, fields, the event's own nanosecond time", async () => {
  const rows = await recordedRows();
  const sink = new RecordingSink();
  const publisher = new Publisher({
    host: "h1",
    containers: { name: "containerStats", decl: CONTAINER_TABLE },
    events: {
      name: "containerEvents",
      decl: withSymbols(EVENT_TABLE, labelSymbols(LABELS, (r: LifecycleRow) => r.labels)),
    },
    sinks: [sink],
  });
  const pick = (name: string, event: string) =>
    rows.find((r) => r.name === name && r.event === event)!;
  const bad = { ...pick("ct-rec-oom", "oom"), restartCount: 1.5 }; // not a LONG
  await publisher.publishEvents([
    pick("ct-rec-exit3", "die"),
    bad,
    pick("ct-rec-health", "health_status"),
    pick("ct-rec-life2", "kill"),
    pick("ct-rec-oom", "oom"),
  ]);
  assert.equal(sink.batches.length, 1);
  const lines = sink.batches[0]!.ilp.trimEnd().split("\n");
  assert.deepEqual(lines, [
    "containerEvents,host=h1,container=8bc85d603070,name=ct-rec-exit3,image=busybox:local," +
    "event=die,compose_project=shop,compose_service=web exit_code=3i,restart_count=0i " +
    "1796594901441278969",
    "containerEvents,host=h1,container=caf165fd9015,name=ct-rec-health,image=busybox:local," +
    "event=health_status,health=healthy restart_count=0i 1796594901789155083",
    "containerEvents,host=h1,container=2ea3f938ccbc,name=ct-rec-life2,image=busybox:local," +
    "event=kill,compose_project=shop,compose_service=db signal=15i,restart_count=0i " +
    "1796594902488176791",
    "containerEvents,host=h1,container=cb2559b0b9e8,name=ct-rec-oom,image=busybox:local," +
    "event=oom restart_count=0i 1796594900601443557",
  ]);
  assert.equal(sink.batches[0]!.rows, 4);
  assert.equal(publisher.rowErrors, 1, "the bad row cost itself alone");
  assert.equal(sink.batches[0]!.endMs, 1796594900601);
});

Deno.test("container rows get the label symbols of their container from the catalog", () => {
  const labels = new Map([["a".repeat(64), { "com.docker.compose.project": "shop" }]]);
  const decl = withSymbols(
    CONTAINER_TABLE,
    labelSymbols(LABELS, (r: ContainerRow) => labels.get(r.id)),
  );
  const row = (id: string): ContainerRow => ({
    id,
    container: id.slice(0, 12),
    name: "web",
    cpu: 1,
    memoryPercentage: 0,
    memoryUse: 0,
    totalMemory: 0,
    blockIn: 0,
    blockOut: 0,
    netIn: 0,
    netOut: 0,
    blockInDelta: 0,
    blockOutDelta: 0,
    netInDelta: 0,
    netOutDelta: 0,
    pids: 1,
    samples: 1,
  });
  const enc = new IlpEncoder();
  encodeRows(enc, decl, "containerStats", [row("a".repeat(64)), row("b".repeat(64))], 5n, {
    host: "h1",
  }, (_, e) => {
    throw e;
  });
  const lines = enc.take().split("\n");
  assert.match(
    lines[0]!,
    /^containerStats,host=h1,container=a{12},name=web,compose_project=shop id=/,
  );
  assert.match(lines[1]!, /^containerStats,host=h1,container=b{12},name=web id=/);
});

Deno.test("lifecycle table DDL: label symbols, DEDUP UPSERT KEYS(timestamp, host, container, event)", () => {
  const sql = createTableSql({
    name: "containerEvents",
    decl: withSymbols(EVENT_TABLE, labelSymbols(LABELS, (r: LifecycleRow) => r.labels)),
  });
  assert.equal(
    sql,
    'CREATE TABLE IF NOT EXISTS "containerEvents" ("host" SYMBOL, "container" SYMBOL, ' +
      '"name" SYMBOL, "image" SYMBOL, "event" SYMBOL, "health" SYMBOL, ' +
      '"compose_project" SYMBOL, "compose_service" SYMBOL, "exit_code" LONG, "signal" LONG, ' +
      '"restart_count" LONG, "timestamp" TIMESTAMP) TIMESTAMP(timestamp) PARTITION BY DAY WAL ' +
      "DEDUP UPSERT KEYS(timestamp, host, container, event)",
  );
});

Deno.test("createCatalog: both tables carry the label symbols; --events disabled has none", () => {
  const symbols = (decl: { columns: readonly { name: string; type: string }[] }) =>
    decl.columns.filter((c) => c.type === "SYMBOL").map((c) => c.name);
  const on = createCatalog(parse(["--label", "team", "--table", "stats"]).config!);
  assert.equal(on.containers.name, "stats");
  assert.deepEqual(symbols(on.containers.decl), [
    "host",
    "container",
    "name",
    "compose_project",
    "compose_service",
    "team",
  ]);
  assert.equal(on.events!.name, "containerEvents");
  assert.deepEqual(symbols(on.events!.decl).slice(-3), [
    "compose_project",
    "compose_service",
    "team",
  ]);
  assert.equal(on.feed.starts, 0, "nothing runs before start()");
  const off = createCatalog(parse(["--events", "disabled", "--label", "none"]).config!);
  assert.equal(off.events, null);
  assert.deepEqual(symbols(off.containers.decl), ["host", "container", "name"]);
});
