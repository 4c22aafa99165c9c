/**
 * systemd service notifications (`sd_notify`) without libsystemd: `READY=1`, `STATUS=`,
 * `STOPPING=1`, `WATCHDOG=1` datagrams to `$NOTIFY_SOCKET`, and the `--watchdog` policy.
 *
 * Deno permissions: `--unstable-net` (for `Deno.listenDatagram`), `--allow-net` (binding the
 * sender's abstract socket, Deno 2.9 and later), `--allow-write` for a filesystem
 * `NOTIFY_SOCKET` such as `/run/systemd/notify` (an abstract `@name` needs none), and
 * `--allow-env` for `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Watchdog } from "./watchdog.ts";

const logger = getLogger(["container-statsd", "notify"]);

/** The environment variables this module reads; others are ignored. */
export type NotifyEnv = Readonly<Record<string, string | undefined>>;

/**
 * Reads only the variables this module uses (so `--allow-env` may be narrowed to them); one
 * that may not be read counts as unset.
 */
function processEnv(): NotifyEnv {
  const read = (name: string): string | undefined => {
    try {
      return Deno.env.get(name);
    } catch {
      logger.warn("Cannot read {name} (no --allow-env for it); treating it as unset", { name });
      return undefined;
    }
  };
  return {
    NOTIFY_SOCKET: read("NOTIFY_SOCKET"),
    WATCHDOG_USEC: read("WATCHDOG_USEC"),
    WATCHDOG_PID: read("WATCHDOG_PID"),
  };
}

/**
 * Turns a `NOTIFY_SOCKET` value into the address `Deno.DatagramConn.send` takes: a filesystem
 * path (starts with `/`) as is, an abstract name (starts with `@`) with the `@` replaced by a
 * NUL byte (man sd_notify, "NOTIFY_SOCKET"). `vsock:` addresses and relative paths are not
 * supported.
 *
 * @param value The variable's value.
 * @returns The socket path for `{ transport: "unixpacket", path }`, or `null` if unusable.
 */
export function notifySocketPath(value: string | undefined): string | null {
  if (value === undefined || value.length < 2) return null;
  if (value.startsWith("/")) return value;
  if (value.startsWith("@")) return `\0${value.slice(1)}`;
  return null;
}

type WatchdogState =
  | { readonly kind: "unset" }
  | { readonly kind: "invalid"; readonly detail: string }
  | { readonly kind: "other-pid"; readonly usec: number; readonly watchdogPid: number }
  | { readonly kind: "enabled"; readonly usec: number };

function watchdogState(env: NotifyEnv, pid: number): WatchdogState {
  const usecText = env["WATCHDOG_USEC"];
  if (usecText === undefined || usecText === "") return { kind: "unset" };
  if (!/^\d+$/.test(usecText)) {
    return { kind: "invalid", detail: `WATCHDOG_USEC=${JSON.stringify(usecText)}` };
  }
  const usec = Number(usecText);
  if (!(usec > 0 && Number.isSafeInteger(usec))) {
    return { kind: "invalid", detail: `WATCHDOG_USEC=${usecText}` };
  }
  const pidText = env["WATCHDOG_PID"];
  if (pidText === undefined || pidText === "") return { kind: "enabled", usec };
  if (!/^\d+$/.test(pidText)) {
    return { kind: "invalid", detail: `WATCHDOG_PID=${JSON.stringify(pidText)}` };
  }
  const watchdogPid = Number(pidText);
  return watchdogPid === pid ? { kind: "enabled", usec } : { kind: "other-pid", usec, watchdogPid };
}

/**
 * The watchdog timeout this process must honour, as `sd_watchdog_enabled(3)` decides it:
 * `WATCHDOG_USEC` when it is a positive integer and `WATCHDOG_PID` is unset or equals `pid`.
 *
 * @param env The environment; defaults to the process's `NOTIFY_SOCKET`, `WATCHDOG_USEC` and
 *   `WATCHDOG_PID`.
 * @param pid This process's id; defaults to `Deno.pid`.
 * @returns The timeout in microseconds (ping every half of it), or `null` when this process
 *   has no watchdog (unset, malformed, or meant for another process).
 */
