/**
 * Publisher (src/publish.ts): a closed interval becomes one batch per sink, and one row that
 * cannot be encoded costs that row alone, container and disk rows alike.
 *
 * The defect this guards (issue 9, "one bad row costs a whole interval"): before the fix,
 * main.ts encoded an interval in one `try` (`git show HEAD~1:main.ts`, `publish`), so the first
 * row the encoder refused (a NaN, a fractional LONG) threw out of the loop: every container
 * row after it and all disk rows of the interval were never encoded. The tests below put a bad
 * row first and in the middle, and would have seen 0 or 1 rows instead of every good one.
 *
 * The sinks are recorders (tests/helpers/recording_sink.ts): these tests are about what the
 * publisher hands over, not about delivery (tests/unit/delivery_test.ts).
 */
import assert from "node:assert/strict";
import type { DiskReading } from "../../src/disks/collector.ts";
import type { RowSink } from "../../src/delivery/sink.ts";
import { Publisher, type PublisherOptions } from "../../src/publish.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { DISK_TABLE } from "../../src/schema/disks.ts";
import { withLogs } from "../helpers/logs.ts";
import { RecordingSink } from "../helpers/recording_sink.ts";

const END_MS = Date.UTC(2026, 11, 2, 6, 0, 0);
const END_NS = `${END_MS}000000`;

function containerRow(name: string, over: Partial<ContainerRow> = {}): ContainerRow {
  const id = name.padEnd(64, "0");
  return {
    id,
    container: id.slice(0, 12),
    name,
    cpu: 1.5,
    memoryPercentage: 2,
    memoryUse: 1024,
    totalMemory: 4096,
    blockIn: 0,
    blockOut: 0,
    netIn: 10,
    netOut: 20,
    blockInDelta: 0,
    blockOutDelta: 0,
    netInDelta: 10,
    netOutDelta: 20,
    pids: 3,
    samples: 12,
    ...over,
  };
}

function diskReading(name: string, over: Partial<DiskReading> = {}): DiskReading {
  return {
    name,
    device: name.replace("/dev/", ""),
    configured: name,
    fileSystem: "ext4",
    mountPoint: `/mnt/${name.replace("/dev/", "")}`,
    type: "ssd",
    availableSpace: 400,
    totalSpace: 1000,
    percentageUse: 60,
    readBytes: 512,
    writeBytes: 1024,
    readBytesDelta: 0,
    writeBytesDelta: 0,
    ...over,
  };
}

function publisher(sinks: RowSink[], disks?: PublisherOptions["disks"]): Publisher {
  return new Publisher({
    host: "h1",
    containers: { name: "containerStats", decl: CONTAINER_TABLE },
    ...(disks ? { disks } : {}),
    sinks,
  });
}

const diskTable = { name: "diskStats", decl: DISK_TABLE };

Deno.test("a bad container row costs that row alone; the rows after it and the disks go out", async () => {
  await withLogs(async (records) => {
    const sink = new RecordingSink("questdb");
    const p = publisher([sink], {
      table: diskTable,
      collect: () => Promise.resolve([diskReading("/dev/sda1"), diskReading("/dev/sdb1")]),
    });
    await p.publish({
      endMs: END_MS,
      rows: [
        containerRow("bad-first", { cpu: Number.NaN }),
        containerRow("web"),
        containerRow("bad-middle", { pids: 2.5 }),
        containerRow("db"),
      ],
    });
    assert.equal(sink.batches.length, 1, "one batch per sink per interval");
    const batch = sink.batches[0]!;
    assert.equal(batch.endMs, END_MS);
    assert.equal(batch.rows, 4);
    const lines = sink.lines();
    assert.deepEqual(
      lines.map((l) => l.split(" ")[0]),
      [
        "containerStats,host=h1,container=web000000000,name=web",
        "containerStats,host=h1,container=db0000000000,name=db",
        "diskStats,host=h1,name=/dev/sda1,file_system=ext4,mount_point=/mnt/sda1,type=ssd",
        "diskStats,host=h1,name=/dev/sdb1,file_system=ext4,mount_point=/mnt/sdb1,type=ssd",
      ],
    );
    assert.ok(lines.every((l) => l.endsWith(` ${END_NS}`)), "stamped with the interval's end");
    assert.equal(p.rowErrors, 2);
    const dropped = records.filter((r) => r.level === "error").map((r) => r.properties["name"]);
    assert.deepEqual(dropped, ["bad-first", "bad-middle"], "each bad row is logged by name");
  });
});

Deno.test("a bad disk row costs that row alone, before or after good ones", async () => {
  await withLogs(async (records) => {
    const sink = new RecordingSink("questdb");
    // A filesystem with no blocks gives used / (used + available) = 0 / 0.
    const empty = { availableSpace: 0, totalSpace: 0, percentageUse: Number.NaN };
    const p = publisher([sink], {
      table: diskTable,
      collect: () =>
        Promise.resolve([
          diskReading("/dev/loop0", empty),
          diskReading("/dev/sda1"),
          diskReading("/dev/sdb1", { readBytesDelta: Number.POSITIVE_INFINITY }),
          diskReading("/dev/sdc1"),
        ]),
    });
    await p.publish({ endMs: END_MS, rows: [containerRow("web")] });
    assert.deepEqual(sink.lines().map((l) => l.split(",")[0] + " " + l.split(",")[2]), [
      "containerStats container=web000000000",
      "diskStats name=/dev/sda1",
      "diskStats name=/dev/sdc1",
    ]);
    assert.equal(sink.batches[0]!.rows, 3);
    assert.equal(p.rowErrors, 2);
    const errors = records.filter((r) => r.level === "error");
    assert.deepEqual(errors.map((r) => r.properties["name"]), ["/dev/loop0", "/dev/sdb1"]);
    assert.match(String(errors[0]!.properties["error"]), /percentage_use/);
  });
});

