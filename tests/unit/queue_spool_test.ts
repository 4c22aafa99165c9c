import assert from "node:assert/strict";
import { type Batch, BatchQueue } from "../../src/delivery/queue.ts";
import { formatSpool, parseSpool, Spool } from "../../src/delivery/spool.ts";

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

Deno.test("spool: round trip, atomic replace, removal when empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(`${dir}/nested`);
    assert.deepEqual(await spool.read(), []);
    const batches = [batch(1, 2), batch(2, 1)];
    await spool.write(batches);
    assert.deepEqual(await spool.read(), batches);
    await spool.write([batch(3, 1)]);
    assert.deepEqual((await spool.read()).map((b) => b.endMs), [3]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/nested`)].map((e) => e.name), ["spool.jsonl"]);
    await spool.write([]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/nested`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: a corrupt spool is moved aside and never blocks startup", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(dir);
    await Deno.writeTextFile(spool.path, formatSpool([batch(1, 1)]).slice(0, -20));
    assert.deepEqual(await spool.read(), []);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /^spool\.jsonl\.corrupt-\d+$/);
    assert.throws(() => parseSpool("garbage\n"), SyntaxError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
