/**
 * Delivery against local HTTP stand-ins for QuestDB's /write and InfluxDB's write APIs. A real
 * server cannot be made to answer 500 three times and then 204, 400 for a chosen batch, 401
 * until "the token is fixed", or 429 with Retry-After, so small Deno.serve servers play that
 * part (tests/integration uses the real QuestDB, InfluxDB and VictoriaMetrics).
 */
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import FakeTimers from "@sinonjs/fake-timers";
import { Delivery } from "../../src/delivery/delivery.ts";
import type { Batch } from "../../src/delivery/queue.ts";
import { Spool } from "../../src/delivery/spool.ts";
import { parseConfigString, parseQuestdbTarget } from "../../src/ilp/config.ts";
import { HttpTransport } from "../../src/ilp/http.ts";
import { createQuestdbTransport } from "../../src/ilp/questdb.ts";
import { InfluxTransport, parseInfluxTarget } from "../../src/ilp/influx.ts";
import { until } from "../helpers/ilp.ts";
import { silentServer } from "../helpers/silent.ts";
import { withLogs } from "../helpers/logs.ts";

function batch(endMs: number, rows = 2, table = "t"): Batch {
  let ilp = "";
  for (let i = 0; i < rows; i++) ilp += `${table},host=h c=${i}i ${endMs}000000\n`;
  return { endMs, rows, ilp };
}

/** A /write stand-in answering from a script of statuses (then 204). */
function standIn(script: number[]) {
  const bodies: string[] = [];
  const statuses: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    const status = script.shift() ?? 204;
    statuses.push(status);
    if (status === 204) {
      bodies.push(body);
      return new Response(null, { status });
    }
    if (status === 400 && !body.includes("bad")) {
      // Only the request holding the bad batch is refused once split.
      bodies.push(body);
      return new Response(null, { status: 204 });
    }
    return Response.json({
      code: status === 400 ? "invalid" : "internal error",
      message: status === 400 ? "cast error for line protocol string column" : "boom",
      line: 1,
      errorId: "abc-1",
    }, { status });
  });
  return { server, bodies, statuses, port: server.addr.port };
}

Deno.test("500 three times then 204: the batch is retried with backoff and delivered once", async () => {
  const s = standIn([500, 500, 500]);
  const t = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${s.port};`));
  const d = new Delivery({ transport: t, bufferRows: 100, initialBackoffMs: 20, maxBackoffMs: 80 });
  d.start();
  d.enqueue(batch(1000));
  await until(() => d.stats.deliveredRows === 2, "d.stats.deliveredRows === 2");
  assert.deepEqual(s.statuses, [500, 500, 500, 204]);
  assert.deepEqual(s.bodies, [batch(1000).ilp]);
  assert.equal(d.stats.failures, 0);
  await d.stop(Date.now() + 1000);
  await s.server.shutdown();
});

Deno.test("400: the batch is dropped and counted, the next one goes through, no loop", async () => {
  const s = standIn([400]);
  const t = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${s.port};`));
  const d = new Delivery({ transport: t, bufferRows: 100, initialBackoffMs: 20 });
  d.start();
  d.enqueue(batch(1000, 3, "bad"));
  await until(() => d.stats.rejectedRows === 3, "d.stats.rejectedRows === 3");
  d.enqueue(batch(2000));
  await until(() => d.stats.deliveredRows === 2, "d.stats.deliveredRows === 2");
  assert.deepEqual(s.statuses, [400, 204]);
  assert.equal(d.stats.last?.ok, true);
  await d.stop(Date.now() + 1000);
  await s.server.shutdown();
});

