/**
 * The delivery queue: encoded ILP batches in interval order, bounded by a number of rows.
 * When full, the oldest rows are dropped (Telegraf's metric buffer does the same; unlike it,
 * every drop is counted and reported).
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

/** Keeps the last `rows` lines of a batch. */
function keepLast(batch: Batch, rows: number): Batch {
  let cut = batch.ilp.length;
  for (let i = 0; i < rows; i++) cut = batch.ilp.lastIndexOf("\n", cut - 2) + 1;
  return { endMs: batch.endMs, rows, ilp: batch.ilp.slice(Math.max(0, cut)) };
}

/** A FIFO of batches holding at most `capacityRows` rows. */
export class BatchQueue {
  /** The most rows held. */
  readonly capacityRows: number;
  #batches: Batch[] = [];
  #head = 0;
  #rows = 0;

  /**
   * Makes an empty queue.
   *
   * @param capacityRows the most rows held (>= 1).
   * @throws {RangeError} when `capacityRows` is below 1.
   */
  constructor(capacityRows: number) {
    if (!(capacityRows >= 1)) throw new RangeError(`capacityRows must be >= 1: ${capacityRows}`);
    this.capacityRows = capacityRows;
  }

  /** Rows held. */
  get rows(): number {
    return this.#rows;
  }

  /** Batches held. */
  get length(): number {
    return this.#batches.length - this.#head;
  }

  /**
   * Appends a batch, dropping the oldest rows to stay within capacity.
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
    while (this.#rows + b.rows > this.capacityRows) {
      const old = this.shift()!;
      dropped += old.rows;
    }
    this.#batches.push(b);
    this.#rows += b.rows;
    return dropped;
  }

  /** The first `count` batches, oldest first, without removing them. */
  peek(count: number): Batch[] {
    return this.#batches.slice(this.#head, this.#head + count);
  }

  /** Removes and returns the oldest batch. */
  shift(): Batch | undefined {
    if (this.#head >= this.#batches.length) return undefined;
    const b = this.#batches[this.#head]!;
    this.#head++;
    this.#rows -= b.rows;
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
