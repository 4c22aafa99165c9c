/**
 * `--statsd`: the flag, and the datagrams the sink sends for literal rows, encoded by the
 * daemon's own ILP encoder as publish.ts does and received on a loopback UDP socket of the
 * test's own (the real socket path; no server is needed to see the bytes).
 *
 * The DogStatsD form is checked against Datadog's documented datagram format ("Datagram Format
 * and Shell Usage", https://docs.datadoghq.com/extend/dogstatsd/datagram_shell):
 * `<METRIC_NAME>:<VALUE>|<TYPE>|#<TAG_KEY_1>:<TAG_VALUE_1>,<TAG_2>`, names of ASCII
 * alphanumerics, underscores and periods starting with a letter, tags separated by commas.
 * No DogStatsD server ran here.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import FakeTimers from "@sinonjs/fake-timers";
import { FlagExit, parseFlags } from "../../src/config/flags.ts";
import type { LifecycleRow } from "../../src/catalog/events.ts";
import { labelSymbols } from "../../src/catalog/labels.ts";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import type { DiskReading } from "../../src/disks/collector.ts";
import type { ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import type { TableSpec } from "../../src/schema/ddl.ts";
import { DISK_TABLE } from "../../src/schema/disks.ts";
import { EVENT_TABLE, eventTimestamp } from "../../src/schema/events.ts";
import {
  defineTable,
  encodeRows,
  hostSymbol,
  msToNs,
  type TableDecl,
  withSymbols,
} from "../../src/schema/table.ts";
import {
  MAX_DATAGRAM_BYTES,
  parseStatsdTarget,
  StatsdSink,
  type StatsdTarget,
} from "../../src/sink/statsd.ts";
import { withLogs } from "../helpers/logs.ts";

const quiet = { out: () => {}, err: () => {} };

Deno.test("--statsd: udp://host[:port], prefix and tags; alone it means no QuestDB", () => {
  assert.deepEqual(parseStatsdTarget("udp://graphite"), {
    host: "graphite",
    port: 8125,
    prefix: "container_statsd",
    tags: null,
    name: "statsd@graphite:8125",
  });
  assert.deepEqual(parseStatsdTarget("udp://[::1]:9125/?prefix=ops.docker&tags=dogstatsd"), {
    host: "::1",
    port: 9125,
    prefix: "ops.docker",
    tags: "dogstatsd",
    name: "statsd@[::1]:9125",
  });
  const alone = parseFlags(
    ["--node", "n", "--statsd", "udp://a", "--statsd", "udp://b:1"],
    {},
    quiet,
  );
  assert.equal(alone.questdb, null);
  assert.deepEqual(alone.statsd.map((t) => t.name), ["statsd@a:8125", "statsd@b:1"]);
  const both = parseFlags(["--node", "n", "--statsd", "udp://a", "-q", "db1"], {}, quiet);
  assert.notEqual(both.questdb, null);
  assert.deepEqual(parseFlags(["--node", "n"], {}, quiet).statsd, []);
});

Deno.test("a sink that sent nothing stops cleanly", async () => {
  const sink = new StatsdSink({ target: parseStatsdTarget("udp://127.0.0.1:9"), tables: TABLES });
  assert.equal(await sink.loadSpool(), 0);
  sink.start();
  sink.enqueue({ endMs: END_MS, rows: 0, ilp: "" });
  assert.equal(await sink.stop(0), 0);
  assert.equal(sink.stats.deliveredRows, 0);
});

Deno.test("--statsd: a bad URL exits 2 with one line naming the flag and the allowed form", () => {
  const cases: [string, string][] = [
    ["tcp://a:8125", "scheme tcp: is not udp:"],
    ["udp://", "no host"],
    ["udp://a?prefix=x&sample=1", "unknown query key sample"],
    ["udp://a?tags=influx", "tags=influx is not tags=dogstatsd"],
    ["udp://a?prefix=a..b", "prefix a..b is not letters, digits and _ in dot-separated parts"],
    ["udp://a/x", "a path is not allowed"],
    ["a:8125", "scheme a: is not udp:"],
  ];
  for (const [url, why] of cases) {
    let err = "";
    assert.throws(
      () =>
        parseFlags(["--node", "n", "--statsd", url], {}, { out: () => {}, err: (s) => err += s }),
      (e) => e instanceof FlagExit && e.exitCode === 2,
    );
    assert.equal(
      err,
      `error: option '--statsd <url>' argument '${url}' is invalid. ${why}. Allowed: ` +
        "udp://host[:8125][?prefix=container_statsd][&tags=dogstatsd].\n",
    );
  }
});

const ROW: ContainerRow = {
  id: "f".repeat(64),
  container: "f".repeat(12),
  name: "shop.web_1",
  cpu: 12.5,
  memoryPercentage: 1.25,
  memoryUse: 209715200,
  totalMemory: 2147483648,
  blockIn: 4096,
  blockOut: 8192,
  netIn: 1500,
  netOut: 0,
  blockInDelta: 0,
  blockOutDelta: 4096,
  netInDelta: 1500,
  netOutDelta: 7,
  pids: 3,
  samples: 10,
};
const LABELS = {
  "com.docker.compose.project": "shop|a,b#c@d:e\nf",
  "com.docker.compose.service": "web",
};
const END_MS = Date.parse("2026-12-06T12:00:10Z");

/** The container table with the default label symbols, as the catalog declares it. */
const CONTAINERS = withSymbols(
  CONTAINER_TABLE,
  labelSymbols<ContainerRow>([
    { key: "com.docker.compose.project", column: "compose_project" },
    { key: "com.docker.compose.service", column: "compose_service" },
  ], () => LABELS),
);
const EVENTS = withSymbols(
  EVENT_TABLE,
  labelSymbols<LifecycleRow>([{ key: "com.docker.compose.project", column: "compose_project" }], (
    r,
  ) => r.labels),
);
const TABLES: TableSpec[] = [
  { name: "containerStats", decl: CONTAINERS as TableDecl<never> },
  { name: "containerEvents", decl: EVENTS as TableDecl<never> },
  { name: "diskStats", decl: DISK_TABLE as TableDecl<never> },
];

