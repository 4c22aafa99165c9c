/**
 * Finding a container's cgroup files, and reading them into a sample, on the fixture trees of
 * tests/fixtures/cgroup/: v1-cgroupfs (copied from this machine's real kernel), v1-systemd,
 * v2-systemd, v2-cgroupfs and v2-rootless (made by make_trees.py from the kernel's formats).
 */
import assert from "node:assert/strict";
import { HostRoot } from "../../src/host/host_root.ts";
import {
  candidateDirs,
  cgroupFiles,
  containerCgroupPath,
  detectLayout,
  resolveDirs,
} from "../../src/source/cgroup/layout.ts";
import { UNLIMITED } from "../../src/source/cgroup/memory.ts";
import { cgroupsResolver } from "../../src/source/cgroup/proc_cgroup.ts";
import { ContainerReader, ReadBuffer } from "../../src/source/cgroup/reader.ts";
import { sampleOf } from "../../src/source/cgroup/sample.ts";

const FIXTURES = new URL("../fixtures/cgroup/", import.meta.url).pathname;
const V1_ID = "7d93a2ed086e27fc68bd8fceb4198a5b956f7b166bb05acc066d13158b1a5601";
const V1_IDLE = "a9c3330d2905adc1f5a86958ab6f8b753e9f8cae6453bdaf5a7d2f5431cf4a0e";
const A = "aaaaaaaaaaaa0123456789abcdef0123456789abcdef0123456789abcdefaaaa";
const B = "bbbbbbbbbbbbfedcba9876543210fedcba9876543210fedcba9876543210bbbb";
const C = "cccccccccccc00112233445566778899aabbccddeeffcccccccccccccccccccc";
/** MemTotal of this machine, in the fixtures' proc/meminfo (24683568 kB). */
const MACHINE = 25275973632;

function host(tree: string): HostRoot {
  return new HostRoot(FIXTURES + tree);
}

/** Resolves, opens and reads one container of a tree, as the source does. */
async function readContainer(tree: string, id: string, pid: number, networkMode = "default") {
  const h = host(tree);
  const layout = detectLayout(h)!;
  const cgroups = await cgroupsResolver(h)(pid);
  const dirs = resolveDirs(layout, h, { id, cgroups })!;
  assert.ok(dirs, `${tree}: ${id} resolved`);
  const netDev = networkMode === "host" ? null : `/proc/${pid}/net/dev`;
  const reader = new ContainerReader(h, layout.version, cgroupFiles(layout.version, dirs), netDev);
  try {
    const reading = reader.read(new ReadBuffer(), () => 1000);
    return { dirs, reading, sample: sampleOf({ id, name: "n" }, undefined, reading, MACHINE) };
  } finally {
    reader.close();
  }
}

Deno.test("detectLayout: v1 (separate and joint cpu,cpuacct mounts) and v2", () => {
  assert.deepEqual(detectLayout(host("v1-cgroupfs")), {
    version: 1,
    mounts: {
      cpu: "/sys/fs/cgroup/cpuacct",
      memory: "/sys/fs/cgroup/memory",
      blkio: "/sys/fs/cgroup/blkio",
      pids: "/sys/fs/cgroup/pids",
    },
  });
  assert.equal(detectLayout(host("v1-systemd"))?.mounts.cpu, "/sys/fs/cgroup/cpuacct");
  for (const tree of ["v2-systemd", "v2-cgroupfs", "v2-rootless"]) {
    assert.deepEqual(detectLayout(host(tree)), {
      version: 2,
      mounts: {
        cpu: "/sys/fs/cgroup",
        memory: "/sys/fs/cgroup",
        blkio: "/sys/fs/cgroup",
        pids: "/sys/fs/cgroup",
      },
    }, tree);
  }
  assert.equal(detectLayout(new HostRoot(FIXTURES)), null, "no /sys/fs/cgroup");
});

Deno.test("containerCgroupPath: cut after the container's component; refuse a climbing path", () => {
  assert.equal(containerCgroupPath(`/docker/${A}`, A), `/docker/${A}`);
  assert.equal(
    containerCgroupPath(`/system.slice/docker-${A}.scope/init.scope`, A),
    `/system.slice/docker-${A}.scope`,
  );
  assert.equal(containerCgroupPath(`/my-parent/custom`, A), "/my-parent/custom");
  assert.equal(containerCgroupPath(`/../docker-${A}.scope`, A), null);
  assert.equal(containerCgroupPath("/", A), null);
});

