/**
 * The gate between a source and the reducer: every sample passes through the catalog's
 * verdict on its container ID before it is reduced.
 *
 * - known, passing the filters: forwarded, with the catalog's name (a renamed container
 *   carries its new name from the `rename` event on);
 * - known, filtered out: dropped (no row, not counted in STATUS);
 * - not known yet (it started a moment before the catalog heard of it, or the catalog is still
 *   listing): held, at most `maxHeldPerContainer` samples per container and `maxHeld` in all,
 *   while the catalog looks it up; released in arrival order, with their arrival times, as
 *   soon as it is known. If it is still unknown after `holdMs`, its samples are released under
 *   the stats name with no labels, judged by the name filters alone, and that is logged once
 *   per container; they keep flowing that way until the catalog learns the container.
 *
 * The per-sample cost is one Map look-up (and one object copy when the names differ).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Sample } from "../sample.ts";
import type { SampleListener } from "../source/source.ts";
import type { ContainerCatalog } from "./catalog.ts";

const log = getLogger(["container-statsd", "catalog"]);

/** What the gate asks of the catalog. */
export type GateCatalog = Pick<ContainerCatalog, "known" | "get" | "lookup" | "passes">;

/** Options of {@link SampleGate}. */
export interface SampleGateOptions {
  /** The catalog. */
  catalog: GateCatalog;
  /** Where samples go (the reducer). */
  listener: SampleListener;
  /** Longest hold of an unknown container's samples, ms. Default 5000. */
  holdMs?: number;
  /** Most samples held per container; older ones are dropped beyond it. Default 64. */
  maxHeldPerContainer?: number;
  /** Most samples held in all; new unknown samples are dropped beyond it. Default 10 000. */
  maxHeld?: number;
}

/** Counts of the gate, for logs and tests. */
export interface GateCounters {
  /** Samples dropped because their container is filtered out. */
  filtered: number;
  /** Samples that were held, then released. */
  released: number;
  /** Samples released without the catalog (no labels, stats name). */
  unlabelled: number;
  /** Held samples dropped because a hold limit was reached. */
  overflow: number;
}

interface Hold {
  samples: [Sample, number][];
  timer: ReturnType<typeof setTimeout>;
}

const SET_LIMIT = 4096;

/** A {@link SampleListener} that applies the catalog to each sample. */
export class SampleGate {
  /** Running totals. */
  readonly counters: GateCounters = { filtered: 0, released: 0, unlabelled: 0, overflow: 0 };
  readonly #catalog: GateCatalog;
  readonly #listener: SampleListener;
  readonly #holdMs: number;
  readonly #perContainer: number;
  readonly #maxHeld: number;
  readonly #holds = new Map<string, Hold>();
  /** Containers given up on: their samples flow without labels. */
  readonly #unlabelled = new Set<string>();
  #held = 0;
  #closed = false;

  /** Makes the gate. */
  constructor(options: SampleGateOptions) {
    this.#catalog = options.catalog;
    this.#listener = options.listener;
    this.#holdMs = options.holdMs ?? 5000;
    this.#perContainer = options.maxHeldPerContainer ?? 64;
    this.#maxHeld = options.maxHeld ?? 10_000;
  }

  /** Samples held now. */
  get held(): number {
    return this.#held;
  }

  /** Takes one sample (a {@link SampleListener}). */
  readonly add: SampleListener = (sample: Sample, atMs: number): void => {
    const id = sample.id;
    switch (this.#catalog.known(id)) {
      case "pass":
        if (this.#holds.has(id)) this.#settle(id);
        this.#forward(sample, atMs);
        return;
      case "filtered":
        if (this.#holds.has(id)) this.#settle(id);
        this.counters.filtered++;
        return;
      case "unknown":
        if (this.#unlabelled.has(id)) this.#forwardUnknown(sample, atMs);
        else this.#hold(sample, atMs);
    }
  };

  /**
   * Releases every held sample as {@link SampleGate.add} would after its hold ran out, and
   * stops holding (shutdown: the partial interval must not miss them).
   */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#holds.keys()]) this.#settle(id);
  }

  #forward(sample: Sample, atMs: number): void {
    const info = this.#catalog.get(sample.id);
    if (info === undefined || info.name === sample.name || info.name === "") {
      this.#listener(sample, atMs);
    } else {
      this.#listener({ ...sample, name: info.name }, atMs);
    }
  }

  #forwardUnknown(sample: Sample, atMs: number): void {
    if (!this.#catalog.passes(sample.name)) {
      this.counters.filtered++;
      return;
    }
    this.counters.unlabelled++;
    this.#listener(sample, atMs);
  }

  #hold(sample: Sample, atMs: number): void {
    const id = sample.id;
    if (this.#closed) {
      this.#giveUp(id, sample.name);
      this.#forwardUnknown(sample, atMs);
      return;
    }
    let h = this.#holds.get(id);
    if (h === undefined) {
      if (this.#held >= this.#maxHeld) {
        this.counters.overflow++;
        return;
      }
      h = { samples: [], timer: setTimeout(() => this.#settle(id), this.#holdMs) };
      this.#holds.set(id, h);
      void this.#catalog.lookup(id).then(() => {
        if (this.#catalog.known(id) !== "unknown") this.#settle(id);
      });
    }
    if (h.samples.length >= this.#perContainer || this.#held >= this.#maxHeld) {
      if (h.samples.length === 0) {
        this.counters.overflow++;
        return;
      }
      h.samples.shift();
      this.#held--;
      this.counters.overflow++;
    }
    h.samples.push([sample, atMs]);
    this.#held++;
  }

  /** Ends a hold: releases its samples by the catalog's verdict now. */
  #settle(id: string): void {
    const h = this.#holds.get(id);
    if (h === undefined) return;
    this.#holds.delete(id);
    clearTimeout(h.timer);
    this.#held -= h.samples.length;
    const verdict = this.#catalog.known(id);
    if (verdict === "unknown" && h.samples.length > 0) this.#giveUp(id, h.samples[0]![0].name);
    for (const [sample, atMs] of h.samples) {
      this.counters.released++;
      if (verdict === "pass") this.#forward(sample, atMs);
      else if (verdict === "filtered") this.counters.filtered++;
      else this.#forwardUnknown(sample, atMs);
    }
  }

  #giveUp(id: string, name: string): void {
    if (this.#unlabelled.has(id)) return;
    if (this.#unlabelled.size >= SET_LIMIT) this.#unlabelled.clear();
    this.#unlabelled.add(id);
    log.warn(
      "Container {name} ({container}) is not in the catalog after {holdMs} ms: its samples go " +
        "out under the stats name, without labels, until the catalog learns it",
      { name, container: id.slice(0, 12), holdMs: this.#holdMs },
    );
  }
}
