/**
 * Resolution of a configured disk (`--disks`) to a block device and a mount, against one
 * reading of mountinfo. Done again at every interval, so a disk that appears or is mounted
 * later is picked up.
 *
 * A disk can be given four ways:
 * - a device path, `/dev/nvme0n1p1`;
 * - a symlink to one, `/dev/disk/by-uuid/...` or `/dev/mapper/vg-root`, resolved inside the
 *   host root ({@link resolveUnderRoot});
 * - a mount point, `/`, `/var/lib/docker` (symlinks resolved; it must be a mount point, not
 *   merely a directory on some filesystem: an unmounted `/mnt/data` is "not mounted", never
 *   silently the root filesystem);
 * - a bare kernel device name, `nvme0n1p1`, or a device-mapper name, `vg-root`.
 *
 * Devices are identified by their number `MAJ:MIN` (mountinfo field 3, `/sys/class/block/<name>/dev`,
 * `/proc/diskstats` columns 1-2), which also handles mount sources that name no real node,
 * such as `/dev/root`. For filesystems that report an anonymous `0:N` device in mountinfo
 * (btrfs, for one) the mount source path is resolved instead.
 *
 * @module
 */

import { stat } from "node:fs/promises";
import { decodeDevT, devPathOfKernelName } from "./block_kind.ts";
import { errorCode, hostPath, normalizeHostPath, resolveUnderRoot } from "./host_fs.ts";
import { firstMountOfDevice, type MountInfoEntry, visibleMountAt } from "./mountinfo.ts";
import { findDeviceMapperName, readDevNumberOfName, readKernelName } from "./sysfs.ts";

/** A block device: its kernel name and number. */
export interface BlockDevice {
  /** Kernel name as in `/proc/diskstats` and sysfs (`nvme0n1p1`, `dm-0`, `cciss!c0d0`). */
  readonly kernelName: string;
  /** `"MAJ:MIN"`. */
  readonly devNumber: string;
}

/** A configured disk that was found and is mounted. */
export interface ResolvedDisk {
  /**
   * The `name` column: the device resolved to its `/dev` path (`/dev/nvme0n1p1`,
   * `/dev/dm-0` for `/dev/mapper/vg-root`), or, for a mount without a block device (tmpfs,
   * overlay, NFS), its mount point (`/run`): the mount source (`tmpfs`) would not tell such
   * mounts apart.
   */
  readonly name: string;
  /** The block device, or `undefined` for a mount without one. */
  readonly device: BlockDevice | undefined;
  /** The mount used: for a device, its first mount in mount order; for a mount point, the mount visible there. */
  readonly mount: MountInfoEntry;
}

/** Outcome of {@link resolveDisk}: found, or a one-line reason why not. */
export type DiskResolution =
  | { readonly ok: true; readonly disk: ResolvedDisk }
  | { readonly ok: false; readonly reason: string };

/**
 * Identifies the block device at a host path (`/dev/sda1`, `/dev/mapper/vg-root`,
 * `/dev/root` is not one): first by name in sysfs (`/dev/<a>/<b>` is the kernel name
 * `<a>!<b>`), then a device-mapper name for `/dev/mapper/<name>`, then `stat(2)` of the node
 * under the host root (`st_rdev` of a block device).
 *
 * @param path host path, symlinks already resolved (or not resolvable).
 * @returns the device, or `undefined` when the path is no block device.
 *
 * Never throws.
 */
export async function identifyDevicePath(
  hostRoot: string,
  path: string,
): Promise<BlockDevice | undefined> {
  if (path.startsWith("/dev/") && path.length > 5) {
    const kernelName = path.slice(5).replaceAll("/", "!");
    const devNumber = await readDevNumberOfName(hostRoot, kernelName);
    if (devNumber !== undefined) return { kernelName, devNumber };
    if (path.startsWith("/dev/mapper/")) {
      const dm = await findDeviceMapperName(hostRoot, path.slice("/dev/mapper/".length));
      const dmNumber = dm === undefined ? undefined : await readDevNumberOfName(hostRoot, dm);
      if (dm !== undefined && dmNumber !== undefined) {
        return { kernelName: dm, devNumber: dmNumber };
      }
    }
  }
  try {
    const info = await stat(hostPath(hostRoot, path), { bigint: true });
    if (!info.isBlockDevice()) return undefined;
    const devNumber = decodeDevT(info.rdev);
    const kernelName = await readKernelName(hostRoot, devNumber);
    return kernelName === undefined ? undefined : { kernelName, devNumber };
  } catch {
    return undefined;
  }
}

/** Resolves symlinks in a host path under the root; on failure returns the path unchanged. */
async function resolveOrKeep(hostRoot: string, path: string): Promise<string> {
  try {
    return await resolveUnderRoot(hostRoot, path);
  } catch {
    return path;
  }
}

/**
 * One reading of mountinfo plus the block device behind each entry, computed lazily once:
 * field 3 when its major is not 0, else the mount source resolved as a device path (btrfs
 * reports `0:N` with source `/dev/sda2`), else none (tmpfs, overlay, NFS).
 *
 * Never throws.
 */
export class MountTable {
  /** The entries in mount order. */
  readonly entries: readonly MountInfoEntry[];
  readonly #hostRoot: string;
  #devices: Promise<Map<MountInfoEntry, BlockDevice | undefined>> | undefined;

