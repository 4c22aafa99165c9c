/**
 * The QuestDB client configuration string (`http::addr=host:9000;username=u;password=p;`), as
 * the official ingestion clients read it.
 *
 * Sources of the rules: QuestDB docs "Client configuration string"; grammar from
 * questdb/questdb-confstr-rs (questdb-confstr/src/lib.rs); keys, defaults and value checks
 * from questdb/nodejs-questdb-client (npm @questdb/nodejs-client 4.2.0) src/options.ts and
 * the Rust/Python clients' documentation (questdb/py-questdb-client docs/conf.rst).
 *
 * @module
 */

/** Transport schema of a configuration string. */
export type IlpProtocol = "http" | "https" | "tcp" | "tcps";

/**
 * A parsed, validated configuration string: only what the daemon honours (every other key is
 * refused by the parser, see {@link parseConfigString}). Durations are milliseconds, sizes
 * bytes. Optional fields are absent when the key was not given. Holds secrets (`password`,
 * `token`): log it only through {@link describeConfig}.
 */
export interface ClientConfig {
  /** Schema: `http`, `https` (ILP over HTTP), `tcp`, `tcps` (ILP over TCP). */
  readonly protocol: IlpProtocol;
  /** Host name or IP address from `addr` (IPv6 without brackets). */
  readonly host: string;
  /** Port from `addr`; default 9000 for http/https, 9009 for tcp/tcps. */
  readonly port: number;
  /** `username`: HTTP basic auth user. */
  readonly username?: string;
  /** `password`: HTTP basic auth password. Secret. */
  readonly password?: string;
  /** `token`: HTTP bearer token. Secret. */
  readonly token?: string;
  /**
   * `tls_ca`: `webpki_roots` or `pem_file` (Rust/Python/C clients), or a path to a PEM CA file
   * (Node.js client).
   */
  readonly tlsCa?: string;
  /** `tls_roots`: path to a PEM file of extra trusted CA certificates. */
  readonly tlsRoots?: string;
  /** `request_timeout`: how long to wait for an answer (TCP: for a connection), ms. Default 10000. */
  readonly requestTimeoutMs: number;
  /**
   * `request_min_throughput`: bytes/s used to extend the timeout for large bodies
   * (timeout = request_timeout + body bytes / this * 1000); 0 disables. Default 102400.
   */
  readonly requestMinThroughput: number;
  /**
   * `retry_timeout`: how long failed sends are retried quickly (10 ms doubling to
   * `retry_max_backoff_millis`) after the first failure, ms; 0 disables. Default 10000.
   */
  readonly retryTimeoutMs: number;
  /** `retry_max_backoff_millis`: ceiling of that quick backoff, ms. Default 1000. */
  readonly retryMaxBackoffMs: number;
  /** `max_buf_size`: largest request body, bytes. Default 104857600. */
  readonly maxBufSize: number;
  /** `bind_interface`: local address HTTP requests leave from. */
  readonly bindInterface?: string;
}

/** Default HTTP port of QuestDB (`http::`, `https::`). */
export const DEFAULT_HTTP_PORT = 9000;
/** Default ILP/TCP port of QuestDB (`tcp::`, `tcps::`). */
export const DEFAULT_TCP_PORT = 9009;

const PROTOCOLS: readonly IlpProtocol[] = ["http", "https", "tcp", "tcps"];

/** Every key an official client accepts for the ILP transports (http, https, tcp, tcps). */
const KEYS = new Set([
  "addr",
  "username",
  "password",
  "token",
  "token_x",
  "token_y",
  "auth_timeout",
  "tls_verify",
  "tls_ca",
  "tls_roots",
  "tls_roots_password",
  "protocol_version",
  "request_timeout",
  "request_min_throughput",
  "retry_timeout",
  "retry_max_backoff_millis",
  "auto_flush",
  "auto_flush_rows",
  "auto_flush_interval",
  "auto_flush_bytes",
  "init_buf_size",
  "max_buf_size",
  "max_name_len",
  "bind_interface",
  "stdlib_http",
]);

const TCP_AUTH =
  "ILP/TCP authentication is not supported; use http(s) with token or username/password";
const AUTO_FLUSH =
  "the daemon sends each interval's rows as one request when the interval closes, so there is no client buffer to flush";

