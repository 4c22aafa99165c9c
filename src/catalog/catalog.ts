/**
 * The container catalog: what the engine says of each container (ID, name, image, labels, init
 * PID, cgroups, network mode, restart count, state), kept current from its own event stream.
 *
 * It lists at each (re)connection of the events stream and every few minutes (the Engine API's
 * `GET /containers/json`, then `GET /containers/{id}/json` of the running containers it needs),
 * inspects a container once per `start` event, and otherwise applies events: in steady state it
 * makes one listing call every few minutes, and nothing per sample.
 *
 * It heals itself: an inspect that fails (engine slow, down, an API error) is retried with
 * backoff, so a container stored with PID 0 reaches `running()` and the sources once an inspect
 * succeeds; a listing adds the running containers it missed and stops or forgets the ones gone.
 *
 * Work is serialised: listings, event lines and look-ups are applied one at a time, in the
 * order they arrived, so a listing and the events that follow it cannot interleave.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CatalogChange, CatalogView, ContainerInfo } from "./container.ts";
import {
  type EngineEvent,
  LIFECYCLE_ACTIONS,
  type LifecycleRow,
  parseEventLine,
} from "./events.ts";
import type { ContainerFilter } from "./filters.ts";
import type { Inspected, Listed } from "./listing.ts";

const log = getLogger(["container-statsd", "catalog"]);

/** The engine calls the catalog makes (src/catalog/api_engine.ts over the API socket). */
export interface CatalogEngine {
  /**
   * Every container, whatever its state (`GET /containers/json?all=1`).
   * @throws {Error} when the engine cannot be asked.
   */
  list(): Promise<Listed[]>;
  /**
   * One container (`GET /containers/{id}/json`).
   * @returns null when the engine has no such container (404).
   * @throws {Error} when the engine cannot be asked or answers another error.
   */
  inspect(id: string): Promise<Inspected | null>;
}

/** Options of {@link ContainerCatalog}. */
export interface CatalogOptions {
  /** Engine calls (listing, inspect). */
  engine: CatalogEngine;
  /** The filters; without them every container passes. */
  filter?: Pick<ContainerFilter, "passes">;
  /**
   * Reads `/proc/<pid>/cgroup` of a container's init process, once per start (the cgroup
   * source provides it, through `--host-root`). Without it `cgroups` stays `{}`.
   * @returns controller list (`""` for cgroup v2) to path.
   */
  cgroupsOf?: (pid: number) => Promise<Record<string, string>>;
  /** Receives each lifecycle row of a container that passes the filters. */
  onEvent?: (row: LifecycleRow) => void;
  /**
   * How long a destroyed (or vanished) container stays known, ms, so rows of the intervals it
   * was in still get its name and labels. Default 70 000; give at least two intervals.
   */
  retentionMs?: number;
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** First delay before a failed inspect is tried again, ms. Default 500; doubles. */
  retryMinMs?: number;
  /** Longest delay between tries of a failed inspect, ms. Default 5000. */
  retryMaxMs?: number;
}

/** How the catalog stands on one container ID. */
export type Known = "pass" | "filtered" | "unknown";

/** Running totals of the catalog, for logs and benchmarks. */
export interface CatalogCounters {
  /** Event lines read. */
  events: number;
  /** Event lines that could not be parsed (each logged at debug). */
  badLines: number;
  /** Listings done. */
  listings: number;
  /** Inspect calls. */
  inspects: number;
  /** Inspect calls that failed (each is tried again with backoff). */
  inspectErrors: number;
  /** Lifecycle rows handed on. */
  rows: number;
}

