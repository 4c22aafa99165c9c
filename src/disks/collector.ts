/**
 * The host-disk source: one {@link DiskReading} per configured disk per interval, for the
 * `diskStats` table.
 *
 * Per interval it reads, under the host root (`--host-root`, default `/`):
 * - `/proc/self/mountinfo` (proc(5)) — with a host root other than `/`, `/proc/1/mountinfo`
 *   first, see {@link DiskCollector};
 * - `/proc/diskstats` (Documentation/admin-guide/iostats.rst) for cumulative I/O;
 * - sysfs for device names, partitions and the disk kind (Documentation/ABI/stable/sysfs-block);
 * - `statfs(2)` of each mount point, through `node:fs/promises` `statfs` (no FFI).
 *
 * Modelled on Prometheus node_exporter's filesystem and diskstats collectors: reading is
 * split from parsing (mountinfo.ts, diskstats.ts, block_kind.ts, space.ts are pure), and a
 * disk that cannot be read is skipped with a warning, never fatal.
 *
 * Permissions: since Deno 1.43, opening anything under `/proc`, `/sys` or `/dev` needs
 * `--allow-all` whatever `--allow-read` says (GHSA-23rx-c3g5-hv9w), and node:fs `statfs`
 * needs `--allow-sys=statfs`. The daemon runs without `--allow-all`, so with the default
 * host root `/` nothing can be read; the supported set-up is a read-only recursive bind of
 * the host's `/` given as `--host-root` (systemd `BindReadOnlyPaths=/:/run/container-statsd/host`,
 * docker `-v /:/host:ro,rslave --host-root /host`), which `--allow-read` covers. The
 * collector says so in one warning ({@link checkHostAccess} says it at startup).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { readdir, readFile, stat, statfs } from "node:fs/promises";
import { type DiskKind } from "./block_kind.ts";
import { type DiskStatsEntry, parseDiskStats } from "./diskstats.ts";
import {
  allowAllMessage,
  describeError,
  hostPath,
  isAllowAllDenial,
  isStatfsDenial,
  normalizeHostPath,
  STATFS_PERMISSION_MESSAGE,
} from "./host_fs.ts";
import { parseMountInfo } from "./mountinfo.ts";
import { MountTable, resolveDisk } from "./resolve.ts";
import { computeSpace, type StatFsNumbers } from "./space.ts";
import { readDiskKind } from "./sysfs.ts";

/** One row of the `diskStats` table: one configured disk in one interval. Sizes in bytes. */
export interface DiskReading {
  /**
   * `name` column (SYMBOL): the device as configured, resolved to its `/dev` path
   * (`/dev/disk/by-uuid/...` -> `/dev/nvme0n1p1`, `/dev/mapper/vg-root` -> `/dev/dm-0`,
   * mount point `/` -> its device, e.g. `/dev/vda`). For a mount without a block device
   * (tmpfs, overlay, NFS) its mount point, since the mount source (`tmpfs`, `overlay`) is the
   * same for many mounts and `name` is part of the table's upsert key (host, name,
   * timestamp; src/schema/disk_table.ts). Unique among the readings of one `collect()`.
   */
  name: string;
  /** Kernel device name as in `/proc/diskstats` (`nvme0n1p1`, `dm-0`); `""` for a mount without a block device. Not a column. */
  device: string;
  /** The `--disks` argument this reading is for, as validated (e.g. `/`, `nvme0n1p1`). Not a column. */
  configured: string;
  /** `file_system` column (SYMBOL): filesystem type from mountinfo (`ext4`, `xfs`, `fuse.sshfs`). */
  fileSystem: string;
  /** `mount_point` column (SYMBOL): mount point on the host (unescaped, not joined with the host root). */
  mountPoint: string;
  /** `type` column (SYMBOL): see {@link DiskKind} and `readDiskKind` in sysfs.ts for the rules. */
  type: DiskKind;
  /** `available_space` column (LONG): bytes available to unprivileged users, `f_bavail` x block size (df's Avail). */
  availableSpace: number;
  /** `total_space` column (LONG): filesystem size in bytes, `f_blocks` x block size (df's Size). */
  totalSpace: number;
  /** `percentage_use` column (DOUBLE): used / (used + available) x 100, unrounded (df's Use% rounds up). */
  percentageUse: number;
  /** `read_bytes` column (LONG): bytes read from the device since boot (sectors read x 512); 0 without a block device. */
  readBytes: number;
  /** `write_bytes` column (LONG): bytes written to the device since boot (sectors written x 512); 0 without a block device. */
  writeBytes: number;
  /** `read_bytes_delta` column (LONG): bytes read during the interval; see {@link counterDelta}. */
  readBytesDelta: number;
  /** `write_bytes_delta` column (LONG): bytes written during the interval; see {@link counterDelta}. */
  writeBytesDelta: number;
}

