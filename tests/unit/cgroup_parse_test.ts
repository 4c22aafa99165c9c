/**
 * The pure parsers of the cgroup source, on literal strings. The v1 texts are this machine's
 * real files (kernel 6.18, cgroup v1, cgroupfs driver, dockerd 20.10); the v2 texts follow
 * kernel Documentation/admin-guide/cgroup-v2.rst, accounting/psi.rst and net/core/net-procfs.c.
 */
import assert from "node:assert/strict";
import {
  parseBlkioThrottle,
  parseIoStat,
  parseIoStatOps,
} from "../../src/source/cgroup/block_io.ts";
import {
  cpuPercent,
  parseCfsPeriod,
  parseCfsQuota,
  parseCpuacctUsage,
  parseCpuMax,
  parseCpuStatUsage,
  parseCpuThrottling,
} from "../../src/source/cgroup/cpu.ts";
import {
  memoryInUse,
  memoryPercent,
  parseMemoryEvents,
  parseMemoryFailcnt,
  parseMemoryLimit,
  parseMemoryStat,
  parseMemoryUsage,
  parseMemTotal,
  parseOomControl,
  reportedLimit,
  UNLIMITED,
} from "../../src/source/cgroup/memory.ts";
import { parseNetDev } from "../../src/source/cgroup/net_dev.ts";
import { parsePidsCurrent, parsePidsMax } from "../../src/source/cgroup/pids.ts";
import { parsePressure } from "../../src/source/cgroup/pressure.ts";
import { parseProcCgroup } from "../../src/source/cgroup/proc_cgroup.ts";

const ID = "ba2ca259c189a5501db78e63e2297182c3918dda80a5818fe5a0cd109ccb03e0";

/** This machine's memory.stat of an idle busybox container (v1: own keys, then total_*). */
const V1_MEMORY_STAT = `cache 0
rss 53248
rss_huge 0
shmem 0
mapped_file 0
dirty 0
writeback 0
workingset_refault_anon 0
workingset_refault_file 0
swap 0
swapcached 0
pgpgin 844
pgpgout 831
pgfault 1174
pgmajfault 0
inactive_anon 49152
active_anon 4096
inactive_file 8192
active_file 0
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 0
total_rss 53248
total_rss_huge 0
total_shmem 0
total_mapped_file 0
total_dirty 0
total_writeback 0
total_workingset_refault_anon 0
total_workingset_refault_file 0
total_swap 0
total_swapcached 0
total_pgpgin 844
total_pgpgout 831
total_pgfault 1174
total_pgmajfault 0
total_inactive_anon 49152
total_active_anon 4096
total_inactive_file 12288
total_active_file 0
total_unevictable 0
`;

Deno.test("cpuacct.usage (v1) is nanoseconds; cpu.stat usage_usec (v2) becomes nanoseconds", () => {
  assert.equal(parseCpuacctUsage("34816031\n"), 34816031);
  assert.equal(parseCpuacctUsage("0"), 0);
  assert.equal(
    parseCpuStatUsage("usage_usec 34816\nuser_usec 21849\nsystem_usec 12966\nnice_usec 0\n"),
    34816000,
  );
  assert.equal(
    parseCpuStatUsage(
      "usage_usec 2500000\nuser_usec 2250000\nsystem_usec 250000\nnr_periods 10\n" +
        "nr_throttled 5\nthrottled_usec 120000\nnr_bursts 0\nburst_usec 0\n",
    ),
    2_500_000_000,
  );
  assert.throws(() => parseCpuacctUsage("12a\n"), SyntaxError);
  assert.throws(() => parseCpuacctUsage(""), SyntaxError);
  assert.throws(() => parseCpuacctUsage("1\n2\n"), SyntaxError);
  assert.throws(() => parseCpuStatUsage("user_usec 1\n"), /no usage_usec/);
  assert.throws(() => parseCpuStatUsage("usage_usec x\n"), SyntaxError);
});

Deno.test("cpuPercent: Δusage / Δwall x 100, 0 unless both deltas are positive", () => {
  assert.equal(cpuPercent(0, 500_000_000, 1000), 50);
  assert.equal(cpuPercent(1e9, 1e9 + 3e9, 2000), 150, "above 100 with several CPUs");
  assert.equal(cpuPercent(5, 5, 1000), 0);
  assert.equal(cpuPercent(10, 5, 1000), 0, "a counter that fell");
  assert.equal(cpuPercent(0, 10, 0), 0);
});

