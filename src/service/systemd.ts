/**
 * systemd without libsystemd (man sd_notify, man sd_watchdog_enabled): `READY=1`, `STATUS=`,
 * `STOPPING=1` and `WATCHDOG=1` datagrams to `$NOTIFY_SOCKET`, the watchdog that pings only
 * while the source is healthy, and the `STATUS=` line `systemctl status` shows.
 *
 * Deno permissions: `--unstable-net` (`Deno.listenDatagram`), `--allow-net` (binding the
 * sender's abstract socket, Deno 2.9 and later), `--allow-write` for a filesystem
 * `NOTIFY_SOCKET` such as `/run/systemd/notify` (an abstract `@name` needs none).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { RowSink } from "../delivery/sink.ts";

const notifyLog = getLogger(["container-statsd", "notify"]);
const watchdogLog = getLogger(["container-statsd", "watchdog"]);

/** The environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` are read. */
export type NotifyEnv = Readonly<Record<string, string | undefined>>;

/** What the daemon asks of systemd. Nothing throws; with notifications off, nothing is sent. */
export interface ServiceNotifier {
  /** Whether datagrams go to `NOTIFY_SOCKET`. */
  readonly notifying: boolean;
  /** The watchdog timeout honoured, microseconds, or `null` when no watchdog pings are sent. */
  readonly watchdogUsec: number | null;
  /**
   * Starts `WATCHDOG=1` pings every `WATCHDOG_USEC / 2` while `healthy(now)` holds on the
   * monotonic clock (see {@link Watchdog}). Does nothing without a watchdog, when started, or
   * after {@link ServiceNotifier.stopping}.
   * @param healthy the source's `SourceHealth.healthy`.
   */
  start(healthy: (nowMs: number) => boolean): void;
  /**
   * `READY=1` (start-up is finished; a `Type=notify` unit is "activating" until then).
   * @param status `STATUS=` text sent in the same datagram.
   * @returns whether the datagram was handed to the socket (a failure is logged).
   */
  ready(status?: string): Promise<boolean>;
  /** `STATUS=` (one line: newlines become spaces). @returns as {@link ServiceNotifier.ready}. */
  status(text: string): Promise<boolean>;
  /** Stops the pings, then `STOPPING=1` (with `status` as `STATUS=`). @returns as `ready`. */
  stopping(status?: string): Promise<boolean>;
  /** Stops the pings and closes the socket; later calls send nothing. Safe to repeat. */
  close(): void;
}

/** Options of {@link createServiceNotifier}; meant for tests. */
export interface ServiceNotifierOptions {
  /** The watchdog's monotonic clock, milliseconds; defaults to `performance.now()`. */
  readonly now?: () => number;
}

const OFF: ServiceNotifier = {
  notifying: false,
  watchdogUsec: null,
  start: () => {},
  ready: () => Promise.resolve(false),
  status: () => Promise.resolve(false),
  stopping: () => Promise.resolve(false),
  close: () => {},
};

/**
 * Applies the `--watchdog` policy (the Rust original's README, "-w|--watchdog"):
 * - `"disabled"`: `NOTIFY_SOCKET` is neither read nor touched (run.sh, other supervisors);
 * - `"enabled"` without `NOTIFY_SOCKET`: one info line, then no notifications;
 * - `NOTIFY_SOCKET` (a `/path`, or an abstract `@name` sent to with a leading NUL) without a
 *   usable `WATCHDOG_USEC`: `READY=1`, `STATUS=`, `STOPPING=1` only, with a warning; with
 *   `WATCHDOG_PID` naming another process, no pings either (man sd_watchdog_enabled);
 * - both: also `WATCHDOG=1` every `WATCHDOG_USEC / 2` while healthy.
 *
 * @param mode The `--watchdog` flag.
 * @param env The environment (not read when `mode` is `"disabled"`).
 * @param pid This process's id (for `WATCHDOG_PID` and the sender's socket name).
 * @param options Test hooks; see {@link ServiceNotifierOptions}.
 * @returns A notifier whose methods never throw.
 * @example
 * ```ts
 * const service = createServiceNotifier(config.watchdog, env, Deno.pid);
 * service.start((now) => source.health.healthy(now));
 * await service.ready();
 * await service.stopping();
 * service.close();
 * ```
 */