/** Options of {@link DiskCollector}. */
export interface DiskCollectorOptions {
  /** Root the host's filesystem is visible at (`--host-root`); default `/`. */
  hostRoot?: string;
  /**
   * Receives one-line warnings (disk not found / not mounted / unreadable, and recovery);
   * default `console.warn`. A refusal by Deno's permissions (`--allow-all` needed for
   * `/proc` and `/sys`, or no `--allow-sys=statfs`) is one warning for the collector's
   * lifetime, not one per disk.
   */
  onWarning?: (message: string) => void;
  /**
   * How long one `statfs` may take, in milliseconds, before the disk is skipped for the
   * interval; default 5000 (node_exporter's `--collector.filesystem.mount-timeout`). A mount
   * whose `statfs` is still pending (hung NFS) is not asked again until it returns.
   */
  statfsTimeoutMs?: number;
  /**
   * The `statfs` used, for tests (a filesystem that hangs); default `node:fs/promises`
   * `statfs(path, { bigint: true })`, which in Deno needs `--allow-sys=statfs`.
   */
  statfs?: (path: string) => Promise<StatFsNumbers>;
}

/**
 * Bytes moved during an interval from two readings of a cumulative counter:
 * - no previous reading (first interval, or the disk was missing or changed device): 0;
 * - the counter went down (32-bit wrap, device replaced): it counts from zero, so the
 *   delta is the current value;
 * - otherwise current - previous.
 *
 * Never throws.
 */
export function counterDelta(previous: bigint | undefined, current: bigint): bigint {
  if (previous === undefined) return 0n;
  return current < previous ? current : current - previous;
}

/**
 * Checks a `--disks` value at flag time (syntax only; whether the disk exists is checked at
 * every interval) and returns it normalised (`//`, `.`, `..` and a trailing `/` removed from
 * paths). Accepted: an absolute path (device, `/dev/disk/by-*` link, mount point) or a bare
 * device name without `/` (`nvme0n1p1`, `dm-0`, `vg-root`).
 *
 * @throws {RangeError} with a one-line message for an empty value, a NUL character, a
 *   relative path (`dev/sda1`, `./data`), `.` or `..`, or a bare name with whitespace.
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

interface Previous {
  readonly devNumber: string;
  readonly read: bigint;
  readonly write: bigint;
}

interface DiskState {
  readonly configured: string;
  /** Last warning given for this disk, `undefined` while it reports. */
  warning: string | undefined;
  /** Whether it has ever reported (to word the recovery message). */
  reported: boolean;
  previous: Previous | undefined;
}

/**
 * A reason to skip. `quiet`: the cause was already given in a collector-wide warning (a
 * permission refusal), so the disk is skipped without a warning of its own.
 */
interface Skip {
  readonly ok: false;
  readonly reason: string;
  readonly quiet?: true;
}

type Outcome =
  | { readonly ok: true; readonly reading: DiskReading; readonly counters: Previous | undefined }
  | Skip;

/** Mountinfo files tried under the host root, in order (see {@link DiskCollector}). */
function mountInfoCandidates(hostRoot: string): string[] {
  return normalizeHostPath(hostRoot) === "/"
    ? ["/proc/self/mountinfo"]
    : ["/proc/1/mountinfo", "/proc/self/mountinfo"];
}

