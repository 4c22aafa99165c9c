/**
 * What the catalog knows of one container, and the view of it that sources and tables use.
 *
 * @module
 */

/** One container, as the catalog holds it (from the Engine API listing, inspect and events). */
export interface ContainerInfo {
  /** Full 64-character ID. */
  readonly id: string;
  /** Current name, without the leading `/`; a `rename` event changes it. */
  readonly name: string;
  /** Image as the engine reports it (`Config.Image`). */
  readonly image: string;
  /** Every label of the container. */
  readonly labels: Readonly<Record<string, string>>;
  /** Init PID on the host (`State.Pid`), 0 when not running. */
  readonly pid: number;
  /**
   * The init process's cgroup paths from `/proc/<pid>/cgroup`: key `""` for the v2 unified
   * hierarchy, else the v1 controller list (`cpu,cpuacct`, `memory`, `blkio`, `pids`).
   * Empty when not running or not readable.
   */
  readonly cgroups: Readonly<Record<string, string>>;
  /** `HostConfig.NetworkMode`: `host` means no network figures of its own. */
  readonly networkMode: string;
  /** `RestartCount` from inspect. */
  readonly restartCount: number;
  /** `running`, `paused`, `exited`, `created`, ... */
  readonly state: string;
  /** When the container last started (`State.StartedAt`), ms since the epoch; 0 if unknown. */
  readonly startedAtMs?: number;
}

/** A change the catalog announces. */
export type CatalogChange =
  | { readonly kind: "start"; readonly container: ContainerInfo }
  | { readonly kind: "stop"; readonly container: ContainerInfo }
  | { readonly kind: "update"; readonly container: ContainerInfo };

/** Read side of the catalog, for sources and table encoders. */
export interface CatalogView {
  /** The container with this full ID, if known (filtered-out containers are not known). */
  get(id: string): ContainerInfo | undefined;
  /** Running containers that pass the filters. */
  running(): Iterable<ContainerInfo>;
  /**
   * Subscribes to starts, stops and updates of containers that pass the filters.
   * @returns a function that unsubscribes.
   */
  subscribe(listener: (change: CatalogChange) => void): () => void;
}
