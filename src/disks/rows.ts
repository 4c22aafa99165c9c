/**
 * ILP rows of the disk table (`--disk-table`, default `diskStats`).
 *
 * @module
 */

import type { IlpEncoder } from "../ilp/encoder.ts";
import type { DiskReading } from "./collector.ts";

/**
 * Appends one row per reading, all with the same designated timestamp:
 *
 * `<table>,host=<host>,name=<name>,file_system=<fs>,mount_point=<mp>,type=<ssd|hdd|unknown>
 * available_space=<bytes>i,total_space=<bytes>i,percentage_use=<double>,read_bytes=<bytes>i,
 * write_bytes=<bytes>i,read_bytes_delta=<bytes>i,write_bytes_delta=<bytes>i <timestampNs>`
 *
 * Columns and types are the issue's: SYMBOL host (`--node`), name, file_system, mount_point,
 * type; LONG sizes and byte counters; DOUBLE percentage_use. Does nothing for no readings.
 *
 * @param encoder the ILP encoder the rows are appended to.
 * @param table table name (`diskStats`).
 * @param host value of the `host` symbol (`--node`).
 * @param readings from `DiskCollector.collect()`.
 * @param timestampNs designated timestamp, nanoseconds since the Unix epoch.
 * @throws {RangeError} or {TypeError} from the encoder (invalid table name, a non-integer or
 *   out-of-range LONG, a non-finite double); the row in progress is then discarded by the
 *   encoder and the rows before it are kept.
 */
export function encodeDiskRows(
  encoder: IlpEncoder,
  table: string,
  host: string,
  readings: readonly DiskReading[],
  timestampNs: bigint,
): void {
  for (const r of readings) {
    encoder
      .table(table)
      .symbol("host", host)
      .symbol("name", r.name)
      .symbol("file_system", r.fileSystem)
      .symbol("mount_point", r.mountPoint)
      .symbol("type", r.type)
      .intColumn("available_space", r.availableSpace)
      .intColumn("total_space", r.totalSpace)
      .floatColumn("percentage_use", r.percentageUse)
      .intColumn("read_bytes", r.readBytes)
      .intColumn("write_bytes", r.writeBytes)
      .intColumn("read_bytes_delta", r.readBytesDelta)
      .intColumn("write_bytes_delta", r.writeBytesDelta)
      .at(timestampNs);
  }
}
