/**
 * IlpEncoder against the official client's protocol v1 buffer (`SenderBufferV1` of
 * @questdb/nodejs-client 4.2.0, built offline): same calls, same bytes; same names rejected.
 */
import assert from "node:assert/strict";
import { SenderBufferV1, SenderOptions } from "@questdb/nodejs-client";
import { IlpEncoder } from "../../src/ilp/encoder.ts";

type Op =
  | ["table", string]
  | ["symbol", string, string]
  | ["string", string, string]
  | ["float", string, number]
  | ["int", string, number]
  | ["bool", string, boolean]
  | ["at", bigint];

const officialOptions = await SenderOptions.fromConfig("http::addr=x;protocol_version=1");

function official(): SenderBufferV1 {
  return new SenderBufferV1(officialOptions);
}

function applyOfficial(buf: SenderBufferV1, ops: readonly Op[]): void {
  for (const op of ops) {
    switch (op[0]) {
      case "table":
        buf.table(op[1]);
        break;
      case "symbol":
        buf.symbol(op[1], op[2]);
        break;
      case "string":
        buf.stringColumn(op[1], op[2]);
        break;
      case "float":
        buf.floatColumn(op[1], op[2]);
        break;
      case "int":
        buf.intColumn(op[1], op[2]);
        break;
      case "bool":
        buf.booleanColumn(op[1], op[2]);
        break;
      case "at":
        buf.at(op[1], "ns");
        break;
    }
  }
}

function applyOurs(enc: IlpEncoder, ops: readonly Op[]): void {
  for (const op of ops) {
    switch (op[0]) {
      case "table":
        enc.table(op[1]);
        break;
      case "symbol":
        enc.symbol(op[1], op[2]);
        break;
      case "string":
        enc.stringColumn(op[1], op[2]);
        break;
      case "float":
        enc.floatColumn(op[1], op[2]);
        break;
      case "int":
        enc.intColumn(op[1], op[2]);
        break;
      case "bool":
        enc.boolColumn(op[1], op[2]);
        break;
      case "at":
        enc.at(op[1]);
        break;
    }
  }
}

const utf8 = new TextEncoder();

