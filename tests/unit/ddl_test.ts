import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import {
  CONTAINER_COLUMNS,
  CONTAINER_UPSERT_KEYS,
  encodeContainerRows,
} from "../../src/schema/container_table.ts";
import { DISK_COLUMNS, DISK_UPSERT_KEYS } from "../../src/schema/disk_table.ts";
import { createTableSql, ensureTables } from "../../src/schema/ddl.ts";
import { encodeDiskRows } from "../../src/disks/rows.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";

Deno.test("CREATE TABLE: WAL, daily partitions, DEDUP UPSERT KEYS, quoted names", () => {
  assert.equal(
    createTableSql({
      name: 'my"stats',
      columns: [["host", "SYMBOL"], ["cpu", "DOUBLE"], ["timestamp", "TIMESTAMP"]],
      upsertKeys: ["timestamp", "host"],
    }),
    'CREATE TABLE IF NOT EXISTS "my""stats" ("host" SYMBOL, "cpu" DOUBLE, ' +
      '"timestamp" TIMESTAMP) TIMESTAMP(timestamp) PARTITION BY DAY WAL ' +
      "DEDUP UPSERT KEYS(timestamp, host)",
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

Deno.test("the encoders write exactly the schema's columns with the schema's types", () => {
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
  };
  encodeContainerRows(enc, "containerStats", "h", [row], 1_700_000_000_000);
  encodeDiskRows(enc, "diskStats", "h", [{
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
  }], 1_700_000_000_000_000_000n);
  const [container, disk] = enc.take().trimEnd().split("\n");
  for (const [line, schema] of [[container!, CONTAINER_COLUMNS], [disk!, DISK_COLUMNS]] as const) {
    const expected = new Map(schema.filter(([c]) => c !== "timestamp"));
    assert.deepEqual(columnsOf(line), expected);
    assert.ok(line.endsWith(" 1700000000000000000"), "designated timestamp in nanoseconds");
  }
  assert.deepEqual([...CONTAINER_UPSERT_KEYS], ["timestamp", "host", "container"]);
  assert.deepEqual([...DISK_UPSERT_KEYS], ["timestamp", "host", "name"]);
});

Deno.test("ensureTables: creates each table; one without DEDUP is reported at info", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (r) => records.push(r) },
    loggers: [{ category: ["container-statsd"], lowestLevel: "info", sinks: ["memory"] }],
  });
  try {
    const sqls: string[] = [];
    const exec = (dedup: boolean) => (sql: string) => {
      sqls.push(sql);
      return Promise.resolve({ dataset: sql.startsWith("SELECT") ? [[dedup]] : [] });
    };
    const spec = {
      name: "t",
      columns: [["timestamp", "TIMESTAMP"]] as const,
      upsertKeys: ["timestamp"],
    };
    await ensureTables(exec(true), [spec]);
    assert.equal(records.length, 0, "a table with DEDUP is not reported");
    await ensureTables(exec(false), [spec]);
    assert.equal(sqls.length, 4);
    assert.match(sqls[0]!, /^CREATE TABLE IF NOT EXISTS "t"/);
    assert.match(sqls[1]!, /SELECT dedup FROM tables\(\) WHERE table_name = 't'/);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.level, "info");
    assert.match(String(records[0]!.rawMessage), /exists without DEDUP UPSERT KEYS/);
  } finally {
    await reset();
  }
});
