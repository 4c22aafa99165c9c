/**
 * container-statsd: wires the data path together.
 *
 * `docker stats` child (src/source) -> parser and reducers (src/pipeline, src/parser,
 * src/reducer) -> ILP encoder (src/ilp, src/schema, src/disks for the second source) ->
 * delivery queue and transport (src/delivery, src/ilp) -> QuestDB; with flags, logging,
 * signals and systemd notify (src/config, src/service) around it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { FlagExit, parseFlags } from "./src/config/flags.ts";
import { checkHostAccess, DiskCollector, type DiskReading } from "./src/disks/collector.ts";
import { encodeDiskRows } from "./src/disks/rows.ts";
import { Delivery } from "./src/delivery/delivery.ts";
import { Spool } from "./src/delivery/spool.ts";
import { describeConfig } from "./src/ilp/config.ts";
import { IlpEncoder } from "./src/ilp/encoder.ts";
import { createTransport } from "./src/ilp/transport.ts";
import { HttpTransport } from "./src/ilp/http.ts";
import { Pipeline } from "./src/pipeline.ts";
import type { ClosedInterval } from "./src/reducer/interval.ts";
import {
  CONTAINER_COLUMNS,
  CONTAINER_UPSERT_KEYS,
  encodeContainerRows,
  msToNs,
} from "./src/schema/container_table.ts";
import { DISK_COLUMNS, DISK_UPSERT_KEYS } from "./src/schema/disk_table.ts";
import { ensureTables, type TableSpec } from "./src/schema/ddl.ts";
import { parseLogLevel, setupLogging, underJournald } from "./src/service/logging.ts";
import { createServiceNotifier } from "./src/service/notify.ts";
import { DockerStatsSource, findOnPath } from "./src/source/docker_stats.ts";

const log = getLogger(["container-statsd"]);
const encoder = new TextEncoder();

/** Shutdown must finish within this many ms of SIGTERM (systemd's stop is 90 s; ours 10 s). */
const SHUTDOWN_BUDGET_MS = 9000;

/** Environment variables the daemon reads (the start task grants exactly these). */
const ENV_NAMES = [
  "LOG_LEVEL",
  "RUST_LOG",
  "QDB_CLIENT_CONF",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "JOURNAL_STREAM",
  "STATE_DIRECTORY",
  "HOME",
  "PATH",
] as const;

