/**
 * The `docker stats --format '{{json .}}' --no-trunc` stream parser: bytes in, samples out.
 *
 * Framings by CLI version (docker/cli cli/command/container/stats.go; recordings in
 * tests/fixtures/):
 * - up to 27.x: every redraw starts with `ESC[2J ESC[H`;
 * - 28.0 to 29.3: `ESC[H`, the rows, `ESC[H`, the same rows each followed by ` ESC[K`, `ESC[J`
 *   (every redraw holds the table twice);
 * - 29.4 and later: `ESC[H`, each row followed by `ESC[K\n`, then `ESC[J`.
 *
 * `ESC[J` and `ESC[2J` (erase display) both mark a redraw boundary; within one redraw each
 * container gives at most one sample, so a table printed twice counts once. A stream with no
 * escape codes at all (e.g. `--no-stream`) starts a new redraw whenever a container repeats.
 *
 * The repeated table is recognised before it is parsed: a cursor home (`ESC[H`) at the start of
 * a line starts a table, and a row of the second or a later table whose text equals the row at
 * the same position of the redraw's first table (one that gave a sample) is a duplicate, found
 * with one string comparison instead of `JSON.parse` and unit parsing. Any other row takes the
 * full path, where a repeated container ID is still a duplicate. (1.16 x on a 200-container CLI
 * 28 stream against a set of sampled row texts: BENCHMARKS.md, "Improvements".)
 */
import type { Sample } from "../../sample.ts";
import { parseCount, parsePercent, parseSizePair } from "./units.ts";

/** Default cap on one line: 1 MiB (characters of the decoded stream). */
export const MAX_LINE_LENGTH = 1024 * 1024;

/** Why a line was skipped. */
export type SkipReason = "placeholder" | "invalid" | "too-long" | "duplicate";

/** Running counts since the parser was made. */
export interface ParserCounters {
  /** Non-blank lines seen. */
  lines: number;
  /** Samples emitted. */
  samples: number;
  /** Lines skipped, all reasons together (duplicates within a redraw are not counted here). */
  skipped: number;
  /** Placeholder rows (`--` values, empty ID) among `skipped`. */
  placeholders: number;
  /** Rows repeated within one redraw (the second table of CLI 28 to 29.3). */
  duplicates: number;
  /** Redraw boundaries seen. */
  redraws: number;
  /** Redraws with no row at all (no container running). */
  emptyRedraws: number;
}

/** Options for {@link StatsParser}. */
export interface StatsParserOptions {
  /** Longest accepted line in characters; longer lines are skipped. Default 1 MiB. */
  maxLineLength?: number;
  /** Called for every skipped line with the reason and a message naming what was wrong. */
  onSkip?: (reason: SkipReason, message: string) => void;
  /**
   * Called at every redraw boundary (an empty redraw included) with the number of rows the
   * redraw held: samples, placeholders and bad rows alike; 0 for an empty redraw.
   */
  onRedraw?: (rows: number) => void;
}

const ESC = "\x1b";
const KEYS = [
  "ID",
  "Name",
  "CPUPerc",
  "MemUsage",
  "MemPerc",
  "NetIO",
  "BlockIO",
  "PIDs",
] as const;

/**
 * Turns one `docker stats` JSON row into a sample.
 *
 * @param json the row's JSON text (one object, every value a string), as printed by
 *   docker/cli formatter_stats.go with `{{json .}}`.
 * @returns the sample, or `null` for a placeholder row (Name `--`, empty ID, `--` values,
 *   `-- / --`): placeholders appear while a container starts or on a stats error and are not
 *   samples.
 * @throws {SyntaxError} for malformed JSON, a missing key, a non-string value, or a value whose
 *   number or unit does not parse (the message names the value and unit).
 */
export function parseStatsRow(json: string): Sample | null {
  const raw: unknown = JSON.parse(json);
  if (typeof raw !== "object" || raw === null) throw new SyntaxError("row is not an object");
  const row = raw as Record<string, unknown>;
  for (const key of KEYS) {
    if (typeof row[key] !== "string") throw new SyntaxError(`missing or non-string "${key}"`);
  }
  const r = row as Record<(typeof KEYS)[number], string> & { Container?: unknown };
  if (
    r.ID === "" || r.Name === "--" || r.CPUPerc === "--" || r.MemPerc === "--" ||
    r.PIDs === "--" || r.NetIO === "--" || r.BlockIO === "--" || r.MemUsage.startsWith("--")
  ) return null;
  const [memoryUse, totalMemory] = parseSizePair(r.MemUsage, "memory");
  const [netIn, netOut] = parseSizePair(r.NetIO, "io");
  const [blockIn, blockOut] = parseSizePair(r.BlockIO, "io");
  return {
    id: r.ID,
    container: typeof r.Container === "string" && r.Container.length === 12
      ? r.Container
      : r.ID.slice(0, 12),
    name: r.Name.startsWith("/") ? r.Name.slice(1) : r.Name,
    cpu: parsePercent(r.CPUPerc),
    memoryUse,
    totalMemory,
    memoryPercentage: parsePercent(r.MemPerc),
    netIn,
    netOut,
    blockIn,
    blockOut,
    pids: parseCount(r.PIDs),
  };
}

/**
 * Incremental parser for the byte stream of a long-lived `docker stats` child. Feed it chunks
 * as they arrive; it calls `onSample` once per container per redraw. A bad line is skipped and
 * counted; the parser never throws for input.
 */
export class StatsParser {
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
  readonly #onRedraw: ((rows: number) => void) | undefined;
  readonly #maxLine: number;
  readonly #decoder = new TextDecoder();
  /** The incomplete last line of the input so far. */
  #carry = "";
  /** True while dropping the rest of an over-long line. */
  #discarding = false;
  /** Container IDs sampled in the current redraw. */
  readonly #seen = new Set<string>();
  /** Cursor homes (`ESC[H` at the start of a line) in the current redraw: tables begun. */
  #homes = 0;
  /** Texts of the first table's rows in the current redraw; null for a row without sample. */
  #firstTable: (string | null)[] = [];
  /** Position of the next row in the current table. */
  #pos = 0;
  /** Whether any escape code was ever seen (else every repeat starts a redraw). */
  #framed = false;
  /** Rows (of any kind) since the last redraw boundary. */
  #rowsInRedraw = 0;

  /**
   * Makes a parser at the start of a stream.
   *
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
    this.#resetTables();
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
    const rows = this.#rowsInRedraw;
    this.counters.redraws++;
    if (rows === 0) this.counters.emptyRedraws++;
    this.#rowsInRedraw = 0;
    this.#seen.clear();
    this.#resetTables();
    this.#onRedraw?.(rows);
  }

  #resetTables(): void {
    this.#homes = 0;
    this.#firstTable = [];
    this.#pos = 0;
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
            // Cursor home at the start of a line: a table starts.
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
    const homes = this.#homes;
    if (homes >= 2) {
      // The same text at the same place of the first table is that row again.
      if (this.#firstTable[this.#pos++] === text) {
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
    if (homes === 1) this.#firstTable[this.#firstTable.length - 1] = text;
    this.counters.samples++;
    this.#onSample(sample);
  }
}