Deno.test("candidateDirs: /proc path first, then cgroupfs, systemd, rootless", () => {
  const v2 = detectLayout(host("v2-systemd"))!;
  assert.deepEqual(
    candidateDirs(v2, "memory", A, { "": `/custom/${A}` }, ["1000"]),
    [
      `/sys/fs/cgroup/custom/${A}`,
      `/sys/fs/cgroup/docker/${A}`,
      `/sys/fs/cgroup/system.slice/docker-${A}.scope`,
      `/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${A}.scope`,
    ],
  );
  const v1 = detectLayout(host("v1-systemd"))!;
  assert.deepEqual(
    candidateDirs(v1, "cpu", C, { "cpu,cpuacct": `/system.slice/docker-${C}.scope` }),
    [`/sys/fs/cgroup/cpuacct/system.slice/docker-${C}.scope`, `/sys/fs/cgroup/cpuacct/docker/${C}`],
  );
});

const CASES = [
  { tree: "v1-cgroupfs", id: V1_ID, pid: 22400, dir: `/sys/fs/cgroup/memory/docker/${V1_ID}` },
  {
    tree: "v1-systemd",
    id: C,
    pid: 5151,
    dir: `/sys/fs/cgroup/memory/system.slice/docker-${C}.scope`,
  },
  { tree: "v2-systemd", id: A, pid: 4242, dir: `/sys/fs/cgroup/system.slice/docker-${A}.scope` },
  { tree: "v2-cgroupfs", id: A, pid: 4242, dir: `/sys/fs/cgroup/docker/${A}` },
  {
    tree: "v2-rootless",
    id: A,
    pid: 4242,
    dir: `/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/docker-${A}.scope`,
  },
];

Deno.test("resolveDirs: from /proc/<pid>/cgroup, and by ID alone, in every layout", async () => {
  for (const { tree, id, pid, dir } of CASES) {
    const h = host(tree);
    const layout = detectLayout(h)!;
    const cgroups = await cgroupsResolver(h)(pid);
    assert.equal(resolveDirs(layout, h, { id, cgroups })?.memory, dir, `${tree} from /proc`);
    assert.equal(resolveDirs(layout, h, { id, cgroups: {} })?.memory, dir, `${tree} by ID`);
    assert.equal(resolveDirs(layout, h, { id: "f".repeat(64), cgroups: {} }), null, tree);
  }
  const v1 = resolveDirs(detectLayout(host("v1-systemd"))!, host("v1-systemd"), {
    id: C,
    cgroups: {},
  });
  assert.equal(v1?.cpu, `/sys/fs/cgroup/cpuacct/system.slice/docker-${C}.scope`, "via the link");
});

Deno.test("read on the real v1 tree: the engine's figures for a 512 MiB container", async () => {
  const { sample } = await readContainer("v1-cgroupfs", V1_ID, 22400);
  assert.deepEqual(sample, {
    id: V1_ID,
    container: V1_ID.slice(0, 12),
    name: "n",
    cpu: 0,
    memoryUse: 8892416, // usage_in_bytes minus total_inactive_file (0)
    totalMemory: 536870912,
    memoryPercentage: 8892416 / 536870912 * 100,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 4194304, // dd of 4 MiB with oflag=direct
    pids: 1,
  });
  const idle = await readContainer("v1-cgroupfs", V1_IDLE, 22451);
  assert.equal(idle.sample.totalMemory, MACHINE, "no limit: the host's MemTotal");
  assert.equal(idle.reading.memoryLimit, 9223372036854771712);
});

Deno.test("read on the v2 trees: inactive_file, max, io.stat over devices, eth0", async () => {
  for (const tree of ["v2-systemd", "v2-cgroupfs", "v2-rootless"]) {
    const a = await readContainer(tree, A, 4242);
    assert.equal(a.reading.cpuNs, 2_500_000_000, tree);
    assert.equal(a.reading.memoryLimit, UNLIMITED);
    assert.deepEqual(
      [a.sample.memoryUse, a.sample.totalMemory, a.sample.blockIn, a.sample.blockOut],
      [212_992_000 - 1_048_576, MACHINE, 1459200 + 40960, 4194304],
      tree,
    );
    assert.deepEqual([a.sample.netIn, a.sample.netOut, a.sample.pids], [1733, 866, 3], tree);
    const hostNet = await readContainer(tree, A, 4242, "host");
    assert.deepEqual([hostNet.sample.netIn, hostNet.sample.netOut], [0, 0], "network mode host");
    const b = await readContainer(tree, B, 4343);
    assert.deepEqual(
      [b.sample.memoryUse, b.sample.totalMemory, b.sample.memoryPercentage, b.sample.blockOut],
      [319_488, 536870912, 319_488 / 536870912 * 100, 0],
      tree,
    );
  }
});

Deno.test("cgroupsResolver rejects for a process that is gone", async () => {
  await assert.rejects(cgroupsResolver(host("v2-systemd"))(999999), { code: "ENOENT" });
});
