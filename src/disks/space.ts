/**
 * Filesystem space from `statfs(2)` numbers, computed as `df` does.
 *
 * Source: coreutils src/df.c `get_dev()` (size, used, available and the Use% column) and
 * gnulib lib/fsusage.c (block size: `f_frsize`, or `f_bsize` where there is none).
 *
 * @module
 */

/** The `statfs` fields used, as node's `fs.statfs(path, { bigint: true })` returns them. */
export interface StatFsNumbers {
  /** `f_bsize`: block size in bytes as node reports it (the preferred I/O size on Linux). */
  readonly bsize: bigint;
  /** `f_frsize`: bytes per block of the counts (POSIX statvfs(3)); Deno reports it, Node not. */
  readonly frsize?: bigint;
  /** `f_blocks`: size of the filesystem in `frsize` units. */
  readonly blocks: bigint;
  /** `f_bfree`: free blocks, including those reserved for root. */
  readonly bfree: bigint;
  /** `f_bavail`: free blocks available to unprivileged users. */
  readonly bavail: bigint;
}

/** Space figures of one filesystem, in bytes and percent. */
export interface FsSpace {
  /** Bytes available to unprivileged users: `f_bavail` x block size (df's Avail). */
  readonly availableSpace: number;
  /** Size of the filesystem in bytes: `f_blocks` x block size (df's Size / 1B-blocks). */
  readonly totalSpace: number;
  /**
   * Percent, unrounded: used / (used + available) x 100, used = `f_blocks` - `f_bfree` (df's
   * Use%, which df rounds up). Blocks reserved for root count as neither. 0 when the sum is 0.
   */
  readonly percentageUse: number;
}

/**
 * Computes {@link FsSpace} from statfs numbers, in blocks of `frsize` when non-zero, else
 * `bsize` (gnulib fsusage.c). Bytes are exact up to 2^53 (8 PiB); `f_bfree` > `f_blocks`
 * counts as 0 used. Never throws.
 */
export function computeSpace(s: StatFsNumbers): FsSpace {
  const blockSize = s.frsize !== undefined && s.frsize > 0n ? s.frsize : s.bsize;
  const usedBlocks = s.blocks > s.bfree ? s.blocks - s.bfree : 0n;
  const nonRootTotal = usedBlocks + s.bavail;
  return {
    availableSpace: Number(s.bavail * blockSize),
    totalSpace: Number(s.blocks * blockSize),
    percentageUse: nonRootTotal === 0n ? 0 : (Number(usedBlocks) * 100) / Number(nonRootTotal),
  };
}
