/** Loads a `docker stats` recording (tests/fixtures/*.jsonl) as timed byte chunks. */
import { Buffer } from "node:buffer";

/** One chunk as the CLI wrote it, `t` seconds after the recording started. */
export interface Chunk {
  t: number;
  bytes: Uint8Array;
}

/** Reads tests/fixtures/<name>. */
export function loadRecording(name: string): Chunk[] {
  const url = new URL(`../fixtures/${name}`, import.meta.url);
  return Deno.readTextFileSync(url).split("\n").filter((l) => l.trim() !== "").map((l) => {
    const rec = JSON.parse(l) as { t: number; b64: string };
    return { t: rec.t, bytes: new Uint8Array(Buffer.from(rec.b64, "base64")) };
  });
}

/** All chunks concatenated. */
export function concatChunks(chunks: readonly Chunk[]): Uint8Array {
  const total = chunks.reduce((n, c) => n + c.bytes.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c.bytes, off);
    off += c.bytes.length;
  }
  return out;
}
