/**
 * ILP over HTTP: `POST /write?precision=n`, one request per `send` (one transaction per
 * table on the server), plus `GET /exec` for SQL.
 *
 * Sources: questdb/nodejs-questdb-client (npm @questdb/nodejs-client 4.2.0)
 * src/transport/http/undici.ts and stdlib.ts (path
 * `/write?precision=n`, basic/bearer `Authorization`, timeout = request_timeout + body bytes /
 * request_min_throughput); QuestDB docs "ILP over HTTP" and server LineHttpProcessorState
 * (204 on commit, JSON error `{code, message, line, errorId}`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { ClientConfig } from "./config.ts";
import { formatAddr, requestDeadlineMs } from "./config.ts";
import { type DeliveryErrorDetails, IlpDeliveryError } from "./errors.ts";
import { HttpEndpoint, readErrorAnswer } from "./http_endpoint.ts";
import { QUESTDB_TLS_HINT, readCaCerts } from "./tls.ts";
import type { IlpTransport } from "./transport.ts";

/** A QuestDB `/exec` answer: rows for a query, `{ddl: "OK"}` for DDL, `{dml: "OK"}` for DML. */
export interface ExecResult {
  /** Column names and QuestDB type names (e.g. `DOUBLE`, `SYMBOL`, `TIMESTAMP`). */
  columns?: { name: string; type: string }[];
  /** Rows, each an array in column order (JSON values: numbers, strings, booleans, null). */
  dataset?: unknown[][];
  /** Row count of the result. */
  count?: number;
  /** `"OK"` after DDL such as CREATE TABLE. */
  ddl?: string;
  /** `"OK"` after DML such as INSERT. */
  dml?: string;
}

const utf8 = new TextEncoder();

/**
 * Sends ILP text to QuestDB's HTTP endpoint.
 *
 * - `send` POSTs the body to `/write?precision=n` (designated timestamps in nanoseconds, as
 *   `IlpEncoder` writes them). Any 2xx answer (QuestDB sends 204) means the rows are
 *   committed. Anything else throws {@link IlpDeliveryError}: `retryable` for 5xx, timeouts
 *   and network errors; not for 4xx (QuestDB's `message`, `line` and `errorId` are carried),
 *   3xx (redirects are not followed) or a body over `max_buf_size`.
 * - Authentication: `token` -> `Authorization: Bearer`, `username`+`password` ->
 *   `Authorization: Basic` (UTF-8, base64), on every request including `exec`.
 * - Timeout per request: `request_timeout` + body bytes / `request_min_throughput` s (the
 *   second term only when the throughput is not 0), through `AbortSignal.timeout`.
 * - https: trusts Deno's root store plus the PEM file(s) of `tls_roots` / `tls_ca`, through
 *   `Deno.createHttpClient({caCerts})`.
 * - `bind_interface`: the local address requests leave from.
 * - One attempt per call: resending is the caller's (src/delivery honours `retry_timeout`).
 */
export class HttpTransport implements IlpTransport {
  /** `http://host:port` or `https://host:port`. */
  readonly target: string;
  readonly #endpoint: HttpEndpoint;
  readonly #authorization: string | undefined;
  readonly #requestTimeoutMs: number;
  readonly #minThroughput: number;
  readonly #maxBodyBytes: number;