/** Encodes `ops` with both encoders and asserts identical bytes; returns our text. */
function assertSameBytes(ops: readonly Op[], label = ""): string {
  const buf = official();
  applyOfficial(buf, ops);
  const view = buf.toBufferView();
  const expected = view
    ? new Uint8Array(view.buffer, view.byteOffset, view.length)
    : new Uint8Array();
  const enc = new IlpEncoder();
  applyOurs(enc, ops);
  const text = enc.take();
  const actual = utf8.encode(text);
  if (!bytesEqual(actual, expected)) {
    assert.equal(text, new TextDecoder().decode(expected), `text differs ${label}`);
    assert.deepEqual(actual, expected, `bytes differ ${label}`);
  }
  return text;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const TS = 1_700_000_000_123_456_789n;

/** Strings that exercise every escaping and encoding rule. */
const AWKWARD_VALUES = [
  "",
  "plain",
  "with space",
  "  leading and trailing  ",
  "comma,here",
  "equals=here",
  'double"quote',
  "single'quote",
  "back\\slash",
  "trailing backslash\\",
  "\\\\double backslash",
  "new\nline",
  "carriage\rreturn",
  "crlf\r\n",
  "tab\there",
  "nul\u0000byte",
  "ctrl\u0001\u001f\u007f",
  "ünïcödé ñ",
  "中文字符",
  "emoji 🐳🚀 and ZWJ 👩‍💻",
  "lone surrogate \ud800 here",
  "bom\ufeff",
  'all , = " \\ \n \r mixed',
  "key=value,other=thing",
  'a "quoted" \\"escaped\\" value',
  "x".repeat(1000),
];

/** Names that are valid in both table and column positions. */
const AWKWARD_NAMES = [
  "simple",
  "with space",
  "equals=sign",
  "ünïcödé",
  "名前",
  "emoji🐳",
  "under_score",
  "CamelCase",
  "digits123",
  "tab_free#hash!bang@at$dollar^caret&amp[]{}<>|;`",
];

Deno.test("encoder: awkward symbol and string values match the official client byte for byte", () => {
  for (const v of AWKWARD_VALUES) {
    assertSameBytes(
      [["table", "t"], ["symbol", "s", v], ["string", "v", v], ["at", TS]],
      JSON.stringify(v),
    );
  }
});

Deno.test("encoder: awkward table and column names match the official client byte for byte", () => {
  for (const n of AWKWARD_NAMES) {
    assertSameBytes(
      [["table", n], ["symbol", n, "x"], ["float", n + "_f", 1.5], ["int", n + "_i", 7], [
        "at",
        TS,
      ]],
      JSON.stringify(n),
    );
  }
  // Table names may hold single dots in the middle; column names may not hold dots at all.
  assertSameBytes([["table", "file.csv"], ["int", "a", 1], ["at", TS]]);
  assertSameBytes([["table", "a.b.c"], ["int", "a", 1], ["at", TS]]);
  // Column names may hold characters that tables may not: none (columns are stricter), but
  // tables may hold '-' and '.'.
  assertSameBytes([["table", "my-table"], ["int", "a", 1], ["at", TS]]);
});

Deno.test("encoder: numbers match the official client byte for byte", () => {
  const floats = [
    0,
    -0,
    1,
    -1,
    0.1,
    -0.1,
    1.5,
    1 / 3,
    Math.PI,
    100,
    1e6,
    123456789.123,
    1e20,
    1e21,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-6,
    1e-7,
    0.000001234,
    2 ** 53,
    2 ** 53 + 2,
    Number.EPSILON,
  ];
  for (const f of floats) {
    const text = assertSameBytes([["table", "t"], ["float", "f", f], ["at", TS]], String(f));
    assert.ok(!text.includes("NaN") && !text.includes("Infinity"));
  }
  const ints = [
    0,
    -0,
    1,
    -1,
    42,
    2 ** 31,
    -(2 ** 31),
    2 ** 32 + 1,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
  ];
  for (const i of ints) {
    assertSameBytes([["table", "t"], ["int", "i", i], ["at", TS]], String(i));
  }
  assertSameBytes([["table", "t"], ["bool", "yes", true], ["bool", "no", false], ["at", TS]]);
  assertSameBytes([["table", "t"], ["symbol", "s", "v"], ["at", 0n]]);
  assertSameBytes([["table", "t"], ["symbol", "s", "v"], ["at", 9_223_372_036_854_775_807n]]);
});

Deno.test("encoder: bigint integers beyond 2^53 are written exactly", () => {
  const enc = new IlpEncoder();
  enc.table("t")
    .intColumn("a", 9_007_199_254_740_993n) // 2^53 + 1: not representable as a double
    .intColumn("b", 9_223_372_036_854_775_807n) // LONG max
    .intColumn("c", -9_223_372_036_854_775_807n) // LONG min + 1
    .intColumn("d", 0n)
    .intColumn("e", -1n)
    .at(TS);
  assert.equal(
    enc.take(),
    `t a=9007199254740993i,b=9223372036854775807i,c=-9223372036854775807i,d=0i,e=-1i ${TS}\n`,
  );
  // A safe-integer bigint gives the same bytes as the official client's number form.
  const viaOfficial = assertSameBytes([["table", "t"], ["int", "i", 2 ** 53 - 1], ["at", TS]]);
  enc.table("t").intColumn("i", 2n ** 53n - 1n).at(TS);
  assert.equal(enc.take(), viaOfficial);
});

Deno.test("encoder: numbers beyond 2^53 are written as the exact integer the double holds", () => {
  // Deliberate difference from the official client, which writes value.toString(): for 2^60
  // that is "1152921504606847000", the shortest text that parses back to the same double, but
  // as a LONG it names a different integer than the one passed.
  const cases: [number, string][] = [
    [2 ** 53 + 2, "9007199254740994"],
    [2 ** 60, "1152921504606846976"],
    [-(2 ** 62), "-4611686018427387904"],
    [2 ** 63 - 1024, "9223372036854774784"], // largest double below 2^63
  ];
  for (const [n, digits] of cases) {
    const enc = new IlpEncoder();
    enc.table("t").intColumn("i", n).at(TS);
    assert.equal(enc.take(), `t i=${digits}i ${TS}\n`);
    assert.equal(BigInt(digits), BigInt(n));
    const buf = official();
    buf.table("t").intColumn("i", n).at(TS, "ns");
    const theirs = new TextDecoder().decode(buf.toBufferView()!);
    if (String(n) !== digits) assert.notEqual(theirs, `t i=${digits}i ${TS}\n`);
  }
});

Deno.test("encoder: mixed rows, several per take, match the official client", () => {
  const ops: Op[] = [];
  for (let i = 0; i < 50; i++) {
    const v = AWKWARD_VALUES[i % AWKWARD_VALUES.length]!;
    const n = AWKWARD_NAMES[i % AWKWARD_NAMES.length]!;
    ops.push(
      ["table", i % 2 ? "container stats" : n],
      ["symbol", "name", v],
      ["symbol", "id", `id-${i}`],
      ["float", "cpu", i * 1.25],
      ["int", "mem", i * 1024 * 1024],
      ["string", n, v],
      ["bool", "ok", i % 3 === 0],
      ["at", TS + BigInt(i)],
    );
  }
  const text = assertSameBytes(ops);
  const enc = new IlpEncoder();
  applyOurs(enc, ops);
  assert.equal(enc.rowCount, 50);
  assert.equal(enc.take(), text);
});

// Deterministic PRNG (mulberry32) for the randomized comparisons.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  ...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)),
  "é",
  "ß",
  "中",
  "🐳",
  "\ufeff",
  "\u00a0",
  "\u2028",
  ".",
  ".",
  "a",
  "b",
  "_",
];