/** A batch of `rows` of one table, as publish.ts encodes it. */
function batch<R>(
  table: string,
  decl: TableDecl<R>,
  rows: R[],
  ts: bigint | ((r: R) => bigint) = msToNs(END_MS),
  host = "web-1.example.com",
) {
  const enc = new IlpEncoder();
  const n = encodeRows(enc, decl, table, rows, ts, { host }, (_, e) => assert.fail(e));
  return { endMs: END_MS, rows: n, ilp: enc.take() };
}

/**
 * Runs a sink on a fresh loopback receiver: `feed` enqueues batches, then every datagram the
 * sink sent is read back (a marker sent after `sent()` resolved closes the list).
 */
async function datagrams(
  url: string,
  tables: readonly TableSpec[],
  feed: (sink: StatsdSink) => void,
): Promise<string[]> {
  const rx = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const addr = rx.addr as Deno.NetAddr;
  const target = parseStatsdTarget(url.replace("PORT", String(addr.port)));
  const sink = new StatsdSink({ target, tables });
  try {
    feed(sink);
    await sink.sent();
    await rx.send(new TextEncoder().encode("END"), addr);
    const got: string[] = [];
    for (;;) {
      const [bytes] = await rx.receive();
      const text = new TextDecoder().decode(bytes);
      if (text === "END") return got;
      got.push(text);
    }
  } finally {
    await sink.stop(0);
    rx.close();
  }
}

const lines = (ds: string[]) => ds.flatMap((d) => d.split("\n"));

