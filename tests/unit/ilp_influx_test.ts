/**
 * The `--influxdb` sink's pieces: URL forms, the flag and its credentials, `Retry-After`, and
 * the transport against a local HTTP stand-in. The stand-in plays InfluxDB 2.x/3.x because no 2.x or 3.x
 * server is packaged here (InfluxDB 1.x and VictoriaMetrics are tested for real in
 * tests/integration/influx_test.ts), and plays every server for the answers a real one gives
 * only on its own schedule (429, 503, 422, 403).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ENV_NAMES, FlagExit, parseFlags, startupFields } from "../../src/config/flags.ts";
import { IlpDeliveryError } from "../../src/ilp/errors.ts";
import {
  influxAuthorization,
  InfluxTransport,
  parseInfluxTarget,
  parseRetryAfter,
  readInfluxCredentials,
} from "../../src/ilp/influx.ts";

Deno.test("influx target: the query decides the server", () => {
  assert.deepEqual(parseInfluxTarget("http://db1:8086/?db=stats"), {
    kind: "influxdb1",
    origin: "http://db1:8086",
    writePath: "/write?db=stats&precision=ns",
    name: "influxdb@db1:8086/stats",
    spoolFile: "spool-influxdb-db1-8086-stats.jsonl",
  });
  assert.deepEqual(parseInfluxTarget("https://db1:8086?rp=week&db=stats"), {
    kind: "influxdb1",
    origin: "https://db1:8086",
    writePath: "/write?db=stats&rp=week&precision=ns",
    name: "influxdb@db1:8086/stats/week",
    spoolFile: "spool-influxdb-db1-8086-stats-week.jsonl",
  });
  assert.deepEqual(parseInfluxTarget("http://db2:8086/?org=acme&bucket=containers"), {
    kind: "influxdb2",
    origin: "http://db2:8086",
    writePath: "/api/v2/write?org=acme&bucket=containers&precision=ns",
    name: "influxdb@db2:8086/acme/containers",
    spoolFile: "spool-influxdb-db2-8086-acme-containers.jsonl",
  });
  // InfluxDB 3 ignores org: bucket alone is the database.
  assert.equal(
    parseInfluxTarget("http://db3:8181/?bucket=stats").writePath,
    "/api/v2/write?bucket=stats&precision=ns",
  );
  assert.deepEqual(parseInfluxTarget("http://vm:8428/"), {
    kind: "victoriametrics",
    origin: "http://vm:8428",
    writePath: "/write?precision=ns",
    name: "victoriametrics@vm:8428",
    spoolFile: "spool-victoriametrics-vm-8428.jsonl",
  });
  // A path is a prefix: a VictoriaMetrics cluster's vminsert, or a proxy.
  const cluster = parseInfluxTarget("http://vminsert:8480/insert/0/influx/");
  assert.equal(cluster.kind, "victoriametrics");
  assert.equal(cluster.writePath, "/insert/0/influx/write?precision=ns");
  assert.equal(cluster.name, "victoriametrics@vminsert:8480/insert/0/influx");
  assert.equal(cluster.spoolFile, "spool-victoriametrics-vminsert-8480-insert-0-influx.jsonl");
  // Query values are encoded.
  assert.equal(
    parseInfluxTarget("http://h:8086/?db=my%20db").writePath,
    "/write?db=my+db&precision=ns",
  );
});

Deno.test("influx target: what is refused, and why", () => {
  const cases: [string, RegExp][] = [
    ["db1:8086", /not a URL|scheme/],
    ["not a url", /not a URL/],
    ["ftp://h/?db=x", /scheme ftp: is not http or https/],
    ["http://h:8086/write?db=x", /without \/write/],
    ["http://h:8086/api/v2/write?bucket=x", /without \/write/],
    ["http://h:8086/?db=x#frag", /fragment/],
    ["http://h:8086/?database=x", /unknown query parameter 'database'/],
    ["http://h:8086/?db=x&precision=s", /unknown query parameter 'precision'/],
    ["http://h:8086/?db=x&u=admin", /unknown query parameter 'u'/],
    ["http://h:8086/?db=x&db=y", /'db' appears more than once/],
    ["http://h:8086/?db=", /'db' is empty/],
    ["http://h:8086/?db=x&bucket=y", /not both/],
    ["http://h:8086/?rp=week", /'rp' needs 'db'/],
    ["http://h:8086/?org=acme", /'org' needs 'bucket'/],
  ];
  for (const [url, re] of cases) {
    assert.throws(() => parseInfluxTarget(url), (e: unknown) => {
      assert.ok(e instanceof RangeError, `${url}: ${e}`);
      assert.match(e.message, re, url);
      return true;
    });
  }
  // Credentials never go in the URL, and the message does not repeat them.
  for (const url of ["http://admin:s3cret@h:8086/?db=x", "http://tok3n@h:8428/"]) {
    assert.throws(() => parseInfluxTarget(url), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /INFLUX_TOKEN, or INFLUX_USERNAME and INFLUX_PASSWORD/);
      assert.ok(!/s3cret|tok3n/.test(e.message), e.message);
      return true;
    });
  }
});

Deno.test("influx credentials: from the environment, and the header each server takes", () => {
  assert.deepEqual(readInfluxCredentials({}), {});
  assert.deepEqual(readInfluxCredentials({ INFLUX_TOKEN: "" }), {});
  const all = readInfluxCredentials({
    INFLUX_TOKEN: "t0k",
    INFLUX_USERNAME: "ad",
    INFLUX_PASSWORD: "pä:ss",
  });
  assert.deepEqual(all, { token: "t0k", username: "ad", password: "pä:ss" });
  assert.throws(() => readInfluxCredentials({ INFLUX_USERNAME: "ad" }), /set together/);
  assert.throws(() => readInfluxCredentials({ INFLUX_PASSWORD: "x" }), /set together/);

  const basic = "Basic " + Buffer.from("ad:pä:ss", "utf8").toString("base64");
  const token = { token: "t0k" };
  assert.equal(influxAuthorization("influxdb2", all), "Token t0k");
  assert.equal(influxAuthorization("influxdb2", { username: "ad", password: "x" }), undefined);
  assert.equal(influxAuthorization("influxdb1", all), basic);
  assert.equal(influxAuthorization("influxdb1", token), "Token t0k");
  assert.equal(influxAuthorization("victoriametrics", all), basic);
  assert.equal(influxAuthorization("victoriametrics", token), "Bearer t0k");
  assert.equal(influxAuthorization("victoriametrics", {}), undefined);
});

Deno.test("Retry-After: delay seconds or an HTTP date (RFC 9110 10.2.3)", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  assert.equal(parseRetryAfter("7", now), 7000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Wed, 01 May 2024 12:00:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Wed, 01 May 2024 11:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter("-5", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

/** What the stand-in saw of one request. */
interface Seen {
  path: string;
  authorization: string | null;
  contentType: string | null;
  body: string;
}