export function watchdogIntervalUsec(
  env: NotifyEnv = processEnv(),
  pid: number = Deno.pid,
): number | null {
  const state = watchdogState(env, pid);
  return state.kind === "enabled" ? state.usec : null;
}

/**
 * One line of a notification: newlines would start a new `KEY=VALUE` assignment (man
 * sd_notify), so they become spaces.
 */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

const encoder = new TextEncoder();

/**
 * Sends `sd_notify` datagrams to `$NOTIFY_SOCKET` (man sd_notify). The sender binds its own
 * socket on the first send, under an abstract name `\0container-statsd-<pid>-<random>` (no file
 * to clean up); systemd identifies the sender by its credentials (PID), so with
 * `NotifyAccess=main` the daemon itself must send, not a wrapper.
 *
 * Sending never throws: a failure is logged (a warning the first time, debug while it keeps
 * failing, info when it recovers) and reported by {@link SystemdNotifier.send}'s result.
 */
export class SystemdNotifier {
  /** `NOTIFY_SOCKET` as given (`/run/systemd/notify` or `@name`). */
  readonly socket: string;
  readonly #target: string;
  readonly #pid: number;
  #conn: Deno.DatagramConn | null = null;
  #failing = false;
  #closed = false;
  /** The last send: the next one waits for it. */
  #previous: Promise<unknown> = Promise.resolve();

  private constructor(socket: string, target: string, pid: number) {
    this.socket = socket;
    this.#target = target;
    this.#pid = pid;
  }

  /**
   * Creates a notifier for `NOTIFY_SOCKET`; opens nothing yet.
   *
   * @param env The environment; defaults to the process's.
   * @param pid This process's id, used in the sender's socket name; defaults to `Deno.pid`.
   * @returns The notifier, or `null` when `NOTIFY_SOCKET` is unset or not a `/path` or `@name`
   *   (the latter is logged as a warning).
   */
  static fromEnv(env: NotifyEnv = processEnv(), pid: number = Deno.pid): SystemdNotifier | null {
    const socket = env["NOTIFY_SOCKET"];
    if (socket === undefined || socket === "") return null;
    const target = notifySocketPath(socket);
    if (target === null) {
      logger.warn(
        "NOTIFY_SOCKET={socket} is neither a /path nor an @abstract name; not notifying systemd",
        { socket },
      );
      return null;
    }
    return new SystemdNotifier(socket, target, pid);
  }

  /**
   * Sends one datagram of newline-separated `KEY=VALUE` assignments. Datagrams go out one at a
   * time, in call order: Deno refuses a second `send` on a socket while one is under way
   * ("Busy: Socket already in use"), which would lose e.g. a `READY=1` sent together with a
   * `STATUS=`, or a `STOPPING=1` sent while a `WATCHDOG=1` is on its way.
   *
   * @param state E.g. `"READY=1\nSTATUS=Collecting"`.
   * @returns `true` when the datagram was handed to the socket, `false` on failure or after
   *   {@link SystemdNotifier.close}.
   */
  send(state: string): Promise<boolean> {
    const sent = this.#previous.then(() => this.#sendNow(state));
    this.#previous = sent;
    return sent;
  }

