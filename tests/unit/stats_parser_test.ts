import assert from "node:assert/strict";
import {
  parseStatsRow,
  type SkipReason,
  StatsParser,
} from "../../src/source/docker_stats/parser.ts";
import type { Sample } from "../../src/sample.ts";
import { type Chunk, concatChunks, loadRecording } from "../helpers/recording.ts";

const enc = new TextEncoder();

function run(chunks: readonly Uint8Array[], maxLineLength?: number) {
  const samples: Sample[] = [];
  const skips: [SkipReason, string][] = [];
  const p = new StatsParser((s) => samples.push(s), {
    onSkip: (r, m) => skips.push([r, m]),
    ...(maxLineLength ? { maxLineLength } : {}),
  });
  for (const c of chunks) p.push(c);
  p.end();
  return { samples, skips, counters: p.counters };
}

/**
 * Independent oracle: the distinct non-placeholder container rows of each redraw, found by
 * splitting on the erase-display codes and matching JSON objects with a regex.
 */
function oracle(bytes: Uint8Array): { id: string; cpu: string; mem: string }[] {
  const text = new TextDecoder().decode(bytes);
  const out: { id: string; cpu: string; mem: string }[] = [];
  // deno-lint-ignore no-control-regex -- ESC is what the CLI prints
  for (const frame of text.split(/\x1b\[2?J/)) {
    const seen = new Set<string>();
    // deno-lint-ignore no-control-regex -- ESC ends a row in CLI 28+ output
    for (const m of frame.matchAll(/\{[^\n\x1b]*?"PIDs":"[^"]*"\}/g)) {
      const row = JSON.parse(m[0]) as Record<string, string>;
      if (row.ID === "" || row.Name === "--" || seen.has(row.ID!)) continue;
      seen.add(row.ID!);
      out.push({ id: row.ID!, cpu: row.CPUPerc!, mem: row.MemUsage! });
    }
  }
  return out;
}

const asOracle = (s: Sample[]) =>
  s.map((x) => ({ id: x.id, cpu: `${x.cpu!.toFixed(2)}%`, mem: "" }));

for (const name of ["cli28-notrunc.jsonl", "cli20-notrunc.jsonl", "cli29_4-derived.jsonl"]) {
  Deno.test(`recording ${name}: one sample per container per redraw, as the oracle finds`, () => {
    const chunks = loadRecording(name);
    const { samples, counters } = run(chunks.map((c) => c.bytes));
    const expected = oracle(concatChunks(chunks));
    assert.ok(expected.length > 20, "recording has samples");
    assert.deepEqual(asOracle(samples), expected.map((e) => ({ ...e, mem: "" })));
    assert.equal(counters.samples, samples.length);
    assert.ok(counters.redraws >= chunks.length / 2, "redraws are counted");
    for (const s of samples) {
      assert.equal(s.id.length, 64, "--no-trunc gives the full ID");
      assert.equal(s.container, s.id.slice(0, 12));
    }
  });
}

Deno.test("all framings give the same samples for the same redraws (28.x vs 29.4)", () => {
  const a = run(loadRecording("cli28-notrunc.jsonl").map((c) => c.bytes)).samples;
  const b = run(loadRecording("cli29_4-derived.jsonl").map((c) => c.bytes)).samples;
  assert.deepEqual(a, b);
  // The CLI 28 table printed twice in a redraw counts once.
  const dup = run(loadRecording("cli28-notrunc.jsonl").map((c) => c.bytes)).counters.duplicates;
  assert.equal(dup, a.length);
});

Deno.test("chunking does not matter: byte-at-a-time gives the same samples", () => {
  const chunks = loadRecording("cli28-lifecycle.jsonl");
  const whole = run([concatChunks(chunks)]).samples;
  const bytes = concatChunks(chunks);
  const single: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 7) single.push(bytes.subarray(i, i + 7));
  assert.deepEqual(run(single).samples, whole);
  assert.deepEqual(run(chunks.map((c: Chunk) => c.bytes)).samples, whole);
});

Deno.test("recording values are normalised to bytes and percent", () => {
  const { samples } = run(loadRecording("cli28-notrunc.jsonl").map((c) => c.bytes));
  const mem = samples.find((s) => s.name === "mem")!;
  assert.equal(mem.memoryUse, 201 * 1024 * 1024);
  assert.equal(mem.totalMemory, Math.round(23.54 * 1024 ** 3));
  assert.equal(mem.memoryPercentage, 0.83);
  const burner = samples.filter((s) => s.name === "burner");
  assert.ok(Math.max(...burner.map((s) => s.cpu ?? 0)) > 40, "burner above 40 % CPU");
  assert.ok(samples.some((s) => s.name === "short"), "2 s container sampled");
});

Deno.test("placeholder rows are skipped and counted, never samples", () => {
  const { samples, counters } = run(loadRecording("cli28-notrunc.jsonl").map((c) => c.bytes));
  assert.ok(counters.placeholders > 0, "the recording has placeholder rows");
  assert.ok(samples.every((s) => s.name !== "--" && s.id !== ""));
  const rows = [
    '{"BlockIO":"--","CPUPerc":"--","Container":"abc","ID":"abc","MemPerc":"--","MemUsage":"-- / --","Name":"x","NetIO":"--","PIDs":"--"}',
    '{"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"a9346408460b","ID":"","MemPerc":"0.00%","MemUsage":"0B / 0B","Name":"--","NetIO":"0B / 0B","PIDs":"0"}',
  ];
  for (const r of rows) assert.equal(parseStatsRow(r), null);
});

Deno.test("parseStatsRow: a full literal row", () => {
  const s = parseStatsRow(
    '{"BlockIO":"1e+03kB / 2.5MB","CPUPerc":"150.25%","Container":"0123456789ab",' +
      '"ID":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",' +
      '"MemPerc":"12.50%","MemUsage":"1.175GiB / 8GiB","Name":"web","NetIO":"1.2kB / 648B",' +
      '"PIDs":"42"}',
  );
  assert.deepEqual(s, {
    id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    container: "0123456789ab",
    name: "web",
    cpu: 150.25,
    memoryUse: Math.round(1.175 * 1024 ** 3),
    totalMemory: 8 * 1024 ** 3,
    memoryPercentage: 12.5,
    netIn: 1200,
    netOut: 648,
    blockIn: 1_000_000,
    blockOut: 2_500_000,
    pids: 42,
  });
});

Deno.test("bad lines are skipped with a reason; the parser goes on", () => {
  const good =
    '{"BlockIO":"0B / 0B","CPUPerc":"1.00%","Container":"aaaaaaaaaaaa","ID":"aaaaaaaaaaaa1","MemPerc":"0.00%","MemUsage":"1MiB / 2GiB","Name":"a","NetIO":"0B / 0B","PIDs":"1"}';
  const input = [
    "\x1b[H" + good.replace("1MiB", "12.3QB") + "\x1b[K\n",
    '{"BlockIO":"0B / 0B","CPUPerc":"1.0\n', // truncated JSON
    "not json at all\n",
    "\x00\xff\xfe garbage \x01\n",
    "   \t \n",
    good + "   \x1b[K\n",
    "\x1b[J",
  ];
  const { samples, skips, counters } = run(input.map((s) => enc.encode(s)));
  assert.equal(samples.length, 1);
  assert.equal(samples[0]!.name, "a");
  assert.equal(counters.skipped, 4);
  assert.match(skips[0]![1], /unknown unit "QB"/);
  assert.ok(skips.every(([r]) => r === "invalid"));
  assert.equal(counters.redraws, 1);
});

Deno.test("a line over the cap is skipped, memory stays bounded, the next line parses", () => {
  const good =
    '{"BlockIO":"0B / 0B","CPUPerc":"1.00%","Container":"bbbbbbbbbbbb","ID":"bbbbbbbbbbbb1","MemPerc":"0.00%","MemUsage":"1MiB / 2GiB","Name":"b","NetIO":"0B / 0B","PIDs":"1"}\n';
  const huge = new Uint8Array(5 * 1024 * 1024).fill(0x41);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < huge.length; i += 65536) chunks.push(huge.subarray(i, i + 65536));
  chunks.push(enc.encode("\n" + good));
  const { samples, skips } = run(chunks);
  assert.equal(samples.length, 1);
  assert.equal(skips.length, 1);
  assert.equal(skips[0]![0], "too-long");
});

