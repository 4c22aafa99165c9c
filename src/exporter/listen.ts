/**
 * The `--listen` address of the Prometheus endpoint.
 *
 * @module
 */

/** Where the endpoint listens. */
export interface ListenAddress {
  /** Interface address; `0.0.0.0` (every interface) when the flag gives only a port. */
  readonly hostname: string;
  /** TCP port, 1 to 65535. */
  readonly port: number;
}

/**
 * Parses `--listen [host:]port`: `9338`, `:9338`, `127.0.0.1:9338`, `[::1]:9338`, `localhost:9338`.
 * A bare port or `:port` listens on every interface, as Prometheus exporters do.
 * @returns the address.
 * @throws {RangeError} naming what is allowed.
 */
export function parseListen(value: string): ListenAddress {
  const allowed = "Allowed: [host:]port with a port from 1 to 65535, such as :9338, " +
    "127.0.0.1:9338 or [::1]:9338.";
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[2]);
  if (!m || !(port >= 1 && port <= 65535)) throw new RangeError(allowed);
  const host = m[1] ?? "";
  return { hostname: host === "" ? "0.0.0.0" : host.replace(/^\[(.*)\]$/, "$1"), port };
}

/** The address as `host:port` (IPv6 in brackets), for logs and messages. */
export function showListen(address: ListenAddress): string {
  const h = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${h}:${address.port}`;
}