interface Entry {
  info: ContainerInfo;
  passes: boolean;
  /** The info last announced with a `start` change, while it runs. */
  announced: ContainerInfo | null;
  /** When it was destroyed or found gone, ms since the epoch; null while it exists. */
  goneAtMs: number | null;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const SEEN_LIMIT = 4096;

const runs = (state: string) => state === "running" || state === "paused";

function live(info: ContainerInfo): boolean {
  return runs(info.state) && info.pid > 0;
}

function differs(a: ContainerInfo, b: ContainerInfo): boolean {
  return a.name !== b.name || a.state !== b.state || a.restartCount !== b.restartCount ||
    a.networkMode !== b.networkMode || a.image !== b.image || a.labels !== b.labels ||
    a.cgroups !== b.cgroups;
}

/** The catalog. Feed it event lines ({@link ContainerCatalog.handleLine}) and listings. */
export class ContainerCatalog implements CatalogView {
  /** Running totals. */
  readonly counters: CatalogCounters = {
    events: 0,
    badLines: 0,
    listings: 0,
    inspects: 0,
    inspectErrors: 0,
    rows: 0,
  };
  /** Resolves once the first listing was applied (or failed). */
  readonly listed: Promise<void>;
  readonly #listed = Promise.withResolvers<void>();
  readonly #o: CatalogOptions;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(change: CatalogChange) => void>();
  readonly #lookups = new Map<string, Promise<void>>();
  /** Keys of events applied recently: a restarted stream replays from the last one. */
  readonly #seen = new Set<string>();
  /** Containers whose inspect failed: the next delay and the pending try. */
  readonly #retries = new Map<
    string,
    { delayMs: number; tries: number; timer: ReturnType<typeof setTimeout> | undefined }
  >();
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #closed = false;
  #chain: Promise<void> = Promise.resolve();
  #lastSeenNs = 0n;
  #nextPruneMs = 0;

  /** Makes an empty catalog; it fills on {@link ContainerCatalog.relist} and events. */
  constructor(options: CatalogOptions) {
    this.#o = options;
    this.#retentionMs = options.retentionMs ?? 70_000;
    this.#now = options.now ?? Date.now;
    this.#retryMinMs = options.retryMinMs ?? 500;
    this.#retryMaxMs = options.retryMaxMs ?? 5000;
    this.listed = this.#listed.promise;
  }

  /** Containers waiting for an inspect to be tried again. */
  get pendingInspects(): number {
    return this.#retries.size;
  }

  /** Cancels the pending inspect retries (at shutdown). */
  close(): void {
    this.#closed = true;
    for (const r of this.#retries.values()) clearTimeout(r.timer);
    this.#retries.clear();
  }

  /** Time of the newest event line read, ns since the epoch (0 before any). */
  get lastSeenNs(): bigint {
    return this.#lastSeenNs;
  }

  /** Containers known, passing the filters or not (removed ones until they are forgotten). */
  get size(): number {
    return this.#entries.size;
  }

  /** Containers known that pass the filters (counted on each call: for logs). */
  get passing(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.passes) n++;
    return n;
  }

  /** @inheritdoc */
  get(id: string): ContainerInfo | undefined {
    const e = this.#entries.get(id);
    return e?.passes ? e.info : undefined;
  }

  /**
   * Whether a container is known and passes the filters, is known and filtered out, or is not
   * known (yet).
   */
  known(id: string): Known {
    const e = this.#entries.get(id);
    return e === undefined ? "unknown" : e.passes ? "pass" : "filtered";
  }

  /**
   * Whether a container of this name and these labels passes the filters (for a container the
   * catalog does not know: judged by its stats name, without labels).
   */
  passes(name: string, labels: Readonly<Record<string, string>> = EMPTY): boolean {
    return this.#o.filter?.passes(name, labels) ?? true;
  }

