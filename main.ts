/**
 * container-statsd: wires the data path together.
 *
 * source (src/source: `docker stats` child or cgroup reader) -> samples -> reducer -> gate
 * (src/catalog: the container catalog from the Engine API socket; filters, names, labels when an
 * interval closes; lifecycle rows) -> table
 * encoders (src/schema, src/publish.ts; host disks from src/disks as a second row source) ->
 * delivery (src/delivery, one per sink) -> sink (src/ilp: QuestDB, InfluxDB, VictoriaMetrics
 * over ILP); flags, logging, signals, sd_notify and status (src/config, src/service) around it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Config, parseCommandLine, startupFields } from "./src/config/flags.ts";
import { openDisks } from "./src/disks/collector.ts";
import { stopSinks } from "./src/delivery/sinks.ts";
import { Publisher } from "./src/publish.ts";
import { IntervalClock } from "./src/reducer/interval_clock.ts";
import { DISK_TABLE } from "./src/schema/disks.ts";
import { findOnPath } from "./src/engine/cli.ts";
import { engineSocket } from "./src/engine/api.ts";
import { setupLogging, underJournald } from "./src/service/logging.ts";
import { shutdown, waitForStopSignal } from "./src/service/lifecycle.ts";
import { createServiceNotifier, StatusReporter } from "./src/service/systemd.ts";
import { DockerStatsSource } from "./src/source/docker_stats/source.ts";
import type { CatalogView } from "./src/catalog/container.ts";
import { HostRoot } from "./src/host/host_root.ts";
import { openCgroupSource, suggestCgroupSource } from "./src/source/cgroup/open.ts";
import { cgroupsResolver } from "./src/source/cgroup/proc_cgroup.ts";
import type { Source } from "./src/source/source.ts";
import { openExporter } from "./src/exporter/exporter.ts";

import { DEFAULT_SOCKET, EngineApi } from "./src/engine/api.ts";
import { apiCatalogEngine, EngineEventsFeed } from "./src/catalog/api_engine.ts";
import { ContainerCatalog } from "./src/catalog/catalog.ts";
import type { LifecycleRow } from "./src/catalog/events.ts";
import { ContainerFilter } from "./src/catalog/filters.ts";
import { RowGate } from "./src/catalog/gate.ts";
import { labelSymbols } from "./src/catalog/labels.ts";
import type { ContainerRow } from "./src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "./src/schema/containers.ts";
import { EVENT_TABLE } from "./src/schema/events.ts";
import { type NamedTable, withSymbols } from "./src/schema/table.ts";
import { InfluxTransport } from "./src/ilp/influx.ts";
import { createQuestdbTransport } from "./src/ilp/questdb.ts";
import { ensureTables, type Retention, type TableSpec } from "./src/schema/ddl.ts";
import { Delivery } from "./src/delivery/delivery.ts";
import { DryRunSink } from "./src/delivery/dry_run.ts";
import { StatsdSink } from "./src/sink/statsd.ts";
import type { RowSink } from "./src/delivery/sink.ts";
import { Spool } from "./src/delivery/spool.ts";
const log = getLogger(["container-statsd"]);
const catalogLog = getLogger(["container-statsd", "catalog"]);
const deliveryLog = getLogger(["container-statsd", "delivery"]);

async function main(): Promise<number> {
  const parsed = parseCommandLine(Deno.args);
  if (typeof parsed === "number") return parsed;
  const { config, env, level } = parsed;
  const host = config.listenHostLabel ? config.node : null;
  const exporter = config.listen && openExporter(config.listen, { labels: config.labels, host });
  if (typeof exporter === "number") return exporter;
  await setupLogging(level, { journald: underJournald() });
  log.info("Starting container-statsd: {settings}", { settings: startupFields(config) });
  if (config.source === "docker" && findOnPath("docker") === null) {
    log.error("docker not found on PATH ({path}); install the Docker CLI or fix PATH", {
      path: env.PATH ?? "",
    });
    return 1;
  }
  let socket: string;
  try {
    socket = engineSocket(env.DOCKER_HOST);
  } catch (e) {
    log.error((e as Error).message);
    return 2;
  }
  const notifier = createServiceNotifier(config.watchdog, env, Deno.pid);
  const status = new StatusReporter(notifier);
  const catalog = createCatalog(config, { socket, ...catalogOptions(config) });
  const { containers, events } = catalog;
  const disks = config.disks.length > 0 ? { name: config.diskTable, decl: DISK_TABLE } : null;
  const tables = [containers, events, disks].filter((t) => t !== null);
  const sinks = createSinks(config, tables, status.update);
  const publisher = new Publisher({
    host: config.node,
    containers,
    events,
    ...(disks ? { disks: { table: disks, collect: openDisks(config) } } : {}),
    sinks,
    onPublished: status.update,
  });
  const clock = new IntervalClock({
    intervalMs: config.intervalMs,
    mode: config.mode,
    isLive: catalog.gate.liveness,
    onInterval: (closed) => void publisher.publish(catalog.gate.resolve(closed)),
  });
  const source = await createSource(config, notifier.watchdogUsec, catalog.catalog);
  if (typeof source === "string") return startupError(source);
  status.track(() => clock.containers, sinks, () => publisher.rowErrors);
  exporter?.attach({ source, catalog: catalog.catalog, gate: catalog.gate, reducer: clock, sinks });
  for (const sink of sinks) await sink.loadSpool();
  for (const sink of sinks) sink.start();
  catalog.start((rows) => publisher.publishEvents(rows));
  source.start(exporter?.tee(clock.add) ?? clock.add);
  clock.start();
  notifier.start((nowMs) => source.health.healthy(nowMs));
  void source.health.ready.then(() => {
    log.info("The {kind} source is producing; ready", { kind: source.kind });
    void notifier.ready();
    status.update();
  });

  const signal = await waitForStopSignal();
  log.info("Received {signal}; publishing the partial interval and stopping", { signal });
  await shutdown(async (deadlineMs) => {
    await notifier.stopping();
    await source.stop();
    await exporter?.close();
    await catalog.stop();
    for (const closed of clock.stop()) await publisher.publish(catalog.gate.resolve(closed));
    await stopSinks(sinks, deadlineMs);
  });
  notifier.close();
  return 0;
}

/**
 * The source `--source` names: the `docker stats` stream, or the cgroup files under
 * `--host-root`; for a cgroup source that cannot read them, the one-line error instead.
 */
