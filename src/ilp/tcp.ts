/**
 * ILP over TCP (QuestDB port 9009), plain or TLS.
 *
 * ILP/TCP has no acknowledgement: QuestDB never answers, and on a line it cannot take it logs
 * the problem and drops the connection. So a resolved `send` only means the bytes reached the
 * local operating system; rows written just before a connection breaks can be lost without
 * any error (questdb docs: connect/compatibility/ilp/overview; nodejs-questdb-client
 * src/transport/tcp.ts). Prefer HTTP when delivery matters.
 *
 * @module
 */
import type { ClientConfig } from "./config.ts";
import { formatAddr, requestDeadlineMs } from "./config.ts";
import { describeError } from "../errors.ts";
import { IlpDeliveryError } from "./errors.ts";
import { certificateHint, QUESTDB_TLS_HINT, readCaCerts } from "./tls.ts";
import type { IlpTransport } from "./transport.ts";

const utf8 = new TextEncoder();

/**
 * Writes ILP text to a TCP (or TLS, for `tcps`) connection.
 *
 * - Connects lazily, on the first `send`, and again on the `send` after a failure or after
 *   the server closed the connection (a background read notices the close; QuestDB does that
 *   after a bad line).
 * - Writes every byte (looping over partial writes); concurrent `send`s are queued, so rows
 *   never interleave.
 * - Any connect or write error closes the connection and throws {@link IlpDeliveryError} with
 *   `retryable: true`. Whether the bytes of a failed send arrived is unknown.
 * - Deadlines: connecting (and the TLS handshake) must finish within `request_timeout`; a
 *   send within `request_timeout` + body bytes / `request_min_throughput` s (a server that
 *   stops reading would otherwise stall the caller forever). Past a deadline the connection
 *   is closed and the error is retryable.
 * - A resolved `send` is not an acknowledgement (see the module documentation).
 * - `tcps`: Deno's root store plus the PEM file(s) of `tls_roots` / `tls_ca`.
 * - No `exec`: ILP/TCP has no SQL, so tables are created by their first rows (without DEDUP).
 */
export class TcpTransport implements IlpTransport {
  /** `tcp://host:port` or `tcps://host:port`. */
  readonly target: string;
  readonly #hostname: string;
  readonly #port: number;
  readonly #tls: boolean;
  readonly #caCerts: string[] | undefined;
  readonly #timeoutMs: number;
  readonly #minThroughput: number;
  #conn: Deno.Conn | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Prepares a transport for `cfg`; nothing connects until the first `send`.
   *
   * @param cfg a `tcp` or `tcps` config (the parser has refused TCP authentication and
   *   `bind_interface`, which this transport cannot do).
   * @throws {RangeError} when `cfg.protocol` is not tcp/tcps, or a CA file cannot be read.
   */
  constructor(cfg: ClientConfig) {
    if (cfg.protocol !== "tcp" && cfg.protocol !== "tcps") {
      throw new RangeError(`TcpTransport needs a tcp or tcps config, got ${cfg.protocol}`);
    }
    this.target = `${cfg.protocol}://${formatAddr(cfg.host, cfg.port)}`;
    this.#hostname = cfg.host;
    this.#port = cfg.port;
    this.#tls = cfg.protocol === "tcps";
    this.#caCerts = this.#tls ? readCaCerts(cfg) : undefined;
    this.#timeoutMs = cfg.requestTimeoutMs;
    this.#minThroughput = cfg.requestMinThroughput;
  }

  /** Whether a connection is open (one is made by the next `send` otherwise). */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /**
   * Writes `body` (complete ILP rows) to the connection, connecting first if needed.
   * @param signal aborts the request (shutdown's deadline): it then throws, retryable.
   * @throws {IlpDeliveryError} (retryable) when connecting or writing fails.
   */
  send(body: string, signal?: AbortSignal): Promise<void> {
    if (body === "") return Promise.resolve();
    const run = this.#queue.then(() => this.#send(body, signal));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Closes the connection, after queued sends finish. A later `send` reconnects. */
  close(): Promise<void> {
    const run = this.#queue.then(() => this.#drop());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #send(body: string, signal?: AbortSignal): Promise<void> {
    const conn = this.#conn ?? await this.#connect();
    const bytes = utf8.encode(body);
    const ms = requestDeadlineMs(this.#timeoutMs, this.#minThroughput, bytes.length);
    const writeAll = async () => {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    };
    try {
      await withDeadline(writeAll(), ms, `the server took no more data for ${ms} ms`, signal);
    } catch (e) {
      this.#drop();
      throw new IlpDeliveryError(
        `QuestDB ${this.target}: write failed, connection closed: ${describeError(e)}`,
        { retryable: true, cause: e },
      );
    }
  }

  async #connect(): Promise<Deno.Conn> {
    let conn: Deno.Conn;
    const ms = this.#timeoutMs;
    const late = `no connection within ${ms} ms`;
    try {
      if (this.#tls) {
        const opts: Deno.ConnectTlsOptions = { hostname: this.#hostname, port: this.#port };
        if (this.#caCerts !== undefined) opts.caCerts = this.#caCerts;
        const started = Date.now();
        const tls = await withDeadline(Deno.connectTls(opts), ms, late, undefined, closeConn);
        try {
          const left = Math.max(1, ms - (Date.now() - started));
          await withDeadline(tls.handshake(), left, `no TLS handshake within ${ms} ms`);
        } catch (e) {
          closeConn(tls);
          throw e;
        }
        conn = tls;
      } else {
        const tcp = await withDeadline(
          Deno.connect({ hostname: this.#hostname, port: this.#port }),
          ms,
          late,
          undefined,
          closeConn,
        );
        try {
          tcp.setNoDelay(true);
          tcp.setKeepAlive(true);
        } catch { /* socket options are best effort */ }
        conn = tcp;
      }
    } catch (e) {
      const text = describeError(e);
      const hint = this.#tls ? certificateHint(text, QUESTDB_TLS_HINT) : "";
      throw new IlpDeliveryError(`QuestDB ${this.target}: cannot connect: ${text}${hint}`, {
        retryable: true,
        cause: e,
      });
    }
    this.#conn = conn;
    this.#watch(conn);
    return conn;
  }

  /**
   * Reads from the connection until it ends: QuestDB sends nothing on ILP/TCP, so an end of
   * stream or an error means the server closed or reset the connection; forget it so the next
   * send reconnects.
   */
  async #watch(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(512);
    try {
      while ((await conn.read(buf)) !== null) { /* unexpected data: ignore */ }
    } catch { /* reset or closed locally */ }
    if (this.#conn === conn) this.#drop();
  }

  #drop(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) closeConn(conn);
  }
}

function closeConn(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * Resolves as `work` does, or rejects with Error(`message`) after `ms` (or at `abort`). If the
 * deadline wins and `work` later yields a value, `dispose` gets it (to close a late connection).
 */
async function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  message: string,
  abort?: AbortSignal,
  dispose?: (late: T) => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new Error(message));
    }, ms);
    onAbort = () => {
      expired = true;
      reject(new Error(`aborted: ${describeError(abort?.reason)}`));
    };
    if (abort?.aborted) onAbort();
    abort?.addEventListener("abort", onAbort);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    abort?.removeEventListener("abort", onAbort);
    if (expired) {
      work.then((late) => dispose?.(late), () => {});
    }
  }
}
