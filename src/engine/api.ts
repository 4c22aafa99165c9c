/**
 * The Docker Engine API over its unix socket, as the catalog uses it: `GET /version` (to pin an
 * API version), JSON `GET`s and the streamed `GET /events`. Deno's fetch with
 * `Deno.createHttpClient({ proxy: { transport: "unix", path } })` carries the requests; one
 * inspect costs about half a millisecond, against some 15 ms of CPU for a `docker inspect`
 * process (issue 17).
 *
 * No logger here: every failure is an {@link EngineError} whose message is one line that says
 * what to do, and the caller logs it.
 *
 * @module
 */

/** The socket the docker CLI uses when `DOCKER_HOST` is not set. */
export const DEFAULT_SOCKET = "/var/run/docker.sock";

/**
 * Newest API version this client speaks (Engine 28.3). Engines answer older versions down to
 * their `MinAPIVersion` (1.24 up to Engine 28, 1.44 from Engine 29), so a newer engine is
 * asked in this version and an older one in its own (moby client/client.go
 * `NegotiateAPIVersion`: the lower of the client's and the server's).
 */
export const CLIENT_API_VERSION = "1.51";

/**
 * The unix socket path `DOCKER_HOST` names: `unix:///path`, or {@link DEFAULT_SOCKET} when it
 * is unset or empty. TCP, SSH, npipe and fd hosts are not supported (the catalog only talks to
 * a local engine's socket).
 *
 * @param dockerHost the `DOCKER_HOST` value, if any.
 * @returns the socket path.
 * @throws {RangeError} one line naming the value and what is supported.
 * @example
 * ```ts
 * engineSocket("unix:///run/user/1000/docker.sock"); // "/run/user/1000/docker.sock"
 * ```
 */
export function engineSocket(dockerHost: string | undefined): string {
  if (dockerHost === undefined || dockerHost === "") return DEFAULT_SOCKET;
  const m = /^unix:\/\/(\/.*)$/.exec(dockerHost);
  if (m && m[1]!.length > 1) return m[1]!;
  throw new RangeError(
    `DOCKER_HOST=${dockerHost} is not supported: give a local engine's socket as ` +
      "unix:///path (default unix:///var/run/docker.sock); tcp://, ssh://, npipe:// and fd:// " +
      "are not",
  );
}

/** What went wrong talking to the engine. */
export type EngineErrorKind =
  /** No socket there, or nothing accepts on it: the engine is down. */
  | "down"
  /** The socket refuses this process (EACCES, or Deno's permissions). */
  | "permission"
  /** The engine answered with an HTTP error status. */
  | "api"
  /** Anything else (a cut connection, a body that is not JSON). */
  | "other";

/** A failed engine call; `message` is one line for the log. */
export class EngineError extends Error {
  /** What kind of failure. */
  readonly kind: EngineErrorKind;
  /** HTTP status of an `api` error, else 0. */
  readonly status: number;

  /** @param kind what kind. @param message one line. @param status HTTP status or 0. */
  constructor(kind: EngineErrorKind, message: string, status = 0) {
    super(message);
    this.name = "EngineError";
    this.kind = kind;
    this.status = status;
  }
}

/**
 * Turns what fetch threw into an {@link EngineError}. Deno reports connect failures as a
 * `TypeError` whose cause says `(os error N)`: 2 ENOENT and 111 ECONNREFUSED mean the engine is
 * down, 13 EACCES that the socket refuses this user (Linux errno numbers).
 *
 * @param e what fetch threw.
 * @param socket the socket path, for the message.
 * @returns the classified error (an `AbortError` is returned as is by callers, not here).
 */
export function classifyFetchError(e: unknown, socket: string): EngineError {
  if (e instanceof EngineError) return e;
  const err = e as Error;
  const text = `${err?.message ?? String(e)} ${String((err?.cause as Error)?.message ?? "")}`;
  if (
    err?.name === "NotCapable" || /os error 13\b|Permission denied|Requires (read|write)/.test(text)
  ) {
    return new EngineError(
      "permission",
      `No permission to use the engine socket ${socket}: the daemon needs read and write ` +
        "access to it (root, or a member of the socket's group, usually docker)",
    );
  }
  if (/os error (2|111)\b|No such file|Connection refused/.test(text)) {
    return new EngineError(
      "down",
      `The Docker engine does not answer on ${socket} (${
        /os error 2\b|No such file/.test(text) ? "no socket there" : "connection refused"
      }): is dockerd running?`,
    );
  }
  return new EngineError("other", `Engine call on ${socket} failed: ${oneLine(text)}`);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 300);
}

/** Options of {@link EngineApi}. */
export interface EngineApiOptions {
  /** Unix socket path (see {@link engineSocket}). Default {@link DEFAULT_SOCKET}. */
  socket?: string;
  /** Time limit of one JSON call, ms. Default 10 000. */
  timeoutMs?: number;
}