function createSource(
  config: Config,
  watchdogUsec: number | null,
  catalog: CatalogView,
): Promise<Source | string> {
  if (config.source === "docker") {
    // A repeat window under half the interval keeps a row for an idle container each interval.
    const repeatWindowMs = Math.min(1500, config.intervalMs / 2);
    return suggestCgroupSource(config.hostRoot).then(() =>
      new DockerStatsSource({ watchdogUsec, repeatWindowMs })
    );
  }
  const { hostRoot, samplePeriodMs: periodMs } = config;
  return openCgroupSource({ hostRoot, catalog, periodMs, watchdogUsec });
}

/** With `--source cgroup` the catalog reads each container's cgroups from /proc/<pid>/cgroup. */
function catalogOptions(config: Config): CreateCatalogOptions {
  if (config.source !== "cgroup") return {};
  return { cgroupsOf: cgroupsResolver(new HostRoot(config.hostRoot)) };
}

/** Logs a startup error (one line) and gives exit status 1. */
function startupError(message: string): number {
  log.error(message);
  return 1;
}

/** The flags the catalog reads. */
type CatalogConfig = Pick<
  Config,
  | "table"
  | "intervalMs"
  | "events"
  | "eventsTable"
  | "labels"
  | "include"
  | "exclude"
  | "includeLabels"
  | "excludeLabels"
>;

/** Options of {@link createCatalog}. */
interface CreateCatalogOptions {
  /** The engine's API socket (`engineSocket(DOCKER_HOST)`). Default /var/run/docker.sock. */
  socket?: string;
  /** How often the catalog is reconciled with a listing, ms. Default 120 000. */
  reconcileMs?: number;
  /** Reads `/proc/<pid>/cgroup` (the cgroup source gives it); see `CatalogOptions`. */
  cgroupsOf?: (pid: number) => Promise<Record<string, string>>;
  /** How long lifecycle rows gather before they are published, ms. Default 250. */
  eventBatchMs?: number;
}

/** The catalog and what the rest of the daemon takes from it. */
interface CatalogParts {
  /** The catalog (a `CatalogView` for sources). */
  readonly catalog: ContainerCatalog;
  /** The container table with its label symbols, named by `--table`. */
  readonly containers: NamedTable<ContainerRow>;
  /** The lifecycle table with its label symbols, or null with `--events disabled`. */
  readonly events: NamedTable<LifecycleRow> | null;
  /** The engine events feed (`feed.starts`: connections made). */
  readonly feed: EngineEventsFeed;
  /** The catalog's verdict on each closed interval's rows (filters, names, liveness). */
  readonly gate: RowGate;
  /**
   * Starts following the engine.
   * @param publishEvents receives lifecycle rows, gathered for `eventBatchMs`.
   */
  start(publishEvents: (rows: LifecycleRow[]) => Promise<void> | void): void;
  /**
   * Releases held samples, stops the events stream, applies what it had read, and hands the
   * last lifecycle rows on. Call after the sources stopped, before the partial interval.
   */
  stop(): Promise<void>;
}

/**
 * Builds the catalog from the flags: the Engine API client and events feed, the filters, the
 * row gate, and the container and lifecycle tables with the label symbols.
 * @param config the flags it reads.
 * @param options socket, cgroup reader, batching.
 * @throws {RangeError} for a glob picomatch cannot compile (the flags checked them already).
 */
