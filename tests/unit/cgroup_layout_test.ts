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
import type { CgroupFigures } from "../../src/sample.ts";

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
async function readContainer(
  tree: string,
  id: string,
  pid: number,
  networkMode = "default",
  root = FIXTURES + tree,
) {
  const h = new HostRoot(root);
  const layout = detectLayout(h)!;
  const cgroups = await cgroupsResolver(h)(pid);
  const dirs = resolveDirs(layout, h, { id, cgroups })!;
  assert.ok(dirs, `${tree}: ${id} resolved`);
  const netDev = networkMode === "host" ? null : `/proc/${pid}/net/dev`;
  const reader = new ContainerReader(h, layout.version, cgroupFiles(layout.version, dirs), netDev);
  try {
    const reading = reader.read(new ReadBuffer(), () => 1000);
    return {
      dirs,
      reading,
      sample: sampleOf({ id, name: "n" }, undefined, reading, MACHINE, 1000),
    };
  } finally {
    reader.close();
  }
}

Deno.test("detectLayout: v1 (separate and joint cpu,cpuacct mounts) and v2", () => {
  assert.deepEqual(detectLayout(host("v1-cgroupfs")), {
    version: 1,
    mounts: {
      cpuacct: "/sys/fs/cgroup/cpuacct",
      cpu: "/sys/fs/cgroup/cpu",
      memory: "/sys/fs/cgroup/memory",
      blkio: "/sys/fs/cgroup/blkio",
      pids: "/sys/fs/cgroup/pids",
    },
  });
  const systemd = detectLayout(host("v1-systemd"))?.mounts;
  assert.deepEqual([systemd?.cpuacct, systemd?.cpu], [
    "/sys/fs/cgroup/cpuacct",
    "/sys/fs/cgroup/cpu",
  ]);
  for (const tree of ["v2-systemd", "v2-cgroupfs", "v2-rootless"]) {
    assert.deepEqual(detectLayout(host(tree)), {
      version: 2,
      mounts: {
        cpuacct: "/sys/fs/cgroup",
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
    candidateDirs(v1, "cpuacct", C, { "cpu,cpuacct": `/system.slice/docker-${C}.scope` }),
    [`/sys/fs/cgroup/cpuacct/system.slice/docker-${C}.scope`, `/sys/fs/cgroup/cpuacct/docker/${C}`],
  );
  assert.deepEqual(
    candidateDirs(v1, "cpu", C, { "cpu,cpuacct": `/system.slice/docker-${C}.scope` }),
    [`/sys/fs/cgroup/cpu/system.slice/docker-${C}.scope`, `/sys/fs/cgroup/cpu/docker/${C}`],
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
  assert.equal(v1?.cpuacct, `/sys/fs/cgroup/cpuacct/system.slice/docker-${C}.scope`, "via a link");
  assert.equal(v1?.cpu, `/sys/fs/cgroup/cpu/system.slice/docker-${C}.scope`, "via the other");
});

/**
 * The figures of the recorded v1 container: `--memory 512m --cpus 0.5 --pids-limit 64`, a
 * child OOM-killed (tests/fixtures/cgroup/README.md). cpuacct.usage and the memory and blkio
 * byte files come from the first recording, the rest from the second.
 */
const V1_FIGURES: CgroupFigures = {
  monoMs: 1000,
  cpuUsageNs: 40031901,
  cpuQuotaUs: 50000,
  cpuPeriodUs: 100000,
  cpuPeriods: 468,
  cpuThrottledPeriods: 62,
  cpuThrottledUs: 2019533, // throttled_time 2019533123 ns
  memoryUsage: 8892416,
  memoryAnon: 53248, // total_rss
  memoryFile: 8388608, // total_cache: the 8 MiB in /dev/shm
  memoryMaxEvents: 171, // memory.failcnt
  oomKills: 1,
  pgmajfault: 0,
  cpuPressureSomeUs: null, // no pressure files on v1
  memoryPressureSomeUs: null,
  memoryPressureFullUs: null,
  ioPressureSomeUs: null,
  ioPressureFullUs: null,
  netRxPackets: 0, // lo only
  netTxPackets: 0,
  netRxErrors: 0,
  netTxErrors: 0,
  netRxDropped: 0,
  netTxDropped: 0,
  blockReads: 0,
  blockWrites: 4, // io_serviced: 4 writes of 1 MiB
  pidsLimit: 64,
};

Deno.test("read on the real v1 tree: the engine's figures for a 512 MiB container", async () => {
  const { sample } = await readContainer("v1-cgroupfs", V1_ID, 22400);
  assert.deepEqual(sample, {
    id: V1_ID,
    container: V1_ID.slice(0, 12),
    name: "n",
    cpu: null, // a first read has no window
    memoryUse: 8892416, // usage_in_bytes minus total_inactive_file (0)
    totalMemory: 536870912,
    memoryPercentage: 8892416 / 536870912 * 100,
    netIn: 0,
    netOut: 0,
    blockIn: 0,
    blockOut: 4194304, // dd of 4 MiB with oflag=direct
    pids: 1,
    cgroup: V1_FIGURES,
  });
  const idle = await readContainer("v1-cgroupfs", V1_IDLE, 22451);
  assert.equal(idle.sample.totalMemory, MACHINE, "no limit: the host's MemTotal");
  assert.equal(idle.reading.memoryLimit, 9223372036854771712);
  const c = idle.sample.cgroup!;
  assert.deepEqual(
    [c.cpuQuotaUs, c.cpuPeriodUs, c.cpuPeriods, c.cpuThrottledUs, c.pidsLimit, c.oomKills],
    [null, 100000, 0, 0, null, 0],
    "no quota (-1), pids.max max",
  );
  const systemd = await readContainer("v1-systemd", C, 5151);
  assert.deepEqual(systemd.sample.cgroup, V1_FIGURES, "the joint cpu,cpuacct hierarchy");
});

Deno.test("a missing file or key is null, never an error (v1 without the cpu hierarchy)", async () => {
  const root = await Deno.makeTempDir({ prefix: "cg-layout-" });
  try {
    await new Deno.Command("/bin/cp", { args: ["-a", `${FIXTURES}v1-cgroupfs/.`, root] }).output();
    await Deno.remove(`${root}/sys/fs/cgroup/cpu`, { recursive: true });
    const memory = `${root}/sys/fs/cgroup/memory/docker/${V1_ID}`;
    await Deno.remove(`${memory}/memory.failcnt`);
    await Deno.writeTextFile(`${memory}/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\n");
    await Deno.remove(`${root}/sys/fs/cgroup/pids/docker/${V1_ID}/pids.max`);
    await Deno.remove(`${root}/sys/fs/cgroup/blkio/docker/${V1_ID}/blkio.throttle.io_serviced`);
    const { sample } = await readContainer("v1-cgroupfs", V1_ID, 22400, "host", root);
    const none = {
      cpuQuotaUs: null,
      cpuPeriodUs: null,
      cpuPeriods: null,
      cpuThrottledPeriods: null,
      cpuThrottledUs: null,
      memoryMaxEvents: null,
      oomKills: null, // a kernel before 4.13 has no oom_kill key
      netRxPackets: null, // network mode host: no figures of its own
      netTxPackets: null,
      netRxErrors: null,
      netTxErrors: null,
      netRxDropped: null,
      netTxDropped: null,
      blockReads: null,
      blockWrites: null,
      pidsLimit: null,
    };
    assert.deepEqual(sample.cgroup, { ...V1_FIGURES, ...none });
    assert.equal(sample.memoryUse, 8892416, "the rest as before");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("read on the v2 trees: inactive_file, max, io.stat over devices, eth0, the figures", async () => {
  for (const tree of ["v2-systemd", "v2-cgroupfs", "v2-rootless"]) {
    const a = await readContainer(tree, A, 4242);
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
    assert.deepEqual(a.sample.cgroup, {
      ...V2_NONE,
      monoMs: 1000,
      cpuUsageNs: 2_500_000_000,
      cpuPeriodUs: 100000, // cpu.max "max 100000"
      cpuPeriods: 0,
      cpuThrottledPeriods: 0,
      cpuThrottledUs: 0,
      memoryUsage: 212_992_000,
      memoryAnon: 212_992_000 - 1_048_576,
      memoryFile: 1_048_576,
      memoryMaxEvents: 0,
      oomKills: 0,
      pgmajfault: 5,
      cpuPressureSomeUs: 1_200,
      memoryPressureSomeUs: 0,
      memoryPressureFullUs: 0,
      ioPressureSomeUs: 35_000,
      ioPressureFullUs: 12_000,
      netRxPackets: 21, // eth0; lo's 12 are left out
      netTxPackets: 11,
      netRxErrors: 1,
      netTxErrors: 3,
      netRxDropped: 2,
      netTxDropped: 4,
      blockReads: 192 + 10, // rios over both devices
      blockWrites: 353,
    }, tree);
    assert.deepEqual(b.sample.cgroup, {
      ...V2_NONE,
      monoMs: 1000,
      cpuUsageNs: 41_000_000,
      cpuQuotaUs: 150000, // cpu.max "150000 100000": 1.5 CPUs
      cpuPeriodUs: 100000,
      cpuPeriods: 50,
      cpuThrottledPeriods: 20,
      cpuThrottledUs: 1_500_000,
      memoryUsage: 319_488,
      memoryAnon: 319_488 / 2,
      memoryFile: 319_488 / 2,
      memoryMaxEvents: 7,
      oomKills: 1,
      pgmajfault: 0,
      cpuPressureSomeUs: 900_000,
      memoryPressureSomeUs: 250_000,
      memoryPressureFullUs: 90_000,
      ioPressureSomeUs: 0,
      ioPressureFullUs: 0,
      netRxPackets: 0,
      netTxPackets: 0,
      netRxErrors: 0,
      netTxErrors: 0,
      netRxDropped: 0,
      netTxDropped: 0,
      blockReads: 0, // an empty io.stat
      blockWrites: 0,
      pidsLimit: 100,
    }, tree);
    assert.equal(hostNet.sample.cgroup?.netRxDropped, null, "network mode host");
  }
});

/** Every figure null: the base the v2 expectations override. */
const V2_NONE: CgroupFigures = Object.fromEntries(
  Object.keys(V1_FIGURES).map((k) => [k, null]),
) as unknown as CgroupFigures;

Deno.test("cgroupsResolver rejects for a process that is gone", async () => {
  await assert.rejects(cgroupsResolver(host("v2-systemd"))(999999), { code: "ENOENT" });
});
