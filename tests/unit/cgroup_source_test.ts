/**
 * The cgroup source end to end on a copy of the v2-systemd fixture tree, with fake time (no
 * sleeps): samples from a container's start, every period after, one last read at its stop,
 * files that vanish, and health.
 *
 * The container catalog here is a small in-test `CatalogView` over literal `ContainerInfo`s,
 * standing in for src/catalog/ (which needs a Docker engine); the files are real files of the
 * kernel's v2 formats. A removed cgroup's open file reads as ENODEV on the real kernel (the
 * integration test covers that); a fixture's regular file cannot, so a vanish is made here by
 * emptying the file and removing the container's directories, /proc/<pid> included.
 */
import assert from "node:assert/strict";
import { withLogs } from "../helpers/logs.ts";
import FakeTimers from "@sinonjs/fake-timers";
import fc from "fast-check";
import type { CatalogChange, CatalogView, ContainerInfo } from "../../src/catalog/container.ts";
import { HostRoot } from "../../src/host/host_root.ts";
import type { Sample } from "../../src/sample.ts";
import { detectLayout } from "../../src/source/cgroup/layout.ts";
import { isGone, LIMITS_EVERY_MS } from "../../src/source/cgroup/reader.ts";
import { RoundHealth } from "../../src/source/cgroup/health.ts";
import { CgroupSource } from "../../src/source/cgroup/source.ts";

const TREE = new URL("../fixtures/cgroup/v2-systemd/", import.meta.url).pathname;
const A = "aaaaaaaaaaaa0123456789abcdef0123456789abcdef0123456789abcdefaaaa";
const B = "bbbbbbbbbbbbfedcba9876543210fedcba9876543210fedcba9876543210bbbb";
const START = Date.UTC(2026, 0, 1, 0, 0, 0);
const MACHINE = 25275973632;

function info(id: string, name: string, pid: number, networkMode = "default"): ContainerInfo {
  return {
    id,
    name,
    image: "busybox:local",
    labels: {},
    pid,
    cgroups: { "": `/system.slice/docker-${id}.scope` },
    networkMode,
    restartCount: 0,
    state: "running",
  };
}

