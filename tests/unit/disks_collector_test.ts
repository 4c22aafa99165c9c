/**
 * DiskCollector against the fixture host root tests/fixtures/hostroot (proc/self/mountinfo,
 * proc/diskstats, sys/{block,class/block,dev/block,devices}, dev links), and against
 * temporary host roots for state over intervals.
 *
 * Fixture host: nvme0n1 (ssd) p1 /boot/efi, p2 / (mountinfo source /dev/root), p3
 * /var/lib/docker then bind-mounted at /var/lib/containers; sda (hdd) sda1 "/mnt/my data",
 * sda2 under dm-0 (vg-data) on /srv; mmcblk0p1 /boot/firmware; loop0 /snap/core; sdc1
 * btrfs /data (mountinfo 0:45); tmpfs /run; sdb not mounted; /mnt/later an empty directory.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  counterDelta,
  DiskCollector,
  type DiskReading,
  validateDiskArgument,
} from "../../src/disks/collector.ts";
import { SysBlock } from "../../src/disks/sysfs.ts";
import { HostRoot } from "../../src/host/host_root.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/hostroot", import.meta.url));

Deno.test("permissions: node:fs statfs needs --allow-sys=statfs", () => {
  assert.equal(
    Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state,
    "granted",
    "run the disk tests (and the daemon) with --allow-sys=statfs: Deno's node:fs statfs checks it",
  );
});

async function collectOne(
  disk: string,
  hostRoot = FIXTURE,
): Promise<{ reading: DiskReading | undefined; warnings: string[] }> {
  const warnings: string[] = [];
  const c = new DiskCollector([disk], { hostRoot, onWarning: (m) => warnings.push(m) });
  const [reading] = await c.collect();
  return { reading, warnings };
}

/** The resolved columns of a reading (space depends on the filesystem the fixture is on). */
function identity(r: DiskReading | undefined): unknown {
  return r === undefined ? undefined : {
    name: r.name,
    device: r.device,
    fileSystem: r.fileSystem,
    mountPoint: r.mountPoint,
    type: r.type,
    readBytes: r.readBytes,
    writeBytes: r.writeBytes,
  };
}

const NVME0N1P3 = {
  name: "/dev/nvme0n1p3",
  device: "nvme0n1p3",
  fileSystem: "xfs",
  mountPoint: "/var/lib/docker",
  type: "ssd",
  readBytes: 3900000 * 512,
  writeBytes: 2999984 * 512,
};

Deno.test("fixture: by device path, first mount of the device wins over the later bind", async () => {
  const { reading, warnings } = await collectOne("/dev/nvme0n1p3");
  assert.deepEqual(warnings, []);
  assert.deepEqual(identity(reading), NVME0N1P3);
  assert.equal(reading?.configured, "/dev/nvme0n1p3");
  assert.equal(reading?.readBytesDelta, 0);
  assert.equal(reading?.writeBytesDelta, 0);
  assert.ok(reading !== undefined && reading.totalSpace > 0);
  assert.ok(reading.availableSpace <= reading.totalSpace);
  assert.ok(reading.percentageUse >= 0 && reading.percentageUse <= 100);
});

Deno.test("fixture: by /dev/disk/by-uuid link (relative udev link)", async () => {
  const { reading } = await collectOne("/dev/disk/by-uuid/0A1B-2C3D");
  assert.deepEqual(identity(reading), {
    name: "/dev/nvme0n1p1",
    device: "nvme0n1p1",
    fileSystem: "vfat",
    mountPoint: "/boot/efi",
    type: "ssd",
    readBytes: 12000 * 512,
    writeBytes: 16 * 512,
  });
  assert.deepEqual(
    identity((await collectOne("/dev/disk/by-uuid/4e5f6a7b-0000-4000-8000-000000000003")).reading),
    NVME0N1P3,
  );
  assert.deepEqual(identity((await collectOne("nvme0n1p3")).reading), NVME0N1P3);
});

Deno.test("fixture: by-label link to a partition of an hdd, mount point with a space", async () => {
  const { reading } = await collectOne("/dev/disk/by-label/data");
  assert.deepEqual(identity(reading), {
    name: "/dev/sda1",
    device: "sda1",
    fileSystem: "ext4",
    mountPoint: "/mnt/my data",
    type: "hdd",
    readBytes: 300000 * 512,
    writeBytes: 200000 * 512,
  });
});

