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

/** Largest timeout accepted: what a JavaScript timer can hold (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

const TCP_AUTH =
  "ILP/TCP authentication is not supported; use http(s) with token or username/password";
const AUTO_FLUSH =
  "the daemon sends each interval's rows as one request when the interval closes, so there is no client buffer to flush";
const TRUST =
  "Deno chooses certificate trust per process, not per connection; trust the server's CA with tls_roots=/path/ca.pem";
const OS_TRUST = `${TRUST}, or start the daemon with DENO_TLS_CA_STORE=mozilla,system`;
const VERSION_1 = "the daemon writes version 1 (text), which every QuestDB accepts; use auto or 1";

/** A {@link ClientConfig} field a key sets. */
type Field = Exclude<keyof ClientConfig, "protocol" | "host" | "port">;

/**
 * How the daemon takes one key of the configuration string. A key with none of these is
 * honoured with any (non-empty) value.
 */
interface KeyRule {
  /** Refused whatever its value: why. */
  readonly refused?: string;
  /** Honoured over http and https only; over tcp and tcps refused: why. */
  readonly httpOnly?: string;
  /** Needs a TLS schema (https, tcps). */
  readonly tlsOnly?: true;
  /** The values an official client takes; any other is an error that lists them. */
  readonly values?: readonly string[];
  /** Values refused, each with why. */
  readonly refusedValues?: Readonly<Record<string, string>>;
  /** Values that need another key: value -> that key. */
  readonly needs?: Readonly<Record<string, string>>;
  /** A whole number from `min` to `max`; `def` when the key is absent. */
  readonly integer?: { readonly min: number; readonly max: number; readonly def: number };
  /** The {@link ClientConfig} field that holds the value; none: checked, not kept. */
  readonly field?: Field;
  /** Shown by {@link describeConfig} as `***`. */
  readonly secret?: true;
  /** Shown by {@link describeConfig} even at its default. */
  readonly alwaysShown?: true;
}

/**
 * Every key an official client accepts for the ILP transports (http, https, tcp, tcps), in the
 * order {@link describeConfig} shows them and the checks run: honoured (with the values and
 * schemas it may have) or refused, with the reason. The defaults are the official clients'.
 */
