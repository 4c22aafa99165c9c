/**
 * `--statsd`: the rows of every table as StatsD metrics over UDP, for Graphite behind Etsy's
 * StatsD (seed 003's stack) or, with `?tags=dogstatsd`, a DogStatsD-speaking agent (Datadog,
 * Telegraf's `inputs.statsd`).
 *
 * What goes out is derived from the table declarations (src/schema), so a new column needs no
 * code here: per row, a gauge (`|g`) for each DOUBLE and LONG column, a counter (`|c`) for each
 * `*_delta` column (the server sums counters, so its sums and rates hold whatever its flush
 * interval), and for the lifecycle table one counter named for the row's event. A column the
 * row leaves out (NULL) is not sent.
 *
 * Like the dry run, the sink is handed the same ILP batch as every other sink and decodes it
 * (src/delivery/dry_run.ts), so publishing keeps one interface and the metrics are exactly the
 * rows other sinks got. The datagrams are built and sent by `npm:hot-shots` (StatsD and
 * DogStatsD client): metrics packed into datagrams of at most 1,432 bytes, separated by `\n`.
 * UDP has no acknowledgement, so there is no queue, retry or spool: a metric the network loses
 * is lost. A send error is counted and logged at most once a minute.
 *
 * Sources: Etsy StatsD docs/metric_types.md (gauges, counters; "to set a gauge to a negative
 * value you must first set the gauge to zero"); Datadog, "Datagram Format and Shell Usage"
 * (https://docs.datadoghq.com/extend/dogstatsd/datagram_shell: `<NAME>:<VALUE>|<TYPE>|#k:v,...`,
 * names of ASCII alphanumerics, underscores and periods); Graphite docs "Getting your data into
 * Graphite" (dot-separated path, no spaces).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { StatsD } from "hot-shots";
import { decodeIlp, type IlpRow } from "../delivery/dry_run.ts";
import type { Batch } from "../delivery/queue.ts";
import { type DeliveryStats, newDeliveryStats, type RowSink } from "../delivery/sink.ts";
import type { TableSpec } from "../schema/ddl.ts";
import { EVENT_TABLE } from "../schema/events.ts";

const log = getLogger(["container-statsd", "statsd"]);

/**
 * Most bytes per datagram: a 1,500-byte Ethernet MTU less the largest IPv4 header (60) and the
 * UDP header (8), so no IP fragmentation (the DogStatsD clients' UDP default).
 */
export const MAX_DATAGRAM_BYTES = 1432;
/** Send errors are logged at most this often, ms. */
const ERROR_LOG_EVERY_MS = 60_000;

/** A parsed `--statsd` URL. */
export interface StatsdTarget {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** UDP port (default 8125). */
  readonly port: number;
  /** First part of every metric name, dot-separated (default `container_statsd`). */
  readonly prefix: string;
  /** `dogstatsd`: symbols as DogStatsD tags; `null`: plain StatsD, symbols in the name. */
  readonly tags: "dogstatsd" | null;
  /** Sink name for logs and STATUS, e.g. `statsd@127.0.0.1:8125`. */
  readonly name: string;
}

/** The URL form, for error messages. */
export const STATSD_URL_FORM = "udp://host[:8125][?prefix=container_statsd][&tags=dogstatsd]";
/** A prefix: dot-separated parts of ASCII letters, digits and underscores, a letter first. */
const PREFIX = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;

/**
 * Parses a `--statsd` URL: `udp://host[:port]`, port 8125 by default, with optional query
 * keys `prefix` (see {@link PREFIX}) and `tags` (only `dogstatsd`).
 * @param text the flag's value.
 * @returns the target.
 * @throws {RangeError} naming the bad part: another scheme, no host, a user, path or fragment,
 *   port 0, an unknown, repeated or empty query key, a bad prefix or tags value.
 */
