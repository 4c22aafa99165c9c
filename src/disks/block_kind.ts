/**
 * Pure rules about block devices: device numbers, partition-to-disk naming, and the disk kind
 * (`ssd` / `hdd` / `unknown`) reported in the `type` column.
 *
 * Sources: Documentation/ABI/stable/sysfs-block (`/sys/block/<disk>/queue/rotational`,
 * `/sys/block/<disk>/<part>/partition`, `dev`), Documentation/ABI/testing/sysfs-dev
 * (`/sys/dev/block/MAJ:MIN` symlinks), block/partitions/core.c `add_partition()` (partition
 * names), lib/kobject.c `kobject_set_name_vargs()` (`/` in a name becomes `!` in sysfs),
 * glibc bits/sysmacros.h (`dev_t` encoding).
 *
 * Reading sysfs is done in sysfs.ts; everything here is tested on literal values.
 *
 * @module
 */

/**
 * Kind of the storage behind a disk, the `type` column:
 * - `ssd`: the kernel reports a non-rotational device (`queue/rotational` = 0);
 * - `hdd`: rotational (`queue/rotational` = 1);
 * - `unknown`: no block device (tmpfs, overlay, NFS, ...), no readable `queue/rotational`,
 *   or a virtual/network device whose flag says nothing about the media (see
 *   {@link isVirtualDiskName}).
 */
export type DiskKind = "ssd" | "hdd" | "unknown";

/**
 * Parses `/sys/block/<disk>/queue/rotational`: `"0\n"` is `ssd`, `"1\n"` is `hdd`, anything
 * else `unknown`.
 *
 * Source: Documentation/ABI/stable/sysfs-block, "/sys/block/<disk>/queue/rotational: This
 * file is used to stat if the device is of rotational type or non-rotational type."
 *
 * Never throws.
 */
export function parseRotational(text: string): DiskKind {
  const value = text.trim();
  return value === "0" ? "ssd" : value === "1" ? "hdd" : "unknown";
}

/**
 * Parses a sysfs `dev` attribute (`/sys/class/block/<name>/dev`), `"MAJ:MIN\n"`, into the
 * canonical `"MAJ:MIN"` string (decimal, no leading zeros).
 *
 * Source: Documentation/ABI/stable/sysfs-block, "/sys/block/<disk>/dev".
 *
 * @returns the device number, or `undefined` when the text is not `digits:digits`.
 *
 * Never throws.
 */
export function parseDevNumber(text: string): string | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m === null ? undefined : `${Number(m[1])}:${Number(m[2])}`;
}

/**
 * Splits a Linux `dev_t` (as in `stat().rdev`) into `"MAJ:MIN"`.
 *
 * Source: glibc bits/sysmacros.h `__SYSMACROS_DEFINE_MAJOR/MINOR`:
 * major = ((dev & 0x00000000000fff00) >> 8) | ((dev & 0xfffff00000000000) >> 32),
 * minor = (dev & 0x00000000000000ff) | ((dev & 0x00000ffffff00000) >> 12).
 *
 * Example: `decodeDevT(65024n)` (0xfe00) is `"254:0"`; `decodeDevT(66305n)` is `"259:1"`.
 *
 * @throws {RangeError} when `dev` is a number that is not an integer (from `BigInt`).
 */
export function decodeDevT(dev: bigint | number): string {
  const d = BigInt.asUintN(64, BigInt(dev));
  const major = ((d & 0x00000000000fff00n) >> 8n) | ((d & 0xfffff00000000000n) >> 32n);
  const minor = (d & 0x00000000000000ffn) | ((d & 0x00000ffffff00000n) >> 12n);
  return `${major}:${minor}`;
}

/**
 * The whole disk of a partition, from the target of its sysfs symlink
 * (`readlink /sys/class/block/<part>` or `/sys/dev/block/MAJ:MIN`): a partition's directory
 * is a child of its disk's directory, so the disk is the next-to-last path component.
 *
 * Examples: `"../../devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1/nvme0n1p1"` gives
 * `"nvme0n1"`; `"../../devices/.../block/sda/sda1"` gives `"sda"`.
 *
 * Only meaningful for a partition (a directory with a `partition` attribute); the caller
 * checks that. Source: Documentation/ABI/stable/sysfs-block (`/sys/block/<disk>/<part>`).
 *
 * @returns the parent component, or `undefined` when the target has fewer than two
 *   components.
 *
 * Never throws.
 */
