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

/** `protocol_version` values. This package always sends version 1 text, which every version accepts. */
export type IlpProtocolVersion = "auto" | "1" | "2" | "3";

/**
 * A parsed, validated configuration string. Durations are milliseconds, sizes bytes.
 * Optional fields are absent when the key was not given. Holds secrets (`password`, `token`):
 * log it only through {@link describeConfig}.
 */
export interface ClientConfig {
  /** Schema: `http`, `https` (ILP over HTTP), `tcp`, `tcps` (ILP over TCP). */
  readonly protocol: IlpProtocol;
  /** Host name or IP address from `addr` (IPv6 without brackets). */
  readonly host: string;
  /** Port from `addr`; default 9000 for http/https, 9009 for tcp/tcps. */
  readonly port: number;
  /** `username`: HTTP basic auth user, or the TCP JWK key id. */
  readonly username?: string;
  /** `password`: HTTP basic auth password. Secret. */
  readonly password?: string;
  /** `token`: HTTP bearer token, or the TCP JWK private key (`d`, base64url). Secret. */
  readonly token?: string;
  /** `token_x`: TCP JWK public key x coordinate (base64url). */
  readonly tokenX?: string;
  /** `token_y`: TCP JWK public key y coordinate (base64url). */
  readonly tokenY?: string;
  /** `auth_timeout`: TCP authentication handshake timeout, ms. Default 15000. */
  readonly authTimeoutMs: number;
  /** `tls_verify`: `on` (default) -> true, `unsafe_off` -> false. */
  readonly tlsVerify: boolean;
  /**
   * `tls_ca`: `webpki_roots`, `os_roots`, `webpki_and_os_roots`, `pem_file` (Rust/Python/C
   * clients), or a path to a PEM CA file (Node.js client).
   */
  readonly tlsCa?: string;
  /** `tls_roots`: path to a PEM file of extra trusted CA certificates. */
  readonly tlsRoots?: string;
  /** `protocol_version`: default `auto`. */
  readonly protocolVersion: IlpProtocolVersion;
  /** `request_timeout`: HTTP response timeout, ms (>= 1). Default 10000. */
  readonly requestTimeoutMs: number;
  /**
   * `request_min_throughput`: bytes/s used to extend the HTTP timeout for large bodies
   * (timeout = request_timeout + body bytes / this * 1000); 0 disables. Default 102400.
   */
  readonly requestMinThroughput: number;
  /** `retry_timeout`: how long a caller keeps retrying a retryable failure, ms. Default 10000. */
  readonly retryTimeoutMs: number;
  /** `retry_max_backoff_millis`: ceiling of the retry backoff, ms. Default 1000. */
  readonly retryMaxBackoffMs: number;
  /** `auto_flush`: `on` (default) / `off`. */
  readonly autoFlush: boolean;
  /** `auto_flush_rows`: rows that trigger a flush; 0 = off. Default 75000 (HTTP), 600 (TCP). */
  readonly autoFlushRows: number;
  /** `auto_flush_interval`: ms since the last flush that trigger one; 0 = off. Default 1000. */
  readonly autoFlushIntervalMs: number;
  /** `auto_flush_bytes`: buffered bytes that trigger a flush; 0 = off (default). */
  readonly autoFlushBytes: number;
  /** `init_buf_size`: initial buffer size, bytes. Default 65536. */
  readonly initBufSize: number;
  /** `max_buf_size`: largest buffer (so largest request body), bytes. Default 104857600. */
  readonly maxBufSize: number;
  /** `max_name_len`: longest table/column name, UTF-16 code units. Default 127. */
  readonly maxNameLen: number;
  /** `bind_interface`: local address to connect from. */
  readonly bindInterface?: string;
  /** `stdlib_http`: Node.js-client-only switch; accepted and ignored here. */
  readonly stdlibHttp?: boolean;
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

/** Largest timeout accepted: what a JavaScript timer can hold (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Parses a QuestDB client configuration string.
 *
 * Grammar (questdb-confstr): `schema::key=value;key=value;...`, the trailing `;` optional.
 * Keys are `[A-Za-z0-9_]+` and case-sensitive; in a value `;;` stands for a literal `;`, and
 * control characters (U+0000..U+001F, U+007F..U+009F) are not allowed. Each key may appear
 * once; values may not be empty.
 *
 * Semantics (official clients): `addr` is required, as `host`, `host:port`, `[ipv6]` or
 * `[ipv6]:port` (port 1..65535; default 9000 for http/https, 9009 for tcp/tcps). Integer
 * settings are plain decimal digits. HTTP authentication is `username`+`password` (basic) or
 * `token` (bearer), not both; TCP authentication is `username`+`token` (JWK, with optional
 * `token_x`/`token_y`). TLS keys require `https` or `tcps`.
 *
 * Error messages never echo a value (values may be secrets; a mistyped `addr` such as
 * `user:pass@host` too); syntax errors give a position. Only an unknown or repeated key is
 * named, as it must be: so a `;` inside a secret must be written `;;`, as the grammar says.
 *
 * @param conf the configuration string, e.g. the value of QDB_CLIENT_CONF.
 * @returns a frozen {@link ClientConfig} with defaults filled in.
 * @throws {SyntaxError} when the string does not follow the grammar (no `::`, a key without
 *   `=`, a bad key character, a control character in a value).
 * @throws {RangeError} for an unknown schema, an unknown, repeated or empty key, a missing or
 *   bad `addr`, a bad port, a bad number or enum value, or conflicting/unsupported settings
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
 * Renders a config as a configuration string for logs, with `password`, `token` and
 * `tls_roots_password` shown as `***`. Lists the schema, `addr`, authentication and TLS keys
 * that are set, `request_timeout` and `retry_timeout` for HTTP, and every other setting that
 * differs from its default. Parsing the output (with real secrets) gives an equal config.
 */
export function describeConfig(cfg: ClientConfig): string {
  const d = defaults(cfg.protocol);
  const parts: string[] = [`addr=${esc(formatAddr(cfg.host, cfg.port))}`];
  const add = (key: string, value: string | undefined, always = false, def?: string) => {
    if (value === undefined) return;
    if (!always && value === def) return;
    parts.push(`${key}=${esc(value)}`);
  };
  add("username", cfg.username, true);
  if (cfg.password !== undefined) parts.push("password=***");
  if (cfg.token !== undefined) parts.push("token=***");
  add("token_x", cfg.tokenX, true);
  add("token_y", cfg.tokenY, true);
  add("auth_timeout", String(cfg.authTimeoutMs), false, String(d.authTimeoutMs));
  add("tls_verify", cfg.tlsVerify ? "on" : "unsafe_off", false, "on");
  add("tls_ca", cfg.tlsCa, true);
  add("tls_roots", cfg.tlsRoots, true);
  add("protocol_version", cfg.protocolVersion, false, "auto");
  const http = cfg.protocol === "http" || cfg.protocol === "https";
  add("request_timeout", String(cfg.requestTimeoutMs), http, String(d.requestTimeoutMs));
  add("retry_timeout", String(cfg.retryTimeoutMs), http, String(d.retryTimeoutMs));
  add(
    "request_min_throughput",
    String(cfg.requestMinThroughput),
    false,
    String(d.requestMinThroughput),
  );
  add(
    "retry_max_backoff_millis",
    String(cfg.retryMaxBackoffMs),
    false,
    String(d.retryMaxBackoffMs),
  );
  add("auto_flush", cfg.autoFlush ? "on" : "off", false, "on");
  add("auto_flush_rows", offOr(cfg.autoFlushRows), false, offOr(d.autoFlushRows));
  add("auto_flush_interval", offOr(cfg.autoFlushIntervalMs), false, offOr(d.autoFlushIntervalMs));
  add("auto_flush_bytes", offOr(cfg.autoFlushBytes), false, offOr(d.autoFlushBytes));
  add("init_buf_size", String(cfg.initBufSize), false, String(d.initBufSize));
  add("max_buf_size", String(cfg.maxBufSize), false, String(d.maxBufSize));
  add("max_name_len", String(cfg.maxNameLen), false, String(d.maxNameLen));
  add("bind_interface", cfg.bindInterface, true);
  if (cfg.stdlibHttp !== undefined) parts.push(`stdlib_http=${cfg.stdlibHttp ? "on" : "off"}`);
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

function offOr(n: number): string {
  return n === 0 ? "off" : String(n);
}

function defaults(protocol: IlpProtocol) {
  const http = protocol === "http" || protocol === "https";
  return {
    authTimeoutMs: 15_000,
    requestTimeoutMs: 10_000,
    requestMinThroughput: 102_400,
    retryTimeoutMs: 10_000,
    retryMaxBackoffMs: 1_000,
    autoFlushRows: http ? 75_000 : 600,
    autoFlushIntervalMs: 1_000,
    autoFlushBytes: 0,
    initBufSize: 65_536,
    maxBufSize: 104_857_600,
    maxNameLen: 127,
  };
}

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

function parseInteger(key: string, text: string, min: number, max: number, off = false): number {
  if (off && text === "off") return 0;
  if (!/^\d+$/.test(text)) {
    throw new RangeError(
      `QuestDB configuration string: '${key}' must be a whole number${off ? " or 'off'" : ""}`,
    );
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

function buildConfig(protocol: IlpProtocol, p: Map<string, string>): ClientConfig {
  const http = protocol === "http" || protocol === "https";
  const tls = protocol === "https" || protocol === "tcps";
  const d = defaults(protocol);
  const addr = p.get("addr");
  if (addr === undefined) {
    throw new RangeError("QuestDB configuration string: 'addr' is required");
  }
  const { host, port } = parseAddr(addr, protocol);
  const int = (key: string, def: number, min: number, max: number, off = false): number => {
    const v = p.get(key);
    return v === undefined ? def : parseInteger(key, v, min, max, off);
  };
  const onOff = (key: string, offWord: string): boolean | undefined => {
    const v = p.get(key);
    return v === undefined ? undefined : parseEnum(key, v, ["on", offWord]) === "on";
  };

  const username = p.get("username");
  const password = p.get("password");
  const token = p.get("token");
  const tokenX = p.get("token_x");
  const tokenY = p.get("token_y");
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
    if (tokenX !== undefined || tokenY !== undefined) {
      throw new RangeError(
        "QuestDB configuration string: 'token_x' and 'token_y' are for TCP authentication only",
      );
    }
  } else {
    if (password !== undefined) {
      throw new RangeError(
        "QuestDB configuration string: 'password' is not used over TCP; TCP authentication takes 'username' and 'token' (JWK private key)",
      );
    }
    if ((username === undefined) !== (token === undefined)) {
      throw new RangeError(
        "QuestDB configuration string: TCP authentication needs both 'username' (key id) and 'token' (private key)",
      );
    }
    if ((tokenX !== undefined || tokenY !== undefined) && token === undefined) {
      throw new RangeError(
        "QuestDB configuration string: 'token_x'/'token_y' need 'username' and 'token'",
      );
    }
  }
  for (const key of ["tls_verify", "tls_ca", "tls_roots", "tls_roots_password"]) {
    if (!tls && p.has(key)) {
      throw new RangeError(
        `QuestDB configuration string: '${key}' needs a TLS protocol (https or tcps), not ${protocol}`,
      );
    }
  }
  if (p.has("tls_roots_password")) {
    throw new RangeError(
      "QuestDB configuration string: 'tls_roots_password' (Java/PKCS#12 keystores) is not supported; give 'tls_roots' a PEM file",
    );
  }
  const tlsCa = p.get("tls_ca");
  const tlsRoots = p.get("tls_roots");
  if (tlsCa === "pem_file" && tlsRoots === undefined) {
    throw new RangeError("QuestDB configuration string: 'tls_ca=pem_file' needs 'tls_roots'");
  }

  const protocolVersion = parseEnum<IlpProtocolVersion>(
    "protocol_version",
    p.get("protocol_version") ?? "auto",
    ["auto", "1", "2", "3"],
  );
  const initBufSize = int("init_buf_size", d.initBufSize, 1, Number.MAX_SAFE_INTEGER);
  const maxBufSize = int("max_buf_size", d.maxBufSize, 1, Number.MAX_SAFE_INTEGER);
  if (initBufSize > maxBufSize) {
    throw new RangeError(
      "QuestDB configuration string: 'init_buf_size' must not exceed 'max_buf_size'",
    );
  }

  const cfg: { -readonly [K in keyof ClientConfig]: ClientConfig[K] } = {
    protocol,
    host,
    port,
    authTimeoutMs: int("auth_timeout", d.authTimeoutMs, 1, MAX_TIMEOUT_MS),
    tlsVerify: onOff("tls_verify", "unsafe_off") ?? true,
    protocolVersion,
    requestTimeoutMs: int("request_timeout", d.requestTimeoutMs, 1, MAX_TIMEOUT_MS),
    requestMinThroughput: int(
      "request_min_throughput",
      d.requestMinThroughput,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    retryTimeoutMs: int("retry_timeout", d.retryTimeoutMs, 0, MAX_TIMEOUT_MS),
    retryMaxBackoffMs: int("retry_max_backoff_millis", d.retryMaxBackoffMs, 1, MAX_TIMEOUT_MS),
    autoFlush: onOff("auto_flush", "off") ?? true,
    autoFlushRows: int("auto_flush_rows", d.autoFlushRows, 0, Number.MAX_SAFE_INTEGER, true),
    autoFlushIntervalMs: int("auto_flush_interval", d.autoFlushIntervalMs, 0, MAX_TIMEOUT_MS, true),
    autoFlushBytes: int("auto_flush_bytes", d.autoFlushBytes, 0, Number.MAX_SAFE_INTEGER, true),
    initBufSize,
    maxBufSize,
    maxNameLen: int("max_name_len", d.maxNameLen, 1, 65_535),
  };
  if (username !== undefined) cfg.username = username;
  if (password !== undefined) cfg.password = password;
  if (token !== undefined) cfg.token = token;
  if (tokenX !== undefined) cfg.tokenX = tokenX;
  if (tokenY !== undefined) cfg.tokenY = tokenY;
  if (tlsCa !== undefined) cfg.tlsCa = tlsCa;
  if (tlsRoots !== undefined) cfg.tlsRoots = tlsRoots;
  const bind = p.get("bind_interface");
  if (bind !== undefined) cfg.bindInterface = bind;
  const stdlib = onOff("stdlib_http", "off");
  if (stdlib !== undefined) cfg.stdlibHttp = stdlib;
  return Object.freeze(cfg);
}
