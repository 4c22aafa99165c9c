/**
 * parseMountInfo and the mount look-ups, on literal /proc/self/mountinfo text (proc(5)).
 */
import assert from "node:assert/strict";
import {
  firstMountOfDevice,
  parseMountInfo,
  unescapeMountField,
  visibleMountAt,
} from "../../src/disks/mountinfo.ts";

// A host with NVMe root (seen as /dev/root), LVM, a SCSI disk with a space in its mount
// point, an MMC card, a bind mount and a btrfs filesystem (anonymous 0:N device).
const HOST = [
  "21 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw,errors=remount-ro",
  "22 21 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
  "24 21 259:1 / /boot/efi rw,relatime shared:30 - vfat /dev/nvme0n1p1 rw,fmask=0077",
  "25 21 259:3 / /var/lib/docker rw,relatime shared:31 - xfs /dev/nvme0n1p3 rw,attr2",
  "26 21 8:1 / /mnt/my\\040data rw,relatime shared:32 - ext4 /dev/sda1 rw",
  "27 21 253:0 / /srv rw,relatime shared:33 master:7 - ext4 /dev/mapper/vg-root rw",
  "28 21 179:1 / /boot/firmware rw,relatime - vfat /dev/mmcblk0p1 rw",
  "30 21 0:45 / /data rw,relatime shared:36 - btrfs /dev/sdc1 rw,ssd,subvol=/",
  "31 21 259:3 /containers /var/lib/containers rw,relatime shared:31 - xfs /dev/nvme0n1p3 rw",
  "",
].join("\n");

Deno.test("parseMountInfo: reads every field of a line", () => {
  const [root] = parseMountInfo(HOST);
  assert.deepEqual(root, {
    mountId: 21,
    parentId: 1,
    major: 259,
    minor: 2,
    devNumber: "259:2",
    root: "/",
    mountPoint: "/",
    mountOptions: "rw,relatime",
    optionalFields: ["shared:1"],
    fsType: "ext4",
    source: "/dev/root",
    superOptions: "rw,errors=remount-ro",
  });
  assert.equal(parseMountInfo(HOST).length, 9);
});

Deno.test("parseMountInfo: spaces in mount points are unescaped from \\040", () => {
  const e = parseMountInfo(HOST).find((m) => m.devNumber === "8:1");
  assert.equal(e?.mountPoint, "/mnt/my data");
  assert.equal(e?.source, "/dev/sda1");
});

Deno.test("parseMountInfo: tab, newline and backslash escapes in root, mount point, source", () => {
  const [e] = parseMountInfo(
    "40 21 8:17 /a\\134b /mnt/x\\011y\\012z\\040 rw - ext4 /dev/odd\\040name rw\n",
  );
  assert.equal(e?.root, "/a\\b");
  assert.equal(e?.mountPoint, "/mnt/x\ty\nz ");
  assert.equal(e?.source, "/dev/odd name");
});

Deno.test("parseMountInfo: zero, one and several optional fields", () => {
  const entries = parseMountInfo(HOST);
  assert.deepEqual(entries.find((m) => m.mountId === 28)?.optionalFields, []);
  assert.deepEqual(entries.find((m) => m.mountId === 27)?.optionalFields, [
    "shared:33",
    "master:7",
  ]);
});

Deno.test("parseMountInfo: device-mapper source and number", () => {
  const e = parseMountInfo(HOST).find((m) => m.mountPoint === "/srv");
  assert.equal(e?.source, "/dev/mapper/vg-root");
  assert.equal(e?.major, 253);
  assert.equal(e?.minor, 0);
});

Deno.test("parseMountInfo: bind mount keeps its root and shares the device number", () => {
  const binds = parseMountInfo(HOST).filter((m) => m.devNumber === "259:3");
  assert.deepEqual(binds.map((m) => [m.root, m.mountPoint]), [
    ["/", "/var/lib/docker"],
    ["/containers", "/var/lib/containers"],
  ]);
});

Deno.test("parseMountInfo: malformed lines are skipped, the rest kept", () => {
  const text = [
    "garbage",
    "1 2 3:4 / /a rw shared:1 ext4 /dev/x rw", // no "-" separator
    "x 2 3:4 / /b rw - ext4 /dev/x rw", // non-numeric id
    "5 2 3-4 / /c rw - ext4 /dev/x rw", // bad device number
    "6 2 8:1 / /d rw -", // nothing after the separator
    "7 2 8:1 / /ok rw - ext4 /dev/sda1 rw",
    "8 2 0:50 / /fuse rw - fuse.sshfs host:/x", // no super options: kept, ""
  ].join("\n");
  const entries = parseMountInfo(text);
  assert.deepEqual(entries.map((e) => e.mountPoint), ["/ok", "/fuse"]);
  assert.equal(entries[1]?.fsType, "fuse.sshfs");
  assert.equal(entries[1]?.superOptions, "");
  assert.deepEqual(parseMountInfo(""), []);
});

Deno.test("unescapeMountField: octal escapes only; lone backslashes kept", () => {
  assert.equal(unescapeMountField("/plain"), "/plain");
  assert.equal(unescapeMountField("/a\\040b\\040c"), "/a b c");
  assert.equal(unescapeMountField("/a\\9b\\04"), "/a\\9b\\04");
});

Deno.test("firstMountOfDevice: a device mounted several times uses its first mount", () => {
  const entries = parseMountInfo(HOST);
  assert.equal(firstMountOfDevice(entries, "259:3")?.mountPoint, "/var/lib/docker");
  // Bind mount first in mount order: it wins.
  const reordered = parseMountInfo(
    [
      "31 21 259:3 /containers /var/lib/containers rw - xfs /dev/nvme0n1p3 rw",
      "25 21 259:3 / /var/lib/docker rw - xfs /dev/nvme0n1p3 rw",
    ].join("\n"),
  );
  assert.equal(firstMountOfDevice(reordered, "259:3")?.mountPoint, "/var/lib/containers");
  assert.equal(firstMountOfDevice(entries, "8:16"), undefined);
});

Deno.test("firstMountOfDevice: /dev/root matched by major:minor, btrfs by a mapping", () => {
  const entries = parseMountInfo(HOST);
  assert.equal(firstMountOfDevice(entries, "259:2")?.mountPoint, "/");
  // btrfs reports 0:45; the caller maps the entry to its source's device number.
  assert.equal(firstMountOfDevice(entries, "8:33"), undefined);
  const viaSource = firstMountOfDevice(
    entries,
    "8:33",
    (e) => e.source === "/dev/sdc1" ? "8:33" : e.devNumber,
  );
  assert.equal(viaSource?.mountPoint, "/data");
});

Deno.test("visibleMountAt: exact path; the last of stacked mounts is the visible one", () => {
  const entries = parseMountInfo(
    [
      "21 1 259:2 / / rw - ext4 /dev/root rw",
      "40 21 8:1 / /mnt rw - ext4 /dev/sda1 rw",
      "41 21 0:60 / /mnt rw - tmpfs tmpfs rw",
    ].join("\n"),
  );
  assert.equal(visibleMountAt(entries, "/mnt")?.fsType, "tmpfs");
  assert.equal(visibleMountAt(entries, "/")?.source, "/dev/root");
  assert.equal(visibleMountAt(entries, "/mnt/sub"), undefined);
});