Deno.test("a backlog with one bad batch: only that batch is dropped", async () => {
  // Connection refused first (QuestDB down), so a backlog builds up.
  const s = standIn([]);
  const port = s.port;
  await s.server.shutdown();
  const t = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${port};`));
  const d = new Delivery({
    transport: t,
    bufferRows: 100,
    initialBackoffMs: 200,
    maxBackoffMs: 200,
  });
  d.start();
  d.enqueue(batch(1000));
  d.enqueue(batch(2000, 1, "bad"));
  d.enqueue(batch(3000));
  await until(() => d.stats.failures >= 1, "d.stats.failures >= 1");
  // QuestDB is back on the same port; it refuses any request holding the bad rows.
  const refuseBad = (body: string) => body.includes("bad,");
  const got: string[] = [];
  const back = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const body = await req.text();
    if (refuseBad(body)) return Response.json({ message: "bad row" }, { status: 400 });
    got.push(body);
    return new Response(null, { status: 204 });
  });
  await until(
    () => d.stats.deliveredRows === 4 && d.stats.rejectedRows === 1,
    "d.stats.deliveredRows === 4 && d.stats.rejectedRows === 1",
  );
  assert.equal(got.join(""), batch(1000).ilp + batch(3000).ilp);
  await d.stop(Date.now() + 1000);
  await back.shutdown();
});

Deno.test("full queue while QuestDB is down: oldest rows dropped and counted", async () => {
  const t = new HttpTransport(parseQuestdbTarget("http::addr=127.0.0.1:1;"));
  const d = new Delivery({ transport: t, bufferRows: 5, initialBackoffMs: 50 });
  d.start();
  for (let i = 1; i <= 5; i++) d.enqueue(batch(i * 1000));
  assert.equal(d.pendingRows, 4);
  assert.equal(d.stats.droppedRows, 6);
  await d.stop(Date.now() + 200);
});

/** The batches a start would load from the spool directory `dir` (read by a fresh Spool). */
const spooled = (dir: string, file?: string) => new Spool(dir, file).load(0);

Deno.test("shutdown during an outage spools; a new Delivery loads and sends it first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(dir);
    const down = new HttpTransport(parseQuestdbTarget("http::addr=127.0.0.1:1;"));
    const d1 = new Delivery({ transport: down, bufferRows: 100, spool, initialBackoffMs: 50 });
    d1.start();
    d1.enqueue(batch(1000));
    d1.enqueue(batch(2000));
    await until(() => d1.stats.failures >= 1, "d1.stats.failures >= 1");
    assert.equal(await d1.stop(Date.now() + 100), 4);
    assert.equal((await spooled(dir)).length, 2);

    const s = standIn([]);
    const up = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${s.port};`));
    const d2 = new Delivery({ transport: up, bufferRows: 100, spool });
    assert.equal(await d2.loadSpool(), 4);
    d2.start();
    d2.enqueue(batch(3000));
    await until(() => d2.stats.deliveredRows === 6, "d2.stats.deliveredRows === 6");
    assert.equal(s.bodies.join(""), batch(1000).ilp + batch(2000).ilp + batch(3000).ilp);
    await until(
      () => [...Deno.readDirSync(dir)].length === 0,
      "[...Deno.readDirSync(dir)].length === 0",
    );
    await d2.stop(Date.now() + 1000);
    await s.server.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Retry timing and logging under fake time (@sinonjs/fake-timers: setTimeout and Date are
// fake, so backoffs of seconds take no wall time; the HTTP stand-ins are real, and each one
// notes the fake time a request arrives).

/** A stand-in answering the n-th request (0-based) from `answer`, noting fake arrival times. */
function timedStandIn(answer: (n: number) => Response) {
  const times: number[] = [];
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    bodies.push(await req.text());
    times.push(Date.now());
    return answer(times.length - 1);
  });
  return { server, times, bodies, origin: `http://127.0.0.1:${server.addr.port}` };
}

/**
 * Runs `body` with fake setTimeout/Date and the daemon's log records collected. `run(done)`
 * fires the delivery loop's timers one at a time, letting real I/O (the stand-in's answers)
 * complete in between, until `done()` holds.
 */
