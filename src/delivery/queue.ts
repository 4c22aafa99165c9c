/**
 * The delivery queue: encoded ILP batches in interval order, bounded by a number of rows and by
 * the characters one V8 string can hold. When full, the oldest rows are dropped (Telegraf's
 * metric buffer does the same; unlike it, every drop is counted and reported).
 *
 * @module
 */

/** The ILP rows of one interval (container rows and disk rows together). */
export interface Batch {
  /** Interval end, milliseconds since the epoch. */
  readonly endMs: number;
  /** Number of rows (lines) in `ilp`. */
  readonly rows: number;
  /** ILP text, one row per line, each ending with "\n". */
  readonly ilp: string;
}

/**
 * The longest string V8 makes, UTF-16 code units: 2^29 - 24 on 64-bit builds (V8
 * `String::kMaxLength`; checked with Deno 2.9.6: one more throws "Invalid string length").
 */
export const V8_MAX_STRING_LENGTH = 2 ** 29 - 24;

/**
 * The largest `--buffer-rows`: a million rows of 512 characters (a container row is about 400
 * without labels) fill one V8 string. The queue also caps its characters at
 * {@link V8_MAX_STRING_LENGTH}, so rows longer than that still cannot outgrow it.
 */
export const MAX_BUFFER_ROWS = 1_000_000;

/** Keeps the last `rows` lines of a batch. */
function keepLast(batch: Batch, rows: number): Batch {
  let cut = batch.ilp.length;
  for (let i = 0; i < rows; i++) cut = batch.ilp.lastIndexOf("\n", cut - 2) + 1;
  return { endMs: batch.endMs, rows, ilp: batch.ilp.slice(Math.max(0, cut)) };
}

/**
 * A FIFO of batches holding at most `capacityRows` rows and `capacityChars` characters of ILP.
 * Every batch ever pushed has a sequence number, counting from 0 in push order, by which the
 * spool (spool.ts) tells which batches it holds.
 */
export class BatchQueue {
  /** The most rows held. */
  readonly capacityRows: number;
  /** The most ILP characters held. */
  readonly capacityChars: number;
  #batches: Batch[] = [];
  #head = 0;
  #rows = 0;
  #chars = 0;
  /** Sequence number of the oldest batch held (batches removed so far). */
  #headSeq = 0;

  /**
   * Makes an empty queue.
   *
   * @param capacityRows the most rows held (>= 1).
   * @param capacityChars the most ILP characters held; default {@link V8_MAX_STRING_LENGTH},
   *   so that the whole queue would fit in one string whatever the rows' size.
   * @throws {RangeError} when a capacity is below 1.
   */
  constructor(capacityRows: number, capacityChars = V8_MAX_STRING_LENGTH) {
    if (!(capacityRows >= 1)) throw new RangeError(`capacityRows must be >= 1: ${capacityRows}`);
    if (!(capacityChars >= 1)) throw new RangeError(`capacityChars must be >= 1: ${capacityChars}`);
    this.capacityRows = capacityRows;
    this.capacityChars = capacityChars;
  }

  /** Rows held. */
  get rows(): number {
    return this.#rows;
  }

  /** Batches held. */
  get length(): number {
    return this.#batches.length - this.#head;
  }

  /** Sequence number of the oldest batch held (of the next one pushed when empty). */
  get headSeq(): number {
    return this.#headSeq;
  }

  /** Sequence number the next pushed batch gets. */
  get nextSeq(): number {
    return this.#headSeq + this.length;
  }

  /**
   * Appends a batch, dropping the oldest rows to stay within capacity (a batch of more rows
   * than the capacity keeps its newest ones; one of more characters is dropped whole, with
   * everything older).
   * @returns the number of rows dropped (0 when there was room).
   */
  push(batch: Batch): number {
    if (batch.rows === 0) return 0;
    let dropped = 0;
    let b = batch;
    if (b.rows > this.capacityRows) {
      dropped += b.rows - this.capacityRows;
      b = keepLast(b, this.capacityRows);
    }
    if (b.ilp.length > this.capacityChars) {
      // It cannot be held: the queue keeps nothing older than it, and it takes a sequence
      // number and leaves at once.
      while (this.length > 0) dropped += this.shift()!.rows;
      this.#headSeq++;
      return dropped + b.rows;
    }
    while (
      this.#rows + b.rows > this.capacityRows || this.#chars + b.ilp.length > this.capacityChars
    ) {
      dropped += this.shift()!.rows;
    }
    this.#batches.push(b);
    this.#rows += b.rows;
    this.#chars += b.ilp.length;
    return dropped;
  }

  /** The first `count` batches, oldest first, without removing them. */
  peek(count: number): Batch[] {
    return this.#batches.slice(this.#head, this.#head + count);
  }

  /**
   * The batches with sequence numbers in [`fromSeq`, `toSeq`) that are still held, oldest first.
   */
  slice(fromSeq: number, toSeq = this.nextSeq): Batch[] {
    const from = Math.max(fromSeq, this.#headSeq) - this.#headSeq + this.#head;
    const to = Math.min(toSeq, this.nextSeq) - this.#headSeq + this.#head;
    return from < to ? this.#batches.slice(from, to) : [];
  }

  /** Removes and returns the oldest batch. */
  shift(): Batch | undefined {
    if (this.#head >= this.#batches.length) return undefined;
    const b = this.#batches[this.#head]!;
    this.#head++;
    this.#headSeq++;
    this.#rows -= b.rows;
    this.#chars -= b.ilp.length;
    if (this.#head > 64 && this.#head * 2 > this.#batches.length) {
      this.#batches = this.#batches.slice(this.#head);
      this.#head = 0;
    }
    return b;
  }

  /** All batches, oldest first (a copy). */
  toArray(): Batch[] {
    return this.#batches.slice(this.#head);
  }
}
