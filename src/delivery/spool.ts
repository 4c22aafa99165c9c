/**
 * The spool: undelivered batches kept on disk across restarts. One JSON document per line:
 * a header `{"spool":"container-statsd","version":1}` then one `{"endMs","rows","ilp"}` per
 * batch. Writes are atomic (temporary file, fsync, rename), so a crash leaves either the old
 * spool or the new one, never half of one.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Batch } from "./queue.ts";

const log = getLogger(["container-statsd", "spool"]);
const HEADER = JSON.stringify({ spool: "container-statsd", version: 1 });

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

/** One sink's spool file. */
export class Spool {
  /** `<dir>/<file>`. */
  readonly path: string;
  readonly #dir: string;

  /**
   * Names the spool; nothing is read or written yet.
   *
   * @param dir directory of the spool file (created on first write).
   * @param file the file's name, distinct per sink. Default `spool.jsonl` (the QuestDB sink's,
   *   as earlier versions named it).
   */
  constructor(dir: string, file = "spool.jsonl") {
    this.#dir = dir;
    this.path = `${dir}/${file}`;
  }

  /**
   * Reads the spool. A corrupt or unreadable spool is moved aside (`.corrupt-<ms>`) with a
   * warning and gives no batches; it never blocks startup.
   * @returns the spooled batches, oldest first ([] when there is no spool).
   */
  async read(): Promise<Batch[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      log.warn("Cannot read spool {path}: {error}; ignoring it", {
        path: this.path,
        error: (e as Error).message,
      });
      await this.#moveAside();
      return [];
    }
    try {
      return parseSpool(text);
    } catch (e) {
      const aside = await this.#moveAside();
      log.warn("Spool {path} is corrupt ({error}); moved aside to {aside}", {
        path: this.path,
        error: (e as Error).message,
        aside,
      });
      return [];
    }
  }

  /**
   * Replaces the spool with `batches` atomically; an empty list removes it.
   * @throws {Deno.errors.PermissionDenied} and other I/O errors to the caller, which logs them.
   */
  async write(batches: readonly Batch[]): Promise<void> {
    if (batches.length === 0) return this.remove();
    await Deno.mkdir(this.#dir, { recursive: true });
    const tmp = `${this.path}.tmp-${Deno.pid}`;
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      const data = new TextEncoder().encode(formatSpool(batches));
      let off = 0;
      while (off < data.length) off += await file.write(data.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, this.path);
  }

  /** Removes the spool file if present. */
  async remove(): Promise<void> {
    await Deno.remove(this.path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  async #moveAside(): Promise<string> {
    const aside = `${this.path}.corrupt-${Date.now()}`;
    await Deno.rename(this.path, aside).catch(() => {});
    return aside;
  }
}
