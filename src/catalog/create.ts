/**
 * Builds the catalog as the flags ask: the Engine API client and events feed, the filters, the
 * row gate,
 * and the container and lifecycle tables with the label symbols, so main.ts only wires.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/flags.ts";
import type { NamedTable } from "../publish.ts";
import type { ContainerRow } from "../reducer/reducer.ts";
import { CONTAINER_TABLE } from "../schema/containers.ts";
import { EVENT_TABLE } from "../schema/events.ts";
import { withSymbols } from "../schema/table.ts";
import { DEFAULT_SOCKET, EngineApi } from "../engine/api.ts";
import { apiCatalogEngine, EngineEventsFeed } from "./api_engine.ts";
import { ContainerCatalog } from "./catalog.ts";
import type { LifecycleRow } from "./events.ts";
import { ContainerFilter } from "./filters.ts";
import { RowGate } from "./gate.ts";
import { labelSymbols } from "./labels.ts";

const log = getLogger(["container-statsd", "catalog"]);

/** The flags the catalog reads. */
export type CatalogConfig = Pick<
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
export interface CreateCatalogOptions {
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
export interface CatalogParts {
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
 * Builds the catalog from the flags.
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
      log.info(
        "Stopped the catalog: {known} containers known ({passing} passing the filters), " +
          "{events} event lines, {rows} lifecycle rows, {listings} listings, {inspects} " +
          "inspects ({inspectErrors} failed); rows: {filtered} filtered out, {unlabelled} " +
          "without labels",
        { ...catalog.counters, ...gate.counters, known: catalog.size, passing: catalog.passing },
      );
    },
  };
}
