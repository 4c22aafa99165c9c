/**
 * The Grafana dashboard, as code (npm:@grafana/grafana-foundation-sdk, Grafana's typed
 * builders). `deno task dashboard` writes grafana/dashboards/container-statsd.json; a unit test
 * fails when that file differs from what this code generates, and an integration test runs
 * every query in it on a real QuestDB holding rows the daemon wrote.
 *
 * Data source: the QuestDB plugin `questdb-questdb-datasource` (PostgreSQL wire, port 8812).
 * Its macros (questdb/grafana-questdb-datasource pkg/macros/macros.go, expanded as
 * grafana/macros.ts shows): `$__timeFilter(col)`, `$__sampleByInterval` (SAMPLE BY units: `20s`,
 * `1h`, `1T`; Grafana's `$__interval` would say `1ms` where QuestDB wants `1T`),
 * `$__fromTime`, `$__toTime`; and sqlutil's `$__interval_ms`, the length of one SAMPLE BY
 * bucket in ms, which turns a bucket's summed `*_delta` bytes into bytes per second.
 *
 * Variables: host; compose project and service (the `com.docker.compose.*` label symbols) and
 * container name, multi-value with All, which filters nothing (`$__conditionalAll`, so
 * containers without compose labels stay in). Lifecycle events (die, OOM, kill, restart) of
 * the `containerEvents` table are annotations on every time series and a table.
 *
 * Table and column names come from the declarations in src/schema/ and src/catalog/labels.ts
 * (default names), so a renamed column fails the generation instead of a panel.
 *
 * @module
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableHide,
  VariableRefresh,
  VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as TablePanel } from "@grafana/grafana-foundation-sdk/table";
import { PanelBuilder as TimeSeriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { LIFECYCLE_ACTIONS } from "../src/catalog/events.ts";
import { DEFAULT_LABELS } from "../src/catalog/labels.ts";
import { CONTAINER_TABLE } from "../src/schema/containers.ts";
import { DISK_TABLE } from "../src/schema/disks.ts";
import { EVENT_TABLE } from "../src/schema/events.ts";
import { type TableDecl, TIMESTAMP_COLUMN } from "../src/schema/table.ts";

/** The plugin's id (its src/plugin.json). */
export const QUESTDB_PLUGIN = "questdb-questdb-datasource";

/** Where `deno task dashboard` writes the dashboard. */
export const DASHBOARD_PATH = new URL("./dashboards/container-statsd.json", import.meta.url);

/** The plugin's query formats (src/types.ts `Format`). */
export enum Format {
  /** Long rows (time, label columns, values) become one series per label set. */
  TimeSeries = 0,
  /** Rows as they come. */
  Table = 1,
}

/** A raw-SQL query of the QuestDB plugin (src/types.ts `QuestDBSQLQuery`). */
export interface QuestDbQuery extends cog.Dataquery {
  /** Query letter. */
  refId: string;
  /** Always `sql` here (the plugin's other type is its query builder). */
  queryType: "sql";
  /** The SQL, with template variables and macros. */
  rawSql: string;
  /** What the rows become. */
  format: Format;
  /** The format shown as selected in the editor. */
  selectedFormat: Format;
  /** The data source (the dashboard's `datasource` variable). */
  datasource: common.DataSourceRef;
}

/** Builds a {@link QuestDbQuery} (the SDK ships builders for core data sources only). */
export class QuestDbQueryBuilder implements cog.Builder<cog.Dataquery> {
  readonly #q: QuestDbQuery;

  /**
   * @param refId query letter.
   * @param rawSql the SQL.
   * @param format time series or table.
   */
  constructor(refId: string, rawSql: string, format: Format) {
    this.#q = {
      refId,
      queryType: "sql",
      rawSql,
      format,
      selectedFormat: format,
      datasource: DATASOURCE,
      _implementsDataqueryVariant() {},
    };
  }

  /** @returns the query. */
  build(): QuestDbQuery {
    return this.#q;
  }
}

/** The data source every panel uses: the one the `datasource` variable selects. */
const DATASOURCE: common.DataSourceRef = { type: QUESTDB_PLUGIN, uid: "${datasource}" };

/**
 * A column name checked against a table's declaration.
 * @throws {Error} when the table has no such column (the schema changed; fix the panel).
 */
