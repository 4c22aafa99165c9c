/**
 * ILP transports. First against a real, private QuestDB (tests/helpers/questdb.ts): rows land,
 * errors carry QuestDB's answer, refused connections are retryable. Then against small
 * stand-in servers on 127.0.0.1 for what a real QuestDB cannot show on demand: the exact
 * request (auth headers, path), 5xx/3xx answers, slow answers, and a TCP peer that hangs up.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { freePort, startQuestDB } from "../helpers/questdb.ts";
import { parseConfigString, parseQuestdbTarget } from "../../src/ilp/config.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { HttpTransport } from "../../src/ilp/http.ts";
import { TcpTransport } from "../../src/ilp/tcp.ts";
import { createTransport, IlpDeliveryError } from "../../src/ilp/transport.ts";

async function rejectsDelivery(
  p: Promise<unknown>,
  check: (e: IlpDeliveryError) => void,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof IlpDeliveryError, `expected IlpDeliveryError, got ${e}`);
    check(e);
    return true;
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Microsecond-aligned, so the value survives a TIMESTAMP (µs) column exactly.
const T0 = 1_700_000_000_123_456_000n;

const AWKWARD = [
  "plain",
  "with space, comma=equals",
  'quote " backslash \\ end\\',
  "line\nbreak\rcr",
  "ünïcödé 中文 🐳",
];

Deno.test({
  name: "transport: HTTP and TCP against a real QuestDB",
  // The QuestDB child process is started and stopped inside the test.
  sanitizeResources: true,
  sanitizeOps: true,
}, async (t) => {
  const qdb = await startQuestDB();
  try {
    const http = createTransport(parseQuestdbTarget(`127.0.0.1:${qdb.httpPort}`));
    assert.ok(http instanceof HttpTransport);
    assert.equal(http.target, `http://127.0.0.1:${qdb.httpPort}`);

    await t.step("HTTP: rows land with every type and awkward text intact", async () => {
      const enc = new IlpEncoder();
      AWKWARD.forEach((v, i) => {
        enc.table("ilp_http rows").symbol("sym", v).stringColumn("str", v)
          .floatColumn("dbl", i + 0.25).intColumn("lng", 9_223_372_036_854_775_807n - BigInt(i))
          .boolColumn("flag", i % 2 === 0).at(T0 + BigInt(i) * 1_000n);
      });
      await http.send(enc.take());
      const r = await qdb.waitFor(
        `select sym, str, dbl, cast(lng as string), flag, timestamp from 'ilp_http rows' order by timestamp`,
        (r) => r.dataset.length === AWKWARD.length,
        10_000,
      );
      assert.equal(r.dataset.length, AWKWARD.length, "rows did not land within 10 s");
      AWKWARD.forEach((v, i) => {
        assert.deepEqual(r.dataset[i], [
          v,
          v,
          i + 0.25,
          String(9_223_372_036_854_775_807n - BigInt(i)),
          i % 2 === 0,
          `2023-11-14T22:13:20.${123456 + i}Z`,
        ]);
      });
      const cols = await qdb.exec("show columns from 'ilp_http rows'");
      assert.deepEqual(
        cols.dataset.map((row) => [row[0], row[1]]),
        [
          ["sym", "SYMBOL"],
          ["str", "VARCHAR"],
          ["dbl", "DOUBLE"],
          ["lng", "LONG"],
          ["flag", "BOOLEAN"],
          ["timestamp", "TIMESTAMP"],
        ],
      );
    });

    await t.step("HTTP: exec runs DDL and queries", async () => {
      assert.ok(http instanceof HttpTransport);
      const ddl = await http.exec(
        "CREATE TABLE IF NOT EXISTS ilp_conflict (v LONG, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL",
      );
      assert.equal(ddl.ddl, "OK");
      const q = await http.exec("select 1 + 1 as two");
      assert.deepEqual(q.columns, [{ name: "two", type: "INT" }]);
      assert.deepEqual(q.dataset, [[2]]);
      await rejectsDelivery(http.exec("select * from no_such_table"), (e) => {
        assert.equal(e.retryable, false);
        assert.equal(e.status, 400);
        assert.match(e.serverMessage ?? "", /does not exist/);
      });
    });

    await t.step(
      "HTTP: a type conflict is a 400, not retryable, with the server's message",
      async () => {
        const enc = new IlpEncoder();
        enc.table("ilp_conflict").intColumn("v", 1).at(T0);
        enc.table("ilp_conflict").stringColumn("v", "not a number").at(T0 + 1000n);
        await rejectsDelivery(http.send(enc.take()), (e) => {
          assert.equal(e.status, 400);
          assert.equal(e.retryable, false);
          assert.equal(e.line, 2);
          assert.match(e.serverMessage ?? "", /cast error.*STRING.*LONG/);
          assert.match(e.message, /HTTP 400.*cast error/s);
          assert.ok(typeof e.errorId === "string" && e.errorId.length > 0);
        });
        // One request is one transaction: the good first line was not committed either.
        await delay(500);
        const r = await qdb.exec("select count() from ilp_conflict");
        assert.deepEqual(r.dataset, [[0]]);
        // The transport still works afterwards.
        enc.table("ilp_conflict").intColumn("v", 7).at(T0);
        await http.send(enc.take());
        const ok = await qdb.waitFor(
          "select v from ilp_conflict",
          (r) => r.dataset.length === 1,
          10_000,
        );
        assert.deepEqual(ok.dataset, [[7]]);
      },
    );

    await t.step("TCP: rows land", async () => {
      const tcp = createTransport(parseConfigString(`tcp::addr=127.0.0.1:${qdb.ilpTcpPort};`));
      assert.ok(tcp instanceof TcpTransport);
      assert.equal(tcp.target, `tcp://127.0.0.1:${qdb.ilpTcpPort}`);
      const enc = new IlpEncoder();
      AWKWARD.forEach((v, i) => {
        enc.table("ilp_tcp").symbol("sym", v).stringColumn("str", v).intColumn("n", i)
          .at(T0 + BigInt(i) * 1_000n);
      });
      await tcp.send(enc.take());
      const r = await qdb.waitFor(
        "select sym, str, n from ilp_tcp order by timestamp",
        (r) => r.dataset.length === AWKWARD.length,
        10_000,
      );
      assert.deepEqual(r.dataset, AWKWARD.map((v, i) => [v, v, i]));
      await tcp.close();
    });

    await t.step(
      "TCP: after QuestDB drops the connection on a bad line, the next send reconnects",
      async () => {
        const tcp = createTransport(parseConfigString(`tcp::addr=127.0.0.1:${qdb.ilpTcpPort};`));
        await tcp.send("this is not a line\n");
        await delay(1000); // QuestDB closes the connection; the transport notices.
        const enc = new IlpEncoder();
        enc.table("ilp_tcp_again").intColumn("n", 1).at(T0);
        await tcp.send(enc.take());
        const r = await qdb.waitFor(
          "select n from ilp_tcp_again",
          (r) => r.dataset.length === 1,
          10_000,
        );
        assert.deepEqual(r.dataset, [[1]]);
        await tcp.close();
      },
    );

    await t.step("connection refused is retryable (HTTP and TCP)", async () => {
      const port = await freePort();
      const h = createTransport(parseQuestdbTarget(`127.0.0.1:${port}`));
      await rejectsDelivery(h.send("t v=1i 1\n"), (e) => {
        assert.equal(e.retryable, true);
        assert.equal(e.status, undefined);
        assert.match(e.message, new RegExp(`http://127\\.0\\.0\\.1:${port}`));
      });
      await h.close();
      const c = createTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
      await rejectsDelivery(c.send("t v=1i 1\n"), (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /cannot connect/);
      });
      await c.close();
    });

    await http.close();
  } finally {
    await qdb.dispose();
  }
});

/** What the stand-in HTTP server saw of one request. */
interface Seen {
  method: string;
  path: string;
  authorization: string | null;
  body: string;
}

