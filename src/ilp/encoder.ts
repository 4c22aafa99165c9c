/**
 * InfluxDB line protocol (ILP) text encoder for QuestDB, protocol version 1.
 *
 * Rules (escaping, name validation, number formatting) follow the official QuestDB clients:
 * repository questdb/nodejs-questdb-client (npm @questdb/nodejs-client 4.2.0),
 * src/buffer/base.ts (`writeEscaped`, `writeColumn`, `symbol`, `at`),
 * src/buffer/bufferv1.ts (`floatColumn`) and src/validation.ts (`validateTableName`,
 * `validateColumnName`), which mirror the server's `TableUtils.isValidTableName` /
 * `isValidColumnName` (questdb/questdb core/src/main/java/io/questdb/cairo/TableUtils.java).
 * Output is byte-for-byte what `SenderBufferV1` of `@questdb/nodejs-client` 4.2.0 writes for
 * the same calls (checked in tests/unit/ilp_encoder_test.ts), with these deliberate
 * differences, documented on the methods: NaN/±Infinity doubles, integers outside the LONG
 * range and `-2^63` (QuestDB's LONG NULL) are rejected instead of written; a `number` integer
 * beyond 2^53 is written as the exact integer the double holds; bigints are accepted.
 *
 * @module
 */

/** Default maximum table/column name length, in UTF-16 code units (server and clients: 127). */
export const DEFAULT_MAX_NAME_LENGTH = 127;

// Character classes, indexed by UTF-16 code unit below 128. Source: nodejs-questdb-client
// src/validation.ts. Bit 1: not allowed in a table name. Bit 2: not allowed in a column name
// (symbol names are column names). U+FEFF is handled separately. Note that the official
// clients reject U+0000..U+000F and U+007F but accept U+0010..U+001F; this table does the same.
const BAD_IN_TABLE = 1;
const BAD_IN_COLUMN = 2;
const CHAR_CLASS = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c <= 0x0f; c++) t[c] = BAD_IN_TABLE | BAD_IN_COLUMN;
  t[0x7f] = BAD_IN_TABLE | BAD_IN_COLUMN;
  for (const ch of "?,'\"\\/:()+*%~") t[ch.charCodeAt(0)] = BAD_IN_TABLE | BAD_IN_COLUMN;
  t[".".charCodeAt(0)] = BAD_IN_COLUMN; // dots in table names have their own rule
  t["-".charCodeAt(0)] = BAD_IN_COLUMN;
  return t;
})();
const DOT = 0x2e;
const BOM = 0xfeff;