Deno.test("memory usage, limit (v1 number, v2 max) and the two inactive file keys", () => {
  assert.equal(parseMemoryUsage("319488\n"), 319488);
  assert.equal(parseMemoryLimit("9223372036854771712\n"), 9223372036854771712);
  assert.equal(parseMemoryLimit("536870912\n"), 536870912);
  assert.equal(parseMemoryLimit("max\n"), UNLIMITED);
  assert.throws(() => parseMemoryLimit("unlimited\n"), SyntaxError);
  assert.deepEqual(parseMemoryStat(V1_MEMORY_STAT, 1), {
    totalInactiveFile: 12288,
    inactiveFile: 8192,
    anon: 53248, // total_rss, not rss
    file: 0, // total_cache
    pgmajfault: 0, // total_pgmajfault
  });
  assert.deepEqual(
    parseMemoryStat("anon 4096\nfile 8192\nfile_mapped 1\ninactive_file 20480\npgmajfault 7\n", 2),
    { inactiveFile: 20480, anon: 4096, file: 8192, pgmajfault: 7 },
  );
  assert.deepEqual(parseMemoryStat("anon_thp 4096\ninactive_anon 1\n", 2), {
    anon: null,
    file: null,
    pgmajfault: null,
  }, "keys are whole words at a line's start");
  assert.deepEqual(parseMemoryStat("total_rss 1\n", 2).anon, null, "v2 has no total_*");
  assert.throws(() => parseMemoryStat("inactive_file -1\n", 2), /inactive_file/);
});

Deno.test("memoryInUse follows docker/cli calculateMemUsageUnixNoCache, edge cases included", () => {
  assert.equal(memoryInUse(1000, { totalInactiveFile: 300, inactiveFile: 100 }), 700, "v1");
  assert.equal(memoryInUse(1000, { inactiveFile: 100 }), 900, "v2");
  assert.equal(memoryInUse(1000, {}), 1000);
  // v1 with total_inactive_file >= usage falls through to inactive_file, as the CLI does.
  assert.equal(memoryInUse(1000, { totalInactiveFile: 1000, inactiveFile: 100 }), 900);
  assert.equal(memoryInUse(1000, { totalInactiveFile: 2000, inactiveFile: 2000 }), 1000);
});

Deno.test("reportedLimit: the host's memory for an unlimited container (moby statsV1/V2)", () => {
  const machine = 25275973632; // MemTotal 24683568 kB on this machine
  assert.equal(reportedLimit(9223372036854771712, machine), machine, "v1 unlimited");
  assert.equal(reportedLimit(UNLIMITED, machine), machine, "v2 max");
  assert.equal(reportedLimit(536870912, machine), 536870912);
  assert.equal(reportedLimit(UNLIMITED, 0), UNLIMITED, "machine memory unknown");
  assert.equal(memoryPercent(268435456, 536870912), 50);
  assert.equal(memoryPercent(1, 0), 0);
  assert.equal(
    parseMemTotal("MemTotal:       24683568 kB\nMemFree:        20123456 kB\n"),
    machine,
  );
  assert.throws(() => parseMemTotal("MemFree: 1 kB\n"), /MemTotal/);
});

Deno.test("blkio.throttle.io_service_bytes and io_serviced (v1): Read and Write over devices", () => {
  const recorded = "254:0 Read 0\n254:0 Write 4194304\n254:0 Sync 4194304\n254:0 Async 0\n" +
    "254:0 Discard 0\n254:0 Total 4194304\nTotal 4194304\n";
  assert.deepEqual(parseBlkioThrottle(recorded), { read: 0, write: 4194304 });
  const two = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Total 12288\n" +
    "8:16 Read 1000\n8:16 Write 24\n8:16 Sync 0\n8:16 Async 1024\n8:16 Total 1024\n" +
    "Total 13312\n";
  assert.deepEqual(parseBlkioThrottle(two), { read: 5096, write: 8216 });
  assert.deepEqual(parseBlkioThrottle("Total 0\n"), { read: 0, write: 0 });
  assert.deepEqual(parseBlkioThrottle(""), { read: 0, write: 0 });
  assert.throws(() => parseBlkioThrottle("8:0 Read x\n"), /blkio line "8:0 Read x"/);
  // io_serviced of the recording container (4 MiB with dd oflag=direct, bs=1M).
  const serviced = "254:0 Read 0\n254:0 Write 4\n254:0 Sync 4\n254:0 Async 0\n" +
    "254:0 Discard 0\n254:0 Total 4\nTotal 4\n";
  assert.deepEqual(parseBlkioThrottle(serviced), { read: 0, write: 4 });
});

