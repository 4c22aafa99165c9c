/**
 * Parser throughput (issue 6, part 2): `StatsParser` over recorded `docker stats` streams
 * (tests/fixtures/*.jsonl), a 200-container stream generated from their real rows, and a real
 * 200-container recording when bench/out/recorded-200.jsonl exists. One iteration parses the
 * whole stream with a fresh parser. `bench/run.ts` turns the times into MB/s and samples/s.
 *
 * Also, on the 200-container streams: the parser feeding the reducers (`IntervalClock.add`),
 * which is what the daemon does with every chunk of its `docker stats` child.
 *
 * Run: deno bench --allow-read --allow-env bench/parser_bench.ts
 */
import { IntervalClock } from "../src/reducer/interval_clock.ts";
import { StatsParser } from "../src/source/docker_stats/parser.ts";
import { parserBenchName } from "./lib/denobench.ts";
import { parserWorkloads } from "./lib/workloads.ts";

const workloads = parserWorkloads();
let sink = 0;

for (const w of workloads) {
  Deno.bench({
    name: parserBenchName("parser", w.name),
    fn() {
      const p = new StatsParser((s) => {
        sink += s.pids;
      });
      for (const c of w.chunks) p.push(c);
      p.end();
      if (p.counters.samples !== w.samples) throw new Error("sample count changed");
    },
  });
}

const NOW = 1_700_000_000_000;
for (const w of workloads.filter((x) => x.containers >= 200)) {
  Deno.bench({
    name: parserBenchName("parser+reducers", w.name),
    fn() {
      const clock = new IntervalClock({
        intervalMs: 60_000,
        mode: "max",
        onInterval: () => {},
        now: () => NOW,
      });
      const p = new StatsParser((s) => clock.add(s, NOW));
      for (const c of w.chunks) p.push(c);
      p.end();
      sink += clock.containers;
    },
  });
}

addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
