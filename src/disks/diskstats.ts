/**
 * Parsing of `/proc/diskstats` (cumulative block-device I/O since boot).
 *
 * Source: Documentation/admin-guide/iostats.rst ("/proc/diskstats" fields) and
 * Documentation/block/stat.rst ("sectors" are standard UNIX 512-byte sectors, not the
 * device's or filesystem's block size).
 *
 * Pure functions only: reading the file is the collector's job.
 *
 * @module
 */

/** Bytes per sector as counted in `/proc/diskstats`: always 512 (Documentation/block/stat.rst). */
export const DISKSTATS_SECTOR_BYTES = 512n;

/** The I/O counters of one `/proc/diskstats` line that the disk table needs. */
export interface DiskStatsEntry {
  /** Column 1: major device number. */
  readonly major: number;
  /** Column 2: minor device number. */
  readonly minor: number;
  /** `"MAJ:MIN"`, the key matched against mountinfo field 3 and `/sys/dev/block/MAJ:MIN`. */
  readonly devNumber: string;
  /** Column 3: kernel device name (`nvme0n1p1`, `sda`, `dm-0`). */
  readonly name: string;
  /** Field 3 of the counters (column 6): sectors read successfully, cumulative since boot. */
  readonly sectorsRead: bigint;
  /** Field 7 of the counters (column 10): sectors written successfully, cumulative since boot. */
  readonly sectorsWritten: bigint;
  /** `sectorsRead` x 512, in bytes. */
  readonly readBytes: bigint;
  /** `sectorsWritten` x 512, in bytes. */
  readonly writeBytes: bigint;
}

const DECIMAL = /^\d+$/;

/**
 * Parses the text of `/proc/diskstats`.
 *
 * Each line is `major minor name` followed by at least 11 counters (kernel 2.6+); 4.18 added
 * 4 discard counters and 5.5 two flush counters, which are ignored. Per iostats.rst the
 * counters are: 1 reads completed, 2 reads merged, 3 sectors read, 4 ms reading, 5 writes
 * completed, 6 writes merged, 7 sectors written, ... Lines with fewer than 14 columns or a
 * non-decimal counter are skipped. Counters are parsed as `bigint` (the kernel prints
 * `unsigned long`), so nothing is rounded.
 *
 * Note (iostats.rst): the counters are not reset, but may wrap on 32-bit kernels; callers
 * computing deltas must handle a counter that goes down.
 *
 * @param text the whole file, as read.
 * @returns entries in file order.
 *
 * Never throws.
 */
export function parseDiskStats(text: string): DiskStatsEntry[] {
  const entries: DiskStatsEntry[] = [];
  for (const line of text.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 14) continue;
    const [majorText, minorText, name, , , sectorsReadText, , , , sectorsWrittenText] = cols;
    if (
      majorText === undefined || minorText === undefined || name === undefined ||
      sectorsReadText === undefined || sectorsWrittenText === undefined ||
      !DECIMAL.test(majorText) || !DECIMAL.test(minorText) ||
      !DECIMAL.test(sectorsReadText) || !DECIMAL.test(sectorsWrittenText)
    ) continue;
    const sectorsRead = BigInt(sectorsReadText);
    const sectorsWritten = BigInt(sectorsWrittenText);
    entries.push({
      major: Number(majorText),
      minor: Number(minorText),
      devNumber: `${Number(majorText)}:${Number(minorText)}`,
      name,
      sectorsRead,
      sectorsWritten,
      readBytes: sectorsRead * DISKSTATS_SECTOR_BYTES,
      writeBytes: sectorsWritten * DISKSTATS_SECTOR_BYTES,
    });
  }
  return entries;
}
