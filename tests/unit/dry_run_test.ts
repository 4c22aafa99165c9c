/**
 * `--dry-run`: the flag, the ILP decoder the table view reads batches with, and the sink's
 * output (literal rows, encoded by the daemon's own encoder).
 */
import assert from "node:assert/strict";
import { FlagExit, parseFlags } from "../../src/config/flags.ts";
import { decodeIlp, DryRunSink, formatValue, viewColumns } from "../../src/delivery/dry_run.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import type { TableSpec } from "../../src/schema/ddl.ts";
import { type ColumnDecl, encodeRows, msToNs, withSymbols } from "../../src/schema/table.ts";

Deno.test("--dry-run: table by default, also before another flag; =ilp; a bad format exits 2", () => {
  const quiet = { out: () => {}, err: () => {} };
  assert.equal(parseFlags(["--node", "n"], {}, quiet).dryRun, null);
  assert.equal(parseFlags(["--dry-run", "--node", "n"], {}, quiet).dryRun, "table");
  assert.equal(parseFlags(["--node", "n", "--dry-run"], {}, quiet).dryRun, "table");
  assert.equal(parseFlags(["--dry-run=ilp", "--node", "n"], {}, quiet).dryRun, "ilp");
  assert.equal(parseFlags(["--dry-run", "ilp", "--node", "n"], {}, quiet).dryRun, "ilp");
  let err = "";
  assert.throws(
    () =>
      parseFlags(["--dry-run=json", "--node", "n"], {}, { out: () => {}, err: (s) => err += s }),
    (e) => e instanceof FlagExit && e.exitCode === 2,
  );
  assert.equal(
    err,
    "error: option '--dry-run [format]' argument 'json' is invalid. " +
      "Allowed choices are table, ilp.\n",
  );
});

Deno.test("decodeIlp reads back what the encoder wrote, escapes included", () => {
  const enc = new IlpEncoder();
  enc.table("t").symbol("host", "a b,c=d\\e").symbol("name", "x\ny");
  enc.stringColumn("id", 'say "hi"\nbye\\').intColumn("n", -42).floatColumn("f", 1.5e-7);
  enc.at(1_700_000_000_000_000_000n);
  enc.table("u").intColumn("n", 1).at(5n);
  const rows = decodeIlp(enc.take());
  assert.deepEqual(rows, [
    {
      table: "t",
      values: new Map<string, string | number>([
        ["host", "a b,c=d\\e"],
        ["name", "x\ny"],
        ["id", 'say "hi"\nbye\\'],
        ["n", -42],
        ["f", 1.5e-7],
      ]),
      timestampNs: 1_700_000_000_000_000_000n,
    },
    { table: "u", values: new Map([["n", 1]]), timestampNs: 5n },
  ]);
  assert.throws(() => decodeIlp("t,a=1\n"), /row 1: no fields and no timestamp/);
  assert.deepEqual(decodeIlp("t,a=1 7\n"), [{
    table: "t",
    values: new Map([["a", "1"]]),
    timestampNs: 7n,
  }]);
  assert.throws(() => decodeIlp("t x=abc 1\n"), /not a number: abc/);
});

Deno.test("formatValue: percent, binary bytes, counts, text, missing", () => {
  assert.equal(formatValue(12.345, "percent"), "12.35");
  assert.equal(formatValue(512, "bytes"), "512B");
  assert.equal(formatValue(200 * 1024 * 1024, "bytes"), "200.0MiB");
  assert.equal(formatValue(1.5 * 1024 ** 3, "bytes"), "1.5GiB");
  assert.equal(formatValue(7, "count"), "7");
  assert.equal(formatValue("web", "text"), "web");
  assert.equal(formatValue(undefined, "bytes"), "-");
});

const ROW: ContainerRow = {
  id: "f".repeat(64),
  container: "f".repeat(12),
  name: "web",
  cpu: 12.5,
  memoryPercentage: 1,
  memoryUse: 200 * 1024 * 1024,
  totalMemory: 2 * 1024 ** 3,
  blockIn: 0,
  blockOut: 0,
  netIn: 0,
  netOut: 0,
  blockInDelta: 0,
  blockOutDelta: 4096,
  netInDelta: 1500,
  netOutDelta: 0,
  pids: 3,
  samples: 10,
};

/** One interval's batch of container rows, as publish.ts makes it. */
function batch(rows: ContainerRow[]): { endMs: number; rows: number; ilp: string } {
  const enc = new IlpEncoder();
  const endMs = Date.parse("2024-05-01T12:00:10Z");
  const n = encodeRows(enc, CONTAINER_TABLE, "containerStats", rows, msToNs(endMs), {
    host: "node-1",
  }, () => assert.fail("row dropped"));
  return { endMs, rows: n, ilp: enc.take() };
}

const TABLES: TableSpec[] = [{
  name: "containerStats",
  decl: CONTAINER_TABLE as unknown as TableSpec["decl"],
}];

Deno.test("DryRunSink table: an aligned table per table and interval, nothing spooled", async () => {
  let out = "";
  let attempts = 0;
  const sink = new DryRunSink({
    format: "table",
    tables: TABLES,
    write: (s) => out += s,
    onAttempt: () => attempts++,
  });
  assert.equal(await sink.loadSpool(), 0);
  sink.start();
  sink.enqueue(batch([ROW, { ...ROW, name: "db-primary", cpu: 101.25, pids: 12, samples: 9 }]));
  sink.enqueue({ endMs: 0, rows: 0, ilp: "" });
  assert.equal(
    out,
    "# containerStats, interval ending 2024-05-01T12:00:10.000Z (2 rows)\n" +
      "host    name           cpu  memory_use  total_memory  net_io_in_delta  net_io_out_delta" +
      "  block_io_in_delta  block_io_out_delta  pids  samples\n" +
      "node-1  web          12.50    200.0MiB        2.0GiB           1.5KiB                0B" +
      "                 0B              4.0KiB     3       10\n" +
      "node-1  db-primary  101.25    200.0MiB        2.0GiB           1.5KiB                0B" +
      "                 0B              4.0KiB    12        9\n\n",
  );
  assert.equal(sink.stats.deliveredRows, 2);
  assert.equal(attempts, 1, "an empty batch is not printed");
  assert.equal(await sink.stop(Date.now()), 0);
});

Deno.test("DryRunSink ilp: the exact ILP lines", () => {
  let out = "";
  const sink = new DryRunSink({ format: "ilp", tables: TABLES, write: (s) => out += s });
  const b = batch([ROW]);
  sink.enqueue(b);
  assert.equal(out, b.ilp);
  assert.match(out, /^containerStats,host=node-1,container=f{12},name=web id="f{64}",cpu=12\.5,/);
});

Deno.test("viewColumns: label symbols follow name; an unknown table shows all but VARCHARs", () => {
  const label: ColumnDecl<ContainerRow> = {
    name: "compose_project",
    type: "SYMBOL",
    unit: "text",
    value: () => "p",
  };
  const labelled = withSymbols(CONTAINER_TABLE, [label]) as unknown as TableSpec["decl"];
  assert.deepEqual(viewColumns(labelled).slice(0, 4).map((c) => c.name), [
    "host",
    "name",
    "compose_project",
    "cpu",
  ]);
  const other = { ...labelled, defaultName: "containerEvents" };
  assert.ok(viewColumns(other).every((c) => c.type !== "VARCHAR"));
  assert.equal(viewColumns(other).length, labelled.columns.length - 1);
});