/** A local HTTP stand-in answering from `respond`, recording each request. */
async function withStandIn(
  respond: (seen: Seen) => Response,
  body: (origin: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const s: Seen = {
      path: url.pathname + url.search,
      authorization: req.headers.get("authorization"),
      contentType: req.headers.get("content-type"),
      body: await req.text(),
    };
    seen.push(s);
    return respond(s);
  });
  try {
    await body(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("influx transport: InfluxDB 2.x form, token header and body (stand-in: no 2.x server is packaged)", async () => {
  await withStandIn(() => new Response(null, { status: 204 }), async (origin, seen) => {
    const target = parseInfluxTarget(`${origin}/?org=acme&bucket=stats`);
    const t = new InfluxTransport(target, { token: "s3cr3t-t0ken" });
    assert.equal(t.target, `${origin}/api/v2/write?org=acme&bucket=stats&precision=ns`);
    assert.equal("exec" in t, false, "no DDL for these servers");
    await t.send("m,host=h v=1i 1000000000\n");
    await t.send(""); // nothing to send: no request
    await t.close();
    assert.deepEqual(seen, [{
      path: "/api/v2/write?org=acme&bucket=stats&precision=ns",
      authorization: "Token s3cr3t-t0ken",
      contentType: "text/plain; charset=utf-8",
      body: "m,host=h v=1i 1000000000\n",
    }]);
  });
});

Deno.test("influx transport: 1.x and VictoriaMetrics paths and headers (stand-in)", async () => {
  await withStandIn(() => new Response(null, { status: 204 }), async (origin, seen) => {
    const creds = { username: "ad", password: "pw" };
    await new InfluxTransport(parseInfluxTarget(`${origin}/?db=stats&rp=week`), creds).send("a\n");
    await new InfluxTransport(parseInfluxTarget(`${origin}/`), {}).send("b\n");
    await new InfluxTransport(parseInfluxTarget(`${origin}/insert/0/influx`), { token: "t" })
      .send("c\n");
    assert.deepEqual(seen.map((s) => [s.path, s.authorization, s.body]), [
      ["/write?db=stats&rp=week&precision=ns", "Basic " + btoa("ad:pw"), "a\n"],
      ["/write?precision=ns", null, "b\n"],
      ["/insert/0/influx/write?precision=ns", "Bearer t", "c\n"],
    ]);
  });
});

Deno.test("influx transport: each status as the servers document it (stand-in)", async () => {
  const json = (status: number, o: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(o), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  const now = Date.now();
  const cases: [Response, boolean, RegExp | undefined, number | undefined][] = [
    // InfluxDB 1.x: a partial write is a 400; its JSON has "error".
    [
      json(400, { error: 'partial write: field type conflict: input field "cpu" ... dropped=1' }),
      false,
      /partial write: field type conflict/,
      undefined,
    ],
    // InfluxDB 2.x: JSON with "code" and "message".
    [
      json(422, { code: "unprocessable entity", message: "outside retention" }),
      false,
      /outside/,
      undefined,
    ],
    [json(413, { code: "request too large", message: "too large" }), false, /too large/, undefined],
    [
      json(401, { code: "unauthorized", message: "unauthorized access" }),
      true,
      /unauthorized/,
      undefined,
    ],
    [
      json(403, { code: "forbidden", message: "insufficient permissions" }),
      true,
      /permissions/,
      undefined,
    ],
    [json(404, { error: 'database not found: "stats"' }), true, /database not found/, undefined],
    [json(429, { code: "too many requests" }, { "retry-after": "3" }), true, undefined, 3000],
    // VictoriaMetrics answers errors as text.
    [new Response("cannot parse line", { status: 400 }), false, /cannot parse line/, undefined],
    [
      new Response("busy", {
        status: 503,
        headers: { "retry-after": new Date(now + 60_000).toUTCString() },
      }),
      true,
      /busy/,
      60_000,
    ],
    [new Response(null, { status: 500 }), true, undefined, undefined],
    [new Response(null, { status: 302, headers: { location: "/x" } }), false, undefined, undefined],
  ];
  const answers = cases.map((c) => c[0]);
  await withStandIn(() => answers.shift()!, async (origin) => {
    const t = new InfluxTransport(parseInfluxTarget(`${origin}/?db=stats`), {
      username: "u",
      password: "hunter2-secret",
      token: "t0ken-secret",
    });
    for (const [res, retryable, msg, retryAfter] of cases) {
      await assert.rejects(t.send("m v=1 1\n"), (e: unknown) => {
        assert.ok(e instanceof IlpDeliveryError, String(e));
        assert.equal(e.status, res.status);
        assert.equal(e.retryable, retryable, `status ${res.status}`);
        if (msg) assert.match(e.serverMessage ?? "", msg);
        if (msg) assert.match(e.message, msg);
        if (retryAfter === undefined) assert.equal(e.retryAfterMs, undefined);
        // An HTTP date has one-second resolution and the clock moves on.
        else assert.ok(Math.abs(e.retryAfterMs! - retryAfter) <= 2000, `${e.retryAfterMs}`);
        assert.ok(!/secret/.test(e.message), e.message);
        return true;
      });
    }
    await t.close();
  });
});

Deno.test("influx transport: no server and no answer are retryable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const t = new InfluxTransport(parseInfluxTarget(`http://127.0.0.1:${port}/`), {});
  await assert.rejects(t.send("m v=1 1\n"), (e: unknown) => {
    assert.ok(e instanceof IlpDeliveryError);
    assert.equal(e.retryable, true);
    assert.match(e.message, /^VictoriaMetrics http:\/\/127\.0\.0\.1:\d+ write: request failed/);
    return true;
  });
  // Stand-in that never answers in time.
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await released;
    return new Response(null, { status: 204 });
  });
  try {
    const slow = new InfluxTransport(
      parseInfluxTarget(`http://127.0.0.1:${server.addr.port}/?db=x`),
      {},
      100,
    );
    await assert.rejects(slow.send("m v=1 1\n"), (e: unknown) => {
      assert.ok(e instanceof IlpDeliveryError);
      assert.equal(e.retryable, true);
      assert.match(e.message, /^InfluxDB .* no answer within 101 ms/);
      return true;
    });
  } finally {
    release();
    await server.shutdown();
  }
});