/** Keys an official client accepts that the daemon refuses, whatever their value, and why. */
const REFUSED = new Map<string, string>([
  [
    "token_x",
    TCP_AUTH,
  ],
  [
    "token_y",
    TCP_AUTH,
  ],
  [
    "auth_timeout",
    TCP_AUTH,
  ],
  ["tls_roots_password", "Java/PKCS#12 keystores are not supported; give 'tls_roots' a PEM file"],
  ["auto_flush", AUTO_FLUSH],
  ["auto_flush_rows", AUTO_FLUSH],
  ["auto_flush_interval", AUTO_FLUSH],
  ["auto_flush_bytes", AUTO_FLUSH],
  ["init_buf_size", "the daemon sizes its buffers itself; 'max_buf_size' caps a request"],
  ["max_name_len", "table and column names are checked against QuestDB's default limit of 127"],
  ["stdlib_http", "it is a switch of the Node.js client; the daemon uses Deno's fetch"],
]);

/** Largest timeout accepted: what a JavaScript timer can hold (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * The deadline of one request: `baseMs` plus the time `bytes` take at `minThroughput` bytes/s
 * (the official clients' rule: request_timeout + body / request_min_throughput).
 * @param baseMs request timeout, ms.
 * @param minThroughput bytes per second; 0 leaves `baseMs` alone.
 * @param bytes body size, bytes.
 * @returns milliseconds.
 */
export function requestDeadlineMs(baseMs: number, minThroughput: number, bytes: number): number {
  return minThroughput > 0 ? baseMs + Math.ceil(bytes / minThroughput * 1000) : baseMs;
}

/**
 * Parses a QuestDB client configuration string.
 *
 * Grammar (questdb-confstr): `schema::key=value;key=value;...`, the trailing `;` optional.
 * Keys are `[A-Za-z0-9_]+` and case-sensitive; in a value `;;` stands for a literal `;`, and
 * control characters (U+0000..U+001F, U+007F..U+009F) are not allowed. Each key may appear
 * once; values may not be empty.
 *
 * Every key is honoured or refused (docs: QuestDB "Client configuration string";
 * py-questdb-client docs/conf.rst; @questdb/nodejs-client SenderOptions):
 * - honoured: `addr` (`host`, `host:port`, `[ipv6]`, `[ipv6]:port`; port 1..65535, default
 *   9000 for http/https, 9009 for tcp/tcps); HTTP `username`+`password` (basic) or `token`
 *   (bearer), not both; `tls_roots`, `tls_ca` (`pem_file`, `webpki_roots` or a PEM path) and
 *   `tls_verify=on`, with https/tcps only; `protocol_version` `auto` or `1` (the daemon writes
 *   version 1 text, which every server takes); `request_timeout`, `request_min_throughput`,
 *   `retry_timeout`, `retry_max_backoff_millis`, `max_buf_size`; `bind_interface` over HTTP.
 * - refused, naming the key and the reason: ILP/TCP authentication (`username`, `token`,
 *   `token_x`, `token_y`, `auth_timeout` with tcp/tcps), `tls_verify=unsafe_off` and
 *   `tls_ca=os_roots`/`webpki_and_os_roots` (Deno chooses trust per process, not per
 *   connection), `tls_roots_password`, `protocol_version` 2 and 3, the `auto_flush*` keys and
 *   `init_buf_size` (the daemon flushes once per interval), `max_name_len`, `stdlib_http`,
 *   `bind_interface` with tcp/tcps.
 *
 * Error messages never echo a value (values may be secrets; a mistyped `addr` such as
 * `user:pass@host` too); syntax errors give a position. Only an unknown or repeated key is
 * named, as it must be: so a `;` inside a secret must be written `;;`, as the grammar says.
 *
 * @param conf the configuration string, e.g. the value of QDB_CLIENT_CONF.
 * @returns a frozen {@link ClientConfig} with defaults filled in.
 * @throws {SyntaxError} when the string does not follow the grammar (no `::`, a key without
 *   `=`, a bad key character, a control character in a value).
 * @throws {RangeError} for an unknown schema, an unknown, refused, repeated or empty key, a
 *   missing or bad `addr`, a bad port, a bad number or enum value, or conflicting settings
 *   (the message names the key).
 */
