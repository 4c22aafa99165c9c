/**
 * DiskCollector on this machine against coreutils `df -B1 --output=avail,size,pcent,fstype`:
 * the root filesystem, and a 64 MiB tmpfs mounted by the test (root required).
 *
 * Comparison rules:
 * - available and total: within one filesystem block of df. `/` is in use by other processes,
 *   so df is run just before and just after the collection and our value must lie within
 *   [min - block, max + block] of the two; the whole check is retried a few times.
 * - percentage: df's Use% is ceil(used x 100 / (used + avail)) (src/df.c), so the exact test
 *   is `ceil(ours) == df` (i.e. df - 1 < ours <= df), with 1e-9 of slack for floating point
 *   at integer boundaries. That is stricter than "within 1"; "within 0.5" would be wrong (df
 *   prints 14 for our 13.13).
 *
 * The collector here reads the host as a daemon in a container does: under `--host-root`, a
 * read-only recursive bind of `/` under a temporary directory D (`mount --rbind / D`, `mount
 * --make-rslave D`, `mount -o remount,bind,ro D`), where D/proc/... is an ordinary path. Each
 * test makes its own bind and removes it in `finally` (`umount -R D`, see {@link withHostRoot}).
 * df runs on the real paths. The daemon on the host reads `/` directly with every permission:
 * that is tests/integration/deploy_test.ts (a process of its own, as the README starts it).
 *
 * Permissions: the project's test permissions (`deno task test`), never `-A`; each test also
 * narrows them further with the `permissions` option (Deno refuses /proc itself without every
 * permission, GHSA-23rx-c3g5-hv9w, so these tests could not pass at host root `/`). Deno's
 * node:fs statfs needs --allow-sys=statfs.
 *
 * Needs root (mount), hence an integration test. When the bind cannot be made the tests are
 * skipped with a printed reason, except under CI=true, where they run and fail. The I/O test
 * is skipped when `/` is not mounted from a device (overlay in a container).
 */
import assert from "node:assert/strict";
import { readFile, readlink, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { DiskCollector, type DiskReading } from "../../src/disks/collector.ts";
import { parseDiskStats } from "../../src/disks/diskstats.ts";

/** What the tests need: only these (all within `deno task test`'s flags). */
const PERMISSIONS: Deno.PermissionOptionsObject = {
  read: true,
  write: true,
  run: ["mount", "umount", "findmnt", "df"],
  sys: ["statfs"],
  env: false,
  net: false,
  ffi: false,
  import: false,
};

interface DfRow {
  avail: number;
  size: number;
  pcent: number;
  fstype: string;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

async function df(path: string): Promise<DfRow> {
  const text = await run("df", ["-B1", "--output=avail,size,pcent,fstype", path]);
  const fields = text.trim().split("\n")[1]?.trim().split(/\s+/) ?? [];
  const [avail, size, pcent, fstype] = fields;
  if (
    avail === undefined || size === undefined || pcent === undefined || fstype === undefined ||
    !pcent.endsWith("%")
  ) {
    throw new Error(`unexpected df output: ${text}`);
  }
  return { avail: Number(avail), size: Number(size), pcent: Number(pcent.slice(0, -1)), fstype };
}

async function blockSize(path: string): Promise<number> {
  const s = await statfs(path);
  const frsize = (s as { frsize?: unknown }).frsize;
  return typeof frsize === "number" && frsize > 0 ? frsize : s.bsize;
}

function within(value: number, a: number, b: number, slack: number): boolean {
  return value >= Math.min(a, b) - slack && value <= Math.max(a, b) + slack;
}

function percentMatchesDf(ours: number, dfPercent: number): boolean {
  return Math.ceil(ours - 1e-9) === dfPercent;
}

/**
 * A read-only recursive bind of `/` at a new temporary directory, the host root for `fn`;
 * removed afterwards whatever happens.
 *
 * The bind is made a slave before anything else: where `/` is shared (systemd's default) the
 * copies would otherwise be peers of the host's mounts, and unmounting them would propagate
 * to the host's own /proc, /sys, /dev (mount_namespaces(7), "MS_SHARED"; kernel
 * Documentation/filesystems/sharedsubtree.rst, umount). For the same reason cleanup refuses
 * `umount -R` while any mount under the bind is still shared. Only the top mount is made
 * read-only (`remount,bind,ro` does not recurse); nothing here writes under it.
 */
async function withHostRoot<T>(fn: (root: string) => Promise<T>): Promise<T> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "disks-hostroot-" }));
  try {
    await run("mount", ["--rbind", "/", root]);
  } catch (err) {
    await Deno.remove(root); // empty directory, never recursive
    throw err;
  }
  try {
    await run("mount", ["--make-rslave", root]);
    await run("mount", ["-o", "remount,bind,ro", root]);
    return await fn(root);
  } finally {
    await removeHostRoot(root);
  }
}