/** Runs the flag parser; @returns the config, or the exit code and the one line it printed. */
function flags(argv: string[], env: Record<string, string> = {}) {
  let err = "";
  try {
    const config = parseFlags(["-n", "h", ...argv], env, {
      out: () => {},
      err: (s) => err += s,
    });
    return { config, err };
  } catch (e) {
    assert.ok(e instanceof FlagExit, String(e));
    return { code: e.exitCode, err };
  }
}

Deno.test("--influxdb: alone it replaces QuestDB; with --questdb or QDB_CLIENT_CONF both get rows", () => {
  const alone = flags(["--influxdb", "http://i:8086/?db=s"]).config!;
  assert.equal(alone.questdb, null);
  assert.deepEqual(alone.influxdb.map((t) => t.name), ["influxdb@i:8086/s"]);
  assert.match(startupFields(alone), /questdb=none influxdb=influxdb@i:8086\/s /);

  const both = flags(["--influxdb", "http://vm:8428/", "-q", "db1", "--influxdb", "http://i/?db=s"])
    .config!;
  assert.equal(both.questdb?.host, "db1");
  assert.deepEqual(both.influxdb.map((t) => t.kind), ["victoriametrics", "influxdb1"]);

  const fromEnv = flags(["--influxdb", "http://vm:8428/"], { QDB_CLIENT_CONF: "http::addr=q;" })
    .config!;
  assert.equal(fromEnv.questdb?.host, "q");
  assert.equal(flags([]).config!.questdb?.host, "localhost", "QuestDB stays the default");
  assert.deepEqual(flags([]).config!.influxdb, []);
});