Deno.test("io.stat (v2): rbytes and wbytes, rios and wios, summed over devices", () => {
  const text = "254:0 rbytes=1459200 wbytes=4194304 rios=192 wios=353 dbytes=0 dios=0\n" +
    "7:0 rbytes=40960 wbytes=0 rios=10 wios=0 dbytes=0 dios=0\n";
  assert.deepEqual(parseIoStat(text), { read: 1500160, write: 4194304 });
  assert.deepEqual(parseIoStatOps(text), { read: 202, write: 353 });
  assert.deepEqual(parseIoStat(""), { read: 0, write: 0 });
  assert.throws(() => parseIoStat("8:0 rbytes=x wbytes=1\n"), SyntaxError);
  assert.throws(() => parseIoStatOps("8:0 rios=1 wios=\n"), SyntaxError);
});

Deno.test("pids.current, pids.max (max is no limit)", () => {
  assert.equal(parsePidsCurrent("2\n"), 2);
  assert.throws(() => parsePidsCurrent("max\n"), SyntaxError);
  assert.equal(parsePidsMax("100\n"), 100);
  assert.equal(parsePidsMax("max\n"), null);
  assert.throws(() => parsePidsMax("-1\n"), SyntaxError);
});

Deno.test("cpu.stat throttling: v1 throttled_time ns, v2 throttled_usec; none without keys", () => {
  // This machine's --cpus 0.5 burner (the cpu controller's cpu.stat, v1).
  const v1 = "nr_periods 102\nnr_throttled 101\nthrottled_time 4886052452\nnr_bursts 0\n" +
    "burst_time 0\n";
  assert.deepEqual(parseCpuThrottling(v1), {
    periods: 102,
    throttledPeriods: 101,
    throttledUs: 4886052, // ns / 1000, rounded down
  });
  const v2 = "usage_usec 2500000\nuser_usec 2250000\nsystem_usec 250000\nnr_periods 10\n" +
    "nr_throttled 5\nthrottled_usec 120000\nnr_bursts 0\nburst_usec 0\n";
  assert.deepEqual(parseCpuThrottling(v2), {
    periods: 10,
    throttledPeriods: 5,
    throttledUs: 120000,
  });
  assert.deepEqual(
    parseCpuThrottling("usage_usec 1\nuser_usec 1\nsystem_usec 0\n"),
    { periods: null, throttledPeriods: null, throttledUs: null },
    "v2 without the cpu controller",
  );
  assert.deepEqual(parseCpuThrottling(""), {
    periods: null,
    throttledPeriods: null,
    throttledUs: null,
  });
  assert.throws(() => parseCpuThrottling("nr_periods x\n"), /nr_periods/);
});