export function parseConfigString(conf: string): ClientConfig {
  if (typeof conf !== "string") {
    throw new TypeError(`configuration string must be a string, got ${typeof conf}`);
  }
  const sep = conf.indexOf("::");
  if (sep < 0) {
    throw new SyntaxError(
      "QuestDB configuration string has no '::' after the schema; expected e.g. 'http::addr=host:9000;'",
    );
  }
  const schema = conf.slice(0, sep);
  if (!(PROTOCOLS as readonly string[]).includes(schema)) {
    const shown = /^[A-Za-z0-9_]{1,16}$/.test(schema) ? `'${schema}'` : "(not shown)";
    throw new RangeError(
      `QuestDB configuration string: invalid protocol ${shown}, accepted protocols: http, https, tcp, tcps`,
    );
  }
  const protocol = schema as IlpProtocol;
  const params = parseParams(conf, sep + 2);
  return buildConfig(protocol, params);
}

/**
 * Reads a `--questdb`-style target: a bare host (`db1` -> `http::addr=db1:9000;`),
 * `host:port`, `[ipv6]` or `[ipv6]:port` (all HTTP), or a full configuration string (anything
 * starting with `schema::`).
 *
 * @throws {SyntaxError} / {RangeError} as {@link parseConfigString} does; RangeError for an
 *   empty target or a host with characters no host name has (a URL such as
 *   `http://db1:9000` is refused with a hint to use `http::addr=db1:9000;`). Messages never
 *   echo the target.
 */
export function parseQuestdbTarget(flag: string): ClientConfig {
  if (typeof flag !== "string") {
    throw new TypeError(`QuestDB target must be a string, got ${typeof flag}`);
  }
  const target = flag.trim();
  if (/^[A-Za-z0-9_]+::/.test(target)) return parseConfigString(target);
  if (target === "") throw new RangeError("QuestDB target is empty");
  if (target.includes("://")) {
    throw new RangeError(
      "QuestDB target looks like a URL; give host[:port] or a configuration string such as 'http::addr=host:9000;'",
    );
  }
  const { host, port } = parseAddr(target, "http");
  return buildConfig("http", new Map([["addr", formatAddr(host, port)]]));
}

/**
 * Renders a config as a configuration string for logs, with `password` and `token` shown as
 * `***`. Lists the schema, `addr`, authentication and TLS keys that are set,
 * `request_timeout` and `retry_timeout`, and every other setting that differs from its
 * default. Parsing the output (with real secrets) gives an equal config.
 */
