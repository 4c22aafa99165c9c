/**
 * The catalog's Engine API client and events feed (src/engine/api.ts, src/catalog/api_engine.ts)
 * against a STAND-IN engine: a unix-socket HTTP server (Deno.serve on a path) that answers the
 * API's paths with the recorded bodies of tests/fixtures/catalog/, and fails on demand in ways a
 * real engine cannot be made to (a 500, a stream cut in the middle of a JSON object, no socket,
 * a socket without permission). The real engine is covered in tests/integration/.
 *
 * Backoff and reconcile timers run on fake time (@sinonjs/fake-timers); the socket I/O is real,
 * waited for by polling a condition with a deadline.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import type { LogRecord } from "@logtape/logtape";
import { apiCatalogEngine, EngineEventsFeed } from "../../src/catalog/api_engine.ts";
import { ContainerCatalog } from "../../src/catalog/catalog.ts";
import { formatSince, type LifecycleRow } from "../../src/catalog/events.ts";
import { EngineApi, EngineError } from "../../src/engine/api.ts";
import { withLogs } from "../helpers/logs.ts";
import { EVENT_LINES as LINES, idOf, readFixture } from "../helpers/recorded_engine.ts";

const realSetTimeout = globalThis.setTimeout;
const enc = new TextEncoder();

/** Polls `cond` on real time until it holds, ticking the fake clock a little each round. */
async function until(
  cond: () => boolean,
  what: string,
  clock?: FakeTimers.Clock,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    clock?.tick(10);
    await new Promise((r) => realSetTimeout(r, 2));
  }
}

/** A request the stand-in got: path and query, and the fake time it came at. */
interface Seen {
  path: string;
  query: URLSearchParams;
  atMs: number;
}

/** The stand-in engine on a unix socket in a new temporary directory. */
async function standIn(
  events: (n: number) => Response,
  now: () => number = Date.now,
  extra: (path: string) => Response | null = () => null,
) {
  const dir = await Deno.makeTempDir({ prefix: "ct-standin-" });
  const path = `${dir}/docker.sock`;
  const seen: Seen[] = [];
  let n = 0;
  const server = Deno.serve(
    { path, transport: "unix", onListen: () => {} },
    (req) => {
      const url = new URL(req.url);
      seen.push({ path: url.pathname, query: url.searchParams, atMs: now() });
      const json = (body: string, status = 200) =>
        new Response(body, { status, headers: { "content-type": "application/json" } });
      const special = extra(url.pathname);
      if (special) return special;
      if (url.pathname === "/version") return json(readFixture("version.json"));
      if (url.pathname === "/v1.41/containers/json") return json("[]");
      if (url.pathname === "/v1.41/events") return events(n++);
      if (url.pathname.startsWith("/v1.41/containers/")) {
        return json(readFixture("inspect-404.json"), 404);
      }
      return json('{"message":"page not found"}', 404);
    },
  );
  return {
    dir,
    path,
    seen,
    of: (p: string) => seen.filter((s) => s.path === p),
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A streamed 200 with these chunks; it ends after them unless `open`. */
function stream(chunks: string[], open = false): Response {
  return new Response(
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of chunks) c.enqueue(enc.encode(chunk));
        if (!open) c.close();
      },
    }),
    { headers: { "content-type": "application/json" } },
  );
}

const messages = (records: LogRecord[], level?: string) =>
  records.filter((r) => level === undefined || r.level === level).map((r) =>
    r.message.map((m) => typeof m === "string" ? m : String(m)).join("")
  );

Deno.test("a stream cut mid-object: reconnected with since the last whole event, relisted, no row twice", async () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
  });
  const half = 20;
  // 1st connection: 20 whole events, then the 21st cut after 50 bytes, and the stream ends.
  // 2nd: the engine replays from `since` inclusive, so the 20th comes again, then the rest.
  const server = await standIn((n) =>
    n === 0
      ? stream([LINES.slice(0, half).join("\n") + "\n", LINES[half]!.slice(0, 50)])
      : stream(LINES.slice(half - 1).map((l) => l + "\n"), true)
  );
  const api = new EngineApi({ socket: server.path });
  const rows: LifecycleRow[] = [];
  const catalog = new ContainerCatalog({
    engine: apiCatalogEngine(api),
    onEvent: (r) => rows.push(r),
  });
  const startMs = 1_796_594_890_123;
  const feed = new EngineEventsFeed({ api, catalog, now: () => startMs });
  try {
    feed.start();
    await until(() => catalog.counters.events === LINES.length + 1, "both streams' events", clock);
    await catalog.idle();
    const events = server.of("/v1.41/events");
    assert.equal(events.length, 2);
    const lastWhole = BigInt(/"timeNano":(\d+)/.exec(LINES[half - 1]!)![1]!);
    assert.deepEqual(events.map((e) => e.query.get("since")), [
      formatSince(BigInt(startMs) * 1_000_000n),
      formatSince(lastWhole),
    ]);
    assert.deepEqual(JSON.parse(events[0]!.query.get("filters")!), { type: ["container"] });
    assert.equal(server.of("/version").length, 2, "the version is negotiated at each connection");
    assert.equal(server.of("/v1.41/containers/json").length, 2, "each connection lists again");
    assert.equal(feed.starts, 2);
    assert.equal(catalog.counters.badLines, 0, "the cut half-object is dropped, not parsed");
    const expected = LINES.filter((l) => !/"Action":"(exec_|stop")/.test(l)).length;
    assert.equal(
      rows.length,
      expected,
      "every event once: the cut one replayed, the repeat skipped",
    );
  } finally {
    await feed.stop();
    clock.uninstall();
    api.close();
    await server.close();
  }
});