async function withFakeTime(
  body: (
    run: (done: () => boolean, what: string) => Promise<void>,
    records: LogRecord[],
  ) => Promise<void>,
): Promise<void> {
  const realSetTimeout = globalThis.setTimeout;
  await withLogs(async (records) => {
    const clock = FakeTimers.withGlobal(globalThis).install({
      now: Date.parse("2024-05-01T12:00:00Z"),
      toFake: ["setTimeout", "clearTimeout", "Date"],
    });
    const realEnd = performance.now() + 20_000;
    const run = async (done: () => boolean, what: string) => {
      while (!done()) {
        if (performance.now() > realEnd) throw new Error(`not within 20 s of real time: ${what}`);
        // A pending timer is the loop's backoff (it sets none while a request is out): fire it.
        // Otherwise a request is out: let real time pass for the stand-in to answer.
        if (clock.countTimers() > 0) await clock.nextAsync();
        else await new Promise((r) => realSetTimeout(r, 1));
      }
    };
    try {
      await body(run, records);
    } finally {
      clock.uninstall();
    }
  });
}

/** The gaps between consecutive arrival times, ms. */
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

/** Log records of `level` whose message starts with `text`. */
const logged = (records: LogRecord[], level: string, text: string) =>
  records.filter((r) => r.level === level && String(r.rawMessage).startsWith(text));

Deno.test("retry_timeout: quick retries (10 ms doubling to retry_max_backoff_millis) for retry_timeout, then 1 s doubling; warned once, after retry_timeout", async () => {
  await withFakeTime(async (run, records) => {
    let firstFailure = 0;
    const s = timedStandIn((n) => {
      if (n === 0) firstFailure = Date.now();
      return Date.now() - firstFailure < 20_000
        ? Response.json({ message: "busy" }, { status: 503 })
        : new Response(null, { status: 204 });
    });
    const cfg = parseConfigString(
      `http::addr=127.0.0.1:${s.server.addr.port};retry_timeout=10000;retry_max_backoff_millis=400;`,
    );
    const d = new Delivery({
      transport: new HttpTransport(cfg),
      bufferRows: 100,
      retryTimeoutMs: cfg.retryTimeoutMs,
      retryMaxBackoffMs: cfg.retryMaxBackoffMs,
    });
    d.start();
    d.enqueue(batch(1000));
    await run(() => d.stats.deliveredRows === 2, "delivered after 20 s of 503");
    const t0 = s.times[0]!;
    let quick = 0;
    let slow = 0;
    gaps(s.times).forEach((gap, i) => {
      const sinceFirst = s.times[i]! - t0;
      const cap = sinceFirst < 10_000
        ? Math.min(400, 10 * 2 ** quick++)
        : Math.min(60_000, 1000 * 2 ** slow++);
      assert.ok(
        gap >= cap / 2 && gap <= cap,
        `gap ${i} (${sinceFirst} ms in) ${gap} ms, cap ${cap}`,
      );
    });
    assert.ok(quick >= 25 && slow >= 3, `${quick} quick and ${slow} slow retries`);
    const warned = logged(records, "warning", "Publish of");
    assert.equal(warned.length, 1, "one warning for the whole outage");
    assert.ok(warned[0]!.timestamp - t0 >= 10_000, "not before retry_timeout");
    assert.equal(logged(records, "info", "Delivery to").length, 1, "the recovery");
    assert.deepEqual(s.bodies.slice(-1), [batch(1000).ilp]);
    await d.stop(Date.now() + 1000);
    await s.server.shutdown();
  });
});

Deno.test("retry_timeout=0: no quick retries; the first failure is warned at once", async () => {
  await withFakeTime(async (run, records) => {
    const s = timedStandIn((n) =>
      n < 3 ? new Response("down", { status: 500 }) : new Response(null, { status: 204 })
    );
    const cfg = parseConfigString(`http::addr=127.0.0.1:${s.server.addr.port};retry_timeout=0;`);
    const d = new Delivery({
      transport: new HttpTransport(cfg),
      bufferRows: 100,
      retryTimeoutMs: cfg.retryTimeoutMs,
    });
    d.start();
    d.enqueue(batch(1000));
    await run(() => d.stats.deliveredRows === 2, "delivered");
    const [g1, g2, g3] = gaps(s.times);
    assert.ok(
      g1! >= 500 && g1! <= 1000 && g2! >= 1000 && g2! <= 2000 && g3! >= 2000 && g3! <= 4000,
    );
    const warned = logged(records, "warning", "Publish of");
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.timestamp, s.times[0]);
    await d.stop(Date.now() + 1000);
    await s.server.shutdown();
  });
});