/** A catalog over literal containers; `emit` plays the engine's events. */
class TestCatalog implements CatalogView {
  readonly containers = new Map<string, ContainerInfo>();
  readonly #listeners = new Set<(change: CatalogChange) => void>();
  get(id: string): ContainerInfo | undefined {
    return this.containers.get(id);
  }
  running(): Iterable<ContainerInfo> {
    return this.containers.values();
  }
  subscribe(listener: (change: CatalogChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(change: CatalogChange): void {
    if (change.kind === "stop") this.containers.delete(change.container.id);
    else this.containers.set(change.container.id, change.container);
    for (const l of this.#listeners) l(change);
  }
  get listeners(): number {
    return this.#listeners.size;
  }
}

interface Harness {
  root: string;
  catalog: TestCatalog;
  source: CgroupSource;
  clock: FakeTimers.Clock;
  samples: { sample: Sample; atMs: number }[];
  warnings: () => string[];
  /** Rewrites a file of a container's cgroup directory in place (same inode, as the kernel). */
  write(id: string, file: string, text: string): Promise<void>;
}

function withSource(
  running: ContainerInfo[],
  fn: (h: Harness) => Promise<void> | void,
  watchdogUsec: number | null = null,
): Promise<void> {
  return withLogs(async (records) => {
    const root = await Deno.makeTempDir({ prefix: "cg-source-" });
    await new Deno.Command("/bin/cp", { args: ["-a", `${TREE}.`, root] }).output();
    const clock = FakeTimers.install({
      now: START,
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
    });
    const catalog = new TestCatalog();
    for (const c of running) catalog.containers.set(c.id, c);
    const host = new HostRoot(root);
    const source = new CgroupSource({
      catalog,
      host,
      layout: detectLayout(host)!,
      periodMs: 1000,
      machineMemory: MACHINE,
      watchdogUsec,
      now: () => clock.now,
      monotonic: () => clock.now - START,
    });
    const samples: Harness["samples"] = [];
    try {
      await fn({
        root,
        catalog,
        source,
        clock,
        samples,
        warnings: () =>
          records.filter((r) => r.level === "warning").map((r) =>
            r.message.map((m) => typeof m === "string" ? m : JSON.stringify(m)).join("")
          ),
        write: (id, file, text) =>
          Deno.writeTextFile(`${root}/sys/fs/cgroup/system.slice/docker-${id}.scope/${file}`, text),
      });
    } finally {
      await source.stop();
      clock.uninstall();
      await Deno.remove(root, { recursive: true });
    }
  });
}

const cpuStat = (usec: number) => `usage_usec ${usec}\nuser_usec ${usec}\nsystem_usec 0\n`;

Deno.test("samples from start (no CPU first), every period after, with docker's figures", async () => {
  await withSource([info(A, "web", 4242)], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    assert.equal(h.samples.length, 1, "read at start");
    const first = h.samples[0]!;
    assert.equal(first.atMs, START);
    const { cgroup, ...figures } = first.sample;
    assert.deepEqual(
      [cgroup?.monoMs, cgroup?.cpuUsageNs, cgroup?.ioPressureSomeUs],
      [0, 2_500_000_000, 35_000],
      "the cgroup figures ride along",
    );
    assert.deepEqual(figures, {
      id: A,
      container: A.slice(0, 12),
      name: "web",
      cpu: null,
      memoryUse: 212_992_000 - 1_048_576,
      totalMemory: MACHINE,
      memoryPercentage: (212_992_000 - 1_048_576) / MACHINE * 100,
      netIn: 1733,
      netOut: 866,
      blockIn: 1459200 + 40960,
      blockOut: 4194304,
      pids: 3,
    });
    await h.write(A, "cpu.stat", cpuStat(2_500_000 + 500_000)); // +0.5 CPU s
    await h.write(A, "io.stat", "254:0 rbytes=1459200 wbytes=4194305 rios=1 wios=2\n");
    h.clock.tick(1000);
    assert.equal(h.samples.length, 2);
    const second = h.samples[1]!;
    assert.equal(second.atMs, START + 1000);
    assert.equal(second.sample.cpu, 50);
    assert.equal(second.sample.blockOut, 4194305, "exact bytes");
    assert.equal(second.sample.blockIn, 1459200, "the second device's line is gone");
    await h.write(A, "cpu.stat", cpuStat(3_000_000 + 3_000_000)); // 3 CPU s in 2 s
    h.clock.tick(2000);
    assert.deepEqual(h.samples.slice(2).map((s) => s.sample.cpu), [300, 0]);
    assert.equal(h.samples[3]!.sample.cgroup?.monoMs, 3000);
    assert.equal(h.source.counters.rounds, 4, "the start round and 3 periods");
    assert.ok(h.source.health.healthy(3000));
  });
});

Deno.test("a start change samples at once; a stop change reads once more and ends it", async () => {
  await withSource([], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    assert.equal(h.samples.length, 0);
    h.clock.tick(400);
    h.catalog.emit({ kind: "start", container: info(B, "job", 4343, "none") });
    assert.deepEqual(h.samples.map((s) => [s.sample.name, s.atMs]), [["job", START + 400]]);
    assert.equal(h.samples[0]!.sample.totalMemory, 536870912, "memory.max 512 MiB");
    h.clock.tick(600); // the round at 1000
    await h.write(B, "cpu.stat", cpuStat(41_000 + 100_000));
    h.catalog.emit({ kind: "update", container: info(B, "job-renamed", 4343, "none") });
    h.clock.tick(100);
    h.catalog.emit({ kind: "stop", container: info(B, "job-renamed", 4343, "none") });
    assert.deepEqual(
      h.samples.map((s) => [s.sample.name, s.atMs]),
      [["job", START + 400], ["job", START + 1000], ["job-renamed", START + 1100]],
    );
    assert.deepEqual(
      h.samples.map((s) => s.sample.cpu),
      [null, 0, null],
      "no CPU from the first read, nor from the 100 ms window at the stop",
    );
    assert.deepEqual(h.source.containers, []);
    h.clock.tick(5000);
    assert.equal(h.samples.length, 3, "nothing after the stop");
    assert.equal(h.source.counters.finished, 1);
    assert.deepEqual(h.warnings(), []);
  });
});

Deno.test("CPU needs half a period: a read soon after another keeps the window's start", async () => {
  await withSource([], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    h.clock.tick(900);
    h.catalog.emit({ kind: "start", container: info(B, "job", 4343) });
    await h.write(B, "cpu.stat", cpuStat(41_000 + 50_000));
    h.clock.tick(100); // the round at 1000: a 100 ms window
    await h.write(B, "cpu.stat", cpuStat(41_000 + 550_000));
    h.clock.tick(1000); // the round at 2000: 1100 ms since the read at 900
    h.clock.tick(400);
    h.catalog.emit({ kind: "stop", container: info(B, "job", 4343) }); // 400 ms: too short
    assert.deepEqual(
      h.samples.map((s) => [s.atMs - START, s.sample.cpu]),
      [[900, null], [1000, null], [2000, 0.55e9 / 1.1e9 * 100], [2400, null]],
    );
    assert.equal(h.samples.length, 4, "every read is a sample; only its CPU is missing");
  });
});

