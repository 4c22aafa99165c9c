/**
 * The host-disk source: one {@link DiskReading} per configured disk per interval, read under
 * `--host-root` from mountinfo (proc(5)), `/proc/diskstats` (Documentation/admin-guide/
 * iostats.rst), sysfs, and `statfs(2)` of each mount point (node:fs, no FFI). As in
 * node_exporter's filesystem collector, a disk that cannot be read is skipped with a
 * warning, never fatal.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { statfs } from "node:fs/promises";
import { describeError } from "../errors.ts";
import { HostRoot, normalizeHostPath } from "../host/host_root.ts";
import { type DiskKind } from "./block_kind.ts";
import { type DiskStatsEntry, parseDiskStats } from "./diskstats.ts";
import { parseMountInfo } from "./mountinfo.ts";
import { MountTable, resolveDisk } from "./resolve.ts";
import { computeSpace, type StatFsNumbers } from "./space.ts";
import { SysBlock } from "./sysfs.ts";

/** One row of the disk table (src/schema/disks.ts): one configured disk in one interval. */
export interface DiskReading {
  /**
   * `name` (SYMBOL): the device's `/dev` path (`/dev/disk/by-uuid/...` -> `/dev/nvme0n1p1`,
   * mount point `/` -> `/dev/vda`), or for a mount without a block device (tmpfs, overlay,
   * NFS) its mount point. Part of the upsert key, so unique within one `collect()`.
   */
  name: string;
  /** Kernel name as in `/proc/diskstats` (`nvme0n1p1`); `""` without a block device. Not a column. */
  device: string;
  /** The `--disks` value this reading is for, as validated. Not a column. */
  configured: string;
  /** `file_system` (SYMBOL): filesystem type from mountinfo (`ext4`, `fuse.sshfs`). */
  fileSystem: string;
  /** `mount_point` (SYMBOL): mount point on the host (unescaped, not under the host root). */
  mountPoint: string;
  /** `type` (SYMBOL): see {@link DiskKind} and {@link SysBlock.kind}. */
  type: DiskKind;
  /** `available_space` (LONG): bytes available to unprivileged users (df's Avail). */
  availableSpace: number;
  /** `total_space` (LONG): filesystem size in bytes (df's Size). */
  totalSpace: number;
  /** `percentage_use` (DOUBLE): used / (used + available) x 100, unrounded (df rounds up). */
  percentageUse: number;
  /** `read_bytes` (LONG): bytes read since boot (sectors x 512); 0 without a block device. */
  readBytes: number;
  /** `write_bytes` (LONG): bytes written since boot (sectors x 512); 0 without a block device. */
  writeBytes: number;
  /** `read_bytes_delta` (LONG): bytes read during the interval ({@link counterDelta}). */
  readBytesDelta: number;
  /** `write_bytes_delta` (LONG): bytes written during the interval ({@link counterDelta}). */
  writeBytesDelta: number;
}

/** Options of {@link DiskCollector}. */
export interface DiskCollectorOptions {
  /** `--host-root`; default `/`. */
  hostRoot?: string;
  /** Receives one-line warnings; default `console.warn`. */
  onWarning?: (message: string) => void;
  /**
   * Milliseconds one `statfs` may take before the disk is skipped for the interval; default
   * 5000 (node_exporter's `--collector.filesystem.mount-timeout`).
   */
  statfsTimeoutMs?: number;
  /** `statfs` of a local path, for tests; default node:fs (needs `--allow-sys=statfs`). */
  statfs?: (path: string) => Promise<StatFsNumbers>;
}

/**
 * Bytes moved during an interval from two readings of a cumulative counter: 0 without a
 * previous reading; the current value when the counter went down (wrap, device replaced);
 * else current - previous. Never throws.
 */
export function counterDelta(previous: bigint | undefined, current: bigint): bigint {
  if (previous === undefined) return 0n;
  return current < previous ? current : current - previous;
}

/**
 * Checks a `--disks` value's syntax (existence is checked every interval) and returns it
 * normalised. Accepted: an absolute path (device, `/dev/disk/by-*` link, mount point) or a
 * bare device name (`nvme0n1p1`, `dm-0`, `vg-root`).
 *
 * @throws {RangeError} one line, for an empty value, a NUL, a relative path, `.`, `..`, or
 *   a bare name with whitespace.
 */
export function validateDiskArgument(value: string): string {
  const shown = JSON.stringify(value);
  if (value.length === 0) {
    throw new RangeError(
      "--disks: empty value; expected a device path, a mount point or a device name",
    );
  }
  if (value.includes("\0")) throw new RangeError(`--disks ${shown}: contains a NUL character`);
  if (value.startsWith("/")) return normalizeHostPath(value);
  if (value.includes("/") || value === "." || value === "..") {
    throw new RangeError(
      `--disks ${shown}: relative paths are not accepted; give an absolute path (/dev/..., a mount point) or a device name such as nvme0n1p1`,
    );
  }
  if (/\s/.test(value)) {
    throw new RangeError(`--disks ${shown}: a device name cannot contain whitespace`);
  }
  return value;
}

