/**
 * The stats process supervisor with stand-in `docker` executables (small shell scripts). The
 * real CLI cannot be made to freeze or die on demand here: CLI 28.2.2 against this dockerd
 * prints `--` placeholders and exits when the engine dies (that path runs for real in
 * tests/integration/faults_test.ts, fault 4), while the issue also names CLIs that keep
 * printing frozen values. These scripts reproduce those output patterns.
 */
import assert from "node:assert/strict";
import { Pipeline } from "../../src/pipeline.ts";
import {
  DockerStatsSource,
  type DockerStatsSourceOptions,
  findOnPath,
} from "../../src/source/docker_stats/source.ts";

const ROW =
  '{"BlockIO":"0B / 0B","CPUPerc":"1.00%","Container":"aaaaaaaaaaaa","ID":"aaaaaaaaaaaa1","MemPerc":"0.10%","MemUsage":"1MiB / 2GiB","Name":"a","NetIO":"0B / 0B","PIDs":"1"}';

async function script(body: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".sh" });
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `fn` with a source supervising `docker` into a pipeline, and tears both down. */
async function withSource(
  docker: string,
  options: Partial<DockerStatsSourceOptions>,
  fn: (source: DockerStatsSource, pipeline: Pipeline) => Promise<void>,
): Promise<void> {
  const pipeline = new Pipeline({ intervalMs: 60_000, mode: "max", onInterval: () => {} });
  const source = new DockerStatsSource({
    docker,
    onChunk: (c) => pipeline.push(c),
    onEnd: () => pipeline.endOfStream(),
    redraws: () => pipeline.counters.redraws,
    live: () => pipeline.live,
    progress: () => pipeline.progress,
    stallMs: 300,
    initialBackoffMs: 20,
    ...options,
  });
  try {
    source.start();
    await fn(source, pipeline);
  } finally {
    await source.stop();
    pipeline.stop();
    await Deno.remove(docker);
  }
}

/** A stand-in `docker`: `version` answers (or fails), anything else runs `stats`. */
function fakeDocker(stats: string, engineUp: boolean): Promise<string> {
  return script(
    `if [ "$1" = version ]; then ${engineUp ? "echo 28.2.2; exit 0" : "exit 1"}; fi\n${stats}`,
  );
}

const FROZEN = `while true; do printf '\\033[H%s\\033[K\\n\\033[J' '${ROW}'; sleep 0.1; done`;

Deno.test("frozen output and an engine that does not answer: the child is restarted", async () => {
  await withSource(await fakeDocker(FROZEN, false), { stallMs: 400 }, async (source, pipeline) => {
    await until(() => source.starts >= 2, 5000);
    assert.ok(pipeline.counters.samples > 3, "samples flowed before the restart");
  });
});

Deno.test("frozen output while the engine answers (an idle host): no restart", async () => {
  await withSource(await fakeDocker(FROZEN, true), {}, async (source, pipeline) => {
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(source.starts, 1, "an idle host keeps its stream: no gap in the samples");
    assert.ok(pipeline.counters.samples > 10);
  });
});

Deno.test("no redraw at all (a hung child): restarted even though the engine answers", async () => {
  await withSource(await fakeDocker("exec sleep 30", true), {}, async (source, pipeline) => {
    await until(() => source.starts >= 2, 5000);
    assert.equal(pipeline.counters.redraws, 0);
  });
});

const PLACEHOLDER =
  '{"BlockIO":"--","CPUPerc":"--","Container":"aaaaaaaaaaaa","ID":"aaaaaaaaaaaa1","MemPerc":"--","MemUsage":"-- / --","Name":"a","NetIO":"--","PIDs":"--"}';

Deno.test("placeholder rows only, engine answering (it came back): restarted", async () => {
  await withSource(
    await fakeDocker(
      `while true; do printf '\\033[H%s\\033[K\\n\\033[J' '${PLACEHOLDER}'; sleep 0.1; done`,
      true,
    ),
    {},
    async (source, pipeline) => {
      await until(() => source.starts >= 2, 5000);
      assert.equal(pipeline.counters.samples, 0);
    },
  );
});

Deno.test("changing values keep the child running", async () => {
  const docker = await script(
    `i=0; while true; i=$((i+1)); do printf '\\033[H%s\\033[K\\n\\033[J' "$(echo '${ROW}' | sed "s/1.00%/$i.00%/")"; sleep 0.1; done`,
  );
  const pipeline = new Pipeline({ intervalMs: 60_000, mode: "max", onInterval: () => {} });
  const source = new DockerStatsSource({
    docker,
    onChunk: (c) => pipeline.push(c),
    progress: () => pipeline.progress,
    stallMs: 400,
  });
  try {
    source.start();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(source.starts, 1);
    assert.ok(pipeline.counters.samples >= 5);
  } finally {
    await source.stop();
    pipeline.stop();
    await Deno.remove(docker);
  }
});

Deno.test("a child that exits is restarted with doubling backoff", async () => {
  const docker = await script(`printf '%s\\n' '${ROW}'; exit 3`);
  const starts: number[] = [];
  const source = new DockerStatsSource({
    docker,
    onChunk: () => {},
    onEnd: () => starts.push(performance.now()),
    initialBackoffMs: 100,
    maxBackoffMs: 400,
    probeEveryMs: 10_000,
  });
  try {
    source.start();
    await until(() => starts.length >= 4, 5000);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    assert.ok(gaps[0]! >= 90 && gaps[1]! >= 190 && gaps[2]! >= 390, gaps.join(", "));
  } finally {
    await source.stop();
    await Deno.remove(docker);
  }
});

Deno.test("findOnPath finds executables and misses others", () => {
  assert.equal(findOnPath("sh", "/nonexistent:/bin:/usr/bin"), "/bin/sh");
  assert.equal(findOnPath("no-such-binary-here", "/bin:/usr/bin"), null);
});
