/**
 * The spool: the undelivered batches of one sink kept on disk across restarts, as numbered
 * segment files `<stem>.<12 digits>.jsonl` in the spool directory. A write appends new
 * segments holding only the batches not yet on disk; a delivery deletes the segments it
 * emptied and replaces the oldest one when it emptied part of it. So a write costs what it
 * adds (not the whole queue), the files hold at most what the queue holds (`--buffer-rows`),
 * and no string larger than a segment is ever built.
 *
 * Each segment: one JSON document per line, a header `{"spool":"container-statsd","version":1}`
 * then one `{"endMs","rows","ilp"}` per batch (the format of the single `<stem>.jsonl` that
 * earlier versions wrote, which is read as the oldest segment). Every file is written to a
 * temporary name, fsynced and renamed, so a crash loses at most the segment being written;
 * temporary files it leaves are removed at the next start.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Batch, BatchQueue } from "./queue.ts";

const log = getLogger(["container-statsd", "spool"]);
const HEADER = JSON.stringify({ spool: "container-statsd", version: 1 });

/** Most ILP characters in one segment written by an append (a larger batch gets its own). */
export const SEGMENT_CHARS = 1 << 20;

/** Parses spool text. @throws {SyntaxError} when the text is not a spool of this version. */
export function parseSpool(text: string): Batch[] {
  const lines = text.split("\n").filter((l) => l !== "");
  if (lines[0] !== HEADER) throw new SyntaxError("not a container-statsd v1 spool header");
  return lines.slice(1).map((line, i) => {
    const b = JSON.parse(line) as Partial<Batch>;
    if (
      typeof b.endMs !== "number" || typeof b.rows !== "number" || typeof b.ilp !== "string" ||
      !b.ilp.endsWith("\n")
    ) throw new SyntaxError(`spool line ${i + 2} is not a batch`);
    return { endMs: b.endMs, rows: b.rows, ilp: b.ilp };
  });
}

/** Serialises batches to spool text. */
export function formatSpool(batches: readonly Batch[]): string {
  let out = HEADER + "\n";
  for (const b of batches) {
    out += JSON.stringify({ endMs: b.endMs, rows: b.rows, ilp: b.ilp }) + "\n";
  }
  return out;
}

/** One file on disk: consecutive queue batches from sequence number `first`. */
interface Segment {
  readonly path: string;
  first: number;
  batches: readonly Batch[];
}

/** The end (exclusive) of a segment's sequence numbers. */
const end = (s: Segment) => s.first + s.batches.length;

/** One sink's spool. */
export class Spool {
  /** What the files are called, for logs: `<dir>/<stem>.*.jsonl`. */
  readonly path: string;
  readonly #dir: string;
  readonly #legacy: string;
  readonly #segment: RegExp;
  readonly #stem: string;
  #segments: Segment[] = [];
  #nextFile = 1;

  /**
   * Names the spool; nothing is read or written yet.
   *
   * @param dir the spool directory (created on first write).
   * @param file `<stem>.jsonl`, distinct per sink. Default `spool.jsonl` (the QuestDB sink's).
   */
  constructor(dir: string, file = "spool.jsonl") {
    this.#dir = dir;
    this.#legacy = `${dir}/${file}`;
    this.#stem = file.replace(/\.jsonl$/, "");
    const stem = this.#stem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    this.#segment = new RegExp(`^${stem}\\.(\\d{12})\\.jsonl(\\.tmp-\\d+)?$`);
    this.path = `${dir}/${this.#stem}.*.jsonl`;
  }

  /** Batches held in the files. */
  get batches(): number {
    return this.#segments.reduce((n, s) => n + s.batches.length, 0);
  }

