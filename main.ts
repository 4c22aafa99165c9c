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
import { createSinks, stopSinks } from "./src/delivery/sinks.ts";
import { Publisher } from "./src/publish.ts";
import { IntervalClock } from "./src/reducer/interval_clock.ts";
import { DISK_TABLE } from "./src/schema/disks.ts";
import { findOnPath } from "./src/engine/cli.ts";
import { engineSocket } from "./src/engine/api.ts";
import { createCatalog } from "./src/catalog/create.ts";
import { setupLogging, underJournald } from "./src/service/logging.ts";
import { shutdown, waitForStopSignal } from "./src/service/lifecycle.ts";
import { createServiceNotifier, StatusReporter } from "./src/service/systemd.ts";
import { DockerStatsSource } from "./src/source/docker_stats/source.ts";
import type { CatalogView } from "./src/catalog/container.ts";
import type { CreateCatalogOptions } from "./src/catalog/create.ts";
import { HostRoot } from "./src/host/host_root.ts";
import { openCgroupSource, suggestCgroupSource } from "./src/source/cgroup/open.ts";
import { cgroupsResolver } from "./src/source/cgroup/proc_cgroup.ts";
import type { Source } from "./src/source/source.ts";
import { openExporter } from "./src/exporter/exporter.ts";

const log = getLogger(["container-statsd"]);

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

if (import.meta.main) {
  Deno.exit(await main());
}