function randomString(next: () => number, maxLen: number): string {
  const len = Math.floor(next() * (maxLen + 1));
  let s = "";
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)]!;
  return s;
}

Deno.test("encoder: randomized values and names give the same bytes and the same rejections", () => {
  const next = rng(20240601);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const table = randomString(next, 6);
    const col = randomString(next, 6);
    const value = randomString(next, 12);
    const ops: Op[] = [["table", table], ["symbol", col, value], ["string", "s", value], [
      "at",
      TS,
    ]];
    let officialError: unknown = null;
    try {
      applyOfficial(official(), ops);
    } catch (e) {
      officialError = e;
    }
    const enc = new IlpEncoder();
    let ourError: unknown = null;
    try {
      applyOurs(enc, ops);
    } catch (e) {
      ourError = e;
    }
    const label = JSON.stringify({ table, col });
    if (officialError === null) {
      assert.equal(ourError, null, `we rejected what the official client accepts: ${label}`);
      assertSameBytes(ops, label);
      accepted++;
    } else {
      assert.ok(
        ourError instanceof RangeError,
        `we accepted or misclassified ${label}: ${ourError}`,
      );
      assert.equal(enc.rowCount, 0);
      rejected++;
    }
  }
  assert.ok(
    accepted > 300 && rejected > 300,
    `coverage: ${accepted} accepted, ${rejected} rejected`,
  );
});

Deno.test("encoder: randomized doubles give the same bytes", () => {
  const next = rng(7);
  const view = new DataView(new ArrayBuffer(8));
  const ops: Op[] = [["table", "t"]];
  let n = 0;
  while (n < 2000) {
    view.setUint32(0, Math.floor(next() * 2 ** 32));
    view.setUint32(4, Math.floor(next() * 2 ** 32));
    const f = view.getFloat64(0);
    if (!Number.isFinite(f)) continue;
    ops.push(["float", `f${n % 50}`, f]);
    n++;
    if (n % 50 === 0) ops.push(["at", TS], ["table", "t"]);
  }
  ops.pop();
  assertSameBytes(ops);
});

Deno.test("encoder: invalid table names throw RangeError", () => {
  const bad = [
    "",
    ".hidden",
    "trailing.",
    "double..dot",
    "a?b",
    "a,b",
    "a'b",
    'a"b',
    "a\\b",
    "a/b",
    "a:b",
    "a(b",
    "a)b",
    "a+b",
    "a*b",
    "a%b",
    "a~b",
    "nul\u0000",
    "tab\t",
    "new\nline",
    "cr\r",
    "del\u007f",
    "bom\ufeff",
    "x".repeat(128),
  ];
  for (const name of bad) {
    assert.throws(() => official().table(name), Error, `official accepts ${JSON.stringify(name)}`);
    const enc = new IlpEncoder();
    assert.throws(() => enc.table(name), RangeError, JSON.stringify(name));
  }
  // The limit is configurable and counts UTF-16 code units, like the official client.
  assert.doesNotThrow(() => new IlpEncoder().table("x".repeat(127)));
  assert.throws(() => new IlpEncoder({ maxNameLength: 4 }).table("abcde"), RangeError);
  assert.doesNotThrow(() => new IlpEncoder({ maxNameLength: 4 }).table("ab🐳"));
});

Deno.test("encoder: invalid column and symbol names throw RangeError", () => {
  const bad = [
    "",
    "a.b",
    "a-b",
    "a?b",
    "a,b",
    "a'b",
    'a"b',
    "a\\b",
    "a/b",
    "a:b",
    "a(b",
    "a)b",
    "a+b",
    "a*b",
    "a%b",
    "a~b",
    "nul\u0000",
    "new\nline",
    "cr\r",
    "del\u007f",
    "bom\ufeff",
    "x".repeat(128),
  ];
  for (const name of bad) {
    assert.throws(() => official().table("t").floatColumn(name, 1), Error, JSON.stringify(name));
    assert.throws(() => new IlpEncoder().table("t").symbol(name, "v"), RangeError);
    assert.throws(() => new IlpEncoder().table("t").stringColumn(name, "v"), RangeError);
    assert.throws(() => new IlpEncoder().table("t").floatColumn(name, 1), RangeError);
    assert.throws(() => new IlpEncoder().table("t").intColumn(name, 1), RangeError);
    assert.throws(() => new IlpEncoder().table("t").boolColumn(name, true), RangeError);
  }
});

