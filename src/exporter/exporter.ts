/**
 * The Prometheus endpoint of `--listen`: an HTTP server (Deno.serve) with `/metrics` (text
 * format 0.0.4, or OpenMetrics when the scraper asks) and `/healthz` (200 while the source is
 * healthy by the watchdog's rule, else 503).
 *
 * The server binds first, before anything else starts, so a port in use stops the daemon with
 * one line; main then hands it the source, catalog, gate, reducer and sinks with
 * {@link Exporter.attach}, and tees the source's samples into it with {@link Exporter.tee}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import denoJson from "../../deno.json" with { type: "json" };
import type { ContainerCatalog } from "../catalog/catalog.ts";
import type { LabelColumn } from "../catalog/labels.ts";
import type { SampleListener } from "../source/source.ts";
import { LatestReads } from "./containers.ts";
import { type DaemonParts, renderDaemon } from "./daemon.ts";
import { CONTENT_TYPES, Exposition, type Format, negotiate } from "./exposition.ts";
import { type ListenAddress, showListen } from "./listen.ts";

const log = getLogger(["container-statsd", "exporter"]);

/** Options of {@link Exporter}. */
export interface ExporterOptions {
  /** `--label`: label keys exported as `container_label_<key>`. */
  labels: readonly Pick<LabelColumn, "key">[];
  /** `host` label value on container series (`--listen-host-label`: `--node`), or null. */
  host: string | null;
  /** The host's memory, bytes. Default `Deno.systemMemoryInfo().total`, 0 if not allowed. */
  hostMemory?: number;
  /** Monotonic clock, ms. Default `performance.now`. */
  monotonic?: () => number;
}

/** What main hands the exporter once it has built them. */
export interface ExporterParts extends DaemonParts {
  /** The catalog: records, verdicts, changes and size. */
  readonly catalog: Pick<ContainerCatalog, "get" | "subscribe" | "known" | "passes" | "size">;
}

/** The metrics and health of the daemon, rendered per request; see the module doc. */
export class Exporter {
  readonly #reads: LatestReads;
  readonly #mono: () => number;
  #parts: ExporterParts | null = null;
  #unfollow: (() => void) | null = null;
  #server: Deno.HttpServer | null = null;
  #address: ListenAddress | null = null;

  /** Makes an exporter with no server; {@link Exporter.listen} adds one. */
  constructor(options: ExporterOptions) {
    this.#reads = new LatestReads({ hostMemory: hostMemory(), ...options });
    this.#mono = options.monotonic ?? (() => performance.now());
  }

  /**
   * Starts the HTTP server.
   * @param address `--listen`.
   * @throws {Deno.errors.AddrInUse} when the port is taken, {@link Deno.errors.PermissionDenied}
   *   or {@link Deno.errors.AddrNotAvailable} for an address it may not bind.
   */
  listen(address: ListenAddress): void {
    this.#address = address;
    this.#server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      onListen: () => {}, // stdout is for --dry-run's rows
    }, (request) => this.handle(request));
  }

  /** Starts reading the source, catalog, gate, reducer and sinks; before, build info only. */
  attach(parts: ExporterParts): void {
    this.#parts = parts;
    this.#unfollow = this.#reads.follow(parts.catalog);
    if (this.#address) {
      log.info("Serving Prometheus /metrics and /healthz on {address}", {
        address: showListen(this.#address),
      });
    }
  }

  /**
   * A listener that gives every sample to `next` and keeps it as its container's latest read.
   * @param next the reducer's listener.
   */
  tee(next: SampleListener): SampleListener {
    const add = this.#reads.add;
    return (sample, atMs) => {
      next(sample, atMs);
      add(sample, atMs);
    };
  }

  /** The whole exposition in `format` (synchronous: a scrape sees one state). */
  render(format: Format): string {
    const out = new Exposition(format);
    renderDaemon(out, {
      version: denoJson.version,
      read: this.#reads.samples,
      monoMs: this.#mono(),
    }, this.#parts);
    this.#reads.render(out);
    return out.text();
  }

  /** Answers one request: `/metrics`, `/healthz`, else 404; GET and HEAD only. */
  handle(request: Request): Response {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      const format = negotiate(request.headers.get("accept"));
      return new Response(this.render(format), {
        headers: { "content-type": CONTENT_TYPES[format] },
      });
    }
    if (path === "/healthz") {
      const ok = this.#parts?.source.health.healthy(this.#mono()) ?? false;
      return new Response(ok ? "ok\n" : "source unhealthy\n", { status: ok ? 200 : 503 });
    }
    return new Response("not found: try /metrics or /healthz\n", { status: 404 });
  }

  /** Stops the server and the catalog subscription. */
  async close(): Promise<void> {
    this.#unfollow?.();
    await this.#server?.shutdown();
  }
}

/** The host's memory, bytes (needs `--allow-sys=systemMemoryInfo`); 0 when not allowed. */
function hostMemory(): number {
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return 0;
  }
}

/**
 * Binds the exporter of `--listen` for main; a bind error is one line on stderr.
 * @returns the exporter, or exit status 2 after that line.
 */
export function openExporter(
  address: ListenAddress,
  options: ExporterOptions,
): Exporter | number {
  const exporter = new Exporter(options);
  try {
    exporter.listen(address);
    return exporter;
  } catch (e) {
    const reason = e instanceof Deno.errors.AddrInUse
      ? "the address is in use"
      : (e as Error).message;
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `error: option '--listen <[host:]port>' argument '${showListen(address)}' cannot be ` +
          `bound: ${reason}. Allowed: a free port on an address of this host.\n`,
      ),
    );
    return 2;
  }
}
