/**
 * Delivery against a local HTTP stand-in for QuestDB's /write. A real QuestDB cannot be made
 * to answer 500 three times and then 204, or 400 for a chosen batch, so this small Deno.serve
 * server plays that part (the fault tests in tests/integration use the real QuestDB).
 */
import assert from "node:assert/strict";
import { Delivery } from "../../src/delivery/delivery.ts";
import type { Batch } from "../../src/delivery/queue.ts";
import { Spool } from "../../src/delivery/spool.ts";
import { parseQuestdbTarget } from "../../src/ilp/config.ts";
import { HttpTransport } from "../../src/ilp/http.ts";

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

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("500 three times then 204: the batch is retried with backoff and delivered once", async () => {
  const s = standIn([500, 500, 500]);
  const t = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${s.port};`));
  const d = new Delivery({ transport: t, bufferRows: 100, initialBackoffMs: 20, maxBackoffMs: 80 });
  d.start();
  d.enqueue(batch(1000));
  await until(() => d.stats.deliveredRows === 2);
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
  await until(() => d.stats.rejectedRows === 3);
  d.enqueue(batch(2000));
  await until(() => d.stats.deliveredRows === 2);
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
  await until(() => d.stats.failures >= 1);
  // QuestDB is back on the same port; it refuses any request holding the bad rows.
  const refuseBad = (body: string) => body.includes("bad,");
  const got: string[] = [];
  const back = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const body = await req.text();
    if (refuseBad(body)) return Response.json({ message: "bad row" }, { status: 400 });
    got.push(body);
    return new Response(null, { status: 204 });
  });
  await until(() => d.stats.deliveredRows === 4 && d.stats.rejectedRows === 1);
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

Deno.test("shutdown during an outage spools; a new Delivery loads and sends it first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(dir);
    const down = new HttpTransport(parseQuestdbTarget("http::addr=127.0.0.1:1;"));
    const d1 = new Delivery({ transport: down, bufferRows: 100, spool, initialBackoffMs: 50 });
    d1.start();
    d1.enqueue(batch(1000));
    d1.enqueue(batch(2000));
    await until(() => d1.stats.failures >= 1);
    assert.equal(await d1.stop(Date.now() + 100), 4);
    assert.equal((await spool.read()).length, 2);

    const s = standIn([]);
    const up = new HttpTransport(parseQuestdbTarget(`http::addr=127.0.0.1:${s.port};`));
    const d2 = new Delivery({ transport: up, bufferRows: 100, spool });
    assert.equal(await d2.loadSpool(), 4);
    d2.start();
    d2.enqueue(batch(3000));
    await until(() => d2.stats.deliveredRows === 6);
    assert.equal(s.bodies.join(""), batch(1000).ilp + batch(2000).ilp + batch(3000).ilp);
    await until(() => [...Deno.readDirSync(dir)].length === 0);
    await d2.stop(Date.now() + 1000);
    await s.server.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
