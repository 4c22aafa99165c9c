/**
 * Parsing of `/proc/[pid]/mountinfo` (proc(5); fs/proc_namespace.c `show_mountinfo()`) and
 * the mount look-ups the disk source needs.
 *
 * @module
 */

/** One line of `/proc/[pid]/mountinfo`, with escapes decoded. */
export interface MountInfoEntry {
  /** Field 1: unique mount ID (may be reused after umount). */
  readonly mountId: number;
  /** Field 2: mount ID of the parent mount (itself for the root of the namespace). */
  readonly parentId: number;
  /** Field 3, left of the colon: major device number of `st_dev` for files on this filesystem. */
  readonly major: number;
  /** Field 3, right of the colon: minor device number. */
  readonly minor: number;
  /** Field 3 as written, `"MAJ:MIN"`; the key used to match `/proc/diskstats` and `/sys/dev/block`. */
  readonly devNumber: string;
  /** Field 4: root of the mount within its filesystem (`/` unless a bind of a subtree). */
  readonly root: string;
  /** Field 5: mount point, unescaped (`/mnt/my data`). */
  readonly mountPoint: string;
  /** Field 6: per-mount options (`rw,relatime`). */
  readonly mountOptions: string;
  /** Fields 7..: optional fields before the `-` separator (`shared:1`, `master:2`, ...). */
  readonly optionalFields: readonly string[];
  /** Field after `-`: filesystem type, `type[.subtype]` (e.g. `ext4`, `fuse.sshfs`). */
  readonly fsType: string;
  /** Next field: mount source (`/dev/nvme0n1p1`, `/dev/root`, `tmpfs`, `server:/export`). */
  readonly source: string;
  /** Last field: per-superblock options. */
  readonly superOptions: string;
}

const OCTAL_ESCAPE = /\\([0-7]{3})/g;

/**
 * Decodes the octal escapes `\NNN` of mountinfo's path fields (fs/proc_namespace.c `mangle()`
 * escapes space, tab, newline, backslash): `"/mnt/my\\040data"` is `"/mnt/my data"`. A
 * backslash without three octal digits stays. Never throws.
 */
export function unescapeMountField(field: string): string {
  return field.includes("\\")
    ? field.replace(OCTAL_ESCAPE, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
    : field;
}

const DEV_NUMBER = /^(\d+):(\d+)$/;

/**
 * Parses `/proc/[pid]/mountinfo` lines such as
 * `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue` (proc(5)).
 * A malformed line is skipped; a missing super-options field reads as `""`.
 *
 * @param text the whole file.
 * @returns the entries in file order, which is mount order. Never throws.
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.length === 0) continue;
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (separator < 0 || fields.length < separator + 3) continue;
    const [idText, parentText, devText, root, mountPoint, mountOptions] = fields;
    if (
      idText === undefined || parentText === undefined || devText === undefined ||
      root === undefined || mountPoint === undefined || mountOptions === undefined
    ) continue;
    const dev = DEV_NUMBER.exec(devText);
    if (dev === null || !/^\d+$/.test(idText) || !/^\d+$/.test(parentText)) continue;
    const fsType = fields[separator + 1] ?? "";
    const source = fields[separator + 2] ?? "";
    entries.push({
      mountId: Number(idText),
      parentId: Number(parentText),
      major: Number(dev[1]),
      minor: Number(dev[2]),
      devNumber: devText,
      root: unescapeMountField(root),
      mountPoint: unescapeMountField(mountPoint),
      mountOptions,
      optionalFields: fields.slice(6, separator),
      fsType: unescapeMountField(fsType),
      source: unescapeMountField(source),
      superOptions: fields[separator + 3] ?? "",
    });
  }
  return entries;
}

/**
 * The first entry in mount order on device `devNumber` (`"MAJ:MIN"`): a device mounted
 * several times (bind mounts) is reported at its first mount.
 *
 * @param deviceOf an entry's device number; default field 3 (a caller maps btrfs's
 *   anonymous `0:N` to its source's device).
 * @returns the entry, or `undefined` when the device is not mounted. Never throws.
 */
export function firstMountOfDevice(
  entries: readonly MountInfoEntry[],
  devNumber: string,
  deviceOf: (entry: MountInfoEntry) => string | undefined = (e) => e.devNumber,
): MountInfoEntry | undefined {
  return entries.find((e) => deviceOf(e) === devNumber);
}

/**
 * The entry visible at exactly `mountPoint`: of mounts stacked on one path, the last in
 * mount order, which `statfs(2)` reports.
 *
 * @param mountPoint normalised path, symlinks resolved.
 * @returns the entry, or `undefined` when nothing is mounted there. Never throws.
 */
export function visibleMountAt(
  entries: readonly MountInfoEntry[],
  mountPoint: string,
): MountInfoEntry | undefined {
  return entries.findLast((e) => e.mountPoint === mountPoint);
}