export function parseStatsdTarget(text: string): StatsdTarget {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new RangeError("not a URL");
  }
  if (url.protocol !== "udp:") throw new RangeError(`scheme ${url.protocol} is not udp:`);
  if (url.hostname === "") throw new RangeError("no host");
  if (url.username || url.password) throw new RangeError("a user is not allowed");
  if (url.pathname !== "" && url.pathname !== "/") throw new RangeError("a path is not allowed");
  if (url.hash) throw new RangeError("a fragment is not allowed");
  const port = url.port === "" ? 8125 : Number(url.port);
  if (port === 0) throw new RangeError("port 0");
  const query = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (key !== "prefix" && key !== "tags") throw new RangeError(`unknown query key ${key}`);
    if (query.has(key)) throw new RangeError(`query key ${key} twice`);
    if (value === "") throw new RangeError(`query key ${key} is empty`);
    query.set(key, value);
  }
  const prefix = query.get("prefix") ?? "container_statsd";
  if (!PREFIX.test(prefix)) {
    throw new RangeError(`prefix ${prefix} is not letters, digits and _ in dot-separated parts`);
  }
  const tags = query.get("tags");
  if (tags !== undefined && tags !== "dogstatsd") {
    throw new RangeError(`tags=${tags} is not tags=dogstatsd`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    host,
    port,
    prefix,
    tags: tags ?? null,
    name: `statsd@${url.host}${url.port ? "" : ":8125"}`,
  };
}

/** One StatsD metric. */
export interface StatsdMetric {
  /** Full name, prefix included. */
  readonly name: string;
  /** The number sent. */
  readonly value: number;
  /** `g` gauge, `c` counter. */
  readonly type: "g" | "c";
  /** DogStatsD tags, or null in the plain form. */
  readonly tags: Readonly<Record<string, string>> | null;
}

/** A name part for Graphite: anything but ASCII letters, digits, `_` and `-` becomes `_`. */
function graphitePart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** A name part for DogStatsD: anything but ASCII letters, digits and `_` becomes `_`. */
function dogstatsdPart(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, "_");
}

/**
 * The metrics of one decoded row.
 * - plain: `<prefix>.<host>.<name>.<column>`, host and name made Graphite-safe
 *   ({@link graphitePart}); no tags.
 * - `dogstatsd`: `<prefix>.<table>.<column>`, with every symbol but `container` (the short ID;
 *   `name` names the container) as a tag: `host`, `name` and the label symbols (disk and
 *   lifecycle rows add theirs, e.g. `mount_point`, `image`, `event`).
 *
 * DOUBLE and LONG columns are gauges, `*_delta` columns counters; VARCHARs are not sent. A
 * lifecycle row (table declared as {@link EVENT_TABLE}) is the one counter `...<event>` = 1.
 *
 * @param table the row's table (name and declaration).
 * @param row the row, as decoded from ILP.
 * @param target prefix and form.
 */
export function rowMetrics(table: TableSpec, row: IlpRow, target: StatsdTarget): StatsdMetric[] {
  const symbols = table.decl.columns.filter((c) => c.type === "SYMBOL");
  let tags: Record<string, string> | null = null;
  if (target.tags === "dogstatsd") {
    tags = {};
    for (const c of symbols) {
      const v = row.values.get(c.name);
      if (c.name !== "container" && v !== undefined) tags[c.name] = String(v);
    }
  }
  const part = tags ? dogstatsdPart : graphitePart;
  const symbol = (name: string) => graphitePart(String(row.values.get(name) ?? ""));
  const base = tags
    ? `${target.prefix}.${part(table.name)}`
    : `${target.prefix}.${symbol("host")}.${symbol("name")}`;
  if (table.decl.defaultName === EVENT_TABLE.defaultName) {
    const event = row.values.get("event");
    return event === undefined
      ? []
      : [{ name: `${base}.${part(String(event))}`, value: 1, type: "c", tags }];
  }
  const metrics: StatsdMetric[] = [];
  for (const c of table.decl.columns) {
    if (c.type !== "DOUBLE" && c.type !== "LONG") continue;
    const v = row.values.get(c.name);
    if (typeof v !== "number") continue;
    const type = c.name.endsWith("_delta") ? "c" : "g";
    metrics.push({ name: `${base}.${part(c.name)}`, value: v, type, tags });
  }
  return metrics;
}

/** Options of {@link StatsdSink}. */
export interface StatsdSinkOptions {
  /** Where to and how. */
  target: StatsdTarget;
  /** The tables the daemon writes (to find each row's declaration). */
  tables: readonly TableSpec[];
  /** Called after each batch is handed to the socket (STATUS). */
  onAttempt?: () => void;
}

