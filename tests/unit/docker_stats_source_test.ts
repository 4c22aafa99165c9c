/**
 * The `docker stats` source (src/source/docker_stats/source.ts) supervising stand-in `docker`
 * executables (small shell scripts), on fake time.
 *
 * Why stand-ins: the real CLI cannot be made to freeze, hang or die on demand here. CLI 28.2.2
 * against this dockerd prints `--` placeholders and exits when the engine dies (that path runs
 * for real in tests/integration/faults_test.ts, fault 4), while the issue also names CLIs that
 * keep printing frozen values. The scripts print those patterns in the CLI's framings (29.4:
 * `ESC[H`, rows each ending `ESC[K\n`, `ESC[J`; an empty CLI 28 redraw for a host with no
 * container).
 *
 * Time: `setTimeout`, `setInterval` and `Date` are faked, and the source's monotonic clock is
 * the fake clock, so stall limits, backoff and watchdog pings are decided on fake time. The
 * child processes are real: between two ticks a test waits on a positive signal (a sample, a
 * redraw, a log line of the supervisor), never on a wall-clock sleep.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import type { LogRecord } from "@logtape/logtape";
import { findOnPath } from "../../src/engine/cli.ts";
import type { Sample } from "../../src/sample.ts";
import { Watchdog } from "../../src/service/watchdog.ts";
import {
  DockerStatsSource,
  type DockerStatsSourceOptions,
} from "../../src/source/docker_stats/source.ts";
import { withLogs } from "../helpers/logs.ts";

/** The fake clock `FakeTimers.install` returns. */
type FakeClock = ReturnType<typeof FakeTimers.install>;

/** Real timers, taken before any test installs fake ones: only for polling positive signals. */
const realSetTimeout = globalThis.setTimeout;

const ROW = (cpu: string) =>
  `{"BlockIO":"0B / 0B","CPUPerc":"${cpu}","Container":"aaaaaaaaaaaa","ID":"aaaaaaaaaaaa1","MemPerc":"0.10%","MemUsage":"1MiB / 2GiB","Name":"a","NetIO":"0B / 0B","PIDs":"1"}`;
const PLACEHOLDER =
  '{"BlockIO":"--","CPUPerc":"--","Container":"aaaaaaaaaaaa","ID":"aaaaaaaaaaaa1","MemPerc":"--","MemUsage":"-- / --","Name":"a","NetIO":"--","PIDs":"--"}';
/** One CLI 29.4 redraw of `row` in printf syntax (`%` doubled). */
const redraw = (row: string) => `\\033[H${row.replaceAll("%", "%%")}\\033[K\\n\\033[J`;
/**
 * One CLI 28 redraw of a host with no container: the framing of the recordings (`ESC[H`, the
 * rows, `ESC[H`, the rows again each ending ` ESC[K`, a last ` ESC[K` line, `ESC[J`) with no
 * rows.
 */
const EMPTY_REDRAW = "\\033[H\\033[H \\033[K\\n\\033[J";

/**
 * Writes a stand-in `docker`: `docker version` answers (or fails, like a dead engine) and
 * appends to `probes`; anything else runs `stats`. The script sets its own PATH so that it
 * finds sleep when the tests run with PATH holding only deno.
 */
async function standIn(dir: string, stats: string, engineUp = true): Promise<string> {
  const path = `${dir}/docker`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nPATH=/usr/bin:/bin\nDIR='${dir}'\n` +
      `if [ "$1" = version ]; then echo >> "$DIR/probes"; ${
        engineUp ? "echo 20.10.24; exit 0" : "exit 1"
      }; fi\n${stats}\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** Polls `cond` on real time until it holds; a positive signal, with a deadline. */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => realSetTimeout(r, 2));
  }
}

