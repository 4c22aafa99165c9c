/**
 * The sinks the flags ask for, each a {@link Delivery} with its own transport, queue and spool.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/flags.ts";
import { InfluxTransport } from "../ilp/influx.ts";
import { createQuestdbTransport } from "../ilp/questdb.ts";
import { ensureTables, type Retention, type TableSpec } from "../schema/ddl.ts";
import { Delivery } from "./delivery.ts";
import { DryRunSink } from "./dry_run.ts";
import { StatsdSink } from "../sink/statsd.ts";
import type { RowSink } from "./sink.ts";
import { Spool } from "./spool.ts";

const log = getLogger(["container-statsd", "delivery"]);

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
      log.info("Cannot create tables over SQL ({error}); ILP will create them without DEDUP", {
        error: (e as Error).message,
      });
      return;
    }
    throw e;
  }
}

/**
 * Stops every sink with the shutdown deadline (each delivers what it can, then spools the
 * rest) and logs each one's totals.
 * @param deadlineMs epoch ms by which delivery attempts end.
 */
export async function stopSinks(sinks: readonly RowSink[], deadlineMs: number): Promise<void> {
  await Promise.allSettled(sinks.map(async (sink) => {
    const left = await sink.stop(deadlineMs);
    const s = sink.stats;
    log.info(
      "Stopped {sink}: {delivered} rows delivered, {left} undelivered, {dropped} dropped, " +
        "{rejected} refused",
      {
        sink: sink.name,
        delivered: s.deliveredRows,
        left,
        dropped: s.droppedRows,
        rejected: s.rejectedRows,
      },
    );
  }));
}
