/**
 * The systemd `STATUS=` line (shown by `systemctl status`): containers followed, then each
 * sink's last publish, queue, drops and refusals.
 *
 * @module
 */
import type { RowSink } from "../delivery/sink.ts";

/**
 * Formats the status line.
 * @param containers containers with reducer state.
 * @param sinks every sink.
 * @param rowErrors rows dropped because they could not be encoded.
 * @returns e.g. `3 containers; questdb: last publish 12:05:00Z ok (3 rows)`.
 */
export function statusLine(containers: number, sinks: readonly RowSink[], rowErrors = 0): string {
  let line = `${containers} containers`;
  for (const sink of sinks) {
    const s = sink.stats;
    const parts: string[] = [];
    if (s.last) {
      const at = new Date(s.last.endMs).toISOString().slice(11, 19) + "Z";
      parts.push(
        s.last.ok
          ? `last publish ${at} ok (${s.last.rows} rows)`
          : `last publish ${at} failed: ${s.last.error ?? "unknown error"}`,
      );
    }
    if (sink.pendingRows > 0) parts.push(`${sink.pendingRows} rows queued`);
    if (s.droppedRows > 0) parts.push(`${s.droppedRows} rows dropped (buffer full)`);
    if (s.rejectedRows > 0) parts.push(`${s.rejectedRows} rows refused`);
    if (parts.length > 0) line += `; ${sink.name}: ${parts.join(", ")}`;
  }
  if (rowErrors > 0) line += `; ${rowErrors} rows could not be encoded`;
  return line;
}

/** Keeps systemd's `STATUS=` current: call {@link StatusReporter.update} after each change. */
export class StatusReporter {
  readonly #notifier: { status(text: string): Promise<void> };
  #containers: () => number = () => 0;
  #sinks: readonly RowSink[] = [];
  #rowErrors: () => number = () => 0;

  /** @param notifier where `STATUS=` goes. */
  constructor(notifier: { status(text: string): Promise<void> }) {
    this.#notifier = notifier;
  }

  /**
   * Names what the line reports; until then {@link StatusReporter.update} sends nothing.
   * @param containers containers with reducer state.
   * @param sinks every sink.
   * @param rowErrors rows dropped because they could not be encoded.
   */
  track(containers: () => number, sinks: readonly RowSink[], rowErrors: () => number): void {
    this.#containers = containers;
    this.#sinks = sinks;
    this.#rowErrors = rowErrors;
  }

  /** Sends the current line (bound: pass it as a callback). */
  readonly update = (): void => {
    if (this.#sinks.length === 0) return;
    void this.#notifier.status(statusLine(this.#containers(), this.#sinks, this.#rowErrors()));
  };
}