  /** @inheritdoc */
  *running(): Iterable<ContainerInfo> {
    for (const e of this.#entries.values()) if (e.announced) yield e.info;
  }

  /** @inheritdoc */
  subscribe(listener: (change: CatalogChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Takes one event of the engine's stream (one JSON object of `GET /events`, the same shape as
   * a line of `docker events --format '{{json .}}'`); it is applied after the work queued
   * before it. A line that cannot be parsed is counted and logged at debug.
   */
  handleLine(line: string): void {
    if (line.trim() === "") return;
    this.counters.events++;
    let event: EngineEvent | null;
    try {
      event = parseEventLine(line);
    } catch (e) {
      this.counters.badLines++;
      log.debug("Skipped event line ({error}): {line}", {
        error: (e as Error).message,
        line: line.slice(0, 200),
      });
      return;
    }
    if (event === null) return;
    if (event.timeNano > this.#lastSeenNs) this.#lastSeenNs = event.timeNano;
    const e = event;
    void this.#enqueue(() => this.#apply(e));
  }

  /**
   * Lists every container and reconciles the catalog with it, after the work queued before:
   * a running container the catalog does not know, or knows as stopped or without a PID, is
   * inspected and announced; one the catalog thought running that is not running any more
   * gets a `stop`; one that no longer exists is marked removed and forgotten after the
   * retention. A failed listing is logged; the catalog keeps what it knew.
   * @param full inspect every running container that passes the filters (after a gap in the
   *   events, when a restart may have been missed); otherwise only the ones it needs.
   * @returns when the listing was applied.
   */
  relist(full = true): Promise<void> {
    return this.#enqueue(() => this.#relist(full));
  }

  /**
   * Asks the engine about a container the catalog does not know (a sample came first): after
   * the first listing, one inspect of that ID unless it became known meanwhile.
   * @returns when the catalog knows it, or knows it cannot learn it.
   */
  lookup(id: string): Promise<void> {
    if (this.#entries.has(id)) return Promise.resolve();
    let p = this.#lookups.get(id);
    if (p === undefined) {
      p = this.listed
        .then(() =>
          this.#entries.has(id) ? undefined : this.#enqueue(async () => {
            if (this.#entries.has(id)) return;
            const i = await this.#inspect(id).catch(() => null);
            if (i) await this.#adopt(i);
          })
        )
        .finally(() => this.#lookups.delete(id));
      this.#lookups.set(id, p);
    }
    return p;
  }

  /** Resolves when the work queued so far is done. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(job).catch((e) => {
      log.error("Catalog update failed: {error}", { error: (e as Error).message });
    }).finally(() => this.#prune());
    this.#chain = run;
    return run;
  }

  /** One inspect; @throws {Error} when it failed (counted). */
  async #inspect(id: string): Promise<Inspected | null> {
    this.counters.inspects++;
    try {
      return await this.#o.engine.inspect(id);
    } catch (e) {
      this.counters.inspectErrors++;
      throw e;
    }
  }

  async #relist(full: boolean): Promise<void> {
    this.counters.listings++;
    try {
      let listed: Listed[];
      try {
        listed = await this.#o.engine.list();
      } catch (e) {
        log.warn("Listing containers failed: {error}; the catalog keeps what it knew", {
          error: (e as Error).message,
        });
        return;
      }
      const byId = new Map(listed.map((l) => [l.id, l]));
      const wanted: Entry[] = [];
      for (const l of listed) {
        if (!runs(l.state)) continue;
        let e = this.#entries.get(l.id);
        if (e === undefined) {
          e = this.#newEntry({ ...l, state: l.state });
        } else if (!runs(e.info.state)) {
          this.#update(e, { ...e.info, state: l.state });
        }
        e.goneAtMs = null;
        if (e.passes && (full || e.info.pid === 0)) wanted.push(e);
      }
      // a handful at a time: each is half a millisecond over the socket
      for (let i = 0; i < wanted.length; i += 8) {
        await Promise.all(wanted.slice(i, i + 8).map((e) => this.#inspectInto(e)));
      }
      for (const [id, e] of this.#entries) {
        const l = byId.get(id);
        if (l !== undefined && runs(l.state)) continue;
        if (runs(e.info.state)) {
          // Stopped while the events were not followed: the PID goes with the stop.
          this.#update(e, { ...e.info, state: l?.state || "exited", pid: 0, cgroups: EMPTY });
        }
        if (l === undefined && e.goneAtMs === null) {
          if (e.info.state !== "removed") this.#update(e, { ...e.info, state: "removed" });
          e.goneAtMs = this.#now();
        }
      }
      log.debug("Listed {n} containers, {inspected} inspected; {known} known, {passing} passing", {
        n: listed.length,
        inspected: wanted.length,
        known: this.#entries.size,
        passing: this.passing,
      });
    } finally {
      this.#listed.resolve();
    }
  }

  #newEntry(from: Pick<ContainerInfo, "id" | "name" | "image" | "labels" | "state">): Entry {
    const info: ContainerInfo = {
      id: from.id,
      name: from.name,
      image: from.image,
      labels: from.labels,
      pid: 0,
      cgroups: EMPTY,
      networkMode: "",
      restartCount: 0,
      state: from.state,
    };
    const e: Entry = {
      info,
      passes: this.passes(info.name, info.labels),
      announced: null,
      goneAtMs: null,
    };
    this.#entries.set(info.id, e);
    return e;
  }

  /**
   * Inspects one container and takes the answer. A failed inspect is tried again with backoff
   * while the container runs as far as the catalog knows.
   * @returns false when the engine had no answer (none yet, or no such container).
   */
  async #inspectInto(e: Entry): Promise<boolean> {
    const id = e.info.id;
    let i: Inspected | null;
    try {
      i = await this.#inspect(id);
    } catch (err) {
      this.#retryLater(e, (err as Error).message);
      return false;
    }
    const retry = this.#retries.get(id);
    if (retry) {
      clearTimeout(retry.timer);
      this.#retries.delete(id);
      if (i) {
        log.info("Inspected {name} after {tries} failed tries", {
          name: i.name,
          tries: retry.tries,
        });
      }
    }
    if (i === null) return false; // gone: its die/destroy events, or the next listing, follow
    await this.#adopt(i);
    return true;
  }

  /** Schedules another inspect of a container whose inspect failed (backoff, doubling). */
  #retryLater(e: Entry, error: string): void {
    if (this.#closed) return;
    const id = e.info.id;
    let r = this.#retries.get(id);
    if (r === undefined) {
      r = { delayMs: this.#retryMinMs, tries: 0, timer: undefined };
      this.#retries.set(id, r);
    }
    r.tries++;
    if (r.timer !== undefined) return; // one already pending
    const delayMs = r.delayMs;
    r.delayMs = Math.min(r.delayMs * 2, this.#retryMaxMs);
    const fields = { name: e.info.name, id: id.slice(0, 12), error, delayMs };
    const message = "Inspect of {name} ({id}) failed: {error}; trying again in {delayMs} ms";
    if (r.tries === 1) log.warn(message, fields);
    else log.debug(message, fields);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      void this.#enqueue(async () => {
        const now = this.#entries.get(id);
        // Still wanted: known as running, passing the filters, without an inspect's PID.
        if (now && now.passes && runs(now.info.state) && now.info.pid === 0) {
          await this.#inspectInto(now);
        } else this.#retries.delete(id);
      });
    }, delayMs);
  }

