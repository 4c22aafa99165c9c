/**
 * ILP to InfluxDB 1.x, InfluxDB 2.x/3.x and VictoriaMetrics over their HTTP write APIs: the
 * `--influxdb` URL, credentials from the environment, and the transport.
 *
 * Sources: InfluxDB 1.x docs "Write data with the InfluxDB API" (`POST /write?db=&rp=&precision=`,
 * 204, 400 with `{"error"}` incl. partial writes, 401, 404 database not found, 413, 500);
 * InfluxDB 2.x API `POST /api/v2/write?org=&bucket=&precision=` (`Authorization: Token`, 204,
 * 400, 401, 403, 413, 422, 429 and 503 with `Retry-After`); InfluxDB 3 "v2 compatibility
 * write API"; VictoriaMetrics docs "How to send data from InfluxDB-compatible agents"
 * (`POST /write`, `/insert/<accountID>/influx/write` on a cluster's vminsert, 204);
 * RFC 9110 section 10.2.3 (`Retry-After`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { requestDeadlineMs } from "./config.ts";
import { type DeliveryErrorDetails, IlpDeliveryError } from "./errors.ts";
import { HttpEndpoint, readErrorAnswer } from "./http_endpoint.ts";
import type { IlpTransport } from "./transport.ts";

/** Which server a `--influxdb` URL names. */
export type InfluxKind = "influxdb1" | "influxdb2" | "victoriametrics";

/** A parsed `--influxdb` URL. Holds no secrets. */
export interface InfluxTarget {
  /** `influxdb1` (`?db=`), `influxdb2` (`?bucket=`, 2.x and 3.x) or `victoriametrics` (neither). */
  readonly kind: InfluxKind;
  /** `http(s)://host:port`. */
  readonly origin: string;
  /** Path and query of the write endpoint, e.g. `/write?db=stats&precision=ns`. */
  readonly writePath: string;
  /** Sink name for logs and STATUS, e.g. `influxdb@db1:8086/stats`. */
  readonly name: string;
  /** Its spool file's name, distinct per target, e.g. `spool-influxdb-db1-8086-stats.jsonl`. */
  readonly spoolFile: string;
}

/** Credentials for `--influxdb` sinks, from the environment. Secret: never log them. */
export interface InfluxCredentials {
  /** `INFLUX_TOKEN`. */
  readonly token?: string;
  /** `INFLUX_USERNAME`. */
  readonly username?: string;
  /** `INFLUX_PASSWORD`. */
  readonly password?: string;
}

/** Query parameters a `--influxdb` URL may carry. */
const PARAMS = ["db", "rp", "org", "bucket"];
/** The URL forms, for error messages. */
export const INFLUX_URL_FORMS = "http(s)://host:8086/?db=NAME[&rp=POLICY] (InfluxDB 1.x), " +
  "http(s)://host:8086/?org=ORG&bucket=BUCKET (InfluxDB 2.x/3.x), " +
  "http(s)://host:8428/ (VictoriaMetrics)";
/** Request timeout, ms, and least throughput, bytes/s: the QuestDB clients' defaults. */
const REQUEST_TIMEOUT_MS = 10_000;
const MIN_THROUGHPUT = 102_400;
const utf8 = new TextEncoder();

/**
 * Parses a `--influxdb` URL. The query decides the server, so that no URL means two things:
 * `db` (with optional `rp`) is InfluxDB 1.x, written to `/write`; `bucket` (with optional
 * `org`; 2.x needs it, 3.x ignores it) is InfluxDB 2.x/3.x, written to `/api/v2/write`;
 * neither is VictoriaMetrics, written to `/write`. A path is a prefix of the endpoint (a
 * proxy, or a VictoriaMetrics cluster's `/insert/0/influx`). Timestamps are sent as
 * `precision=ns`.
 *
 * @param text the flag's value.
 * @returns the target.
 * @throws {RangeError} for anything but http/https, credentials in the URL (they come from the
 *   environment), a path ending in `/write`, a fragment, an unknown, repeated or empty query
 *   parameter, `db` together with `bucket`, `rp` without `db`, or `org` without `bucket`. The
 *   message names the part, never the URL's credentials (see {@link INFLUX_URL_FORMS}).
 */
