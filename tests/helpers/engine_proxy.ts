/**
 * A STAND-IN in front of the real engine: a unix-socket HTTP proxy (Deno.serve on a path,
 * forwarding with fetch over the engine's socket) that a daemon reaches through
 * `DOCKER_HOST=unix://<path>`. It passes every call through, and on demand fails a container's
 * first inspect (HTTP 500) or cuts the event streams in flight: faults the real engine cannot be
 * made to show on cue.
 */

/** A running proxy. */
export interface EngineProxy {
  /** `unix://<path>`, for DOCKER_HOST. */
  readonly dockerHost: string;
  /** Inspects answered 500 (container names). */
  readonly failed: string[];
  /** `/events` requests seen. */
  readonly eventStreams: number;
  /** Cuts every event stream in flight (as a dead connection would). */
  cutEvents(): void;
  /** Stops the proxy. */
  close(): Promise<void>;
}

/**
 * Starts a proxy to `engineSocket`.
 * @param failFirstInspect a container whose name starts with this gets a 500 for its first
 *   inspect (the proxy asks the engine, then answers 500 instead); null: none.
 */
export async function startEngineProxy(
  failFirstInspect: string | null = null,
  engineSocket = "/var/run/docker.sock",
): Promise<EngineProxy> {
  const dir = await Deno.makeTempDir({ prefix: "ct-proxy-" });
  const path = `${dir}/docker.sock`;
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: engineSocket } });
  const streams = new Set<AbortController>();
  const failed: string[] = [];
  const inspected = new Set<string>();
  let eventStreams = 0;
  const server = Deno.serve({ path, transport: "unix", onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const abort = new AbortController();
    const isEvents = /\/events$/.test(url.pathname);
    if (isEvents) {
      eventStreams++;
      streams.add(abort);
    }
    const res = await fetch(`http://docker${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      client,
      signal: abort.signal,
    });
    const m = /\/containers\/([0-9a-f]{64})\/json$/.exec(url.pathname);
    if (failFirstInspect !== null && m && res.ok) {
      const body = await res.text();
      const name = String((JSON.parse(body) as { Name?: string }).Name ?? "").replace(/^\//, "");
      if (name.startsWith(failFirstInspect) && !inspected.has(m[1]!)) {
        inspected.add(m[1]!);
        failed.push(name);
        return new Response('{"message":"stand-in proxy: first inspect fails"}', {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      }
      return new Response(body, { status: res.status, headers: res.headers });
    }
    if (!isEvents || res.body === null) {
      return new Response(res.body, { status: res.status, headers: res.headers });
    }
    // through a stream of ours, so that a cut reaches the daemon's end of the connection
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    res.body.pipeTo(writable, { signal: abort.signal }).catch(() => {});
    return new Response(readable, { status: res.status, headers: res.headers });
  });
  const cutEvents = () => {
    for (const a of streams) a.abort(new Error("cut by the test"));
    streams.clear();
  };
  return {
    dockerHost: `unix://${path}`,
    failed,
    get eventStreams() {
      return eventStreams;
    },
    cutEvents,
    async close() {
      cutEvents();
      await server.shutdown();
      client.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