  /** Takes what the inspect said, reading the cgroups once per init PID. */
  async #adopt(i: Inspected): Promise<void> {
    let e = this.#entries.get(i.id);
    const prev = e?.info;
    let cgroups = prev && prev.pid === i.pid ? prev.cgroups : EMPTY;
    // the filters' verdict on what inspect says (#update reaches the same one)
    const passes = this.passes(i.name, i.labels);
    if (i.pid > 0 && cgroups === EMPTY && this.#o.cgroupsOf && passes) {
      try {
        cgroups = await this.#o.cgroupsOf(i.pid);
      } catch (err) {
        log.debug("Cannot read the cgroups of {name} (pid {pid}): {error}", {
          name: i.name,
          pid: i.pid,
          error: (err as Error).message,
        });
      }
    }
    const info: ContainerInfo = {
      id: i.id,
      name: i.name,
      image: i.image,
      labels: prev && sameLabels(prev.labels, i.labels) ? prev.labels : i.labels,
      pid: i.pid,
      cgroups,
      networkMode: i.networkMode,
      restartCount: i.restartCount,
      state: i.state,
      ...(i.startedAtMs ? { startedAtMs: i.startedAtMs } : {}),
    };
    if (e === undefined) {
      e = { info, passes, announced: null, goneAtMs: null };
      this.#entries.set(i.id, e);
    }
    e.goneAtMs = null;
    this.#update(e, info);
  }

