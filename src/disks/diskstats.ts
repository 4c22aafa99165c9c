/**
 * Parsing of `/proc/diskstats`, cumulative block-device I/O since boot
 * (Documentation/admin-guide/iostats.rst).
 *
 * @module
 */

/** Bytes per `/proc/diskstats` sector: always 512 (Documentation/block/stat.rst). */
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
 * Parses `/proc/diskstats`: `major minor name` then at least 11 counters (iostats.rst; later
 * discard and flush counters are ignored). A line with fewer than 14 columns or a
 * non-decimal counter is skipped. Counters are `bigint`, unrounded; they may wrap on 32-bit
 * kernels.
 *
 * @param text the whole file.
 * @returns entries in file order. Never throws.
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