Deno.test("an API error (500) is logged once and retried with backoff; the engine answering again is logged", async () => {
  await withLogs(async (records) => {
    const clock = FakeTimers.withGlobal(globalThis).install({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
    });
    const server = await standIn(
      (n) =>
        n < 4
          ? new Response('{"message":"boom: the events service is ill"}', { status: 500 })
          : stream([], true),
      () => clock.now,
    );
    const api = new EngineApi({ socket: server.path });
    const catalog = new ContainerCatalog({ engine: apiCatalogEngine(api) });
    const feed = new EngineEventsFeed({ api, catalog, initialBackoffMs: 100, maxBackoffMs: 400 });
    try {
      feed.start();
      await until(() => feed.starts === 1, "the fifth connection", clock);
      const at = server.of("/v1.41/events").map((s) => s.atMs);
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      // each gap is the backoff, plus the fake time the polling ticked while the request
      // travelled (10 ms per round of real I/O)
      [100, 200, 400, 400].forEach((backoff, i) => {
        assert.ok(gaps[i]! >= backoff && gaps[i]! <= backoff + 50, `${gaps}`);
      });
      const warns = messages(records, "warning");
      assert.deepEqual(warns, [
        "GET /v1.41/events answered 500: boom: the events service is ill; trying again with " +
        "backoff (100 ms doubling to 400 ms)",
      ], "one line, not one per try");
      assert.ok(messages(records, "info").some((m) => /^The engine answers again on /.test(m)));
    } finally {
      await feed.stop();
      clock.uninstall();
      api.close();
      await server.close();
    }
  });
});

Deno.test("inspect: 404 is a vanished container (null); 500 throws the engine's message", async () => {
  const id = idOf("ct-rec-life");
  const server = await standIn(() => stream([]), Date.now, (path) => {
    if (path === `/v1.41/containers/${id}/json`) {
      return new Response('{"message":"the store is locked"}', { status: 500 });
    }
    return null;
  });
  const api = new EngineApi({ socket: server.path });
  try {
    assert.equal(await api.negotiate(), "1.41", "the engine's 1.41 is below ours");
    const engine = apiCatalogEngine(api);
    assert.equal(await engine.inspect("0".repeat(64)), null);
    await assert.rejects(engine.inspect(id), (e: Error) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.kind, "api");
      assert.equal(e.status, 500);
      assert.equal(e.message, `GET /v1.41/containers/${id}/json answered 500: the store is locked`);
      return true;
    });
    assert.deepEqual(await engine.list(), []);
  } finally {
    api.close();
    await server.close();
  }
});