  /**
   * Prepares a transport for `cfg`; nothing connects until the first request.
   *
   * @param cfg an `http` or `https` config.
   * @throws {RangeError} when `cfg.protocol` is not http/https, or a CA file cannot be read.
   */
  constructor(cfg: ClientConfig) {
    if (cfg.protocol !== "http" && cfg.protocol !== "https") {
      throw new RangeError(`HttpTransport needs an http or https config, got ${cfg.protocol}`);
    }
    this.target = `${cfg.protocol}://${formatAddr(cfg.host, cfg.port)}`;
    if (cfg.token !== undefined) {
      this.#authorization = `Bearer ${cfg.token}`;
    } else if (cfg.username !== undefined && cfg.password !== undefined) {
      this.#authorization = `Basic ${
        Buffer.from(`${cfg.username}:${cfg.password}`, "utf8").toString("base64")
      }`;
    }
    this.#requestTimeoutMs = cfg.requestTimeoutMs;
    this.#minThroughput = cfg.requestMinThroughput;
    this.#maxBodyBytes = cfg.maxBufSize;
    const options: Deno.CreateHttpClientOptions = {};
    const caCerts = cfg.protocol === "https" ? readCaCerts(cfg) : undefined;
    if (caCerts !== undefined) options.caCerts = caCerts;
    if (cfg.bindInterface !== undefined) options.localAddress = cfg.bindInterface;
    this.#endpoint = new HttpEndpoint(
      "QuestDB",
      this.target,
      QUESTDB_TLS_HINT,
      Object.keys(options).length > 0 ? options : undefined,
    );
  }

  /**
   * POSTs `body` (complete ILP rows) to `/write?precision=n`.
   * @param signal aborts the request (shutdown's deadline): it then throws, retryable.
   * @throws {IlpDeliveryError} see the class documentation.
   */
  async send(body: string, signal?: AbortSignal): Promise<void> {
    if (body === "") return;
    const bytes = utf8.encode(body);
    if (bytes.length > this.#maxBodyBytes) {
      throw new IlpDeliveryError(
        `ILP body of ${bytes.length} bytes exceeds max_buf_size (${this.#maxBodyBytes}) for ${this.target}`,
        { retryable: false },
      );
    }
    const res = await this.#endpoint.request(
      "/write?precision=n",
      {
        method: "POST",
        headers: this.#headers({ "content-type": "text/plain; charset=utf-8" }),
        body: bytes,
      },
      requestDeadlineMs(this.#requestTimeoutMs, this.#minThroughput, bytes.length),
      "write",
      signal,
    );
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return;
    }
    throw await this.#errorFrom(res, "write");
  }

  /**
   * Runs one SQL statement through `GET /exec?query=...` (same authentication and timeout
   * as `send`), e.g. `CREATE TABLE IF NOT EXISTS ...`.
   *
   * @returns QuestDB's JSON answer.
   * @throws {IlpDeliveryError} on a network error or timeout (retryable), or when QuestDB
   *   answers an error (`serverMessage` is its `error` text; retryable only for 5xx).
   */
  async exec(sql: string): Promise<ExecResult> {
    const res = await this.#endpoint.request(
      `/exec?query=${encodeURIComponent(sql)}`,
      { method: "GET", headers: this.#headers({}) },
      this.#requestTimeoutMs,
      "exec",
    );
    if (res.status < 200 || res.status >= 300) throw await this.#errorFrom(res, "exec");
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch (e) {
      throw new IlpDeliveryError(`QuestDB ${this.target} /exec answered invalid JSON`, {
        retryable: false,
        status: res.status,
        cause: e,
      });
    }
    if (typeof parsed !== "object" || parsed === null) {
      throw new IlpDeliveryError(`QuestDB ${this.target} /exec answered non-object JSON`, {
        retryable: false,
        status: res.status,
      });
    }
    const obj = parsed as Record<string, unknown>;
    if (typeof obj["error"] === "string") {
      throw new IlpDeliveryError(`QuestDB ${this.target} /exec failed: ${obj["error"]}`, {
        retryable: false,
        status: res.status,
        serverMessage: obj["error"],
      });
    }
    return obj as ExecResult;
  }

  /** Closes pooled connections (and the custom TLS client, if any). */
  close(): Promise<void> {
    this.#endpoint.close();
    return Promise.resolve();
  }

  #headers(headers: Record<string, string>): Record<string, string> {
    if (this.#authorization !== undefined) headers["authorization"] = this.#authorization;
    return headers;
  }

  /** Builds the error for a non-2xx answer, reading QuestDB's JSON error if there is one. */
  async #errorFrom(res: Response, what: string): Promise<IlpDeliveryError> {
    const { message, json } = await readErrorAnswer(res);
    const details: DeliveryErrorDetails = { retryable: res.status >= 500, status: res.status };
    if (message !== undefined) details.serverMessage = message;
    if (typeof json?.["errorId"] === "string") details.errorId = json["errorId"];
    if (typeof json?.["line"] === "number") details.line = json["line"];
    const where = details.line !== undefined ? ` (line ${details.line})` : "";
    return new IlpDeliveryError(
      `QuestDB ${this.target} ${what} failed: HTTP ${res.status}${
        message !== undefined ? `: ${message}` : ""
      }${where}`,
      details,
    );
  }
}
