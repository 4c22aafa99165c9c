/**
 * HostRoot, the reader of host files under --host-root, on the literal fixture tree
 * tests/fixtures/hostroot (udev links relative and absolute, sysfs links, /docker ->
 * var/lib/docker) and on temporary trees for link loops.
 *
 * Permission tests narrow their permissions (the `permissions` option; what it leaves out is
 * denied), so they behave the same under the project's test flags or -A.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  describeError,
  errorCode,
  HOST_ROOT_ADVICE,
  HostRoot,
  normalizeHostPath,
} from "../../src/host/host_root.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/hostroot", import.meta.url));

/** Read only: the permissions left out are denied, so this is never --allow-all. */
const READ_ONLY: Deno.PermissionOptionsObject = { read: true };

const ALL_ACCESS = new Deno.errors.NotCapable(
  'Requires all access to "/proc/self/mountinfo", run again with the --allow-all flag',
);
const SYS_ACCESS = new Deno.errors.NotCapable(
  'Requires sys access to "statfs", run again with the --allow-sys flag',
);

Deno.test("normalizeHostPath: //, ., .. (never above /), trailing slash", () => {
  assert.equal(normalizeHostPath("/var/lib//docker/"), "/var/lib/docker");
  assert.equal(normalizeHostPath("/a/./b/../c"), "/a/c");
  assert.equal(normalizeHostPath("/../../etc"), "/etc");
  assert.equal(normalizeHostPath("/"), "/");
  assert.equal(normalizeHostPath("//"), "/");
});

Deno.test("path: joined under the root, unchanged under /, never above the root", () => {
  const host = new HostRoot("/run/container-statsd/host/");
  assert.equal(host.root, "/run/container-statsd/host");
  assert.equal(host.path("/proc/diskstats"), "/run/container-statsd/host/proc/diskstats");
  assert.equal(host.path("/../../etc/passwd"), "/run/container-statsd/host/etc/passwd");
  assert.equal(host.path("/"), "/run/container-statsd/host");
  assert.equal(new HostRoot().path("/proc/diskstats"), "/proc/diskstats");
  assert.equal(new HostRoot().root, "/");
});

Deno.test("readText, readDir, readLink, stat read under the root", async () => {
  const host = new HostRoot(FIXTURE);
  assert.match(await host.readText("/proc/diskstats"), /^ +7 +0 loop0 /);
  assert.ok((await host.readDir("/sys/block")).includes("nvme0n1"));
  assert.equal(await host.readLink("/dev/disk/by-uuid/0A1B-2C3D"), "../../nvme0n1p1");
  assert.ok((await host.stat("/docker")).isDirectory(), "stat follows the link");
  await assert.rejects(host.readText("/proc/nonexistent"), (err) => {
    assert.equal(errorCode(err), "ENOENT");
    return true;
  });
});

Deno.test("resolve: relative and absolute links stay inside the root; .. stops at the root", async () => {
  const host = new HostRoot(FIXTURE);
  assert.equal(await host.resolve("/dev/disk/by-uuid/0A1B-2C3D"), "/dev/nvme0n1p1");
  // An absolute target (-> /dev/sdc1) restarts from the host root, not from the local /.
  assert.equal(await host.resolve("/dev/disk/by-id/ata-EXAMPLE_SSD-part1"), "/dev/sdc1");
  assert.equal(await host.resolve("/dev/mapper/vg-data"), "/dev/dm-0");
  assert.equal(await host.resolve("/docker"), "/var/lib/docker");
  assert.equal(await host.resolve("/../../../dev/sda1"), "/dev/sda1");
  assert.equal(await host.resolve("/"), "/");
  await assert.rejects(host.resolve("/dev/disk/by-uuid/missing"), (err) => {
    assert.equal(errorCode(err), "ENOENT");
    return true;
  });
});

