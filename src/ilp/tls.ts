/**
 * TLS trust for the ILP transports: extra CA certificates from the configuration string, and a
 * hint when a server's certificate is not trusted.
 *
 * @module
 */
import type { ClientConfig } from "./config.ts";

/**
 * Reads the PEM CA certificates named by `tls_roots`, or by `tls_ca` when it is a path (the
 * Node.js client's meaning). `tls_ca=webpki_roots` is Deno's default store (Mozilla's roots,
 * as the Rust client's webpki-roots), and `tls_ca=pem_file` means `tls_roots`.
 *
 * @returns the PEM texts, or undefined when only the default roots apply.
 * @throws {RangeError} when a file cannot be read or holds no PEM certificate.
 */
export function readCaCerts(cfg: ClientConfig): string[] | undefined {
  const paths: string[] = [];
  if (cfg.tlsRoots !== undefined) paths.push(cfg.tlsRoots);
  const ca = cfg.tlsCa;
  if (ca !== undefined && ca !== "webpki_roots" && ca !== "pem_file") paths.push(ca);
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

/** What to do about an untrusted certificate, for QuestDB configuration strings. */
export const QUESTDB_TLS_HINT = "trust the server's CA with tls_roots=/path/ca.pem";

/**
 * The hint to append to a connection error, when the error is about a certificate.
 * @param text the error's description.
 * @param hint what the user can do (e.g. {@link QUESTDB_TLS_HINT}).
 * @returns ` (hint)` or the empty string.
 */
export function certificateHint(text: string, hint: string): string {
  return /certificate|UnknownIssuer/i.test(text) ? ` (${hint})` : "";
}
