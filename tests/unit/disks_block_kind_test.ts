/**
 * Pure block-device rules: device numbers, partition parents, kind.
 */
import assert from "node:assert/strict";
import {
  combineKinds,
  decodeDevT,
  devPathOfKernelName,
  isVirtualDiskName,
  parentFromSysfsLink,
  parseDevNumber,
  parseRotational,
  partitionParent,
} from "../../src/disks/block_kind.ts";

/** glibc `makedev` (bits/sysmacros.h), to build test values. */
function makedev(major: bigint, minor: bigint): bigint {
  return ((major & 0x00000fffn) << 8n) | ((major & 0xfffff000n) << 32n) |
    (minor & 0x000000ffn) | ((minor & 0xffffff00n) << 12n);
}

Deno.test("parseRotational: 0 is ssd, 1 is hdd, anything else unknown", () => {
  assert.equal(parseRotational("0\n"), "ssd");
  assert.equal(parseRotational("1\n"), "hdd");
  assert.equal(parseRotational(""), "unknown");
  assert.equal(parseRotational("2\n"), "unknown");
});

Deno.test("parseDevNumber: sysfs dev attribute", () => {
  assert.equal(parseDevNumber("259:1\n"), "259:1");
  assert.equal(parseDevNumber("008:01"), "8:1");
  assert.equal(parseDevNumber("8-1"), undefined);
  assert.equal(parseDevNumber(""), undefined);
});

Deno.test("decodeDevT: glibc major/minor split", () => {
  assert.equal(decodeDevT(65024), "254:0"); // /dev/vda on the build machine
  assert.equal(decodeDevT(66305n), "259:1");
  assert.equal(decodeDevT(makedev(8n, 17n)), "8:17");
  assert.equal(decodeDevT(makedev(4097n, 300000n)), "4097:300000"); // high bits
});

Deno.test("partitionParent: kernel naming rule, checked against whole disks", () => {
  const disks = new Set(["nvme0n1", "sda", "mmcblk0", "loop0", "md0", "dm-0", "sdaa", "vda"]);
  assert.equal(partitionParent("nvme0n1p1", disks), "nvme0n1");
  assert.equal(partitionParent("nvme0n1p12", disks), "nvme0n1");
  assert.equal(partitionParent("sda1", disks), "sda");
  assert.equal(partitionParent("sda10", disks), "sda");
  assert.equal(partitionParent("sdaa3", disks), "sdaa");
  assert.equal(partitionParent("vda2", disks), "vda");
  assert.equal(partitionParent("mmcblk0p1", disks), "mmcblk0");
  assert.equal(partitionParent("loop0p1", disks), "loop0");
  assert.equal(partitionParent("md0p2", disks), "md0");
  // Whole disks ending in digits are not partitions of a shorter name.
  assert.equal(partitionParent("loop0", disks), undefined);
  assert.equal(partitionParent("dm-0", disks), undefined);
  assert.equal(partitionParent("sda", disks), undefined);
  // No such disk listed.
  assert.equal(partitionParent("sdb1", disks), undefined);
  assert.equal(partitionParent("nvme1n1p1", disks), undefined);
});

Deno.test("parentFromSysfsLink: parent directory of a partition's sysfs directory", () => {
  assert.equal(
    parentFromSysfsLink("../../devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1/nvme0n1p1"),
    "nvme0n1",
  );
  assert.equal(
    parentFromSysfsLink("../../devices/pci0000:00/0000:00:17.0/ata1/host0/block/sda/sda1"),
    "sda",
  );
  assert.equal(
    parentFromSysfsLink("../../devices/platform/mmc0/mmc0:0001/block/mmcblk0/mmcblk0p1/"),
    "mmcblk0",
  );
  assert.equal(parentFromSysfsLink("sda1"), undefined);
});

Deno.test("devPathOfKernelName: ! in sysfs names is /", () => {
  assert.equal(devPathOfKernelName("nvme0n1p1"), "/dev/nvme0n1p1");
  assert.equal(devPathOfKernelName("cciss!c0d0p1"), "/dev/cciss/c0d0p1");
});

Deno.test("isVirtualDiskName: virtual and network devices, not stacked ones", () => {
  for (const n of ["loop0", "loop12", "nbd0", "rbd3", "zram0", "ram0", "vda", "xvdb", "drbd1"]) {
    assert.equal(isVirtualDiskName(n), true, n);
  }
  for (const n of ["sda", "nvme0n1", "mmcblk0", "dm-0", "md0", "sr0", "hda"]) {
    assert.equal(isVirtualDiskName(n), false, n);
  }
});

Deno.test("combineKinds: unknown wins, then hdd, then ssd", () => {
  assert.equal(combineKinds(["ssd", "ssd"]), "ssd");
  assert.equal(combineKinds(["ssd", "hdd"]), "hdd");
  assert.equal(combineKinds(["hdd", "unknown"]), "unknown");
  assert.equal(combineKinds([]), "unknown");
});