Deno.test("quota: v1 cfs_quota_us (-1 unlimited) and cfs_period_us; v2 cpu.max", () => {
  assert.equal(parseCfsQuota("50000\n"), 50000);
  assert.equal(parseCfsQuota("-1\n"), null);
  assert.throws(() => parseCfsQuota("-2\n"), SyntaxError);
  assert.equal(parseCfsPeriod("100000\n"), 100000);
  assert.deepEqual(parseCpuMax("50000 100000\n"), { quotaUs: 50000, periodUs: 100000 });
  assert.deepEqual(parseCpuMax("max 100000\n"), { quotaUs: null, periodUs: 100000 });
  assert.throws(() => parseCpuMax("max\n"), /cpu.max "max/);
  assert.throws(() => parseCpuMax("x 100000\n"), SyntaxError);
});

Deno.test("OOM kills and limit hits: v1 oom_control and failcnt, v2 memory.events", () => {
  // This machine's --memory 32m container after a child was OOM-killed.
  assert.equal(parseOomControl("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"), 1);
  assert.equal(parseOomControl("oom_kill_disable 0\nunder_oom 0\n"), null, "kernel < 4.13");
  assert.equal(parseMemoryFailcnt("124\n"), 124);
  assert.deepEqual(
    parseMemoryEvents("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"),
    { max: 12, oomKill: 1 },
  );
  assert.deepEqual(parseMemoryEvents(""), { max: null, oomKill: null });
});

Deno.test("pressure: some and full totals (µs); a cpu.pressure without full", () => {
  const memory = "some avg10=0.00 avg60=0.12 avg300=0.05 total=123456\n" +
    "full avg10=0.00 avg60=0.02 avg300=0.01 total=7890\n";
  assert.deepEqual(parsePressure(memory), { someUs: 123456, fullUs: 7890 });
  assert.deepEqual(parsePressure("some avg10=1.50 avg60=0.30 avg300=0.06 total=42\n"), {
    someUs: 42,
    fullUs: null,
  });
  assert.deepEqual(parsePressure(""), { someUs: null, fullUs: null });
  assert.throws(() => parsePressure("some avg10=0.00\nfull total=1\n"), /pressure "some avg10/);
});

const NO_NET = {
  rx: 0,
  tx: 0,
  rxPackets: 0,
  txPackets: 0,
  rxErrors: 0,
  txErrors: 0,
  rxDropped: 0,
  txDropped: 0,
};

Deno.test("net/dev: bytes, packets, errors, drops over interfaces but lo; counters at the colon", () => {
  const header = "Inter-|   Receive                                                |  Transmit\n" +
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs " +
    "drop fifo colls carrier compressed\n";
  // This machine's container (network none here: lo only).
  assert.deepEqual(
    parseNetDev(
      header +
        "    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n",
    ),
    NO_NET,
  );
  const text = header +
    "    lo:    1200      12    0    0    0     0          0         0     1200      12    0    0    0     0       0          0\n" +
    "  eth0:    1733      21    1    2    0     0          0         0      866      11    3    4    0     0       0          0\n" +
    "  eth1:123456789012  900000    5    6    0     0          0         0 98765432109  800000    7    8    0     0       0          0\n";
  assert.deepEqual(parseNetDev(text), {
    rx: 1733 + 123456789012,
    tx: 866 + 98765432109,
    rxPackets: 21 + 900000,
    txPackets: 11 + 800000,
    rxErrors: 1 + 5,
    txErrors: 3 + 7,
    rxDropped: 2 + 6,
    txDropped: 4 + 8,
  });
  assert.deepEqual(parseNetDev(""), NO_NET);
  assert.throws(() => parseNetDev(header + "  eth0: 1 2 3\n"), /net\/dev line " {2}eth0: 1 2 3"/);
});

Deno.test("/proc/<pid>/cgroup: v1 hierarchies, the v2 entry, joint controllers", () => {
  const recorded = `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n7:blkio:/docker/${ID}\n` +
    `4:memory:/docker/${ID}\n2:cpuacct:/docker/${ID}\n1:cpu:/docker/${ID}\n0::/docker/${ID}\n`;
  assert.deepEqual(parseProcCgroup(recorded), {
    "name=systemd": `/docker/${ID}`,
    pids: `/docker/${ID}`,
    blkio: `/docker/${ID}`,
    memory: `/docker/${ID}`,
    cpuacct: `/docker/${ID}`,
    cpu: `/docker/${ID}`,
    "": `/docker/${ID}`,
  });
  assert.deepEqual(parseProcCgroup("4:cpu,cpuacct:/system.slice/docker-x.scope\n"), {
    "cpu,cpuacct": "/system.slice/docker-x.scope",
  });
  assert.deepEqual(parseProcCgroup("0::/a:b\n"), { "": "/a:b" }, "a colon in the path");
  assert.throws(() => parseProcCgroup("garbage\n"), SyntaxError);
  assert.throws(() => parseProcCgroup("0::relative\n"), SyntaxError);
});