  /**
   * Wraps one parsed mountinfo; device look-ups happen on the first {@link MountTable.devices} call.
   *
   * @param hostRoot root the host's filesystem is visible at.
   * @param entries parsed mountinfo ({@link parseMountInfo}), in mount order.
   */
  constructor(hostRoot: string, entries: readonly MountInfoEntry[]) {
    this.#hostRoot = hostRoot;
    this.entries = entries;
  }

  /**
   * The block device of every entry (`undefined` for entries without one). For entries with
   * a non-zero major only the number is filled in (`kernelName` is `""`), to spare a sysfs
   * look-up per mount on hosts with many mounts. Never rejects.
   */
  devices(): Promise<Map<MountInfoEntry, BlockDevice | undefined>> {
    this.#devices ??= this.#computeDevices();
    return this.#devices;
  }

  async #computeDevices(): Promise<Map<MountInfoEntry, BlockDevice | undefined>> {
    const root = this.#hostRoot;
    const bySource = new Map<string, Promise<BlockDevice | undefined>>();
    const result = new Map<MountInfoEntry, BlockDevice | undefined>();
    for (const e of this.entries) {
      if (e.major !== 0) {
        // The name is looked up only for the entry actually used (see resolveDisk).
        result.set(e, { kernelName: "", devNumber: e.devNumber });
      } else if (e.source.startsWith("/dev/")) {
        let found = bySource.get(e.source);
        if (found === undefined) {
          found = resolveOrKeep(root, e.source).then((p) => identifyDevicePath(root, p));
          bySource.set(e.source, found);
        }
        result.set(e, await found);
      } else {
        result.set(e, undefined);
      }
    }
    return result;
  }
}

/**
 * Resolves one configured disk against a mount table (see the module documentation for the
 * four forms). Never throws: every failure is a `{ ok: false, reason }` whose reason is one
 * line naming what is missing, e.g. `no block device named "nvme9n1"` or
 * `/dev/sdb1 (8:17) is not mounted`.
 *
 * @param configured the argument as validated by `validateDiskArgument` (absolute path or
 *   bare name).
 */
export async function resolveDisk(
  hostRoot: string,
  configured: string,
  mounts: MountTable,
): Promise<DiskResolution> {
  try {
    return await resolveUnchecked(hostRoot, configured, mounts);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

async function resolveUnchecked(
  hostRoot: string,
  configured: string,
  mounts: MountTable,
): Promise<DiskResolution> {
  if (!configured.startsWith("/")) {
    let device: BlockDevice | undefined;
    const devNumber = await readDevNumberOfName(hostRoot, configured);
    if (devNumber !== undefined) {
      device = { kernelName: configured, devNumber };
    } else {
      const dm = await findDeviceMapperName(hostRoot, configured);
      const dmNumber = dm === undefined ? undefined : await readDevNumberOfName(hostRoot, dm);
      if (dm !== undefined && dmNumber !== undefined) {
        device = { kernelName: dm, devNumber: dmNumber };
      }
    }
    if (device === undefined) {
      return {
        ok: false,
        reason: `no block device named ${JSON.stringify(configured)} in /sys/class/block`,
      };
    }
    return await mountOfDevice(device, mounts);
  }

  const path = normalizeHostPath(configured);
  let resolved: string;
  try {
    resolved = await resolveUnderRoot(hostRoot, path);
  } catch (err) {
    const code = errorCode(err);
    if (!path.startsWith("/dev/")) {
      return {
        ok: false,
        reason: code === "ENOENT"
          ? `${path} does not exist (not mounted?)`
          : `cannot resolve ${path}: ${code ?? String(err)}`,
      };
    }
    resolved = path; // e.g. no /dev under the host root: identify by name in sysfs
  }

  const mounted = visibleMountAt(mounts.entries, resolved);
  if (mounted !== undefined) {
    let device = (await mounts.devices()).get(mounted);
    if (device !== undefined && device.kernelName === "") {
      const kernelName = await readKernelName(hostRoot, device.devNumber);
      // A number without a sysfs entry still identifies the device in /proc/diskstats.
      device = { kernelName: kernelName ?? "", devNumber: device.devNumber };
    }
    return {
      ok: true,
      disk: {
        name: device !== undefined && device.kernelName !== ""
          ? devPathOfKernelName(device.kernelName)
          : mounted.mountPoint,
        device,
        mount: mounted,
      },
    };
  }

  const device = await identifyDevicePath(hostRoot, resolved);
  if (device !== undefined) return await mountOfDevice(device, mounts);
  const shown = resolved === path ? path : `${path} (-> ${resolved})`;
  return {
    ok: false,
    reason: resolved.startsWith("/dev/")
      ? `${shown} is not a block device (not found)`
      : `${shown} is not a mount point (not mounted?)`,
  };
}

async function mountOfDevice(device: BlockDevice, mounts: MountTable): Promise<DiskResolution> {
  const devices = await mounts.devices();
  const mount = firstMountOfDevice(
    mounts.entries,
    device.devNumber,
    (e) => devices.get(e)?.devNumber,
  );
  const name = devPathOfKernelName(device.kernelName);
  if (mount === undefined) {
    return { ok: false, reason: `${name} (${device.devNumber}) is not mounted` };
  }
  return { ok: true, disk: { name, device, mount } };
}
