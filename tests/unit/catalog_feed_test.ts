/**
 * The `docker events` feed (src/catalog/docker_engine.ts): each start of the child lists again,
 * and a restarted child asks the engine to replay from the newest event already read
 * (`--since`). Unit tests run without an engine, so a stand-in `docker` script plays the
 * recorded stream (tests/fixtures/catalog/events.jsonl) in two parts, the first child exiting
 * half-way as a killed one would, and writes down the arguments it was started with.
 */
import assert from "node:assert/strict";
import { ContainerCatalog } from "../../src/catalog/catalog.ts";
import { DOCKER_EVENTS_ARGS, DockerEventsFeed } from "../../src/catalog/docker_engine.ts";
import { formatSince, type LifecycleRow } from "../../src/catalog/events.ts";

const FIXTURE = new URL("../fixtures/catalog/events.jsonl", import.meta.url);

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("restarted events child: --since the last event read, a new listing, no repeat", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ct-feed-" });
  const lines = Deno.readTextFileSync(FIXTURE).split("\n").filter((l) => l);
  const half = 20;
  await Deno.writeTextFile(`${dir}/part1`, lines.slice(0, half).join("\n") + "\n");
  // The engine replays from --since inclusive: the second child repeats the last line read.
  await Deno.writeTextFile(`${dir}/part2`, lines.slice(half - 1).join("\n") + "\n");
  const docker = `${dir}/docker`;
  await Deno.writeTextFile(
    docker,
    `#!/bin/sh
# Its own PATH: the unit tier runs with PATH holding only deno.
PATH=/usr/bin:/bin
echo "$*" >> "${dir}/args"
if [ "$(wc -l < "${dir}/args")" -eq 1 ]; then cat "${dir}/part1"; exit 1; fi
cat "${dir}/part2"
exec sleep 60
`,
  );
  await Deno.chmod(docker, 0o755);

  const rows: LifecycleRow[] = [];
  let listings = 0;
  const catalog = new ContainerCatalog({
    engine: {
      list: () => (listings++, Promise.resolve([])),
      inspect: () => Promise.resolve([]),
    },
    onEvent: (r) => rows.push(r),
  });
  const startMs = 1_796_190_000_123;
  const feed = new DockerEventsFeed({
    docker,
    catalog,
    now: () => startMs,
    initialBackoffMs: 10,
  });
  try {
    feed.start();
    await until(() => catalog.counters.events === lines.length + 1, "both children's lines");
    await catalog.idle();
    const args = Deno.readTextFileSync(`${dir}/args`).trim().split("\n");
    const base = DOCKER_EVENTS_ARGS.join(" ");
    const lastOfPart1 = BigInt(/"timeNano":(\d+)/.exec(lines[half - 1]!)![1]!);
    assert.deepEqual(args, [
      `${base} --since ${formatSince(BigInt(startMs) * 1_000_000n)}`,
      `${base} --since ${formatSince(lastOfPart1)}`,
    ]);
    assert.equal(feed.starts, 2);
    assert.equal(listings, 2, "each start lists again");
    const expected = lines.filter((l) => !/"Action":"(exec_|stop")/.test(l)).length;
    assert.equal(rows.length, expected, "the replayed line added no second row");
  } finally {
    await feed.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