const KEYS: Readonly<Record<string, KeyRule>> = {
  addr: {}, // required: `host`, `host:port`, `[ipv6]`, `[ipv6]:port` (see parseAddr)
  username: { field: "username", httpOnly: TCP_AUTH }, // HTTP basic, with password
  password: { field: "password", httpOnly: TCP_AUTH, secret: true },
  token: { field: "token", httpOnly: TCP_AUTH, secret: true }, // HTTP bearer
  tls_verify: { tlsOnly: true, values: ["on", "unsafe_off"], refusedValues: { unsafe_off: TRUST } },
  tls_ca: {
    field: "tlsCa", // pem_file, webpki_roots, or a PEM path (Node.js client)
    tlsOnly: true,
    refusedValues: { os_roots: OS_TRUST, webpki_and_os_roots: OS_TRUST },
    needs: { pem_file: "tls_roots" },
  },
  tls_roots: { field: "tlsRoots", tlsOnly: true },
  protocol_version: {
    values: ["auto", "1", "2", "3"],
    refusedValues: { "2": VERSION_1, "3": VERSION_1 },
  },
  request_timeout: {
    field: "requestTimeoutMs",
    integer: { min: 1, max: MAX_TIMEOUT_MS, def: 10_000 },
    alwaysShown: true,
  },
  retry_timeout: {
    field: "retryTimeoutMs",
    integer: { min: 0, max: MAX_TIMEOUT_MS, def: 10_000 },
    alwaysShown: true,
  },
  request_min_throughput: {
    field: "requestMinThroughput",
    integer: { min: 0, max: Number.MAX_SAFE_INTEGER, def: 102_400 },
  },
  retry_max_backoff_millis: {
    field: "retryMaxBackoffMs",
    integer: { min: 10, max: MAX_TIMEOUT_MS, def: 1_000 },
  },
  max_buf_size: {
    field: "maxBufSize",
    integer: { min: 1, max: Number.MAX_SAFE_INTEGER, def: 104_857_600 },
  },
  bind_interface: {
    field: "bindInterface",
    httpOnly: "Deno cannot choose the local address of a TCP connection; use http(s)",
  },
  token_x: { refused: TCP_AUTH },
  token_y: { refused: TCP_AUTH },
  auth_timeout: { refused: TCP_AUTH },
  tls_roots_password: {
    refused: "Java/PKCS#12 keystores are not supported; give 'tls_roots' a PEM file",
  },
  auto_flush: { refused: AUTO_FLUSH },
  auto_flush_rows: { refused: AUTO_FLUSH },
  auto_flush_interval: { refused: AUTO_FLUSH },
  auto_flush_bytes: { refused: AUTO_FLUSH },
  init_buf_size: { refused: "the daemon sizes its buffers itself; 'max_buf_size' caps a request" },
  max_name_len: {
    refused: "table and column names are checked against QuestDB's default limit of 127",
  },
  stdlib_http: { refused: "it is a switch of the Node.js client; the daemon uses Deno's fetch" },
};

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
 * Every key is honoured or refused, with the reason, as the table `KEYS` declares (docs:
 * QuestDB "Client configuration string"; py-questdb-client docs/conf.rst;
 * @questdb/nodejs-client SenderOptions). Besides: `addr` is required; HTTP takes
 * `username`+`password` (basic) or `token` (bearer), not both.
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
  const parts: string[] = [`addr=${esc(formatAddr(cfg.host, cfg.port))}`];
  for (const [key, { field, secret, integer, alwaysShown }] of Object.entries(KEYS)) {
    const value = field === undefined ? undefined : cfg[field];
    if (value === undefined || (value === integer?.def && !alwaysShown)) continue;
    parts.push(`${key}=${secret ? "***" : esc(String(value))}`);
  }
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
    if (!Object.hasOwn(KEYS, key)) {
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

/** Refuses a key or value the daemon cannot honour, naming it and saying why. */
function refuse(what: string, reason: string): never {
  throw new RangeError(`QuestDB configuration string: ${what} is not supported: ${reason}.`);
}

/** `record[key]` if `record` has its own `key` (so `constructor` is no value of any). */
function own(record: Readonly<Record<string, string>> | undefined, key: string) {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Applies {@link KEYS} to the pairs, in the order the checks have always run: refused keys,
 * `addr`, HTTP authentication, keys over the wrong schema, then each value in table order.
 */
function buildConfig(protocol: IlpProtocol, p: Map<string, string>): ClientConfig {
  const http = protocol === "http" || protocol === "https";
  const tls = protocol === "https" || protocol === "tcps";
  const keys = Object.entries(KEYS);
  for (const key of p.keys()) {
    const reason = KEYS[key]?.refused;
    if (reason !== undefined) refuse(`'${key}'`, reason);
  }
  const addr = p.get("addr");
  if (addr === undefined) {
    throw new RangeError("QuestDB configuration string: 'addr' is required");
  }
  const { host, port } = parseAddr(addr, protocol);
  if (http && p.has("username") !== p.has("password")) {
    throw new RangeError(
      "QuestDB configuration string: HTTP basic authentication needs both 'username' and 'password'",
    );
  }
  if (http && p.has("token") && p.has("username")) {
    throw new RangeError(
      "QuestDB configuration string: give either 'token' (bearer) or 'username'/'password' (basic), not both",
    );
  }
  for (const [key, { httpOnly }] of keys) {
    if (!http && httpOnly !== undefined && p.has(key)) {
      refuse(`'${key}' over ${protocol}`, httpOnly);
    }
  }
  for (const [key, { tlsOnly }] of keys) {
    if (!tls && tlsOnly && p.has(key)) {
      throw new RangeError(
        `QuestDB configuration string: '${key}' needs a TLS protocol (https or tcps), not ${protocol}`,
      );
    }
  }
  const fields: Partial<Record<Field, string | number>> = {};
  for (const [key, rule] of keys) {
    const value = p.get(key);
    if (rule.field === undefined && value === undefined) continue;
    const read = value === undefined ? rule.integer?.def : readValue(key, value, rule, p);
    if (rule.field !== undefined && read !== undefined) fields[rule.field] = read;
  }
  // Every field is set above by the rule that names it, with the type ClientConfig gives it.
  return Object.freeze({ protocol, host, port, ...fields } as ClientConfig);
}

/** Checks one given value against its rule; @returns the value, as a number for integers. */
function readValue(key: string, value: string, rule: KeyRule, p: Map<string, string>) {
  if (rule.values !== undefined && !rule.values.includes(value)) {
    throw new RangeError(
      `QuestDB configuration string: invalid '${key}' value, accepted values: ${
        rule.values.join(", ")
      }`,
    );
  }
  const refusal = own(rule.refusedValues, value);
  if (refusal !== undefined) refuse(`'${key}=${value}'`, refusal);
  const needed = own(rule.needs, value);
  if (needed !== undefined && !p.has(needed)) {
    throw new RangeError(`QuestDB configuration string: '${key}=${value}' needs '${needed}'`);
  }
  const range = rule.integer;
  return range === undefined ? value : parseInteger(key, value, range.min, range.max);
}
