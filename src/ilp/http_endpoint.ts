/**
 * One HTTP(S) server that ILP goes to: requests with a deadline, network failures as
 * {@link IlpDeliveryError}, and the server's error text read from an answer. Shared by the
 * QuestDB (http.ts) and InfluxDB/VictoriaMetrics (influx.ts) transports.
 *
 * @module
 */
import { describeError } from "../errors.ts";
import { IlpDeliveryError } from "./errors.ts";
import { certificateHint } from "./tls.ts";

/** Most of an error body kept for messages, characters. */
const MAX_ERROR_TEXT = 2048;

/** Sends requests to one origin (`http(s)://host:port`). */
export class HttpEndpoint {
  /** Who answers, for messages: `QuestDB`, `InfluxDB`, `VictoriaMetrics`. */
  readonly server: string;
  /** `http(s)://host:port`, without credentials. */
  readonly origin: string;
  readonly #clientOptions: Deno.CreateHttpClientOptions | undefined;
  readonly #tlsHint: string;
  #client: Deno.HttpClient | undefined;

  /**
   * Names the server; nothing connects until the first request.
   * @param server who answers, for messages.
   * @param origin `http(s)://host:port`.
   * @param tlsHint what to do about an untrusted certificate, appended to such errors.
   * @param clientOptions extra CA certificates or a local address, when needed.
   */
  constructor(
    server: string,
    origin: string,
    tlsHint: string,
    clientOptions?: Deno.CreateHttpClientOptions,
  ) {
    this.server = server;
    this.origin = origin;
    this.#tlsHint = tlsHint;
    this.#clientOptions = clientOptions;
  }

  /**
   * Sends one request (redirects are not followed).
   * @param pathAndQuery e.g. `/write?precision=n`.
   * @param init method, headers, body.
   * @param timeoutMs deadline for the answer's headers, ms.
   * @param what the request's purpose, for messages (`write`, `exec`).
   * @param abort ends the request early (shutdown).
   * @returns the answer, whatever its status.
   * @throws {IlpDeliveryError} (retryable) on a timeout, an abort or a network or TLS failure.
   */
  async request(
    pathAndQuery: string,
    init: RequestInit,
    timeoutMs: number,
    what: string,
    abort?: AbortSignal,
  ): Promise<Response> {
    if (this.#clientOptions !== undefined && this.#client === undefined) {
      this.#client = Deno.createHttpClient(this.#clientOptions);
    }
    const full: RequestInit & { client?: Deno.HttpClient } = {
      ...init,
      redirect: "manual",
      signal: abort
        ? AbortSignal.any([AbortSignal.timeout(timeoutMs), abort])
        : AbortSignal.timeout(timeoutMs),
    };
    if (this.#client !== undefined) full.client = this.#client;
    try {
      return await fetch(this.origin + pathAndQuery, full);
    } catch (e) {
      if (abort?.aborted) {
        throw new IlpDeliveryError(
          `${this.server} ${this.origin} ${what}: aborted: ${describeError(abort.reason)}`,
          { retryable: true, cause: e },
        );
      }
      if (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError")) {
        throw new IlpDeliveryError(
          `${this.server} ${this.origin} ${what}: no answer within ${timeoutMs} ms`,
          { retryable: true, cause: e },
        );
      }
      const text = describeError(e);
      throw new IlpDeliveryError(
        `${this.server} ${this.origin} ${what}: request failed: ${text}${
          certificateHint(text, this.#tlsHint)
        }`,
        { retryable: true, cause: e },
      );
    }
  }

  /** Closes pooled connections (and the custom client, if any). */
  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

/** The error text of an answer that was not a success. */
export interface ErrorAnswer {
  /** `message` (QuestDB, InfluxDB 2.x) or `error` (InfluxDB 1.x, QuestDB /exec) of a JSON body, else the body's text; absent when empty. */
  message?: string;
  /** The JSON body's fields, when it was a JSON object. */
  json?: Record<string, unknown>;
}

/**
 * Reads the body of an error answer.
 * @param res the answer.
 * @returns its message (at most 2048 characters of a non-JSON body) and JSON fields.
 */
export async function readErrorAnswer(res: Response): Promise<ErrorAnswer> {
  let text = "";
  try {
    text = await res.text();
  } catch { /* body unreadable: the status alone */ }
  const out: ErrorAnswer = {};
  const raw = text.trim().slice(0, MAX_ERROR_TEXT);
  if (raw !== "") out.message = raw;
  try {
    const j: unknown = JSON.parse(text);
    if (typeof j === "object" && j !== null && !Array.isArray(j)) {
      const o = j as Record<string, unknown>;
      out.json = o;
      if (typeof o["message"] === "string") out.message = o["message"];
      else if (typeof o["error"] === "string") out.message = o["error"];
    }
  } catch { /* not JSON: keep the raw text */ }
  return out;
}