Deno.test("encoder: NaN, Infinity and bad integers throw RangeError naming the column", () => {
  for (const f of [NaN, Infinity, -Infinity]) {
    const enc = new IlpEncoder();
    assert.throws(() => enc.table("t").floatColumn("cpu_pct", f), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /"cpu_pct"/);
      return true;
    });
  }
  const badInts: (number | bigint)[] = [
    1.5,
    -0.1,
    NaN,
    Infinity,
    -Infinity,
    2 ** 63,
    -(2 ** 63),
    1e21,
    2n ** 63n,
    -(2n ** 63n), // QuestDB's LONG NULL
    10n ** 30n,
  ];
  for (const v of badInts) {
    const enc = new IlpEncoder();
    assert.throws(() => enc.table("t").intColumn("mem_bytes", v), (e: unknown) => {
      assert.ok(e instanceof RangeError, String(v));
      assert.match(e.message, /"mem_bytes"/);
      return true;
    });
  }
});

Deno.test("encoder: wrong types and call order throw TypeError", () => {
  const loose = (enc: IlpEncoder) => enc as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => loose(new IlpEncoder()).table!(42), TypeError);
  assert.throws(() => loose(new IlpEncoder().table("t")).symbol!("s", 1), TypeError);
  assert.throws(() => loose(new IlpEncoder().table("t")).stringColumn!("s", 1), TypeError);
  assert.throws(() => loose(new IlpEncoder().table("t")).floatColumn!("f", "1"), TypeError);
  assert.throws(() => loose(new IlpEncoder().table("t")).intColumn!("i", "1"), TypeError);
  assert.throws(() => loose(new IlpEncoder().table("t")).boolColumn!("b", 1), TypeError);
  assert.throws(() => loose(new IlpEncoder().table("t").intColumn("i", 1)).at!(1), TypeError);
  assert.throws(() => new IlpEncoder().symbol("s", "v"), TypeError);
  assert.throws(() => new IlpEncoder().floatColumn("f", 1), TypeError);
  assert.throws(() => new IlpEncoder().at(TS), TypeError);
  assert.throws(() => new IlpEncoder().table("t").at(TS), TypeError);
  assert.throws(() => new IlpEncoder().table("t").intColumn("i", 1).symbol("s", "v"), TypeError);
  assert.throws(() => new IlpEncoder().table("t").table("u"), TypeError);
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => new IlpEncoder({ maxNameLength: bad }), RangeError);
  }
});

Deno.test("encoder: an error mid-row discards only that row; the next row works", () => {
  const enc = new IlpEncoder();
  enc.table("t").symbol("s", "a").floatColumn("f", 1).at(1n);
  assert.equal(enc.rowCount, 1);

  // Each failure below happens after part of a row was built.
  assert.throws(() => enc.table("t").symbol("s", "b").floatColumn("f", NaN));
  assert.throws(() => enc.table("t").symbol("s", "b").intColumn("bad-name", 1));
  assert.throws(() => enc.table("t").intColumn("i", 1).symbol("late", "x"));
  assert.throws(() => enc.table("t").symbol("s", "b").intColumn("i", 0.5));
  assert.throws(() => enc.table("t").symbol("s", "b").table("u"));
  assert.throws(() => enc.table("t").at(2n));
  enc.table("t").stringColumn("x", "half"); // abandoned by the next table() call ...
  assert.throws(() => enc.table("t"));
  assert.equal(enc.rowCount, 1);

  enc.table("t").symbol("s", "c").floatColumn("f", 3).at(3n);
  assert.equal(enc.rowCount, 2);
  assert.equal(enc.take(), "t,s=a f=1 1\nt,s=c f=3 3\n");
  assert.equal(enc.rowCount, 0);
  assert.equal(enc.take(), "");
});

Deno.test("encoder: take() keeps a row in progress", () => {
  const enc = new IlpEncoder();
  enc.table("t").intColumn("a", 1).at(1n);
  enc.table("t").intColumn("a", 2);
  assert.equal(enc.take(), "t a=1i 1\n");
  assert.equal(enc.rowCount, 0);
  enc.boolColumn("b", true).at(2n);
  assert.equal(enc.rowCount, 1);
  assert.equal(enc.take(), "t a=2i,b=t 2\n");
});

Deno.test("encoder: the name cache does not change results", () => {
  const enc = new IlpEncoder();
  for (let i = 0; i < 10_000; i++) enc.table(`t${i}`).intColumn(`c ${i}`, i).at(BigInt(i));
  const lines = enc.take().split("\n");
  assert.equal(lines[9999], "t9999 c\\ 9999=9999i 9999");
  // Still validates after a cache hit for a different kind of name.
  enc.table("ok").intColumn("ok", 1).at(1n);
  assert.throws(() => enc.table("t").intColumn("a.b", 1), RangeError);
  assert.doesNotThrow(() => enc.table("a.b").intColumn("x", 1).at(1n));
});
