/**
 * The sinks the flags ask for, each a {@link Delivery} with its own transport, queue and spool.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/flags.ts";
import { createTransport } from "../ilp/transport.ts";
import { ensureTables, type TableSpec } from "../schema/ddl.ts";
import { Delivery } from "./delivery.ts";
import type { RowSink } from "./sink.ts";
import { Spool } from "./spool.ts";

const log = getLogger(["container-statsd", "delivery"]);

/**
 * Builds the QuestDB sink: tables are created with DEDUP over SQL before the first send when
 * the transport can run SQL (HTTP); otherwise ILP creates them on first write, without DEDUP.
 * @param config the daemon's configuration.
 * @param tables the tables it writes.
 * @param onAttempt called after every send attempt (STATUS).
 */
export function createSinks(
  config: Config,
  tables: readonly TableSpec[],
  onAttempt: () => void,
): RowSink[] {
  const transport = createTransport(config.questdb);
  const exec = transport.exec?.bind(transport);
  return [
    new Delivery({
      name: "questdb",
      transport,
      bufferRows: config.bufferRows,
      spool: new Spool(config.spoolDir),
      ...(exec ? { prepare: () => prepareTables(exec, tables) } : {}),
      onAttempt,
    }),
  ];
}

/** CREATE TABLE ... DEDUP over SQL; a refusal (4xx) falls back to ILP auto-creation. */
async function prepareTables(
  exec: (sql: string) => Promise<{ dataset?: unknown[][] }>,
  tables: readonly TableSpec[],
): Promise<void> {
  try {
    await ensureTables(exec, tables);
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
