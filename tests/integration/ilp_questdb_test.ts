/**
 * QuestDB's ILP transports against a real, private QuestDB (tests/helpers/questdb.ts): rows
 * land with every type and awkward text intact, errors carry QuestDB's answer, a dropped TCP
 * connection is replaced, refused connections are retryable. The stand-in cases are in
 * tests/unit/ilp_transport_test.ts.
 */
import assert from "node:assert/strict";
import { parseConfigString, parseQuestdbTarget } from "../../src/ilp/config.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import { HttpTransport } from "../../src/ilp/http.ts";
import { createQuestdbTransport } from "../../src/ilp/questdb.ts";
import { TcpTransport } from "../../src/ilp/tcp.ts";
import { rejectsDelivery, until } from "../helpers/ilp.ts";
import { freePort, startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";

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
  ignore: await requires("questdb"),
  // The QuestDB child process is started and stopped inside the test.
  sanitizeResources: true,
  sanitizeOps: true,
}, async (t) => {
  const qdb = await startQuestDB();
  try {
    const http = createQuestdbTransport(parseQuestdbTarget(`127.0.0.1:${qdb.httpPort}`));
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
        // The transport still works afterwards.
        enc.table("ilp_conflict").intColumn("v", 7).at(T0 + 2000n);
        await http.send(enc.take());
        const ok = await qdb.waitFor(
          "select v from ilp_conflict",
          (r) => r.dataset.length >= 1,
          10_000,
        );
        // One request is one transaction: the good first line of the refused request was not
        // committed either. A WAL table applies its transactions in order, so once the later
        // row is visible an earlier commit would be too: [[7]] alone is the proof, not an
        // empty table seen too early.
        assert.deepEqual(ok.dataset, [[7]]);
      },
    );

    await t.step("TCP: rows land", async () => {
      const tcp = createQuestdbTransport(
        parseConfigString(`tcp::addr=127.0.0.1:${qdb.ilpTcpPort};`),
      );
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
        const tcp = new TcpTransport(
          parseConfigString(`tcp::addr=127.0.0.1:${qdb.ilpTcpPort};`),
        );
        await tcp.send("this is not a line\n");
        await until(() => !tcp.connected, "QuestDB closed the connection after the bad line");
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
      const h = createQuestdbTransport(parseQuestdbTarget(`127.0.0.1:${port}`));
      await rejectsDelivery(h.send("t v=1i 1\n"), (e) => {
        assert.equal(e.retryable, true);
        assert.equal(e.status, undefined);
        assert.match(e.message, new RegExp(`http://127\\.0\\.0\\.1:${port}`));
      });
      await h.close();
      const c = createQuestdbTransport(parseConfigString(`tcp::addr=127.0.0.1:${port};`));
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