Deno.test("engine down: one line, retried until a socket answers, then followed", async () => {
  await withLogs(async (records) => {
    const clock = FakeTimers.withGlobal(globalThis).install({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
    });
    const dir = await Deno.makeTempDir({ prefix: "ct-down-" });
    const api = new EngineApi({ socket: `${dir}/docker.sock` });
    const catalog = new ContainerCatalog({ engine: apiCatalogEngine(api) });
    const feed = new EngineEventsFeed({ api, catalog });
    let server: Awaited<ReturnType<typeof standIn>> | null = null;
    try {
      await assert.rejects(api.negotiate(), (e: Error) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.kind, "down");
        assert.equal(
          e.message,
          `The Docker engine does not answer on ${dir}/docker.sock (no socket there): is dockerd ` +
            "running?",
        );
        return true;
      });
      feed.start();
      await until(() => messages(records, "warning").length === 1, "the first failure", clock);
      for (let i = 0; i < 500; i++) clock.tick(10); // 5 s: tries at 0.5, 1.5, 3.5 s
      await new Promise((r) => realSetTimeout(r, 20));
      assert.equal(messages(records, "warning").length, 1, "repeats are not warned again");
      assert.ok(messages(records, "debug").some((m) => m.includes("next try in")));
      // the engine comes up on that path
      server = await standIn(() => stream([], true));
      await Deno.remove(`${dir}/docker.sock`).catch(() => {});
      await Deno.rename(server.path, `${dir}/docker.sock`);
      await until(() => feed.starts === 1, "a connection once the socket answers", clock);
      assert.ok(messages(records, "info").some((m) => /^Following engine events on /.test(m)));
    } finally {
      await feed.stop();
      clock.uninstall();
      api.close();
      await server?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
});

Deno.test("a silent stream is reconnected with since, and the catalog reconciled", async () => {
  await withLogs(async (records) => {
    const clock = FakeTimers.withGlobal(globalThis).install({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
    });
    // one event, then silence (a hung stream looks the same)
    const server = await standIn((n) => stream(n === 0 ? [LINES[0]! + "\n"] : [], true));
    const api = new EngineApi({ socket: server.path });
    const catalog = new ContainerCatalog({ engine: apiCatalogEngine(api) });
    // started before the recorded event, so `since` moves to it
    const feed = new EngineEventsFeed({
      api,
      catalog,
      reconcileMs: 60_000,
      now: () => 1_796_594_890_123,
    });
    try {
      feed.start();
      await until(() => catalog.counters.events === 1, "the first event");
      clock.tick(60_000); // heard something: a listing only
      await until(() => server.of("/v1.41/containers/json").length === 2, "the reconcile");
      assert.equal(server.of("/v1.41/events").length, 1);
      clock.tick(60_000); // a whole period of silence: reconnect
      await until(() => server.of("/v1.41/events").length === 2, "the reconnection", clock);
      const since = server.of("/v1.41/events")[1]!.query.get("since");
      assert.equal(since, formatSince(BigInt(/"timeNano":(\d+)/.exec(LINES[0]!)![1]!)));
      assert.ok(messages(records, "info").some((m) => /^No engine event for 60000 ms/.test(m)));
      assert.deepEqual(messages(records, "warning"), [], "silence is not a failure");
    } finally {
      await feed.stop();
      clock.uninstall();
      api.close();
      await server.close();
    }
  });
});

Deno.test({
  name: "a socket without permission: one line that says what access the daemon needs",
  async fn() {
    const server = await standIn(() => stream([]));
    try {
      await Deno.chmod(server.dir, 0o755);
      await Deno.chmod(server.path, 0o600);
      // root passes any permission check: as root, ask from a child running as nobody
      const probe = `${server.dir}/probe.ts`;
      const api = new URL("../../src/engine/api.ts", import.meta.url).href;
      await Deno.writeTextFile(
        probe,
        `import { EngineApi } from "${api}";\n` +
          `try { await new EngineApi({ socket: ${JSON.stringify(server.path)} }).negotiate(); ` +
          `console.log("answered"); } catch (e) { console.log(JSON.stringify([e.kind, e.message])); }\n`,
      );
      const denoDir = await Deno.makeTempDir({ prefix: "ct-denodir-" });
      await Deno.chmod(denoDir, 0o777);
      const deno = Deno.execPath();
      const args = ["run", "--no-config", "--allow-all", probe];
      const asRoot = Deno.uid() === 0;
      const out = await new Deno.Command(asRoot ? "setpriv" : deno, {
        args: asRoot ? ["--reuid=65534", "--regid=65534", "--clear-groups", deno, ...args] : args,
        env: { DENO_DIR: denoDir, HOME: denoDir, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      await Deno.remove(denoDir, { recursive: true });
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.deepEqual(JSON.parse(text), [
        "permission",
        `No permission to use the engine socket ${server.path}: the daemon needs read and ` +
        "write access to it (root, or a member of the socket's group, usually docker)",
      ]);
    } finally {
      await server.close();
    }
  },
});

Deno.test("close() ends a call in flight at once (shutdown does not wait for a slow engine)", async () => {
  // the stand-in's event stream sends nothing and never ends: a JSON call on it waits forever
  const server = await standIn(() => stream([], true));
  const api = new EngineApi({ socket: server.path, timeoutMs: 60_000 });
  try {
    await api.negotiate();
    const inspect = apiCatalogEngine({ get: () => api.get("/events") }).inspect("c".repeat(64));
    const t0 = performance.now();
    api.close();
    await assert.rejects(inspect, (e: Error) => {
      assert.ok(e instanceof EngineError);
      assert.match(e.message, /was closed/);
      return true;
    });
    assert.ok(performance.now() - t0 < 5000, "not at its 60 s timeout");
  } finally {
    await server.close();
  }
});
