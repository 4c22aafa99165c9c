/**
 * What every ILP transport offers, the error they throw, and the factory that picks one from
 * a {@link ClientConfig}.
 *
 * @module
 */
import type { ClientConfig } from "./config.ts";
import { HttpTransport } from "./http.ts";
import { TcpTransport } from "./tcp.ts";

/**
 * Delivers ILP text (whole rows, each ending in `\n`, as `IlpEncoder.take()` returns) to
 * QuestDB.
 *
 * Transports do not retry: on failure `send` throws {@link IlpDeliveryError} and the caller
 * decides, from `retryable` and `retry_timeout`, whether to send the same body again. A resend
 * after an ambiguous failure (timeout, broken connection) may deliver rows twice; tables made
 * with `DEDUP UPSERT KEYS(timestamp, ...)` absorb that.
 */
export interface IlpTransport {
  /** Where rows go, for logs: e.g. `http://db1:9000`, `tcp://db1:9009`. Never holds secrets. */
  readonly target: string;
  /**
   * Sends `body`. An empty body sends nothing.
   * Resolves once delivered (HTTP: QuestDB answered 2xx, the rows are committed; TCP: the
   * bytes were handed to the operating system, no acknowledgement exists).
   * @throws {IlpDeliveryError} when the rows were (or may not have been) delivered.
   */
  send(body: string): Promise<void>;
  /** Releases connections. The transport may be used again afterwards (it reconnects). */
  close(): Promise<void>;
  /**
   * Runs one SQL statement on the server, where the transport can (QuestDB over HTTP `/exec`);
   * absent otherwise. Used to create tables with DEDUP before the first send.
   * @throws {IlpDeliveryError} on failure (`retryable` as for `send`).
   */
  exec?(sql: string): Promise<{ dataset?: unknown[][] }>;
}

/**
 * A failed delivery (or `/exec` request). The message says what failed and where (the
 * transport's `target`, never credentials) and, for an HTTP error answer, QuestDB's message.
 */
export class IlpDeliveryError extends Error {
  /** Always `"IlpDeliveryError"`. */
  override readonly name = "IlpDeliveryError";
  /**
   * True when sending the same body again may succeed: HTTP 5xx, timeouts, refused or broken
   * connections. False for HTTP 4xx (bad line, type conflict, authentication, too large) and
   * other answers that a resend cannot change.
   */
  readonly retryable: boolean;
  /** HTTP status of QuestDB's answer; absent when there was no answer. */
  declare readonly status?: number;
  /** QuestDB's own error text (`message` of its JSON error, or the raw body), if any. */
  declare readonly serverMessage?: string;
  /** QuestDB's `errorId` (to look up in the server log), if any. */
  declare readonly errorId?: string;
  /** QuestDB's `line`: the 1-based line of the body it rejected, if any. */
  declare readonly line?: number;

  /**
   * Creates the error.
   *
   * @param message human-readable summary (no secrets).
   * @param details `retryable` and whatever is known of the server's answer; `cause` is the
   *   underlying error.
   */
  constructor(
    message: string,
    details: {
      retryable: boolean;
      status?: number;
      serverMessage?: string;
      errorId?: string;
      line?: number;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.retryable = details.retryable;
    if (details.status !== undefined) this.status = details.status;
    if (details.serverMessage !== undefined) this.serverMessage = details.serverMessage;
    if (details.errorId !== undefined) this.errorId = details.errorId;
    if (details.line !== undefined) this.line = details.line;
  }
}

/**
 * Makes the transport a config asks for: {@link HttpTransport} for `http`/`https`,
 * {@link TcpTransport} for `tcp`/`tcps`. Nothing connects until the first `send`.
 *
 * @throws {RangeError} when the config asks for something this package cannot do (see the
 *   transports' constructors), or a `tls_roots`/`tls_ca` PEM file cannot be read.
 */
export function createTransport(cfg: ClientConfig): IlpTransport {
  switch (cfg.protocol) {
    case "http":
    case "https":
      return new HttpTransport(cfg);
    case "tcp":
    case "tcps":
      return new TcpTransport(cfg);
  }
}

/**
 * Reads the PEM CA certificates named by `tls_roots`, or by `tls_ca` when it is a path (the
 * Node.js client's meaning). `tls_ca` values `webpki_roots`, `os_roots`,
 * `webpki_and_os_roots` select Deno's default store (set DENO_TLS_CA_STORE=system for the
 * operating system's), and `pem_file` means `tls_roots`.
 *
 * @returns the PEM texts, or undefined when only the default roots apply.
 * @throws {RangeError} when a file cannot be read or holds no PEM certificate.
 */
export function readCaCerts(cfg: ClientConfig): string[] | undefined {
  const paths: string[] = [];
  if (cfg.tlsRoots !== undefined) paths.push(cfg.tlsRoots);
  const ca = cfg.tlsCa;
  if (
    ca !== undefined && ca !== "webpki_roots" && ca !== "os_roots" &&
    ca !== "webpki_and_os_roots" && ca !== "pem_file"
  ) paths.push(ca);
  if (paths.length === 0) return undefined;
  return paths.map((path) => {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      throw new RangeError(`cannot read TLS CA file ${path}: ${(e as Error).message}`);
    }
    if (!text.includes("-----BEGIN CERTIFICATE-----")) {
      throw new RangeError(`TLS CA file ${path} holds no PEM certificate`);
    }
    return text;
  });
}

/**
 * One-line description of an unknown thrown value for error messages: its message followed by
 * those of its `cause` chain (Deno's fetch says only "fetch failed" and puts the reason, e.g.
 * `invalid peer certificate: UnknownIssuer`, in `cause`).
 */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== undefined && cur !== null; depth++) {
    const text = cur instanceof Error ? cur.message || cur.name : String(cur);
    if (text !== "" && !parts.includes(text)) parts.push(text);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}
