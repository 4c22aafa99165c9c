/**
 * Parser throughput (issue 6, part 2): `StatsParser` over recorded `docker stats` streams
 * (tests/fixtures/*.jsonl), a 200-container stream generated from their real rows, and a real
 * 200-container recording when bench/out/recorded-200.jsonl exists. One iteration parses the
 * whole stream with a fresh parser. `bench/run.ts` turns the times into MB/s and samples/s.
 *
 * Also: the collection path as the daemon runs it per chunk (`Pipeline.push`: parser, change
 * tracking and per-container reducers), and the prototype parser of bench/proto/ (a candidate
 * src/ change, measured here before it is proposed).
 *
 * Run: deno bench --allow-read --allow-env bench/parser_bench.ts
 */
import { StatsParser } from "../src/source/docker_stats/parser.ts";
import { Pipeline } from "../src/pipeline.ts";
import { FastStatsParser } from "./proto/fast_stats_parser.ts";
import { parserWorkloads } from "./lib/workloads.ts";
import type { Sample } from "../src/sample.ts";

const workloads = parserWorkloads();
let sink = 0;

/** Samples and counters of a parser over `chunks` (skip reasons included). */
function outcome(
  make: typeof StatsParser | typeof FastStatsParser,
  chunks: readonly Uint8Array[],
): string {
  const samples: Sample[] = [];
  const skips: string[] = [];
  const p = new make((s) => samples.push(s), { onSkip: (reason) => skips.push(reason) });
  for (const c of chunks) p.push(c);
  p.end();
  return JSON.stringify({ samples, skips, counters: p.counters });
}

// The prototype must give exactly what src/ gives: on every stream, and on edge cases of the
// doubled table (a placeholder and a bad row in the first copy, a second copy that differs, a
// home in mid-line, a third copy, chunks cut anywhere).
{
  const enc = new TextEncoder();
  const row = (id: string, cpu: string, name = "c") =>
    JSON.stringify({
      BlockIO: "0B / 0B",
      CPUPerc: cpu,
      Container: id.slice(0, 12),
      ID: id,
      MemPerc: "0.01%",
      MemUsage: "1MiB / 2GiB",
      Name: name,
      NetIO: "1kB / 2kB",
      PIDs: "1",
    });
  const a = "a".repeat(64);
  const b = "b".repeat(64);
  const c = "c".repeat(64);
  const placeholder = JSON.stringify({
    BlockIO: "--",
    CPUPerc: "--",
    Container: "c".repeat(12),
    ID: c,
    MemPerc: "--",
    MemUsage: "-- / --",
    Name: "--",
    NetIO: "--",
    PIDs: "--",
  });
  const redraw = (first: string[], second: string[]) =>
    "\x1b[H" + first.join("\n") + "\n\x1b[H" + second.map((r) => r + " \x1b[K\n").join("") +
    " \x1b[K\n\x1b[J";
  const text = [
    redraw([row(a, "1.00%"), row(b, "2.00%")], [row(a, "1.00%"), row(b, "2.00%")]),
    redraw([placeholder, row(a, "1.00%"), "{bad"], [placeholder, row(a, "1.00%"), "{bad"]),
    redraw([row(a, "1.00%"), row(b, "2.00%")], [row(a, "9.00%"), row(c, "3.00%", "new")]),
    redraw([row(a, "1.00%")], [row(a, "1.00%")]) + "\x1b[H" + row(b, "2.00%") + "\x1b[H" +
    row(a, "1.00%") + "\n\x1b[J",
    "\x1b[H" + row(a, "1.00%") + "\n\x1b[H" + row(a, "1.00%") + " \x1b[K\n\x1b[H" +
    row(a, "1.00%") + " \x1b[K\n\x1b[J",
  ].join("");
  const bytes = enc.encode(text);
  const cuts: Uint8Array[][] = [[bytes]];
  for (const size of [1, 7, 100, 333]) {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
    cuts.push(pieces);
  }
  for (const chunks of [...cuts, ...workloads.map((w) => w.chunks)]) {
    if (outcome(StatsParser, chunks) !== outcome(FastStatsParser, chunks)) {
      throw new Error("the prototype parser differs from src/ on a stream");
    }
  }
}

for (const w of workloads) {
  Deno.bench({
    name: `parser ${w.name}`,
    group: `parser ${w.name}`,
    baseline: true,
    fn() {
      const p = new StatsParser((s) => {
        sink += s.pids;
      });
      for (const c of w.chunks) p.push(c);
      p.end();
      if (p.counters.samples !== w.samples) throw new Error("sample count changed");
    },
  });
  Deno.bench({
    name: `proto-parser ${w.name}`,
    group: `parser ${w.name}`,
    fn() {
      const p = new FastStatsParser((s) => {
        sink += s.pids;
      });
      for (const c of w.chunks) p.push(c);
      p.end();
      if (p.counters.samples !== w.samples) throw new Error("sample count changed");
    },
  });
}

for (const w of workloads.filter((x) => x.containers >= 200)) {
  Deno.bench({
    name: `pipeline ${w.name}`,
    group: `pipeline ${w.name}`,
    fn() {
      const pipeline = new Pipeline({
        intervalMs: 60_000,
        mode: "max",
        onInterval: () => {},
        now: () => 1_700_000_000_000,
      });
      for (const c of w.chunks) pipeline.push(c);
      pipeline.endOfStream();
      sink += pipeline.containers;
    },
  });
}

addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
