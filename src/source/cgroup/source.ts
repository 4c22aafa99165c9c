/**
 * The engine-free source: every sample period, each running container's cgroup files and
 * `/proc/<pid>/net/dev` are read directly, through `--host-root`. Containers and their start
 * and stop come from the container catalog; sampling never calls the engine.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CatalogChange, CatalogView, ContainerInfo } from "../../catalog/container.ts";
import { describeError } from "../../errors.ts";
import type { HostRoot } from "../../host/host_root.ts";
import type { Sample } from "../../sample.ts";
import type { SampleListener, Source } from "../source.ts";
import { RoundHealth } from "./health.ts";
import { cgroupFiles, type CgroupLayout, resolveDirs } from "./layout.ts";
import { ContainerReader, isGone, ReadBuffer, type Reading } from "./reader.ts";
import { sampleOf } from "./sample.ts";

const log = getLogger(["container-statsd", "source", "cgroup"]);

/** Options of {@link CgroupSource}. */
export interface CgroupSourceOptions {
  /** Where containers, their init PID, cgroup paths and network mode come from. */
  catalog: CatalogView;
  /** The host root (`--host-root`) every file is read under. */
  host: HostRoot;
  /** The host's cgroup layout (src/source/cgroup/layout.ts `detectLayout`). */
  layout: CgroupLayout;
  /** Sample period, milliseconds (`--sample-period`, 100 to 60 000). */
  periodMs: number;
  /** The host's MemTotal, bytes, for the limit of a container without one; 0 if unknown. */
  machineMemory: number;
  /** systemd `WATCHDOG_USEC`, µs: the health window is `max(10 s, WATCHDOG_USEC, 2 x period)`. */
  watchdogUsec?: number | null;
  /** Wall clock for sample arrival times, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Monotonic clock for CPU deltas and health, ms. Default `performance.now()`. */
  monotonic?: () => number;
}

/** What the source did so far. */
export interface CgroupSourceCounters {
  /** Read rounds (one per sample period). */
  rounds: number;
  /** Samples given to the listener. */
  samples: number;
  /** Containers finished: stopped, or whose cgroup vanished. */
  finished: number;
  /** Failed reads of a container whose cgroup still exists (a fault, logged). */
  failures: number;
}

/** One container being sampled. */
interface Tracked {
  info: ContainerInfo;
  reader: ContainerReader | null;
  previous: Reading | undefined;
  /** Whether a failure was logged at warning already (later ones go to debug). */
  warned: boolean;
}

/**
 * Samples containers from their cgroups. A container is read at its catalog `start` change (so
 * a 2 s container gets samples), then every period; a `stop` change triggers one last read if
 * the cgroup still exists. A container whose files vanish mid-read is finished quietly.
 */
export class CgroupSource implements Source {
  /** @inheritdoc */
  readonly kind = "cgroup" as const;
  /** @inheritdoc */
  readonly health: RoundHealth;
  readonly #options: CgroupSourceOptions;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #buffer = new ReadBuffer();
  readonly #tracked = new Map<string, Tracked>();
  readonly #counters: CgroupSourceCounters = { rounds: 0, samples: 0, finished: 0, failures: 0 };
  #listener: SampleListener | null = null;
  #unsubscribe: (() => void) | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Prepares the source; nothing is read until {@link CgroupSource.start}. */
  constructor(options: CgroupSourceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonic ?? (() => performance.now());
    this.health = new RoundHealth(
      this.#mono(),
      options.periodMs,
      options.watchdogUsec ?? null,
    );
  }

  /** What the source did so far. */
  get counters(): Readonly<CgroupSourceCounters> {
    return this.#counters;
  }

