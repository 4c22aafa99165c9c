/**
 * HostRoot, the reader of host files under --host-root, on the literal fixture tree
 * tests/fixtures/hostroot (udev links relative and absolute, sysfs links, /docker ->
 * var/lib/docker) and on temporary trees for link loops.
 *
 * The permission test narrows its permissions (the `permissions` option; what it leaves out is
 * denied), so it behaves the same under the project's test flags or -A.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeError } from "../../src/errors.ts";
import { errorCode, HostRoot, normalizeHostPath } from "../../src/host/host_root.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/hostroot", import.meta.url));

/** Read only: the permissions left out are denied, so this is never --allow-all. */
const READ_ONLY: Deno.PermissionOptionsObject = { read: true };

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

Deno.test({
  name: "Deno opens /proc only with every permission; its refusal names --allow-all",
  permissions: READ_ONLY,
  fn: async () => {
    await assert.rejects(
      new HostRoot("/").readText("/proc/self/mountinfo"),
      (e) =>
        e instanceof Deno.errors.NotCapable &&
        /run again with the --allow-all flag/.test(e.message),
    );
    assert.ok((await new HostRoot(FIXTURE).readText("/proc/self/mountinfo")).length > 0);
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