Deno.test("fixture: absolute link resolves inside the host root; btrfs 0:N via its source", async () => {
  // dev/disk/by-id/ata-EXAMPLE_SSD-part1 -> /dev/sdc1 (absolute: must not leave the root).
  assert.equal(
    await new HostRoot(FIXTURE).resolve("/dev/disk/by-id/ata-EXAMPLE_SSD-part1"),
    "/dev/sdc1",
  );
  const { reading } = await collectOne("/dev/disk/by-id/ata-EXAMPLE_SSD-part1");
  assert.deepEqual(identity(reading), {
    name: "/dev/sdc1",
    device: "sdc1",
    fileSystem: "btrfs",
    mountPoint: "/data",
    type: "ssd",
    readBytes: 48000 * 512,
    writeBytes: 24000 * 512,
  });
  // The same disk by its mount point.
  assert.deepEqual(identity((await collectOne("/data")).reading), identity(reading));
});

Deno.test("fixture: device-mapper by /dev/mapper link and by dm name; kind from its members", async () => {
  const expected = {
    name: "/dev/dm-0",
    device: "dm-0",
    fileSystem: "ext4",
    mountPoint: "/srv",
    // dm-0's own queue/rotational is 0 in the fixture; its member sda2 is on an hdd.
    type: "hdd",
    readBytes: 498000 * 512,
    writeBytes: 400000 * 512,
  };
  assert.deepEqual(identity((await collectOne("/dev/mapper/vg-data")).reading), expected);
  assert.deepEqual(identity((await collectOne("vg-data")).reading), expected);
  assert.deepEqual(identity((await collectOne("dm-0")).reading), expected);
  assert.deepEqual(identity((await collectOne("/srv")).reading), expected);
});

Deno.test("fixture: by mount point; / resolves /dev/root through major:minor", async () => {
  assert.deepEqual(identity((await collectOne("/")).reading), {
    name: "/dev/nvme0n1p2",
    device: "nvme0n1p2",
    fileSystem: "ext4",
    mountPoint: "/",
    type: "ssd",
    readBytes: 5000000 * 512,
    writeBytes: 4000000 * 512,
  });
  // Trailing slash, and a symlink to a mount point (/docker -> var/lib/docker).
  assert.equal((await collectOne("/mnt/my data/")).reading?.name, "/dev/sda1");
  assert.deepEqual(identity((await collectOne("/docker")).reading), NVME0N1P3);
  // The bind mount point itself reports its own mount point.
  const bind = (await collectOne("/var/lib/containers")).reading;
  assert.equal(bind?.name, "/dev/nvme0n1p3");
  assert.equal(bind?.mountPoint, "/var/lib/containers");
});

Deno.test("fixture: by bare name; mmc partition, loop is unknown, tmpfs has no device", async () => {
  const mmc = (await collectOne("mmcblk0p1")).reading;
  assert.deepEqual([mmc?.name, mmc?.mountPoint, mmc?.fileSystem, mmc?.type], [
    "/dev/mmcblk0p1",
    "/boot/firmware",
    "vfat",
    "ssd",
  ]);
  const loop = (await collectOne("loop0")).reading;
  assert.deepEqual([loop?.name, loop?.mountPoint, loop?.type, loop?.readBytes], [
    "/dev/loop0",
    "/snap/core",
    "unknown",
    2100 * 512,
  ]);
  assert.deepEqual(identity((await collectOne("/run")).reading), {
    name: "/run",
    device: "",
    fileSystem: "tmpfs",
    mountPoint: "/run",
    type: "unknown",
    readBytes: 0,
    writeBytes: 0,
  });
});

Deno.test("fixture: not found / not mounted -> one warning naming the disk, once per state", async () => {
  const warnings: string[] = [];
  const c = new DiskCollector(
    ["nvme9n9", "/dev/sdz", "sdb", "/dev/sdb", "/mnt/later", "/nonexistent", "/"],
    { hostRoot: FIXTURE, onWarning: (m) => warnings.push(m) },
  );
  const first = await c.collect();
  assert.deepEqual(first.map((r) => r.mountPoint), ["/"]);
  assert.deepEqual(warnings, [
    'disk "nvme9n9": no block device named "nvme9n9" in /sys/class/block; skipped, checked again every interval',
    'disk "/dev/sdz": /dev/sdz is not a block device (not found); skipped, checked again every interval',
    'disk "sdb": /dev/sdb (8:16) is not mounted; skipped, checked again every interval',
    'disk "/dev/sdb": /dev/sdb (8:16) is not mounted; skipped, checked again every interval',
    'disk "/mnt/later": /mnt/later is not a mount point (not mounted?); skipped, checked again every interval',
    'disk "/nonexistent": /nonexistent does not exist (not mounted?); skipped, checked again every interval',
  ]);
  await c.collect();
  await c.collect();
  assert.equal(warnings.length, 6, "no repeated warnings while nothing changes");
});