Deno.test("plain StatsD: <prefix>.<host>.<name>.<column>, gauges and *_delta counters", async () => {
  const ds = await datagrams("udp://127.0.0.1:PORT", TABLES, (sink) => {
    sink.enqueue(batch("containerStats", CONTAINERS, [ROW]));
  });
  const p = "container_statsd.web-1_example_com.shop_web_1";
  assert.deepEqual(ds, [
    [
      `${p}.cpu:12.5|g`,
      `${p}.memory_percentage:1.25|g`,
      `${p}.memory_use:209715200|g`,
      `${p}.total_memory:2147483648|g`,
      `${p}.block_io_in:4096|g`,
      `${p}.block_io_out:8192|g`,
      `${p}.net_io_in:1500|g`,
      `${p}.net_io_out:0|g`,
      `${p}.block_io_in_delta:0|c`,
      `${p}.block_io_out_delta:4096|c`,
      `${p}.net_io_in_delta:1500|c`,
      `${p}.net_io_out_delta:7|c`,
      `${p}.pids:3|g`,
      `${p}.samples:10|g`,
    ].join("\n"),
  ]);
});

Deno.test("DogStatsD: <prefix>.<table>.<column> with host, name and labels as escaped tags", async () => {
  const ds = await datagrams("udp://127.0.0.1:PORT?prefix=ops&tags=dogstatsd", TABLES, (sink) => {
    sink.enqueue(batch("containerStats", CONTAINERS, [{ ...ROW, cpu: -0.5 }]));
  });
  const tags = "|#host:web-1.example.com,name:shop.web_1,compose_project:shop_a_b_c_d:e_f," +
    "compose_service:web";
  const all = lines(ds);
  assert.deepEqual(
    all.toSorted(),
    [
      "block_io_in:4096|g",
      "block_io_in_delta:0|c",
      "block_io_out:8192|g",
      "block_io_out_delta:4096|c",
      "cpu:-0.5|g",
      "cpu:0|g",
      "memory_percentage:1.25|g",
      "memory_use:209715200|g",
      "net_io_in:1500|g",
      "net_io_in_delta:1500|c",
      "net_io_out:0|g",
      "net_io_out_delta:7|c",
      "pids:3|g",
      "samples:10|g",
      "total_memory:2147483648|g",
    ].map((m) => `ops.containerStats.${m}${tags}`),
  );
  assert.equal(
    all.indexOf(`ops.containerStats.cpu:0|g${tags}`) + 1,
    all.indexOf(`ops.containerStats.cpu:-0.5|g${tags}`),
    "a negative gauge follows a reset to 0 (a signed gauge is a change in StatsD)",
  );
  assert.ok(ds.length === 2 && ds.every((d) => d.length <= MAX_DATAGRAM_BYTES));
  for (const l of all) assert.match(l, DOGSTATSD_LINE);
});

Deno.test("lifecycle rows are counters named for their event; disk rows gauges and counters", async () => {
  const event: LifecycleRow = {
    timeNano: msToNs(END_MS),
    id: "f".repeat(64),
    container: "f".repeat(12),
    name: "job",
    image: "busybox:local",
    event: "oom",
    exitCode: 137,
    restartCount: 0,
    labels: { "com.docker.compose.project": "shop" },
  };
  const disk: DiskReading = {
    name: "/dev/sda1",
    device: "/dev/sda1",
    configured: "/",
    fileSystem: "ext4",
    mountPoint: "/",
    type: "ssd",
    availableSpace: 100,
    totalSpace: 400,
    percentageUse: 75,
    readBytes: 10,
    writeBytes: 20,
    readBytesDelta: 1,
    writeBytesDelta: 2,
  };
  const feed = (sink: StatsdSink) => {
    sink.enqueue(
      batch("containerEvents", EVENTS, [event, { ...event, event: "die" }], eventTimestamp),
    );
    sink.enqueue(batch("diskStats", DISK_TABLE, [disk], msToNs(END_MS), "h"));
  };
  assert.deepEqual(lines(await datagrams("udp://127.0.0.1:PORT", TABLES, feed)).sort(), [
    "container_statsd.h._dev_sda1.available_space:100|g",
    "container_statsd.h._dev_sda1.percentage_use:75|g",
    "container_statsd.h._dev_sda1.read_bytes:10|g",
    "container_statsd.h._dev_sda1.read_bytes_delta:1|c",
    "container_statsd.h._dev_sda1.total_space:400|g",
    "container_statsd.h._dev_sda1.write_bytes:20|g",
    "container_statsd.h._dev_sda1.write_bytes_delta:2|c",
    "container_statsd.web-1_example_com.job.die:1|c",
    "container_statsd.web-1_example_com.job.oom:1|c",
  ]);
  const tagged = lines(await datagrams("udp://127.0.0.1:PORT?tags=dogstatsd", TABLES, feed));
  for (const event of ["oom", "die"]) {
    assert.ok(tagged.includes(
      `container_statsd.containerEvents.${event}:1|c|#host:web-1.example.com,name:job,` +
        `image:busybox:local,event:${event},compose_project:shop`,
    ));
  }
  assert.ok(tagged.includes(
    "container_statsd.diskStats.available_space:100|g|#host:h,name:/dev/sda1," +
      "file_system:ext4,mount_point:/,type:ssd",
  ));
  assert.equal(tagged.length, 9);
  for (const l of tagged) assert.match(l, DOGSTATSD_LINE);
});

