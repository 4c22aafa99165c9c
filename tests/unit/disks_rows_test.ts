/**
 * The disk table (src/schema/disks.ts) encoding a DiskReading: column names, types and order
 * of its ILP rows.
 */
import assert from "node:assert/strict";
import type { DiskReading } from "../../src/disks/collector.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { DISK_TABLE } from "../../src/schema/disks.ts";
import { encodeRows } from "../../src/schema/table.ts";

const READING: DiskReading = {
  name: "/dev/nvme0n1p1",
  device: "nvme0n1p1",
  configured: "/dev/disk/by-uuid/0A1B-2C3D",
  fileSystem: "ext4",
  mountPoint: "/mnt/my data",
  type: "ssd",
  availableSpace: 84999999488,
  totalSpace: 270553174016,
  percentageUse: 13.125,
  readBytes: 977518592,
  writeBytes: 884363264,
  readBytesDelta: 4096,
  writeBytesDelta: 0,
};

/** The rows' ILP text; fails the test on a row error. */
function encode(host: string, readings: readonly DiskReading[], timestampNs: bigint): string {
  const enc = new IlpEncoder();
  const onError = (_: DiskReading, e: Error) => assert.fail(e.message);
  encodeRows(enc, DISK_TABLE, "diskStats", readings, timestampNs, { host }, onError);
  return enc.take();
}

Deno.test("disk table: one row per reading with the issue's columns", () => {
  assert.equal(
    encode("node-1", [READING, { ...READING, name: "tmpfs" }], 17n),
    "diskStats,host=node-1,name=/dev/nvme0n1p1,file_system=ext4,mount_point=/mnt/my\\ data," +
      "type=ssd available_space=84999999488i,total_space=270553174016i,percentage_use=13.125," +
      "read_bytes=977518592i,write_bytes=884363264i,read_bytes_delta=4096i," +
      "write_bytes_delta=0i 17\n" +
      "diskStats,host=node-1,name=tmpfs,file_system=ext4,mount_point=/mnt/my\\ data," +
      "type=ssd available_space=84999999488i,total_space=270553174016i,percentage_use=13.125," +
      "read_bytes=977518592i,write_bytes=884363264i,read_bytes_delta=4096i," +
      "write_bytes_delta=0i 17\n",
  );
});

Deno.test("disk table: no readings, no rows", () => {
  assert.equal(encode("h", [], 1n), "");
});

Deno.test("disk table: ILP names, order and types agree with the declaration", () => {
  const line = encode("h", [READING], 1n).trim().replaceAll("\\ ", "_");
  const [series = "", fields = ""] = line.split(" ");
  const columns: [string, string][] = [
    ...series.split(",").slice(1).map((kv): [string, string] => [kv.split("=")[0] ?? "", "SYMBOL"]),
    ...fields.split(",").map((kv): [string, string] => {
      const [k = "", v = ""] = kv.split("=");
      return [k, v.endsWith("i") ? "LONG" : "DOUBLE"];
    }),
  ];
  assert.deepEqual(columns, DISK_TABLE.columns.map((c) => [c.name, c.type]));
});