/**
 * A client of one engine's API socket. Call {@link EngineApi.negotiate} before the first
 * versioned call (and again after the engine may have changed, e.g. on reconnect).
 */
export class EngineApi {
  /** The socket path. */
  readonly socket: string;
  readonly #client: Deno.HttpClient;
  readonly #timeoutMs: number;
  readonly #closing = new AbortController();
  #version: string | null = null;

  /** Makes the client; nothing is connected until the first call. */
  constructor(options: EngineApiOptions = {}) {
    this.socket = options.socket ?? DEFAULT_SOCKET;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
  }

  /** The pinned API version (`1.41`), or null before {@link EngineApi.negotiate}. */
  get version(): string | null {
    return this.#version;
  }

  /**
   * Pins the API version: the lower of {@link CLIENT_API_VERSION} and the engine's
   * `ApiVersion` from `GET /version` (unversioned, as the CLI asks it).
   * @returns the version pinned, e.g. `1.41`.
   * @throws {EngineError} when the engine cannot be asked.
   */
  async negotiate(): Promise<string> {
    const v = await this.#json("/version");
    const server = isRecord(v) && typeof v.ApiVersion === "string" ? v.ApiVersion : "";
    if (!/^\d+\.\d+$/.test(server)) {
      throw new EngineError("other", `GET /version on ${this.socket} gave no ApiVersion`);
    }
    this.#version = compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
    return this.#version;
  }

  /**
   * `GET /v<version><path>` and its JSON body.
   * @param path e.g. `/containers/json?all=1`.
   * @returns the parsed JSON.
   * @throws {EngineError} `api` with the status for an HTTP error (404 for a container that
   *   does not exist), `down`/`permission`/`other` when it cannot be asked.
   */
  get(path: string): Promise<unknown> {
    return this.#json(this.#versioned(path));
  }

  /**
   * Opens a streamed `GET /v<version><path>` (`/events?...`).
   * @param signal aborts the stream.
   * @returns the body, read chunk by chunk.
   * @throws {EngineError} as {@link EngineApi.get}; an abort throws the signal's reason.
   */
  async stream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const full = this.#versioned(path);
    const res = await this.#fetch(full, AbortSignal.any([signal, this.#closing.signal]));
    if (!res.ok) throw await apiError(res, full);
    if (res.body === null) throw new EngineError("other", `GET ${path} gave no body`);
    return res.body;
  }

  /** Aborts the calls in flight (they throw) and closes the client's connections. */
  close(): void {
    this.#closing.abort(new EngineError("other", `The client of ${this.socket} was closed`));
    this.#client.close();
  }

  #versioned(path: string): string {
    if (this.#version === null) throw new Error("EngineApi.negotiate() was not called");
    return `/v${this.#version}${path}`;
  }

  async #json(path: string): Promise<unknown> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#closing.signal]);
    const res = await this.#fetch(path, signal);
    if (!res.ok) throw await apiError(res, path);
    try {
      return await res.json();
    } catch (e) {
      if (signal.aborted) throw this.#timedOut(path);
      throw new EngineError("other", `GET ${path}: ${oneLine((e as Error).message)}`);
    }
  }

  async #fetch(path: string, signal: AbortSignal): Promise<Response> {
    try {
      // The host part is not used on a unix socket; the engine ignores it.
      return await fetch(`http://docker${path}`, { client: this.#client, signal });
    } catch (e) {
      if (signal.aborted) {
        if ((signal.reason as Error)?.name === "TimeoutError") throw this.#timedOut(path);
        throw signal.reason;
      }
      throw classifyFetchError(e, this.socket);
    }
  }

  #timedOut(path: string): EngineError {
    return new EngineError(
      "other",
      `The Docker engine on ${this.socket} did not answer GET ${path.replace(/\?.*/, "")} ` +
        `within ${this.#timeoutMs} ms`,
    );
  }
}

/** An HTTP error answer as an {@link EngineError} with the engine's `message`. */
async function apiError(res: Response, path: string): Promise<EngineError> {
  let message = "";
  try {
    const body: unknown = JSON.parse(await res.text());
    if (isRecord(body) && typeof body.message === "string") message = body.message;
  } catch { /* not JSON */ }
  return new EngineError(
    "api",
    `GET ${path.replace(/\?.*/, "")} answered ${res.status}${
      message ? `: ${oneLine(message)}` : ""
    }`,
    res.status,
  );
}

/** Compares `1.41` and `1.9` as versions. @returns <0, 0 or >0. */
export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split(".").map(Number);
  const [b1 = 0, b2 = 0] = b.split(".").map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** Whether `v` is a plain JSON object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
