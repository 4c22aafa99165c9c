/**
 * The catalog's side of the docker CLI: `docker ps` and `docker inspect` through
 * {@link runDocker}, and the long-lived `docker events` child through {@link SupervisedChild}
 * (the same restart and backoff rules as the `docker stats` child).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { runDocker, SupervisedChild } from "../engine/cli.ts";
import type { CatalogEngine, ContainerCatalog } from "./catalog.ts";
import { formatSince } from "./events.ts";
import { type Inspected, parseInspect, parsePs } from "./listing.ts";

const log = getLogger(["container-statsd", "catalog"]);

/** `docker ps` arguments: running containers, full IDs, one JSON object per line. */
export const DOCKER_PS_ARGS = ["ps", "--no-trunc", "--format", "{{json .}}"] as const;

/** `docker events` arguments before `--since`. */
export const DOCKER_EVENTS_ARGS = [
  "events",
  "--format",
  "{{json .}}",
  "--filter",
  "type=container",
] as const;

/** Longest event line kept, bytes of text; a longer one is dropped whole. */
const MAX_LINE = 1 << 20;

/**
 * Engine calls through the docker CLI.
 * @param docker the executable.
 * @param run how a command runs (default {@link runDocker}).
 */
export function dockerCatalogEngine(
  docker: string,
  run: (docker: string, args: readonly string[]) => Promise<string> = runDocker,
): CatalogEngine {
  const inspect = async (ids: readonly string[]): Promise<Inspected[]> =>
    parseInspect(await run(docker, ["inspect", "--type", "container", ...ids]));
  return {
    list: async () => parsePs(await run(docker, DOCKER_PS_ARGS)),
    async inspect(ids) {
      if (ids.length === 0) return [];
      try {
        return await inspect(ids);
      } catch (e) {
        // `docker inspect a b` exits 1 when one of them is gone: ask for each alone.
        if (ids.length === 1) {
          log.debug("docker inspect {id}: {error}", {
            id: ids[0]!.slice(0, 12),
            error: (e as Error).message,
          });
          return [];
        }
        const each = await Promise.all(ids.map((id) => inspect([id]).catch(() => [])));
        return each.flat();
      }
    },
  };
}

/** Options of {@link DockerEventsFeed}. */
export interface DockerEventsFeedOptions {
  /** Executable. Default `docker`. */
  docker?: string;
  /** The catalog that takes the lines and lists again at each start of the child. */
  catalog: Pick<ContainerCatalog, "handleLine" | "relist" | "lastSeenNs">;
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** First restart delay, ms. Default 1000. */
  initialBackoffMs?: number;
}

/**
 * Follows `docker events` for the catalog. Each child starts with `--since` the newest event
 * already read (or the feed's start), so the engine replays what happened while no child
 * listened (it keeps its last 256 events, moby daemon/events/events.go); the catalog skips the
 * repeats. Each start also lists again, so state is right even past that buffer.
 */
export class DockerEventsFeed {
  readonly #child: SupervisedChild;
  readonly #catalog: DockerEventsFeedOptions["catalog"];
  readonly #now: () => number;
  /** `--since` of the next child, set before each start. */
  #since = "0";
  readonly #decoder = new TextDecoder();
  #carry = "";
  #startNs = 0n;

  /** Prepares the feed; nothing runs until {@link DockerEventsFeed.start}. */
  constructor(options: DockerEventsFeedOptions) {
    this.#catalog = options.catalog;
    this.#now = options.now ?? Date.now;
    this.#child = new SupervisedChild({
      docker: options.docker ?? "docker",
      args: () => [...DOCKER_EVENTS_ARGS, "--since", this.#since],
      onChunk: (chunk) => this.#push(chunk),
      onStart: () => void this.#catalog.relist(),
      onEnd: () => {
        this.#flush();
        this.#setSince();
      },
      ...(options.initialBackoffMs === undefined
        ? {}
        : { initialBackoffMs: options.initialBackoffMs }),
    });
  }

  /** Process ID of the running `docker events` child, if any. */
  get pid(): number | null {
    return this.#child.pid;
  }

  /** Number of times the child was started. */
  get starts(): number {
    return this.#child.starts;
  }

  /** Starts the child (and, through its start, the first listing). */
  start(): void {
    this.#startNs = BigInt(this.#now()) * 1_000_000n;
    this.#setSince();
    this.#child.start();
  }

  /** Stops the child. Safe to call twice. */
  stop(): Promise<void> {
    return this.#child.stop();
  }

  #setSince(): void {
    const seen = this.#catalog.lastSeenNs;
    this.#since = formatSince(seen > this.#startNs ? seen : this.#startNs);
  }

  #push(chunk: Uint8Array): void {
    const text = this.#carry + this.#decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    this.#carry = lines.pop() ?? "";
    if (this.#carry.length > MAX_LINE) {
      log.debug("Dropped an event line over {max} characters", { max: MAX_LINE });
      this.#carry = "";
    }
    for (const line of lines) this.#catalog.handleLine(line);
  }

  #flush(): void {
    const rest = this.#carry + this.#decoder.decode();
    this.#carry = "";
    if (rest.trim() !== "") this.#catalog.handleLine(rest);
  }
}