/** A table of one gauge, to build lines of exact lengths: `p.h.<name>.v:1|g` is name + 10 bytes. */
interface One {
  name: string;
}
const ONE = defineTable<One>({
  defaultName: "one",
  columns: [
    hostSymbol(),
    { name: "name", type: "SYMBOL", unit: "text", value: (r) => r.name },
    { name: "v", type: "DOUBLE", unit: "count", value: () => 1 },
  ],
  upsertKeys: ["timestamp"],
});
const ONE_TABLES: TableSpec[] = [{ name: "one", decl: ONE as TableDecl<never> }];

Deno.test("packing: datagrams hold whole lines, exactly 1,432 bytes fit, one byte more does not", async () => {
  const exact = await datagrams("udp://127.0.0.1:PORT?prefix=p", ONE_TABLES, (sink) => {
    sink.enqueue(
      batch("one", ONE, [{ name: "a".repeat(705) }, { name: "b".repeat(706) }], undefined, "h"),
    );
  });
  assert.deepEqual(exact.map((d) => d.length), [MAX_DATAGRAM_BYTES]);
  const over = await datagrams("udp://127.0.0.1:PORT?prefix=p", ONE_TABLES, (sink) => {
    sink.enqueue(
      batch("one", ONE, [{ name: "a".repeat(705) }, { name: "b".repeat(707) }], undefined, "h"),
    );
  });
  assert.deepEqual(over.map((d) => d.length).sort(), [715, 717]);
});