Deno.test("a stream without escape codes starts a redraw when a container repeats", () => {
  const row = (cpu: string) =>
    `{"BlockIO":"0B / 0B","CPUPerc":"${cpu}","Container":"cccccccccccc","ID":"cccccccccccc1","MemPerc":"0.00%","MemUsage":"1MiB / 2GiB","Name":"c","NetIO":"0B / 0B","PIDs":"1"}\n`;
  const { samples } = run([enc.encode(row("1.00%") + row("2.00%") + row("3.00%"))]);
  assert.deepEqual(samples.map((s) => s.cpu), [1, 2, 3]);
});

Deno.test("onRedraw gets each redraw's row count: placeholders count, an empty redraw is 0", () => {
  const row = (id: string) =>
    `{"BlockIO":"0B / 0B","CPUPerc":"1.00%","Container":"${id}","ID":"${id}","MemPerc":"0.00%","MemUsage":"1MiB / 2GiB","Name":"n${id}","NetIO":"0B / 0B","PIDs":"1"}`;
  const placeholder =
    '{"BlockIO":"--","CPUPerc":"--","Container":"ffffffffffff","ID":"ffffffffffff","MemPerc":"--","MemUsage":"-- / --","Name":"--","NetIO":"--","PIDs":"--"}';
  const redraws: number[] = [];
  const samples: Sample[] = [];
  const p = new StatsParser((s) => samples.push(s), { onRedraw: (rows) => redraws.push(rows) });
  p.push(enc.encode(`\x1b[H${row("aaaaaaaaaaaa")}\x1b[K\n${placeholder}\x1b[K\n`));
  p.push(enc.encode("\x1b[J\x1b[H \x1b[K\n")); // the next redraw shows no container at all
  p.push(enc.encode(`\x1b[J\x1b[H${row("bbbbbbbbbbbb")}\x1b[K\n\x1b[J`));
  assert.deepEqual(redraws, [2, 0], "the last ESC[J waits for the next line");
  p.end(); // the child's output ended: its last erase-display is flushed
  assert.deepEqual(redraws, [2, 0, 1]);
  assert.deepEqual(samples.map((s) => s.id), ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
  assert.equal(p.counters.redraws, 3);
  assert.equal(p.counters.emptyRedraws, 1);
  assert.equal(p.counters.placeholders, 1);
});
