/**
 * The dashboard as code (grafana/dashboard.ts) and the macro expander (grafana/macros.ts).
 * The expander's cases are the QuestDB plugin's own (questdb/grafana-questdb-datasource
 * pkg/macros/macros_test.go and src/data/QuestDbDatasource.test.ts, literal inputs and outputs).
 */
import assert from "node:assert/strict";
import {
  buildDashboard,
  DASHBOARD_PATH,
  dashboardQueries,
  Format,
  QUESTDB_PLUGIN,
  renderDashboard,
} from "../../grafana/dashboard.ts";
import {
  applyConditionalAll,
  expandQuery,
  interpolateMacros,
  sampleByInterval,
  type VariableValues,
} from "../../grafana/macros.ts";

Deno.test("the committed dashboard JSON is what grafana/dashboard.ts generates", async () => {
  const committed = await Deno.readTextFile(DASHBOARD_PATH);
  assert.equal(committed, renderDashboard(), "run `deno task dashboard` and commit the JSON");
});

const FROM = Date.parse("2024-01-20T12:34:56.789Z");
const TO = Date.parse("2024-02-10T10:01:02.123Z");

Deno.test("$__fromTime and $__toTime: microseconds cast to timestamp (macros_test.go)", () => {
  const cases: [string, string][] = [
    ["1960-01-01T00:00:00.000Z", "cast(-315619200000000 as timestamp)"],
    ["1969-12-31T23:59:59.999Z", "cast(-1000 as timestamp)"],
    ["1970-01-01T00:00:00.000Z", "cast(0 as timestamp)"],
    ["1970-01-01T00:00:00.001Z", "cast(1000 as timestamp)"],
    ["2024-01-20T12:34:56.789Z", "cast(1705754096789000 as timestamp)"],
  ];
  for (const [at, want] of cases) {
    const ms = Date.parse(at);
    assert.equal(interpolateMacros("$__fromTime", { fromMs: ms, toMs: 0, intervalMs: 0 }), want);
    assert.equal(interpolateMacros("$__toTime", { fromMs: 0, toMs: ms, intervalMs: 0 }), want);
  }
});

Deno.test("$__sampleByInterval: d, h, s or T, truncated as Go truncates (macros_test.go)", () => {
  const cases: [number, string][] = [
    [1, "1T"],
    [459, "459T"],
    [1000, "1s"],
    [59_000, "59s"],
    [3_600_000, "1h"],
    [23 * 3_600_000, "23h"],
    [86_400_000, "1d"],
    [5 * 86_400_000, "5d"],
    // Beyond the plugin's cases, what the same code gives:
    [0, "1T"],
    [1500, "1s"],
    [300_000, "300s"],
    [5_400_000, "1h"],
    [25 * 3_600_000, "1d"],
  ];
  for (const [ms, want] of cases) assert.equal(sampleByInterval(ms), want, `${ms} ms`);
});

Deno.test("interpolateMacros: the plugin's TestInterpolate cases", () => {
  const range = (intervalMs: number) => ({ fromMs: FROM, toMs: TO, intervalMs });
  const f = "cast(1705754096789000 as timestamp)";
  const t = "cast(1707559262123000 as timestamp)";
  const cases: [string, string, number][] = [
    ["select * from tab where tstmp >= $__fromTime ", `select * from tab where tstmp >= ${f} `, 0],
    ["select * from tab where tstmp < $__toTime ", `select * from tab where tstmp < ${t} `, 0],
    [
      "select * from tab where ( tstmp >= $__fromTime and tstmp <= $__toTime )",
      `select * from tab where ( tstmp >= ${f} and tstmp <= ${t} )`,
      0,
    ],
    [
      "select * from tab where $__timeFilter(tstmp)",
      `select * from tab where tstmp >= ${f} AND tstmp <= ${t}`,
      0,
    ],
    [
      "select * from tab where $__timeFilter( tstmp )",
      `select * from tab where tstmp >= ${f} AND tstmp <= ${t}`,
      0,
    ],
    [
      "select * from tab where $__timeFilter( tstmp ) sample by $__sampleByInterval",
      `select * from tab where tstmp >= ${f} AND tstmp <= ${t} sample by 30s`,
      30_000,
    ],
    [
      "select * from tab where $__timeFilter( tstmp ) sample by $__sampleByInterval",
      `select * from tab where tstmp >= ${f} AND tstmp <= ${t} sample by 1T`,
      1,
    ],
  ];
  for (const [input, want, ms] of cases) assert.equal(interpolateMacros(input, range(ms)), want);
});