  /** Rows held in the files. */
  get rows(): number {
    let n = 0;
    for (const s of this.#segments) for (const b of s.batches) n += b.rows;
    return n;
  }

  /**
   * Reads every segment, oldest first, and from then on takes them for the queue's batches
   * with sequence numbers from `firstSeq` on (push them into the queue in the order returned,
   * then {@link Spool.sync}). A corrupt or unreadable segment is moved aside
   * (`.corrupt-<ms>`) with a warning, and a temporary file of an interrupted write is removed;
   * neither blocks startup.
   * @param firstSeq the queue's `nextSeq`.
   * @returns the spooled batches, oldest first ([] when there are none).
   */
  async load(firstSeq: number): Promise<Batch[]> {
    this.#segments = [];
    const files: { path: string; n: number }[] = [];
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        const m = this.#segment.exec(e.name);
        if (m === null) continue;
        const path = `${this.#dir}/${e.name}`;
        if (m[2] !== undefined) {
          log.warn("Removing {path}, left by an interrupted spool write", { path });
          await Deno.remove(path).catch(() => {});
        } else files.push({ path, n: Number(m[1]) });
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        log.warn("Cannot list spool directory {dir}: {error}; starting without a spool", {
          dir: this.#dir,
          error: (e as Error).message,
        });
      }
      return [];
    }
    files.sort((a, b) => a.n - b.n);
    this.#nextFile = (files.at(-1)?.n ?? 0) + 1;
    const out: Batch[] = [];
    for (const path of [this.#legacy, ...files.map((f) => f.path)]) {
      const batches = await this.#read(path);
      if (batches.length === 0) continue;
      this.#segments.push({ path, first: firstSeq + out.length, batches });
      out.push(...batches);
    }
    return out;
  }

  /**
   * Makes the files hold what `queue` holds of them: segments whose batches have all left the
   * queue (delivered, refused or dropped) are deleted, and the oldest one is rewritten when
   * some of its batches left or were cut. With `append`, the queued batches not yet on disk
   * are then written as new segments of at most {@link SEGMENT_CHARS} characters each.
   * Calls must not overlap (the caller runs them one at a time).
   * @throws {Deno.errors.PermissionDenied} and other I/O errors to the caller, which logs them;
   *   what was done before the error stays consistent, and the next call finishes the rest.
   */
  async sync(queue: BatchQueue, append: boolean): Promise<void> {
    // Decide from the queue as it is now: it may change while the files are written.
    const head = queue.headSeq;
    const segs = this.#segments;
    let gone = 0;
    while (gone < segs.length && end(segs[gone]!) <= head) gone++;
    const oldest = segs[gone];
    const keep = oldest === undefined ? [] : queue.slice(head, end(oldest));
    const rewrite = oldest !== undefined &&
      (oldest.first < head || keep.some((b, i) => b !== oldest.batches[i]));
    const from = Math.max(segs.length > 0 ? end(segs.at(-1)!) : head, head);
    const fresh = append ? queue.slice(from) : [];

    while (gone-- > 0) {
      await Deno.remove(segs[0]!.path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      segs.shift();
    }
    if (oldest !== undefined && rewrite) {
      await this.#write(oldest.path, keep);
      oldest.first = head;
      oldest.batches = keep;
    }
    for (let i = 0; i < fresh.length;) {
      let j = i + 1;
      let chars = fresh[i]!.ilp.length;
      while (j < fresh.length && chars + fresh[j]!.ilp.length <= SEGMENT_CHARS) {
        chars += fresh[j++]!.ilp.length;
      }
      const path = `${this.#dir}/${this.#stem}.${String(this.#nextFile).padStart(12, "0")}.jsonl`;
      const batches = fresh.slice(i, j);
      await this.#write(path, batches);
      this.#nextFile++;
      segs.push({ path, first: from + i, batches });
      i = j;
    }
  }

  /** Reads one segment; a corrupt or unreadable one is moved aside and gives none. */
  async #read(path: string): Promise<Batch[]> {
    try {
      return parseSpool(await Deno.readTextFile(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      const aside = `${path}.corrupt-${Date.now()}`;
      await Deno.rename(path, aside).catch(() => {});
      log.warn("Spool file {path} is unreadable or corrupt ({error}); moved aside to {aside}", {
        path,
        error: (e as Error).message,
        aside,
      });
      return [];
    }
  }

  /** Writes `batches` to `path` atomically (temporary file, fsync, rename); none removes it. */
  async #write(path: string, batches: readonly Batch[]): Promise<void> {
    if (batches.length === 0) {
      await Deno.remove(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      return;
    }
    await Deno.mkdir(this.#dir, { recursive: true });
    const tmp = `${path}.tmp-${Deno.pid}`;
    try {
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
      try {
        const data = new TextEncoder().encode(formatSpool(batches));
        let off = 0;
        while (off < data.length) off += await file.write(data.subarray(off));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  }
}