Deno.test("fixture: the same disk configured twice is reported once", async () => {
  const warnings: string[] = [];
  const c = new DiskCollector(["/", "nvme0n1p2", "/dev/nvme0n1p2/", "/"], {
    hostRoot: FIXTURE,
    onWarning: (m) => warnings.push(m),
  });
  const readings = await c.collect();
  assert.deepEqual(readings.map((r) => r.configured), ["/"]);
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0] ?? "",
    /^disk "nvme0n1p2": duplicate of "\/" \(\/dev\/nvme0n1p2 on \/\); skipped/,
  );
  await c.collect();
  assert.equal(warnings.length, 2);

  // A bind mount of the same device has the same name, the table's upsert key: one row.
  const binds: string[] = [];
  const b = new DiskCollector(["/var/lib/containers", "/var/lib/docker", "/run"], {
    hostRoot: FIXTURE,
    onWarning: (m) => binds.push(m),
  });
  assert.deepEqual((await b.collect()).map((r) => [r.name, r.mountPoint]), [
    ["/dev/nvme0n1p3", "/var/lib/containers"],
    ["/run", "/run"],
  ]);
  assert.deepEqual(binds, [
    'disk "/var/lib/docker": duplicate of "/var/lib/containers" (/dev/nvme0n1p3 on /var/lib/docker); skipped, checked again every interval',
  ]);
});

Deno.test("sysfs: partition parent, kind without queue/rotational", async () => {
  const sys = new SysBlock(new HostRoot(FIXTURE));
  assert.equal(await sys.wholeDisk("nvme0n1p3"), "nvme0n1");
  assert.equal(await sys.wholeDisk("sda1"), "sda");
  assert.equal(await sys.wholeDisk("mmcblk0p1"), "mmcblk0");
  assert.equal(await sys.wholeDisk("loop0"), "loop0");
  assert.equal(await sys.kind("sdb"), "unknown");
  assert.equal(await sys.kind("sda2"), "hdd");
  assert.equal(await sys.kind("nosuch"), "unknown");
});

Deno.test("sysfs: a copied tree without symlinks uses the /sys/block/<disk>/<part> layout", async () => {
  const root = await mkdtemp(join(tmpdir(), "disks-sysfs-"));
  try {
    await mkdir(join(root, "sys/block/nvme1n1/nvme1n1p2"), { recursive: true });
    await mkdir(join(root, "sys/block/nvme1n1/queue"), { recursive: true });
    await writeFile(join(root, "sys/block/nvme1n1/queue/rotational"), "0\n");
    await mkdir(join(root, "sys/class/block/nvme1n1p2"), { recursive: true });
    await writeFile(join(root, "sys/class/block/nvme1n1p2/partition"), "2\n");
    const sys = new SysBlock(new HostRoot(root));
    assert.equal(await sys.wholeDisk("nvme1n1p2"), "nvme1n1");
    assert.equal(await sys.kind("nvme1n1p2"), "ssd");
  } finally {
    await rm(root, { recursive: true });
  }
});

/**
 * A writable host root: proc/ copied from the fixture, sys/ a link to the fixture's sys
 * (sysfs is read with ordinary path resolution), mount point directories created.
 */
async function mutableRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "disks-root-"));
  await mkdir(join(root, "proc/self"), { recursive: true });
  for (const f of ["proc/self/mountinfo", "proc/diskstats"]) {
    await writeFile(join(root, f), await readFile(join(FIXTURE, f)));
  }
  await symlink(join(FIXTURE, "sys"), join(root, "sys"));
  for (const d of ["var/lib/docker", "mnt/later"]) {
    await mkdir(join(root, d), { recursive: true });
  }
  return root;
}