Deno.test("--influxdb: credentials come from INFLUX_*, are never printed, and a bad URL is one line, exit 2", () => {
  const env = { INFLUX_TOKEN: "t0ken-s3cret", INFLUX_USERNAME: "u", INFLUX_PASSWORD: "pw-s3cret" };
  const ok = flags(["--influxdb", "http://i:8086/?bucket=b"], env).config!;
  assert.deepEqual(ok.influxCredentials, {
    token: "t0ken-s3cret",
    username: "u",
    password: "pw-s3cret",
  });
  assert.ok(!/s3cret/.test(startupFields(ok)));
  // No --influxdb: the variables are not even read.
  assert.deepEqual(flags([], { INFLUX_USERNAME: "u" }).config!.influxCredentials, {});

  for (
    const [argv, env, re] of [
      [["--influxdb", "http://u:pw-s3cret@i:8086/?db=s"], {}, /credentials do not go in the URL/],
      [["--influxdb", "http://i:8086/?db=s&p=pw-s3cret"], {}, /unknown query parameter 'p'/],
      [["--influxdb", "http://i/?db=s", "--influxdb", "http://i:80/?db=s"], {}, /given twice/],
      [["--influxdb", "http://i/?db=s"], { INFLUX_PASSWORD: "pw-s3cret" }, /set together/],
    ] as [string[], Record<string, string>, RegExp][]
  ) {
    const r = flags(argv, env);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, re);
    assert.equal(r.err.split("\n").filter((l) => l !== "").length, 1, "one line");
    assert.ok(!/s3cret/.test(r.err), r.err);
  }
  assert.match(
    flags(["--influxdb", "ftp://i/"]).err,
    /^error: option '--influxdb <url>' is invalid\. .* Allowed: http\(s\):\/\/host:8086\/\?db=NAME/,
  );
  assert.ok(ENV_NAMES.includes("INFLUX_TOKEN") && ENV_NAMES.includes("INFLUX_PASSWORD"));
});