export function parseInfluxTarget(text: string): InfluxTarget {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new RangeError("not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`scheme ${url.protocol} is not http or https`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new RangeError(
      "credentials do not go in the URL: set INFLUX_TOKEN, or INFLUX_USERNAME and INFLUX_PASSWORD",
    );
  }
  if (url.hash !== "") throw new RangeError("a URL fragment (#...) is not allowed");
  const prefix = url.pathname.replace(/\/+$/, "");
  if (/\/write$/.test(prefix)) {
    throw new RangeError("give the server's base URL, without /write");
  }
  const q = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (!PARAMS.includes(key)) {
      throw new RangeError(`unknown query parameter '${key}' (allowed: db, rp; or org, bucket)`);
    }
    if (q.has(key)) throw new RangeError(`query parameter '${key}' appears more than once`);
    if (value === "") throw new RangeError(`query parameter '${key}' is empty`);
    q.set(key, value);
  }
  const db = q.get("db");
  const bucket = q.get("bucket");
  if (db !== undefined && bucket !== undefined) {
    throw new RangeError("give db (InfluxDB 1.x) or bucket (InfluxDB 2.x/3.x), not both");
  }
  if (q.has("rp") && db === undefined) throw new RangeError("'rp' needs 'db' (InfluxDB 1.x)");
  if (q.has("org") && bucket === undefined) {
    throw new RangeError("'org' needs 'bucket' (InfluxDB 2.x/3.x)");
  }
  const kind: InfluxKind = db !== undefined
    ? "influxdb1"
    : bucket !== undefined
    ? "influxdb2"
    : "victoriametrics";
  const query = new URLSearchParams();
  for (const key of PARAMS) {
    const v = q.get(key);
    if (v !== undefined) query.set(key, v);
  }
  query.set("precision", "ns");
  const endpoint = kind === "influxdb2" ? "/api/v2/write" : "/write";
  const where = PARAMS.map((k) => q.get(k)).filter((v) => v !== undefined);
  const server = kind === "victoriametrics" ? "victoriametrics" : "influxdb";
  const name = `${server}@${url.host}${prefix}${where.map((v) => `/${v}`).join("")}`;
  return {
    kind,
    origin: url.origin,
    writePath: `${prefix}${endpoint}?${query}`,
    name,
    spoolFile: `spool-${name.replace(/[^A-Za-z0-9._]+/g, "-")}.jsonl`,
  };
}

/**
 * Reads the credentials of the `--influxdb` sinks.
 * @param env the process environment (INFLUX_TOKEN, INFLUX_USERNAME, INFLUX_PASSWORD).
 * @returns the variables that are set and not empty.
 * @throws {RangeError} when only one of INFLUX_USERNAME and INFLUX_PASSWORD is set.
 */
export function readInfluxCredentials(
  env: Record<string, string | undefined>,
): InfluxCredentials {
  const pick = (name: string) => (env[name] ?? "") === "" ? undefined : env[name];
  const token = pick("INFLUX_TOKEN");
  const username = pick("INFLUX_USERNAME");
  const password = pick("INFLUX_PASSWORD");
  if ((username === undefined) !== (password === undefined)) {
    throw new RangeError(
      "environment variables INFLUX_USERNAME and INFLUX_PASSWORD must be set together",
    );
  }
  return {
    ...(token !== undefined ? { token } : {}),
    ...(username !== undefined ? { username, password: password! } : {}),
  };
}

/**
 * The `Authorization` header for a target: InfluxDB 2.x/3.x `Token <INFLUX_TOKEN>`; InfluxDB
 * 1.x `Basic` from INFLUX_USERNAME/INFLUX_PASSWORD, else `Token <INFLUX_TOKEN>` (1.8+ and 3.x's
 * v1 API); VictoriaMetrics `Basic` (its `-httpAuth.*` flags), else `Bearer <INFLUX_TOKEN>`
 * (vmauth). None when nothing fitting is set.
 */