/**
 * Checks, once at startup, that Deno's permissions let the collector read the host under
 * `hostRoot`: the mountinfo files, `/proc/diskstats`, `/sys/block` and `/dev`, and
 * node:fs `statfs` of the root. Meant for main.ts when `--disks` is given, to log the answer
 * as a warning before the first interval (the collector gives the same warning once itself).
 *
 * Only permission refusals are reported: a file that is missing or unreadable for another
 * reason (a host root that does not exist, no `/proc/1`) gives `null` here and is warned
 * about per disk by {@link DiskCollector.collect}.
 *
 * @param hostRoot `--host-root` (default `/`).
 * @returns `null` when nothing is refused; else one line saying why and what to do:
 *   {@link allowAllMessage} (e.g. host root `/` without `--allow-all`: `disks: Deno needs
 *   --allow-all to read /proc and /sys directly; give --host-root a read-only bind of /
 *   instead (systemd: ...; docker: ...)`), or {@link STATFS_PERMISSION_MESSAGE} without
 *   `--allow-sys=statfs`.
 *
 * Never throws (never rejects).
 */
export async function checkHostAccess(hostRoot: string): Promise<string | null> {
  const reads: Array<() => Promise<unknown>> = [
    ...mountInfoCandidates(hostRoot).map((path) => () => readFile(hostPath(hostRoot, path))),
    () => readFile(hostPath(hostRoot, "/proc/diskstats")),
    () => readdir(hostPath(hostRoot, "/sys/block")),
    () => stat(hostPath(hostRoot, "/dev")),
  ];
  for (const read of reads) {
    try {
      await read();
    } catch (err) {
      if (isAllowAllDenial(err)) return allowAllMessage(hostRoot);
    }
  }
  try {
    await statfs(hostPath(hostRoot, "/"));
  } catch (err) {
    if (isStatfsDenial(err)) return STATFS_PERMISSION_MESSAGE;
    if (isAllowAllDenial(err)) return allowAllMessage(hostRoot);
  }
  return null;
}

/**
 * Collects {@link DiskReading}s for the configured disks (see resolve.ts for the four ways a
 * disk can be given and how it is matched to its mount and diskstats line).
 *
 * Mountinfo: with the default host root, `/proc/self/mountinfo` as the issue says. With
 * another root (the daemon in a container, host `/` mounted at e.g. `/host`),
 * `<root>/proc/self` is the daemon's own mount namespace, whose mount points are container
 * paths; so `<root>/proc/1/mountinfo` (the host's init, as node_exporter reads) is tried
 * first, and `<root>/proc/self/mountinfo` used if it cannot be read.
 *
 * Permissions: when Deno refuses a read because it needs `--allow-all` (host root `/`, see
 * the module notes) or `statfs` because `--allow-sys=statfs` is missing, the collector warns
 * once, with {@link allowAllMessage} / {@link STATFS_PERMISSION_MESSAGE}, and skips the
 * disks it concerns without a warning each.
 */
export class DiskCollector {
  readonly #hostRoot: string;
  readonly #onWarning: (message: string) => void;
  readonly #statfsTimeoutMs: number;
  readonly #statfsCall: (path: string) => Promise<StatFsNumbers>;
  readonly #disks: DiskState[];
  readonly #globalWarnings = new Map<string, string>();
  readonly #pendingStatfs = new Set<string>();
  /** Permission warnings already given (each at most once per collector). */
  readonly #permissionWarnings = new Set<string>();
  #last: Promise<void> = Promise.resolve();