/** A source under test with its fake clock, its samples and the supervisor's log. */
interface Harness {
  source: DockerStatsSource;
  clock: FakeClock;
  dir: string;
  samples: Sample[];
  logs: string[];
  /** Count of supervisor log lines matching `re`. */
  count(re: RegExp): number;
  /**
   * Waits until the supervisor is quiet: every child it killed has exited and been flushed,
   * and either a child runs or the restart backoff is waiting on its (fake) timer.
   */
  settle(): Promise<void>;
  /** Ticks one second at a time while `cond` is false, settling after each tick. */
  run(seconds: number, cond?: () => boolean, eachSecond?: () => Promise<void>): Promise<void>;
}

const START = Date.UTC(2026, 11, 2, 6, 0, 0);

/** Runs `fn` with a source over the stand-in `stats` script, on fake time, then tears down. */
async function withSource(
  stats: string,
  options: Partial<DockerStatsSourceOptions> & { engineUp?: boolean },
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tt-stats-source-" });
  try {
    const { engineUp, ...sourceOptions } = options;
    const docker = await standIn(dir, stats, engineUp ?? true);
    await withLogs((records) => onFakeTime(dir, docker, sourceOptions, records, fn));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The body of {@link withSource} once the log is collected: the source on a fake clock. */
async function onFakeTime(
  dir: string,
  docker: string,
  options: Partial<DockerStatsSourceOptions>,
  records: LogRecord[],
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const clock = FakeTimers.install({
    now: START,
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
  });
  const source = new DockerStatsSource({
    docker,
    now: () => clock.now,
    monotonic: () => clock.now,
    ...options,
  });
  const samples: Sample[] = [];
  const logs = (): string[] =>
    records.map((r) => r.message.map((m) => typeof m === "string" ? m : String(m)).join(""));
  const count = (re: RegExp) => logs().filter((l) => re.test(l)).length;
  const settle = async () => {
    // One macrotask first, so that what a fired timer set off (a spawn) has run.
    await new Promise((r) => realSetTimeout(r, 0));
    await until(() => {
      const started = count(/^Started /);
      const exited = count(/^docker stats exited/);
      return exited >= count(/^Restarting docker stats/) &&
        (started === exited + 1 || started === exited);
    }, "the supervisor to settle");
  };
  const h: Harness = {
    source,
    clock,
    dir,
    samples,
    get logs() {
      return logs();
    },
    count,
    settle,
    async run(seconds, cond = () => false, eachSecond = () => Promise.resolve()) {
      for (let s = 0; s < seconds && !cond(); s++) {
        await eachSecond();
        clock.tick(1000);
        await settle();
      }
    },
  };
  try {
    source.start((sample) => samples.push(sample));
    await settle();
    await fn(h);
  } finally {
    await source.stop();
    clock.uninstall();
  }
}

/** Waits for the running child to draw one more redraw (the next second may then pass). */
function nextRedraw(h: Harness): () => Promise<void> {
  return () => {
    const seen = h.source.counters.redraws;
    return until(
      () => h.source.counters.redraws > seen || h.source.pid === null,
      "the child's next redraw",
    );
  };
}

const loop = (body: string) => `while true; do ${body}; sleep 0.02; done`;

Deno.test("frozen values and an engine that does not answer: probed, then restarted", async () => {
  await withSource(
    loop(`printf '${redraw(ROW("1.00%"))}'`),
    { engineUp: false },
    async (h) => {
      await h.run(30, () => h.source.starts >= 2, nextRedraw(h));
      assert.equal(h.source.starts, 2);
      // One sample per 2 s: a repeat within 1.5 s of the last sample is the same engine reading.
      assert.ok(h.samples.length >= 5, `${h.samples.length} samples before the restart`);
      assert.equal(h.count(/^Restarting docker stats: no new values for 10 s and the engine/), 1);
      const probes = (await Deno.readTextFile(`${h.dir}/probes`)).length;
      assert.equal(probes, 1, "one probe, which failed");
    },
  );
});

Deno.test("frozen values while the engine answers (an idle host): probes back off, no restart", async () => {
  await withSource(loop(`printf '${redraw(ROW("1.00%"))}'`), {}, async (h) => {
    await h.run(60, undefined, nextRedraw(h));
    assert.equal(h.source.starts, 1, "an idle host keeps its stream: no gap in the samples");
    assert.equal(h.count(/^Restarting/), 0);
    // Probes at about 10 s and 30 s (the limit doubles after each answer); the next is due
    // at 70 s at the earliest.
    const probes = (await Deno.readTextFile(`${h.dir}/probes`)).length;
    assert.equal(probes, 2);
    // The child redraws the same row many times a second; a repeat within 1.5 s of the last
    // sample is the same engine reading and is dropped, so about one sample per 2 s remains.
    assert.ok(h.samples.length >= 28 && h.samples.length <= 32, `${h.samples.length} samples`);
    assert.equal(h.samples[0]!.cpu, null, "the first read has no CPU window");
    assert.ok(h.samples.slice(1).every((s) => s.cpu === 1));
  });
});

Deno.test("no redraw at all (a hung child): restarted after 10 s although the engine answers", async () => {
  await withSource("exec sleep 3600", {}, async (h) => {
    await h.run(9);
    assert.equal(h.source.starts, 1, "not before 10 s");
    await h.run(10, () => h.source.starts >= 2);
    assert.equal(h.source.starts, 2);
    assert.equal(h.clock.now - START, 11_000, "killed at 10 s, restarted after a 1 s backoff");
    assert.equal(h.count(/^Restarting docker stats: no redraw for 10 s/), 1);
    assert.equal(h.source.counters.redraws, 0);
    assert.throws(() => Deno.statSync(`${h.dir}/probes`), "no probe needed");
  });
});

Deno.test("placeholder rows only while the engine answers (it came back): restarted", async () => {
  await withSource(loop(`printf '${redraw(PLACEHOLDER)}'`), {}, async (h) => {
    await h.run(30, () => h.source.starts >= 2, nextRedraw(h));
    assert.equal(h.source.starts, 2);
    assert.equal(h.count(/^Restarting docker stats: only placeholder rows for 10 s/), 1);
    assert.equal(h.samples.length, 0);
    assert.ok(h.source.counters.placeholders >= 10);
  });
});

Deno.test("changing values keep the child running, with no probe", async () => {
  const format = redraw(ROW("@")).replace('"@"', '"%d.00%%"');
  const changing = `i=0; ${loop(`i=$((i+1)); printf '${format}' "$i"`)}`;
  await withSource(changing, {}, async (h) => {
    await h.run(30, undefined, nextRedraw(h));
    assert.equal(h.source.starts, 1, h.logs.join("\n"));
    assert.ok(h.samples.length >= 30);
    assert.ok(new Set(h.samples.map((s) => s.cpu)).size >= 30, "the values changed");
    assert.throws(() => Deno.statSync(`${h.dir}/probes`), "no probe");
  });
});

Deno.test("a child that exits is restarted with doubling backoff", async () => {
  await withSource(
    `printf '%s\\n' '${ROW("1.00%")}'; exit 3`,
    { initialBackoffMs: 100, maxBackoffMs: 400 },
    async (h) => {
      const startedAt = [h.clock.now];
      while (startedAt.length < 5) {
        const n = h.source.starts;
        await until(() => h.count(/^docker stats exited/) === n, `child ${n} to exit`);
        // Its backoff timer is pending: advance fake time until the next child starts.
        while (h.source.starts === n) {
          h.clock.tick(10);
          await h.settle();
        }
        startedAt.push(h.clock.now);
      }
      await until(() => h.count(/^docker stats exited/) === 5, "the fifth child to exit");
      const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!);
      assert.deepEqual(gaps, [100, 200, 400, 400]);
      assert.ok(h.logs.some((l) => /^docker stats exited \(status 3\)/.test(l)), h.logs.join("\n"));
      assert.equal(h.samples.length, 5, "each child's row arrived (flushed at its end)");
    },
  );
});

Deno.test("findOnPath finds executables and misses others", () => {
  assert.equal(findOnPath("sh", "/nonexistent:/bin:/usr/bin"), "/bin/sh");
  assert.equal(findOnPath("no-such-binary-here", "/bin:/usr/bin"), null);
  assert.equal(findOnPath("/some/path/docker", ""), "/some/path/docker", "a path is kept");
});

/**
 * The defect (issue 9, "a killed child re-arms the watchdog"): measured with WATCHDOG_USEC=2 s,
 * the stream stalled at about 3 s, the daemon restarted the child at 13 s, and WATCHDOG=1
 * pings went on until 22 s. Only a sample or an empty redraw from a live child is activity; a
 * restart, and the flush of a killed child's last bytes, are not. With the stream stalled at T,
 * the last ping must come no later than T + max(10 s, WATCHDOG_USEC) + one ping period.
 *
 * How the old code failed this: every CLI redraw ends with `ESC[J` and no newline, so the last
 * one before a stall waits in the parser's line buffer. When the hung child was killed (T + 10
 * s), `SupervisedChild` called `onEnd` -> `Pipeline.endOfStream()` -> `parser.end()`, which
 * flushed that `ESC[J` as a redraw boundary; `onRedraw` was `onActivity` ->
 * `notifier.markSample(now)` (`git show HEAD~1:src/pipeline.ts`, `HEAD~1:main.ts`), so the
 * watchdog's health clock restarted at T + 10 s and pings went on until T + 20 s, past the
 * bound of T + 11 s asserted here. Both variants below reach that flush (the parser counts the
 * flushed redraw); the first has rows in its redraws (a host with containers), the second
 * none (an idle host, whose empty redraws are activity while the child lives).
 */
for (
  const [what, printed, stalledWhen] of [
    [
      "redraws with samples",
      [1, 2, 3].map((i) => redraw(ROW(`${i}.00%`))).join(""),
      (h: Harness) => h.samples.length === 3,
    ],
    [
      "empty redraws (no container)",
      EMPTY_REDRAW.repeat(3),
      (h: Harness) => h.source.counters.emptyRedraws === 2,
    ],
  ] as const
) {
  Deno.test(`a killed child does not re-arm the watchdog (${what}): last ping <= T + window + period`, async () => {
    // First start: wait for the test's go, print three redraws, then hang. Later starts
    // hang at once (the engine is stuck).
    const stats = `if [ ! -e "$DIR/started" ]; then : > "$DIR/started"\n` +
      `  while [ ! -e "$DIR/go" ]; do sleep 0.01; done\n  printf '${printed}'\nfi\n` +
      "exec sleep 3600";
    await withSource(stats, { watchdogUsec: 2_000_000 }, async (h) => {
      const pings: number[] = [];
      const dog = new Watchdog({
        intervalUsec: 2_000_000, // WATCHDOG_USEC=2 s: a ping every second while healthy
        ping: () => void pings.push(h.clock.now),
        healthy: (nowMs) => h.source.health.healthy(nowMs),
        now: () => h.clock.now,
      });
      dog.start();
      try {
        await h.run(3); // the stream runs (the start's grace) for 3 s, as in the measurement
        await Deno.writeTextFile(`${h.dir}/go`, "");
        await until(() => stalledWhen(h), "the three redraws");
        const stalledAt = h.clock.now; // T: the last activity; the child now hangs
        const redrawsBefore = h.source.counters.redraws;
        await h.run(40);

        assert.ok(h.count(/^Restarting docker stats: no redraw for 10 s/) >= 2, h.logs.join("\n"));
        assert.equal(
          h.source.counters.redraws,
          redrawsBefore + 1,
          "the killed child's last ESC[J was flushed as a redraw",
        );
        const windowMs = h.source.health.windowMs;
        assert.equal(windowMs, 10_000, "max(10 s, WATCHDOG_USEC = 2 s)");
        const last = Math.max(...pings);
        const bound = stalledAt + windowMs + dog.periodMs;
        assert.ok(
          last <= bound,
          `last WATCHDOG=1 at T + ${(last - stalledAt) / 1000} s; bound T + ${
            (bound - stalledAt) / 1000
          } s`,
        );
        assert.ok(last >= stalledAt + windowMs - dog.periodMs, "pings went on while healthy");
        assert.equal(pings.filter((t) => t > stalledAt).length, 10, "one per second until T+10");
      } finally {
        dog.stop();
      }
    });
  });
}
