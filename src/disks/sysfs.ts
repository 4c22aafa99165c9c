/**
 * Reading block-device facts from sysfs under the host root: device numbers, names,
 * partition parents and the disk kind. Parsing is in block_kind.ts.
 *
 * Every function here returns `undefined` / `"unknown"` instead of throwing when a file is
 * missing or unreadable: a sysfs layout that lacks something only makes the answer less
 * precise, it never stops the daemon.
 *
 * Sources: Documentation/ABI/stable/sysfs-block, Documentation/ABI/testing/sysfs-dev.
 *
 * @module
 */

import { readdir, readFile, readlink, stat } from "node:fs/promises";
import {
  combineKinds,
  type DiskKind,
  isVirtualDiskName,
  parentFromSysfsLink,
  parseDevNumber,
  parseRotational,
  partitionParent,
} from "./block_kind.ts";
import { hostPath } from "./host_fs.ts";

/** Stacked devices (dm on md on dm ...) are followed at most this deep. */
const MAX_STACK_DEPTH = 8;

async function readText(hostRoot: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(hostPath(hostRoot, path), "utf8");
  } catch {
    return undefined;
  }
}

async function exists(hostRoot: string, path: string): Promise<boolean> {
  try {
    await stat(hostPath(hostRoot, path));
    return true;
  } catch {
    return false;
  }
}

async function list(hostRoot: string, path: string): Promise<string[]> {
  try {
    return await readdir(hostPath(hostRoot, path));
  } catch {
    return [];
  }
}

/** True for names that cannot address a sysfs entry safely (`.`, `..`, containing `/`). */
function unsafeName(name: string): boolean {
  return name.length === 0 || name === "." || name === ".." || name.includes("/");
}

/**
 * The device number of a kernel block device name, from `/sys/class/block/<name>/dev`.
 *
 * @param name kernel name (`nvme0n1p1`, `sda`, `dm-0`; `!` for `/`, as sysfs writes it).
 * @returns `"MAJ:MIN"`, or `undefined` when there is no such block device.
 *
 * Never throws.
 */
export async function readDevNumberOfName(
  hostRoot: string,
  name: string,
): Promise<string | undefined> {
  if (unsafeName(name)) return undefined;
  const text = await readText(hostRoot, `/sys/class/block/${name}/dev`);
  return text === undefined ? undefined : parseDevNumber(text);
}

/**
 * The kernel name of a block device number: the last component of the
 * `/sys/dev/block/MAJ:MIN` symlink (Documentation/ABI/testing/sysfs-dev). Resolves names
 * mountinfo cannot give, such as the `/dev/root` source of `/`.
 *
 * @param devNumber `"MAJ:MIN"`.
 * @returns the name (`nvme0n1p2`), or `undefined` when the number is not a block device
 *   (e.g. the anonymous `0:N` of tmpfs or overlay).
 *
 * Never throws.
 */
export async function readKernelName(
  hostRoot: string,
  devNumber: string,
): Promise<string | undefined> {
  if (!/^\d+:\d+$/.test(devNumber)) return undefined;
  try {
    const target = await readlink(hostPath(hostRoot, `/sys/dev/block/${devNumber}`));
    const name = target.split("/").filter((p) => p.length > 0).pop();
    return name === undefined || name === ".." || name === "." ? undefined : name;
  } catch {
    return undefined;
  }
}

/**
 * The device-mapper device (`dm-N`) whose `dm/name` is `dmName` (the name under
 * `/dev/mapper/`, e.g. `vg-root`), for configured names that are not kernel names.
 *
 * Source: Documentation/ABI/testing/sysfs-block-dm (`/sys/block/dm-<num>/dm/name`).
 *
 * @returns the kernel name, or `undefined` when no device-mapper device has that name.
 *
 * Never throws.
 */
export async function findDeviceMapperName(
  hostRoot: string,
  dmName: string,
): Promise<string | undefined> {
  for (const disk of await list(hostRoot, "/sys/block")) {
    if (!disk.startsWith("dm-")) continue;
    const name = await readText(hostRoot, `/sys/block/${disk}/dm/name`);
    if (name !== undefined && name.trim() === dmName) return disk;
  }
  return undefined;
}

/**
 * The whole disk of a block device: the device itself, or for a partition (a
 * `/sys/class/block/<name>/partition` attribute exists) its parent disk. The parent comes
 * from the sysfs layout: first the `/sys/class/block/<part>` symlink's parent directory
 * ({@link parentFromSysfsLink}); if that link cannot be read, the kernel naming rule
 * ({@link partitionParent}) checked against `/sys/block/<disk>/<part>`.
 *
 * @param name kernel name of the device.
 * @returns the whole disk's kernel name; `name` itself when it is not a partition or the
 *   parent cannot be found.
 *
 * Never throws.
 */
export async function readWholeDisk(hostRoot: string, name: string): Promise<string> {
  if (unsafeName(name)) return name;
  if (!(await exists(hostRoot, `/sys/class/block/${name}/partition`))) return name;
  try {
    const target = await readlink(hostPath(hostRoot, `/sys/class/block/${name}`));
    const parent = parentFromSysfsLink(target);
    if (parent !== undefined && (await exists(hostRoot, `/sys/block/${parent}/${name}`))) {
      return parent;
    }
  } catch {
    // not a symlink (a copied sysfs tree): fall through to the naming rule
  }
  const disks = new Set(await list(hostRoot, "/sys/block"));
  const parent = partitionParent(name, disks);
  if (parent !== undefined && (await exists(hostRoot, `/sys/block/${parent}/${name}`))) {
    return parent;
  }
  return name;
}

/**
 * The kind of the disk behind a block device (the `type` column), by these rules in order:
 * 1. a partition is judged by its whole disk ({@link readWholeDisk});
 * 2. a virtual or network disk ({@link isVirtualDiskName}: loop, nbd, rbd, zram, virtio,
 *    Xen, ...) is `unknown`;
 * 3. a stacked disk with members in `/sys/block/<disk>/slaves/` (device-mapper, MD RAID) is
 *    judged by its members ({@link combineKinds}), recursively;
 * 4. otherwise `/sys/block/<disk>/queue/rotational` ({@link parseRotational}); a missing or
 *    unreadable file is `unknown`.
 *
 * Sources: Documentation/ABI/stable/sysfs-block (`queue/rotational`, `slaves/`).
 *
 * @param name kernel name of the device (partition or whole disk).
 *
 * Never throws.
 */
export async function readDiskKind(hostRoot: string, name: string, depth = 0): Promise<DiskKind> {
  if (unsafeName(name) || depth > MAX_STACK_DEPTH) return "unknown";
  const disk = await readWholeDisk(hostRoot, name);
  if (isVirtualDiskName(disk)) return "unknown";
  const members = await list(hostRoot, `/sys/block/${disk}/slaves`);
  if (members.length > 0) {
    const kinds = await Promise.all(members.map((m) => readDiskKind(hostRoot, m, depth + 1)));
    return combineKinds(kinds);
  }
  const rotational = await readText(hostRoot, `/sys/block/${disk}/queue/rotational`);
  return rotational === undefined ? "unknown" : parseRotational(rotational);
}