  /** IDs of the containers being sampled. */
  get containers(): string[] {
    return [...this.#tracked.keys()];
  }

  /**
   * Starts sampling: subscribes to the catalog, reads every running container at once (the
   * first read round: `ready`), then one round every period.
   */
  start(samples: SampleListener): void {
    if (this.#listener) return;
    this.#listener = samples;
    this.#unsubscribe = this.#options.catalog.subscribe((change) => this.#change(change));
    for (const info of this.#options.catalog.running()) this.#track(info);
    this.#round();
    this.#timer = setInterval(() => this.#round(), this.#options.periodMs);
  }

  /** @inheritdoc */
  stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    for (const t of this.#tracked.values()) t.reader?.close();
    this.#tracked.clear();
    this.#listener = null;
    return Promise.resolve();
  }

  #change(change: CatalogChange): void {
    if (this.#listener === null) return;
    const info = change.container;
    if (change.kind === "start") this.#attach(info);
    else if (change.kind === "stop") {
      const t = this.#tracked.get(info.id);
      if (t === undefined) return;
      t.info = info;
      this.#readOne(t);
      if (this.#tracked.get(info.id) === t) this.#finish(t, "stopped");
    } else {
      const t = this.#tracked.get(info.id);
      if (t !== undefined) t.info = info;
      else if (info.pid > 0) this.#attach(info);
    }
  }

  /** Starts sampling a container with a first read (no CPU value: no previous reading). */
  #attach(info: ContainerInfo): void {
    const t = this.#track(info);
    if (t !== null) this.#readOne(t);
  }

  /** Adds a container to the sampled ones; null if it is already there. */
  #track(info: ContainerInfo): Tracked | null {
    if (this.#tracked.has(info.id)) return null;
    const t: Tracked = { info, reader: null, previous: undefined, warned: false };
    this.#tracked.set(info.id, t);
    return t;
  }

  #round(): void {
    const containers = this.#tracked.size;
    let read = 0;
    for (const t of [...this.#tracked.values()]) if (this.#readOne(t)) read++;
    this.#counters.rounds++;
    this.health.round(this.#mono(), containers, read);
  }

  /**
   * Reads one container and gives its sample to the listener.
   * @returns true when it was read; false when it failed (kept, retried next period) or is
   *   gone (finished).
   */
  #readOne(t: Tracked): boolean {
    let sample: Sample;
    try {
      t.reader ??= this.#open(t.info);
      const reading = t.reader.read(this.#buffer, this.#mono);
      const { machineMemory, periodMs } = this.#options;
      sample = sampleOf(t.info, t.previous, reading, machineMemory, periodMs);
      // A read too soon after the previous one has no CPU value: keep the window's start.
      if (t.previous === undefined || sample.cpu !== null) t.previous = reading;
    } catch (err) {
      if (isGone(err) || !this.#stillRuns(t.info)) {
        this.#finish(t, `its files vanished (${describeError(err)})`);
      } else {
        this.#fail(t, describeError(err));
        t.reader?.close();
        t.reader = null;
      }
      return false;
    }
    this.#counters.samples++;
    this.#listener?.(sample, this.#now());
    return true;
  }

  /**
   * Opens a container's files.
   * @throws `Deno.errors.NotFound` when its cgroup is not found and its init process is gone,
   *   an Error when the cgroup is not found while the process lives ({@link #stillRuns}), or
   *   the open errors of {@link ContainerReader}.
   */
  #open(info: ContainerInfo): ContainerReader {
    const { host, layout } = this.#options;
    const dirs = resolveDirs(layout, host, info);
    if (dirs === null) {
      const message = `no cgroup directory under ${host.path("/sys/fs/cgroup")}`;
      throw this.#stillRuns(info) ? new Error(message) : new Deno.errors.NotFound(message);
    }
    const netDev = info.networkMode === "host" || info.pid <= 0
      ? null
      : `/proc/${info.pid}/net/dev`;
    return new ContainerReader(host, layout.version, cgroupFiles(layout.version, dirs), netDev);
  }

  /**
   * Whether the container's init process still runs, so that a failure is not a vanish: its
   * `/proc/<pid>/cgroup` exists and still names the container's ID (every layout's path does:
   * `docker/<id>`, `docker-<id>.scope`, a `--cgroup-parent` followed by the ID). A PID reused
   * by another process after the container died names another cgroup: the container is gone
   * (issue 16: a dead entry otherwise lived forever). False for PID 0.
   */
  #stillRuns(info: ContainerInfo): boolean {
    if (info.pid <= 0) return false;
    try {
      return Deno.readTextFileSync(this.#options.host.path(`/proc/${info.pid}/cgroup`))
        .includes(info.id);
    } catch (err) {
      return !(err instanceof Deno.errors.NotFound);
    }
  }

  #fail(t: Tracked, reason: string): void {
    this.#counters.failures++;
    const fields = { name: t.info.name, container: t.info.id.slice(0, 12), reason };
    if (t.warned) log.debug("Cannot read container {name} ({container}): {reason}", fields);
    else {
      t.warned = true;
      log.warning(
        "Cannot read container {name} ({container}): {reason}; retrying every period",
        fields,
      );
    }
  }

  #finish(t: Tracked, why: string): void {
    t.reader?.close();
    this.#tracked.delete(t.info.id);
    this.#counters.finished++;
    log.debug("Finished container {name} ({container}): {why}", {
      name: t.info.name,
      container: t.info.id.slice(0, 12),
      why,
    });
  }
}
