/**
 * `--retention`: the flag's rule, the TTL clause of the DDL (QuestDB 9.3.4 takes it between
 * PARTITION BY and WAL), and the report of an existing table whose TTL differs (literal
 * `tables()` answers).
 */
import assert from "node:assert/strict";
import { FlagExit, parseFlags } from "../../src/config/flags.ts";
import {
  createTableSql,
  ensureTables,
  parseRetention,
  type SqlExec,
  type TableSpec,
} from "../../src/schema/ddl.ts";
import { defineTable } from "../../src/schema/table.ts";
import { withLogs } from "../helpers/logs.ts";

Deno.test("parseRetention: <n><h|d|w|M|y>, hours in whole days", () => {
  assert.deepEqual(parseRetention("7d"), { value: 7, unit: "DAY" });
  assert.deepEqual(parseRetention("48h"), { value: 48, unit: "HOUR" });
  assert.deepEqual(parseRetention("2w"), { value: 2, unit: "WEEK" });
  assert.deepEqual(parseRetention("3M"), { value: 3, unit: "MONTH" });
  assert.deepEqual(parseRetention("1y"), { value: 1, unit: "YEAR" });
  for (const bad of ["12h", "0d", "7", "d", "7m", "7 d", "1.5d", "-1d", ""]) {
    assert.throws(() => parseRetention(bad), RangeError, bad);
  }
});

Deno.test("--retention: parsed into the config; a bad value is one line and exit 2", () => {
  const quiet = { out: () => {}, err: () => {} };
  assert.equal(parseFlags(["--node", "n"], {}, quiet).retention, null);
  assert.deepEqual(parseFlags(["--node", "n", "--retention", "30d"], {}, quiet).retention, {
    value: 30,
    unit: "DAY",
  });
  let err = "";
  assert.throws(
    () =>
      parseFlags(["--node", "n", "--retention", "12h"], {}, {
        out: () => {},
        err: (s) => err += s,
      }),
    (e) => e instanceof FlagExit && e.exitCode === 2,
  );
  assert.match(err, /^error: option '--retention <period>' argument '12h' is invalid\. Allowed: /);
  assert.match(err, /hours a multiple of 24/);
  assert.equal(err.split("\n").length, 2, "one line");
});

const TINY: TableSpec = {
  name: "t",
  decl: defineTable({
    defaultName: "t",
    columns: [{ name: "host", type: "SYMBOL", unit: "text", value: () => "h" }],
    upsertKeys: ["timestamp", "host"],
  }) as unknown as TableSpec["decl"],
};

Deno.test("createTableSql: TTL between PARTITION BY DAY and WAL, none without a retention", () => {
  const head = 'CREATE TABLE IF NOT EXISTS "t" ("host" SYMBOL, "timestamp" TIMESTAMP) ' +
    "TIMESTAMP(timestamp) PARTITION BY DAY ";
  const tail = "WAL DEDUP UPSERT KEYS(timestamp, host)";
  assert.equal(createTableSql(TINY), head + tail);
  assert.equal(createTableSql(TINY, { value: 3, unit: "MONTH" }), `${head}TTL 3 MONTH ${tail}`);
});

/** ensureTables against literal `tables()` answers; @returns the info lines it logged. */
function report(ttl: [number, string], retention: string | null): Promise<string[]> {
  return withLogs(async (records) => {
    const sqls: string[] = [];
    const exec: SqlExec = (sql) => {
      sqls.push(sql);
      if (sql.startsWith("SELECT ttlValue")) return Promise.resolve({ dataset: [ttl] });
      return Promise.resolve({ dataset: sql.startsWith("SELECT dedup") ? [[true]] : [] });
    };
    await ensureTables(exec, [TINY], retention ? parseRetention(retention) : null);
    assert.equal(sqls.some((s) => s.includes("ttlValue")), retention !== null);
    return records.filter((r) => r.level === "info").map((r) => r.message.join(""));
  });
}

Deno.test("ensureTables: an existing table whose TTL differs is reported at info, once", async () => {
  const [line, ...more] = await report([1, "DAY"], "2w");
  assert.equal(more.length, 0);
  assert.match(line!, /^Table "?t"? exists with TTL 1 DAY; --retention 2 WEEK applies to tables/);
  assert.match(line!, /ALTER TABLE "?t"? SET TTL 2 WEEK/);
  assert.match((await report([0, "HOUR"], "7d"))[0]!, /exists with TTL none; --retention 7 DAY/);
});

Deno.test("ensureTables: the same period in other units is not reported; no retention, no check", async () => {
  assert.deepEqual(await report([2, "DAY"], "48h"), []);
  assert.deepEqual(await report([1, "WEEK"], "7d"), []);
  assert.deepEqual(await report([1, "YEAR"], "12M"), []);
  assert.deepEqual(await report([5, "DAY"], null), []);
});
