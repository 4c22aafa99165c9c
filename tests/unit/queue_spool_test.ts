/**
 * The delivery queue (src/delivery/queue.ts) and the spool (src/delivery/spool.ts) on a real
 * temporary directory: segments appended, emptied segments deleted, a partly delivered one
 * replaced, leftovers of a crash handled; and, with generated sequences of operations
 * (npm:fast-check), every row delivered exactly once or counted as dropped.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Batch,
  BatchQueue,
  MAX_BUFFER_ROWS,
  V8_MAX_STRING_LENGTH,
} from "../../src/delivery/queue.ts";
import { formatSpool, parseSpool, SEGMENT_CHARS, Spool } from "../../src/delivery/spool.ts";

function batch(endMs: number, rows: number): Batch {
  let ilp = "";
  for (let i = 0; i < rows; i++) ilp += `t,host=h c=${i}i ${endMs}000000\n`;
  return { endMs, rows, ilp };
}

Deno.test("queue: FIFO, bounded by rows, oldest rows dropped and counted", () => {
  const q = new BatchQueue(10);
  assert.equal(q.push(batch(1, 4)), 0);
  assert.equal(q.push(batch(2, 4)), 0);
  assert.equal(q.rows, 8);
  assert.equal(q.push(batch(3, 4)), 4, "the oldest batch (4 rows) is dropped");
  assert.deepEqual(q.toArray().map((b) => b.endMs), [2, 3]);
  assert.equal(q.shift()!.endMs, 2);
  assert.equal(q.rows, 4);
});

Deno.test("queue: a batch larger than the capacity keeps its newest rows", () => {
  const q = new BatchQueue(3);
  assert.equal(q.push(batch(1, 5)), 2);
  const [b] = q.toArray();
  assert.equal(b!.rows, 3);
  assert.equal(b!.ilp, "t,host=h c=2i 1000000\nt,host=h c=3i 1000000\nt,host=h c=4i 1000000\n");
});

Deno.test("queue: many pushes and shifts keep counts exact", () => {
  const q = new BatchQueue(1000);
  let dropped = 0;
  for (let i = 0; i < 500; i++) dropped += q.push(batch(i, 7));
  assert.equal(q.rows + dropped, 3500);
  assert.ok(q.rows <= 1000);
  while (q.shift()) { /* drain */ }
  assert.equal(q.rows, 0);
  assert.equal(q.length, 0);
});

Deno.test("queue: bounded by characters too; --buffer-rows' maximum of ~512-character rows fits one V8 string", () => {
  const q = new BatchQueue(100, 60);
  assert.equal(q.push(batch(1, 1)), 0); // 23 characters a row
  assert.equal(q.push(batch(2, 1)), 0);
  assert.equal(q.push(batch(3, 1)), 1, "a third row would pass 60 characters: the oldest goes");
  assert.deepEqual(q.toArray().map((b) => b.endMs), [2, 3]);
  assert.equal(q.push(batch(4, 3)), 5, "a batch over the cap goes, with everything older");
  assert.equal(q.length, 0);
  assert.equal(q.nextSeq, 4, "it took a sequence number all the same");
  assert.ok(MAX_BUFFER_ROWS * 512 <= V8_MAX_STRING_LENGTH);
  assert.throws(() => "a".repeat(V8_MAX_STRING_LENGTH + 1), RangeError);
});

/** Names of the files in `dir`, sorted. */
const files = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** The batches in the files of `dir`, in file-name order (what a start would load). */
const onDisk = (dir: string) =>
  files(dir).filter((n) => n.endsWith(".jsonl")).flatMap((n) =>
    parseSpool(Deno.readTextFileSync(`${dir}/${n}`))
  );

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("spool: appends only new batches as segments; delivery deletes or trims them", async () => {
  await inTempDir(async (dir) => {
    const q = new BatchQueue(100);
    const spool = new Spool(`${dir}/nested`);
    assert.deepEqual(await spool.load(q.nextSeq), []);
    q.push(batch(1, 2));
    q.push(batch(2, 1));
    await spool.sync(q, true);
    assert.deepEqual(files(`${dir}/nested`), ["spool.000000000001.jsonl"]);
    const first = Deno.statSync(`${dir}/nested/spool.000000000001.jsonl`).mtime;
    q.push(batch(3, 1));
    await spool.sync(q, true);
    assert.deepEqual(files(`${dir}/nested`), [
      "spool.000000000001.jsonl",
      "spool.000000000002.jsonl",
    ]);
    assert.deepEqual(
      Deno.statSync(`${dir}/nested/spool.000000000001.jsonl`).mtime,
      first,
      "the first segment is not rewritten by an append",
    );
    await spool.sync(q, true);
    assert.equal(files(`${dir}/nested`).length, 2, "nothing new: nothing written");
    assert.deepEqual(onDisk(`${dir}/nested`).map((b) => b.endMs), [1, 2, 3]);

    q.shift(); // batch 1 delivered: the first segment keeps batch 2 only
    await spool.sync(q, false);
    assert.deepEqual(onDisk(`${dir}/nested`).map((b) => b.endMs), [2, 3]);
    q.shift();
    await spool.sync(q, false);
    assert.deepEqual(files(`${dir}/nested`), ["spool.000000000002.jsonl"]);
    q.shift();
    await spool.sync(q, false);
    assert.deepEqual(files(`${dir}/nested`), []);
    assert.equal(spool.batches, 0);
  });
});

