/**
 * Deno's permissions and the disk collector: reading /proc, /sys and /dev needs --allow-all
 * whatever --allow-read says (since Deno 1.43, GHSA-23rx-c3g5-hv9w), node:fs statfs needs
 * --allow-sys=statfs. The daemon runs without --allow-all, so at host root `/` the collector
 * must say once why nothing is read and what to do (a read-only bind of / as --host-root),
 * and `checkHostAccess` must say the same at startup.
 *
 * Each test narrows its permissions (the `permissions` option), so the outcome is the same
 * whether the suite runs with the project's flags or with -A. Nothing here mounts anything;
 * the host tests with a real bind are in disks_host_test.ts.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { checkHostAccess, DiskCollector } from "../../src/disks/collector.ts";
import {
  allowAllMessage,
  isAllowAllDenial,
  isStatfsDenial,
  STATFS_PERMISSION_MESSAGE,
} from "../../src/disks/host_fs.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/hostroot", import.meta.url));

/** The daemon's file and statfs permissions (`deno task start`), without --allow-all. */
const DAEMON: Deno.PermissionOptionsObject = {
  read: true,
  sys: ["statfs"],
  write: false,
  run: false,
  env: false,
  net: false,
  ffi: false,
  import: false,
};

const ALLOW_ALL_AT_ROOT =
  "disks: Deno needs --allow-all to read /proc and /sys directly; give --host-root a read-only bind of / instead (systemd: BindReadOnlyPaths=/:/run/container-statsd/host and --host-root /run/container-statsd/host; docker: -v /:/host:ro,rslave --host-root /host)";

Deno.test("allowAllMessage: one line saying why and what to do", () => {
  assert.equal(allowAllMessage("/"), ALLOW_ALL_AT_ROOT);
  assert.equal(allowAllMessage("//"), ALLOW_ALL_AT_ROOT);
  const other = allowAllMessage("/proc/1/root/");
  assert.match(other, /^disks: Deno needs --allow-all to read under --host-root \/proc\/1\/root /);
  assert.match(other, /BindReadOnlyPaths=\/:\/run\/container-statsd\/host/);
  assert.match(other, /-v \/:\/host:ro,rslave --host-root \/host\)$/);
  for (const m of [ALLOW_ALL_AT_ROOT, other, STATFS_PERMISSION_MESSAGE]) {
    assert.ok(!m.includes("\n"), "one line");
    assert.ok(!/[{}]/.test(m), "no braces: main.ts logs it as a LogTape message template");
  }
});

Deno.test("isAllowAllDenial / isStatfsDenial: Deno 2 NotCapable and Deno 1.4x PermissionDenied", () => {
  const allRead =
    'Requires all access to "/proc/self/mountinfo", run again with the --allow-all flag';
  const sys = 'Requires sys access to "statfs", run again with the --allow-sys flag';
  assert.ok(isAllowAllDenial(new Deno.errors.NotCapable(allRead)));
  assert.ok(isAllowAllDenial(new Deno.errors.PermissionDenied(allRead)));
  assert.ok(!isAllowAllDenial(new Deno.errors.NotCapable(sys)));
  assert.ok(!isAllowAllDenial(new Deno.errors.NotCapable('Requires read access to "/x"')));
  assert.ok(!isAllowAllDenial(new Error(allRead)), "only Deno's permission errors");
  assert.ok(!isAllowAllDenial(Object.assign(new Error("EACCES"), { code: "EACCES" })));
  assert.ok(!isAllowAllDenial(allRead));
  assert.ok(!isAllowAllDenial(undefined));
  assert.ok(isStatfsDenial(new Deno.errors.NotCapable(sys)));
  assert.ok(isStatfsDenial(new Deno.errors.PermissionDenied(sys)));
  assert.ok(!isStatfsDenial(new Deno.errors.NotCapable(allRead)));
  assert.ok(!isStatfsDenial(new Error(sys)));
});

Deno.test({
  name: "host root /: without --allow-all, one warning in all, not one per disk or interval",
  permissions: DAEMON,
  fn: async () => {
    const warnings: string[] = [];
    const c = new DiskCollector(["/", "/var/lib/docker", "/dev/disk/by-uuid/x", "vda"], {
      onWarning: (m) => warnings.push(m),
    });
    for (let i = 0; i < 3; i++) assert.deepEqual(await c.collect(), []);
    assert.deepEqual(warnings, [ALLOW_ALL_AT_ROOT]);
    const again: string[] = [];
    await new DiskCollector(["/"], { hostRoot: "/", onWarning: (m) => again.push(m) }).collect();
    assert.deepEqual(again, [ALLOW_ALL_AT_ROOT], "explicit --host-root / is the same");
  },
});

Deno.test({
  name: "checkHostAccess: / without --allow-all gives the message; a readable root null",
  permissions: DAEMON,
  fn: async () => {
    assert.equal(await checkHostAccess("/"), ALLOW_ALL_AT_ROOT);
    assert.equal(await checkHostAccess(FIXTURE), null);
    assert.equal(await checkHostAccess(join(FIXTURE, "nonexistent")), null, "not a permission");
  },
});

Deno.test({
  name: "a host root that leads into /proc or to / (symlink) is refused too: warned once",
  permissions: { ...DAEMON, write: true },
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "disks-access-" });
    try {
      const link = join(dir, "host");
      await Deno.symlink("/", link);
      const warnings: string[] = [];
      const c = new DiskCollector(["/"], { hostRoot: link, onWarning: (m) => warnings.push(m) });
      await c.collect();
      await c.collect();
      assert.deepEqual(warnings, [allowAllMessage(link)]);
      assert.equal(await checkHostAccess(link), allowAllMessage(link));
      assert.equal(await checkHostAccess("/proc/1/root"), allowAllMessage("/proc/1/root"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "without --allow-sys=statfs: checkHostAccess says so; the collector warns once",
  permissions: { ...DAEMON, sys: false },
  fn: async () => {
    assert.equal(await checkHostAccess(FIXTURE), STATFS_PERMISSION_MESSAGE);
    const warnings: string[] = [];
    const c = new DiskCollector(["/", "/var/lib/docker", "/run"], {
      hostRoot: FIXTURE,
      onWarning: (m) => warnings.push(m),
    });
    for (let i = 0; i < 3; i++) assert.deepEqual(await c.collect(), []);
    assert.deepEqual(warnings, [STATFS_PERMISSION_MESSAGE]);
  },
});

Deno.test({
  name: "a permission refusal that goes away: the disk reports again with one message",
  permissions: DAEMON,
  fn: async () => {
    let refuse = true;
    const warnings: string[] = [];
    const c = new DiskCollector(["/"], {
      hostRoot: FIXTURE,
      onWarning: (m) => warnings.push(m),
      statfs: () =>
        refuse
          ? Promise.reject(
            new Deno.errors.NotCapable(
              'Requires sys access to "statfs", run again with the --allow-sys flag',
            ),
          )
          : Promise.resolve({ bsize: 4096n, blocks: 100n, bfree: 50n, bavail: 40n }),
    });
    assert.deepEqual(await c.collect(), []);
    assert.deepEqual(await c.collect(), []);
    refuse = false;
    assert.equal((await c.collect()).length, 1);
    assert.deepEqual(warnings, [
      STATFS_PERMISSION_MESSAGE,
      'disk "/": now reporting (/dev/nvme0n1p2 on /)',
    ]);
  },
});
