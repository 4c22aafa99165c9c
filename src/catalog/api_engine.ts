/**
 * The catalog's side of the Engine API: the listing and inspect calls
 * ({@link apiCatalogEngine}) and the followed event stream ({@link EngineEventsFeed}), all over
 * the engine's unix socket (src/engine/api.ts). No process is spawned.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { EngineError } from "../engine/api.ts";
import type { CatalogEngine, ContainerCatalog } from "./catalog.ts";
import { formatSince } from "./events.ts";
import { parseContainerList, parseInspect } from "./listing.ts";

const log = getLogger(["container-statsd", "catalog"]);

/** What the catalog needs of an engine client (src/engine/api.ts `EngineApi`). */
export interface EngineClient {
  /** The socket path, for logs. */
  readonly socket: string;
  /** Pins the API version. @returns it. */
  negotiate(): Promise<string>;
  /** A versioned JSON `GET`. */
  get(path: string): Promise<unknown>;
  /** A versioned streamed `GET`. */
  stream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/**
 * The events filter: container events only (moby api/types/events; `type=container`).
 * URL-encoded for the query string.
 */
export const EVENTS_FILTERS = encodeURIComponent(JSON.stringify({ type: ["container"] }));

/**
 * Listing and inspect over the API: `GET /containers/json?all=1` and
 * `GET /containers/{id}/json` (404: no such container, null).
 * @param api the engine client, negotiated (the feed negotiates at each connection).
 */
export function apiCatalogEngine(api: Pick<EngineClient, "get">): CatalogEngine {
  return {
    list: async () => parseContainerList(await api.get("/containers/json?all=1")),
    async inspect(id) {
      try {
        return parseInspect(await api.get(`/containers/${encodeURIComponent(id)}/json`));
      } catch (e) {
        if (e instanceof EngineError && e.status === 404) return null;
        throw e;
      }
    },
  };
}

/** Longest event kept, characters of text; a longer one is dropped whole. */
const MAX_EVENT = 1 << 20;

/** Options of {@link EngineEventsFeed}. */
export interface EngineEventsFeedOptions {
  /** The engine client. */
  api: EngineClient;
  /** The catalog that takes the events and lists again. */
  catalog: Pick<ContainerCatalog, "handleLine" | "relist" | "lastSeenNs">;
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** First delay before connecting again after a failure, ms. Default 500; doubles. */
  initialBackoffMs?: number;
  /** Longest delay between connection tries, ms. Default 5000. */
  maxBackoffMs?: number;
  /**
   * How often the catalog is reconciled with a listing, ms. A stream that was silent for a
   * whole period is also reconnected then (a hung stream reads as silence). Default 120 000.
   */
  reconcileMs?: number;
}

/**
 * Follows `GET /events?filters={"type":["container"]}&since=...` for the catalog.
 *
 * - Each connection starts with `since` the newest event already read (the first with the
 *   feed's start), so the engine replays what happened while nobody listened (it keeps its
 *   last 256 events, moby daemon/events/events.go); the catalog skips the repeats.
 * - After a failure or an ended stream (an events gap) it lists again in full; every
 *   `reconcileMs` it lists again (inspecting only what it needs).
 * - A failure (engine down, socket without permission, API error, stream cut) is logged once
 *   per kind and retried with backoff (500 ms doubling to 5 s).
 * - A stream silent for a whole `reconcileMs` is reconnected with `since`.
 */
export class EngineEventsFeed {
  readonly #api: EngineClient;
  readonly #catalog: EngineEventsFeedOptions["catalog"];
  readonly #now: () => number;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #reconcileMs: number;
  readonly #decoder = new TextDecoder();
  #carry = "";
  #startNs = 0n;
  #running = false;
  #loop: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #wake: (() => void) | null = null;
  #ticker: ReturnType<typeof setInterval> | undefined;
  /** Whether a chunk arrived since the last tick. */
  #heard = false;
  #connected = false;
  /** Connections made. */
  starts = 0;

  /** Prepares the feed; nothing runs until {@link EngineEventsFeed.start}. */
  constructor(options: EngineEventsFeedOptions) {
    this.#api = options.api;
    this.#catalog = options.catalog;
    this.#now = options.now ?? Date.now;
    this.#minBackoff = options.initialBackoffMs ?? 500;
    this.#maxBackoff = options.maxBackoffMs ?? 5000;
    this.#reconcileMs = options.reconcileMs ?? 120_000;
  }

