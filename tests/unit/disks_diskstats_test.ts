/**
 * parseDiskStats on literal /proc/diskstats text (Documentation/admin-guide/iostats.rst).
 */
import assert from "node:assert/strict";
import { parseDiskStats } from "../../src/disks/diskstats.ts";

// Kernel 5.5+ layout (3 + 17 columns), as on a host with NVMe, SCSI, dm and MMC devices.
const MODERN = `
 259       0 nvme0n1 100000 2000 9000000 8000 50000 3000 7000000 9000 0 30000 17000 100 0 2048 3 400 60
 259       1 nvme0n1p1 300 0 12000 20 2 0 16 1 0 15 21 0 0 0 0 0 0
   8       0 sda 9000 10 800000 500 4000 20 600000 900 0 1000 1400 0 0 0 0 50 10
   8       1 sda1 5000 5 300000 200 2000 10 200000 400 0 500 600 0 0 0 0 0 0
 253       0 dm-0 3800 0 498000 300 2010 0 400000 520 0 510 820 0 0 0 0 0 0
 179       1 mmcblk0p1 200 0 6000 80 50 0 800 20 0 70 100 0 0 0 0 0 0
`;

Deno.test("parseDiskStats: sectors read/written (counter fields 3 and 7) x 512", () => {
  const entries = parseDiskStats(MODERN);
  assert.equal(entries.length, 6);
  assert.deepEqual(entries[0], {
    major: 259,
    minor: 0,
    devNumber: "259:0",
    name: "nvme0n1",
    sectorsRead: 9000000n,
    sectorsWritten: 7000000n,
    readBytes: 9000000n * 512n,
    writeBytes: 7000000n * 512n,
  });
});

Deno.test("parseDiskStats: nvme partitions, sd partitions, dm and mmc names", () => {
  const byName = new Map(parseDiskStats(MODERN).map((e) => [e.name, e]));
  assert.equal(byName.get("nvme0n1p1")?.devNumber, "259:1");
  assert.equal(byName.get("nvme0n1p1")?.writeBytes, 16n * 512n);
  assert.equal(byName.get("sda1")?.readBytes, 300000n * 512n);
  assert.equal(byName.get("dm-0")?.devNumber, "253:0");
  assert.equal(byName.get("mmcblk0p1")?.sectorsWritten, 800n);
});

Deno.test("parseDiskStats: pre-4.18 (14 columns) and 4.18 (18 columns) layouts", () => {
  const entries = parseDiskStats(
    [
      "   8       0 sda 10 0 20 0 30 0 40 0 0 0 0",
      "   8       1 sda1 1 0 2 0 3 0 4 0 0 0 0 0 0 0 0",
    ].join("\n"),
  );
  assert.deepEqual(entries.map((e) => [e.name, e.sectorsRead, e.sectorsWritten]), [
    ["sda", 20n, 40n],
    ["sda1", 2n, 4n],
  ]);
});

Deno.test("parseDiskStats: counters beyond 2^53 are exact", () => {
  const [e] = parseDiskStats(
    "   8 0 sda 1 0 18446744073709551615 0 1 0 9007199254740993 0 0 0 0\n",
  );
  assert.equal(e?.sectorsRead, 18446744073709551615n);
  assert.equal(e?.writeBytes, 9007199254740993n * 512n);
});

Deno.test("parseDiskStats: short or non-numeric lines are skipped", () => {
  const entries = parseDiskStats(
    [
      "",
      "   8 0 sda 1 2 3", // too short
      "   8 1 sda1 1 0 x 0 1 0 2 0 0 0 0", // non-numeric sectors
      "   a 1 sda1 1 0 2 0 1 0 2 0 0 0 0", // non-numeric major
      "   8 2 sda2 1 0 2 0 1 0 3 0 0 0 0",
    ].join("\n"),
  );
  assert.deepEqual(entries.map((e) => e.name), ["sda2"]);
});