Deno.test("interpolateMacros: sqlutil's defaults, argument errors, an unclosed bracket", () => {
  const r = { fromMs: FROM, toMs: TO, intervalMs: 90_000 };
  assert.equal(
    interpolateMacros("$__interval $__interval_ms $__timeFrom(t) $__timeTo(t)", r),
    "1m 90000 t >= '2024-01-20T12:34:56Z' t <= '2024-02-10T10:01:02Z'",
  );
  assert.equal(
    interpolateMacros("$__timeGroup(t, day)", r),
    "datepart(day, t),datepart(month, t),datepart(year, t)",
  );
  assert.throws(() => interpolateMacros("$__timeFilter", r), /expected 1 argument, received 0/);
  assert.throws(() => interpolateMacros("$__timeFilter(a, b)", r), /received 2/);
  assert.throws(() => interpolateMacros("$__timeFilter(a", r), /missing close bracket/);
  assert.equal(interpolateMacros("$__timeFilterX $__unknown", r), "$__timeFilterX $__unknown");
});

Deno.test("$__conditionalAll: 1=1 for All, the condition otherwise (QuestDbDatasource.test.ts)", () => {
  const sql =
    "select stuff from table where $__conditionalAll(fieldVal in ($fieldVal), $fieldVal);";
  assert.equal(
    applyConditionalAll(sql, { fieldVal: { all: ["a"] } }),
    "select stuff from table where 1=1;",
  );
  assert.equal(
    applyConditionalAll(sql, { fieldVal: "'val1', 'val2'" }),
    "select stuff from table where fieldVal in ($fieldVal);",
  );
  assert.equal(
    applyConditionalAll(
      "select stuff from table where $__conditionalAll(fieldVal in ($fieldVal), $fieldVal) " +
        "and $__conditionalAll(fieldVal in ($fieldVal2), $fieldVal2);",
      { fieldVal: "'val1', 'val2'", fieldVal2: { all: [] } },
    ),
    "select stuff from table where fieldVal in ($fieldVal) and 1=1;",
  );
  assert.equal(applyConditionalAll("$__conditionalAll(foo, $fieldVal)", { fieldVal: "" }), "1=1");
});

Deno.test("expandQuery: variables as the plugin formats them, then the macros", () => {
  const vars: VariableValues = { host: "h1", name: ["a", "b"], project: { all: ["p"] } };
  const r = { fromMs: 0, toMs: 1, intervalMs: 10_000 };
  assert.equal(
    expandQuery(
      "SELECT * FROM t WHERE $__timeFilter(ts) AND host = '$host' AND name IN (${name}) AND " +
        "$__conditionalAll(p IN ($project), $project) SAMPLE BY $__sampleByInterval -- $__interval_ms",
      vars,
      r,
    ),
    "SELECT * FROM t WHERE ts >= cast(0 as timestamp) AND ts <= cast(1000 as timestamp) AND " +
      "host = 'h1' AND name IN ('a','b') AND 1=1 SAMPLE BY 10s -- 10000",
  );
});

Deno.test("every dashboard query expands fully, for All and for a selection", () => {
  const model = buildDashboard();
  const queries = dashboardQueries(model);
  assert.ok(queries.length >= 18, `${queries.length} queries`);
  const selections: VariableValues[] = [
    { host: "h", project: { all: [] }, service: { all: [] }, name: { all: ["a"] } },
    { host: "h", project: ["p"], service: ["s"], name: ["a", "b"] },
  ];
  for (const vars of selections) {
    for (const q of queries) {
      const sql = expandQuery(q.rawSql, { ...vars, collector_interval: "10s" }, {
        fromMs: FROM,
        toMs: TO,
        intervalMs: 10_000,
      });
      assert.doesNotMatch(sql, /\$/, `${q.where}: ${sql}`);
    }
  }
});

Deno.test("the dashboard: QuestDB plugin everywhere, SAMPLE BY on the plugin's macro only", () => {
  const model = buildDashboard();
  assert.equal(model.uid, "container-statsd");
  const names = (model.templating?.list ?? []).map((v) => v.name);
  assert.deepEqual(names, [
    "datasource",
    "host",
    "project",
    "service",
    "name",
    "collector_interval",
  ]);
  for (const q of dashboardQueries(model)) {
    assert.doesNotMatch(q.rawSql, /SAMPLE BY \$__interval/i, q.where);
    if (/SAMPLE BY/.test(q.rawSql)) {
      assert.match(q.rawSql, /SAMPLE BY \$__sampleByInterval ALIGN TO CALENDAR/, q.where);
      assert.equal(q.format, Format.TimeSeries, `${q.where}: time series rows`);
      assert.match(q.rawSql, /^SELECT (timestamp AS )?time,/, `${q.where}: time column first`);
    }
  }
  const panels = (model.panels ?? []).filter((p) => p.type !== "row");
  assert.ok(panels.length >= 13);
  for (const p of panels) {
    assert.deepEqual(p.datasource, { type: QUESTDB_PLUGIN, uid: "${datasource}" }, p.title);
    if (p.type === "timeseries" && "interval" in p) {
      assert.equal(p.interval, "$collector_interval", `${p.title}: buckets of whole intervals`);
    }
  }
});