export function createServiceNotifier(
  mode: "enabled" | "disabled",
  env: NotifyEnv,
  pid: number = Deno.pid,
  options: ServiceNotifierOptions = {},
): ServiceNotifier {
  if (mode === "disabled") {
    notifyLog.debug("--watchdog disabled: not talking to systemd (NOTIFY_SOCKET is ignored)");
    return OFF;
  }
  const socket = env["NOTIFY_SOCKET"];
  if (socket === undefined || socket === "") {
    notifyLog.info(
      "NOTIFY_SOCKET is not set (not started by systemd with Type=notify); running without " +
        "systemd notifications or watchdog",
    );
    return OFF;
  }
  const abstract = socket.startsWith("@");
  if (socket.length < 2 || !(abstract || socket.startsWith("/"))) {
    notifyLog.warn(
      "NOTIFY_SOCKET={socket} is neither a /path nor an @abstract name; not notifying systemd",
      { socket },
    );
    return OFF;
  }
  const path = abstract ? `\0${socket.slice(1)}` : socket;
  return new Notifier(socket, path, pid, watchdogUsec(env, pid), options.now);
}

/**
 * `WATCHDOG_USEC` when it is a positive integer and `WATCHDOG_PID` is unset or `pid`
 * (man sd_watchdog_enabled); otherwise `null`, with the reason logged.
 */
function watchdogUsec(env: NotifyEnv, pid: number): number | null {
  const usecText = env["WATCHDOG_USEC"];
  const pidText = env["WATCHDOG_PID"];
  const isSafe = (text: string) => Number.isSafeInteger(Number(text));
  const shown = (name: string, text: string) =>
    `${name}=${/^\d+$/.test(text) ? text : JSON.stringify(text)}`;
  if (usecText === undefined || usecText === "") {
    notifyLog.warn(
      "NOTIFY_SOCKET is set but WATCHDOG_USEC is not: WatchdogSec= is missing from the unit; " +
        "sending READY/STATUS/STOPPING only",
    );
  } else if (!(/^\d+$/.test(usecText) && Number(usecText) > 0 && isSafe(usecText))) {
    notifyLog.warn("Ignoring malformed {detail}; no watchdog pings", {
      detail: shown("WATCHDOG_USEC", usecText),
    });
  } else if (pidText === undefined || pidText === "") {
    return Number(usecText);
  } else if (!/^\d+$/.test(pidText)) {
    notifyLog.warn("Ignoring malformed {detail}; no watchdog pings", {
      detail: shown("WATCHDOG_PID", pidText),
    });
  } else if (Number(pidText) === pid) {
    return Number(usecText);
  } else {
    notifyLog.info("WATCHDOG_PID={watchdogPid} is not this process ({pid}); no watchdog pings", {
      watchdogPid: Number(pidText),
      pid,
    });
  }
  return null;
}

const encoder = new TextEncoder();

/**
 * Sends datagrams of newline-separated `KEY=VALUE` lines (man sd_notify) from its own socket,
 * bound on the first send under the abstract name `\0container-statsd-<pid>-<random>` (no file
 * to clean up). systemd knows the sender by its PID: with `NotifyAccess=main` the daemon itself
 * must send, not a wrapper.
 */
class Notifier implements ServiceNotifier {
  readonly notifying = true;
  #conn: Deno.DatagramConn | null = null;
  #failing = false;
  #closed = false;
  #watchdog: Watchdog | null = null;
  #watchdogStopped = false;
  /** The last send: the next one waits for it. */
  #previous: Promise<boolean> = Promise.resolve(true);

  constructor(
    private readonly socket: string,
    private readonly path: string,
    private readonly pid: number,
    readonly watchdogUsec: number | null,
    private readonly now: (() => number) | undefined,
  ) {}

  start(healthy: (nowMs: number) => boolean): void {
    if (this.#watchdogStopped || this.#watchdog !== null || this.watchdogUsec === null) return;
    this.#watchdog = new Watchdog({
      intervalUsec: this.watchdogUsec,
      ping: () => void this.#send("WATCHDOG=1"),
      healthy,
      ...(this.now === undefined ? {} : { now: this.now }),
    });
    notifyLog.info(
      "systemd watchdog: WATCHDOG=1 every {periodMs} ms while the source is healthy",
      { periodMs: this.#watchdog.periodMs },
    );
    this.#watchdog.start();
  }