/** `statfs(2)` through node:fs, with `f_frsize` when the runtime reports it (Deno does). */
async function nodeStatfs(path: string): Promise<StatFsNumbers> {
  const s = await statfs(path, { bigint: true });
  const frsize: unknown = (s as { frsize?: unknown }).frsize;
  return {
    bsize: s.bsize,
    blocks: s.blocks,
    bfree: s.bfree,
    bavail: s.bavail,
    ...(typeof frsize === "bigint" ? { frsize } : {}),
  };
}

interface Counters {
  readonly devNumber: string;
  readonly read: bigint;
  readonly write: bigint;
}

interface DiskState {
  readonly configured: string;
  /** Last warning given, `undefined` while the disk reports. */
  warning: string | undefined;
  reported: boolean;
  previous: Counters | undefined;
}

/** Why a disk is skipped. */
interface Skip {
  readonly ok: false;
  readonly reason: string;
}

type Outcome =
  | { readonly ok: true; readonly reading: DiskReading; readonly counters: Counters | undefined }
  | Skip;

/**
 * Mountinfo files tried in order. Under a host root other than `/` (the daemon in a
 * container), `proc/self` is the daemon's own mount namespace, so the host init's
 * `proc/1/mountinfo` comes first, as node_exporter reads it.
 */
function mountInfoCandidates(host: HostRoot): string[] {
  return host.root === "/"
    ? ["/proc/self/mountinfo"]
    : ["/proc/1/mountinfo", "/proc/self/mountinfo"];
}

/**
 * Collects {@link DiskReading}s for the configured disks (see resolve.ts for how a disk is
 * found).
 */
export class DiskCollector {
  readonly #host: HostRoot;
  readonly #sys: SysBlock;
  readonly #onWarning: (message: string) => void;
  readonly #statfsTimeoutMs: number;
  readonly #statfsCall: (path: string) => Promise<StatFsNumbers>;
  readonly #disks: DiskState[];
  /** Collector-wide warnings in force, by topic. */
  readonly #shared = new Map<string, string>();
  readonly #pendingStatfs = new Set<string>();
  #last: Promise<void> = Promise.resolve();