  /** Sends one datagram now; never throws. */
  async #sendNow(state: string): Promise<boolean> {
    if (this.#closed) return false;
    try {
      const conn = this.#connection();
      await conn.send(encoder.encode(state), { transport: "unixpacket", path: this.#target });
      if (this.#failing) {
        this.#failing = false;
        logger.info("Notifications to {socket} work again", { socket: this.socket });
      }
      return true;
    } catch (error: unknown) {
      if (this.#closed) return false;
      const first = !this.#failing;
      this.#failing = true;
      const hint = error instanceof TypeError || isNotCapable(error)
        ? " (Deno needs --unstable-net, --allow-net, and --allow-write for a path socket)"
        : "";
      const message = `sd_notify to {socket} failed{hint}: {error}`;
      const properties = { socket: this.socket, hint, error: errorText(error) };
      if (first) logger.warn(message, properties);
      else logger.debug(message, properties);
      return false;
    }
  }

  /**
   * Tells systemd that start-up is finished (`READY=1`); a `Type=notify` unit stays
   * "activating" until then.
   *
   * @param status Optional `STATUS=` text sent in the same datagram.
   */
  async ready(status?: string): Promise<void> {
    await this.send(status === undefined ? "READY=1" : `READY=1\nSTATUS=${oneLine(status)}`);
  }

  /**
   * Sets the free-form status shown by `systemctl status` (`STATUS=`).
   *
   * @param text One line; newlines are replaced by spaces.
   */
  async status(text: string): Promise<void> {
    await this.send(`STATUS=${oneLine(text)}`);
  }

  /**
   * Tells systemd that the service is shutting down (`STOPPING=1`).
   *
   * @param status Optional `STATUS=` text sent in the same datagram.
   */
  async stopping(status?: string): Promise<void> {
    await this.send(status === undefined ? "STOPPING=1" : `STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  /** Pings the service watchdog (`WATCHDOG=1`). */
  async watchdogPing(): Promise<void> {
    await this.send("WATCHDOG=1");
  }

  /**
   * Asks for more time for the current start-up or shutdown (`EXTEND_TIMEOUT_USEC=`), e.g.
   * before a final publish that may outlast `TimeoutStopSec=`.
   *
   * @param usec Microseconds from now that the current timeout is extended to.
   * @throws {RangeError} When `usec` is not a positive integer.
   */
  async extendTimeout(usec: number): Promise<void> {
    if (!(Number.isSafeInteger(usec) && usec > 0)) {
      throw new RangeError(`Invalid EXTEND_TIMEOUT_USEC ${usec}: expected a positive integer`);
    }
    await this.send(`EXTEND_TIMEOUT_USEC=${usec}`);
  }

  /** Closes the sender's socket; later sends do nothing. Safe to call more than once. */
  close(): void {
    this.#closed = true;
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  #connection(): Deno.DatagramConn {
    if (this.#conn !== null) return this.#conn;
    for (let attempt = 0;; attempt++) {
      const suffix = crypto.getRandomValues(new Uint32Array(1))[0]?.toString(16) ?? "0";
      try {
        this.#conn = Deno.listenDatagram({
          transport: "unixpacket",
          path: `\0container-statsd-${this.#pid}-${suffix}`,
        });
        return this.#conn;
      } catch (error: unknown) {
        if (!(error instanceof Deno.errors.AddrInUse) || attempt >= 3) throw error;
      }
    }
  }
}

function isNotCapable(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What the daemon asks of systemd; every method is a no-op when notifications are off. */
export interface ServiceNotifier {
  /** Whether datagrams go to `NOTIFY_SOCKET`. */
  readonly notifying: boolean;
  /** The watchdog timeout honoured, microseconds, or `null` when no watchdog pings are sent. */
  readonly watchdogUsec: number | null;
  /**
   * Starts the watchdog pings (every `WATCHDOG_USEC / 2`, only while `healthy(now)` holds on
   * the monotonic clock). Does nothing when there is no watchdog, when already started, or
   * after {@link ServiceNotifier.stopping}.
   * @param healthy the source's `SourceHealth.healthy`.
   */
  start(healthy: (nowMs: number) => boolean): void;
  /** Sends `READY=1` (with `STATUS=` if given). */
  ready(status?: string): Promise<void>;
  /** Sends `STATUS=`. */
  status(text: string): Promise<void>;
  /** Stops the watchdog pings, then sends `STOPPING=1` (with `STATUS=` if given). */
  stopping(status?: string): Promise<void>;
  /** Stops the watchdog and closes the socket. Safe to call more than once. */
  close(): void;
}

/** Options of {@link createServiceNotifier}; meant for tests. */
export interface ServiceNotifierOptions {
  /** Monotonic clock of the watchdog, milliseconds; defaults to `performance.now()`. */
  readonly now?: () => number;
}

/**
 * Applies the `--watchdog` policy of the Rust original (its README, "-w|--watchdog"):
 * - `"disabled"`: nothing reads or touches `NOTIFY_SOCKET` (for run.sh and other non-systemd
 *   supervisors);
 * - `"enabled"` without `NOTIFY_SOCKET`: logs once at info and runs normally;
 * - `NOTIFY_SOCKET` without a usable `WATCHDOG_USEC`: `READY=1`, `STATUS=`, `STOPPING=1` only,
 *   with a warning that the unit lacks `WatchdogSec=`; with `WATCHDOG_PID` naming another
 *   process, no pings either (man sd_watchdog_enabled);
 * - both: also `WATCHDOG=1` every `WATCHDOG_USEC / 2` while healthy (see `Watchdog`).
 *
 * @param mode The `--watchdog` flag.
 * @param env The environment; defaults to the process's `NOTIFY_SOCKET`, `WATCHDOG_USEC`,
 *   `WATCHDOG_PID` (not read at all when `mode` is `"disabled"`).
 * @param pid This process's id; defaults to `Deno.pid`.
 * @param options Test hooks; see {@link ServiceNotifierOptions}.
 * @returns A notifier whose methods never throw.
 * @example
 * ```ts
 * const service = createServiceNotifier(flags.watchdog);
 * service.start((now) => source.health.healthy(now));
 * await service.ready("Collecting docker stats");
 * await service.stopping("Publishing the last interval");
 * service.close();
 * ```
 */
export function createServiceNotifier(
  mode: "enabled" | "disabled",
  env?: NotifyEnv,
  pid: number = Deno.pid,
  options: ServiceNotifierOptions = {},
): ServiceNotifier {
  if (mode === "disabled") {
    logger.debug("--watchdog disabled: not talking to systemd (NOTIFY_SOCKET is ignored)");
    return inactiveNotifier();
  }
  const environment = env ?? processEnv();
  const notifier = SystemdNotifier.fromEnv(environment, pid);
  if (notifier === null) {
    if (environment["NOTIFY_SOCKET"] === undefined || environment["NOTIFY_SOCKET"] === "") {
      logger.info(
        "NOTIFY_SOCKET is not set (not started by systemd with Type=notify); running without " +
          "systemd notifications or watchdog",
      );
    }
    return inactiveNotifier();
  }
  const state = watchdogState(environment, pid);
  switch (state.kind) {
    case "unset":
      logger.warn(
        "NOTIFY_SOCKET is set but WATCHDOG_USEC is not: WatchdogSec= is missing from the unit; " +
          "sending READY/STATUS/STOPPING only",
      );
      break;
    case "invalid":
      logger.warn("Ignoring malformed {detail}; no watchdog pings", { detail: state.detail });
      break;
    case "other-pid":
      logger.info(
        "WATCHDOG_PID={watchdogPid} is not this process ({pid}); no watchdog pings",
        { watchdogPid: state.watchdogPid, pid },
      );
      break;
    case "enabled":
      break;
  }
  let watchdog: Watchdog | null = null;
  let stopped = false;
  return {
    notifying: true,
    watchdogUsec: state.kind === "enabled" ? state.usec : null,
    start(healthy: (nowMs: number) => boolean): void {
      if (stopped || watchdog !== null || state.kind !== "enabled") return;
      watchdog = new Watchdog({
        intervalUsec: state.usec,
        ping: () => notifier.watchdogPing(),
        healthy,
        ...(options.now === undefined ? {} : { now: options.now }),
      });
      logger.info("systemd watchdog: WATCHDOG=1 every {periodMs} ms while the source is healthy", {
        periodMs: watchdog.periodMs,
      });
      watchdog.start();
    },
    ready: (status?: string) => notifier.ready(status),
    status: (text: string) => notifier.status(text),
    async stopping(status?: string): Promise<void> {
      stopped = true;
      watchdog?.stop();
      await notifier.stopping(status);
    },
    close(): void {
      stopped = true;
      watchdog?.stop();
      notifier.close();
    },
  };
}

function inactiveNotifier(): ServiceNotifier {
  return {
    notifying: false,
    watchdogUsec: null,
    start: () => {},
    ready: () => Promise.resolve(),
    status: () => Promise.resolve(),
    stopping: () => Promise.resolve(),
    close: () => {},
  };
}