Deno.test("influx sink: 401 and 403 are retried and logged once per change; fixing the token recovers", async () => {
  await withFakeTime(async (run, records) => {
    const script = [401, 401, 403, 403, 403];
    const s = timedStandIn((n) =>
      n < script.length
        ? Response.json({ code: "unauthorized", message: `refused ${script[n]}` }, {
          status: script[n]!,
        })
        : new Response(null, { status: 204 })
    );
    const d = new Delivery({
      name: "influxdb@test",
      transport: new InfluxTransport(parseInfluxTarget(`${s.origin}/?bucket=b`), { token: "x" }),
      bufferRows: 100,
    });
    d.start();
    d.enqueue(batch(1000));
    await run(() => d.stats.deliveredRows === 2, "delivered once the token works");
    assert.equal(s.times.length, 6);
    assert.equal(d.stats.rejectedRows, 0, "nothing dropped");
    const warned = logged(records, "warning", "Publish of").map((r) => r.properties["error"]);
    assert.equal(warned.length, 2, "one warning per state: 401, then 403");
    assert.match(String(warned[0]), /HTTP 401: refused 401/);
    assert.match(String(warned[1]), /HTTP 403: refused 403/);
    assert.equal(logged(records, "info", "Delivery to").length, 1, "the recovery");
    await d.stop(Date.now() + 1000);
    await s.server.shutdown();
  });
});

Deno.test("influx sink: 429 waits for Retry-After, not the shorter backoff", async () => {
  await withFakeTime(async (run) => {
    const s = timedStandIn((n) =>
      n === 0
        ? new Response("slow down", { status: 429, headers: { "retry-after": "30" } })
        : new Response(null, { status: 204 })
    );
    const d = new Delivery({
      transport: new InfluxTransport(parseInfluxTarget(`${s.origin}/`), {}),
      bufferRows: 100,
    });
    d.start();
    d.enqueue(batch(1000));
    await run(() => d.stats.deliveredRows === 2, "delivered after the wait");
    const [gap] = gaps(s.times);
    assert.ok(gap! >= 30_000 && gap! <= 31_000, `waited ${gap} ms`);
    await d.stop(Date.now() + 1000);
    await s.server.shutdown();
  });
});

Deno.test("influx sink: 400 (partial write) and 422 are dropped and counted with the server's message", async () => {
  await withFakeTime(async (run, records) => {
    const s = timedStandIn((n) =>
      n === 0
        ? Response.json({ error: "partial write: field type conflict dropped=2" }, { status: 400 })
        : n === 1
        ? Response.json({ code: "unprocessable entity", message: "outside retention" }, {
          status: 422,
        })
        : new Response(null, { status: 204 })
    );
    const d = new Delivery({
      name: "influxdb@test",
      transport: new InfluxTransport(parseInfluxTarget(`${s.origin}/?db=x`), {}),
      bufferRows: 100,
    });
    d.start();
    d.enqueue(batch(1000));
    await run(() => d.stats.rejectedRows === 2, "first batch refused");
    d.enqueue(batch(2000, 3));
    await run(() => d.stats.rejectedRows === 5, "second batch refused");
    d.enqueue(batch(3000));
    await run(() => d.stats.deliveredRows === 2, "third batch delivered");
    assert.equal(s.times.length, 3, "no retries of a refused batch");
    const errors = logged(records, "error", "{sink} refused").map((r) => r.properties["error"]);
    assert.match(String(errors[0]), /HTTP 400: partial write: field type conflict/);
    assert.match(String(errors[1]), /HTTP 422: outside retention/);
    await d.stop(Date.now() + 1000);
    await s.server.shutdown();
  });
});

// ---------------------------------------------------------------------------------------------
// Shutdown under a sink that never answers (issue 16; the sink is tests/helpers/silent.ts). Before the fix `stop` awaited the
// request in flight for its whole request_timeout (plus size), so a budget shorter than that
// ran out before anything was spooled: here `stop` would not resolve at the deadline at all.

