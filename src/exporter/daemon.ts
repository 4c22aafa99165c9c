/**
 * The daemon's own metrics on `/metrics`, under `container_statsd_`: build, source, samples,
 * sinks, catalog and reducer. Each is read at scrape time from the object that keeps it.
 *
 * @module
 */
import type { GateCounters } from "../catalog/gate.ts";
import type { RowSink } from "../delivery/sink.ts";
import type { IntervalClock } from "../reducer/interval_clock.ts";
import type { SourceHealth } from "../source/source.ts";
import { type Exposition, type FamilyDecl, labelPairs } from "./exposition.ts";

/** Where the daemon's figures are read at each scrape. */
export interface DaemonParts {
  /** The source: its kind and health (the watchdog's rule). */
  readonly source: { readonly kind: string; readonly health: Pick<SourceHealth, "healthy"> };
  /** The sinks, each with its running totals. */
  readonly sinks: readonly Pick<RowSink, "name" | "stats" | "pendingRows">[];
  /** The catalog: containers it knows. */
  readonly catalog: { readonly size: number };
  /** The row gate's totals (src/catalog/gate.ts). */
  readonly gate: { readonly counters: Readonly<GateCounters> };
  /** The reducer (src/reducer/interval_clock.ts): late samples, time since the last close. */
  readonly reducer: Pick<IntervalClock, "late" | "sinceLastClose">;
}

/** The figures at one scrape. */
export interface DaemonFigures {
  /** Build: version of the daemon and of Deno. */
  readonly version: string;
  /** Samples the source gave (the exporter's own count). */
  readonly read: number;
  /** Monotonic clock now, ms (`performance.now()`), for the source's health. */
  readonly monoMs: number;
}

const f = (name: string, type: FamilyDecl["type"], help: string): FamilyDecl => ({
  name: `container_statsd_${name}`,
  type,
  help,
});

const BUILD = f(
  "build_info",
  "gauge",
  "Always 1; the labels tell the daemon's and Deno's version.",
);
const SOURCE = f(
  "source_healthy",
  "gauge",
  "1 while the source shows activity within its health window (the watchdog's rule), else 0.",
);
const READ = f("samples_read_total", "counter", "Samples the source read.");
const LATE = f(
  "samples_late_total",
  "counter",
  "Samples that arrived after their interval had closed, counted in the next one.",
);
const FILTERED = f("rows_filtered_total", "counter", "Rows dropped by the filters at close.");
const UNLABELLED = f(
  "rows_unlabelled_total",
  "counter",
  "Rows published without the catalog (stats name, no labels).",
);
const CATALOG = f("catalog_containers", "gauge", "Containers the catalog knows.");
const AGE = f(
  "last_interval_age_seconds",
  "gauge",
  "Seconds since the reducer last closed an interval (monotonic clock).",
);
const SINK: readonly [FamilyDecl, (s: DaemonParts["sinks"][number]) => number][] = [
  [f("sink_rows_queued", "gauge", "Rows waiting for delivery."), (s) => s.pendingRows],
  [
    f("sink_rows_delivered_total", "counter", "Rows the sink acknowledged."),
    (s) => s.stats.deliveredRows,
  ],
  [
    f("sink_rows_refused_total", "counter", "Rows the sink refused (dropped)."),
    (s) => s.stats.rejectedRows,
  ],
  [
    f("sink_rows_dropped_total", "counter", "Rows dropped because the queue was full."),
    (s) => s.stats.droppedRows,
  ],
  [
    f("sink_rows_spooled", "gauge", "Rows in the spool file as last written."),
    (s) => s.stats.spooledRows,
  ],
  [
    f("sink_failed_requests_total", "counter", "Requests that failed and were retried."),
    (s) => s.stats.failedRequests,
  ],
];

/**
 * Writes the daemon's families. Without parts (before main has built them) only the build
 * info is written.
 */
export function renderDaemon(
  out: Exposition,
  figures: DaemonFigures,
  parts: DaemonParts | null,
): void {
  out.family(BUILD);
  out.sample(
    BUILD.name,
    labelPairs([["deno", Deno.version.deno], ["version", figures.version]]),
    1,
  );
  if (parts === null) return;
  const one = (decl: FamilyDecl, value: number, labels = "") => {
    out.family(decl);
    out.sample(decl.name, labels, value);
  };
  const source = labelPairs([["source", parts.source.kind]]);
  one(SOURCE, parts.source.health.healthy(figures.monoMs) ? 1 : 0, source);
  one(READ, figures.read);
  one(LATE, parts.reducer.late);
  one(FILTERED, parts.gate.counters.filtered);
  one(UNLABELLED, parts.gate.counters.unlabelled);
  one(CATALOG, parts.catalog.size);
  const sinceClose = parts.reducer.sinceLastClose();
  if (sinceClose !== null) one(AGE, sinceClose / 1000);
  if (parts.sinks.length === 0) return;
  for (const [decl, value] of SINK) {
    out.family(decl);
    for (const sink of parts.sinks) {
      out.sample(decl.name, labelPairs([["sink", sink.name]]), value(sink));
    }
  }
}
