/**
 * The cgroup source on the real kernel (cgroup v1, cgroupfs driver here), end to end: the
 * daemon's own process with `--source cgroup --host-root <binds of / with /proc and /sys>`
 * (tests/helpers/docker.ts `mountCgroupRoot`), a real Docker engine, the real catalog and a
 * real QuestDB, against the Engine API's raw values for the same
 * containers (`curl --unix-socket /var/run/docker.sock .../containers/<id>/stats?stream=false`)
 * and against a second daemon with `--source docker` running side by side.
 *
 * Block I/O: this kernel (6.18) counts v1 `blkio.throttle.io_service_bytes` only for cgroups
 * with a throttle rule, for docker and for us alike (both read 0 otherwise; seen here), so the
 * writer gets `--device-write-bps <disk>:1gb`, a rule far above what it writes.
 *
 * Needs root (mount --bind), a Docker engine and a QuestDB jar; under CI=true they are
 * mandatory, elsewhere a missing one ignores the test with its reason.
 */
import assert from "node:assert/strict";
import { startDaemon, testServerArgs } from "../helpers/daemon.ts";
import {
  dataDisk,
  engineStats,
  ensureBusyboxImage,
  mountCgroupRoot,
  removeContainers,
  runContainer,
  sh,
  unmountHostRoot,
} from "../helpers/docker.ts";
import { requires } from "../helpers/requires.ts";
import { startQuestDB } from "../helpers/questdb.ts";

const INTERVAL_MS = 10_000;
const MiB = 1024 * 1024;
const WRITTEN = 64 * MiB;

/**
 * Sleeps until `ms` past the start of the next interval (of `interval` ms).
 * @returns the last boundary before the wake-up, ms since the epoch.
 */
function untilIntervalOffset(ms: number, interval = INTERVAL_MS): Promise<number> {
  const at = (Math.floor(Date.now() / interval) + 1) * interval + ms;
  return new Promise((r) => setTimeout(() => r(at - (at % interval)), at - Date.now()));
}

/** End of the interval containing `ms` (the designated timestamp of its rows). */
const intervalEnd = (ms: number, interval = INTERVAL_MS) =>
  (Math.floor(ms / interval) + 1) * interval;

interface Row {
  ts: number;
  name: string;
  cpu: number | null;
  memoryUse: number;
  blockIn: number;
  blockOut: number;
  blockOutDelta: number;
  samples: number;
}

