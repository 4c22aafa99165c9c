/**
 * The catalog's verdict on each row, given when its interval closes (samples are never held):
 *
 * - known, passing the filters: the row goes out under the catalog's name (a renamed container
 *   carries its new name), and the table's label symbols come from the catalog;
 * - known, filtered out: the row is dropped;
 * - not known: the row goes out under its stats name, without labels, judged by the name filters
 *   alone; that is logged once per container, and the catalog is asked to look it up.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ClosedInterval, Liveness } from "../reducer/interval.ts";
import type { ContainerCatalog } from "./catalog.ts";

const log = getLogger(["container-statsd", "catalog"]);

/** What the gate asks of the catalog. */
export type GateCatalog = Pick<ContainerCatalog, "known" | "get" | "lookup" | "passes">;

/**
 * Whether a container's figures go out: known and passing the filters, or not known (yet) and
 * passing the name filters by its stats name. The rule of {@link RowGate} and of `/metrics`.
 */
export function admits(
  catalog: Pick<ContainerCatalog, "known" | "passes">,
  id: string,
  name: string,
): boolean {
  const verdict = catalog.known(id);
  return verdict === "pass" || (verdict === "unknown" && catalog.passes(name));
}

/** Counts of the gate, for logs and tests. */
export interface GateCounters {
  /** Rows dropped because their container is filtered out. */
  filtered: number;
  /** Rows published without the catalog (no labels, stats name). */
  unlabelled: number;
}

/** Most containers remembered as logged; the set is cleared beyond it. */
const SET_LIMIT = 4096;

/** Applies the catalog to each closed interval's rows. */
export class RowGate {
  /** Running totals. */
  readonly counters: GateCounters = { filtered: 0, unlabelled: 0 };
  readonly #catalog: GateCatalog;
  readonly #logged = new Set<string>();

  /** @param catalog the catalog. */
  constructor(catalog: GateCatalog) {
    this.#catalog = catalog;
  }

  /**
   * The interval with each row renamed, dropped or kept by the catalog's verdict now.
   * @param closed a closed interval.
   * @returns the interval to publish (the same end).
   */
  readonly resolve = (closed: ClosedInterval): ClosedInterval => {
    const rows = closed.rows.filter((row) => {
      if (!admits(this.#catalog, row.id, row.name)) {
        this.counters.filtered++;
        return false;
      }
      const info = this.#catalog.get(row.id);
      if (info !== undefined) row.name = info.name || row.name;
      else {
        this.counters.unlabelled++;
        this.#unknown(row.id, row.name);
      }
      return true;
    });
    return { endMs: closed.endMs, rows };
  };

  /**
   * Whether a container is still there, for the reducer's counter state: running (or paused,
   * created, restarting) is `live`; stopped or removed is `gone`; not in the catalog `unknown`.
   */
  readonly liveness = (id: string): Liveness => {
    if (this.#catalog.known(id) === "unknown") return "unknown";
    const state = this.#catalog.get(id)?.state;
    return state === "running" || state === "paused" || state === "created" ? "live" : "gone";
  };

  #unknown(id: string, name: string): void {
    void this.#catalog.lookup(id);
    if (this.#logged.has(id)) return;
    if (this.#logged.size >= SET_LIMIT) this.#logged.clear();
    this.#logged.add(id);
    log.warn(
      "Container {name} ({container}) is not in the catalog when its interval closes: its rows " +
        "go out under the stats name, without labels, until the catalog learns it",
      { name, container: id.slice(0, 12) },
    );
  }
}