  /**
   * Creates a collector; nothing is read until {@link DiskCollector.collect}.
   *
   * @param disks `--disks` values; each is checked with {@link validateDiskArgument};
   *   duplicates (after normalisation) are dropped.
   * @param options host root, warning sink, statfs timeout.
   * @throws {RangeError} when a disk argument is invalid or `statfsTimeoutMs` is not a
   *   positive number.
   */
  constructor(disks: readonly string[], options?: DiskCollectorOptions) {
    this.#hostRoot = options?.hostRoot ?? "/";
    this.#onWarning = options?.onWarning ?? ((m) => console.warn(m));
    const timeout = options?.statfsTimeoutMs ?? 5000;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(`DiskCollector: statfsTimeoutMs must be > 0, got ${timeout}`);
    }
    this.#statfsTimeoutMs = timeout;
    this.#statfsCall = options?.statfs ?? nodeStatfs;
    const unique = [...new Set(disks.map(validateDiskArgument))];
    this.#disks = unique.map((configured) => ({
      configured,
      warning: undefined,
      reported: false,
      previous: undefined,
    }));
  }

  /**
   * Reads every configured disk once. Disks not found, not mounted or unreadable are warned
   * about (once per change of their state, not every interval) and skipped; a disk that
   * recovers gets one message saying so and reports again, with deltas 0 in its first
   * interval back. Arguments resolving to the same `name` (e.g. `/` and `/dev/vda`, or `/`
   * and a bind mount of the same device) give one reading, the first configured, since
   * `name` is part of the table's upsert key; the others are warned about once. Never throws for a single disk, nor for an unreadable
   * mountinfo or diskstats (then every disk is skipped, or I/O is reported as 0).
   *
   * Calls that overlap (a slow `statfs`) run one after the other, so deltas stay per call.
   *
   * @returns readings in configuration order.
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
    outcomes.forEach((outcome, i) => {
      const state = this.#disks[i];
      if (state === undefined) return;
      if (outcome.ok) {
        const key = outcome.reading.name;
        const first = seen.get(key);
        if (first !== undefined) {
          this.#setState(
            state,
            `duplicate of ${
              JSON.stringify(first)
            } (${outcome.reading.name} on ${outcome.reading.mountPoint})`,
          );
          state.previous = outcome.counters;
          return;
        }
        seen.set(key, state.configured);
        this.#setState(state, undefined, outcome.reading);
        state.previous = outcome.counters;
        readings.push(outcome.reading);
      } else {
        this.#setState(state, outcome.reason, undefined, outcome.quiet === true);
        state.previous = undefined;
      }
    });
    return readings;
  }

  async #collectOne(
    state: DiskState,
    mounts: MountTable | Skip,
    diskstats: ReadonlyMap<string, DiskStatsEntry> | undefined,
  ): Promise<Outcome> {
    if (!(mounts instanceof MountTable)) return mounts;
    try {
      const resolution = await resolveDisk(this.#hostRoot, state.configured, mounts);
      if (!resolution.ok) return resolution;
      const { name, device, mount } = resolution.disk;
      const local = hostPath(this.#hostRoot, mount.mountPoint);
      let numbers: StatFsNumbers;
      try {
        numbers = await this.#statfs(local);
      } catch (err) {
        return this.#skip(err, `statfs(${local}) failed: ${describeError(err)}`);
      }
      const space = computeSpace(numbers);
      const kernelName = device?.kernelName ?? "";
      const type = kernelName === "" ? "unknown" : await readDiskKind(this.#hostRoot, kernelName);
      const stats = device === undefined ? undefined : diskstats?.get(device.devNumber);
      const counters = device === undefined || stats === undefined
        ? undefined
        : { devNumber: device.devNumber, read: stats.readBytes, write: stats.writeBytes };
      const previous = state.previous !== undefined && counters !== undefined &&
          state.previous.devNumber === counters.devNumber
        ? state.previous
        : undefined;
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
          type,
          availableSpace: space.availableSpace,
          totalSpace: space.totalSpace,
          percentageUse: space.percentageUse,
          readBytes: Number(read),
          writeBytes: Number(write),
          readBytesDelta: Number(counterDelta(previous?.read, read)),
          writeBytesDelta: Number(counterDelta(previous?.write, write)),
        },
      };
    } catch (err) {
      return this.#skip(err, describeError(err));
    }
  }

  /**
   * The skip for a failed read: quiet when Deno's permissions refused it (then warned once
   * for the collector), else `reason`, warned per disk.
   */
  #skip(err: unknown, reason: string): Skip {
    return this.#warnIfPermission(err) ? { ok: false, reason, quiet: true } : { ok: false, reason };
  }

  /**
   * Whether `err` is a refusal by Deno's permissions (`--allow-all` needed, or no
   * `--allow-sys=statfs`); if so, warns about it the first time.
   */
  #warnIfPermission(err: unknown): boolean {
    const message = isAllowAllDenial(err)
      ? allowAllMessage(this.#hostRoot)
      : isStatfsDenial(err)
      ? STATFS_PERMISSION_MESSAGE
      : undefined;
    if (message === undefined) return false;
    if (!this.#permissionWarnings.has(message)) {
      this.#permissionWarnings.add(message);
      this.#onWarning(message);
    }
    return true;
  }

  /** Records a disk's new state; warns when it changed (unless `quiet`: already warned). */
  #setState(
    state: DiskState,
    warning: string | undefined,
    reading?: DiskReading,
    quiet = false,
  ): void {
    if (warning !== undefined) {
      if (state.warning !== warning && !quiet) {
        this.#onWarning(
          `disk ${
            JSON.stringify(state.configured)
          }: ${warning}; skipped, checked again every interval`,
        );
      }
      state.warning = warning;
      return;
    }
    if (state.warning !== undefined && reading !== undefined) {
      this.#onWarning(
        `disk ${JSON.stringify(state.configured)}: ${
          state.reported ? "reporting again" : "now reporting"
        } (${reading.name} on ${reading.mountPoint})`,
      );
    }
    state.warning = undefined;
    state.reported = true;
  }

  /** Warns about a problem shared by all disks once per change. */
  #globalWarning(key: string, message: string | undefined): void {
    if (message === undefined) {
      this.#globalWarnings.delete(key);
      return;
    }
    if (this.#globalWarnings.get(key) !== message) this.#onWarning(message);
    this.#globalWarnings.set(key, message);
  }

  /** The mount table, or why every disk is skipped when mountinfo cannot be read. */
  async #readMounts(): Promise<MountTable | Skip> {
    const root = this.#hostRoot;
    const candidates = mountInfoCandidates(root);
    let lastError: unknown;
    let denied: unknown;
    for (const path of candidates) {
      try {
        const text = await readFile(hostPath(root, path), "utf8");
        return new MountTable(root, parseMountInfo(text));
      } catch (err) {
        lastError = err;
        if (isAllowAllDenial(err)) denied = err;
      }
    }
    return this.#skip(
      denied ?? lastError,
      `cannot read ${hostPath(root, candidates.at(-1) ?? "")}: ${describeError(lastError)}`,
    );
  }

  /** `/proc/diskstats` by device number, or `undefined` (with a warning) when unreadable. */
  async #readDiskStats(): Promise<ReadonlyMap<string, DiskStatsEntry> | undefined> {
    const path = hostPath(this.#hostRoot, "/proc/diskstats");
    try {
      const text = await readFile(path, "utf8");
      this.#globalWarning("diskstats", undefined);
      return new Map(parseDiskStats(text).map((e) => [e.devNumber, e]));
    } catch (err) {
      if (this.#warnIfPermission(err)) return undefined;
      this.#globalWarning(
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
    let timedOut = false;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`no answer within ${this.#statfsTimeoutMs} ms`));
      }, this.#statfsTimeoutMs);
    });
    try {
      return await Promise.race([call, limit]);
    } finally {
      clearTimeout(timer);
      if (timedOut) {
        this.#pendingStatfs.add(path);
        call.then(
          () => this.#pendingStatfs.delete(path),
          () => this.#pendingStatfs.delete(path),
        );
      }
    }
  }
}

/**
 * Opens the disk source for `--disks`: warns once when host files cannot be read (see
 * {@link checkHostAccess}) and returns the per-interval reader.
 * @param config `disks` and `hostRoot` of the daemon's configuration.
 * @returns `collect`, one reading per configured disk.
 */
export async function openDisks(
  config: { disks: readonly string[]; hostRoot: string },
): Promise<() => Promise<DiskReading[]>> {
  const log = getLogger(["container-statsd", "disks"]);
  const problem = await checkHostAccess(config.hostRoot);
  if (problem !== null) log.warn(problem);
  const collector = new DiskCollector([...config.disks], {
    hostRoot: config.hostRoot,
    onWarning: (message) => log.warn(message),
  });
  return () => collector.collect();
}
