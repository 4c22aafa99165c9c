/**
 * encodeDiskRows: column names, types and order of the disk table's ILP rows.
 */
import assert from "node:assert/strict";
import type { DiskReading } from "../../src/disks/collector.ts";
import { encodeDiskRows } from "../../src/disks/rows.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { DISK_COLUMNS } from "../../src/schema/disk_table.ts";

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

Deno.test("encodeDiskRows: one row per reading with the issue's columns", () => {
  const enc = new IlpEncoder();
  encodeDiskRows(enc, "diskStats", "node-1", [READING, { ...READING, name: "tmpfs" }], 17n);
  assert.equal(
    enc.take(),
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

Deno.test("encodeDiskRows: no readings, no rows", () => {
  const enc = new IlpEncoder();
  encodeDiskRows(enc, "diskStats", "h", [], 1n);
  assert.equal(enc.take(), "");
});

Deno.test("encodeDiskRows: names, order and types agree with src/schema/disk_table.ts", () => {
  const enc = new IlpEncoder();
  encodeDiskRows(enc, "diskStats", "h", [READING], 1n);
  const line = enc.take().trim().replaceAll("\\ ", "_");
  const [series = "", fields = ""] = line.split(" ");
  const columns: [string, string][] = [
    ...series.split(",").slice(1).map((kv): [string, string] => [kv.split("=")[0] ?? "", "SYMBOL"]),
    ...fields.split(",").map((kv): [string, string] => {
      const [k = "", v = ""] = kv.split("=");
      return [k, v.endsWith("i") ? "LONG" : "DOUBLE"];
    }),
  ];
  assert.deepEqual(columns, DISK_COLUMNS.filter(([name]) => name !== "timestamp"));
});
