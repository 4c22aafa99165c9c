/**
 * QuestDB's ILP transports against small stand-in servers on 127.0.0.1, for what a real
 * QuestDB cannot show on demand: the exact request (auth headers, path), 5xx/3xx answers, slow
 * answers, TLS with a private CA, and a TCP peer that hangs up or stops reading. The same
 * transports against a real QuestDB: tests/integration/ilp_questdb_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseConfigString, parseQuestdbTarget } from "../../src/ilp/config.ts";
import { IlpDeliveryError } from "../../src/ilp/errors.ts";
import { HttpTransport } from "../../src/ilp/http.ts";
import { createQuestdbTransport } from "../../src/ilp/questdb.ts";
import { TcpTransport } from "../../src/ilp/tcp.ts";
import type { IlpTransport } from "../../src/ilp/transport.ts";
import { rejectsDelivery, until } from "../helpers/ilp.ts";

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
    const h = createQuestdbTransport(cfg);
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
    const bearer = createQuestdbTransport(
      parseConfigString(`http::addr=127.0.0.1:${port};token=tok.en_1;`),
    );
    await bearer.send("t v=1i 1\n");
    await bearer.close();
    const anon = createQuestdbTransport(parseQuestdbTarget(`127.0.0.1:${port}`));
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
    const h = createQuestdbTransport(
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
    const h = createQuestdbTransport(
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
    const h = createQuestdbTransport(
      parseConfigString(`http::addr=127.0.0.1:${port};max_buf_size=32;`),
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

/** What a stand-in ILP/TCP server saw: the bytes of each connection, in order. */
interface TcpSeen {
  /** Text received on each connection, in accept order. */
  received: string[];
  /** How many connections have ended (closed by either side). */
  ended: number;
}

/**
 * A stand-in ILP/TCP server on 127.0.0.1 that records what each connection received, and can
 * hang up on demand (a real QuestDB only hangs up after a bad line, and cannot tell us which
 * connection got which bytes).
 */
async function withTcpStandIn(
  body: (port: number, seen: TcpSeen, hangUp: () => void) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: TcpSeen = { received: [], ended: 0 };
  const conns = new Set<Deno.Conn>();
  const readers: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const idx = seen.received.push("") - 1;
      readers.push((async () => {
        const dec = new TextDecoder();
        const buf = new Uint8Array(64 * 1024);
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            seen.received[idx] += dec.decode(buf.subarray(0, n), { stream: true });
          }
        } catch { /* closed by hangUp */ }
        conns.delete(conn);
        seen.ended++;
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
    await body((listener.addr as Deno.NetAddr).port, seen, hangUp);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    hangUp();
    await Promise.all(readers);
  }
}

Deno.test("transport: TCP connects lazily, writes everything, keeps order (stand-in server)", async () => {
  await withTcpStandIn(async (port, seen) => {
    const tcp = new TcpTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
    assert.equal(tcp.connected, false, "connected before the first send");
    const big = "big,s=x v=1i 1\n".repeat(400_000); // 6 MB: many partial writes
    const sends = [tcp.send("a v=1i 1\n"), tcp.send(big), tcp.send("b v=2i 2\n")];
    await Promise.all(sends);
    await tcp.close();
    const expected = "a v=1i 1\n" + big + "b v=2i 2\n";
    await until(() => seen.ended === 1, "the server saw the connection end");
    assert.deepEqual(seen.received.map((r) => r.length), [expected.length]);
    assert.equal(seen.received[0], expected);
  });
});

Deno.test("transport: TCP reconnects after the server hangs up (stand-in server)", async () => {
  await withTcpStandIn(async (port, seen, hangUp) => {
    const tcp = new TcpTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
    await tcp.send("first v=1i 1\n");
    await until(() => seen.received[0] === "first v=1i 1\n", "first line received");
    hangUp();
    await until(() => !tcp.connected, "the transport saw the end of the stream");
    await tcp.send("second v=2i 2\n");
    assert.equal(tcp.connected, true);
    await tcp.close();
    assert.equal(tcp.connected, false);
    await tcp.send("third v=3i 3\n"); // usable again after close()
    await tcp.close();
    await until(() => seen.ended === 3, "three connections ended");
    assert.deepEqual(seen.received, ["first v=1i 1\n", "second v=2i 2\n", "third v=3i 3\n"]);
  });
});