export function parentFromSysfsLink(linkTarget: string): string | undefined {
  const parts = linkTarget.split("/").filter((p) => p.length > 0 && p !== "." && p !== "..");
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

/**
 * The whole disk a partition name belongs to, by the kernel's naming rule, checked against
 * the set of whole disks (`/sys/block/*`): a partition of a disk whose name ends in a digit
 * is `<disk>p<N>` (`nvme0n1p1`, `mmcblk0p1`, `loop0p1`, `md0p1`), otherwise `<disk><N>`
 * (`sda1`, `vda2`, `xvda1`).
 *
 * The check against `wholeDisks` is what makes the rule safe: `loop0` or `dm-0` also end in
 * digits but are whole disks themselves, and `sdb1` is only a partition of `sdb` if `sdb`
 * exists.
 *
 * Source: block/partitions/core.c `add_partition()`:
 * `dev_set_name(pdev, "%s%s%d", dname, isdigit(dname[len-1]) ? "p" : "", partno)`.
 *
 * @returns the disk name, or `undefined` when `name` is itself a whole disk or no listed disk
 *   matches.
 *
 * Never throws.
 */
export function partitionParent(
  name: string,
  wholeDisks: ReadonlySet<string>,
): string | undefined {
  if (wholeDisks.has(name)) return undefined;
  const withP = /^(.*\d)p\d+$/.exec(name);
  if (withP !== null && withP[1] !== undefined && wholeDisks.has(withP[1])) return withP[1];
  const plain = /^(.*\D)\d+$/.exec(name);
  if (plain !== null && plain[1] !== undefined && wholeDisks.has(plain[1])) return plain[1];
  return undefined;
}

/**
 * The `/dev` path of a kernel block device name: sysfs and `/proc/diskstats` write a `/` in
 * a device name as `!` (`cciss!c0d0` is `/dev/cciss/c0d0`).
 *
 * Source: lib/kobject.c `kobject_set_name_vargs()` ("ewww... some of these buggers have '/'
 * in the name ... replace it with '!'").
 *
 * Never throws.
 */
export function devPathOfKernelName(name: string): string {
  return "/dev/" + name.replaceAll("!", "/");
}

const VIRTUAL_DISK =
  /^(loop\d+|ram\d+|zram\d+|nbd\d+|rbd\d+|drbd\d+|vd[a-z]+|xvd[a-z]+|pmem[0-9.]+s?)$/;

/**
 * Whether a whole disk is a virtual or network device whose `queue/rotational` flag is a
 * driver default rather than a fact about the media, so its kind is `unknown`:
 * - `loop*` (file-backed), `nbd*` / `rbd*` / `drbd*` (network), `ram*` / `zram*` / `pmem*`
 *   (memory);
 * - `vd*` (virtio-blk: the virtio-blk configuration space has no rotation information, so
 *   the kernel reports its default, e.g. 1 on the 6.18 build machine, whatever the host
 *   stores the image on) and `xvd*` (Xen blkfront, likewise).
 *
 * Device-mapper (`dm-*`) and MD RAID (`md*`) are deliberately not in this list: they are
 * stacked devices, judged by their members (see {@link combineKinds}), which is what the
 * kernel itself does when it stacks queue limits (block/blk-settings.c
 * `blk_stack_limits()` inherits the rotational feature).
 *
 * Never throws.
 */
export function isVirtualDiskName(wholeDisk: string): boolean {
  return VIRTUAL_DISK.test(wholeDisk);
}

/**
 * Kind of a stacked device (device-mapper, MD RAID) from the kinds of its members
 * (`/sys/block/<disk>/slaves/*`): `unknown` if any member is unknown (e.g. LVM on a loop or
 * virtio disk), else `hdd` if any member is rotational (the kernel's rule: the stack is
 * rotational if any member is), else `ssd`. No members gives `unknown`.
 *
 * Never throws.
 */
export function combineKinds(members: readonly DiskKind[]): DiskKind {
  if (members.length === 0 || members.includes("unknown")) return "unknown";
  return members.includes("hdd") ? "hdd" : "ssd";
}
