/**
 * ILP encoding (issue 6, part 3): one interval of 200 reduced container rows, encoded by our
 * `IlpEncoder` through `encodeRows` over `CONTAINER_TABLE` (src/schema/), as the daemon's
 * publisher does, and by the official `SenderBufferV1` of npm:@questdb/nodejs-client 4.2.0
 * (protocol version 1, built offline from
 * `SenderOptions.fromConfig("http::addr=x;protocol_version=1")`) walking the same declaration.
 * Both produce the same bytes (checked below before any timing).
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
import { CONTAINER_TABLE } from "../src/schema/containers.ts";
import { msToNs, type RowContext, type TableDecl } from "../src/schema/table.ts";
import {
  benchRows,
  encodeBenchRows,
  ENCODER_END_MS,
  ENCODER_HOST,
  ENCODER_TABLE,
} from "./lib/rows.ts";

const rows = benchRows(200, "avg");
const options = await SenderOptions.fromConfig("http::addr=x;protocol_version=1");
const utf8 = new TextEncoder();
const context: RowContext = { host: ENCODER_HOST };
const ts = msToNs(ENCODER_END_MS);

/** The official client's method for each column type (as `encodeRows` picks the encoder's). */
const METHOD = {
  SYMBOL: "symbol",
  VARCHAR: "stringColumn",
  DOUBLE: "floatColumn",
  LONG: "intColumn",
} as const;

/**
 * The official client writing `list` from the table declaration: the same columns, in the same
 * order, with the same types as `encodeRows` (src/schema/table.ts).
 */
function encodeOfficial<R>(buf: SenderBufferV1, decl: TableDecl<R>, list: readonly R[]): void {
  for (const r of list) {
    buf.table(ENCODER_TABLE);
    for (const c of decl.columns) {
      const v = c.value(r, context);
      if (v === undefined) continue;
      if (c.type === "SYMBOL" || c.type === "VARCHAR") buf[METHOD[c.type]](c.name, v as string);
      else buf[METHOD[c.type]](c.name, v as number);
    }
    buf.at(ts, "ns");
  }
}

// Same bytes, or the comparison means nothing.
const ours = new IlpEncoder();
encodeBenchRows(ours, rows);
const oursBytes = utf8.encode(ours.take());
const official = new SenderBufferV1(options);
encodeOfficial(official, CONTAINER_TABLE, rows);
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
    encodeBenchRows(enc, rows);
    sink += enc.take().length;
  },
});
Deno.bench({
  name: "ours (bytes)",
  group: "encode 200 rows",
  baseline: true,
  fn() {
    encodeBenchRows(enc, rows);
    sink += utf8.encode(enc.take()).length;
  },
});
Deno.bench({
  name: "official",
  group: "encode 200 rows",
  fn() {
    encodeOfficial(buf, CONTAINER_TABLE, rows);
    sink += buf.toBufferView().length;
    buf.reset();
  },
});
addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