export function createCatalog(
  config: CatalogConfig,
  options: CreateCatalogOptions = {},
): CatalogParts {
  const api = new EngineApi({ socket: options.socket ?? DEFAULT_SOCKET });
  const batchMs = options.eventBatchMs ?? 250;
  const filter = new ContainerFilter(config);
  let pending: LifecycleRow[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let publish: ((rows: LifecycleRow[]) => Promise<void> | void) | null = null;
  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    const rows = pending;
    pending = [];
    if (rows.length > 0) await publish?.(rows);
  };
  const catalog = new ContainerCatalog({
    engine: apiCatalogEngine(api),
    filter,
    retentionMs: 2 * config.intervalMs + 10_000,
    ...(options.cgroupsOf ? { cgroupsOf: options.cgroupsOf } : {}),
    ...(config.events === "enabled"
      ? {
        onEvent: (row: LifecycleRow) => {
          pending.push(row);
          timer ??= setTimeout(() => void flush(), batchMs);
        },
      }
      : {}),
  });
  const feed = new EngineEventsFeed({
    api,
    catalog,
    ...(options.reconcileMs === undefined ? {} : { reconcileMs: options.reconcileMs }),
  });
  const gate = new RowGate(catalog);
  const labelsOf = (r: ContainerRow) => catalog.get(r.id)?.labels;
  return {
    catalog,
    feed,
    containers: {
      name: config.table,
      decl: withSymbols(CONTAINER_TABLE, labelSymbols(config.labels, labelsOf)),
    },
    events: config.events === "enabled"
      ? {
        name: config.eventsTable,
        decl: withSymbols(EVENT_TABLE, labelSymbols(config.labels, (r) => r.labels)),
      }
      : null,
    gate,
    start(publishEvents) {
      publish = publishEvents;
      feed.start();
    },
    async stop() {
      await feed.stop();
      catalog.close();
      api.close(); // an inspect in flight ends now, not at its timeout
      await catalog.idle();
      await flush();
      catalogLog.info(
        "Stopped the catalog: {known} containers known ({passing} passing the filters), " +
          "{events} event lines, {rows} lifecycle rows, {listings} listings, {inspects} " +
          "inspects ({inspectErrors} failed); rows: {filtered} filtered out, {unlabelled} " +
          "without labels",
        { ...catalog.counters, ...gate.counters, known: catalog.size, passing: catalog.passing },
      );
    },
  };
}

/**
 * Builds the QuestDB sink: tables are created with DEDUP over SQL before the first send when
 * the transport can run SQL (HTTP); otherwise ILP creates them on first write, without DEDUP.
 * Then one sink per `--influxdb` URL (src/ilp/influx.ts): no DDL, its own spool file, quick
 * retries off (their servers send `Retry-After`), and no string fields for VictoriaMetrics.
 * With `--dry-run` the only sink prints rows to stdout (src/delivery/dry_run.ts): no QuestDB,
 * no spool. Each `--statsd` URL adds a StatsD sink (src/sink/statsd.ts): no queue, no spool.
 * @param config the daemon's configuration.
 * @param tables the tables it writes.
 * @param onAttempt called after every send attempt (STATUS).
 */
export function createSinks(
  config: Config,
  tables: readonly TableSpec[],
  onAttempt: () => void,
): RowSink[] {
  if (config.dryRun) return [new DryRunSink({ format: config.dryRun, tables, onAttempt })];
  const statsd = config.statsd.map((target) => new StatsdSink({ target, tables, onAttempt }));
  const sinks: RowSink[] = config.influxdb.map((target) =>
    new Delivery({
      name: target.name,
      encoding: { stringFields: target.kind !== "victoriametrics" },
      transport: new InfluxTransport(target, config.influxCredentials),
      bufferRows: config.bufferRows,
      spool: new Spool(config.spoolDir, target.spoolFile),
      onAttempt,
    })
  );
  sinks.push(...statsd);
  if (config.questdb === null) return sinks;
  const transport = createQuestdbTransport(config.questdb);
  const exec = transport.exec?.bind(transport);
  sinks.unshift(
    new Delivery({
      name: "questdb",
      transport,
      bufferRows: config.bufferRows,
      spool: new Spool(config.spoolDir),
      ...(exec ? { prepare: () => prepareTables(exec, tables, config.retention) } : {}),
      retryTimeoutMs: config.questdb.retryTimeoutMs,
      retryMaxBackoffMs: config.questdb.retryMaxBackoffMs,
      onAttempt,
    }),
  );
  return sinks;
}

/** CREATE TABLE ... DEDUP over SQL; a refusal (4xx) falls back to ILP auto-creation. */
async function prepareTables(
  exec: (sql: string) => Promise<{ dataset?: unknown[][] }>,
  tables: readonly TableSpec[],
  retention: Retention | null,
): Promise<void> {
  try {
    await ensureTables(exec, tables, retention);
  } catch (e) {
    if ((e as { retryable?: boolean }).retryable === false) {
      deliveryLog.info(
        "Cannot create tables over SQL ({error}); ILP will create them without DEDUP",
        {
          error: (e as Error).message,
        },
      );
      return;
    }
    throw e;
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