async function main(): Promise<number> {
  const env: Record<string, string | undefined> = Object.fromEntries(
    ENV_NAMES.map((name) => [name, Deno.env.get(name)]),
  );
  let config;
  try {
    config = parseFlags(Deno.args, env, {
      out: (s) => Deno.stdout.writeSync(encoder.encode(s)),
      err: (s) => Deno.stderr.writeSync(encoder.encode(s)),
    });
  } catch (e) {
    if (e instanceof FlagExit) return e.exitCode;
    throw e;
  }
  let level;
  try {
    level = parseLogLevel(env);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  await setupLogging(level, { journald: underJournald() });

  log.info(
    "Starting container-statsd: node={node} mode={mode} interval={interval}s table={table} " +
      "questdb={questdb} disks={disks} diskTable={diskTable} watchdog={watchdog} " +
      "bufferRows={bufferRows} spoolDir={spoolDir} logLevel={level}",
    {
      node: config.node,
      mode: config.mode,
      interval: config.intervalMs / 1000,
      table: config.table,
      questdb: describeConfig(config.questdb),
      disks: config.disks.length ? config.disks.join(",") : "none",
      diskTable: config.diskTable,
      watchdog: config.watchdog,
      bufferRows: config.bufferRows,
      spoolDir: config.spoolDir,
      level,
    },
  );

  if (findOnPath("docker") === null) {
    log.error("docker not found on PATH ({path}); install the Docker CLI or fix PATH", {
      path: env.PATH ?? "",
    });
    return 1;
  }

  // Delivery: queue, retries, spool; tables with DEDUP when QuestDB's SQL endpoint is there.
  const transport = createTransport(config.questdb);
  const tables: TableSpec[] = [
    { name: config.table, columns: CONTAINER_COLUMNS, upsertKeys: CONTAINER_UPSERT_KEYS },
  ];
  if (config.disks.length > 0) {
    tables.push({ name: config.diskTable, columns: DISK_COLUMNS, upsertKeys: DISK_UPSERT_KEYS });
  }
  const delivery = new Delivery({
    transport,
    bufferRows: config.bufferRows,
    spool: new Spool(config.spoolDir),
    ...(transport instanceof HttpTransport
      ? { prepare: () => prepareTables(transport, tables) }
      : {}),
    onAttempt: () => void notifier.status(statusLine()),
  });
  await delivery.loadSpool();

  if (config.disks.length > 0) {
    const problem = await checkHostAccess(config.hostRoot);
    if (problem !== null) log.warn(problem);
  }
  const disks = config.disks.length > 0
    ? new DiskCollector(config.disks, {
      hostRoot: config.hostRoot,
      onWarning: (message) => log.warn(message),
    })
    : null;
  const notifier = createServiceNotifier(config.watchdog, env, Deno.pid);
  const ilp = new IlpEncoder();

  // Publishing is serialised so intervals reach the queue in order.
  let publishing: Promise<void> = Promise.resolve();
  const publish = (closed: ClosedInterval): Promise<void> =>
    publishing = publishing.then(async () => {
      let readings: DiskReading[] = [];
      if (disks) {
        try {
          readings = await disks.collect();
        } catch (e) {
          log.error("Reading disks failed: {error}", { error: (e as Error).message });
        }
      }
      try {
        encodeContainerRows(ilp, config.table, config.node, closed.rows, closed.endMs);
        if (readings.length > 0) {
          encodeDiskRows(ilp, config.diskTable, config.node, readings, msToNs(closed.endMs));
        }
      } catch (e) {
        log.error("Encoding interval {end} failed: {error}", {
          end: new Date(closed.endMs).toISOString(),
          error: (e as Error).message,
        });
      }
      const rows = ilp.rowCount;
      delivery.enqueue({ endMs: closed.endMs, rows, ilp: ilp.take() });
      void notifier.status(statusLine());
    });

  const pipeline = new Pipeline({
    intervalMs: config.intervalMs,
    mode: config.mode,
    onInterval: (closed) => void publish(closed),
    onActivity: (nowMs) => notifier.markSample(nowMs),
    onStreaming: () => {
      log.info("docker stats is streaming; ready");
      void notifier.ready();
      void notifier.status(statusLine());
    },
  });

  function statusLine(): string {
    const s = delivery.stats;
    let line = `${pipeline.containers} containers`;
    if (s.last) {
      const at = new Date(s.last.endMs).toISOString().slice(11, 19) + "Z";
      line += s.last.ok
        ? `; last publish ${at} ok (${s.last.rows} rows)`
        : `; last publish ${at} failed: ${s.last.error ?? "unknown error"}`;
    }
    if (delivery.pendingRows > 0) line += `; ${delivery.pendingRows} rows queued`;
    if (s.droppedRows > 0) line += `; ${s.droppedRows} rows dropped (buffer full)`;
    if (s.rejectedRows > 0) line += `; ${s.rejectedRows} rows refused by QuestDB`;
    return line;
  }

  const source = new DockerStatsSource({
    onChunk: (chunk) => pipeline.push(chunk),
    onEnd: () => pipeline.endOfStream(),
    redraws: () => pipeline.counters.redraws,
    live: () => pipeline.live,
    progress: () => pipeline.progress,
  });
  delivery.start();
  source.start();
  pipeline.start();
  notifier.start();

  // Shutdown: stop the child, publish the partial interval, deliver or spool, exit 0.
  const done = Promise.withResolvers<void>();
  let stopping = false;
  const onSignal = (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    log.info("Received {signal}; publishing the partial interval and stopping", { signal });
    done.resolve();
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => onSignal(sig));
  }
  await done.promise;
  const deadline = Date.now() + SHUTDOWN_BUDGET_MS;
  const guard = setTimeout(() => {
    log.error("Shutdown took longer than {ms} ms; exiting", { ms: SHUTDOWN_BUDGET_MS });
    Deno.exit(0);
  }, SHUTDOWN_BUDGET_MS + 500);
  await notifier.stopping();
  await source.stop();
  await publish(pipeline.stop());
  const left = await delivery.stop(deadline);
  const c = pipeline.counters;
  log.info(
    "Stopped: {samples} samples from {lines} lines ({skipped} skipped), {delivered} rows " +
      "delivered, {left} undelivered, {dropped} dropped, {rejected} refused",
    {
      samples: c.samples,
      lines: c.lines,
      skipped: c.skipped,
      delivered: delivery.stats.deliveredRows,
      left,
      dropped: delivery.stats.droppedRows,
      rejected: delivery.stats.rejectedRows,
    },
  );
  notifier.close();
  clearTimeout(guard);
  return 0;
}

/** CREATE TABLE ... DEDUP over QuestDB's SQL endpoint; falls back to ILP auto-creation. */
async function prepareTables(transport: HttpTransport, tables: TableSpec[]): Promise<void> {
  try {
    await ensureTables((sql) => transport.exec(sql), tables);
  } catch (e) {
    if ((e as { retryable?: boolean }).retryable === false) {
      log.info("Cannot create tables over SQL ({error}); ILP will create them without DEDUP", {
        error: (e as Error).message,
      });
      return;
    }
    throw e;
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