  /** Sets a container's info, re-applies the filters and announces what changed. */
  #update(e: Entry, next: ContainerInfo): void {
    const prev = e.info;
    e.info = next;
    if (prev !== next && (prev.name !== next.name || prev.labels !== next.labels)) {
      e.passes = this.passes(next.name, next.labels);
    }
    const shown = e.passes && live(next);
    const was = e.announced;
    if (was && (!shown || was.pid !== next.pid)) {
      // The last running info (PID, cgroups) goes with the stop, for a last read.
      e.announced = null;
      this.#emit({ kind: "stop", container: { ...was, ...stopFields(next) } });
    }
    if (shown && e.announced === null) {
      e.announced = next;
      this.#emit({ kind: "start", container: next });
    } else if (shown && differs(prev, next)) {
      e.announced = next;
      this.#emit({ kind: "update", container: next });
    }
  }

  #emit(change: CatalogChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (err) {
        log.error("A catalog subscriber failed: {error}", { error: (err as Error).message });
      }
    }
  }

  async #apply(ev: EngineEvent): Promise<void> {
    const key = `${ev.timeNano}/${ev.id}/${ev.action}/${ev.detail}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    if (this.#seen.size > SEEN_LIMIT) {
      this.#seen.delete(this.#seen.values().next().value!);
    }
    if (!LIFECYCLE_ACTIONS.has(ev.action)) return;
    const e = this.#entries.get(ev.id) ??
      this.#newEntry({
        id: ev.id,
        name: ev.name,
        image: ev.image,
        labels: ev.labels,
        state: "created",
      });
    const info = e.info;
    switch (ev.action) {
      case "start":
        e.goneAtMs = null;
        // A filtered-out container is never shown: no inspect for it. A failed inspect is
        // tried again (#retryLater); until then it runs without a PID.
        if (!e.passes || !(await this.#inspectInto(e))) {
          this.#update(e, { ...info, state: "running", pid: 0, cgroups: EMPTY });
        }
        break;
      case "die":
        this.#update(e, { ...info, state: "exited", pid: 0, cgroups: EMPTY });
        break;
      case "pause":
        this.#update(e, { ...info, state: "paused" });
        break;
      case "unpause":
        this.#update(e, { ...info, state: "running" });
        break;
      case "rename": {
        const next = { ...info, name: ev.name || info.name };
        // Renamed into the filters while running: inspect first, so that its start carries
        // the PID and cgroups.
        const entering = !e.passes && this.passes(next.name, next.labels);
        if (!(entering && info.state === "running" && (await this.#inspectInto(e)))) {
          this.#update(e, next);
        }
        break;
      }
      case "destroy":
        this.#update(e, { ...info, state: "removed", pid: 0, cgroups: EMPTY });
        e.goneAtMs = this.#now();
        break;
    }
    if (!e.passes || !this.#o.onEvent) return;
    const c = e.info;
    this.counters.rows++;
    this.#o.onEvent({
      timeNano: ev.timeNano,
      id: ev.id,
      container: ev.id.slice(0, 12),
      name: ev.name || c.name,
      image: ev.image || c.image,
      event: ev.action,
      ...(ev.action === "health_status" && ev.detail ? { health: ev.detail } : {}),
      ...(ev.action === "die" && ev.exitCode !== undefined ? { exitCode: ev.exitCode } : {}),
      ...(ev.action === "kill" && ev.signal !== undefined ? { signal: ev.signal } : {}),
      // Always present: every ILP row needs a field (InfluxDB refuses tag-only lines), and a
      // container not inspected yet was just created: 0 restarts.
      restartCount: c.restartCount,
      labels: c.labels,
    });
  }

  /** Forgets containers destroyed (or gone) longer than the retention ago. */
  #prune(): void {
    const now = this.#now();
    if (now < this.#nextPruneMs) return;
    this.#nextPruneMs = now + Math.max(1000, this.#retentionMs / 4);
    const before = now - this.#retentionMs;
    for (const [id, e] of this.#entries) {
      if (e.goneAtMs !== null && e.goneAtMs < before) this.#entries.delete(id);
    }
  }
}

function stopFields(next: ContainerInfo): Partial<ContainerInfo> {
  return { state: next.state, name: next.name };
}

function sameLabels(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
