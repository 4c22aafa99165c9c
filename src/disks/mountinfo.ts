/**
 * Parsing of `/proc/[pid]/mountinfo` and the mount look-ups the disk collector needs.
 *
 * Source of the format: proc(5), section /proc/[pid]/mountinfo, and the kernel's
 * fs/proc_namespace.c `show_mountinfo()`, which writes root, mount point and mount source
 * through `mangle()` / `seq_path_root()`: space, tab, newline and backslash become the octal
 * escapes `\040`, `\011`, `\012` and `\134`.
 *
 * Pure functions only: reading the file is the collector's job.
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
  /** Field 4: path of the directory in the filesystem that forms the root of this mount (`/` unless a bind mount of a subtree). */
  readonly root: string;
  /** Field 5: mount point, relative to the process's root directory, unescaped (e.g. `/mnt/my data`). */
  readonly mountPoint: string;
  /** Field 6: per-mount options (`rw,relatime`). */
  readonly mountOptions: string;
  /** Fields 7..: optional fields before the `-` separator (`shared:1`, `master:2`, ...). */
  readonly optionalFields: readonly string[];
  /** Field after `-`: filesystem type, `type[.subtype]` (e.g. `ext4`, `fuse.sshfs`). */
  readonly fsType: string;
  /** Next field: filesystem-specific mount source (`/dev/nvme0n1p1`, `/dev/root`, `tmpfs`, `server:/export`, or `none`). */
  readonly source: string;
  /** Last field: per-superblock options. */
  readonly superOptions: string;
}

const OCTAL_ESCAPE = /\\([0-7]{3})/g;

/**
 * Decodes the octal escapes mountinfo uses in path-like fields: `\040` (space), `\011` (tab),
 * `\012` (newline), `\134` (backslash), and any other `\NNN` the same way. A backslash not
 * followed by three octal digits is kept as is.
 *
 * Example: `unescapeMountField("/mnt/my\\040data")` returns `"/mnt/my data"`.
 *
 * Source: fs/proc_namespace.c `mangle()` (escapes `" \t\n\\"`), proc(5).
 *
 * Never throws.
 */
export function unescapeMountField(field: string): string {
  return field.includes("\\")
    ? field.replace(OCTAL_ESCAPE, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
    : field;
}

const DEV_NUMBER = /^(\d+):(\d+)$/;

/**
 * Parses the text of `/proc/[pid]/mountinfo` into entries, in file order (which is mount
 * order: the kernel lists a namespace's mounts in the order they were attached).
 *
 * Format of a line (proc(5)):
 * `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
 * — mount ID, parent ID, `major:minor`, root, mount point, mount options, zero or more
 * optional fields, a lone `-`, filesystem type, mount source, super options. Fields are
 * separated by single spaces; spaces inside fields are escaped as `\040`.
 *
 * Malformed lines (too few fields, no `-` separator, non-numeric IDs or device number) are
 * skipped rather than failing the whole file, so one odd line never hides the other mounts.
 * A missing super-options field (seen with some FUSE filesystems on old kernels) is read as
 * an empty string.
 *
 * @param text the whole file, as read.
 * @returns the entries in file order; empty for empty text.
 *
 * Never throws.
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
 * The first entry, in mount order, whose device number is `devNumber` (`"MAJ:MIN"`): the
 * rule for a device mounted several times (bind mounts, the same filesystem at two places).
 * The rule: "when a device is mounted several times, its first mount in mount order
 * is used".
 *
 * @param deviceOf optional mapping from an entry to its block device number, for entries
 *   whose field 3 is not the block device (btrfs and other filesystems report an anonymous
 *   `0:N` device; the caller can resolve their mount source instead). Defaults to field 3.
 * @returns the entry, or `undefined` when the device is not mounted.
 *
 * Never throws.
 */
export function firstMountOfDevice(
  entries: readonly MountInfoEntry[],
  devNumber: string,
  deviceOf: (entry: MountInfoEntry) => string | undefined = (e) => e.devNumber,
): MountInfoEntry | undefined {
  return entries.find((e) => deviceOf(e) === devNumber);
}

/**
 * The entry mounted at exactly `mountPoint` that is visible there: when several mounts are
 * stacked on one path (mounted over each other), the last one in mount order hides the others
 * and is the one `statfs(2)` on that path reports.
 *
 * @param mountPoint absolute, normalised path without a trailing slash (except `/`),
 *   symlinks already resolved; compared with the unescaped mount point.
 * @returns the entry, or `undefined` when nothing is mounted at that exact path.
 *
 * Never throws.
 */
export function visibleMountAt(
  entries: readonly MountInfoEntry[],
  mountPoint: string,
): MountInfoEntry | undefined {
  return entries.findLast((e) => e.mountPoint === mountPoint);
}
