/**
 * Tables declared once (src/schema): the DDL text and the ILP rows both derive from a
 * `TableDecl`, so the columns QuestDB creates and the columns the daemon writes cannot differ.
 */
import assert from "node:assert/strict";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { createTableSql, ensureTables, type TableSpec } from "../../src/schema/ddl.ts";
import { DISK_TABLE } from "../../src/schema/disks.ts";
import type { DiskReading } from "../../src/disks/collector.ts";
import {
  type ColumnDecl,
  defineTable,
  encodeRows,
  msToNs,
  type TableDecl,
  withSymbols,
} from "../../src/schema/table.ts";
import { withLogs } from "../helpers/logs.ts";

interface Row {
  host: string;
  cpu: number;
}

const TINY: TableDecl<Row> = defineTable<Row>({
  defaultName: "tiny",
  columns: [
    { name: "host", type: "SYMBOL", unit: "text", value: (r) => r.host },
    { name: "cpu", type: "DOUBLE", unit: "percent", value: (r) => r.cpu },
  ],
  upsertKeys: ["timestamp", "host"],
});

const spec = <R>(name: string, decl: TableDecl<R>): TableSpec => ({
  name,
  decl: decl as TableDecl<never>,
});

Deno.test("CREATE TABLE: WAL, daily partitions, DEDUP UPSERT KEYS, quoted names", () => {
  assert.equal(
    createTableSql(spec('my"stats', TINY)),
    'CREATE TABLE IF NOT EXISTS "my""stats" ("host" SYMBOL, "cpu" DOUBLE, ' +
      '"timestamp" TIMESTAMP) TIMESTAMP(timestamp) PARTITION BY DAY WAL ' +
      "DEDUP UPSERT KEYS(timestamp, host)",
  );
});

Deno.test("CREATE TABLE for containerStats and diskStats: the Rust original's columns", () => {
  assert.equal(
    createTableSql(spec("containerStats", CONTAINER_TABLE)),
    'CREATE TABLE IF NOT EXISTS "containerStats" ("host" SYMBOL, "container" SYMBOL, ' +
      '"name" SYMBOL, "id" VARCHAR, "cpu" DOUBLE, "memory_percentage" DOUBLE, ' +
      '"memory_use" DOUBLE, "total_memory" DOUBLE, "block_io_in" DOUBLE, ' +
      '"block_io_out" DOUBLE, "net_io_in" DOUBLE, "net_io_out" DOUBLE, ' +
      '"block_io_in_delta" LONG, "block_io_out_delta" LONG, "net_io_in_delta" LONG, ' +
      '"net_io_out_delta" LONG, "pids" LONG, "samples" LONG, ' +
      // The cgroup figures (issue 18).
      '"cpu_limit" DOUBLE, "cpu_throttled_pct" DOUBLE, "cpu_throttled_us_delta" LONG, ' +
      '"memory_anon" DOUBLE, "memory_file" DOUBLE, "oom_kills_delta" LONG, ' +
      '"memory_max_events_delta" LONG, "pgmajfault_delta" LONG, "cpu_pressure_pct" DOUBLE, ' +
      '"memory_pressure_pct" DOUBLE, "memory_pressure_full_pct" DOUBLE, ' +
      '"io_pressure_pct" DOUBLE, "io_pressure_full_pct" DOUBLE, "net_rx_dropped_delta" LONG, ' +
      '"net_tx_dropped_delta" LONG, "net_rx_errors_delta" LONG, "net_tx_errors_delta" LONG, ' +
      '"pids_limit" LONG, "timestamp" TIMESTAMP) ' +
      "TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, host, container)",
  );
  assert.equal(
    createTableSql(spec("diskStats", DISK_TABLE)),
    'CREATE TABLE IF NOT EXISTS "diskStats" ("host" SYMBOL, "name" SYMBOL, ' +
      '"file_system" SYMBOL, "mount_point" SYMBOL, "type" SYMBOL, "available_space" LONG, ' +
      '"total_space" LONG, "percentage_use" DOUBLE, "read_bytes" LONG, "write_bytes" LONG, ' +
      '"read_bytes_delta" LONG, "write_bytes_delta" LONG, "timestamp" TIMESTAMP) ' +
      "TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, host, name)",
  );
});