Deno.test("resolve: a link loop is ELOOP after 40 links", async () => {
  const root = await Deno.makeTempDir({ prefix: "hostroot-loop-" });
  try {
    await Deno.symlink("/b", join(root, "a"));
    await Deno.symlink("a", join(root, "b"));
    await assert.rejects(new HostRoot(root).resolve("/a/x"), (err) => {
      assert.equal(errorCode(err), "ELOOP");
      assert.match(describeError(err), /too many levels of symbolic links: \/a\/x/);
      return true;
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("permissionProblem: one line naming the reader and the fix; null for other errors", () => {
  const atRoot = new HostRoot("/").permissionProblem("cgroup", ALL_ACCESS);
  assert.equal(
    atRoot,
    `cgroup: Deno needs --allow-all to read /proc and /sys directly; ${HOST_ROOT_ADVICE}`,
  );
  assert.match(HOST_ROOT_ADVICE, /BindReadOnlyPaths=\/:\/run\/container-statsd\/host/);
  assert.match(HOST_ROOT_ADVICE, /-v \/:\/host:ro,rslave --host-root \/host\)$/);
  const other = new HostRoot("/proc/1/root/").permissionProblem("disks", ALL_ACCESS);
  assert.match(
    other ?? "",
    /^disks: Deno needs --allow-all to read under --host-root \/proc\/1\/root /,
  );
  const old = new Deno.errors.PermissionDenied(ALL_ACCESS.message); // Deno 1.43-1.46
  assert.equal(new HostRoot("/").permissionProblem("cgroup", old), atRoot);
  const sys = new HostRoot(FIXTURE).permissionProblem("disks", SYS_ACCESS);
  assert.equal(
    sys,
    "disks: Deno needs --allow-sys=statfs (node:fs statfs); add it to the deno run flags (deno task start has it)",
  );
  for (const m of [atRoot, other, sys]) {
    assert.ok(m !== null && !m.includes("\n"), "one line");
    assert.ok(!/[{}]/.test(m ?? ""), "no braces: it is logged as a LogTape message template");
  }
  const host = new HostRoot("/");
  assert.equal(host.permissionProblem("disks", new Error(ALL_ACCESS.message)), null);
  assert.equal(
    host.permissionProblem("disks", Object.assign(new Error("x"), { code: "EACCES" })),
    null,
  );
  assert.equal(
    host.permissionProblem("disks", new Deno.errors.NotCapable('Requires read access to "/x"')),
    null,
  );
  assert.equal(host.permissionProblem("disks", ALL_ACCESS.message), null);
  assert.equal(host.permissionProblem("disks", undefined), null);
});

Deno.test({
  name: "accessProblem: / refused without --allow-all, a readable or missing root null",
  permissions: READ_ONLY,
  fn: async () => {
    const paths = ["/proc/self/mountinfo", "/sys/block", "/dev"];
    assert.equal(
      await new HostRoot("/").accessProblem("cgroup", paths),
      new HostRoot("/").permissionProblem("cgroup", ALL_ACCESS),
    );
    assert.equal(await new HostRoot("/").accessProblem("cgroup", ["/etc"]), null);
    assert.equal(await new HostRoot(FIXTURE).accessProblem("disks", paths), null);
    assert.equal(await new HostRoot(join(FIXTURE, "missing")).accessProblem("disks", paths), null);
  },
});

Deno.test({
  name: "accessProblem: a root that is a symlink to / is refused too (stat alone would pass)",
  permissions: { read: true, write: true },
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hostroot-link-" });
    try {
      const link = join(dir, "host");
      await Deno.symlink("/", link);
      const host = new HostRoot(link);
      assert.ok((await host.stat("/proc/diskstats")).isFile(), "Deno lets stat through");
      assert.equal(
        await host.accessProblem("disks", ["/proc/diskstats"]),
        host.permissionProblem("disks", ALL_ACCESS),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("errorCode, describeError: node fs codes; one line", () => {
  assert.equal(errorCode(Object.assign(new Error("x"), { code: "ENOENT" })), "ENOENT");
  assert.equal(errorCode(new Error("x")), undefined);
  assert.equal(errorCode({ code: 2 }), undefined);
  assert.equal(errorCode(null), undefined);
  assert.equal(describeError(new Error("a\nb")), "a b");
  assert.equal(describeError("plain"), "plain");
});
