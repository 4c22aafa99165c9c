/**
 * ILP encoding (issue 6, part 3): one interval of 200 reduced container rows, encoded by our
 * `IlpEncoder` through `encodeContainerRows` (src/schema/container_table.ts) and by the
 * official `SenderBufferV1` of npm:@questdb/nodejs-client 4.2.0 (protocol version 1, built
 * offline from `SenderOptions.fromConfig("http::addr=x;protocol_version=1")`) with the same
 * calls. Both produce the same bytes (checked below before any timing).
 *
 * - `ours (string)`: encode + `take()`, the text the delivery queue holds;
 * - `ours (bytes)`: the same plus `TextEncoder.encode`, which HttpTransport.send does before
 *   the POST: the like-for-like comparison with the official buffer, which ends in bytes;
 * - `official`: encode + `toBufferView()` (no copy) + `reset()`.
 *
 * `bench/run.ts` turns the times into rows/s and bytes/s and the ours/official ratio.
 *
 * Run: deno bench --allow-read --allow-env bench/encoder_bench.ts
 */
import { SenderBufferV1, SenderOptions } from "@questdb/nodejs-client";
import { IlpEncoder } from "../src/ilp/encoder.ts";
import { encodeContainerRows, msToNs } from "../src/schema/container_table.ts";
import type { ContainerRow } from "../src/reducer/reducer.ts";
import { benchRows, ENCODER_END_MS, ENCODER_HOST, ENCODER_TABLE } from "./lib/rows.ts";

const TABLE = ENCODER_TABLE;
const HOST = ENCODER_HOST;
const END_MS = ENCODER_END_MS;

const rows = benchRows(200, "avg");
const options = await SenderOptions.fromConfig("http::addr=x;protocol_version=1");
const utf8 = new TextEncoder();

/** The official client, the same columns in the same order as encodeContainerRows. */
function encodeOfficial(buf: SenderBufferV1, list: readonly ContainerRow[]): void {
  const ts = msToNs(END_MS);
  for (const r of list) {
    buf.table(TABLE)
      .symbol("host", HOST)
      .symbol("container", r.container)
      .symbol("name", r.name)
      .stringColumn("id", r.id)
      .floatColumn("cpu", r.cpu)
      .floatColumn("memory_percentage", r.memoryPercentage)
      .floatColumn("memory_use", r.memoryUse)
      .floatColumn("total_memory", r.totalMemory)
      .floatColumn("block_io_in", r.blockIn)
      .floatColumn("block_io_out", r.blockOut)
      .floatColumn("net_io_in", r.netIn)
      .floatColumn("net_io_out", r.netOut)
      .intColumn("block_io_in_delta", r.blockInDelta)
      .intColumn("block_io_out_delta", r.blockOutDelta)
      .intColumn("net_io_in_delta", r.netInDelta)
      .intColumn("net_io_out_delta", r.netOutDelta)
      .intColumn("pids", r.pids)
      .intColumn("samples", r.samples)
      .at(ts, "ns");
  }
}

// Same bytes, or the comparison means nothing.
const ours = new IlpEncoder();
encodeContainerRows(ours, TABLE, HOST, rows, END_MS);
const oursBytes = utf8.encode(ours.take());
const official = new SenderBufferV1(options);
encodeOfficial(official, rows);
const officialBytes = new Uint8Array(official.toBufferNew());
official.reset();
if (
  oursBytes.length !== officialBytes.length || !oursBytes.every((b, i) => b === officialBytes[i])
) throw new Error("our encoder and the official client disagree on the bytes");

let sink = 0;
const enc = new IlpEncoder();
const buf = new SenderBufferV1(options);

Deno.bench({
  name: "ours (string)",
  group: "encode 200 rows",
  fn() {
    encodeContainerRows(enc, TABLE, HOST, rows, END_MS);
    sink += enc.take().length;
  },
});
Deno.bench({
  name: "ours (bytes)",
  group: "encode 200 rows",
  baseline: true,
  fn() {
    encodeContainerRows(enc, TABLE, HOST, rows, END_MS);
    sink += utf8.encode(enc.take()).length;
  },
});
Deno.bench({
  name: "official",
  group: "encode 200 rows",
  fn() {
    encodeOfficial(buf, rows);
    sink += buf.toBufferView().length;
    buf.reset();
  },
});
addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