Deno.test("spool: an append larger than a segment is split; a start replays every segment in order", async () => {
  await inTempDir(async (dir) => {
    const q = new BatchQueue(1_000_000);
    const big = (endMs: number): Batch => {
      const line = `t,host=h c="${"x".repeat(1000)}" ${endMs}000000\n`;
      return { endMs, rows: 300, ilp: line.repeat(300) };
    };
    for (let i = 1; i <= 12; i++) q.push(big(i)); // 12 x ~300 kB
    const spool = new Spool(dir);
    await spool.sync(q, true);
    const names = files(dir);
    assert.ok(names.length >= 4, `${names.length} segments`);
    for (const n of names) {
      const text = Deno.readTextFileSync(`${dir}/${n}`);
      assert.ok(text.length <= SEGMENT_CHARS * 1.1, `${n}: ${text.length} characters`);
    }
    const q2 = new BatchQueue(1_000_000);
    const loaded = await new Spool(dir).load(q2.nextSeq);
    assert.deepEqual(loaded.map((b) => b.endMs), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(loaded, q.toArray());
  });
});

Deno.test("spool: a crash mid-write loses that segment alone; corrupt files move aside", async () => {
  await inTempDir(async (dir) => {
    const q = new BatchQueue(100);
    const spool = new Spool(dir);
    q.push(batch(1, 1));
    await spool.sync(q, true);
    q.push(batch(2, 1));
    await spool.sync(q, true);
    // A crash while writing the third segment leaves its temporary file (never renamed).
    Deno.writeTextFileSync(
      `${dir}/spool.000000000003.jsonl.tmp-4242`,
      formatSpool([batch(3, 1)]).slice(0, 30),
    );
    // And a segment damaged by something else.
    Deno.writeTextFileSync(`${dir}/spool.000000000002.jsonl`, "garbage\n");
    const loaded = await new Spool(dir).load(0);
    assert.deepEqual(loaded.map((b) => b.endMs), [1]);
    const names = files(dir);
    assert.equal(names.length, 2, names.join(" "));
    assert.equal(names[0], "spool.000000000001.jsonl");
    assert.match(names[1]!, /^spool\.000000000002\.jsonl\.corrupt-\d+$/);
    assert.throws(() => parseSpool("garbage\n"), SyntaxError);
  });
});

Deno.test("spool: the single spool.jsonl of earlier versions loads first; other sinks' files are not read", async () => {
  await inTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/spool.jsonl`, formatSpool([batch(1, 1), batch(2, 1)]));
    Deno.writeTextFileSync(
      `${dir}/spool-influxdb-h-8086-db.000000000001.jsonl`,
      formatSpool([batch(9, 1)]),
    );
    const q = new BatchQueue(100);
    const spool = new Spool(dir);
    const loaded = await spool.load(q.nextSeq);
    assert.deepEqual(loaded.map((b) => b.endMs), [1, 2]);
    for (const b of loaded) q.push(b);
    q.push(batch(3, 1));
    await spool.sync(q, true);
    assert.ok(files(dir).includes("spool.000000000001.jsonl"));
    q.shift();
    q.shift();
    await spool.sync(q, false);
    assert.deepEqual(files(dir), [
      "spool-influxdb-h-8086-db.000000000001.jsonl",
      "spool.000000000001.jsonl",
    ]);
  });
});

Deno.test("spool: a smaller --buffer-rows at the next start drops the oldest spooled rows from the files too", async () => {
  await inTempDir(async (dir) => {
    const q = new BatchQueue(100);
    const spool = new Spool(dir);
    for (let i = 1; i <= 4; i++) q.push(batch(i, 3));
    await spool.sync(q, true);
    // 7 rows: the two newest batches (6 rows) stay; then 2: the newest keeps its last 2 rows.
    for (const [capacity, drops, rows] of [[7, 6, 6], [2, 4, 2]] as const) {
      const q2 = new BatchQueue(capacity);
      const spool2 = new Spool(dir);
      let dropped = 0;
      for (const b of await spool2.load(q2.nextSeq)) dropped += q2.push(b);
      await spool2.sync(q2, false);
      assert.equal(dropped, drops);
      assert.deepEqual(onDisk(dir), q2.toArray(), "the files hold what the queue holds");
      assert.equal(onDisk(dir).reduce((n, b) => n + b.rows, 0), rows);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Generated sequences of operations, run against a real directory. The model is what Delivery
// does (src/delivery/delivery.ts): enqueue pushes; a delivery shifts the oldest batches and then
// syncs the spool without appending, as does a push that dropped rows; a failure syncs with append (the periodic spool write); a
// restart syncs with append (shutdown), then loads into a new queue and spool; a crash loads
// without any sync first. Rows carry unique ids.

type Op =
  | { op: "enqueue"; rows: number }
  | { op: "deliver"; batches: number }
  | { op: "fail" }
  | { op: "restart" }
  | { op: "crash" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("enqueue" as const),
      rows: fc.integer({ min: 1, max: 9 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("deliver" as const),
      batches: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("fail" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("restart" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("crash" as const) }) },
);

/** The ids of a batch's rows (each row is `t id=<n>i <ts>`). */
const ids = (b: Batch) => [...b.ilp.matchAll(/id=(\d+)i/g)].map((m) => Number(m[1]));

Deno.test("spool property: every row is delivered once, in order, or counted as dropped or lost to a crash before it was spooled", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 25 }),
      fc.array(opArb, { maxLength: 40 }),
      async (capacity, ops) => {
        const dir = await Deno.makeTempDir();
        try {
          let q = new BatchQueue(capacity);
          let spool = new Spool(dir);
          await spool.load(q.nextSeq);
          let nextId = 0;
          let dropped = 0;
          const delivered: number[] = [];
          const lost = new Set<number>();
          /** Ids enqueued since the last sync with append (what a crash may lose). */
          let unspooled = new Set<number>();
          const spooled = async () => {
            await spool.sync(q, true);
            unspooled = new Set();
          };
          const restart = async () => {
            q = new BatchQueue(capacity);
            spool = new Spool(dir);
            for (const b of await spool.load(q.nextSeq)) dropped += q.push(b);
            await spool.sync(q, false);
          };
          const count = (bs: Batch[]) => bs.reduce((n, b) => n + b.rows, 0);
          for (const o of ops) {
            if (o.op === "enqueue") {
              let ilp = "";
              for (let i = 0; i < o.rows; i++) {
                unspooled.add(nextId);
                ilp += `t id=${nextId++}i 1\n`;
              }
              const before = q.rows;
              const n = q.push({ endMs: nextId, rows: o.rows, ilp });
              assert.equal(before + o.rows - q.rows, n, "drops counted");
              dropped += n;
              if (n > 0) await spool.sync(q, false); // dropped rows leave the files
            } else if (o.op === "deliver") {
              for (let i = 0; i < o.batches && q.length > 0; i++) {
                delivered.push(...ids(q.shift()!));
              }
              await spool.sync(q, false);
            } else if (o.op === "fail") {
              await spooled();
            } else if (o.op === "restart") {
              await spooled();
              await restart();
            } else {
              const held = q.toArray().flatMap(ids);
              await restart();
              const back = new Set(q.toArray().flatMap(ids));
              for (const id of held) {
                if (back.has(id)) continue;
                assert.ok(unspooled.has(id), `row ${id} was spooled, yet lost in a crash`);
                lost.add(id);
              }
              unspooled = new Set();
            }
            // The files never hold more than the queue: at most --buffer-rows rows.
            assert.ok(count(onDisk(dir)) <= capacity, "spool within --buffer-rows");
          }
          // Drain: a last orderly restart, then deliver everything.
          await spooled();
          await restart();
          while (q.length > 0) delivered.push(...ids(q.shift()!));
          await spool.sync(q, false);
          assert.deepEqual(files(dir), [], "a delivered queue leaves no file");
          assert.equal(new Set(delivered).size, delivered.length, "no row delivered twice");
          assert.deepEqual(delivered, [...delivered].sort((a, b) => a - b), "in order");
          assert.equal(
            delivered.length + dropped + lost.size,
            nextId,
            "every row delivered, dropped (counted) or lost to a crash",
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    ),
    { numRuns: 150 },
  );
});
