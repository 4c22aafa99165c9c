/**
 * Network traffic of a container from `/proc/<pid>/net/dev` of its init process: the table of
 * its network namespace's interfaces.
 *
 * @module
 */
import { lineAt } from "./_scan.ts";

/** Cumulative network traffic, bytes. */
export interface NetIo {
  /** Bytes received. */
  readonly rx: number;
  /** Bytes sent. */
  readonly tx: number;
}

const ZERO = 48;
const NINE = 57;
const NEWLINE = 10;
/** Column of the transmitted bytes among the 16 counters after `name:`. */
const TX_BYTES_FIELD = 8;

/**
 * Parses `/proc/<pid>/net/dev` and sums received and sent bytes over every interface except
 * the loopback `lo`. The first two lines are headers; each other line is `name:` followed by
 * 8 receive counters (bytes first) and 8 transmit counters (bytes first). A large counter may
 * touch the colon (`eth0:123456`).
 *
 * Sources: kernel net/core/net-procfs.c `dev_seq_printf_stats` (the format); moby
 * daemon/stats_unix.go `getNetworkStats` reports the interfaces libnetwork put in the
 * container's sandbox, never `lo`, and docker/cli stats_helpers.go `calculateNetwork` sums
 * them.
 *
 * @param text the whole file.
 * @returns bytes received and sent.
 * @throws {SyntaxError} for an interface line with fewer than 9 numbers.
 */
export function parseNetDev(text: string): NetIo {
  let rx = 0;
  let tx = 0;
  // Skip the two header lines.
  let start = text.indexOf("\n", text.indexOf("\n") + 1) + 1;
  if (start === 0) return { rx, tx };
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(":", start);
    if (colon > start && colon < end && text.slice(start, colon).trim() !== "lo") {
      let field = 0;
      let value = -1;
      for (let i = colon + 1; i <= end && field <= TX_BYTES_FIELD; i++) {
        const c = i < end ? text.charCodeAt(i) : NEWLINE;
        if (c >= ZERO && c <= NINE) {
          value = (value < 0 ? 0 : value * 10) + (c - ZERO);
        } else if (value >= 0) {
          if (field === 0) rx += value;
          else if (field === TX_BYTES_FIELD) tx += value;
          field++;
          value = -1;
        }
      }
      if (field <= TX_BYTES_FIELD) {
        throw new SyntaxError(`Cannot parse net/dev line "${lineAt(text, start)}"`);
      }
    }
    start = end + 1;
  }
  return { rx, tx };
}