/** `umount -R` of a bind made by {@link withHostRoot}, then its (empty) directory. */
async function removeHostRoot(root: string): Promise<void> {
  await run("mount", ["--make-rslave", root]).catch(() => {});
  const propagation = await run("findmnt", ["-R", "-n", "-o", "PROPAGATION", root]);
  if (propagation.includes("shared")) {
    throw new Error(
      `${root} left mounted: a mount under it is shared, so umount -R would propagate to the host; run: mount --make-rslave ${root} && umount -R ${root} && rmdir ${root}`,
    );
  }
  try {
    await run("umount", ["-R", root]);
  } catch {
    await run("umount", ["-R", "-l", root]); // busy: detach now, freed when no longer used
  }
  await Deno.remove(root); // not recursive: fails rather than delete anything still mounted
}

/** Why a host root cannot be made here, or `null` (a full make-and-remove cycle). */
async function hostRootProblem(): Promise<string | null> {
  try {
    await withHostRoot((root) => readFile(join(root, "proc/self/mountinfo"), "utf8"));
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const CI = Deno.env.get("CI") === "true";
const problem = await hostRootProblem();
if (problem !== null) {
  console.log(
    CI
      ? `disks host tests: CI=true, running them although a read-only bind of / cannot be made: ${problem}`
      : `disks host tests skipped: a read-only bind of / cannot be made (needs root, --allow-run=mount,umount,findmnt,df): ${problem}`,
  );
}
/** Options of every test here: skipped without a bind (outside CI), narrow permissions. */
const HOST = { ignore: problem !== null && !CI, permissions: PERMISSIONS };

/** Collects `disk` between two df runs until all three figures agree (at most 5 tries). */
async function compareWithDf(
  hostRoot: string,
  disk: string,
  mountPoint: string,
): Promise<DiskReading> {
  const block = await blockSize(mountPoint);
  let last = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const c = new DiskCollector([disk], { hostRoot, onWarning: (m) => (last = m) });
    const before = await df(mountPoint);
    const [reading] = await c.collect();
    const after = await df(mountPoint);
    assert.ok(reading !== undefined, `no reading for ${disk}: ${last}`);
    assert.equal(reading.fileSystem, before.fstype);
    const ok = within(reading.availableSpace, before.avail, after.avail, block) &&
      within(reading.totalSpace, before.size, after.size, block) &&
      (percentMatchesDf(reading.percentageUse, before.pcent) ||
        percentMatchesDf(reading.percentageUse, after.pcent));
    last = JSON.stringify({ reading, before, after, block });
    if (ok) {
      console.log(
        `${disk}: attempt ${attempt + 1}, block ${block}; ours avail=${reading.availableSpace} ` +
          `total=${reading.totalSpace} use=${reading.percentageUse}; df before ` +
          `${JSON.stringify(before)} after ${JSON.stringify(after)}`,
      );
      return reading;
    }
  }
  throw new assert.AssertionError({ message: `never agreed with df: ${last}` });
}

Deno.test({
  name: "host: a read-only bind of / (a container's --host-root) is readable with --allow-read",
  ...HOST,
  fn: () =>
    withHostRoot(async (root) => {
      const mountinfo = await readFile(join(root, "proc/self/mountinfo"), "utf8");
      assert.match(mountinfo, / \/ /, "mountinfo lists /");
      assert.ok((await readFile(join(root, "proc/diskstats"), "utf8")).length > 0);
      const rootDev = /^\d+ \d+ (\d+:\d+) \S+ \/ /m.exec(mountinfo)?.[1];
      if (rootDev !== undefined && !rootDev.startsWith("0:")) {
        assert.match(await readlink(join(root, "sys/dev/block", rootDev)), /\/block\//);
      }
      assert.ok((await statfs(join(root, "/"))).blocks > 0);
      assert.equal(
        (await Deno.permissions.query({ name: "read", path: join(root, "proc") })).state,
        "granted",
      );
    }),
});

Deno.test({
  name: "host: / agrees with df (avail, size within a block; Use% = ceil)",
  ...HOST,
  fn: () =>
    withHostRoot(async (root) => {
      const r = await compareWithDf(root, "/", "/");
      assert.equal(r.mountPoint, "/");
      assert.ok(r.totalSpace > 0);
      console.log(
        `/: name=${r.name} fs=${r.fileSystem} type=${r.type} avail=${r.availableSpace} ` +
          `total=${r.totalSpace} use=${r.percentageUse.toFixed(4)}%`,
      );
    }),
});

/** Why `/` has no I/O counters to compare (its mount source is no device: overlay), or `null`. */
async function rootWithoutDevice(): Promise<string | null> {
  const [source = "", fsType = ""] = (await run("findmnt", ["-n", "-o", "SOURCE,FSTYPE", "/"]))
    .trim().split(/\s+/);
  return source.startsWith("/dev/") ? null : `/ is ${fsType} from ${source}, not a block device`;
}
const noRootDevice = problem === null ? await rootWithoutDevice() : null;
if (noRootDevice !== null) console.log(`disks host I/O test skipped: ${noRootDevice}`);

Deno.test({
  name: "host: / I/O counters are its /proc/diskstats sectors x 512",
  ...HOST,
  ignore: HOST.ignore || noRootDevice !== null,
  fn: () => withHostRoot(ioCounters),
});

async function ioCounters(root: string): Promise<void> {
  const c = new DiskCollector(["/"], { hostRoot: root, onWarning: () => {} });
  const find = async (name: string) =>
    parseDiskStats(await readFile(join(root, "proc/diskstats"), "utf8")).find((e) =>
      e.name === name
    );
  const [r] = await c.collect();
  assert.ok(r !== undefined);
  assert.notEqual(r.device, "", `/ is mounted from a device: ${JSON.stringify(r)}`);
  const before = await find(r.device);
  const [r2] = await c.collect();
  const after = await find(r.device);
  assert.ok(r2 !== undefined && before !== undefined && after !== undefined);
  assert.ok(r2.readBytes >= Number(before.readBytes) && r2.readBytes <= Number(after.readBytes));
  assert.ok(
    r2.writeBytes >= Number(before.writeBytes) && r2.writeBytes <= Number(after.writeBytes),
  );
  assert.ok(r2.readBytes > 0);
  assert.equal(r2.readBytesDelta, r2.readBytes - r.readBytes);
  assert.equal(r2.writeBytesDelta, r2.writeBytes - r.writeBytes);
}

Deno.test({
  name: "host: a 64 MiB tmpfs with 10 MiB written agrees with df",
  ...HOST,
  fn: async () => {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "disks-tmpfs-" }));
    await run("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", dir]);
    try {
      await Deno.writeFile(join(dir, "fill"), new Uint8Array(10 * 1024 * 1024));
      // The bind is made after the tmpfs, so (being recursive) it holds a copy of it.
      await withHostRoot((root) => tmpfsAgreesWithDf(root, dir));
    } finally {
      await run("umount", [dir]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function tmpfsAgreesWithDf(root: string, dir: string): Promise<void> {
  const seen = await statfs(join(root, dir), { bigint: true });
  const real = await statfs(dir, { bigint: true });
  assert.deepEqual(
    [seen.type, seen.blocks],
    [real.type, real.blocks],
    "the bind shows the tmpfs",
  );
  assert.equal((await stat(join(root, dir, "fill"))).size, 10 * 1024 * 1024);
  const mountinfo = await readFile(join(root, "proc/1/mountinfo"), "utf8");
  assert.ok(
    mountinfo.split("\n").some((line) => line.split(" ")[4] === dir),
    `${dir} is not in ${root}/proc/1/mountinfo, which the collector reads for a host root other than /: is PID 1 in another mount namespace?`,
  );
  const r = await compareWithDf(root, dir, dir);
  assert.deepEqual([r.name, r.device, r.fileSystem, r.mountPoint, r.type], [
    dir,
    "",
    "tmpfs",
    dir,
    "unknown",
  ]);
  assert.equal(r.totalSpace, 64 * 1024 * 1024);
  assert.deepEqual([r.readBytes, r.writeBytes, r.readBytesDelta, r.writeBytesDelta], [
    0,
    0,
    0,
    0,
  ]);
  assert.ok(r.percentageUse > 15.6 && r.percentageUse < 15.7, String(r.percentageUse)); // df: 16%
  console.log(
    `tmpfs: avail=${r.availableSpace} total=${r.totalSpace} use=${r.percentageUse}% ` +
      `df=${JSON.stringify(await df(dir))}`,
  );
}
