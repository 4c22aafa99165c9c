/**
 * Parser workloads: the recorded `docker stats` streams of tests/fixtures, a 200-container
 * stream generated from their real rows (no recording that large is committed), and, when the
 * footprint run has made one, a real 200-container recording from bench/out/.
 */
import { Buffer } from "node:buffer";
import { type Chunk, concatChunks, loadRecording } from "../../tests/helpers/recording.ts";
import { StatsParser } from "../../src/source/docker_stats/parser.ts";

/** A stream to parse: its chunks, total bytes and how many samples the parser gets from it. */
export interface Workload {
  name: string;
  /** Where it comes from, for the report. */
  source: string;
  chunks: Uint8Array[];
  bytes: number;
  samples: number;
  /** Containers in the stream (distinct IDs). */
  containers: number;
}

/** The committed recordings (tests/fixtures/*.jsonl). */
export const FIXTURES = [
  "cli20-notrunc.jsonl",
  "cli28-notrunc.jsonl",
  "cli28-lifecycle.jsonl",
  "cli29_4-derived.jsonl",
] as const;

/** Real recording made by the footprint run at 200 containers (gitignored). */
export const RECORDED_200 = new URL("../out/recorded-200.jsonl", import.meta.url);

/** Counts what the real parser gets from `chunks`. */
export function countSamples(chunks: readonly Uint8Array[]): { samples: number; ids: number } {
  const ids = new Set<string>();
  const p = new StatsParser((s) => ids.add(s.id));
  for (const c of chunks) p.push(c);
  p.end();
  return { samples: p.counters.samples, ids: ids.size };
}

function workload(name: string, source: string, chunks: Uint8Array[]): Workload {
  const { samples, ids } = countSamples(chunks);
  return {
    name,
    source,
    chunks,
    bytes: chunks.reduce((n, c) => n + c.length, 0),
    samples,
    containers: ids,
  };
}

/** Reads a recording file in the fixtures' format (`{"t":..,"b64":..}` per line). */
export function readRecordingFile(path: string | URL): Chunk[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l.trim() !== "").map((l) => {
    const rec = JSON.parse(l) as { t: number; b64: string };
    return { t: rec.t, bytes: new Uint8Array(Buffer.from(rec.b64, "base64")) };
  });
}

/** Writes chunks in the fixtures' format, making the file's directory if needed. */
export function writeRecordingFile(path: string | URL, chunks: readonly Chunk[]): void {
  Deno.mkdirSync(new URL(".", new URL(path, "file:///")), { recursive: true });
  const text = chunks.map((c) =>
    JSON.stringify({
      t: Math.round(c.t * 1e4) / 1e4,
      b64: Buffer.from(c.bytes).toString("base64"),
    })
  ).join("\n") + "\n";
  Deno.writeTextFileSync(path, text);
}

/** The real JSON rows (non-placeholder) of a recording, as objects of strings. */
export function realRows(chunks: readonly Chunk[]): Record<string, string>[] {
  const text = new TextDecoder().decode(concatChunks(chunks));
  const rows: Record<string, string>[] = [];
  const seen = new Set<string>();
  // deno-lint-ignore no-control-regex
  for (const raw of text.split(/\x1b\[[0-9;]*[A-Za-z]|\n/)) {
    const t = raw.trim();
    if (!t.startsWith("{") || seen.has(t)) continue;
    seen.add(t);
    const o = JSON.parse(t) as Record<string, string>;
    if (o["ID"] && o["Name"] !== "--" && o["CPUPerc"] !== "--") rows.push(o);
  }
  return rows;
}

/** Deterministic 64-hex-digit ID for container `i` (xorshift32 from a seed). */
function fakeId(i: number): string {
  let x = (i + 1) * 2654435761 >>> 0;
  let out = "";
  while (out.length < 64) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += x.toString(16).padStart(8, "0");
  }
  return out.slice(0, 64);
}

/**
 * A `docker stats --format '{{json .}}' --no-trunc` stream of `containers` containers and
 * `redraws` redraws in the CLI 28 framing (each redraw holds the table twice: `ESC[H` rows,
 * `ESC[H` rows each followed by ` ESC[K`, then ` ESC[K`, `ESC[J`), cut into `chunkBytes`
 * pieces as a pipe read would deliver them. Values come from the real rows of
 * tests/fixtures/cli28-notrunc.jsonl (rotated per container and redraw); IDs and names are
 * made up, with the CLI's key order.
 */
export function generateStream(
  containers: number,
  redraws: number,
  chunkBytes = 65536,
): Uint8Array[] {
  const templates = realRows(loadRecording("cli28-notrunc.jsonl"));
  if (templates.length === 0) throw new Error("no real rows in cli28-notrunc.jsonl");
  const ids = Array.from({ length: containers }, (_, i) => fakeId(i));
  const enc = new TextEncoder();
  const out: Uint8Array[] = [];
  for (let r = 0; r < redraws; r++) {
    const rows: string[] = [];
    for (let i = 0; i < containers; i++) {
      const t = templates[(i + r) % templates.length]!;
      const id = ids[i]!;
      // Keys in the order the CLI prints them (encoding/json sorts map keys).
      rows.push(JSON.stringify({
        BlockIO: t["BlockIO"],
        CPUPerc: t["CPUPerc"],
        Container: id.slice(0, 12),
        ID: id,
        MemPerc: t["MemPerc"],
        MemUsage: t["MemUsage"],
        Name: `statsd-bench-gen-${String(i).padStart(3, "0")}`,
        NetIO: t["NetIO"],
        PIDs: t["PIDs"],
      }));
    }
    const redraw = "\x1b[H" + rows.join("\n") + "\n" + "\x1b[H" +
      rows.map((row) => row + " \x1b[K\n").join("") + " \x1b[K\n\x1b[J";
    const bytes = enc.encode(redraw);
    for (let off = 0; off < bytes.length; off += chunkBytes) {
      out.push(bytes.subarray(off, Math.min(bytes.length, off + chunkBytes)));
    }
  }
  return out;
}

/** All parser workloads: fixtures, generated 200, and the real 200 recording if present. */
export function parserWorkloads(): Workload[] {
  const list: Workload[] = FIXTURES.map((f) =>
    workload(
      f.replace(/\.jsonl$/, ""),
      `tests/fixtures/${f}`,
      loadRecording(f).map((c) => c.bytes),
    )
  );
  list.push(
    workload(
      "generated-200",
      "generated from the real rows of cli28-notrunc (CLI 28 framing, 200 containers, 20 redraws)",
      generateStream(200, 20),
    ),
  );
  try {
    const rec = readRecordingFile(RECORDED_200);
    list.push(
      workload(
        "recorded-200",
        "bench/out/recorded-200.jsonl: real CLI 28.2.2 output, 200 busybox containers",
        rec.map((c) => c.bytes),
      ),
    );
  } catch { /* not recorded yet */ }
  return list;
}