  /**
   * @param disks `--disks` values ({@link validateDiskArgument}); duplicates are dropped.
   * @param options host root, warning sink, statfs timeout.
   * @throws {RangeError} for an invalid disk or a `statfsTimeoutMs` that is not > 0.
   */
  constructor(disks: readonly string[], options?: DiskCollectorOptions) {
    this.#host = new HostRoot(options?.hostRoot ?? "/");
    this.#sys = new SysBlock(this.#host);
    this.#onWarning = options?.onWarning ?? ((m) => console.warn(m));
    const timeout = options?.statfsTimeoutMs ?? 5000;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(`DiskCollector: statfsTimeoutMs must be > 0, got ${timeout}`);
    }
    this.#statfsTimeoutMs = timeout;
    this.#statfsCall = options?.statfs ?? nodeStatfs;
    this.#disks = [...new Set(disks.map(validateDiskArgument))].map((configured) => ({
      configured,
      warning: undefined,
      reported: false,
      previous: undefined,
    }));
  }

  /**
   * Reads every configured disk once. A disk that cannot be read is skipped with a warning
   * when its state changes; one that recovers reports again, deltas 0 in its first interval
   * back. Disks resolving to the same `name` (`/` and `/dev/vda`) give one reading, the first
   * configured. Overlapping calls run one after the other.
   *
   * @returns readings in configuration order. Never rejects.
   */
  collect(): Promise<DiskReading[]> {
    const run = this.#last.then(() => this.#collectNow());
    this.#last = run.then(() => undefined, () => undefined);
    return run;
  }

  async #collectNow(): Promise<DiskReading[]> {
    const mounts = await this.#readMounts();
    const diskstats = await this.#readDiskStats();
    const outcomes = await Promise.all(
      this.#disks.map((state) => this.#collectOne(state, mounts, diskstats)),
    );
    const readings: DiskReading[] = [];
    const seen = new Map<string, string>();
    this.#disks.forEach((state, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) return;
      if (!outcome.ok) {
        this.#setState(state, outcome.reason);
        state.previous = undefined;
        return;
      }
      const { reading } = outcome;
      const first = seen.get(reading.name);
      state.previous = outcome.counters;
      if (first !== undefined) {
        const shown = `${reading.name} on ${reading.mountPoint}`;
        this.#setState(state, `duplicate of ${JSON.stringify(first)} (${shown})`);
        return;
      }
      seen.set(reading.name, state.configured);
      this.#setState(state, undefined, reading);
      readings.push(reading);
    });
    return readings;
  }

  async #collectOne(
    state: DiskState,
    mounts: MountTable | Skip,
    diskstats: ReadonlyMap<string, DiskStatsEntry> | undefined,
  ): Promise<Outcome> {
    if (!(mounts instanceof MountTable)) return mounts;
    const resolution = await resolveDisk(state.configured, mounts, this.#sys);
    if (!resolution.ok) return resolution;
    const { name, device, mount } = resolution.disk;
    const local = this.#host.path(mount.mountPoint);
    let numbers: StatFsNumbers;
    try {
      numbers = await this.#statfs(local);
    } catch (err) {
      return { ok: false, reason: `statfs(${local}) failed: ${describeError(err)}` };
    }
    const space = computeSpace(numbers);
    const kernelName = device?.kernelName ?? "";
    const stats = device === undefined ? undefined : diskstats?.get(device.devNumber);
    const counters = device === undefined || stats === undefined
      ? undefined
      : { devNumber: device.devNumber, read: stats.readBytes, write: stats.writeBytes };
    const previous = state.previous?.devNumber === counters?.devNumber ? state.previous : undefined;
    const read = counters?.read ?? 0n;
    const write = counters?.write ?? 0n;
    return {
      ok: true,
      counters,
      reading: {
        name,
        device: kernelName,
        configured: state.configured,
        fileSystem: mount.fsType,
        mountPoint: mount.mountPoint,
        type: kernelName === "" ? "unknown" : await this.#sys.kind(kernelName),
        availableSpace: space.availableSpace,
        totalSpace: space.totalSpace,
        percentageUse: space.percentageUse,
        readBytes: Number(read),
        writeBytes: Number(write),
        readBytesDelta: Number(counterDelta(previous?.read, read)),
        writeBytesDelta: Number(counterDelta(previous?.write, write)),
      },
    };
  }

  /** Records a disk's state; warns when it changed. */
  #setState(state: DiskState, warning: string | undefined, reading?: DiskReading) {
    const disk = `disk ${JSON.stringify(state.configured)}`;
    if (warning !== undefined) {
      if (state.warning !== warning) {
        this.#onWarning(`${disk}: ${warning}; skipped, checked again every interval`);
      }
      state.warning = warning;
      return;
    }
    if (state.warning !== undefined && reading !== undefined) {
      const again = state.reported ? "reporting again" : "now reporting";
      this.#onWarning(`${disk}: ${again} (${reading.name} on ${reading.mountPoint})`);
    }
    state.warning = undefined;
    state.reported = true;
  }

  /** Warns about a problem shared by all disks once per change; `undefined` clears it. */
  #sharedWarning(topic: string, message: string | undefined): void {
    if (message !== undefined && this.#shared.get(topic) !== message) this.#onWarning(message);
    if (message === undefined) this.#shared.delete(topic);
    else this.#shared.set(topic, message);
  }

  /** The mount table, or why every disk is skipped. */
  async #readMounts(): Promise<MountTable | Skip> {
    let reason = "no mountinfo";
    for (const path of mountInfoCandidates(this.#host)) {
      try {
        return new MountTable(parseMountInfo(await this.#host.readText(path)), this.#sys);
      } catch (err) {
        reason = `cannot read ${this.#host.path(path)}: ${describeError(err)}`;
      }
    }
    return { ok: false, reason };
  }

  /** `/proc/diskstats` by device number, or `undefined` (warned) when unreadable. */
  async #readDiskStats(): Promise<ReadonlyMap<string, DiskStatsEntry> | undefined> {
    try {
      const text = await this.#host.readText("/proc/diskstats");
      this.#sharedWarning("diskstats", undefined);
      return new Map(parseDiskStats(text).map((e) => [e.devNumber, e]));
    } catch (err) {
      const path = this.#host.path("/proc/diskstats");
      this.#sharedWarning(
        "diskstats",
        `cannot read ${path}: ${describeError(err)}; disk I/O reported as 0`,
      );
      return undefined;
    }
  }

  /** `statfs(2)` with a time limit; a path whose earlier call is still pending is refused. */
  async #statfs(path: string): Promise<StatFsNumbers> {
    if (this.#pendingStatfs.has(path)) {
      throw new Error(
        `an earlier statfs has not returned after ${this.#statfsTimeoutMs} ms (hung network filesystem?)`,
      );
    }
    const call = this.#statfsCall(path);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#pendingStatfs.add(path);
        const done = () => this.#pendingStatfs.delete(path);
        call.then(done, done);
        reject(new Error(`no answer within ${this.#statfsTimeoutMs} ms`));
      }, this.#statfsTimeoutMs);
    });
    try {
      return await Promise.race([call, limit]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Opens the disk source for `--disks`: warnings go to the log.
 *
 * @param config `disks` and `hostRoot` of the daemon's configuration.
 * @returns `collect`: one reading per configured, readable disk.
 */
export function openDisks(
  config: { disks: readonly string[]; hostRoot: string },
): () => Promise<DiskReading[]> {
  const log = getLogger(["container-statsd", "disks"]);
  const collector = new DiskCollector([...config.disks], {
    hostRoot: config.hostRoot,
    onWarning: (message) => log.warn(message),
  });
  return () => collector.collect();
}
