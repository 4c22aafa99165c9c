/**
 * PROTOTYPE of a proposed change to src/source/docker_stats/parser.ts (the daemon does not use it):
 * `StatsParser` with the repeated table of CLI 28 to 29.3 recognised *before* row parsing.
 *
 * Those CLIs print every redraw's table twice: `ESC[H`, the rows, `ESC[H`, the same rows each
 * followed by ` ESC[K`, then `ESC[J`. The class in src/ JSON-parses and unit-parses every row
 * of the second copy, then drops it as a duplicate by container ID, so half of its row parsing
 * is thrown away. Here the parser counts cursor-home sequences (`ESC[H`) within a redraw; from
 * the second one on, a row whose text equals, character for character, the row at the same
 * position of the first table (one that produced a sample) is a duplicate without being
 * parsed: a string comparison instead of `JSON.parse` plus unit parsing. Anything else (a
 * different text, a first-table row that was skipped, the CLI 29.4+ and up-to-27 framings
 * with one home per redraw, unframed streams) takes the old path, so samples, counters and
 * skip reasons are exactly those of src/ (bench/parser_bench.ts checks this on every stream
 * before timing, and on edge cases).
 *
 * Copied from src/source/docker_stats/parser.ts; the changes are marked `PROTO`.
 */
import type { Sample } from "../../src/sample.ts";
import {
  MAX_LINE_LENGTH,
  type ParserCounters,
  parseStatsRow,
  type SkipReason,
  type StatsParserOptions,
} from "../../src/source/docker_stats/parser.ts";

const ESC = "\x1b";

/**
 * Incremental parser for the byte stream of a long-lived `docker stats` child. Feed it chunks
 * as they arrive; it calls `onSample` once per container per redraw. A bad line is skipped and
 * counted; the parser never throws for input.
 */
export class FastStatsParser {
  /** Running counts; read them, do not write them. */
  readonly counters: ParserCounters = {
    lines: 0,
    samples: 0,
    skipped: 0,
    placeholders: 0,
    duplicates: 0,
    redraws: 0,
    emptyRedraws: 0,
  };
  readonly #onSample: (sample: Sample) => void;
  readonly #onSkip: ((reason: SkipReason, message: string) => void) | undefined;
  readonly #onRedraw: (() => void) | undefined;
  readonly #maxLine: number;
  readonly #decoder = new TextDecoder();
  /** The incomplete last line of the input so far. */
  #carry = "";
  /** True while dropping the rest of an over-long line. */
  #discarding = false;
  /** Container IDs sampled in the current redraw. */
  readonly #seen = new Set<string>();
  /** Whether any escape code was ever seen (else every repeat starts a redraw). */
  #framed = false;
  /** Rows (of any kind) since the last redraw boundary. */
  #rowsInRedraw = 0;
  /** PROTO: cursor homes (`ESC[H`) since the last redraw boundary. */
  #homes = 0;
  /** PROTO: texts of the first table's rows that gave a sample (null for the others). */
  #firstTable: (string | null)[] = [];
  /** PROTO: position in the current table. */
  #pos = 0;

  /**
   * @param onSample receives each sample, in stream order.
   * @param options line cap and skip callback.
   */
  constructor(onSample: (sample: Sample) => void, options: StatsParserOptions = {}) {
    this.#onSample = onSample;
    this.#onSkip = options.onSkip;
    this.#onRedraw = options.onRedraw;
    this.#maxLine = options.maxLineLength ?? MAX_LINE_LENGTH;
  }

  /** Feeds a chunk of the child's stdout. */
  push(chunk: Uint8Array): void {
    this.#text(this.#decoder.decode(chunk, { stream: true }));
  }