Deno.test("stop under a sink that never answers: aborted at the deadline, all spooled, delivered once after a restart", async () => {
  const dir = await Deno.makeTempDir();
  const silent = silentServer();
  try {
    await withLogs(async (records) => {
      const realSetTimeout = globalThis.setTimeout;
      const clock = FakeTimers.withGlobal(globalThis).install({
        now: Date.parse("2024-05-01T12:00:00Z"),
        toFake: ["setTimeout", "clearTimeout", "Date"],
      });
      try {
        // request_timeout of 10 minutes: only the shutdown deadline can end the request.
        const t = new HttpTransport(
          parseQuestdbTarget(`http::addr=127.0.0.1:${silent.port};request_timeout=600000;`),
        );
        const d = new Delivery({ transport: t, bufferRows: 100, spool: new Spool(dir) });
        d.start();
        d.enqueue(batch(1000));
        const realEnd = performance.now() + 10_000;
        while (!silent.received().includes(batch(1000).ilp)) {
          assert.ok(performance.now() < realEnd, "the request reached the silent server");
          await new Promise((r) => realSetTimeout(r, 5));
        }
        d.enqueue(batch(2000)); // the partial interval, published at shutdown
        let resolved = false;
        const stopped = d.stop(Date.now() + 9000).then((left) => (resolved = true, left));
        await clock.tickAsync(8999);
        assert.equal(resolved, false, "delivery is tried until the deadline");
        await clock.tickAsync(1);
        while (!resolved) {
          assert.ok(performance.now() < realEnd, "stop resolved at the deadline");
          await new Promise((r) => realSetTimeout(r, 5));
        }
        assert.equal(await stopped, 4);
        assert.equal(Date.now(), Date.parse("2024-05-01T12:00:09Z"), "no later than the deadline");
      } finally {
        clock.uninstall();
      }
      assert.ok(logged(records, "warning", "Shutdown with").length === 1);
    });
    assert.deepEqual(await spooled(dir), [batch(1000), batch(2000)], "in-flight batch included");

    // The restart: the server that received batch 1000 (it may have committed it) gets the
    // same bytes again, so QuestDB's DEDUP UPSERT KEYS(timestamp, ...) stores each row once
    // (tests/integration/faults_test.ts shows that on a real QuestDB).
    const s = standIn([]);
    const up = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${s.port};`));
    const d2 = new Delivery({ transport: up, bufferRows: 100, spool: new Spool(dir) });
    assert.equal(await d2.loadSpool(), 4);
    d2.start();
    await until(() => d2.stats.deliveredRows === 4, "d2.stats.deliveredRows === 4");
    assert.equal(s.bodies.join(""), batch(1000).ilp + batch(2000).ilp, "each batch once");
    await until(() => [...Deno.readDirSync(dir)].length === 0, "the spool emptied");
    await d2.stop(Date.now() + 1000);
    await s.server.shutdown();
  } finally {
    await silent.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stop under a TCP sink that never reads: the write is abandoned at the deadline, all spooled", async () => {
  const dir = await Deno.makeTempDir();
  const silent = silentServer(false); // once the socket buffers fill, writes block
  try {
    const t = createQuestdbTransport(
      parseQuestdbTarget(`tcp::addr=127.0.0.1:${silent.port};request_timeout=600000;`),
    );
    const d = new Delivery({ transport: t, bufferRows: 1_000_000, spool: new Spool(dir) });
    d.start();
    const big = batch(1000, 400_000); // ~14 MB: more than the socket buffers take
    d.enqueue(big);
    await until(() => silent.connections > 0, "connected");
    const t0 = performance.now();
    assert.equal(await d.stop(Date.now() + 300), 400_000);
    assert.ok(performance.now() - t0 < 5000, "stop did not wait for the write");
    assert.deepEqual(await spooled(dir), [big]);
  } finally {
    await silent.close();
    await Deno.remove(dir, { recursive: true });
  }
});