Deno.test("every sink gets every good row; a bad row is counted and logged once", async () => {
  await withLogs(async (records) => {
    const questdb = new RecordingSink("questdb");
    const vm = new RecordingSink("victoriametrics", { stringFields: false });
    const p = publisher([questdb, vm]);
    await p.publish({
      endMs: END_MS,
      rows: [containerRow("web"), containerRow("bad", { memoryUse: Infinity })],
    });
    assert.equal(questdb.batches[0]!.rows, 1);
    assert.equal(vm.batches[0]!.rows, 1);
    assert.match(questdb.lines()[0]!, / id="web0+",cpu=1\.5,/);
    assert.match(vm.lines()[0]!, / cpu=1\.5,/, "no string field for VictoriaMetrics");
    assert.equal(p.rowErrors, 1);
    assert.equal(records.filter((r) => r.level === "error").length, 1);
  });
});

Deno.test("disks that cannot be read: logged, the container rows still go out", async () => {
  await withLogs(async (records) => {
    const sink = new RecordingSink("questdb");
    const p = publisher([sink], {
      table: diskTable,
      collect: () => Promise.reject(new Error("statfs hung")),
    });
    await p.publish({ endMs: END_MS, rows: [containerRow("web"), containerRow("db")] });
    assert.equal(sink.batches[0]!.rows, 2);
    assert.ok(
      records.some((r) => r.level === "error" && r.properties["error"] === "statfs hung"),
    );
    assert.equal(p.rowErrors, 0, "no row was refused by the encoder");
  });
});

Deno.test("intervals reach the sinks in the order they were published", async () => {
  const sink = new RecordingSink("questdb");
  const slow = Promise.withResolvers<DiskReading[]>();
  let calls = 0;
  const p = publisher([sink], {
    table: diskTable,
    collect: () => (++calls === 1 ? slow.promise : Promise.resolve([])),
  });
  const first = p.publish({ endMs: END_MS, rows: [containerRow("web")] });
  const second = p.publish({ endMs: END_MS + 60_000, rows: [containerRow("web")] });
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(sink.batches.length, 0, "the second interval waits for the first one's disks");
  slow.resolve([]);
  await Promise.all([first, second]);
  assert.deepEqual(sink.batches.map((b) => b.endMs), [END_MS, END_MS + 60_000]);
});

// The publish chain (issue 16, "The publish chain can die"): before the fix every publish was
// chained on one promise with no catch, so one throw rejected the chain for good: every later
// `publish` returned the same rejection without running, and main.ts's `void` made it an
// unhandled rejection. Each test below throws once and then expects the next interval.

/** A recorder whose `enqueue` throws the first time. */
class FlakySink extends RecordingSink {
  #throws = 1;
  override enqueue(batch: Parameters<RecordingSink["enqueue"]>[0]): void {
    if (this.#throws-- > 0) throw new Error("sink broke");
    super.enqueue(batch);
  }
}

Deno.test("a sink that throws once loses that batch alone; the next interval reaches it", async () => {
  await withLogs(async (records) => {
    const flaky = new FlakySink("questdb");
    const other = new RecordingSink("influxdb");
    const p = publisher([flaky, other]);
    await p.publish({ endMs: END_MS, rows: [containerRow("web")] });
    await p.publish({ endMs: END_MS + 5000, rows: [containerRow("web")] });
    assert.deepEqual(flaky.batches.map((b) => b.endMs), [END_MS + 5000]);
    assert.deepEqual(other.batches.map((b) => b.endMs), [END_MS, END_MS + 5000]);
    assert.equal(other.batches[0]!.rows, 1, "the other sink's batch is whole");
    assert.equal(p.publishErrors, 1);
    const errors = records.filter((r) => r.level === "error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.properties["error"], "sink broke");
  });
});

Deno.test("an error after the batches are queued (onPublished) does not stop later publishes", async () => {
  await withLogs(async () => {
    const sink = new RecordingSink("questdb");
    let calls = 0;
    const p = new Publisher({
      host: "h1",
      containers: { name: "containerStats", decl: CONTAINER_TABLE },
      sinks: [sink],
      onPublished: () => {
        if (++calls === 1) throw new Error("status failed");
      },
    });
    await p.publish({ endMs: END_MS, rows: [containerRow("web")] });
    await p.publish({ endMs: END_MS + 5000, rows: [containerRow("web")] });
    assert.deepEqual(sink.batches.map((b) => b.endMs), [END_MS, END_MS + 5000]);
    assert.equal(calls, 2);
    assert.equal(p.publishErrors, 1);
  });
});

Deno.test("a disk collector that throws (not rejects) once: logged; both intervals go out", async () => {
  await withLogs(async (records) => {
    const sink = new RecordingSink("questdb");
    let calls = 0;
    const p = publisher([sink], {
      table: diskTable,
      collect: () => {
        if (++calls === 1) throw new Error("mountinfo vanished");
        return Promise.resolve([diskReading("/dev/sda1")]);
      },
    });
    await p.publish({ endMs: END_MS, rows: [containerRow("web")] });
    await p.publish({ endMs: END_MS + 5000, rows: [containerRow("web")] });
    assert.deepEqual(sink.batches.map((b) => b.rows), [1, 2]);
    assert.ok(records.some((r) => r.properties["error"] === "mountinfo vanished"));
  });
});
