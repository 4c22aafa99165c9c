/**
 * container-statsd: wires the data path together.
 *
 * source (src/source: `docker stats` child) -> samples -> reducer (src/reducer) -> table
 * encoders (src/schema, src/publish.ts; host disks from src/disks as a second row source) ->
 * delivery (src/delivery) -> sink (src/ilp: QuestDB over ILP); flags, logging, signals,
 * sd_notify and status (src/config, src/service) around it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Config, parseCommandLine, startupFields } from "./src/config/flags.ts";
import { openDisks } from "./src/disks/collector.ts";
import { createSinks } from "./src/delivery/sinks.ts";
import { Publisher } from "./src/publish.ts";
import { IntervalClock } from "./src/reducer/interval_clock.ts";
import { CONTAINER_TABLE } from "./src/schema/containers.ts";
import { DISK_TABLE } from "./src/schema/disks.ts";
import { findOnPath } from "./src/engine/cli.ts";
import { setupLogging, underJournald } from "./src/service/logging.ts";
import { shutdown, waitForStopSignal } from "./src/service/lifecycle.ts";
import { createServiceNotifier } from "./src/service/notify.ts";
import { StatusReporter } from "./src/service/status.ts";
import { DockerStatsSource } from "./src/source/docker_stats/source.ts";

const log = getLogger(["container-statsd"]);

async function main(): Promise<number> {
  const parsed = parseCommandLine(Deno.args);
  if (typeof parsed === "number") return parsed;
  const { config, env, level } = parsed;
  await setupLogging(level, { journald: underJournald() });
  log.info(
    "Starting container-statsd: " +
      Object.keys(startupFields(config)).map((k) => `${k}={${k}}`).join(" "),
    startupFields(config),
  );
  if (findOnPath("docker") === null) {
    log.error("docker not found on PATH ({path}); install the Docker CLI or fix PATH", {
      path: env.PATH ?? "",
    });
    return 1;
  }
  const notifier = createServiceNotifier(config.watchdog, env, Deno.pid);
  const status = new StatusReporter(notifier);
  const containers = { name: config.table, decl: CONTAINER_TABLE };
  const disks = config.disks.length > 0 ? { name: config.diskTable, decl: DISK_TABLE } : null;
  const sinks = createSinks(config, disks ? [containers, disks] : [containers], status.update);
  const publisher = new Publisher({
    host: config.node,
    containers,
    ...(disks ? { disks: { table: disks, collect: await openDisks(config) } } : {}),
    sinks,
    onPublished: status.update,
  });
  const clock = new IntervalClock({
    intervalMs: config.intervalMs,
    mode: config.mode,
    onInterval: (closed) => void publisher.publish(closed),
  });
  const source = createSource(config, notifier.watchdogUsec);
  status.track(() => clock.containers, sinks, () => publisher.rowErrors);
  for (const sink of sinks) await sink.loadSpool();
  for (const sink of sinks) sink.start();
  source.start(clock.add);
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
    await publisher.publish(clock.stop());
    for (const sink of sinks) {
      const left = await sink.stop(deadlineMs);
      const s = sink.stats;
      log.info(
        "Stopped {sink}: {delivered} rows delivered, {left} undelivered, {dropped} dropped, {rejected} refused",
        {
          sink: sink.name,
          delivered: s.deliveredRows,
          left,
          dropped: s.droppedRows,
          rejected: s.rejectedRows,
        },
      );
    }
  });
  notifier.close();
  return 0;
}

/** The source `--source` names. */
function createSource(_config: Config, watchdogUsec: number | null): DockerStatsSource {
  return new DockerStatsSource({ watchdogUsec });
}

if (import.meta.main) {
  Deno.exit(await main());
}