Deno.test("transport: TCP sends after a hang-up fail as retryable or reach a new connection", async () => {
  await withTcpStandIn(async (port, seen, hangUp) => {
    const tcp = new TcpTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
    await tcp.send("first v=1i 1\n");
    await until(() => seen.received[0] === "first v=1i 1\n", "first line received");
    hangUp();
    // Right after the hang-up a send may still go into the dying socket (accepted by the
    // kernel, then lost: ILP/TCP has no acknowledgement), or fail with a retryable error;
    // once the transport notices, the next send opens a new connection. No wait between
    // sends: each one is an attempt the caller would make.
    const failures: IlpDeliveryError[] = [];
    for (let i = 0; i < 10_000 && seen.received.length < 2; i++) {
      try {
        await tcp.send(`again v=${i}i ${i}\n`.repeat(1000));
      } catch (e) {
        assert.ok(e instanceof IlpDeliveryError, String(e));
        failures.push(e);
      }
    }
    await tcp.close();
    assert.ok(seen.received.length >= 2, "no new connection after the hang-up");
    assert.equal(seen.received[0], "first v=1i 1\n");
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
        const h = createQuestdbTransport(
          parseConfigString(`https::addr=127.0.0.1:${port};${key}=${caFile};`),
        );
        assert.equal(h.target, `https://127.0.0.1:${port}`);
        await h.send(`t v=1i 1\n`);
        await h.close();
      }
      assert.deepEqual(seen, ["POST /write t v=1i 1\n", "POST /write t v=1i 1\n"]);
      // Without the CA the certificate is not trusted: retryable, with a hint.
      const untrusted = createQuestdbTransport(parseConfigString(`https::addr=127.0.0.1:${port};`));
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
      const tcps = createQuestdbTransport(
        parseConfigString(`tcps::addr=127.0.0.1:${port};tls_roots=${caFile};`),
      );
      assert.equal(tcps.target, `tcps://127.0.0.1:${port}`);
      await tcps.send("t v=1i 1\n");
      await tcps.close();
      const untrusted = createQuestdbTransport(parseConfigString(`tcps::addr=127.0.0.1:${port};`));
      await rejectsDelivery(untrusted.send("t v=2i 2\n"), (e) => {
        assert.equal(e.retryable, true);
        assert.match(e.message, /cannot connect.*UnknownIssuer.*tls_roots/);
      });
      await untrusted.close();
    });
    await until(() => got.length >= 2, "both TLS connections ended");
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
    const tcps = createQuestdbTransport(
      parseConfigString(`tcps::addr=127.0.0.1:${port};request_timeout=300;`),
    );
    let started = Date.now();
    await rejectsDelivery(tcps.send("t v=1i 1\n"), (e) => {
      assert.equal(e.retryable, true);
      assert.match(e.message, /no TLS handshake within 300 ms/);
    });
    assert.ok(Date.now() - started < 3000);
    await tcps.close();

    const tcp = createQuestdbTransport(
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

Deno.test("transport: factory picks the transport; only HTTP offers exec (SQL)", () => {
  for (const protocol of ["http", "https"]) {
    const t = createQuestdbTransport(parseConfigString(`${protocol}::addr=h;`));
    assert.ok(t instanceof HttpTransport);
    assert.equal(typeof t.exec, "function");
  }
  for (const protocol of ["tcp", "tcps"]) {
    const t: IlpTransport = createQuestdbTransport(parseConfigString(`${protocol}::addr=h;`));
    assert.equal(t.exec, undefined, "ILP/TCP has no SQL");
    assert.ok(t instanceof TcpTransport);
  }
  assert.equal(
    createQuestdbTransport(parseConfigString("https::addr=[::1]:9443;")).target,
    "https://[::1]:9443",
  );
  assert.throws(
    () => createQuestdbTransport(parseConfigString("https::addr=h;tls_roots=/nonexistent/ca.pem;")),
    (e: unknown) => e instanceof RangeError && /nonexistent/.test(e.message),
  );
  const e = new IlpDeliveryError("x", { retryable: false, status: 400 });
  assert.equal(e.name, "IlpDeliveryError");
  assert.ok(e instanceof Error);
  assert.equal(e.status, 400);
  assert.equal("serverMessage" in e, false);
  assert.equal("retryAfterMs" in e, false);
});