function columnOf<R>(decl: TableDecl<R>): (name: string) => string {
  const names = new Set([TIMESTAMP_COLUMN, ...decl.columns.map((c) => c.name)]);
  return (name) => {
    if (!names.has(name)) throw new Error(`${decl.defaultName} has no column ${name}`);
    return name;
  };
}

/**
 * The symbol column a container label gets by default (src/catalog/labels.ts).
 * @throws {Error} when the label is not one of the defaults.
 */
function labelColumn(key: string): string {
  const label = DEFAULT_LABELS.find((l) => l.key === key);
  if (!label) throw new Error(`label ${key} is not kept by default`);
  return label.column;
}

/**
 * Lifecycle actions as a SQL list.
 * @throws {Error} when the catalog does not record one of them.
 */
function actions(names: readonly string[]): string {
  for (const n of names) if (!LIFECYCLE_ACTIONS.has(n)) throw new Error(`no ${n} events`);
  return names.map((n) => `'${n}'`).join(", ");
}

const c = columnOf(CONTAINER_TABLE);
const d = columnOf(DISK_TABLE);
const e = columnOf(EVENT_TABLE);
const CT = CONTAINER_TABLE.defaultName;
const DT = DISK_TABLE.defaultName;
const ET = EVENT_TABLE.defaultName;
const TS = TIMESTAMP_COLUMN;
const PROJECT = labelColumn("com.docker.compose.project");
const SERVICE = labelColumn("com.docker.compose.service");
/** The events the lifecycle panels show: why a container stopped or came back. */
const LIFECYCLE = actions(["die", "oom", "kill", "restart"]);

/** `column IN ($variable)`, or `1=1` while the variable has All selected. */
function selected(column: string, variable: string): string {
  return `$__conditionalAll(${column} IN ($${variable}), $${variable})`;
}

/** Rows of the selected host in the dashboard's range. */
const HOST_FILTER = `$__timeFilter(${TS}) AND ${c("host")} = '$host'`;
/** Containers of the selected compose projects and services. */
const COMPOSE_FILTER = `${selected(PROJECT, "project")} AND ${selected(SERVICE, "service")}`;
/** Rows of the selected host, compose projects, services and containers. */
const CONTAINER_FILTER = `${HOST_FILTER}\n  AND ${COMPOSE_FILTER}\n  AND ${
  selected(c("name"), "name")
}`;
/** Disk rows of the selected host in the dashboard's range. */
const DISK_FILTER = `$__timeFilter(${TS}) AND ${d("host")} = '$host'`;
/** One bucket per Grafana interval, aligned to the calendar (UTC) as the daemon's intervals. */
const SAMPLE_BY = "SAMPLE BY $__sampleByInterval ALIGN TO CALENDAR";
/** Seconds in one SAMPLE BY bucket. */
const BUCKET_S = "($__interval_ms / 1000.0)";

/** A mean over rows weighted by the samples behind each row (`avg` mode rows are means). */
function weighted(column: string): string {
  return `sum(${column} * ${c("samples")}) / sum(${c("samples")})`;
}

/** Bytes per second over a bucket from an interval-delta column. */
function perSecond(column: string): string {
  return `sum(${column}) / ${BUCKET_S}`;
}

/** A time series panel of one query in long format (time, label, values). */
function timeSeries(
  title: string,
  description: string,
  sql: string,
  unit: string,
  width = 12,
): TimeSeriesPanel {
  return new TimeSeriesPanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .withTarget(new QuestDbQueryBuilder("A", sql, Format.TimeSeries))
    .interval("$collector_interval")
    .unit(unit)
    .min(0)
    .span(width)
    .height(8)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(["max", "mean"])
        .sortBy("Max")
        .sortDesc(true),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
}

/** A table panel of one query. */
function table(title: string, description: string, sql: string): TablePanel {
  return new TablePanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .withTarget(new QuestDbQueryBuilder("A", sql, Format.Table))
    .span(12)
    .height(8);
}

/**
 * A time series of containers: `select` per container name and SAMPLE BY bucket, of the rows
 * that also meet `where` if given.
 */
function perContainer(select: string, where?: string): string {
  return `SELECT ${TS} AS time, ${c("name")}, ${select}
FROM ${CT}
WHERE ${CONTAINER_FILTER}${where === undefined ? "" : `\n  AND ${where}`}
${SAMPLE_BY}
ORDER BY time`;
}

/** A time series of host disks: `select` per mount point and SAMPLE BY bucket. */
function perDisk(select: string): string {
  return `SELECT ${TS} AS time, ${d("mount_point")}, ${select}
FROM ${DT}
WHERE ${DISK_FILTER}
${SAMPLE_BY}
ORDER BY time`;
}

