/**
 * QuestDB client configuration strings: grammar, defaults, validation, targets, redaction.
 * Where the official Node.js client (SenderOptions) is comparable, the same strings are run
 * through it too.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { SenderOptions } from "@questdb/nodejs-client";
import {
  type ClientConfig,
  describeConfig,
  parseConfigString,
  parseQuestdbTarget,
} from "../../src/ilp/config.ts";

function throwsWith(fn: () => unknown, type: ErrorConstructor, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

// Defaults as the clients document them (py-questdb-client docs/conf.rst, "HTTP Request").
Deno.test("config: defaults for http and tcp", () => {
  const h = parseConfigString("http::addr=db1;");
  assert.deepEqual(
    { ...h },
    {
      protocol: "http",
      host: "db1",
      port: 9000,
      requestTimeoutMs: 10_000,
      requestMinThroughput: 102_400,
      retryTimeoutMs: 10_000,
      retryMaxBackoffMs: 1_000,
      maxBufSize: 104_857_600,
    } satisfies ClientConfig,
  );
  assert.equal(parseConfigString("tcp::addr=db1").port, 9009);
  assert.equal(parseConfigString("https::addr=db1;").port, 9000);
  assert.equal(parseConfigString("tcps::addr=db1;").port, 9009);
  assert.ok(Object.isFrozen(h));
});

Deno.test("config: every honoured key is read", () => {
  const c = parseConfigString(
    "https::addr=db.example.com:9443;username=admin;password=quest;tls_verify=on;" +
      "tls_roots=/etc/ca.pem;tls_ca=pem_file;protocol_version=1;request_timeout=2500;" +
      "request_min_throughput=0;retry_timeout=0;retry_max_backoff_millis=250;" +
      "max_buf_size=2048;bind_interface=10.0.0.1;",
  );
  assert.deepEqual(
    { ...c },
    {
      protocol: "https",
      host: "db.example.com",
      port: 9443,
      username: "admin",
      password: "quest",
      tlsRoots: "/etc/ca.pem",
      tlsCa: "pem_file",
      requestTimeoutMs: 2500,
      requestMinThroughput: 0,
      retryTimeoutMs: 0,
      retryMaxBackoffMs: 250,
      maxBufSize: 2048,
      bindInterface: "10.0.0.1",
    } satisfies ClientConfig,
  );
  assert.equal(parseConfigString("http::addr=h;token=abc;").token, "abc");
  assert.equal(parseConfigString("http::addr=h;protocol_version=auto;").port, 9000);
  assert.equal(parseConfigString("https::addr=h;tls_ca=webpki_roots;").tlsCa, "webpki_roots");
});

Deno.test("config: keys the daemon cannot honour are refused, naming the key and the reason", () => {
  const cases: [string, string, RegExp][] = [
    ["tcps::addr=h;username=kid;token=d;", "'username' over tcps", /TCP authentication/],
    ["tcp::addr=h;token_x=x;", "'token_x'", /TCP authentication/],
    ["tcp::addr=h;token_y=y;", "'token_y'", /TCP authentication/],
    ["tcp::addr=h;auth_timeout=500;", "'auth_timeout'", /TCP authentication/],
    ["tcp::addr=h;password=p;", "'password' over tcp", /TCP authentication/],
    ["tcp::addr=h;bind_interface=10.0.0.1;", "'bind_interface' over tcp", /local address/],
    ["https::addr=h;tls_verify=unsafe_off;", "'tls_verify=unsafe_off'", /tls_roots/],
    ["https::addr=h;tls_ca=os_roots;", "'tls_ca=os_roots'", /DENO_TLS_CA_STORE/],
    ["https::addr=h;tls_ca=webpki_and_os_roots;", "'tls_ca=webpki_and_os_roots'", /DENO_/],
    ["https::addr=h;tls_roots=/x.jks;tls_roots_password=pw;", "'tls_roots_password'", /PEM/],
    ["http::addr=h;protocol_version=2;", "'protocol_version=2'", /version 1/],
    ["http::addr=h;protocol_version=3;", "'protocol_version=3'", /version 1/],
    ["http::addr=h;auto_flush=off;", "'auto_flush'", /one request when the interval closes/],
    ["http::addr=h;auto_flush_rows=1000;", "'auto_flush_rows'", /interval/],
    ["http::addr=h;auto_flush_interval=50;", "'auto_flush_interval'", /interval/],
    ["http::addr=h;auto_flush_bytes=1024;", "'auto_flush_bytes'", /interval/],
    ["http::addr=h;init_buf_size=1024;", "'init_buf_size'", /max_buf_size/],
    ["http::addr=h;max_name_len=64;", "'max_name_len'", /127/],
    ["http::addr=h;stdlib_http=on;", "'stdlib_http'", /Node\.js/],
  ];
  for (const [conf, what, reason] of cases) {
    assert.throws(() => parseConfigString(conf), (e: unknown) => {
      assert.ok(e instanceof RangeError, `${conf}: ${e}`);
      assert.ok(e.message.includes(`${what} is not supported: `), e.message);
      assert.match(e.message, reason);
      return true;
    });
  }
});

Deno.test("config: ';;' is a literal ';' and the trailing ';' is optional", () => {
  const c = parseConfigString("http::addr=h:1234;username=u;;x;password=p;;;;q;;");
  assert.equal(c.username, "u;x");
  assert.equal(c.password, "p;;q;");
  assert.equal(c.port, 1234);
  // A value may hold '=' and '::'.
  assert.equal(parseConfigString("http::addr=h;token=a=b::c==").token, "a=b::c==");
  // Same reading as the official Node.js client.
  const official = new SenderOptions("http::addr=h:1234;username=u;;x;password=p;;;;q;;");
  assert.equal(official.username, "u;x");
  assert.equal(official.password, "p;;q;");
});

Deno.test("config: unknown, repeated and empty keys are rejected, naming the key", () => {
  throwsWith(() => parseConfigString("http::addr=h;colour=blue;"), RangeError, /'colour'/);
  throwsWith(() => parseConfigString("http::addr=h;Addr=x;"), RangeError, /'Addr'/);
  throwsWith(() => parseConfigString("http::addr=h;addr=g;"), RangeError, /'addr'.*more than once/);
  throwsWith(() => parseConfigString("http::addr=h;username=;"), RangeError, /'username'/);
  // The official client rejects the unknown key too.
  assert.throws(() => new SenderOptions("http::addr=h;colour=blue;"), /colour/);
});

Deno.test("config: grammar errors are SyntaxErrors", () => {
  throwsWith(() => parseConfigString("addr=h;"), SyntaxError, /'::'/);
  throwsWith(() => parseConfigString("http:addr=h;"), SyntaxError, /'::'/);
  throwsWith(() => parseConfigString("http::addr=h;username"), SyntaxError, /no '=value'/);
  throwsWith(() => parseConfigString("http::addr=h;user name=x;"), SyntaxError, /expected '='/);
  throwsWith(() => parseConfigString("http::;addr=h;"), SyntaxError, /expected a key/);
  throwsWith(() => parseConfigString("http::addr=h;password=a\nb;"), SyntaxError, /U\+000A/);
  throwsWith(() => parseConfigString("http::addr=h;password=a\u0085b;"), SyntaxError, /U\+0085/);
});

Deno.test("config: bad schema, missing addr, bad ports", () => {
  throwsWith(() => parseConfigString("ws::addr=h;"), RangeError, /invalid protocol 'ws'/);
  throwsWith(() => parseConfigString("HTTP::addr=h;"), RangeError, /invalid protocol/);
  throwsWith(() => parseConfigString("udp::addr=h;"), RangeError, /invalid protocol/);
  throwsWith(() => parseConfigString("http::"), RangeError, /'addr' is required/);
  throwsWith(() => parseConfigString("http::username=u;password=p;"), RangeError, /'addr'/);
  for (const addr of ["h:", "h:0", "h:65536", "h:abc", "h:-1", "h:90.5", "h: 90", ":9000"]) {
    throwsWith(() => parseConfigString(`http::addr=${addr};`), RangeError, /addr/);
  }
  throwsWith(() => parseConfigString("http::addr=a:b:c;"), RangeError, /IPv6/);
  assert.equal(parseConfigString("http::addr=h:65535;").port, 65535);
  assert.equal(parseConfigString("http::addr=h:1;").port, 1);
});

Deno.test("config: IPv6 addresses in brackets", () => {
  const c = parseConfigString("http::addr=[::1]:9100;");
  assert.equal(c.host, "::1");
  assert.equal(c.port, 9100);
  assert.equal(parseConfigString("tcp::addr=[fe80::1%eth0];").port, 9009);
  throwsWith(() => parseConfigString("http::addr=[::1;"), RangeError, /'\['/);
  throwsWith(() => parseConfigString("http::addr=[db1]:9000;"), RangeError, /IPv6/);
});

Deno.test("config: bad values name the key", () => {
  const cases: [string, RegExp][] = [
    ["request_timeout=0", /'request_timeout'/],
    ["request_timeout=1e3", /'request_timeout'/],
    ["request_timeout=-5", /'request_timeout'/],
    ["request_timeout=99999999999", /'request_timeout'/],
    ["retry_timeout=soon", /'retry_timeout'/],
    ["retry_max_backoff_millis=5", /'retry_max_backoff_millis'.*between 10/],
    ["protocol_version=4", /'protocol_version'/],
    ["max_buf_size=0", /'max_buf_size'/],
  ];
  for (const [kv, re] of cases) {
    throwsWith(() => parseConfigString(`http::addr=h;${kv};`), RangeError, re);
  }
  throwsWith(() => parseConfigString("https::addr=h;tls_verify=off;"), RangeError, /'tls_verify'/);
});

Deno.test("config: authentication and TLS combinations", () => {
  throwsWith(() => parseConfigString("http::addr=h;username=u;"), RangeError, /both/);
  throwsWith(() => parseConfigString("http::addr=h;password=p;"), RangeError, /both/);
  throwsWith(
    () => parseConfigString("http::addr=h;username=u;password=p;token=t;"),
    RangeError,
    /not both/,
  );
  throwsWith(() => parseConfigString("http::addr=h;token_x=x;"), RangeError, /TCP/);
  throwsWith(() => parseConfigString("http::addr=h;tls_verify=on;"), RangeError, /'tls_verify'/);
  throwsWith(() => parseConfigString("tcp::addr=h;tls_roots=/x.pem;"), RangeError, /'tls_roots'/);
  throwsWith(() => parseConfigString("https::addr=h;tls_ca=pem_file;"), RangeError, /'tls_roots'/);
});

Deno.test("config: error messages never echo values", () => {
  const secret = "S3cr3tVal";
  const bad = [
    `http::addr=h;password=${secret}\n;username=u;`,
    `http::addr=h;username=u;password=${secret};token=${secret};`,
    `http::addr=user:${secret}@h;`,
    `tcp::addr=h;username=u;password=${secret};`,
    `http::addr=h;request_timeout=${secret};`,
    `http::addr=h;username=u;password=a;${secret}`,
    `http::addr=h;username=u;password=a;${secret}!;`,
    `${secret}=x::addr=h`,
  ];
  for (const conf of bad) {
    assert.throws(() => parseConfigString(conf), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(!e.message.includes(secret), `leaked in: ${e.message}`);
      return true;
    });
  }
  assert.throws(() => parseQuestdbTarget(`http://admin:${secret}@db1:9000`), (e: unknown) => {
    assert.ok(e instanceof RangeError && !e.message.includes(secret), String(e));
    return true;
  });
});

Deno.test("config: parseQuestdbTarget accepts bare hosts, host:port and config strings", () => {
  const bare = parseQuestdbTarget("db1");
  assert.deepEqual(bare, parseConfigString("http::addr=db1:9000;"));
  assert.equal(
    describeConfig(bare),
    "http::addr=db1:9000;request_timeout=10000;retry_timeout=10000;",
  );
  const hp = parseQuestdbTarget("db1:9100");
  assert.equal(hp.protocol, "http");
  assert.equal(hp.port, 9100);
  assert.equal(parseQuestdbTarget(" 10.1.2.3:9000 ").host, "10.1.2.3");
  const v6 = parseQuestdbTarget("[::1]:9001");
  assert.equal(v6.host, "::1");
  assert.equal(v6.port, 9001);
  assert.equal(parseQuestdbTarget("[::1]").port, 9000);
  const full = parseQuestdbTarget("tcp::addr=db2:9019;");
  assert.equal(full.protocol, "tcp");
  assert.equal(full.port, 9019);
  throwsWith(() => parseQuestdbTarget(""), RangeError, /empty/);
  throwsWith(() => parseQuestdbTarget("http://db1:9000"), RangeError, /URL/);
  throwsWith(() => parseQuestdbTarget("db1:port"), RangeError, /port/);
  throwsWith(() => parseQuestdbTarget("db 1"), RangeError, /host/);
  throwsWith(() => parseQuestdbTarget("db1;x=y"), RangeError, /host/);
  throwsWith(() => parseQuestdbTarget("ws::addr=h;"), RangeError, /protocol/);
});

Deno.test("config: describeConfig redacts secrets and round-trips", () => {
  const conf = "https::addr=db1:9000;username=ad;;min;password=p;;w=rd;tls_roots=/ca.pem;" +
    "request_timeout=3000;retry_max_backoff_millis=500;max_buf_size=4096;";
  const c = parseConfigString(conf);
  const text = describeConfig(c);
  assert.equal(
    text,
    "https::addr=db1:9000;username=ad;;min;password=***;tls_roots=/ca.pem;request_timeout=3000;" +
      "retry_timeout=10000;retry_max_backoff_millis=500;max_buf_size=4096;",
  );
  assert.ok(!text.includes("p;;w=rd") && !text.includes("w=rd"));
  // With the secret put back, the description parses to the same config.
  assert.deepEqual(parseConfigString(text.replace("password=***", "password=p;;w=rd")), c);

  const bearer = parseConfigString("http::addr=h;token=eyJhbGciOi.secret.token;");
  assert.equal(
    describeConfig(bearer),
    "http::addr=h:9000;token=***;request_timeout=10000;retry_timeout=10000;",
  );
  const tcp = parseConfigString("tcp::addr=[::1]:9009;retry_timeout=0;");
  assert.equal(describeConfig(tcp), "tcp::addr=[::1]:9009;request_timeout=10000;retry_timeout=0;");
});

Deno.test("config: describeConfig round-trips every accepted string (generated)", () => {
  const text = fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }); // printable
  const esc = (s: string) => s.replaceAll(";", ";;");
  const ms = (min: number) => fc.integer({ min, max: 2_147_483_647 });
  const bytes = (min: number) => fc.integer({ min, max: Number.MAX_SAFE_INTEGER });
  fc.assert(fc.property(
    fc.constantFrom("http", "https"),
    fc.option(fc.tuple(text, text), { nil: undefined }),
    fc.record({
      request_timeout: ms(1),
      retry_timeout: ms(0),
      request_min_throughput: bytes(0),
      retry_max_backoff_millis: ms(10),
      max_buf_size: bytes(1),
      bind_interface: text,
      tls_roots: text,
    }, { requiredKeys: [] }),
    (schema, basic, keys) => {
      const pairs = Object.entries(keys).filter(([k]) => schema === "https" || k !== "tls_roots");
      if (basic) pairs.push(["username", basic[0]], ["password", basic[1]]);
      const conf = `${schema}::addr=db1;` +
        pairs.map(([k, v]) => `${k}=${esc(String(v))};`).join("");
      const c = parseConfigString(conf);
      const shown = describeConfig(c);
      assert.equal(shown.includes("password=***"), basic !== undefined);
      const restored = basic
        ? shown.replace("password=***", () => `password=${esc(basic[1])}`)
        : shown;
      assert.deepEqual(parseConfigString(restored), c);
    },
  ));
});
