/** Runs a `deno bench` file several times (one process each) and collects the mean times. */

/**
 * Name of a parser_bench.ts benchmark, as bench/report.ts reads it back.
 * @param what `parser` alone, or `parser+reducers` (the parser feeding `IntervalClock.add`).
 * @param workload the stream's name (bench/lib/workloads.ts).
 */
export function parserBenchName(what: "parser" | "parser+reducers", workload: string): string {
  return `${what} ${workload}`;
}

/**
 * The command line of one run, for the report.
 * @param flags permissions (default read and env; the cgroup bench needs `--allow-all`).
 */
export function benchCommand(file: string, flags = ["--allow-read", "--allow-env"]): string[] {
  return ["deno", "bench", "--json", ...flags, file];
}

interface BenchJson {
  benches: {
    name: string;
    results: ({ ok: { avg: number; n: number } } | { failed: unknown })[];
  }[];
}

/**
 * Runs `file` `runs` times.
 * @param flags see {@link benchCommand}.
 * @returns bench name -> mean time per iteration of each run, nanoseconds.
 */
export async function runDenoBench(
  file: string,
  runs: number,
  flags?: string[],
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  const [cmd, ...args] = benchCommand(file, flags);
  for (let i = 0; i < runs; i++) {
    const o = await new Deno.Command(cmd!, { args, stdout: "piped", stderr: "piped" }).output();
    if (!o.success) {
      throw new Error(`${file}: ${new TextDecoder().decode(o.stderr)}`);
    }
    const json = JSON.parse(new TextDecoder().decode(o.stdout)) as BenchJson;
    for (const b of json.benches) {
      const r = b.results[0];
      if (!r || !("ok" in r)) throw new Error(`${file}: bench ${b.name} failed`);
      (out[b.name] ??= []).push(r.ok.avg);
    }
  }
  return out;
}