/** The `--statsd` sink: each batch goes out at once as metrics; nothing waits. */
export class StatsdSink implements RowSink {
  /** @inheritdoc */
  readonly name: string;
  /** @inheritdoc */
  readonly encoding = {};
  /** @inheritdoc */
  readonly stats: DeliveryStats = newDeliveryStats();
  /** Nothing ever waits: UDP has no acknowledgement to wait for. */
  readonly pendingRows = 0;
  /** Datagrams the socket failed to send. */
  sendErrors = 0;
  readonly #o: StatsdSinkOptions;
  readonly #tables: Map<string, TableSpec>;
  readonly #client: StatsD;
  /** Errors since the last logged one, and when that was (epoch ms). */
  #unlogged = 0;
  #loggedAt = -Infinity;
  #sent: Promise<void> = Promise.resolve();

  /** Makes the sink and its UDP socket (nothing is sent before the first batch). */
  constructor(options: StatsdSinkOptions) {
    this.#o = options;
    this.name = options.target.name;
    this.#tables = new Map(options.tables.map((t) => [t.name, t]));
    this.#client = new StatsD({
      host: options.target.host,
      port: options.target.port,
      maxBufferSize: MAX_DATAGRAM_BYTES,
      // Every batch is flushed at once; the library's timer only backs that up.
      bufferFlushInterval: 60_000,
      cacheDns: true,
      // No DD_* environment: no global tags, origin detection or telemetry of the library's own.
      datadog: false,
      includeDataDogTags: false,
      errorHandler: (e) => this.#failed(e),
    });
  }

  /** No spool: @returns 0. */
  loadSpool(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Nothing to start. */
  start(): void {}

  /**
   * Sends the batch's rows as metrics, in datagrams of at most {@link MAX_DATAGRAM_BYTES}.
   * A batch that cannot be decoded is logged and counted as refused (it never happens with
   * the daemon's own encoder).
   */
  enqueue(batch: Batch): void {
    if (batch.rows === 0) return;
    let rows: IlpRow[];
    try {
      rows = decodeIlp(batch.ilp);
    } catch (e) {
      this.stats.rejectedRows += batch.rows;
      log.error("{sink}: dropped a batch: {error}", {
        sink: this.name,
        error: (e as Error).message,
      });
      return;
    }
    for (const row of rows) {
      const table = this.#tables.get(row.table);
      if (!table) continue;
      for (const m of rowMetrics(table, row, this.#o.target)) this.#send(m);
    }
    this.#sent = new Promise((resolve) =>
      this.#client.flush((e?: Error) => {
        if (e) this.#failed(e);
        else this.stats.failures = 0;
        resolve();
      })
    );
    this.stats.deliveredRows += batch.rows;
    this.stats.last = { endMs: batch.endMs, rows: batch.rows, ok: true };
    this.#o.onAttempt?.();
  }

  /** Resolves when the datagrams of every batch so far have been sent, or have failed. */
  sent(): Promise<void> {
    return this.#sent;
  }

  /**
   * Sends what is buffered, closes the socket and logs the send errors of the run, if any.
   * @returns 0: nothing is ever held.
   */
  async stop(_deadlineMs: number): Promise<number> {
    await new Promise((resolve) => this.#client.close(resolve));
    if (this.sendErrors > 0) {
      log.warning("{sink}: {count} datagrams not sent in all", {
        sink: this.name,
        count: this.sendErrors,
      });
    }
    return 0;
  }

  #send(m: StatsdMetric): void {
    const tags = m.tags ?? undefined;
    if (m.type === "c") {
      this.#client.increment(m.name, m.value, tags);
      return;
    }
    // A signed gauge is a change in Etsy's StatsD and Telegraf: reset to 0 first.
    if (m.value < 0) this.#client.gauge(m.name, 0, tags);
    this.#client.gauge(m.name, m.value, tags);
  }

  #failed(e: Error): void {
    this.sendErrors++;
    this.stats.failures++;
    if (this.stats.last) {
      const wasOk = this.stats.last.ok;
      this.stats.last = { ...this.stats.last, ok: false, error: e.message };
      if (wasOk) this.#o.onAttempt?.(); // STATUS shows the failure
    }
    this.#unlogged++;
    const now = Date.now();
    if (now - this.#loggedAt < ERROR_LOG_EVERY_MS) return;
    log.warning("{sink}: {count} datagrams not sent (logged once a minute): {error}", {
      sink: this.name,
      count: this.#unlogged,
      error: e.message,
    });
    this.#unlogged = 0;
    this.#loggedAt = now;
  }
}