/** A DogStatsD metric line as Datadog documents it (see the module doc). */
const DOGSTATSD_LINE =
  /^[A-Za-z][A-Za-z0-9_.]*:-?\d+(\.\d+)?(e[+-]\d+)?\|[cg](\|#[^,|#@\n:]+:[^,|#@\n]*(,[^,|#@\n:]+:[^,|#@\n]*)*)?$/;
/** A plain line: Graphite path parts of letters, digits, `_` and `-`. */
const PLAIN_LINE = /^container_statsd(\.[A-Za-z0-9_-]+){3}:-?\d+(\.\d+)?(e[+-]\d+)?\|[cg]$/;

/**
 * Whether `ds` (in send order) were packed greedily: each datagram is full enough that the
 * next one's first line would not have fitted.
 */
function greedy(ds: readonly string[]): boolean {
  const size = (t: string) => new TextEncoder().encode(t).length;
  return ds.every((d, i) =>
    i === ds.length - 1 || size(d) + 1 + size(ds[i + 1]!.split("\n")[0]!) > MAX_DATAGRAM_BYTES
  );
}

Deno.test("every row, whatever its names and values: valid lines, greedy packing within 1,432 bytes", async () => {
  type Row = ContainerRow & { project: string };
  const decl = withSymbols(
    CONTAINER_TABLE as TableDecl<Row>,
    labelSymbols<Row>([{ key: "p", column: "compose_project" }], (r) => ({ p: r.project })),
  );
  const tables = [{ name: "containerStats", decl: decl as TableDecl<never> }];
  const text = fc.string({ unit: "binary", minLength: 1, maxLength: 40 });
  const row = fc.record({
    name: text,
    project: text,
    cpu: fc.double({ noNaN: true, noDefaultInfinity: true }),
    netInDelta: fc.nat(),
  });
  await fc.assert(
    fc.asyncProperty(
      text,
      fc.array(row, { minLength: 1, maxLength: 30 }),
      fc.boolean(),
      async (host, rs, tagged) => {
        const rows: Row[] = rs.map((r) => ({ ...ROW, ...r }));
        const enc = new IlpEncoder();
        const dropped = new Set<Row>();
        const n = encodeRows(
          enc,
          decl,
          "containerStats",
          rows,
          msToNs(END_MS),
          { host },
          (r) => dropped.add(r),
        );
        const ds = await datagrams(
          `udp://127.0.0.1:PORT${tagged ? "?tags=dogstatsd" : ""}`,
          tables,
          (sink) => {
            sink.enqueue({ endMs: END_MS, rows: n, ilp: enc.take() });
          },
        );
        const kept = rows.filter((r) => !dropped.has(r));
        const all = lines(ds);
        // 14 numeric columns per row, and a reset to 0 before a negative cpu.
        assert.equal(
          all.length,
          kept.length * 14 + kept.filter((r) => r.cpu! < 0).length,
        );
        for (const l of all) assert.match(l, tagged ? DOGSTATSD_LINE : PLAIN_LINE);
        const cpus = all.filter((l) => /\.cpu:/.test(l)).map((l) =>
          Number(/:([^|]+)\|/.exec(l)![1])
        );
        const expected = kept.flatMap((r) => r.cpu! < 0 ? [0, r.cpu!] : [r.cpu === 0 ? 0 : r.cpu!]);
        const byValue = (a: number, b: number) => a - b;
        assert.deepEqual(cpus.sort(byValue), expected.sort(byValue), "values round-trip");
        assert.ok(ds.every((d) => new TextEncoder().encode(d).length <= MAX_DATAGRAM_BYTES));
        // Deno's node:dgram sends the datagrams queued before its socket is bound last first.
        assert.ok(greedy(ds) || greedy(ds.toReversed()), "greedy packing");
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("a send error is counted per datagram and logged once a minute", async () => {
  const clock = FakeTimers.install({ toFake: ["Date"], now: END_MS });
  try {
    await withLogs(async (records) => {
      // A datagram larger than UDP allows (65,507 bytes) fails in the socket: EMSGSIZE.
      const huge = (i: number) => ({ ...ROW, name: `${"x".repeat(70_000)}${i}` });
      const target: StatsdTarget = parseStatsdTarget("udp://127.0.0.1:9?prefix=p");
      const sink = new StatsdSink({ target, tables: TABLES });
      try {
        for (const i of [1, 2, 3]) {
          sink.enqueue(batch("containerStats", CONTAINERS, [huge(i)]));
          await sink.sent();
        }
        // One metric per numeric column the row has (14: no cgroup figures), each alone.
        const per = CONTAINER_TABLE.columns.filter((c) =>
          (c.type === "DOUBLE" || c.type === "LONG") && c.value(ROW, { host: "h" }) !== undefined
        ).length;
        assert.equal(sink.sendErrors, 3 * per);
        assert.equal(sink.stats.last?.ok, false);
        const warnings = () =>
          records.filter((r) => r.level === "warning");
        assert.equal(warnings().length, 1);
        assert.match(String(warnings()[0]!.message.join("")), /1 datagrams not sent/);
        clock.tick(60_000);
        sink.enqueue(batch("containerStats", CONTAINERS, [huge(4)]));
        await sink.sent();
        assert.equal(warnings().length, 2);
        assert.match(
          String(warnings()[1]!.message.join("")),
          new RegExp(`${3 * per} datagrams not sent`),
        );
        assert.equal(sink.stats.deliveredRows, 4, "rows handed to the socket");
      } finally {
        await sink.stop(0);
      }
      assert.match(String(records.at(-1)!.message.join("")), /56 datagrams not sent in all/);
    });
  } finally {
    clock.uninstall();
  }
});