Deno.test({
  name: "cgroup source on the real kernel: the engine's figures, exact block I/O, short lives",
  ignore: await requires("docker", "questdb", "root"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const prefix = `cg-${crypto.randomUUID().slice(0, 8)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spool = await Deno.makeTempDir({ prefix: "cg-spool-" });
    const hostRoot = await mountCgroupRoot();
    const daemons: ReturnType<typeof startDaemon>[] = [];
    try {
      const ids: Record<string, string> = {};
      ids.burner = await runContainer(`${prefix}burner`, ["--cpus", "0.5"], "yes > /dev/null");
      ids.mem = await runContainer(
        `${prefix}mem`,
        ["--shm-size", "512m"],
        "dd if=/dev/zero of=/dev/shm/f bs=1M count=200 2>/dev/null; sleep 600",
      );
      const common = [
        "--node",
        "cg-host",
        "--interval",
        "10s",
        "--questdb",
        `http::addr=127.0.0.1:${qdb.httpPort};`,
        "--watchdog",
        "disabled",
        "--events",
        "disabled",
        "--include",
        `${prefix}*`,
      ];
      const cgroup = startDaemon([
        ...common,
        "--source",
        "cgroup",
        "--host-root",
        hostRoot,
        "--table",
        "cgStats",
        "--spool-dir",
        `${spool}/cgroup`,
      ]);
      daemons.push(cgroup);
      const docker = startDaemon([
        ...common,
        "--table",
        "dkStats",
        "--spool-dir",
        `${spool}/docker`,
      ]);
      daemons.push(docker);
      await cgroup.waitForLog(/The cgroup source is producing; ready/, 30_000);
      await docker.waitForLog(/The docker source is producing; ready/, 30_000);

      // Mid-interval: the writer, a 2 s container, a stopper and a container removed while read.
      await untilIntervalOffset(1000);
      ids.io = await runContainer(
        `${prefix}io`,
        ["--device-write-bps", `${await dataDisk()}:1gb`],
        `sleep 3; dd if=/dev/zero of=/data bs=1M count=${WRITTEN / MiB} oflag=direct ` +
          "2>/dev/null; sleep 600",
      );
      await runContainer(`${prefix}short`, [], "timeout 2 yes >/dev/null; exit 0");
      await runContainer(`${prefix}stopper`, [], "sleep 600");
      ids.gone = await runContainer(`${prefix}gone`, [], "sleep 600");
      await new Promise((r) => setTimeout(r, 2500));
      await sh("docker", ["rm", "-f", `${prefix}gone`]);
      const removedAt = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      await sh("docker", ["kill", `${prefix}stopper`]);
      const stoppedAt = Date.now();

      // Engine API figures in the middle of the next interval, after the write.
      await untilIntervalOffset(4000);
      const apiAt = Date.now();
      const apiMem = await engineStats(ids.mem);
      const apiIo = await engineStats(ids.io);
      // One more whole interval for both daemons, then stop them mid-interval.
      await untilIntervalOffset(INTERVAL_MS + 2000);
      for (const d of daemons) {
        const { code } = await d.stop("SIGTERM");
        assert.equal(code, 0, d.lines.slice(-20).join("\n"));
      }

      const rows = async (table: string): Promise<Row[]> => {
        const res = await qdb.waitFor(
          `SELECT timestamp, name, cpu, memory_use, block_io_in, block_io_out, ` +
            `block_io_out_delta, samples FROM ${table} ORDER BY timestamp, name`,
          (r) => r.dataset.some((row) => String(row[1]).endsWith("burner")),
        );
        return res.dataset.map((r) => ({
          ts: Date.parse(r[0] as string),
          name: String(r[1]).replace(prefix, ""),
          cpu: r[2] as number | null, // null: no read of the interval had a CPU window
          memoryUse: r[3] as number,
          blockIn: r[4] as number,
          blockOut: r[5] as number,
          blockOutDelta: r[6] as number,
          samples: r[7] as number,
        }));
      };
      const cg = await rows("cgStats");
      const dk = await rows("dkStats");
      console.log("cgStats rows:");
      for (const r of cg) {
        console.log(
          `  ${new Date(r.ts).toISOString()} ${r.name.padEnd(8)} cpu=${r.cpu?.toFixed(2) ?? "-"} ` +
            `mem=${r.memoryUse} blk=${r.blockIn}/${r.blockOut} Δout=${r.blockOutDelta} ` +
            `samples=${r.samples}`,
        );
      }

      await t.step("memory: within 1 % of the API's usage minus inactive file", () => {
        const row = cg.find((r) => r.name === "mem" && r.ts === intervalEnd(apiAt));
        assert.ok(row, `a mem row for the interval ending ${intervalEnd(apiAt)}`);
        assert.ok(apiMem.memoryUse > 200 * MiB, `API ${apiMem.memoryUse}`);
        const off = Math.abs(row.memoryUse - apiMem.memoryUse) / apiMem.memoryUse;
        assert.ok(off <= 0.01, `ours ${row.memoryUse}, API ${apiMem.memoryUse}`);
      });

      await t.step("block I/O: the API's blkio sums, and the written bytes as a delta", () => {
        const row = cg.find((r) => r.name === "io" && r.ts === intervalEnd(apiAt));
        assert.ok(row, "an io row for the API's interval");
        assert.equal(apiIo.blockWrite >= WRITTEN, true, `API wrote ${apiIo.blockWrite}`);
        assert.equal(row.blockOut, apiIo.blockWrite, "equal to the API's Write sum");
        assert.equal(row.blockIn, apiIo.blockRead, "equal to the API's Read sum");
        const io = cg.filter((r) => r.name === "io");
        const biggest = Math.max(...io.map((r) => r.blockOutDelta));
        assert.ok(Math.abs(biggest - WRITTEN) <= 0.01 * WRITTEN, `Δ ${biggest} of ${WRITTEN}`);
        const total = io.reduce((s, r) => s + r.blockOutDelta, 0);
        assert.ok(Math.abs(total - WRITTEN) <= 0.01 * WRITTEN, `ΣΔ ${total}`);
      });

      await t.step("a --cpus 0.5 burner: 50 % ± 3, and ± 3 of the docker source", () => {
        const full = (r: Row) => r.name === "burner" && r.samples >= 8 && r.cpu !== null;
        const docker = new Map(dk.filter(full).map((r) => [r.ts, r]));
        const both = cg.filter(full).filter((r) => docker.has(r.ts));
        for (const r of both) {
          console.log(
            `  burner ${new Date(r.ts).toISOString()}: cgroup ${r.cpu!.toFixed(2)} %, ` +
              `docker ${docker.get(r.ts)!.cpu!.toFixed(2)} %`,
          );
        }
        assert.ok(both.length >= 2, `${both.length} whole intervals in both tables`);
        for (const r of both) {
          const d = docker.get(r.ts)!;
          assert.ok(Math.abs(r.cpu! - d.cpu!) <= 3, `cgroup ${r.cpu} %, docker ${d.cpu} %`);
        }
        // The quota is a ceiling: on a loaded machine the burner gets less, and both sources then
        // report the same shortfall (checked above). At least one whole interval must show the
        // quota itself.
        const best = Math.max(...both.map((r) => r.cpu!));
        assert.ok(Math.abs(best - 50) <= 3, `cgroup source at best ${best} % of a 50 % quota`);
      });

      await t.step("a 2 s container and one that stopped mid-interval each have a row", () => {
        assert.ok(cg.some((r) => r.name === "short" && r.samples >= 2), "short");
        assert.ok(cg.some((r) => r.name === "stopper" && r.ts === intervalEnd(stoppedAt)));
      });

      await t.step("a container removed while read: no error, the daemon goes on", () => {
        const logs = cgroup.lines.join("\n");
        assert.match(logs, new RegExp(`Finished container ${prefix}gone`));
        assert.doesNotMatch(logs, /Cannot read container|\[ERROR\]/);
        assert.ok(cg.some((r) => r.name === "gone"), "it was sampled before");
        assert.ok(
          cg.some((r) => r.name === "burner" && r.ts > intervalEnd(removedAt)),
          "rows after the removal",
        );
      });
    } finally {
      for (const d of daemons) await d.stop("SIGKILL").catch(() => {});
      await removeContainers(prefix);
      await unmountHostRoot(hostRoot);
      await qdb.dispose();
      await Deno.remove(spool, { recursive: true }).catch(() => {});
    }
  },
});

/** A key's value in a flat-keyed cgroup file (`key N` lines), restated for the test. */
function key(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  if (!m) throw new Error(`no ${name} in ${JSON.stringify(text)}`);
  return Number(m[1]);
}

interface FigureRow {
  ts: number;
  name: string;
  cpu: number | null;
  cpuLimit: number | null;
  throttledPct: number | null;
  throttledUs: number | null;
  oomKills: number | null;
  maxEvents: number | null;
  pidsLimit: number | null;
  anon: number | null;
  file: number | null;
  cpuPressure: number | null;
  samples: number;
}

Deno.test({
  name: "cgroup figures on the real kernel (v1): throttling at --cpus 0.5, an OOM kill, no limits",
  ignore: await requires("docker", "questdb", "root"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const interval = 5000;
    const prefix = `cgf-${crypto.randomUUID().slice(0, 8)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spool = await Deno.makeTempDir({ prefix: "cgf-spool-" });
    const hostRoot = await mountCgroupRoot();
    let daemon: ReturnType<typeof startDaemon> | null = null;
    try {
      // Two burners in one container, so that it can use its quota on both CPUs of a busy host.
      const burner = await runContainer(
        `${prefix}burner`,
        ["--cpus", "0.5", "--pids-limit", "50"],
        "yes > /dev/null & yes > /dev/null",
      );
      // facts.md: a child filling a 100 MB variable is OOM-killed at 32m; PID 1 lives on.
      const oom = await runContainer(
        `${prefix}oom`,
        ["--memory", "32m"],
        "while [ ! -e /go ]; do sleep 0.2; done; (x=$(yes | head -c 100000000)); sleep 600",
      );
      await runContainer(`${prefix}free`, [], "sleep 600");
      const cg = (controller: string, id: string, file: string) =>
        Deno.readTextFile(`${hostRoot}/sys/fs/cgroup/${controller}/docker/${id}/${file}`);
      // The burner is frozen whenever the daemon reads it first and last, so the files' own
      // delta over the run is known exactly.
      await sh("docker", ["pause", `${prefix}burner`]);
      const throttledBefore = key(await cg("cpu", burner, "cpu.stat"), "throttled_time");
      const failcntBefore = Number(await cg("memory", oom, "memory.failcnt"));

      daemon = startDaemon([
        ...testServerArgs(qdb.httpPort, spool),
        "--node",
        "cgf-host",
        "--interval",
        "5s",
        "--source",
        "cgroup",
        "--host-root",
        hostRoot,
        "--table",
        "cgfStats",
        "--events",
        "disabled",
        "--include",
        `${prefix}*`,
      ]);
      await daemon.waitForLog(/The cgroup source is producing; ready/, 30_000);
      const b0 = await untilIntervalOffset(200, interval);
      await sh("docker", ["unpause", `${prefix}burner`]);
      const b1 = await untilIntervalOffset(2000, interval);
      await sh("docker", ["exec", `${prefix}oom`, "sh", "-c", "echo > /go"]);
      const b4 = await untilIntervalOffset(2 * interval + 200, interval);
      await sh("docker", ["pause", `${prefix}burner`]);
      const throttledAfter = key(await cg("cpu", burner, "cpu.stat"), "throttled_time");
      const b5 = await untilIntervalOffset(3000, interval);
      assert.equal(
        key(await cg("cpu", burner, "cpu.stat"), "throttled_time"),
        throttledAfter,
        "frozen: no more throttling",
      );
      const oomKills = key(await cg("memory", oom, "memory.oom_control"), "oom_kill");
      const failcntAfter = Number(await cg("memory", oom, "memory.failcnt"));
      const running = await sh("docker", ["inspect", "-f", "{{.State.Running}}", `${prefix}oom`]);
      const { code } = await daemon.stop("SIGTERM");
      assert.equal(code, 0, daemon.lines.slice(-20).join("\n"));
      assert.deepEqual([b1 - b0, b4 - b1, b5 - b4], [interval, 3 * interval, interval], "no lag");

      const res = await qdb.waitFor(
        "SELECT timestamp, name, cpu, cpu_limit, cpu_throttled_pct, cpu_throttled_us_delta, " +
          "oom_kills_delta, memory_max_events_delta, pids_limit, memory_anon, memory_file, " +
          "cpu_pressure_pct, samples FROM cgfStats ORDER BY timestamp, name",
        (r) => r.dataset.some((row) => Date.parse(row[0] as string) >= b5),
      );
      const rows: FigureRow[] = res.dataset.map((r) => ({
        ts: Date.parse(r[0] as string),
        name: String(r[1]).replace(prefix, ""),
        cpu: r[2] as number | null,
        cpuLimit: r[3] as number | null,
        throttledPct: r[4] as number | null,
        throttledUs: r[5] as number | null,
        oomKills: r[6] as number | null,
        maxEvents: r[7] as number | null,
        pidsLimit: r[8] as number | null,
        anon: r[9] as number | null,
        file: r[10] as number | null,
        cpuPressure: r[11] as number | null,
        samples: r[12] as number,
      }));
      console.log("cgfStats rows:");
      for (const r of rows) {
        console.log(
          `  ${new Date(r.ts).toISOString()} ${r.name.padEnd(6)} cpu=${r.cpu?.toFixed(1)} ` +
            `limit=${r.cpuLimit} ` +
            `throttled=${r.throttledPct?.toFixed(1)}% ${r.throttledUs} µs oom=${r.oomKills} ` +
            `max=${r.maxEvents} pids_limit=${r.pidsLimit} anon=${r.anon} file=${r.file} ` +
            `samples=${r.samples}`,
        );
      }
      const of = (name: string) => rows.filter((r) => r.name === name);

      await t.step("burner: limit 0.5, throttled in every whole interval, the files' delta", () => {
        assert.ok(of("burner").every((r) => r.pidsLimit === 50 && r.cpuLimit === 0.5));
        const sum = of("burner").reduce((s, r) => s + (r.throttledUs ?? 0), 0);
        assert.equal(
          sum,
          Math.floor(throttledAfter / 1000) - Math.floor(throttledBefore / 1000),
          "Σ cpu_throttled_us_delta = the change of cpu.stat throttled_time, µs",
        );
        const whole = of("burner").filter((r) => r.ts > b1 && r.ts <= b4);
        assert.equal(whole.length, 3, "three whole intervals between unpause and pause");
        for (const r of whole) {
          // A host too busy to give the burner its 0.5 CPU (cpu well under 50) cannot throttle it.
          const why = `${r.throttledPct} % of periods, ${r.throttledUs} µs at cpu ${r.cpu} %`;
          assert.ok(r.throttledPct !== null && r.throttledPct > 50, why);
          assert.ok(r.throttledUs !== null && r.throttledUs > 0, why);
        }
      });

      await t.step("OOM: one kill in its interval, the container running and reporting on", () => {
        assert.equal(oomKills, 1, "memory.oom_control");
        assert.equal(running, "true");
        const rowsOom = of("oom");
        const killed = rowsOom.filter((r) => r.oomKills === 1);
        assert.equal(killed.length, 1, "one row with oom_kills_delta 1");
        const at = killed[0]!.ts;
        assert.ok(at === b1 + interval || at === b1 + 2 * interval, `the kill's interval: ${at}`);
        assert.equal(rowsOom.reduce((s, r) => s + (r.oomKills ?? 0), 0), 1);
        assert.equal(
          rowsOom.reduce((s, r) => s + (r.maxEvents ?? 0), 0),
          failcntAfter - failcntBefore,
          "Σ memory_max_events_delta = the change of memory.failcnt",
        );
        assert.ok(failcntAfter > failcntBefore, "the limit was hit");
        assert.ok(rowsOom.some((r) => r.ts > at && r.samples >= 4), "rows after the kill");
      });

      await t.step("unlimited: cpu_limit, cpu_throttled_pct and pids_limit absent", () => {
        const free = of("free");
        assert.ok(free.length >= 5);
        for (const r of free) {
          assert.deepEqual([r.cpuLimit, r.throttledPct, r.pidsLimit], [null, null, null]);
          assert.ok(r.anon !== null && r.file !== null, "memory_anon and memory_file");
        }
        assert.ok(rows.every((r) => r.cpuPressure === null), "no pressure on cgroup v1");
      });
    } finally {
      await daemon?.stop("SIGKILL").catch(() => {});
      await removeContainers(prefix);
      await unmountHostRoot(hostRoot);
      await qdb.dispose();
      await Deno.remove(spool, { recursive: true }).catch(() => {});
    }
  },
});
