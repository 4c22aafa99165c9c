/**
 * The error every ILP transport throws, and a one-line description of any thrown value.
 *
 * @module
 */

/** What is known of a failed delivery, for {@link IlpDeliveryError}. */
export interface DeliveryErrorDetails {
  /** Whether sending the same body again may succeed. */
  retryable: boolean;
  /** HTTP status of the server's answer. */
  status?: number;
  /** The server's own error text. */
  serverMessage?: string;
  /** QuestDB's `errorId`. */
  errorId?: string;
  /** QuestDB's `line` (1-based). */
  line?: number;
  /** Least wait before a resend, ms, from the server's `Retry-After` header. */
  retryAfterMs?: number;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * A failed delivery (or `/exec` request). The message says what failed and where (the
 * transport's `target`, never credentials) and, for an HTTP error answer, the server's message.
 */
export class IlpDeliveryError extends Error {
  /** Always `"IlpDeliveryError"`. */
  override readonly name = "IlpDeliveryError";
  /**
   * True when sending the same body again may succeed: HTTP 5xx, timeouts, refused or broken
   * connections, and whatever else the transport's server documents as temporary (InfluxDB:
   * 401, 403, 404, 429). False for answers a resend cannot change (a bad line, a type
   * conflict, a body too large).
   */
  readonly retryable: boolean;
  /** HTTP status of the server's answer; absent when there was no answer. */
  declare readonly status?: number;
  /** The server's own error text (`message` or `error` of its JSON answer, or the raw body). */
  declare readonly serverMessage?: string;
  /** QuestDB's `errorId` (to look up in the server log), if any. */
  declare readonly errorId?: string;
  /** QuestDB's `line`: the 1-based line of the body it rejected, if any. */
  declare readonly line?: number;
  /** Least wait before the next attempt, ms (the answer's `Retry-After`), if any. */
  declare readonly retryAfterMs?: number;

  /**
   * Creates the error.
   *
   * @param message human-readable summary (no secrets).
   * @param details `retryable` and whatever is known of the server's answer.
   */
  constructor(message: string, details: DeliveryErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.retryable = details.retryable;
    if (details.status !== undefined) this.status = details.status;
    if (details.serverMessage !== undefined) this.serverMessage = details.serverMessage;
    if (details.errorId !== undefined) this.errorId = details.errorId;
    if (details.line !== undefined) this.line = details.line;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}