/** Rewrites the sectors-read and sectors-written counters of one diskstats line. */
async function setSectors(root: string, name: string, read: number, written: number) {
  const path = join(root, "proc/diskstats");
  const lines = (await readFile(path, "utf8")).split("\n").map((line) => {
    const cols = line.trim().split(/\s+/);
    if (cols[2] !== name) return line;
    cols[5] = String(read);
    cols[9] = String(written);
    return cols.join(" ");
  });
  await writeFile(path, lines.join("\n"));
}

Deno.test("intervals: deltas are 0 first, then differences; a falling counter counts from zero", async () => {
  const root = await mutableRoot();
  try {
    const c = new DiskCollector(["/var/lib/docker"], { hostRoot: root, onWarning: () => {} });
    let [r] = await c.collect();
    assert.deepEqual([r?.readBytesDelta, r?.writeBytesDelta], [0, 0]);
    await setSectors(root, "nvme0n1p3", 3900000 + 8, 2999984 + 2);
    [r] = await c.collect();
    assert.deepEqual([r?.readBytes, r?.readBytesDelta, r?.writeBytesDelta], [
      (3900000 + 8) * 512,
      8 * 512,
      2 * 512,
    ]);
    await setSectors(root, "nvme0n1p3", 3900000 + 8, 2999984 + 2);
    [r] = await c.collect();
    assert.deepEqual([r?.readBytesDelta, r?.writeBytesDelta], [0, 0]);
    await setSectors(root, "nvme0n1p3", 100, 3000000);
    [r] = await c.collect();
    assert.deepEqual([r?.readBytesDelta, r?.writeBytesDelta], [
      100 * 512,
      (3000000 - 2999986) * 512,
    ]);
  } finally {
    await rm(root, { recursive: true });
  }
});

