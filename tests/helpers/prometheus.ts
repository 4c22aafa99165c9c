/**
 * Test harness: a private, real Prometheus (Debian's `prometheus` package) on a free loopback
 * port with its own TSDB directory and a configuration that scrapes the given targets every
 * second, queried through `/api/v1/query`.
 */
import { stringify } from "yaml";
import { type LocalServer, spawnLocalServer } from "./influx.ts";
import { freePort } from "./questdb.ts";

/** One element of an instant vector. */
export interface VectorElement {
  /** The series' labels, `__name__` included when the query keeps it. */
  metric: Record<string, string>;
  /** The value. */
  value: number;
}

/** A running private Prometheus. */
export interface Prometheus extends LocalServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /**
   * Runs an instant query, now or at `atMs` (ms since the epoch).
   * @throws {Error} when Prometheus answers an error or a result that is not a vector.
   */
  query(promql: string, atMs?: number): Promise<VectorElement[]>;
}

/**
 * Starts prometheus with one job per target, scraped every `scrapeSeconds` s.
 * @param targets job name to `host:port`.
 * @throws {Error} when it is not ready within 60 s.
 */
export async function startPrometheus(
  targets: Record<string, string>,
  scrapeSeconds = 1,
): Promise<Prometheus> {
  const root = await Deno.makeTempDir({ prefix: "statsd-prom-" });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = {
    global: { scrape_interval: `${scrapeSeconds}s`, scrape_timeout: `${scrapeSeconds}s` },
    scrape_configs: Object.entries(targets).map(([job, target]) => ({
      job_name: job,
      static_configs: [{ targets: [target] }],
    })),
  };
  await Deno.writeTextFile(`${root}/prometheus.yml`, stringify(config));
  const server = await spawnLocalServer(
    "prometheus",
    [
      `--config.file=${root}/prometheus.yml`,
      `--storage.tsdb.path=${root}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    root,
    async () => (await fetch(`${url}/-/ready`)).ok,
  );
  return {
    ...server,
    url,
    async query(promql, atMs) {
      const params = new URLSearchParams({ query: promql });
      if (atMs !== undefined) params.set("time", String(atMs / 1000));
      const res = await fetch(`${url}/api/v1/query?${params}`);
      const body = await res.json() as {
        status: string;
        error?: string;
        data?: {
          resultType: string;
          result: { metric: Record<string, string>; value: [number, string] }[];
        };
      };
      if (body.status !== "success" || body.data?.resultType !== "vector") {
        throw new Error(`Prometheus query ${promql}: ${body.error ?? body.data?.resultType}`);
      }
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}