// Names, symbol values: space, comma, equals sign, newline, carriage return and backslash get a
// backslash in front. Quoted strings: double quote, backslash, newline and carriage return.
const UNQUOTED_SPECIAL = /[ ,=\n\r\\]/;
const UNQUOTED_SPECIAL_ALL = /[ ,=\n\r\\]/g;
const QUOTED_SPECIAL = /["\\\n\r]/;
const QUOTED_SPECIAL_ALL = /["\\\n\r]/g;

// LONG range. QuestDB stores Long.MIN_VALUE (-2^63) as NULL, so it is excluded.
const LONG_MAX = 9223372036854775807n;
const LONG_MIN_ALLOWED = -9223372036854775807n;
const TWO_POW_63 = 9223372036854775808; // exactly representable as a double
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// Cache of validated, escaped names: a daemon writes the same few names on every row.
const NAME_CACHE_LIMIT = 4096;

// Row states.
const IDLE = 0; // no row in progress
const TABLE = 1; // table written, nothing else yet
const SYMBOLS = 2; // table and at least one symbol
const COLUMNS = 3; // at least one column

/** Escapes a table name, column name or symbol value (unquoted ILP token). */
function escapeUnquoted(s: string): string {
  return UNQUOTED_SPECIAL.test(s) ? s.replace(UNQUOTED_SPECIAL_ALL, "\\$&") : s;
}

/** Escapes the inside of a double-quoted ILP string value. */
function escapeQuoted(s: string): string {
  return QUOTED_SPECIAL.test(s) ? s.replace(QUOTED_SPECIAL_ALL, "\\$&") : s;
}

/** Renders a character for an error message (control characters as `\uXXXX`). */
function showChar(code: number): string {
  return code < 0x20 || code === 0x7f || code === BOM
    ? `\\u${code.toString(16).padStart(4, "0")}`
    : String.fromCharCode(code);
}

/**
 * Builds InfluxDB line protocol rows for QuestDB as one string, row by row:
 * `table(name)`, then any `symbol()`s, then any columns, then `at(ns)`.
 *
 * Example: `enc.table("cpu").symbol("host", "a").floatColumn("pct", 1.5).at(1700000000000000000n)`
 * adds the line `cpu,host=a pct=1.5 1700000000000000000\n`.
 *
 * Any error thrown between `table()` and `at()` discards the row in progress (what was built
 * of it is dropped), so the held rows always stay valid and the next `table()` starts cleanly.
 * Complete rows are unaffected.
 *
 * Value encodings (ILP v1 text, accepted by every QuestDB version):
 * - symbol: unquoted, escaped -> SYMBOL
 * - string: `"..."` -> VARCHAR
 * - float: JavaScript's shortest round-trip form (`Number.prototype.toString`, e.g. `1.5`,
 *   `1e+21`, `5e-324`, `0` for `-0`) -> DOUBLE
 * - int: decimal digits plus `i` -> LONG
 * - bool: `t` / `f` -> BOOLEAN
 * - designated timestamp: nanoseconds since the Unix epoch, decimal (send with
 *   `precision=n`, as the HTTP transport does; ILP/TCP assumes nanoseconds)
 *
 * Source of the rules: questdb/nodejs-questdb-client (npm @questdb/nodejs-client 4.2.0)
 * src/buffer/base.ts, src/buffer/bufferv1.ts and src/validation.ts (see the module
 * documentation).
 */
export class IlpEncoder {
  readonly #maxNameLength: number;
  #done = "";
  #rows = 0;
  #row = "";
  #state = IDLE;
  readonly #tables = new Map<string, string>();
  readonly #columns = new Map<string, string>();

  /**
   * Creates an empty encoder.
   *
   * @param options.maxNameLength Maximum length of table and column names in UTF-16 code
   *   units (as the official clients count), default 127 (the server's default
   *   `cairo.max.file.name.length`). Must be an integer >= 1.
   * @throws {RangeError} when `maxNameLength` is not an integer >= 1.
   */
  constructor(options?: { maxNameLength?: number }) {
    const max = options?.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`IlpEncoder: maxNameLength must be an integer >= 1, got ${max}`);
    }
    this.#maxNameLength = max;
  }

  /** Number of complete rows (ended with `at()`) held since the last `take()`. */
  get rowCount(): number {
    return this.#rows;
  }

  /**
   * Starts a row for table `name`.
   *
   * Table names are 1..maxNameLength UTF-16 code units, must not contain
   * `? , ' " \ / : ( ) + * % ~`, U+0000..U+000F, U+007F or U+FEFF, and may contain a dot only
   * between two other characters and never two dots in a row. Spaces and `=` are allowed and
   * escaped.
   *
   * @throws {TypeError} when a row is already in progress (it is discarded) or `name` is not a
   *   string.
   * @throws {RangeError} when the name is empty, too long or has a forbidden character.
   */
  table(name: string): this {
    if (this.#state !== IDLE) {
      this.#fail(new TypeError("IlpEncoder: table() called before at() ended the previous row"));
    }
    this.#row = this.#tables.get(name) ?? this.#name(name, "table", this.#tables);
    this.#state = TABLE;
    return this;
  }

  /**
   * Adds a SYMBOL column. Symbols must come after `table()` and before any other column.
   * The value may be any string (also empty); space, comma, `=`, newline, CR and backslash are
   * escaped with a backslash.
   *
   * @param name column name; see {@link IlpEncoder.stringColumn} for the rules.
   * @throws {TypeError} when called out of order or with a non-string argument.
   * @throws {RangeError} when the name is invalid.
   */
  symbol(name: string, value: string): this {
    const state = this.#state;
    if (state !== TABLE && state !== SYMBOLS) {
      this.#fail(
        new TypeError(
          state === IDLE
            ? `IlpEncoder: symbol(${JSON.stringify(name)}) called before table()`
            : `IlpEncoder: symbol(${JSON.stringify(name)}) must come before columns`,
        ),
      );
    }
    const col = this.#column(name);
    if (typeof value !== "string") {
      this.#wrongType("symbol", name, "a string", value);
    }
    this.#row += "," + col + "=" + escapeUnquoted(value);
    this.#state = SYMBOLS;
    return this;
  }

  /**
   * Adds a VARCHAR column: the value is written double-quoted with `"`, `\`, newline and CR
   * escaped by a backslash; any string (also empty) is allowed.
   *
   * Column names are 1..maxNameLength UTF-16 code units and must not contain
   * `? . , ' " \ / : ( ) + - * % ~`, U+0000..U+000F, U+007F or U+FEFF. Spaces and `=` are
   * allowed and escaped.
   *
   * @throws {TypeError} when called before `table()` or with a non-string argument.
   * @throws {RangeError} when the name is invalid.
   */
  stringColumn(name: string, value: string): this {
    const prefix = this.#columnPrefix(name);
    if (typeof value !== "string") {
      this.#wrongType("column", name, "a string", value);
    }
    return this.#put(prefix + '="' + escapeQuoted(value) + '"');
  }

  /**
   * Adds a DOUBLE column, formatted as `Number.prototype.toString` does (shortest form that
   * round-trips; exponent form below 1e-6 and from 1e21; `-0` becomes `0`), as the official
   * client's protocol v1 buffer does.
   *
   * @throws {TypeError} when called before `table()` or `value` is not a number.
   * @throws {RangeError} when the name is invalid or `value` is NaN or ±Infinity (the message
   *   names the column; the official client would write them, QuestDB stores them as NULL).
   */
  floatColumn(name: string, value: number): this {
    const prefix = this.#columnPrefix(name);
    if (typeof value !== "number") {
      this.#wrongType("column", name, "a number", value);
    }
    if (!Number.isFinite(value)) {
      this.#fail(
        new RangeError(
          `IlpEncoder: column ${JSON.stringify(name)} value must be finite, got ${value}`,
        ),
      );
    }
    return this.#put(prefix + "=" + value);
  }

  /**
   * Adds a LONG column written as `<digits>i`. A `number` must be an integer; a `bigint` is
   * written exactly. The range is -(2^63-1) .. 2^63-1: QuestDB's LONG, without -2^63, which
   * QuestDB reads as NULL. Use a bigint for values beyond 2^53.
   *
   * Within ±(2^53-1) (safe integers) the bytes equal the official client's. Beyond that a
   * `number` is written as the exact integer the double holds (`BigInt(value)`), where the
   * official client writes `value.toString()`, whose shortest round-trip digits name a
   * different integer (2^60 would be sent as 1152921504606847000 instead of
   * 1152921504606846976).
   *
   * @throws {TypeError} when called before `table()` or `value` is neither number nor bigint.
   * @throws {RangeError} when the name is invalid, or the value is not an integer or outside
   *   the range (the message names the column).
   */
  intColumn(name: string, value: number | bigint): this {
    const prefix = this.#columnPrefix(name);
    let digits: string;
    if (typeof value === "number") {
      if (!Number.isInteger(value)) {
        this.#fail(
          new RangeError(
            `IlpEncoder: column ${JSON.stringify(name)} value must be an integer, got ${value}`,
          ),
        );
      }
      if (value >= TWO_POW_63 || value <= -TWO_POW_63) {
        this.#fail(
          new RangeError(
            `IlpEncoder: column ${JSON.stringify(name)} value ${value} is outside the LONG range`,
          ),
        );
      }
      digits = value <= MAX_SAFE && value >= -MAX_SAFE ? "" + value : BigInt(value).toString();
    } else if (typeof value === "bigint") {
      if (value > LONG_MAX || value < LONG_MIN_ALLOWED) {
        this.#fail(
          new RangeError(
            `IlpEncoder: column ${JSON.stringify(name)} value ${value} is outside the LONG range`,
          ),
        );
      }
      digits = value.toString();
    } else {
      this.#fail(
        new TypeError(
          `IlpEncoder: column ${
            JSON.stringify(name)
          } value must be a number or bigint, got ${typeof value}`,
        ),
      );
    }
    return this.#put(prefix + "=" + digits + "i");
  }

  /**
   * Adds a BOOLEAN column written as `t` or `f`.
   *
   * @throws {TypeError} when called before `table()` or `value` is not a boolean.
   * @throws {RangeError} when the name is invalid.
   */
  boolColumn(name: string, value: boolean): this {
    const prefix = this.#columnPrefix(name);
    if (typeof value !== "boolean") {
      this.#wrongType("column", name, "a boolean", value);
    }
    return this.#put(prefix + (value ? "=t" : "=f"));
  }

  /**
   * Ends the row with its designated timestamp and a newline; the row then counts in
   * `rowCount` and is returned by the next `take()`.
   *
   * @param timestampNs nanoseconds since the Unix epoch (UTC), written as decimal digits.
   * @throws {TypeError} when no row is in progress, the row has neither a symbol nor a column
   *   (both discard the row), or `timestampNs` is not a bigint.
   */
  at(timestampNs: bigint): void {
    const state = this.#state;
    if (state !== SYMBOLS && state !== COLUMNS) {
      this.#fail(
        new TypeError(
          state === IDLE
            ? "IlpEncoder: at() called before table()"
            : "IlpEncoder: a row needs at least one symbol or column before at()",
        ),
      );
    }
    if (typeof timestampNs !== "bigint") {
      this.#fail(
        new TypeError(
          `IlpEncoder: timestamp must be a bigint (nanoseconds), got ${typeof timestampNs}`,
        ),
      );
    }
    this.#done += this.#row + " " + timestampNs + "\n";
    this.#rows++;
    this.#row = "";
    this.#state = IDLE;
  }

  /**
   * Returns all complete rows since the last call (each ending with `\n`; `""` when there are
   * none) and forgets them. A row in progress is kept and continues.
   */
  take(): string {
    const out = this.#done;
    this.#done = "";
    this.#rows = 0;
    return out;
  }

  /** Separator before a column: a space before the first column, then a comma. */
  #columnSeparator(name: string): string {
    const state = this.#state;
    if (state === IDLE) {
      this.#fail(new TypeError(`IlpEncoder: column ${JSON.stringify(name)} added before table()`));
    }
    return state === COLUMNS ? "," : " ";
  }

  /** The separator and the escaped name of a column (validated), before its `=`. */
  #columnPrefix(name: string): string {
    const sep = this.#columnSeparator(name);
    return sep + this.#column(name);
  }

  /** Appends a whole column (`,name=value`) to the row in progress. */
  #put(column: string): this {
    this.#row += column;
    this.#state = COLUMNS;
    return this;
  }

  /** Validates and escapes a column (or symbol) name, through the cache. */
  #column(name: string): string {
    return this.#columns.get(name) ?? this.#name(name, "column", this.#columns);
  }

  /** Validates and escapes a name not in `cache` yet, and caches it. */
  #name(name: string, kind: "table" | "column", cache: Map<string, string>): string {
    if (typeof name !== "string") {
      this.#fail(new TypeError(`IlpEncoder: ${kind} name must be a string, got ${typeof name}`));
    }
    const problem = this.#checkName(name, kind);
    if (problem !== null) this.#fail(new RangeError(problem));
    const escaped = escapeUnquoted(name);
    if (cache.size >= NAME_CACHE_LIMIT) cache.clear();
    cache.set(name, escaped);
    return escaped;
  }

  /**
   * Returns why `name` is not a valid table or column name, or null. Both: 1..maxNameLength
   * UTF-16 code units, none of the characters of the kind's mask, no BOM; a table name may hold
   * single dots between other characters (the official client's validation.ts).
   */
  #checkName(name: string, kind: "table" | "column"): string | null {
    const len = name.length;
    if (len === 0) return `IlpEncoder: empty string is not allowed as ${kind} name`;
    if (len > this.#maxNameLength) {
      return `IlpEncoder: ${kind} name ${
        JSON.stringify(name)
      } is too long, max length is ${this.#maxNameLength}`;
    }
    const bad = kind === "table" ? BAD_IN_TABLE : BAD_IN_COLUMN;
    for (let i = 0; i < len; i++) {
      const c = name.charCodeAt(i);
      if (kind === "table" && c === DOT) {
        if (i === 0 || i === len - 1 || name.charCodeAt(i - 1) === DOT) {
          return `IlpEncoder: table name ${
            JSON.stringify(name)
          } cannot start or end with a dot, and only a single dot is allowed`;
        }
      } else if ((c < 128 && (CHAR_CLASS[c]! & bad) !== 0) || c === BOM) {
        return `IlpEncoder: invalid character '${showChar(c)}' in ${kind} name ${
          JSON.stringify(name)
        }`;
      }
    }
    return null;
  }

  /**
   * Discards the row in progress and throws a TypeError for a value of the wrong type.
   * @throws {TypeError} always.
   */
  #wrongType(kind: "symbol" | "column", name: string, expected: string, value: unknown): never {
    this.#fail(
      new TypeError(
        `IlpEncoder: ${kind} ${
          JSON.stringify(name)
        } value must be ${expected}, got ${typeof value}`,
      ),
    );
  }

  /** Discards the row in progress and throws `err`. */
  #fail(err: Error): never {
    this.#row = "";
    this.#state = IDLE;
    throw err;
  }
}