  ready(status?: string): Promise<boolean> {
    return this.#send("READY=1", status);
  }

  status(text: string): Promise<boolean> {
    return this.#send(`STATUS=${oneLine(text)}`);
  }

  stopping(status?: string): Promise<boolean> {
    this.#stopWatchdog();
    return this.#send("STOPPING=1", status);
  }

  close(): void {
    this.#stopWatchdog();
    this.#closed = true;
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    this.#conn = null;
  }

  /** Stops the watchdog for good: a later `start` does nothing. */
  #stopWatchdog(): void {
    this.#watchdogStopped = true;
    this.#watchdog?.stop();
  }

  /**
   * Queues one datagram: they go out one at a time, in call order, because Deno refuses a
   * second `send` on a socket while one is under way ("Busy: Socket already in use"), which
   * would lose e.g. the `READY=1` main.ts sends together with a `STATUS=`.
   */
  #send(state: string, status?: string): Promise<boolean> {
    const text = status === undefined ? state : `${state}\nSTATUS=${oneLine(status)}`;
    this.#previous = this.#previous.then(() => this.#sendNow(text));
    return this.#previous;
  }

  /** Sends now; a failure is logged (a warning, then debug while it lasts, info on recovery). */
  async #sendNow(text: string): Promise<boolean> {
    if (this.#closed) return false;
    try {
      this.#conn ??= bindSender(this.pid);
      await this.#conn.send(encoder.encode(text), { transport: "unixpacket", path: this.path });
      if (this.#failing) {
        notifyLog.info("Notifications to {socket} work again", { socket: this.socket });
      }
      this.#failing = false;
      return true;
    } catch (error: unknown) {
      if (this.#closed) return false;
      const hint = error instanceof TypeError || error instanceof Deno.errors.NotCapable ||
          error instanceof Deno.errors.PermissionDenied
        ? " (Deno needs --unstable-net, --allow-net, and --allow-write for a path socket)"
        : "";
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const properties = { socket: this.socket, hint, error: detail };
      const message = "sd_notify to {socket} failed{hint}: {error}";
      if (this.#failing) notifyLog.debug(message, properties);
      else notifyLog.warn(message, properties);
      this.#failing = true;
      return false;
    }
  }
}

/** Binds the sender's socket under a fresh abstract name (retried when the name is taken). */
function bindSender(pid: number): Deno.DatagramConn {
  for (let attempt = 0;; attempt++) {
    const suffix = crypto.getRandomValues(new Uint32Array(1))[0]?.toString(16) ?? "0";
    const path = `\0container-statsd-${pid}-${suffix}`;
    try {
      return Deno.listenDatagram({ transport: "unixpacket", path });
    } catch (error: unknown) {
      if (!(error instanceof Deno.errors.AddrInUse) || attempt >= 3) throw error;
    }
  }
}

/** A newline would start a new `KEY=VALUE` line (man sd_notify), so it becomes a space. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/** Options of {@link Watchdog}. */
export interface WatchdogOptions {
  /** `WATCHDOG_USEC` (the unit's `WatchdogSec=`), microseconds; pings go out every half. */
  readonly intervalUsec: number;
  /** Sends one `WATCHDOG=1`; must not throw. */
  readonly ping: () => void;
  /**
   * Whether the daemon does its work at `nowMs` (on this watchdog's clock): the source's
   * `SourceHealth.healthy`, which owns the health window `max(10 s, WATCHDOG_USEC)`.
   */
  readonly healthy: (nowMs: number) => boolean;
  /** Monotonic clock, milliseconds. Defaults to `performance.now()`. */
  readonly now?: () => number;
}

/**
 * Pings only while the daemon does its work, so that systemd restarts one that is alive but no
 * longer collecting (man sd_notify: the watchdog exists to catch a hung service). A tick pings
 * when the source is healthy and the tick is not starved: one that fires more than a period
 * after it was due means the event loop was blocked, and sends nothing.
 *
 * Ticks are chained `setTimeout`s, a period (`WATCHDOG_USEC / 2`, the period man
 * sd_watchdog_enabled recommends) apart, unref'd so that they never keep the process alive.
 */
export class Watchdog {
  /** Time between ticks, milliseconds (`WATCHDOG_USEC / 2000`). */
  readonly periodMs: number;
  readonly #options: WatchdogOptions;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = 0;
  #withholding = false;

  /**
   * Creates a stopped watchdog.
   * @throws {RangeError} When `intervalUsec` is not a positive finite number.
   */
  constructor(options: WatchdogOptions) {
    if (!(Number.isFinite(options.intervalUsec) && options.intervalUsec > 0)) {
      throw new RangeError(
        `Invalid watchdog interval ${options.intervalUsec} µs: expected a positive number`,
      );
    }
    this.periodMs = options.intervalUsec / 2000;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Starts ticking, the first ping one period from now; does nothing while running. */
  start(): void {
    if (this.#timer === undefined) this.#schedule(this.#now());
  }

  /** Stops ticking; no ping is sent after this returns. Safe to repeat. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(nowMs: number): void {
    this.#due = nowMs + this.periodMs;
    this.#timer = setTimeout(() => this.#tick(), this.periodMs);
    // A test's fake clock gives an object: nothing to unref.
    if (typeof this.#timer === "number") Deno.unrefTimer(this.#timer);
  }

  #tick(): void {
    const nowMs = this.#now();
    const lateMs = nowMs - this.#due;
    this.#schedule(nowMs);
    if (lateMs > this.periodMs) {
      watchdogLog.warn(
        "Watchdog tick fired {lateMs} ms late (event loop starved); skipping this WATCHDOG=1",
        { lateMs: Math.round(lateMs) },
      );
    } else if (!this.#options.healthy(nowMs)) {
      if (!this.#withholding) {
        watchdogLog.warn(
          "The source shows no samples; withholding WATCHDOG=1 so that systemd restarts the " +
            "service if this persists",
        );
      }
      this.#withholding = true;
    } else {
      if (this.#withholding) watchdogLog.info("Samples resumed; watchdog pings resumed");
      this.#withholding = false;
      this.#options.ping();
    }
  }
}

/** The sink figures the status line shows. */
export type SinkFigures = Pick<RowSink, "name" | "stats" | "pendingRows">;

/**
 * Keeps systemd's `STATUS=` line current: containers followed, then each sink's last publish,
 * queue, drops and refusals, e.g. `3 containers; questdb: last publish 12:05:00Z ok (3 rows)`.
 */
export class StatusReporter {
  readonly #notifier: Pick<ServiceNotifier, "status">;
  #containers: () => number = () => 0;
  #sinks: readonly SinkFigures[] = [];
  #rowErrors: () => number = () => 0;

  /** @param notifier where `STATUS=` goes. */
  constructor(notifier: Pick<ServiceNotifier, "status">) {
    this.#notifier = notifier;
  }

  /**
   * Names what the line reports; until then {@link StatusReporter.update} sends nothing.
   * @param containers containers with reducer state.
   * @param sinks every sink.
   * @param rowErrors rows dropped because they could not be encoded.
   */
  track(containers: () => number, sinks: readonly SinkFigures[], rowErrors: () => number): void {
    this.#containers = containers;
    this.#sinks = sinks;
    this.#rowErrors = rowErrors;
  }

  /** Sends the current line (bound: pass it as a callback). */
  readonly update = (): void => {
    if (this.#sinks.length === 0) return;
    let line = `${this.#containers()} containers`;
    for (const { name, stats, pendingRows } of this.#sinks) {
      const parts: string[] = [];
      if (stats.last) {
        const at = new Date(stats.last.endMs).toISOString().slice(11, 19) + "Z";
        parts.push(
          stats.last.ok
            ? `last publish ${at} ok (${stats.last.rows} rows)`
            : `last publish ${at} failed: ${stats.last.error ?? "unknown error"}`,
        );
      }
      if (pendingRows > 0) parts.push(`${pendingRows} rows queued`);
      if (stats.droppedRows > 0) parts.push(`${stats.droppedRows} rows dropped (buffer full)`);
      if (stats.rejectedRows > 0) parts.push(`${stats.rejectedRows} rows refused`);
      if (parts.length > 0) line += `; ${name}: ${parts.join(", ")}`;
    }
    const rowErrors = this.#rowErrors();
    if (rowErrors > 0) line += `; ${rowErrors} rows could not be encoded`;
    void this.#notifier.status(line);
  };
}
