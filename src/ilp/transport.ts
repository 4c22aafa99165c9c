/**
 * What every ILP transport offers. The transports (QuestDB over HTTP or TCP: http.ts, tcp.ts,
 * chosen by questdb.ts; InfluxDB and VictoriaMetrics: influx.ts) implement it; delivery uses
 * nothing else.
 *
 * @module
 */

/**
 * Delivers ILP text (whole rows, each ending in `\n`, as `IlpEncoder.take()` returns) to a
 * server.
 *
 * Transports do not retry: on failure `send` throws `IlpDeliveryError` (errors.ts) and the
 * caller (src/delivery) decides, from its `retryable` and `retryAfterMs`, when to send the same
 * body again. A resend after an ambiguous failure (timeout, broken connection) may deliver rows
 * twice; QuestDB tables made with `DEDUP UPSERT KEYS(timestamp, ...)` and InfluxDB's own rule
 * (same measurement, tag set and time: the point is replaced) absorb that.
 */
export interface IlpTransport {
  /** Where rows go, for logs: e.g. `http://db1:9000`, `tcp://db1:9009`. Never holds secrets. */
  readonly target: string;
  /**
   * Sends `body`. An empty body sends nothing.
   * Resolves once delivered (HTTP: the server answered 2xx, the rows are committed; TCP: the
   * bytes were handed to the operating system, no acknowledgement exists).
   * @param signal aborts the request (shutdown's deadline); it then throws, retryable.
   * @throws {IlpDeliveryError} when the rows were (or may not have been) delivered.
   */
  send(body: string, signal?: AbortSignal): Promise<void>;
  /** Releases connections. The transport may be used again afterwards (it reconnects). */
  close(): Promise<void>;
  /**
   * Runs one SQL statement on the server, where the transport can (QuestDB over HTTP `/exec`);
   * absent otherwise. Used to create tables with DEDUP before the first send.
   * @throws {IlpDeliveryError} on failure (`retryable` as for `send`).
   */
  exec?(sql: string): Promise<{ dataset?: unknown[][] }>;
}
