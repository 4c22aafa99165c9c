/**
 * Pure rules about block devices: device numbers, partition-to-disk naming, and the disk kind
 * of the `type` column. sysfs.ts reads the files they apply to.
 *
 * @module
 */

/**
 * The `type` column: `ssd` (`queue/rotational` 0), `hdd` (1), or `unknown` (no block device,
 * no readable flag, or a virtual disk, {@link isVirtualDiskName}).
 */
export type DiskKind = "ssd" | "hdd" | "unknown";

/**
 * Parses `/sys/block/<disk>/queue/rotational` (Documentation/ABI/stable/sysfs-block): `"0\n"`
 * is `ssd`, `"1\n"` is `hdd`, anything else `unknown`. Never throws.
 */
export function parseRotational(text: string): DiskKind {
  const value = text.trim();
  return value === "0" ? "ssd" : value === "1" ? "hdd" : "unknown";
}

/**
 * Parses a sysfs `dev` attribute, `"MAJ:MIN\n"` (Documentation/ABI/stable/sysfs-block).
 *
 * @returns `"MAJ:MIN"` in decimal without leading zeros, or `undefined` when the text is not
 *   `digits:digits`. Never throws.
 */
export function parseDevNumber(text: string): string | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m === null ? undefined : `${Number(m[1])}:${Number(m[2])}`;
}

/**
 * Splits a Linux `dev_t` (`stat().rdev`) into `"MAJ:MIN"`, as glibc bits/sysmacros.h
 * `__SYSMACROS_DEFINE_MAJOR/MINOR`: `decodeDevT(65024n)` is `"254:0"`.
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
 * The whole disk of a partition from its sysfs link target (`/sys/class/block/<part>`): a
 * partition's directory is a child of its disk's (Documentation/ABI/stable/sysfs-block), so
 * `"../../devices/.../block/sda/sda1"` gives `"sda"`.
 *
 * @returns the next-to-last component, or `undefined` when there are fewer than two.
 *   Never throws.
 */
export function parentFromSysfsLink(linkTarget: string): string | undefined {
  const parts = linkTarget.split("/").filter((p) => p.length > 0 && p !== "." && p !== "..");
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

/**
 * The whole disk of a partition name by the kernel's naming rule (block/partitions/core.c
 * `add_partition()`): `<disk>p<N>` when the disk's name ends in a digit (`nvme0n1p1`),
 * else `<disk><N>` (`sda1`). Only disks in `wholeDisks` (`/sys/block/*`) count, so `loop0`
 * is no partition.
 *
 * @returns the disk, or `undefined` when `name` is a whole disk or no listed disk matches.
 *   Never throws.
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
 * The `/dev` path of a kernel name; sysfs writes `/` as `!` (lib/kobject.c
 * `kobject_set_name_vargs()`), so `cciss!c0d0` is `/dev/cciss/c0d0`. Never throws.
 */
export function devPathOfKernelName(name: string): string {
  return "/dev/" + name.replaceAll("!", "/");
}

const VIRTUAL_DISK =
  /^(loop\d+|ram\d+|zram\d+|nbd\d+|rbd\d+|drbd\d+|vd[a-z]+|xvd[a-z]+|pmem[0-9.]+s?)$/;

/**
 * Whether a whole disk's `queue/rotational` is a driver default rather than a fact about the
 * media, so its kind is `unknown`: loop, nbd, rbd, drbd, ram, zram, pmem, and virtio-blk
 * (`vd*`) and Xen (`xvd*`), whose protocols carry no rotation information. Device-mapper and
 * MD RAID are judged by their members instead ({@link combineKinds}). Never throws.
 */
export function isVirtualDiskName(wholeDisk: string): boolean {
  return VIRTUAL_DISK.test(wholeDisk);
}

/**
 * Kind of a stacked device from its members' (`/sys/block/<disk>/slaves/*`): `unknown` if
 * none or any is unknown, else `hdd` if any is rotational (as block/blk-settings.c
 * `blk_stack_limits()` stacks the flag), else `ssd`. Never throws.
 */
export function combineKinds(members: readonly DiskKind[]): DiskKind {
  if (members.length === 0 || members.includes("unknown")) return "unknown";
  return members.includes("hdd") ? "hdd" : "ssd";
}