/**
 * A stand-in for QuestDB's HTTP endpoint on 127.0.0.1 (a real QuestDB without authentication
 * configured cannot show us the headers we send, and does not fail with 5xx on demand).
 */
async function withStandIn(
  respond: (req: Request, seen: Seen) => Response | Promise<Response>,
  body: (port: number, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      const s: Seen = {
        method: req.method,
        path: url.pathname + url.search,
        authorization: req.headers.get("authorization"),
        body: await req.text(),
      };
      seen.push(s);
      return await respond(req, s);
    },
  );
  try {
    await body(server.addr.port, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("transport: HTTP basic auth header, path and body (stand-in server)", async () => {
  const answer = (_req: Request, s: Seen) =>
    s.path.startsWith("/exec")
      ? Response.json({ columns: [{ name: "1", type: "INT" }], dataset: [[1]], count: 1 })
      : new Response(null, { status: 204 });
  await withStandIn(answer, async (port, seen) => {
    const password = "pä;ss w=rd";
    const cfg = parseConfigString(
      `http::addr=127.0.0.1:${port};username=admin;password=pä;;ss w=rd;`,
    );
    const h = createTransport(cfg);
    assert.equal(h.target, `http://127.0.0.1:${port}`);
    await h.send("t,s=ü v=1i 1\n");
    await h.send(""); // nothing to send: no request
    assert.ok(h instanceof HttpTransport);
    assert.deepEqual((await h.exec("select 1")).dataset, [[1]]);
    await h.close();
    assert.equal(seen.length, 2);
    const expectedAuth = "Basic " + Buffer.from(`admin:${password}`, "utf8").toString("base64");
    assert.deepEqual(seen[0], {
      method: "POST",
      path: "/write?precision=n",
      authorization: expectedAuth,
      body: "t,s=ü v=1i 1\n",
    });
    assert.equal(seen[1]!.method, "GET");
    assert.equal(seen[1]!.path, "/exec?query=select%201");
    assert.equal(seen[1]!.authorization, expectedAuth);
  });
});

Deno.test("transport: HTTP bearer token, and no auth header without credentials (stand-in)", async () => {
  await withStandIn(() => new Response(null, { status: 204 }), async (port, seen) => {
    const bearer = createTransport(
      parseConfigString(`http::addr=127.0.0.1:${port};token=tok.en_1;`),
    );
    await bearer.send("t v=1i 1\n");
    await bearer.close();
    const anon = createTransport(parseQuestdbTarget(`127.0.0.1:${port}`));
    await anon.send("t v=2i 2\n");
    await anon.close();
    assert.equal(seen[0]!.authorization, "Bearer tok.en_1");
    assert.equal(seen[1]!.authorization, null);
  });
});

Deno.test("transport: HTTP error answers and their retryability (stand-in server)", async () => {
  const answers: Response[] = [];
  await withStandIn(() => answers.shift() ?? new Response(null, { status: 204 }), async (port) => {
    const secret = "hunter2-secret";
    const h = createTransport(
      parseConfigString(`http::addr=127.0.0.1:${port};username=u;password=${secret};`),
    );
    const json = (status: number, o: unknown) =>
      new Response(JSON.stringify(o), { status, headers: { "content-type": "application/json" } });
    const cases: [Response, number, boolean, RegExp | undefined][] = [
      [
        json(500, { code: "internal error", message: "disk full", line: 1, errorId: "ab-1" }),
        500,
        true,
        /disk full/,
      ],
      [new Response("Service Unavailable", { status: 503 }), 503, true, /Service Unavailable/],
      [new Response(null, { status: 502 }), 502, true, undefined],
      [json(401, { code: "invalid", message: "unauthorized" }), 401, false, /unauthorized/],
      [json(413, { code: "invalid", message: "too large" }), 413, false, /too large/],
      [
        new Response(null, { status: 302, headers: { location: "/elsewhere" } }),
        302,
        false,
        undefined,
      ],
    ];
    for (const [res, status, retryable, msg] of cases) {
      answers.push(res);
      await rejectsDelivery(h.send("t v=1i 1\n"), (e) => {
        assert.equal(e.status, status);
        assert.equal(e.retryable, retryable, `status ${status}`);
        if (msg) assert.match(e.serverMessage ?? "", msg);
        assert.ok(!e.message.includes(secret), e.message);
      });
    }
    // JSON error fields are carried.
    answers.push(json(500, { code: "x", message: "boom", line: 3, errorId: "id-9" }));
    await rejectsDelivery(h.send("t v=1i 1\n"), (e) => {
      assert.equal(e.line, 3);
      assert.equal(e.errorId, "id-9");
      assert.equal(e.serverMessage, "boom");
    });
    // Any 2xx is delivered.
    answers.push(new Response("ok", { status: 200 }));
    await h.send("t v=1i 1\n");
    assert.ok(!h.target.includes(secret));
    await h.close();
  });
});

Deno.test("transport: HTTP timeout is retryable (stand-in server answering late)", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  await withStandIn(async () => {
    await released;
    return new Response(null, { status: 204 });
  }, async (port) => {
    const h = createTransport(
      parseConfigString(
        `http::addr=127.0.0.1:${port};request_timeout=200;request_min_throughput=0;`,
      ),
    );
    const started = Date.now();
    await rejectsDelivery(h.send("t v=1i 1\n"), (e) => {
      assert.equal(e.retryable, true);
      assert.equal(e.status, undefined);
      assert.match(e.message, /no answer within 200 ms/);
    });
    const took = Date.now() - started;
    assert.ok(took >= 180 && took < 3000, `took ${took} ms`);
    release();
    await h.close();
  });
});

Deno.test("transport: HTTP body over max_buf_size is refused without a request", async () => {
  await withStandIn(() => new Response(null, { status: 204 }), async (port, seen) => {
    const h = createTransport(
      parseConfigString(`http::addr=127.0.0.1:${port};init_buf_size=16;max_buf_size=32;`),
    );
    await rejectsDelivery(h.send("t v=1i 1\n".repeat(4)), (e) => {
      assert.equal(e.retryable, false);
      assert.match(e.message, /max_buf_size/);
    });
    await h.send("t v=1i 1\n");
    assert.equal(seen.length, 1);
    await h.close();
  });
});

/**
 * A stand-in ILP/TCP server on 127.0.0.1 that records what each connection received, and can
 * hang up on demand (a real QuestDB only hangs up after a bad line, and cannot tell us which
 * connection got which bytes).
 */
async function withTcpStandIn(
  body: (port: number, received: string[], hangUp: () => void) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: string[] = [];
  const conns = new Set<Deno.Conn>();
  const readers: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const idx = received.push("") - 1;
      readers.push((async () => {
        const dec = new TextDecoder();
        const buf = new Uint8Array(64 * 1024);
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            received[idx] += dec.decode(buf.subarray(0, n), { stream: true });
          }
        } catch { /* closed by hangUp */ }
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      })());
    }
  })();
  const hangUp = () => {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  try {
    await body((listener.addr as Deno.NetAddr).port, received, hangUp);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    hangUp();
    await Promise.all(readers);
  }
}