Deno.test("property: CPU windows are at least half a period and tile a container's reads", async () => {
  // CPU time grows as t² (usage_usec = t_ms²), so the CPU % of a window [a, b] is (a + b) / 10:
  // each sample tells where its window began, without restating the source's rule.
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 5999 }),
      fc.integer({ min: 1, max: 4000 }),
      async (startMs, lifeMs) => {
        await withSource([], async (h) => {
          h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
          const stopMs = startMs + lifeMs;
          const rounds = Array.from({ length: 11 }, (_, i) => i * 1000);
          const times = [...new Set([...rounds, startMs, stopMs])].sort((a, b) => a - b);
          for (const t of times.filter((t) => t > 0)) {
            await h.write(B, "cpu.stat", cpuStat(t * t));
            h.clock.tick(t - (h.clock.now - START));
            if (t === startMs) h.catalog.emit({ kind: "start", container: info(B, "b", 4343) });
            if (t === stopMs) h.catalog.emit({ kind: "stop", container: info(B, "b", 4343) });
          }
          const reads = h.samples.map((s) => ({ b: s.atMs - START, cpu: s.sample.cpu }));
          assert.equal(reads[0]!.b, startMs);
          assert.equal(reads[0]!.cpu, null, "no CPU from a first read");
          assert.equal(reads.at(-1)!.b, stopMs, "the last read at the stop");
          let windowStart = startMs;
          for (const { b, cpu } of reads.slice(1)) {
            if (cpu === null) {
              assert.ok(
                b - windowStart < 500,
                `a null CPU at ${b} from a ${b - windowStart} ms window`,
              );
              continue;
            }
            const a = Math.round(cpu * 10 - b);
            assert.equal(a, windowStart, `the window ending at ${b} starts where the last ended`);
            assert.ok(b - a >= 500, `a ${b - a} ms window`);
            windowStart = b;
          }
        });
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("limits (docker update) are re-read every 10 s; counters every period", async () => {
  await withSource([info(B, "limited", 4343)], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    await h.write(B, "cpu.max", "max 100000\n");
    await h.write(B, "pids.max", "max\n");
    await h.write(B, "memory.max", "max\n");
    await h.write(B, "memory.events", "low 0\nhigh 0\nmax 8\noom 2\noom_kill 2\n");
    h.clock.tick(LIMITS_EVERY_MS - 1000);
    h.clock.tick(1000);
    const figures = h.samples.map((s) => {
      const c = s.sample.cgroup!;
      return [s.atMs - START, c.cpuQuotaUs, c.pidsLimit, s.sample.totalMemory, c.oomKills];
    });
    assert.deepEqual(figures[0], [0, 150000, 100, 536870912, 1]);
    assert.deepEqual(figures[1], [1000, 150000, 100, 536870912, 2], "the counter at once");
    assert.deepEqual(figures.at(-2), [9000, 150000, 100, 536870912, 2]);
    assert.deepEqual(figures.at(-1), [10_000, null, null, MACHINE, 2], "limits lifted");
  });
});

Deno.test("files that vanish mid-read finish the container quietly; others go on", async () => {
  await withSource([info(A, "stays", 4242), info(B, "goes", 4343)], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    assert.equal(h.samples.length, 2);
    // The engine removes B: its cgroup and its process go away while its files are open.
    await h.write(B, "memory.stat", "");
    await h.write(B, "cpu.stat", "");
    await Deno.remove(`${h.root}/sys/fs/cgroup/system.slice/docker-${B}.scope`, {
      recursive: true,
    });
    await Deno.remove(`${h.root}/proc/4343`, { recursive: true });
    h.clock.tick(1000);
    assert.deepEqual(h.samples.slice(2).map((s) => s.sample.name), ["stays"]);
    assert.deepEqual(h.source.containers, [A]);
    assert.equal(h.source.counters.finished, 1);
    assert.equal(h.source.counters.failures, 0);
    assert.deepEqual(h.warnings(), [], "a vanish is not an error");
    // A container announced after its cgroup was already gone: no sample, no warning.
    h.catalog.emit({ kind: "start", container: info(B, "late", 4343) });
    assert.equal(h.samples.length, 3);
    assert.deepEqual(h.source.containers, [A]);
    h.clock.tick(1000);
    assert.equal(h.samples.length, 4);
    assert.ok(h.source.health.healthy(2000));
    assert.deepEqual(h.warnings(), []);
  });
});

