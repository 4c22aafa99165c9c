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
import { formatAddr } from "./config.ts";
import { describeError, IlpDeliveryError, type IlpTransport, readCaCerts } from "./transport.ts";

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
/** Most of an error body kept for messages. */
const MAX_ERROR_TEXT = 2048;

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
 *   `Deno.createHttpClient({caCerts})`. `tls_verify=unsafe_off` cannot be honoured per client
 *   in Deno: verification stays on unless the process runs with
 *   `--unsafely-ignore-certificate-errors`; certificate errors say so.
 * - No retries here: `retry_timeout` is for the caller.
 */
export class HttpTransport implements IlpTransport {
  /** `http://host:port` or `https://host:port`. */
  readonly target: string;
  readonly #authorization: string | undefined;
  readonly #requestTimeoutMs: number;
  readonly #minThroughput: number;
  readonly #maxBodyBytes: number;
  readonly #tlsVerify: boolean;
  #client: Deno.HttpClient | undefined;
  readonly #clientOptions: Deno.CreateHttpClientOptions | undefined;

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
    this.#tlsVerify = cfg.tlsVerify;
    const options: Deno.CreateHttpClientOptions = {};
    let custom = false;
    if (cfg.protocol === "https") {
      const caCerts = readCaCerts(cfg);
      if (caCerts !== undefined) {
        options.caCerts = caCerts;
        custom = true;
      }
    }
    if (cfg.bindInterface !== undefined) {
      options.localAddress = cfg.bindInterface;
      custom = true;
    }
    this.#clientOptions = custom ? options : undefined;
  }

  /**
   * POSTs `body` (complete ILP rows) to `/write?precision=n`.
   * @throws {IlpDeliveryError} see the class documentation.
   */
  async send(body: string): Promise<void> {
    if (body === "") return;
    const bytes = utf8.encode(body);
    if (bytes.length > this.#maxBodyBytes) {
      throw new IlpDeliveryError(
        `ILP body of ${bytes.length} bytes exceeds max_buf_size (${this.#maxBodyBytes}) for ${this.target}`,
        { retryable: false },
      );
    }
    const timeoutMs = this.#minThroughput > 0
      ? this.#requestTimeoutMs + Math.ceil(bytes.length / this.#minThroughput * 1000)
      : this.#requestTimeoutMs;
    const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
    if (this.#authorization !== undefined) headers["authorization"] = this.#authorization;
    const res = await this.#fetch(
      "/write?precision=n",
      {
        method: "POST",
        headers,
        body: bytes,
      },
      timeoutMs,
      "write",
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
    const headers: Record<string, string> = {};
    if (this.#authorization !== undefined) headers["authorization"] = this.#authorization;
    const res = await this.#fetch(
      `/exec?query=${encodeURIComponent(sql)}`,
      { method: "GET", headers },
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
    this.#client?.close();
    this.#client = undefined;
    return Promise.resolve();
  }

  async #fetch(
    pathAndQuery: string,
    init: RequestInit,
    timeoutMs: number,
    what: string,
  ): Promise<Response> {
    if (this.#clientOptions !== undefined && this.#client === undefined) {
      this.#client = Deno.createHttpClient(this.#clientOptions);
    }
    const full: RequestInit & { client?: Deno.HttpClient } = {
      ...init,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    };
    if (this.#client !== undefined) full.client = this.#client;
    try {
      return await fetch(this.target + pathAndQuery, full);
    } catch (e) {
      if (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError")) {
        throw new IlpDeliveryError(
          `QuestDB ${this.target} ${what}: no answer within ${timeoutMs} ms`,
          { retryable: true, cause: e },
        );
      }
      let hint = "";
      const text = describeError(e);
      if (/certificate|UnknownIssuer|tls/i.test(text)) {
        hint = this.#tlsVerify
          ? " (trust the server's CA with tls_roots=/path/ca.pem)"
          : " (tls_verify=unsafe_off needs deno's --unsafely-ignore-certificate-errors flag)";
      }
      throw new IlpDeliveryError(
        `QuestDB ${this.target} ${what}: request failed: ${text}${hint}`,
        { retryable: true, cause: e },
      );
    }
  }

  /** Builds the error for a non-2xx answer, reading QuestDB's JSON error if there is one. */
  async #errorFrom(res: Response, what: string): Promise<IlpDeliveryError> {
    let text = "";
    try {
      text = await res.text();
    } catch { /* body unreadable: report the status alone */ }
    let serverMessage: string | undefined = text.trim().slice(0, MAX_ERROR_TEXT) || undefined;
    let errorId: string | undefined;
    let line: number | undefined;
    try {
      const j: unknown = JSON.parse(text);
      if (typeof j === "object" && j !== null) {
        const o = j as Record<string, unknown>;
        if (typeof o["message"] === "string") serverMessage = o["message"];
        else if (typeof o["error"] === "string") serverMessage = o["error"];
        if (typeof o["errorId"] === "string") errorId = o["errorId"];
        if (typeof o["line"] === "number") line = o["line"];
      }
    } catch { /* not JSON: keep the raw text */ }
    const retryable = res.status >= 500;
    const details: ConstructorParameters<typeof IlpDeliveryError>[1] = {
      retryable,
      status: res.status,
    };
    if (serverMessage !== undefined) details.serverMessage = serverMessage;
    if (errorId !== undefined) details.errorId = errorId;
    if (line !== undefined) details.line = line;
    const where = line !== undefined ? ` (line ${line})` : "";
    return new IlpDeliveryError(
      `QuestDB ${this.target} ${what} failed: HTTP ${res.status}${
        serverMessage !== undefined ? `: ${serverMessage}` : ""
      }${where}`,
      details,
    );
  }
}
