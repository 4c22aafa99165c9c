/**
 * Network traffic of a container from `/proc/<pid>/net/dev` of its init process: the table of
 * its network namespace's interfaces.
 *
 * @module
 */
import { lineAt } from "./_scan.ts";

/** Cumulative network traffic over a container's interfaces. */
export interface NetIo {
  /** Bytes received. */
  readonly rx: number;
  /** Bytes sent. */
  readonly tx: number;
  /** Packets received. */
  readonly rxPackets: number;
  /** Packets sent. */
  readonly txPackets: number;
  /** Receive errors. */
  readonly rxErrors: number;
  /** Transmit errors. */
  readonly txErrors: number;
  /** Received packets dropped. */
  readonly rxDropped: number;
  /** Sent packets dropped. */
  readonly txDropped: number;
}

const ZERO = 48;
const NINE = 57;
const NEWLINE = 10;
/** Last column parsed among the 16 counters after `name:`: the transmit `drop`. */
const TX_DROP_FIELD = 11;

/**
 * Parses `/proc/<pid>/net/dev` and sums over every interface except the loopback `lo`: bytes,
 * packets, errors and drops, received and sent. The first two lines are headers; each other
 * line is `name:` followed by 8 receive counters (bytes, packets, errs, drop, fifo, frame,
 * compressed, multicast) and 8 transmit counters (bytes, packets, errs, drop, fifo, colls,
 * carrier, compressed). A large counter may touch the colon (`eth0:123456`).
 *
 * Sources: kernel net/core/net-procfs.c `dev_seq_printf_stats` (the format);
 * Documentation/filesystems/proc.rst (/proc/net/dev); moby daemon/stats_unix.go
 * `getNetworkStats` reports the interfaces libnetwork put in the container's sandbox, never
 * `lo`, and docker/cli stats_helpers.go `calculateNetwork` sums them.
 *
 * @param text the whole file.
 * @returns the sums.
 * @throws {SyntaxError} for an interface line with fewer than 12 numbers.
 */
export function parseNetDev(text: string): NetIo {
  /** Sums of the columns 0 to {@link TX_DROP_FIELD}. */
  const sums = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  // Skip the two header lines.
  let start = text.indexOf("\n", text.indexOf("\n") + 1) + 1;
  while (start > 0 && start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(":", start);
    if (colon > start && colon < end && text.slice(start, colon).trim() !== "lo") {
      let field = 0;
      let value = -1;
      for (let i = colon + 1; i <= end && field <= TX_DROP_FIELD; i++) {
        const c = i < end ? text.charCodeAt(i) : NEWLINE;
        if (c >= ZERO && c <= NINE) {
          value = (value < 0 ? 0 : value * 10) + (c - ZERO);
        } else if (value >= 0) {
          sums[field] = sums[field]! + value;
          field++;
          value = -1;
        }
      }
      if (field <= TX_DROP_FIELD) {
        throw new SyntaxError(`Cannot parse net/dev line "${lineAt(text, start)}"`);
      }
    }
    start = end + 1;
  }
  const [rx, rxPackets, rxErrors, rxDropped, , , , , tx, txPackets, txErrors, txDropped] = sums;
  return {
    rx: rx!,
    tx: tx!,
    rxPackets: rxPackets!,
    txPackets: txPackets!,
    rxErrors: rxErrors!,
    txErrors: txErrors!,
    rxDropped: rxDropped!,
    txDropped: txDropped!,
  };
}