Deno.test("a gone cgroup whose PID was reused is finished, not retried forever", async () => {
  await withSource([info(A, "stays", 4242), info(B, "dead", 4343)], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    assert.equal(h.samples.length, 2);
    // B's cgroup goes (no stop change reached us), and its PID now belongs to a host process.
    await h.write(B, "memory.stat", "");
    await h.write(B, "cpu.stat", "");
    await Deno.remove(`${h.root}/sys/fs/cgroup/system.slice/docker-${B}.scope`, {
      recursive: true,
    });
    await Deno.writeTextFile(`${h.root}/proc/4343/cgroup`, "0::/user.slice/session-1.scope\n");
    h.clock.tick(1000);
    assert.deepEqual(h.source.containers, [A], "finished at the first failed read");
    assert.equal(h.source.counters.finished, 1);
    // Announced again (a listing from before its end): the cgroup is not found, the PID is
    // another process's, so it is finished at once instead of warned about every period.
    h.catalog.emit({ kind: "update", container: info(B, "dead", 4343) });
    h.clock.tick(5000);
    assert.deepEqual(h.source.containers, [A]);
    assert.equal(h.source.counters.finished, 2);
    assert.equal(h.source.counters.failures, 0);
    assert.deepEqual(h.warnings(), []);
    assert.deepEqual(new Set(h.samples.slice(2).map((s) => s.sample.name)), new Set(["stays"]));
  });
});

Deno.test("health: unhealthy once no container could be read for the window", async () => {
  await withSource([info(A, "broken", 4242)], async (h) => {
    await h.write(A, "memory.current", "garbage\n");
    let ready = false;
    void h.source.health.ready.then(() => (ready = true));
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    assert.equal(h.samples.length, 0);
    await Promise.resolve();
    assert.ok(ready, "ready at the first read round, at start, though nothing was read");
    h.clock.tick(1000);
    h.clock.tick(9000);
    assert.ok(h.source.health.healthy(10_000), "within the 10 s window");
    h.clock.tick(1000);
    assert.ok(!h.source.health.healthy(11_000), "nothing read for 11 s");
    assert.equal(h.source.counters.failures, 12, "the start read and 11 rounds");
    const warnings = h.warnings();
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /Cannot read container broken \(aaaaaaaaaaaa\): Cannot parse memory usage "garbage/,
    );
    await h.write(A, "memory.current", "4096\n");
    h.clock.tick(1000);
    assert.equal(h.samples.length, 1, "read again once the file is fixed");
    assert.ok(h.source.health.healthy(12_000));
  });
});

Deno.test("health: a host with no containers is healthy; WATCHDOG_USEC widens the window", async () => {
  await withSource([], (h) => {
    h.source.start(() => {});
    h.clock.tick(60_000);
    assert.ok(h.source.health.healthy(60_000));
    assert.equal(h.source.counters.rounds, 61);
  });
  await withSource([info(A, "broken", 4242)], async (h) => {
    await h.write(A, "cpu.stat", "nothing\n");
    h.source.start(() => {});
    h.clock.tick(25_000);
    assert.ok(h.source.health.healthy(25_000), "WATCHDOG_USEC 30 s");
    h.clock.tick(6000);
    assert.ok(!h.source.health.healthy(31_000));
  }, 30_000_000);
});

Deno.test("stop() unsubscribes, closes files and ends the timer", async () => {
  await withSource([info(A, "a", 4242)], async (h) => {
    h.source.start((sample, atMs) => h.samples.push({ sample, atMs }));
    assert.equal(h.catalog.listeners, 1);
    await h.source.stop();
    assert.equal(h.catalog.listeners, 0);
    h.catalog.emit({ kind: "start", container: info(B, "b", 4343) });
    h.clock.tick(5000);
    assert.equal(h.samples.length, 1);
    assert.deepEqual(h.source.containers, []);
  });
});

Deno.test("isGone: ENODEV of a removed cgroup and NotFound; not a parse error", () => {
  assert.ok(isGone(new Error("No such device (os error 19)")));
  assert.ok(isGone(new Deno.errors.NotFound("open")));
  assert.ok(!isGone(new SyntaxError("Cannot parse")));
  assert.ok(!isGone(new Deno.errors.PermissionDenied("x")));
});

Deno.test("RoundHealth: the window is max(10 s, WATCHDOG_USEC, 2 sample periods)", async () => {
  assert.equal(new RoundHealth(0, 1000).windowMs, 10_000);
  assert.equal(new RoundHealth(0, 1000, 30_000_000).windowMs, 30_000);
  const slow = new RoundHealth(0, 30_000);
  assert.equal(slow.windowMs, 60_000, "a 30 s period is not a stall between rounds");
  slow.round(0, 2, 0);
  await slow.ready;
  slow.round(30_000, 2, 1);
  assert.ok(slow.healthy(89_000));
  assert.ok(!slow.healthy(90_001));
});