Deno.test("intervals: a disk mounted later starts reporting; unmounted warns; remount restarts deltas", async () => {
  const root = await mutableRoot();
  const mountinfo = join(root, "proc/self/mountinfo");
  const original = await readFile(mountinfo, "utf8");
  const withSdb = original + "40 21 8:16 / /mnt/later rw,relatime - ext4 /dev/sdb rw\n";
  try {
    const warnings: string[] = [];
    const c = new DiskCollector(["sdb"], { hostRoot: root, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(await c.collect(), []);
    assert.deepEqual(warnings, [
      'disk "sdb": /dev/sdb (8:16) is not mounted; skipped, checked again every interval',
    ]);

    await writeFile(mountinfo, withSdb);
    let [r] = await c.collect();
    assert.deepEqual([r?.name, r?.mountPoint, r?.type, r?.readBytes, r?.readBytesDelta], [
      "/dev/sdb",
      "/mnt/later",
      "unknown", // sdb has no queue/rotational in the fixture
      80 * 512,
      0,
    ]);
    assert.equal(warnings[1], 'disk "sdb": now reporting (/dev/sdb on /mnt/later)');

    await setSectors(root, "sdb", 90, 0);
    [r] = await c.collect();
    assert.equal(r?.readBytesDelta, 10 * 512);

    await writeFile(mountinfo, original);
    assert.deepEqual(await c.collect(), []);
    assert.equal(warnings.length, 3);
    await setSectors(root, "sdb", 200, 0);
    await writeFile(mountinfo, withSdb);
    [r] = await c.collect();
    assert.equal(r?.readBytesDelta, 0, "first interval back: no delta across the gap");
    assert.equal(warnings[3], 'disk "sdb": reporting again (/dev/sdb on /mnt/later)');
    assert.equal(warnings.length, 4);
  } finally {
    await rm(root, { recursive: true });
  }
});

Deno.test("host root other than /: proc/1/mountinfo (host init) is preferred over proc/self", async () => {
  const root = await mutableRoot();
  try {
    await mkdir(join(root, "proc/1"), { recursive: true });
    await writeFile(
      join(root, "proc/1/mountinfo"),
      "21 1 259:3 / /var/lib/docker rw - xfs /dev/nvme0n1p3 rw\n",
    );
    await writeFile(join(root, "proc/self/mountinfo"), "99 1 0:99 / / rw - overlay overlay rw\n");
    const { reading } = await collectOne("nvme0n1p3", root);
    assert.equal(reading?.mountPoint, "/var/lib/docker");
  } finally {
    await rm(root, { recursive: true });
  }
});

Deno.test("unreadable mountinfo or diskstats: warned once, never thrown", async () => {
  const root = await mkdtemp(join(tmpdir(), "disks-empty-"));
  try {
    const warnings: string[] = [];
    const c = new DiskCollector(["/"], { hostRoot: root, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(await c.collect(), []);
    assert.deepEqual(await c.collect(), []);
    assert.equal(warnings.length, 2, warnings.join("\n")); // diskstats + the disk
    assert.match(warnings.join("\n"), /cannot read .*proc\/diskstats/);
    assert.match(warnings.join("\n"), /disk "\/": cannot read .*mountinfo/);
  } finally {
    await rm(root, { recursive: true });
  }
});

Deno.test("statfs that hangs: skipped after the timeout, not asked again until it returns", async () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout"],
  });
  try {
    const numbers = { bsize: 4096n, blocks: 100n, bfree: 50n, bavail: 40n };
    const hung = Promise.withResolvers<typeof numbers>();
    const called = Promise.withResolvers<void>();
    let calls = 0;
    const warnings: string[] = [];
    const c = new DiskCollector(["/"], {
      hostRoot: FIXTURE,
      onWarning: (m) => warnings.push(m),
      statfsTimeoutMs: 20,
      statfs: () => {
        calls++;
        called.resolve();
        return calls > 1 ? Promise.resolve(numbers) : hung.promise;
      },
    });
    const first = c.collect();
    await called.promise; // the statfs call and its 20 ms timer are under way
    clock.tick(19);
    assert.equal(warnings.length, 0, "not before the timeout");
    clock.tick(1);
    assert.deepEqual(await first, []);
    assert.match(warnings[0] ?? "", /statfs\(.*\) failed: no answer within 20 ms; skipped/);
    assert.deepEqual(await c.collect(), []);
    assert.match(warnings[1] ?? "", /an earlier statfs has not returned/);
    assert.equal(calls, 1, "a hung statfs is not piled up");
    hung.resolve(numbers);
    await hung.promise; // the collector's own handler on it ran first
    const [r] = await c.collect();
    assert.deepEqual([r?.totalSpace, r?.availableSpace, r?.percentageUse], [
      409600,
      163840,
      50 / 90 * 100,
    ]);
    assert.equal(warnings[2], 'disk "/": now reporting (/dev/nvme0n1p2 on /)');
  } finally {
    clock.uninstall();
  }
});

Deno.test("overlapping collect() calls run one after the other", async () => {
  const root = await mutableRoot();
  try {
    const c = new DiskCollector(["/var/lib/docker"], { hostRoot: root, onWarning: () => {} });
    const first = c.collect();
    const second = c.collect();
    assert.equal((await first)[0]?.readBytesDelta, 0);
    assert.equal((await second)[0]?.readBytesDelta, 0);
    await setSectors(root, "nvme0n1p3", 3900000 + 1, 2999984);
    assert.equal((await c.collect())[0]?.readBytesDelta, 512);
  } finally {
    await rm(root, { recursive: true });
  }
});

Deno.test("counterDelta: first, rising, falling", () => {
  assert.equal(counterDelta(undefined, 5n), 0n);
  assert.equal(counterDelta(5n, 12n), 7n);
  assert.equal(counterDelta(12n, 12n), 0n);
  assert.equal(counterDelta(12n, 3n), 3n);
});

Deno.test("validateDiskArgument: the four forms pass, normalised; bad syntax is a RangeError", () => {
  assert.equal(validateDiskArgument("/dev/nvme0n1p1"), "/dev/nvme0n1p1");
  assert.equal(validateDiskArgument("/dev/disk/by-uuid/0A1B-2C3D"), "/dev/disk/by-uuid/0A1B-2C3D");
  assert.equal(validateDiskArgument("/var/lib//docker/"), "/var/lib/docker");
  assert.equal(validateDiskArgument("/"), "/");
  assert.equal(validateDiskArgument("nvme0n1p1"), "nvme0n1p1");
  assert.equal(validateDiskArgument("/mnt/my data"), "/mnt/my data");
  for (const bad of ["", "dev/sda1", "./data", ".", "..", "sd a", "/a\0b"]) {
    assert.throws(() => validateDiskArgument(bad), (err: unknown) => {
      assert.ok(err instanceof RangeError, bad);
      assert.ok(!err.message.includes("\n"), "one line");
      return true;
    });
  }
  assert.throws(() => new DiskCollector(["dev/sda"]), RangeError);
});
