/**
 * Resolution of a `--disks` value to a block device and a mount, against one reading of
 * mountinfo; done at every interval, so a disk mounted later is picked up. A disk is given as
 * a device path (`/dev/nvme0n1p1`), a link to one (`/dev/disk/by-uuid/...`,
 * `/dev/mapper/vg-root`), a mount point (`/var/lib/docker`; a directory that is not a mount
 * point is "not mounted", never its parent filesystem) or a bare kernel or device-mapper name
 * (`nvme0n1p1`, `vg-root`).
 *
 * Devices are matched by number `MAJ:MIN` (mountinfo field 3, sysfs `dev`, `/proc/diskstats`),
 * so a mount source that names no node (`/dev/root`) still matches; for filesystems with an
 * anonymous `0:N` in mountinfo (btrfs) the mount source is resolved instead.
 *
 * @module
 */

import { errorCode } from "../host/host_root.ts";
import { devPathOfKernelName } from "./block_kind.ts";
import { firstMountOfDevice, type MountInfoEntry, visibleMountAt } from "./mountinfo.ts";
import { type BlockDevice, type SysBlock } from "./sysfs.ts";

/** A configured disk that was found and is mounted. */
export interface ResolvedDisk {
  /**
   * The `name` column: the device's `/dev` path (`/dev/dm-0` for `/dev/mapper/vg-root`), or
   * for a mount without a block device (tmpfs, overlay, NFS) its mount point.
   */
  readonly name: string;
  /** The block device; `undefined` for a mount without one. */
  readonly device: BlockDevice | undefined;
  /** A device's first mount in mount order, or the mount visible at a mount point. */
  readonly mount: MountInfoEntry;
}

/** Outcome of {@link resolveDisk}: found, or a one-line reason why not. */
export type DiskResolution =
  | { readonly ok: true; readonly disk: ResolvedDisk }
  | { readonly ok: false; readonly reason: string };

/** One reading of mountinfo, with the device number of each entry looked up once, lazily. */
export class MountTable {
  /** The entries in mount order. */
  readonly entries: readonly MountInfoEntry[];
  readonly #sys: SysBlock;
  readonly #bySource = new Map<string, Promise<BlockDevice | undefined>>();
  #numbers: Promise<Map<MountInfoEntry, string | undefined>> | undefined;

  /**
   * @param entries parsed mountinfo, in mount order.
   * @param sys where mount sources of `0:N` entries are looked up.
   */
  constructor(entries: readonly MountInfoEntry[], sys: SysBlock) {
    this.entries = entries;
    this.#sys = sys;
  }

  /**
   * The block device of an entry: field 3 unless its major is 0, else its `/dev/...` mount
   * source with symlinks resolved (btrfs: `0:N` with source `/dev/sda2`), else none.
   * `kernelName` is `""` when sysfs does not know the number. Never rejects.
   */
  async deviceOf(entry: MountInfoEntry): Promise<BlockDevice | undefined> {
    if (entry.major !== 0) {
      const kernelName = await this.#sys.nameOf(entry.devNumber);
      return { kernelName: kernelName ?? "", devNumber: entry.devNumber };
    }
    return await this.#sourceDevice(entry);
  }

  /** The first entry in mount order on device `devNumber` (`"MAJ:MIN"`). Never rejects. */
  async firstMountOf(devNumber: string): Promise<MountInfoEntry | undefined> {
    this.#numbers ??= Promise.all(
      this.entries.map(async (e) =>
        [e, e.major !== 0 ? e.devNumber : (await this.#sourceDevice(e))?.devNumber] as const
      ),
    ).then((pairs) => new Map(pairs));
    const numbers = await this.#numbers;
    return firstMountOfDevice(this.entries, devNumber, (e) => numbers.get(e));
  }

  #sourceDevice(entry: MountInfoEntry): Promise<BlockDevice | undefined> {
    if (!entry.source.startsWith("/dev/")) return Promise.resolve(undefined);
    let found = this.#bySource.get(entry.source);
    if (found === undefined) {
      const source = entry.source;
      found = this.#sys.host.resolve(source).catch(() => source).then((p) => this.#sys.atPath(p));
      this.#bySource.set(source, found);
    }
    return found;
  }
}

/**
 * Resolves one configured disk against a mount table, in four steps: a bare name is looked
 * up in sysfs; a path has its symlinks resolved inside the host root; a path that is a mount
 * point gives that mount; any other path must be a block device, whose first mount is used.
 *
 * @param configured as returned by `validateDiskArgument` (normalised absolute path or bare
 *   name).
 * @returns the disk, or a one-line reason (`no block device named "nvme9n1" in
 *   /sys/class/block`, `/dev/sdb1 (8:17) is not mounted`). Never rejects.
 */
export async function resolveDisk(
  configured: string,
  mounts: MountTable,
  sys: SysBlock,
): Promise<DiskResolution> {
  if (!configured.startsWith("/")) {
    const device = await sys.byName(configured);
    return device === undefined
      ? fail(`no block device named ${JSON.stringify(configured)} in /sys/class/block`)
      : await mountOfDevice(device, mounts);
  }

  let resolved = configured;
  try {
    resolved = await sys.host.resolve(configured);
  } catch (err) {
    const code = errorCode(err) ?? String(err);
    // Without /dev under the host root a device path is still identified by name in sysfs.
    if (!configured.startsWith("/dev/")) {
      return fail(
        code === "ENOENT"
          ? `${configured} does not exist (not mounted?)`
          : `cannot resolve ${configured}: ${code}`,
      );
    }
  }

  const mount = visibleMountAt(mounts.entries, resolved);
  if (mount !== undefined) {
    const device = await mounts.deviceOf(mount);
    const name = device !== undefined && device.kernelName !== ""
      ? devPathOfKernelName(device.kernelName)
      : mount.mountPoint;
    return { ok: true, disk: { name, device, mount } };
  }

  const device = await sys.atPath(resolved);
  if (device !== undefined) return await mountOfDevice(device, mounts);
  const shown = resolved === configured ? configured : `${configured} (-> ${resolved})`;
  return fail(
    resolved.startsWith("/dev/")
      ? `${shown} is not a block device (not found)`
      : `${shown} is not a mount point (not mounted?)`,
  );
}

function fail(reason: string): DiskResolution {
  return { ok: false, reason };
}

async function mountOfDevice(device: BlockDevice, mounts: MountTable): Promise<DiskResolution> {
  const mount = await mounts.firstMountOf(device.devNumber);
  const name = devPathOfKernelName(device.kernelName);
  return mount === undefined
    ? fail(`${name} (${device.devNumber}) is not mounted`)
    : { ok: true, disk: { name, device, mount } };
}