/** Column names and ILP kinds of one encoded line (symbols, then fields). */
function columnsOf(line: string): Map<string, string> {
  const [head, fields] = line.split(" ");
  const out = new Map<string, string>();
  for (const s of head!.split(",").slice(1)) out.set(s.split("=")[0]!, "SYMBOL");
  for (const f of fields!.split(",")) {
    const [k, v] = f.split("=") as [string, string];
    out.set(k, v.startsWith('"') ? "VARCHAR" : v.endsWith("i") ? "LONG" : "DOUBLE");
  }
  return out;
}

/** The declaration's columns as name -> type. */
function declared<R>(decl: TableDecl<R>): Map<string, string> {
  return new Map(decl.columns.map((c) => [c.name, c.type]));
}

Deno.test("encodeRows writes exactly the declared columns with the declared types", () => {
  const enc = new IlpEncoder();
  const row: ContainerRow = {
    id: "a".repeat(64),
    container: "a".repeat(12),
    name: "web",
    cpu: 1.5,
    memoryPercentage: 2,
    memoryUse: 100,
    totalMemory: 1000,
    blockIn: 0,
    blockOut: 0,
    netIn: 0,
    netOut: 0,
    blockInDelta: 0,
    blockOutDelta: 0,
    netInDelta: 0,
    netOutDelta: 0,
    pids: 3,
    samples: 9,
    cgroup: {
      cpuLimit: 0.5,
      cpuThrottledPct: 90,
      cpuThrottledUsDelta: 4_500_000,
      memoryAnon: 1,
      memoryFile: 2,
      oomKillsDelta: 1,
      memoryMaxEventsDelta: 3,
      pgmajfaultDelta: 0,
      cpuPressurePct: 1,
      memoryPressurePct: 2,
      memoryPressureFullPct: 1,
      ioPressurePct: 0,
      ioPressureFullPct: 0,
      netRxDroppedDelta: 0,
      netTxDroppedDelta: 0,
      netRxErrorsDelta: 0,
      netTxErrorsDelta: 0,
      pidsLimit: 100,
    },
  };
  const fail = (_: unknown, e: Error) => assert.fail(e);
  const ts = msToNs(1_700_000_000_000);
  encodeRows(enc, CONTAINER_TABLE, "containerStats", [row], ts, { host: "h" }, fail);
  const disk: DiskReading = {
    name: "/dev/vda",
    device: "vda",
    configured: "/",
    fileSystem: "ext4",
    mountPoint: "/",
    type: "ssd",
    availableSpace: 1,
    totalSpace: 2,
    percentageUse: 50,
    readBytes: 3,
    writeBytes: 4,
    readBytesDelta: 0,
    writeBytesDelta: 0,
  };
  encodeRows(enc, DISK_TABLE, "diskStats", [disk], ts, { host: "h" }, fail);
  const [containerLine, diskLine] = enc.take().trimEnd().split("\n");
  assert.deepEqual(columnsOf(containerLine!), declared(CONTAINER_TABLE));
  assert.deepEqual(columnsOf(diskLine!), declared(DISK_TABLE));
  for (const line of [containerLine!, diskLine!]) {
    assert.ok(line.endsWith(" 1700000000000000000"), "designated timestamp in nanoseconds");
  }
  assert.deepEqual([...CONTAINER_TABLE.upsertKeys], ["timestamp", "host", "container"]);
  assert.deepEqual([...DISK_TABLE.upsertKeys], ["timestamp", "host", "name"]);
});

