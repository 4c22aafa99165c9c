/**
 * Test harness: a private, real VictoriaMetrics (Debian's `victoria-metrics` package) on a
 * free loopback port with its own data directory, read back through `/api/v1/export`.
 */
import { type LocalServer, spawnLocalServer } from "./influx.ts";
import { freePort } from "./questdb.ts";

/** One exported series: its labels (`__name__` is `<measurement>_<field>`) and samples. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  /** Milliseconds since the epoch. */
  timestamps: number[];
}

/** A running private VictoriaMetrics. */
export interface VictoriaMetrics extends LocalServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The raw samples of the series matching `match` (a series selector), as stored. */
  exportSeries(match: string): Promise<ExportedSeries[]>;
}

/**
 * Starts victoria-metrics on a free 127.0.0.1 port with a temporary `-storageDataPath`.
 * @param flags extra flags, e.g. `-dedup.minScrapeInterval=1ms`.
 * @throws {Error} when it does not answer `/health` within 60 s.
 */
export async function startVictoriaMetrics(flags: string[] = []): Promise<VictoriaMetrics> {
  const root = await Deno.makeTempDir({ prefix: "statsd-vm-" });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await spawnLocalServer(
    "victoria-metrics",
    [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${root}/data`, ...flags],
    root,
    async () => (await (await fetch(`${url}/health`)).text()).trim() === "OK",
  );
  return {
    ...server,
    url,
    async exportSeries(match) {
      const res = await fetch(`${url}/api/v1/export`, {
        method: "POST",
        body: new URLSearchParams({ "match[]": match }),
      });
      if (!res.ok) throw new Error(`VictoriaMetrics export: HTTP ${res.status}`);
      const text = await res.text();
      return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as ExportedSeries);
    },
  };
}
