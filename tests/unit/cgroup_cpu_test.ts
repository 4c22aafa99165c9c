/**
 * The cgroup source's CPU % (Δusage / Δwall x 100) against docker's own form (Δusage /
 * Δsystem x online CPUs x 100, Δsystem from /proc/stat), on readings recorded on this machine:
 * tests/fixtures/cgroup/cpu-readings.json holds, once a second, the monotonic clock, the `cpu`
 * lines of /proc/stat and `cpuacct.usage` of a `--cpus 0.5` burner (cgroup v1).
 */
import assert from "node:assert/strict";
import { cpuPercent, parseCpuacctUsage } from "../../src/source/cgroup/cpu.ts";

interface Recorded {
  monotonicNs: number;
  procStatCpuLines: string;
  cpuacctUsage: string;
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/cgroup/cpu-readings.json", import.meta.url)),
) as { readings: Recorded[] };

/**
 * moby daemon/stats_unix.go `readSystemCPUUsage`, restated: the first 7 fields of the `cpu`
 * line (user nice system idle iowait irq softirq) in clock ticks of 1/100 s, as nanoseconds,
 * and the number of `cpuN` lines as online CPUs.
 */
function systemUsage(procStat: string): { ns: number; cpus: number } {
  let ns = 0;
  let cpus = 0;
  for (const line of procStat.split("\n")) {
    if (!line.startsWith("cpu")) break;
    if (line[3] === " ") {
      const ticks = line.split(/\s+/).slice(1, 8).reduce((sum, v) => sum + Number(v), 0);
      ns = ticks * 1e9 / 100;
    } else cpus++;
  }
  return { ns, cpus };
}

/** docker/cli stats_helpers.go `calculateCPUPercentUnix`, restated. */
function dockerCpuPercent(previous: Recorded, current: Recorded): number {
  const cpuDelta = parseCpuacctUsage(current.cpuacctUsage) -
    parseCpuacctUsage(previous.cpuacctUsage);
  const before = systemUsage(previous.procStatCpuLines);
  const now = systemUsage(current.procStatCpuLines);
  const systemDelta = now.ns - before.ns;
  return systemDelta > 0 && cpuDelta > 0 ? cpuDelta / systemDelta * now.cpus * 100 : 0;
}

Deno.test("CPU %: Δusage / Δwall agrees with docker's Δusage / Δsystem x online CPUs", () => {
  const readings = fixture.readings;
  assert.ok(readings.length >= 3);
  for (let i = 1; i < readings.length; i++) {
    const previous = readings[i - 1]!;
    const current = readings[i]!;
    const ours = cpuPercent(
      parseCpuacctUsage(previous.cpuacctUsage),
      parseCpuacctUsage(current.cpuacctUsage),
      (current.monotonicNs - previous.monotonicNs) / 1e6,
    );
    const docker = dockerCpuPercent(previous, current);
    assert.ok(ours > 5, `the burner used CPU (${ours} %)`);
    // /proc/stat counts in ticks of 10 ms: over 1 s on 2 CPUs, Δsystem is good to ~1 %.
    assert.ok(
      Math.abs(ours - docker) < 1,
      `reading ${i}: ours ${ours.toFixed(2)} %, docker's ${docker.toFixed(2)} %`,
    );
  }
});
