/**
 * Block-device facts read from sysfs under the host root: numbers, names, partition parents
 * and the disk kind. The rules are in block_kind.ts.
 *
 * Sources: Documentation/ABI/stable/sysfs-block, Documentation/ABI/testing/sysfs-dev,
 * Documentation/ABI/testing/sysfs-block-dm.
 *
 * @module
 */

import { type HostRoot } from "../host/host_root.ts";
import {
  combineKinds,
  decodeDevT,
  type DiskKind,
  isVirtualDiskName,
  parentFromSysfsLink,
  parseDevNumber,
  parseRotational,
  partitionParent,
} from "./block_kind.ts";

/** A block device. */
export interface BlockDevice {
  /** Kernel name as in `/proc/diskstats` and sysfs (`nvme0n1p1`, `dm-0`, `cciss!c0d0`). */
  readonly kernelName: string;
  /** `"MAJ:MIN"`. */
  readonly devNumber: string;
}

/** Stacked devices (dm on md on dm ...) are followed at most this deep. */
const MAX_STACK_DEPTH = 8;

/** Names that cannot address a sysfs entry safely (empty, `.`, `..`, containing `/`). */
function unsafeName(name: string): boolean {
  return name.length === 0 || name === "." || name === ".." || name.includes("/");
}

/**
 * sysfs's block devices under one host root. No method throws: a missing or unreadable file
 * makes the answer `undefined` or `"unknown"`.
 */
export class SysBlock {
  /** The reader everything here goes through. */
  readonly host: HostRoot;

  /** @param host the host root to read `/sys` (and `/dev` for {@link SysBlock.atPath}) under. */
  constructor(host: HostRoot) {
    this.host = host;
  }

  /**
   * The device with a kernel name (`nvme0n1p1`, `dm-0`; `!` for `/`), from
   * `/sys/class/block/<name>/dev`, else with a device-mapper name (`vg-root`, the name under
   * `/dev/mapper/`), from `/sys/block/dm-*\/dm/name`.
   *
   * @returns the device, or `undefined` when there is none by that name.
   */
  async byName(name: string): Promise<BlockDevice | undefined> {
    return await this.#byKernelName(name) ?? await this.#byDeviceMapperName(name);
  }

  /**
   * The kernel name of a device number: the last component of the `/sys/dev/block/MAJ:MIN`
   * symlink (sysfs-dev). Names what mountinfo cannot, such as the `/dev/root` source of `/`.
   *
   * @param devNumber `"MAJ:MIN"`.
   * @returns the name, or `undefined` for a number that is no block device (`0:N` of tmpfs).
   */
  async nameOf(devNumber: string): Promise<string | undefined> {
    if (!/^\d+:\d+$/.test(devNumber)) return undefined;
    const target = await this.host.readLink(`/sys/dev/block/${devNumber}`).catch(() => "");
    const name = target.split("/").filter((p) => p.length > 0).pop();
    return name === undefined || unsafeName(name) ? undefined : name;
  }

  /**
   * The block device at a host path whose symlinks are already resolved: `/dev/<a>/<b>` by its
   * kernel name `<a>!<b>`, `/dev/mapper/<name>` by its device-mapper name, else `st_rdev` of
   * the node (`/dev/root` is not a node).
   *
   * @returns the device, or `undefined` when the path is no block device.
   */
  async atPath(path: string): Promise<BlockDevice | undefined> {
    if (path.startsWith("/dev/") && path.length > 5) {
      const device = await this.#byKernelName(path.slice(5).replaceAll("/", "!")) ??
        (path.startsWith("/dev/mapper/")
          ? await this.#byDeviceMapperName(path.slice("/dev/mapper/".length))
          : undefined);
      if (device !== undefined) return device;
    }
    const info = await this.host.stat(path).catch(() => undefined);
    if (info === undefined || !info.isBlockDevice()) return undefined;
    const devNumber = decodeDevT(info.rdev);
    const kernelName = await this.nameOf(devNumber);
    return kernelName === undefined ? undefined : { kernelName, devNumber };
  }

  /**
   * The whole disk of a partition (it has a `partition` attribute): the parent directory of
   * its `/sys/class/block/<part>` link ({@link parentFromSysfsLink}), else the kernel naming
   * rule ({@link partitionParent}); either must list `/sys/block/<disk>/<part>`.
   *
   * @returns the disk's kernel name; `name` itself for a whole disk or an unknown parent.
   */
  async wholeDisk(name: string): Promise<string> {
    if (unsafeName(name) || !(await this.#exists(`/sys/class/block/${name}/partition`))) {
      return name;
    }
    const link = await this.host.readLink(`/sys/class/block/${name}`).catch(() => undefined);
    const candidates = [
      link === undefined ? undefined : parentFromSysfsLink(link),
      partitionParent(name, new Set(await this.#list("/sys/block"))),
    ];
    for (const parent of candidates) {
      if (parent !== undefined && (await this.#exists(`/sys/block/${parent}/${name}`))) {
        return parent;
      }
    }
    return name;
  }

  /**
   * The `type` column of a device, by these rules in order: a partition is judged by its
   * whole disk; a virtual or network disk ({@link isVirtualDiskName}) is `unknown`; a stacked
   * disk (device-mapper, MD RAID) by its members in `/sys/block/<disk>/slaves/`
   * ({@link combineKinds}); otherwise `/sys/block/<disk>/queue/rotational`, `unknown` when
   * unreadable.
   *
   * @param name kernel name (partition or whole disk).
   */
  async kind(name: string, depth = 0): Promise<DiskKind> {
    if (unsafeName(name) || depth > MAX_STACK_DEPTH) return "unknown";
    const disk = await this.wholeDisk(name);
    if (isVirtualDiskName(disk)) return "unknown";
    const members = await this.#list(`/sys/block/${disk}/slaves`);
    if (members.length > 0) {
      return combineKinds(await Promise.all(members.map((m) => this.kind(m, depth + 1))));
    }
    const rotational = await this.#text(`/sys/block/${disk}/queue/rotational`);
    return rotational === undefined ? "unknown" : parseRotational(rotational);
  }

  async #byKernelName(name: string): Promise<BlockDevice | undefined> {
    if (unsafeName(name)) return undefined;
    const text = await this.#text(`/sys/class/block/${name}/dev`);
    const devNumber = text === undefined ? undefined : parseDevNumber(text);
    return devNumber === undefined ? undefined : { kernelName: name, devNumber };
  }

  async #byDeviceMapperName(dmName: string): Promise<BlockDevice | undefined> {
    const disks = (await this.#list("/sys/block")).filter((d) => d.startsWith("dm-"));
    for (const disk of disks) {
      const name = await this.#text(`/sys/block/${disk}/dm/name`);
      if (name?.trim() === dmName) return await this.#byKernelName(disk);
    }
    return undefined;
  }

  #text(abs: string): Promise<string | undefined> {
    return this.host.readText(abs).catch(() => undefined);
  }

  #list(abs: string): Promise<string[]> {
    return this.host.readDir(abs).catch(() => []);
  }

  #exists(abs: string): Promise<boolean> {
    return this.host.stat(abs).then(() => true, () => false);
  }
}