Deno.test("encodeRows: a column whose value is undefined is left out of that row", () => {
  const decl = defineTable<{ v?: number }>({
    defaultName: "t",
    columns: [
      { name: "host", type: "SYMBOL", unit: "text", value: (_, c) => c.host },
      { name: "v", type: "LONG", unit: "count", value: (r) => r.v },
      { name: "n", type: "LONG", unit: "count", value: () => 1 },
    ],
    upsertKeys: ["timestamp"],
  });
  const enc = new IlpEncoder();
  const n = encodeRows(enc, decl, "t", [{ v: 5 }, {}], 7n, { host: "h" }, () => {});
  assert.equal(n, 2);
  assert.equal(enc.take(), "t,host=h v=5i,n=1i 7\nt,host=h n=1i 7\n");
});

Deno.test("encodeRows: stringFields false leaves VARCHAR columns out (VictoriaMetrics)", () => {
  const decl = defineTable<string>({
    defaultName: "t",
    columns: [
      { name: "id", type: "VARCHAR", unit: "text", value: (r) => r },
      { name: "n", type: "LONG", unit: "count", value: () => 1 },
    ],
    upsertKeys: ["timestamp"],
  });
  const enc = new IlpEncoder();
  encodeRows(enc, decl, "t", ["x"], 1n, { host: "h" }, () => {}, { stringFields: false });
  encodeRows(enc, decl, "t", ["x"], 1n, { host: "h" }, () => {});
  assert.equal(enc.take(), 't n=1i 1\nt id="x",n=1i 1\n');
});

Deno.test("defineTable refuses a symbol after a field, a repeated name, an unknown upsert key", () => {
  const sym: ColumnDecl<Row> = { name: "s", type: "SYMBOL", unit: "text", value: () => "x" };
  const dbl: ColumnDecl<Row> = { name: "d", type: "DOUBLE", unit: "percent", value: () => 1 };
  const base = { defaultName: "t", upsertKeys: ["timestamp"] };
  assert.throws(() => defineTable({ ...base, columns: [dbl, sym] }), /symbol s after a field/);
  assert.throws(() => defineTable({ ...base, columns: [sym, sym] }), /column s twice/);
  assert.throws(
    () => defineTable({ ...base, columns: [{ ...sym, name: "timestamp" }] }),
    /column timestamp twice/,
  );
  assert.throws(
    () => defineTable({ ...base, columns: [sym], upsertKeys: ["timestamp", "nope"] }),
    /upsert key nope unknown/,
  );
});

Deno.test("withSymbols puts extra symbols after the table's own, before its fields", () => {
  const label: ColumnDecl<Row> = { name: "team", type: "SYMBOL", unit: "text", value: () => "a" };
  const t = withSymbols(TINY, [label]);
  assert.deepEqual(t.columns.map((c) => c.name), ["host", "team", "cpu"]);
  assert.throws(() => withSymbols(TINY, [{ ...label, name: "cpu" }]), TypeError);
  assert.equal(msToNs(1_700_000_000_123), 1_700_000_000_123_000_000n);
});

Deno.test("ensureTables: creates each table; one without DEDUP is reported at info", async () => {
  await withLogs(async (logged) => {
    const records = () => logged.filter((r) => r.level !== "debug");
    const sqls: string[] = [];
    const exec = (dedup: boolean) => (sql: string) => {
      sqls.push(sql);
      return Promise.resolve({ dataset: sql.startsWith("SELECT") ? [[dedup]] : [] });
    };
    await ensureTables(exec(true), [spec("t", TINY)]);
    assert.equal(records().length, 0, "a table with DEDUP is not reported");
    await ensureTables(exec(false), [spec("t", TINY)]);
    assert.equal(sqls.length, 4);
    assert.match(sqls[0]!, /^CREATE TABLE IF NOT EXISTS "t"/);
    assert.match(sqls[1]!, /SELECT dedup FROM tables\(\) WHERE table_name = 't'/);
    assert.equal(records().length, 1);
    assert.equal(records()[0]!.level, "info");
    assert.match(String(records()[0]!.rawMessage), /exists without DEDUP UPSERT KEYS/);
    assert.match(String(records()[0]!.properties["keys"]), /^timestamp, host$/);
  });
});
