/**
 * Deno's permissions and the disk collector: reading /proc, /sys and /dev needs --allow-all
 * whatever --allow-read says (since Deno 1.43, GHSA-23rx-c3g5-hv9w), node:fs statfs needs
 * --allow-sys=statfs. The daemon runs without --allow-all, so at host root `/` the collector
 * must say once why nothing is read and what to do (a read-only bind of / as --host-root),
 * and `checkHostAccess` must say the same at startup.
 *
 * Each test narrows its permissions (the `permissions` option), so the outcome is the same
 * whether the suite runs with the project's flags or with -A. Nothing here mounts anything;
 * the tests with a real bind are in tests/integration/disks_host_test.ts; the messages
 * themselves are tested in host_root_test.ts.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { checkHostAccess, DiskCollector } from "../../src/disks/collector.ts";
import { HostRoot } from "../../src/host/host_root.ts";

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

const STATFS_PERMISSION_MESSAGE =
  "disks: Deno needs --allow-sys=statfs (node:fs statfs); add it to the deno run flags (deno task start has it)";

/** The message for a root whose reads Deno refuses without --allow-all. */
function allowAllMessage(root: string): string | null {
  const denial = new Deno.errors.NotCapable(
    'Requires all access to "/proc", run again with the --allow-all flag',
  );
  return new HostRoot(root).permissionProblem("disks", denial);
}

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