/** The 10 containers with the highest `orderBy` over the range. */
function top10(select: string, orderBy: string): string {
  return `SELECT ${c("name")}, ${select}
FROM ${CT}
WHERE ${CONTAINER_FILTER}
GROUP BY ${c("name")}
ORDER BY ${orderBy} DESC
LIMIT 10`;
}

/** Panel SQL, one constant per panel, so the tests and the docs can name them. */
export const SQL = {
  cpuMax: perContainer(`max(${c("cpu")}) AS cpu`),
  cpuAvg: perContainer(`${weighted(c("cpu"))} AS cpu`),
  memory: perContainer(
    `max(${c("memory_use")}) AS used, last(${c("total_memory")}) AS memory_limit`,
  ),
  network: perContainer(
    `${perSecond(c("net_io_in_delta"))} AS received, ` +
      `${perSecond(c("net_io_out_delta"))} AS sent`,
  ),
  blockIo: perContainer(
    `${perSecond(c("block_io_in_delta"))} AS read, ` +
      `${perSecond(c("block_io_out_delta"))} AS written`,
  ),
  pids: perContainer(`max(${c("pids")}) AS pids`),
  topCpu: top10(`${weighted(c("cpu"))} AS avg_cpu, max(${c("cpu")}) AS max_cpu`, "avg_cpu"),
  topMemory: top10(
    `max(${c("memory_use")}) AS peak_memory, ${weighted(c("memory_use"))} AS avg_memory, ` +
      `last(${c("total_memory")}) AS memory_limit`,
    "peak_memory",
  ),
  diskUse: perDisk(`max(${d("percentage_use")}) AS used`),
  diskIo: perDisk(
    `${perSecond(d("read_bytes_delta"))} AS read, ${perSecond(d("write_bytes_delta"))} AS written`,
  ),
  // The cgroup figures (issue 18; `--source cgroup`): NULL in the docker source's rows.
  cpuLimit: perContainer(
    `max(${c("cpu")}) / 100 AS used, last(${c("cpu_limit")}) AS cpu_limit`,
    `${c("cpu_limit")} IS NOT NULL`,
  ),
  cpuThrottled: perContainer(
    `max(${c("cpu_throttled_pct")}) AS throttled_periods, ` +
      `sum(${c("cpu_throttled_us_delta")}) / 10000.0 / ${BUCKET_S} AS throttled_time`,
    `${c("cpu_limit")} IS NOT NULL`,
  ),
  oomKills: perContainer(
    `sum(${c("oom_kills_delta")}) AS oom_kills, ` +
      `sum(${c("memory_max_events_delta")}) AS limit_hits`,
    `${c("memory_max_events_delta")} IS NOT NULL`,
  ),
  memoryKinds: perContainer(
    `max(${c("memory_anon")}) AS anon, max(${c("memory_file")}) AS file, ` +
      `last(${c("total_memory")}) AS memory_limit`,
    `${c("memory_anon")} IS NOT NULL`,
  ),
  pressure: perContainer(
    `max(${c("cpu_pressure_pct")}) AS cpu_some, max(${c("memory_pressure_pct")}) AS memory_some, ` +
      `max(${c("memory_pressure_full_pct")}) AS memory_full, ` +
      `max(${c("io_pressure_pct")}) AS io_some, max(${c("io_pressure_full_pct")}) AS io_full`,
    `${c("memory_anon")} IS NOT NULL`,
  ),
  oomKillAnnotations: `SELECT ${TS} AS time,
  concat(${c("name")}, ' ', ${c("oom_kills_delta")}, ' process(es) OOM-killed') AS text,
  'oom_kill' AS tags
FROM ${CT}
WHERE ${CONTAINER_FILTER}
  AND ${c("oom_kills_delta")} > 0`,
  samplesPerRow: perContainer(`min(${c("samples")}) AS samples`),
  containerRowsPerInterval: rowsPerInterval(CT, c("host"), "container_rows"),
  diskRowsPerInterval: rowsPerInterval(DT, d("host"), "disk_rows"),
  lifecycle: `SELECT ${TS} AS time, ${e("name")}, ${e("event")}, ${e("exit_code")}, ${
    e("signal")
  }, ${e("restart_count")}, ${e("image")}
FROM ${ET}
WHERE $__timeFilter(${TS}) AND ${e("host")} = '$host' AND ${e("event")} IN (${LIFECYCLE})
  AND ${COMPOSE_FILTER}
  AND ${selected(e("name"), "name")}
ORDER BY time DESC
LIMIT 1000`,
  lifecycleAnnotations: `SELECT ${TS} AS time,
  CASE
    WHEN ${e("exit_code")} IS NOT NULL
      THEN concat(${e("name")}, ' ', ${e("event")}, ' exit ', ${e("exit_code")})
    WHEN ${e("signal")} IS NOT NULL
      THEN concat(${e("name")}, ' ', ${e("event")}, ' signal ', ${e("signal")})
    ELSE concat(${e("name")}, ' ', ${e("event")})
  END AS text,
  ${e("event")} AS tags
FROM ${ET}
WHERE $__timeFilter(${TS}) AND ${e("host")} = '$host' AND ${e("event")} IN (${LIFECYCLE})
  AND ${COMPOSE_FILTER}
  AND ${selected(e("name"), "name")}`,
} as const;

