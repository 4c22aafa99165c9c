/**
 * Block I/O of a container from its cgroup: bytes (and operations) read and written, summed
 * over devices, as `docker stats` sums them.
 *
 * @module
 */
import { lineAt, numberAt } from "./_scan.ts";

/** Cumulative block I/O of a cgroup: bytes, or operations. */
export interface BlockIo {
  /** Read from block devices. */
  readonly read: number;
  /** Written to block devices. */
  readonly write: number;
}

const NEWLINE = 10;
const SPACE = 32;

/**
 * Parses cgroup v1 `blkio.throttle.io_service_bytes` (bytes) or `blkio.throttle.io_serviced`
 * (operations), which share a format: lines `maj:min Op N` with Op one of Read, Write, Sync,
 * Async, Discard, Total, and a last `Total N` line. Read and Write are summed over devices; the
 * others repeat them and are skipped.
 *
 * Sources: kernel Documentation/admin-guide/cgroup-v1/blkio-controller.rst
 * (blkio.throttle.io_service_bytes, blkio.throttle.io_serviced); containerd cgroups cgroup1/blkio.go reads this file when
 * the CFQ `blkio.io_service_bytes_recursive` is absent or empty (every kernel since 5.0, which
 * removed CFQ); docker/cli stats_helpers.go `calculateBlockIO` sums ops starting with `r`/`R`
 * as read and `w`/`W` as write.
 *
 * @param text the file, e.g. `"8:0 Read 4096\n8:0 Write 8192\n...\nTotal 12288\n"`.
 * @returns bytes (or operations) read and written.
 * @throws {SyntaxError} for a device line whose value is not a number.
 */
export function parseBlkioThrottle(text: string): BlockIo {
  let read = 0;
  let write = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const op = text.indexOf(" ", start);
    if (op > start && op < end) {
      const first = text.charCodeAt(op + 1);
      const isRead = first === 82 || first === 114; // R, r
      const isWrite = first === 87 || first === 119; // W, w
      if (isRead || isWrite) {
        const valueAt = text.indexOf(" ", op + 1);
        const value = valueAt > 0 && valueAt < end ? numberAt(text, valueAt + 1) : NaN;
        if (Number.isNaN(value)) {
          throw new SyntaxError(`Cannot parse blkio line "${lineAt(text, start)}"`);
        }
        if (isRead) read += value;
        else write += value;
      }
    }
    start = end + 1;
  }
  return { read, write };
}

/**
 * Parses cgroup v2 `io.stat` (nested keyed): lines
 * `maj:min rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`, summing `rbytes` and `wbytes`
 * over devices.
 *
 * Sources: kernel Documentation/admin-guide/cgroup-v2.rst "io.stat"; moby
 * daemon/stats_unix.go statsV2 turns each device's rbytes and wbytes into the `read` and
 * `write` entries that docker/cli `calculateBlockIO` sums.
 *
 * @param text the file, e.g. `"8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353\n"`.
 * @returns bytes read and written.
 * @throws {SyntaxError} for an `rbytes=` or `wbytes=` whose value is not a number.
 */
export function parseIoStat(text: string): BlockIo {
  return { read: sumKey(text, "rbytes="), write: sumKey(text, "wbytes=") };
}

/**
 * Parses the operations of cgroup v2 `io.stat`: `rios` and `wios` summed over devices.
 *
 * Source: kernel Documentation/admin-guide/cgroup-v2.rst "io.stat" (rios, wios: "Number of
 * read IOs", "Number of write IOs").
 *
 * @param text the file, as for {@link parseIoStat}.
 * @returns operations read and written.
 * @throws {SyntaxError} for an `rios=` or `wios=` whose value is not a number.
 */
export function parseIoStatOps(text: string): BlockIo {
  return { read: sumKey(text, "rios="), write: sumKey(text, "wios=") };
}

/** Sums the values of `key` (`rbytes=`) over the lines of a nested-keyed file. */
function sumKey(text: string, key: string): number {
  let sum = 0;
  let from = 0;
  for (;;) {
    const at = text.indexOf(key, from);
    if (at < 0) return sum;
    const before = text.charCodeAt(at - 1);
    if (before === SPACE || before === NEWLINE) {
      const value = numberAt(text, at + key.length);
      if (Number.isNaN(value)) throw new SyntaxError(`Cannot parse io.stat "${lineAt(text, at)}"`);
      sum += value;
    }
    from = at + key.length;
  }
}