  /** Flushes the last line at the end of the stream and resets the stream state. */
  end(): void {
    this.#text(this.#decoder.decode());
    const rest = this.#carry;
    this.#carry = "";
    if (!this.#discarding && rest.length > 0) this.#line(rest);
    this.#discarding = false;
    this.#seen.clear();
  }

  #text(text: string): void {
    let start = 0;
    let nl = text.indexOf("\n");
    while (nl !== -1) {
      if (this.#discarding) {
        this.#discarding = false;
      } else if (this.#carry.length > 0) {
        const line = this.#carry + text.slice(start, nl);
        this.#carry = "";
        if (line.length > this.#maxLine) this.#tooLong(line.length);
        else this.#line(line);
      } else if (nl - start > this.#maxLine) {
        this.#tooLong(nl - start);
      } else {
        this.#line(text.slice(start, nl));
      }
      start = nl + 1;
      nl = text.indexOf("\n", start);
    }
    if (start < text.length && !this.#discarding) {
      this.#carry += text.slice(start);
      if (this.#carry.length > this.#maxLine) {
        this.#tooLong(this.#carry.length);
        this.#carry = "";
        this.#discarding = true;
      }
    }
  }

  #tooLong(length: number): void {
    this.counters.lines++;
    this.#skip("too-long", `line of ${length} characters exceeds the ${this.#maxLine} cap`);
  }

  #skip(reason: SkipReason, message: string): void {
    this.counters.skipped++;
    if (reason === "placeholder") this.counters.placeholders++;
    this.#onSkip?.(reason, message);
  }

  #boundary(): void {
    this.counters.redraws++;
    if (this.#rowsInRedraw === 0) this.counters.emptyRedraws++;
    this.#rowsInRedraw = 0;
    this.#seen.clear();
    this.#homes = 0; // PROTO
    this.#firstTable = [];
    this.#pos = 0;
    this.#onRedraw?.();
  }

  #line(line: string): void {
    let text = line;
    let boundaryAfter = false;
    if (line.indexOf(ESC) !== -1) {
      this.#framed = true;
      text = "";
      let i = 0;
      const n = line.length;
      while (i < n) {
        const esc = line.indexOf(ESC, i);
        if (esc === -1) {
          text += line.slice(i);
          break;
        }
        text += line.slice(i, esc);
        // CSI: ESC [ parameters (0x30-0x3F)* intermediates (0x20-0x2F)* final (0x40-0x7E).
        let j = esc + 1;
        if (j < n && line.charCodeAt(j) === 91 /* [ */) {
          j++;
          while (j < n && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x3f) j++;
          if (j < n && line.charCodeAt(j) === 74 /* J */) {
            // Erase display: a redraw boundary. Text before it belongs to the old redraw.
            if (text.trim() === "") this.#boundary();
            else boundaryAfter = true;
          } else if (
            j === esc + 2 && j < n && line.charCodeAt(j) === 72 /* H */ && text.trim() === ""
          ) {
            // PROTO: cursor home at the start of a line: a new table starts.
            this.#homes++;
            this.#pos = 0;
          }
        }
        i = j + 1;
      }
    }
    text = text.trim();
    if (text !== "") this.#row(text);
    if (boundaryAfter) this.#boundary();
  }

  #row(text: string): void {
    this.counters.lines++;
    this.#rowsInRedraw++;
    // PROTO: the same text at the same place of the first table is that row again.
    const homes = this.#homes;
    if (homes >= 2) {
      const first = this.#firstTable[this.#pos++];
      if (first === text) {
        this.counters.duplicates++;
        return;
      }
    } else if (homes === 1) {
      this.#firstTable.push(null);
    }
    let sample: Sample | null;
    try {
      sample = parseStatsRow(text);
    } catch (e) {
      const excerpt = text.length > 200 ? `${text.slice(0, 200)}...` : text;
      this.#skip("invalid", `${(e as Error).message}: ${excerpt}`);
      return;
    }
    if (sample === null) {
      this.#skip("placeholder", `placeholder row: ${text}`);
      return;
    }
    if (this.#seen.has(sample.id)) {
      if (this.#framed) {
        this.counters.duplicates++;
        return;
      }
      this.#boundary();
    }
    this.#seen.add(sample.id);
    if (homes === 1) this.#firstTable[this.#firstTable.length - 1] = text; // PROTO
    this.counters.samples++;
    this.#onSample(sample);
  }
}