/** The rows QuestDB holds for each interval of the host, the fewest per bucket. */
function rowsPerInterval(tableName: string, host: string, alias: string): string {
  return `SELECT time, min(n) AS ${alias}
FROM (
  SELECT ${TS} AS time, count() AS n
  FROM ${tableName}
  WHERE $__timeFilter(${TS}) AND ${host} = '$host'
  ORDER BY time
) TIMESTAMP(time)
${SAMPLE_BY}`;
}

/** Variable queries. */
export const VARIABLE_SQL = {
  host: `SELECT DISTINCT ${c("host")} FROM ${CT} WHERE $__timeFilter(${TS}) ORDER BY 1`,
  project: `SELECT DISTINCT ${PROJECT} FROM ${CT}
WHERE ${HOST_FILTER} AND ${PROJECT} IS NOT NULL
ORDER BY 1`,
  service: `SELECT DISTINCT ${SERVICE} FROM ${CT}
WHERE ${HOST_FILTER} AND ${SERVICE} IS NOT NULL
  AND ${selected(PROJECT, "project")}
ORDER BY 1`,
  name: `SELECT DISTINCT ${c("name")} FROM ${CT}
WHERE ${HOST_FILTER}
  AND ${COMPOSE_FILTER}
ORDER BY 1`,
  // The daemon's --interval, from the two newest interval ends of the host: the panels' min
  // interval, so a bucket never holds less than one interval and per-second rates are right.
  collector_interval: `SELECT
  concat(greatest(coalesce(datediff('s', min(t), max(t)), 1), 1), 's') AS collector_interval
FROM (
  SELECT DISTINCT ${TS} AS t FROM ${CT}
  WHERE $__timeFilter(${TS}) AND ${c("host")} = '$host'
  ORDER BY t DESC
  LIMIT 2
)`,
} as const;

/** A query variable on the QuestDB data source, refreshed when the time range changes. */
function queryVariable(name: keyof typeof VARIABLE_SQL, label: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(VARIABLE_SQL[name])
    .definition(VARIABLE_SQL[name])
    .refresh(VariableRefresh.OnTimeRangeChanged);
}

/** A multi-value query variable with All (filters nothing) selected at first. */
function multiVariable(name: "project" | "service" | "name", label: string): QueryVariableBuilder {
  return queryVariable(name, label)
    .multi(true)
    .includeAll(true)
    .current({ text: ["All"], value: ["$__all"] })
    .sort(VariableSort.AlphabeticalAsc);
}

/**
 * Builds the dashboard.
 * @returns the dashboard model, as Grafana stores it (schema version of the SDK).
 */