Deno.test("transport: TCP connects lazily, writes everything, keeps order (stand-in server)", async () => {
  await withTcpStandIn(async (port, received) => {
    const tcp = createTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
    await delay(50);
    assert.equal(received.length, 0, "connected before the first send");
    const big = "big,s=x v=1i 1\n".repeat(400_000); // 6 MB: many partial writes
    const sends = [tcp.send("a v=1i 1\n"), tcp.send(big), tcp.send("b v=2i 2\n")];
    await Promise.all(sends);
    await tcp.close();
    const deadline = Date.now() + 5000;
    while ((received[0]?.length ?? 0) < big.length + 18 && Date.now() < deadline) await delay(20);
    assert.equal(received.length, 1);
    assert.equal(received[0], "a v=1i 1\n" + big + "b v=2i 2\n");
  });
});

Deno.test("transport: TCP reconnects after the server hangs up (stand-in server)", async () => {
  await withTcpStandIn(async (port, received, hangUp) => {
    const tcp = createTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
    await tcp.send("first v=1i 1\n");
    await delay(100);
    hangUp();
    await delay(200); // the transport's reader sees the end of the stream
    await tcp.send("second v=2i 2\n");
    await delay(100);
    await tcp.close();
    await tcp.send("third v=3i 3\n"); // usable again after close()
    await tcp.close();
    await delay(100);
    assert.deepEqual(received, ["first v=1i 1\n", "second v=2i 2\n", "third v=3i 3\n"]);
  });
});

