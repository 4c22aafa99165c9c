/**
 * The QuestDB transport a client configuration string asks for.
 *
 * @module
 */
import type { ClientConfig } from "./config.ts";
import { HttpTransport } from "./http.ts";
import { TcpTransport } from "./tcp.ts";
import type { IlpTransport } from "./transport.ts";

/**
 * Makes the transport a config asks for: {@link HttpTransport} for `http`/`https` (it has
 * `exec`, so tables can be created with DEDUP), {@link TcpTransport} for `tcp`/`tcps`.
 * Nothing connects until the first `send`.
 *
 * @throws {RangeError} when a `tls_roots`/`tls_ca` PEM file cannot be read.
 */
export function createQuestdbTransport(cfg: ClientConfig): IlpTransport {
  switch (cfg.protocol) {
    case "http":
    case "https":
      return new HttpTransport(cfg);
    case "tcp":
    case "tcps":
      return new TcpTransport(cfg);
  }
}