export function influxAuthorization(
  kind: InfluxKind,
  c: InfluxCredentials,
): string | undefined {
  const basic = c.username !== undefined && c.password !== undefined
    ? `Basic ${Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64")}`
    : undefined;
  if (kind === "influxdb2") return c.token !== undefined ? `Token ${c.token}` : undefined;
  if (basic !== undefined) return basic;
  if (c.token === undefined) return undefined;
  return kind === "influxdb1" ? `Token ${c.token}` : `Bearer ${c.token}`;
}

/**
 * Reads a `Retry-After` header (RFC 9110 section 10.2.3): delay seconds, or an HTTP date.
 * @param value the header's value.
 * @param nowMs the current time, epoch ms.
 * @returns the wait in ms (0 for a date in the past), or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP dates (IMF-fixdate and the two obsolete forms) start with a day name; Date.parse
  // alone would take "-5" for a year.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Whether a resend can succeed after an answer with this status, by each server's
 * documentation: 429 and 5xx (overloaded, unavailable); 401 and 403 (a token or permission the
 * operator can fix while the daemon runs); 404 (the database or bucket is not created yet).
 * Not 400 (a bad line; partial writes too), 413 (too large) or 422 (unprocessable, e.g.
 * outside the retention period), nor other 3xx/4xx answers.
 */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 401 || status === 403 || status === 404;
}

/**
 * Sends ILP text to InfluxDB or VictoriaMetrics: one `POST` of the body to the target's write
 * endpoint per `send`, `precision=ns`, with the credentials' `Authorization` header. 2xx is
 * delivered (the servers answer 204); any other answer throws {@link IlpDeliveryError} with
 * the server's message, `retryable` as documented at `retryableStatus`, and `retryAfterMs` from
 * `Retry-After`. Timeouts and network errors are retryable. No `exec`: nothing is created on
 * these servers.
 */
export class InfluxTransport implements IlpTransport {
  /** The write URL (`origin` + path and query); no secrets. */
  readonly target: string;
  readonly #endpoint: HttpEndpoint;
  readonly #writePath: string;
  readonly #authorization: string | undefined;
  readonly #timeoutMs: number;

  /**
   * Prepares a transport; nothing connects until the first `send`.
   * @param target the parsed `--influxdb` URL.
   * @param credentials from the environment.
   * @param timeoutMs answer deadline, ms, before body bytes / 100 KiB/s are added. Default
   *   10 000.
   */
  constructor(
    target: InfluxTarget,
    credentials: InfluxCredentials,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ) {
    this.target = target.origin + target.writePath;
    this.#endpoint = new HttpEndpoint(
      target.kind === "victoriametrics" ? "VictoriaMetrics" : "InfluxDB",
      target.origin,
      "trust the server's CA with DENO_CERT=/path/ca.pem",
    );
    this.#writePath = target.writePath;
    this.#authorization = influxAuthorization(target.kind, credentials);
    this.#timeoutMs = timeoutMs;
  }

  /**
   * POSTs `body` (complete ILP rows) to the write endpoint.
   * @param signal aborts the request (shutdown's deadline): it then throws, retryable.
   * @throws {IlpDeliveryError} see the class documentation.
   */
  async send(body: string, signal?: AbortSignal): Promise<void> {
    if (body === "") return;
    const bytes = utf8.encode(body);
    const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
    if (this.#authorization !== undefined) headers["authorization"] = this.#authorization;
    const res = await this.#endpoint.request(
      this.#writePath,
      { method: "POST", headers, body: bytes },
      requestDeadlineMs(this.#timeoutMs, MIN_THROUGHPUT, bytes.length),
      "write",
      signal,
    );
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return;
    }
    const { message } = await readErrorAnswer(res);
    const details: DeliveryErrorDetails = {
      retryable: retryableStatus(res.status),
      status: res.status,
    };
    if (message !== undefined) details.serverMessage = message;
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), Date.now());
    if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
    throw new IlpDeliveryError(
      `${this.#endpoint.server} ${this.target} write failed: HTTP ${res.status}${
        message !== undefined ? `: ${message}` : ""
      }`,
      details,
    );
  }

  /** Closes pooled connections. */
  close(): Promise<void> {
    this.#endpoint.close();
    return Promise.resolve();
  }
}