Deno.test("transport: TCP sends after a hang-up fail as retryable or reach a new connection", async () => {
  await withTcpStandIn(async (port, received, hangUp) => {
    const tcp = createTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
    await tcp.send("first v=1i 1\n");
    await delay(50);
    hangUp();
    // Right after the hang-up a send may still go into the dying socket (accepted by the
    // kernel, then lost: ILP/TCP has no acknowledgement), or fail with a retryable error;
    // once the transport notices, the next send opens a new connection.
    const failures: IlpDeliveryError[] = [];
    for (let i = 0; i < 50 && received.length < 2; i++) {
      try {
        await tcp.send(`again v=${i}i ${i}\n`.repeat(1000));
      } catch (e) {
        assert.ok(e instanceof IlpDeliveryError, String(e));
        failures.push(e);
      }
      await delay(20);
    }
    await tcp.close();
    assert.ok(received.length >= 2, "no new connection after the hang-up");
    assert.equal(received[0], "first v=1i 1\n");
    assert.ok(failures.every((e) => e.retryable && e.message.includes(tcp.target)));
  });
});

// A throw-away test CA and a server certificate it signed (EC P-256; CN=localhost, SAN
// localhost and 127.0.0.1; valid 2000-01-01 to 2100-01-01), made with `openssl ca` for these
// stand-in TLS servers only. Nothing else trusts this CA.
const TEST_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBejCCASCgAwIBAgICEAAwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYY29udGFp
bmVyLXN0YXRzZCB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAw
MDAwWjAjMSEwHwYDVQQDDBhjb250YWluZXItc3RhdHNkIHRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAARsOVtKmlruoEtIdoeJuShEuOZSBMWx6Jlw6Xnp
UaicF8M1IqDQa1a9bIQAx005Xmlw3rCywFL93JN+I2jC8kYOo0IwQDAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUopVHWuzg6LXzfMy5
TdCIZddblNUwCgYIKoZIzj0EAwIDSAAwRQIhAOceSXw2IcJsasP6cmAUbiG7XGA7
O7L/d/Wx9v31QWQbAiAaHwDxH3T3GDTipccRM/lfkC88mMEliCr9qoKp72JacQ==
-----END CERTIFICATE-----
`;
const TEST_SERVER_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBvTCCAWKgAwIBAgICEAEwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYY29udGFp
bmVyLXN0YXRzZCB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAw
MDAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAAQa4Z0SPDbMhjzGGIMo+ty9luzPQqAKaHCgKbeko/peXz2XMUL5TM2kmGPN
OXozlJU6xcwYrAFcNrMFlFledQv1o4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYDVR0P
AQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGCCWxvY2Fs
aG9zdIcEfwAAATAfBgNVHSMEGDAWgBSilUda7ODotfN8zLlN0Ihl11uU1TAdBgNV
HQ4EFgQUZeFBZxBq62wFndoZ4Njp+mchi+wwCgYIKoZIzj0EAwIDSQAwRgIhAOd2
20laRihLZEak6kGDWC8vzq+jryd8Y7GDWrjvN0hNAiEAkqZbDFshYNy3WzrkWTog
ajznNWpWmk3XPytPBWsu7cs=
-----END CERTIFICATE-----
`;
const TEST_SERVER_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgG6wL61vhOwrSoHcX
Gpjss6sFjrpmtfYwi9MSn88QH++hRANCAAQa4Z0SPDbMhjzGGIMo+ty9luzPQqAK
aHCgKbeko/peXz2XMUL5TM2kmGPNOXozlJU6xcwYrAFcNrMFlFledQv1
-----END PRIVATE KEY-----
`;

async function withCaFile(body: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ prefix: "ilp-test-ca-", suffix: ".pem" });
  try {
    await Deno.writeTextFile(path, TEST_CA_PEM);
    await body(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("transport: https trusts the CA of tls_roots / tls_ca (stand-in TLS server)", async () => {
  // Stand-in: open source QuestDB serves no TLS (it is put behind a TLS proxy).
  const seen: string[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: TEST_SERVER_CERT_PEM,
    key: TEST_SERVER_KEY_PEM,
    onListen() {},
  }, async (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`);
    return new Response(null, { status: 204 });
  });
  const port = server.addr.port;
  try {
    await withCaFile(async (caFile) => {
      for (const key of ["tls_roots", "tls_ca"]) {
        const h = createTransport(
          parseConfigString(`https::addr=127.0.0.1:${port};${key}=${caFile};`),
        );
        assert.equal(h.target, `https://127.0.0.1:${port}`);
        await h.send(`t v=1i 1\n`);
        await h.close();
      }
      assert.deepEqual(seen, ["POST /write t v=1i 1\n", "POST /write t v=1i 1\n"]);
      // Without the CA the certificate is not trusted: retryable, with a hint.
      const untrusted = createTransport(parseConfigString(`https::addr=127.0.0.1:${port};`));
      await rejectsDelivery(untrusted.send("t v=1i 1\n"), (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /tls_roots/);
      });
      await untrusted.close();
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("transport: tcps trusts the CA of tls_roots (stand-in TLS server)", async () => {
  // Stand-in: open source QuestDB serves no TLS (it is put behind a TLS proxy).
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: TEST_SERVER_CERT_PEM,
    key: TEST_SERVER_KEY_PEM,
  });
  const port = (listener.addr as Deno.NetAddr).port;
  const got: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      let text = "";
      const buf = new Uint8Array(4096);
      try {
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
      } catch { /* handshake refused by the client */ }
      got.push(text);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  })();
  try {
    await withCaFile(async (caFile) => {
      const tcps = createTransport(
        parseConfigString(`tcps::addr=127.0.0.1:${port};tls_roots=${caFile};`),
      );
      assert.equal(tcps.target, `tcps://127.0.0.1:${port}`);
      await tcps.send("t v=1i 1\n");
      await tcps.close();
      const untrusted = createTransport(parseConfigString(`tcps::addr=127.0.0.1:${port};`));
      await rejectsDelivery(untrusted.send("t v=2i 2\n"), (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /cannot connect.*UnknownIssuer.*tls_roots/);
      });
      await untrusted.close();
    });
    const deadline = Date.now() + 5000;
    while (got.length < 2 && Date.now() < deadline) await delay(20);
    assert.equal(got[0], "t v=1i 1\n");
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("transport: TCP deadlines: a stalled TLS handshake and a peer that stops reading", async () => {
  // Stand-in: a TCP listener that accepts and then neither speaks TLS nor reads; a real
  // QuestDB cannot be made to stall like this on demand.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const tcps = createTransport(
      parseConfigString(`tcps::addr=127.0.0.1:${port};request_timeout=300;`),
    );
    let started = Date.now();
    await rejectsDelivery(tcps.send("t v=1i 1\n"), (e) => {
      assert.equal(e.retryable, true);
      assert.match(e.message, /no TLS handshake within 300 ms/);
    });
    assert.ok(Date.now() - started < 3000);
    await tcps.close();

    const tcp = createTransport(
      parseConfigString(
        `tcp::addr=127.0.0.1:${port};request_timeout=300;request_min_throughput=0;`,
      ),
    );
    started = Date.now();
    // Far more than the socket buffers hold, so the writes block on the silent peer.
    await rejectsDelivery(tcp.send("t,s=x v=1i 1\n".repeat(5_000_000)), (e) => {
      assert.equal(e.retryable, true);
      assert.match(e.message, /took no more data for 300 ms/);
    });
    assert.ok(Date.now() - started < 5000);
    await tcp.close();
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of accepted) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
});

Deno.test("transport: factory picks the transport and refuses what it cannot do", () => {
  assert.ok(createTransport(parseConfigString("http::addr=h;")) instanceof HttpTransport);
  assert.ok(createTransport(parseConfigString("https::addr=h;")) instanceof HttpTransport);
  assert.ok(createTransport(parseConfigString("tcp::addr=h;")) instanceof TcpTransport);
  assert.ok(createTransport(parseConfigString("tcps::addr=h;")) instanceof TcpTransport);
  assert.equal(
    createTransport(parseConfigString("https::addr=[::1]:9443;")).target,
    "https://[::1]:9443",
  );
  assert.throws(
    () => createTransport(parseConfigString("tcp::addr=h;username=kid;token=d;")),
    RangeError,
  );
  assert.throws(
    () => createTransport(parseConfigString("https::addr=h;tls_roots=/nonexistent/ca.pem;")),
    (e: unknown) => e instanceof RangeError && /nonexistent/.test(e.message),
  );
  const e = new IlpDeliveryError("x", { retryable: false, status: 400 });
  assert.equal(e.name, "IlpDeliveryError");
  assert.ok(e instanceof Error);
  assert.equal(e.status, 400);
  assert.equal("serverMessage" in e, false);
});