export function buildDashboard(): dashboard.Dashboard {
  return new DashboardBuilder("container-statsd")
    .uid("container-statsd")
    .description(
      "Per-container CPU, memory, I/O, PIDs, limits and pressure from container-statsd rows " +
        "in QuestDB " +
        "(generated by grafana/dashboard.ts; do not edit the JSON by hand)",
    )
    .tags(["container-statsd", "docker", "questdb"])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh("30s")
    .time({ from: "now-1h", to: "now" })
    .timezone("browser")
    .withVariable(
      new DatasourceVariableBuilder("datasource").label("Data source").type(QUESTDB_PLUGIN),
    )
    .withVariable(queryVariable("host", "Host").sort(VariableSort.AlphabeticalAsc))
    .withVariable(multiVariable("project", "Compose project"))
    .withVariable(multiVariable("service", "Compose service"))
    .withVariable(multiVariable("name", "Container"))
    .withVariable(
      queryVariable("collector_interval", "Collector interval").hide(VariableHide.HideVariable),
    )
    .annotation(
      new AnnotationQueryBuilder()
        .name("Container lifecycle (die, OOM, kill, restart)")
        .datasource(DATASOURCE)
        .enable(true)
        .iconColor("red")
        .target(new QuestDbQueryBuilder("Anno", SQL.lifecycleAnnotations, Format.Table)),
    )
    .annotation(
      new AnnotationQueryBuilder()
        .name("OOM kills inside running containers (--source cgroup)")
        .datasource(DATASOURCE)
        .enable(true)
        .iconColor("orange")
        .target(new QuestDbQueryBuilder("OomKills", SQL.oomKillAnnotations, Format.Table)),
    )
    .withRow(new RowBuilder("CPU"))
    .withPanel(timeSeries(
      "CPU % per container (max: spikes kept)",
      "The highest interval value in each bucket. With `--mode max` each row is already the " +
        "interval's highest sample, so short spikes stay visible at any zoom. 100 % is one core.",
      SQL.cpuMax,
      "percent",
    ))
    .withPanel(timeSeries(
      "CPU % per container (average)",
      "The mean over the bucket, weighted by the samples behind each row. 100 % is one core.",
      SQL.cpuAvg,
      "percent",
    ))
    .withRow(new RowBuilder("Memory and processes"))
    .withPanel(
      timeSeries(
        "Memory used against the limit",
        "`used`: memory in use without the page cache (as `docker stats` shows it), highest in " +
          "the bucket. `memory_limit`: the container's limit, or the host's memory when it has " +
          "none.",
        SQL.memory,
        "bytes",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withPanel(timeSeries(
      "PIDs",
      "Processes and threads in the container, highest in the bucket.",
      SQL.pids,
      "none",
    ))
    .withRow(new RowBuilder("Limits and pressure (--source cgroup)"))
    .withPanel(
      timeSeries(
        "CPU used against the limit (cores)",
        "`used`: the highest CPU in the bucket, in cores. `cpu_limit`: the cores the CFS quota " +
          "allows (`cpu.max` or `cpu.cfs_quota_us` / `cpu.cfs_period_us`). Containers with a " +
          "CPU limit only.",
        SQL.cpuLimit,
        "none",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withPanel(
      timeSeries(
        "CPU throttling",
        "`throttled_periods`: the highest share of CFS periods in which the container was " +
          "held back by its quota (`cpu_throttled_pct`). `throttled_time`: time throttled " +
          "per second of the bucket, in percent (`cpu_throttled_us_delta`). Near 100 % the " +
          "container wants more CPU than its limit allows.",
        SQL.cpuThrottled,
        "percent",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withPanel(
      timeSeries(
        "Memory: anonymous and file against the limit",
        "`anon`: anonymous memory (heap, stacks), `file`: page cache and tmpfs (`memory.stat` " +
          "anon and file, v1 total_rss and total_cache), highest in the bucket. " +
          "`memory_limit`: the limit, or the host's memory when there is none.",
        SQL.memoryKinds,
        "bytes",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withPanel(
      timeSeries(
        "OOM kills and limit hits",
        "`oom_kills`: processes the kernel OOM-killed in the container while it kept running " +
          "(also annotations); `limit_hits`: times memory usage hit the limit. Sums over the " +
          "bucket.",
        SQL.oomKills,
        "none",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withPanel(
      timeSeries(
        "Pressure: share of time stalled (cgroup v2)",
        "Share of the bucket in which some task (`*_some`) or all tasks (`*_full`) of the " +
          "container waited for CPU, memory or I/O (PSI, the `*.pressure` files), highest in " +
          "the bucket. Empty on cgroup v1, which has no per-cgroup pressure.",
        SQL.pressure,
        "percent",
        24,
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withRow(new RowBuilder("I/O"))
    .withPanel(
      timeSeries(
        "Network I/O (bytes/s)",
        "Bytes received and sent per second: the `net_io_*_delta` columns (bytes moved during " +
          "each interval) summed over the bucket and divided by its length.",
        SQL.network,
        "Bps",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withPanel(
      timeSeries(
        "Block I/O (bytes/s)",
        "Bytes read and written per second: the `block_io_*_delta` columns summed over the " +
          "bucket and divided by its length.",
        SQL.blockIo,
        "Bps",
      ).displayName("${__field.labels.name} ${__field.name}"),
    )
    .withRow(new RowBuilder("Top 10 over the range"))
    .withPanel(
      table(
        "Top 10 containers by CPU",
        "Mean CPU % over the range (weighted by samples) and the highest interval value.",
        SQL.topCpu,
      ).unit("percent"),
    )
    .withPanel(
      table(
        "Top 10 containers by memory",
        "Highest and mean memory in use over the range, and the last limit.",
        SQL.topMemory,
      ).unit("bytes"),
    )
    .withRow(new RowBuilder("Host disks (--disks)"))
    .withPanel(
      timeSeries(
        "Disk use %",
        "Used / (used + available) x 100 per mount point, as `df` computes Use%.",
        SQL.diskUse,
        "percent",
      ).max(100),
    )
    .withPanel(
      timeSeries(
        "Disk I/O (bytes/s)",
        "Bytes read and written per second per disk, from `read_bytes_delta` and " +
          "`write_bytes_delta` (/proc/diskstats).",
        SQL.diskIo,
        "Bps",
      ).displayName("${__field.labels.mount_point} ${__field.name}"),
    )
    .withRow(new RowBuilder("Collector health"))
    .withPanel(timeSeries(
      "Samples per row (fewest in the bucket)",
      "How many `docker stats` samples stand behind each row. About one per second of the " +
        "interval is normal; a dip means the stream stalled or the container was short-lived.",
      SQL.samplesPerRow,
      "none",
    ))
    .withPanel(
      new TimeSeriesPanel()
        .title("Rows delivered per interval (fewest in the bucket)")
        .description(
          "Rows QuestDB holds for each interval of the host: one per container, one per " +
            "disk. A dip that the container count does not explain means rows were lost.",
        )
        .datasource(DATASOURCE)
        .withTarget(
          new QuestDbQueryBuilder("A", SQL.containerRowsPerInterval, Format.TimeSeries),
        )
        .withTarget(new QuestDbQueryBuilder("B", SQL.diskRowsPerInterval, Format.TimeSeries))
        .interval("$collector_interval")
        .unit("none")
        .min(0)
        .span(12)
        .height(8)
        .showPoints(common.VisibilityMode.Never),
    )
    .withRow(new RowBuilder("Container lifecycle"))
    .withPanel(
      table(
        "Lifecycle events (die, OOM, kill, restart)",
        "Engine events of the `containerEvents` table, newest first: exit code on `die` " +
          "(137 = killed, e.g. by the OOM killer), signal on `kill`, the engine's restart count.",
        SQL.lifecycle,
      ).span(24),
    )
    .build();
}

/** One query of the dashboard, wherever it sits. */
export interface DashboardQuery {
  /** Where: `panel "<title>" <refId>`, `annotation <name>` or `variable <name>`. */
  where: string;
  /** The stored SQL (template variables and macros unexpanded). */
  rawSql: string;
  /** The plugin's format (variables: table). */
  format: Format;
}

/**
 * Every QuestDB query of a dashboard model: panel targets (rows included), annotations and
 * query variables.
 * @param model a dashboard as {@link buildDashboard} or the committed JSON gives it.
 */
export function dashboardQueries(model: dashboard.Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const panels = (model.panels ?? []).flatMap((p) =>
    "panels" in p ? [p, ...(p.panels ?? [])] : [p]
  );
  for (const p of panels) {
    if (!("targets" in p)) continue;
    for (const t of (p.targets ?? []) as unknown as QuestDbQuery[]) {
      out.push({ where: `panel "${p.title}" ${t.refId}`, rawSql: t.rawSql, format: t.format });
    }
  }
  for (const a of model.annotations?.list ?? []) {
    const t = a.target as QuestDbQuery | undefined;
    if (t?.rawSql) out.push({ where: `annotation ${a.name}`, rawSql: t.rawSql, format: t.format });
  }
  for (const v of model.templating?.list ?? []) {
    if (v.type === "query" && typeof v.query === "string") {
      out.push({ where: `variable ${v.name}`, rawSql: v.query, format: Format.Table });
    }
  }
  return out;
}

/** The dashboard as the committed file holds it: 2-space JSON and a final newline. */
export function renderDashboard(): string {
  return JSON.stringify(buildDashboard(), null, 2) + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(DASHBOARD_PATH, renderDashboard());
  console.log(`wrote ${DASHBOARD_PATH.pathname}`);
}