  /** Starts following (and, through the first connection, the first listing). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startNs = BigInt(this.#now()) * 1_000_000n;
    this.#ticker = setInterval(() => this.#tick(), this.#reconcileMs);
    this.#loop = this.#run();
  }

  /** Stops following. Safe to call twice. */
  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#ticker);
    this.#cut(new Error("stopped"));
    this.#wake?.();
    await this.#loop;
  }

  #tick(): void {
    if (!this.#connected) return;
    if (!this.#heard) {
      log.info("No engine event for {ms} ms: reconnecting the events stream", {
        ms: this.#reconcileMs,
      });
      this.#cut(new SilentStream());
    } else void this.#catalog.relist(false);
    this.#heard = false;
  }

  /**
   * Ends the stream in flight: aborts the request and cancels the body's reader (an abort alone
   * does not always end a read that waits for the next chunk).
   */
  #cut(reason: Error): void {
    this.#abort?.abort(reason);
    this.#reader?.cancel(reason).catch(() => {});
  }

  #since(): string {
    const seen = this.#catalog.lastSeenNs;
    return formatSince(seen > this.#startNs ? seen : this.#startNs);
  }

  async #run(): Promise<void> {
    let backoff = this.#minBackoff;
    let gap = true;
    let failure = "";
    let failedAtMs = 0;
    while (this.#running) {
      const abort = new AbortController();
      this.#abort = abort;
      let error = "";
      try {
        const version = await this.#api.negotiate();
        const since = this.#since();
        const body = await this.#api.stream(
          `/events?since=${since}&filters=${EVENTS_FILTERS}`,
          abort.signal,
        );
        this.starts++;
        this.#connected = true;
        this.#heard = false;
        if (failure) {
          log.info("The engine answers again on {socket} after {s} s", {
            socket: this.#api.socket,
            s: Math.round((this.#now() - failedAtMs) / 1000),
          });
        }
        log.info("Following engine events on {socket} (API {version}, since {since})", {
          socket: this.#api.socket,
          version,
          since,
        });
        failure = "";
        backoff = this.#minBackoff;
        void this.#catalog.relist(gap);
        const reader = body.getReader();
        this.#reader = reader;
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          this.#heard = true;
          this.#push(r.value);
        }
        if (abort.signal.aborted) throw abort.signal.reason; // cut here: the reader was cancelled
        error = `The engine ended its events stream on ${this.#api.socket}`;
      } catch (e) {
        if (abort.signal.aborted && abort.signal.reason instanceof SilentStream) {
          this.#connected = false;
          this.#flush();
          gap = false;
          continue;
        }
        error = e instanceof EngineError
          ? e.message
          : `The events stream from ${this.#api.socket} broke: ${
            String((e as Error).message).split("\n")[0]
          }`;
      } finally {
        this.#connected = false;
        this.#reader = null;
      }
      this.#flush();
      if (!this.#running) break;
      gap = true;
      if (error !== failure) {
        log.warn("{error}; trying again with backoff ({min} ms doubling to {max} ms)", {
          error,
          min: this.#minBackoff,
          max: this.#maxBackoff,
        });
        if (!failure) failedAtMs = this.#now();
        failure = error;
      } else log.debug("{error}; next try in {delayMs} ms", { error, delayMs: backoff });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        this.#wake = () => (clearTimeout(t), resolve());
      });
      this.#wake = null;
      backoff = Math.min(backoff * 2, this.#maxBackoff);
    }
  }

  /**
   * Splits the stream into events. The engine writes each event as one JSON object and a
   * newline (Go's json.Encoder, which escapes newlines inside strings), so a newline ends an
   * event wherever the chunks are cut.
   */
  #push(chunk: Uint8Array): void {
    const text = this.#carry + this.#decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    this.#carry = lines.pop() ?? "";
    if (this.#carry.length > MAX_EVENT) {
      log.debug("Dropped an event over {max} characters", { max: MAX_EVENT });
      this.#carry = "";
    }
    for (const line of lines) this.#catalog.handleLine(line);
  }

  /**
   * At the end of a stream: an event cut in the middle is dropped; the next connection's
   * `since` (the newest whole event read) has the engine send it again.
   */
  #flush(): void {
    const rest = this.#carry + this.#decoder.decode();
    this.#carry = "";
    if (rest.trim() !== "") {
      log.debug("Dropped {n} characters of an event cut by the stream's end: {text}", {
        n: rest.length,
        text: rest.slice(0, 120),
      });
    }
  }
}

/** The abort reason of a reconnection after silence. */
class SilentStream extends Error {
  constructor() {
    super("silent events stream");
  }
}