export function describeConfig(cfg: ClientConfig): string {
  const d = DEFAULTS;
  const parts: string[] = [`addr=${esc(formatAddr(cfg.host, cfg.port))}`];
  const add = (key: string, value: string | number | undefined, def?: number) => {
    if (value === undefined || value === def) return;
    parts.push(`${key}=${esc(String(value))}`);
  };
  add("username", cfg.username);
  if (cfg.password !== undefined) parts.push("password=***");
  if (cfg.token !== undefined) parts.push("token=***");
  add("tls_ca", cfg.tlsCa);
  add("tls_roots", cfg.tlsRoots);
  add("request_timeout", cfg.requestTimeoutMs);
  add("retry_timeout", cfg.retryTimeoutMs);
  add("request_min_throughput", cfg.requestMinThroughput, d.requestMinThroughput);
  add("retry_max_backoff_millis", cfg.retryMaxBackoffMs, d.retryMaxBackoffMs);
  add("max_buf_size", cfg.maxBufSize, d.maxBufSize);
  add("bind_interface", cfg.bindInterface);
  return `${cfg.protocol}::${parts.join(";")};`;
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatAddr(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------

function esc(value: string): string {
  return value.replaceAll(";", ";;");
}

/** Defaults of the honoured keys (the official clients' defaults). */
const DEFAULTS = {
  requestTimeoutMs: 10_000,
  requestMinThroughput: 102_400,
  retryTimeoutMs: 10_000,
  retryMaxBackoffMs: 1_000,
  maxBufSize: 104_857_600,
} as const;

/** Splits `key=value;` pairs starting at `pos` (questdb-confstr grammar). */
function parseParams(conf: string, pos: number): Map<string, string> {
  const params = new Map<string, string>();
  const n = conf.length;
  while (pos < n) {
    const keyStart = pos;
    while (pos < n && /[A-Za-z0-9_]/.test(conf[pos]!)) pos++;
    if (pos === keyStart) {
      throw new SyntaxError(
        `QuestDB configuration string: expected a key at position ${pos}`,
      );
    }
    const key = conf.slice(keyStart, pos);
    if (pos >= n) {
      throw new SyntaxError(
        `QuestDB configuration string: the key at position ${keyStart} has no '=value' (write a ';' inside a value as ';;')`,
      );
    }
    if (conf[pos] !== "=") {
      throw new SyntaxError(
        `QuestDB configuration string: bad character in the key at position ${pos}, expected '=' (write a ';' inside a value as ';;')`,
      );
    }
    pos++;
    let value = "";
    while (pos < n) {
      const ch = conf[pos]!;
      if (ch === ";") {
        if (conf[pos + 1] === ";") {
          value += ";";
          pos += 2;
          continue;
        }
        break;
      }
      const c = ch.charCodeAt(0);
      if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) {
        throw new SyntaxError(
          `QuestDB configuration string: control character U+${
            c.toString(16).toUpperCase().padStart(4, "0")
          } in the value of '${key}' at position ${pos}`,
        );
      }
      value += ch;
      pos++;
    }
    pos++; // the ';' (or past the end)
    if (!KEYS.has(key)) {
      throw new RangeError(`QuestDB configuration string: unknown configuration key '${key}'`);
    }
    if (params.has(key)) {
      throw new RangeError(`QuestDB configuration string: key '${key}' appears more than once`);
    }
    if (value === "") {
      throw new RangeError(`QuestDB configuration string: value is not set for '${key}'`);
    }
    params.set(key, value);
  }
  return params;
}

/** Parses `host`, `host:port`, `[v6]`, `[v6]:port`. */
function parseAddr(addr: string, protocol: IlpProtocol): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (addr.startsWith("[")) {
    const close = addr.indexOf("]");
    if (close < 0) throw new RangeError("QuestDB 'addr': unclosed '['");
    host = addr.slice(1, close);
    const rest = addr.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) {
        throw new RangeError("QuestDB 'addr': expected ':port' after ']'");
      }
      portText = rest.slice(1);
    }
    if (!/^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host) || !host.includes(":")) {
      throw new RangeError("QuestDB 'addr': bad IPv6 address between '[' and ']'");
    }
  } else {
    const colon = addr.indexOf(":");
    if (colon < 0) {
      host = addr;
    } else {
      host = addr.slice(0, colon);
      portText = addr.slice(colon + 1);
      if (portText.includes(":")) {
        throw new RangeError(
          "QuestDB 'addr': more than one ':'; write an IPv6 address as [address]:port",
        );
      }
    }
    if (host === "") throw new RangeError(`QuestDB 'addr': host name is required`);
    if (/[\s/?#@\[\]\\;,=]/.test(host)) {
      throw new RangeError(
        "QuestDB 'addr': the host name has a character no host name has (space / ? # @ [ ] \\ ; , =)",
      );
    }
  }
  let port = protocol === "http" || protocol === "https" ? DEFAULT_HTTP_PORT : DEFAULT_TCP_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new RangeError("QuestDB 'addr': invalid port, expected a number 1..65535");
    }
    port = Number(portText);
  }
  return { host, port };
}

function parseInteger(key: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) {
    throw new RangeError(`QuestDB configuration string: '${key}' must be a whole number`);
  }
  const n = Number(text);
  if (n < min || n > max) {
    throw new RangeError(
      `QuestDB configuration string: '${key}' must be between ${min} and ${max}`,
    );
  }
  return n;
}

function parseEnum<T extends string>(key: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new RangeError(
      `QuestDB configuration string: invalid '${key}' value, accepted values: ${
        allowed.join(", ")
      }`,
    );
  }
  return text as T;
}

/** Refuses a key or value the daemon cannot honour, naming it and saying why. */
function refuse(what: string, reason: string): never {
  throw new RangeError(`QuestDB configuration string: ${what} is not supported: ${reason}.`);
}

function buildConfig(protocol: IlpProtocol, p: Map<string, string>): ClientConfig {
  const http = protocol === "http" || protocol === "https";
  const tls = protocol === "https" || protocol === "tcps";
  for (const key of p.keys()) {
    const reason = REFUSED.get(key);
    if (reason !== undefined) refuse(`'${key}'`, reason);
  }
  const addr = p.get("addr");
  if (addr === undefined) {
    throw new RangeError("QuestDB configuration string: 'addr' is required");
  }
  const { host, port } = parseAddr(addr, protocol);
  const int = (key: string, def: number, min: number, max: number): number => {
    const v = p.get(key);
    return v === undefined ? def : parseInteger(key, v, min, max);
  };

  const username = p.get("username");
  const password = p.get("password");
  const token = p.get("token");
  if (http) {
    if ((username === undefined) !== (password === undefined)) {
      throw new RangeError(
        "QuestDB configuration string: HTTP basic authentication needs both 'username' and 'password'",
      );
    }
    if (token !== undefined && username !== undefined) {
      throw new RangeError(
        "QuestDB configuration string: give either 'token' (bearer) or 'username'/'password' (basic), not both",
      );
    }
  } else {
    for (const key of ["username", "password", "token", "bind_interface"]) {
      if (!p.has(key)) continue;
      refuse(
        `'${key}' over ${protocol}`,
        key === "bind_interface"
          ? "Deno cannot choose the local address of a TCP connection; use http(s)"
          : TCP_AUTH,
      );
    }
  }
  for (const key of ["tls_verify", "tls_ca", "tls_roots"]) {
    if (!tls && p.has(key)) {
      throw new RangeError(
        `QuestDB configuration string: '${key}' needs a TLS protocol (https or tcps), not ${protocol}`,
      );
    }
  }
  const trustPerProcess =
    "Deno chooses certificate trust per process, not per connection; trust the server's CA with tls_roots=/path/ca.pem";
  if (p.has("tls_verify")) {
    if (parseEnum("tls_verify", p.get("tls_verify")!, ["on", "unsafe_off"]) === "unsafe_off") {
      refuse("'tls_verify=unsafe_off'", trustPerProcess);
    }
  }
  const tlsCa = p.get("tls_ca");
  if (tlsCa === "os_roots" || tlsCa === "webpki_and_os_roots") {
    refuse(
      `'tls_ca=${tlsCa}'`,
      `${trustPerProcess}, or start the daemon with DENO_TLS_CA_STORE=mozilla,system`,
    );
  }
  const tlsRoots = p.get("tls_roots");
  if (tlsCa === "pem_file" && tlsRoots === undefined) {
    throw new RangeError("QuestDB configuration string: 'tls_ca=pem_file' needs 'tls_roots'");
  }
  const version = p.get("protocol_version");
  if (version !== undefined) {
    const v = parseEnum("protocol_version", version, ["auto", "1", "2", "3"]);
    if (v === "2" || v === "3") {
      refuse(
        `'protocol_version=${v}'`,
        "the daemon writes version 1 (text), which every QuestDB accepts; use auto or 1",
      );
    }
  }

  const cfg: { -readonly [K in keyof ClientConfig]: ClientConfig[K] } = {
    protocol,
    host,
    port,
    requestTimeoutMs: int("request_timeout", DEFAULTS.requestTimeoutMs, 1, MAX_TIMEOUT_MS),
    requestMinThroughput: int(
      "request_min_throughput",
      DEFAULTS.requestMinThroughput,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    retryTimeoutMs: int("retry_timeout", DEFAULTS.retryTimeoutMs, 0, MAX_TIMEOUT_MS),
    retryMaxBackoffMs: int(
      "retry_max_backoff_millis",
      DEFAULTS.retryMaxBackoffMs,
      10,
      MAX_TIMEOUT_MS,
    ),
    maxBufSize: int("max_buf_size", DEFAULTS.maxBufSize, 1, Number.MAX_SAFE_INTEGER),
  };
  if (username !== undefined) cfg.username = username;
  if (password !== undefined) cfg.password = password;
  if (token !== undefined) cfg.token = token;
  if (tlsCa !== undefined) cfg.tlsCa = tlsCa;
  if (tlsRoots !== undefined) cfg.tlsRoots = tlsRoots;
  const bind = p.get("bind_interface");
  if (bind !== undefined) cfg.bindInterface = bind;
  return Object.freeze(cfg);
}
