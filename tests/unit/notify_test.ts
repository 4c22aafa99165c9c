/**
 * sd_notify and watchdog tests against REAL unix datagram sockets (a filesystem path and an
 * abstract name), plus fake-clock tests of the watchdog's health and starvation rules.
 *
 * Run with: deno test --unstable-net --allow-net --allow-read --allow-write --allow-env
 */

import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import {
  createServiceNotifier,
  type NotifyEnv,
  notifySocketPath,
  SystemdNotifier,
  watchdogIntervalUsec,
} from "../../src/service/notify.ts";
import { MIN_HEALTH_WINDOW_MS, Watchdog } from "../../src/service/watchdog.ts";
import { setupLogging } from "../../src/service/logging.ts";

interface Received {
  readonly atMs: number;
  readonly text: string;
}

/** A systemd-like NOTIFY_SOCKET receiver: a bound SOCK_DGRAM unix socket collecting messages. */
class Receiver {
  readonly messages: Received[] = [];
  readonly notifySocket: string;
  readonly #conn: Deno.DatagramConn;
  readonly #loop: Promise<void>;
  readonly #dir: string | undefined;

  private constructor(notifySocket: string, path: string, dir: string | undefined) {
    this.notifySocket = notifySocket;
    this.#dir = dir;
    this.#conn = Deno.listenDatagram({ transport: "unixpacket", path });
    this.#loop = this.#receive();
  }

  /** Receiver on a socket file in a fresh temporary directory (NOTIFY_SOCKET=/tmp/.../notify). */
  static onPath(): Receiver {
    const dir = Deno.makeTempDirSync({ prefix: "notify-test-" });
    const path = `${dir}/notify`;
    return new Receiver(path, path, dir);
  }

  /** Receiver on an abstract socket (NOTIFY_SOCKET=@name, bound as "\0name"). */
  static abstract(): Receiver {
    const name = `container-statsd-test-${Deno.pid}-${crypto.randomUUID()}`;
    return new Receiver(`@${name}`, `\0${name}`, undefined);
  }

  async #receive(): Promise<void> {
    const decoder = new TextDecoder();
    for (;;) {
      try {
        const [data] = await this.#conn.receive();
        this.messages.push({ atMs: performance.now(), text: decoder.decode(data) });
      } catch {
        return; // closed
      }
    }
  }

  texts(): string[] {
    return this.messages.map((m) => m.text);
  }

  pings(): Received[] {
    return this.messages.filter((m) => m.text === "WATCHDOG=1");
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.#loop;
    if (this.#dir !== undefined) await Deno.remove(this.#dir, { recursive: true });
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls `markSample` every `everyMs` until stopped, like the pipeline does per redraw. */
function sampler(target: { markSample(nowMs?: number): void }, everyMs = 50): () => void {
  target.markSample();
  const id = setInterval(() => target.markSample(), everyMs);
  return () => clearInterval(id);
}

/** Collects log lines so tests can check the policy messages. */
async function captureLogs(): Promise<string[]> {
  const lines: string[] = [];
  await setupLogging("debug", { journald: true, write: (text) => lines.push(text) });
  return lines;
}

async function readyPingsStopping(receiver: Receiver): Promise<void> {
  const env = { NOTIFY_SOCKET: receiver.notifySocket, WATCHDOG_USEC: "400000" };
  const service = createServiceNotifier("enabled", env, Deno.pid);
  assert.equal(service.notifying, true);
  assert.equal(service.watchdogUsec, 400_000);
  const stopSampling = sampler(service);
  try {
    const readyAt = performance.now();
    await service.ready("Collecting");
    await sleep(1_100);
    await service.stopping("Publishing the last interval");
    const stoppedAt = performance.now();
    await sleep(450); // longer than a period: no ping may follow STOPPING
    service.close();

    const texts = receiver.texts();
    assert.equal(texts[0], "READY=1\nSTATUS=Collecting");
    assert.equal(texts.at(-1), "STOPPING=1\nSTATUS=Publishing the last interval");
    const middle = texts.slice(1, -1);
    assert.ok(middle.every((t) => t === "WATCHDOG=1"), `unexpected messages: ${middle}`);
    const pings = receiver.pings();
    // 1100 ms / 200 ms period = 5 ticks; allow one either way for a loaded machine.
    assert.ok(pings.length >= 4 && pings.length <= 6, `${pings.length} pings`);
    const first = pings[0];
    assert.ok(first !== undefined);
    assert.ok(first.atMs - readyAt >= 150, `first ping after ${first.atMs - readyAt} ms`);
    for (let i = 1; i < pings.length; i++) {
      const gap = (pings[i]?.atMs ?? 0) - (pings[i - 1]?.atMs ?? 0);
      assert.ok(gap >= 100 && gap <= 400, `gap ${gap} ms between pings ${i - 1} and ${i}`);
    }
    assert.ok(pings.every((p) => p.atMs <= stoppedAt), "a ping arrived after STOPPING=1");
  } finally {
    stopSampling();
    service.close();
  }
}

Deno.test("path NOTIFY_SOCKET: READY, pings every WATCHDOG_USEC/2, then STOPPING", async () => {
  const receiver = Receiver.onPath();
  try {
    await readyPingsStopping(receiver);
  } finally {
    await receiver.close();
  }
});

Deno.test("abstract @NOTIFY_SOCKET: READY, pings every WATCHDOG_USEC/2, then STOPPING", async () => {
  const receiver = Receiver.abstract();
  try {
    await readyPingsStopping(receiver);
  } finally {
    await receiver.close();
  }
});

Deno.test("pings stop while samples stall and resume with them", async () => {
  const receiver = Receiver.abstract();
  const lines = await captureLogs();
  const env = { NOTIFY_SOCKET: receiver.notifySocket, WATCHDOG_USEC: "200000" }; // period 100 ms
  const service = createServiceNotifier("enabled", env, Deno.pid, { healthWindowMs: 250 });
  let stopSampling = sampler(service);
  try {
    await service.ready();
    await sleep(500);
    stopSampling();
    const stalledAt = performance.now();
    await sleep(900);
    const resumedAt = performance.now();
    stopSampling = sampler(service);
    await sleep(450);
    await service.stopping();

    const pings = receiver.pings();
    const before = pings.filter((p) => p.atMs <= stalledAt).length;
    // Health lasts 250 ms after the last sample, plus at most one period until the next tick.
    const quietFrom = stalledAt + 250 + 100 + 30;
    const during = pings.filter((p) => p.atMs > quietFrom && p.atMs <= resumedAt).length;
    const after = pings.filter((p) => p.atMs > resumedAt).length;
    assert.ok(before >= 3, `${before} pings while sampling`);
    assert.equal(during, 0, "pings went on while samples stalled");
    assert.ok(after >= 2, `${after} pings after samples resumed`);
    assert.ok(lines.some((l) => l.startsWith("<4>No docker stats sample")), lines.join(""));
    assert.ok(lines.some((l) => l.includes("pings resumed")), lines.join(""));
  } finally {
    stopSampling();
    service.close();
    await receiver.close();
  }
});

Deno.test("markSample(Date.now()) as the pipeline passes it cannot fake health", async () => {
  const receiver = Receiver.abstract();
  const env = { NOTIFY_SOCKET: receiver.notifySocket, WATCHDOG_USEC: "200000" }; // period 100 ms
  const service = createServiceNotifier("enabled", env, Deno.pid, { healthWindowMs: 150 });
  try {
    service.start(); // main.ts starts the watchdog before the first sample arrives
    service.markSample(Date.now());
    await sleep(120);
    const early = receiver.pings().length;
    service.markSample(Date.now() + 3_600_000); // a wall-clock stamp far "ahead" of the monotonic clock
    const lastMark = performance.now();
    await sleep(600);
    await service.ready();
    await sleep(20);
    const late = receiver.pings().filter((p) => p.atMs > lastMark + 150 + 100 + 30).length;
    assert.ok(early >= 1, `${early} pings after start()`);
    assert.equal(late, 0, "stale samples stamped with Date.now() kept the pings going");
    assert.equal(receiver.texts().at(-1), "READY=1");
  } finally {
    service.close();
    await receiver.close();
  }
});

Deno.test("WATCHDOG_PID of another process: READY and STOPPING, no pings", async () => {
  const receiver = Receiver.onPath();
  const env = {
    NOTIFY_SOCKET: receiver.notifySocket,
    WATCHDOG_USEC: "200000",
    WATCHDOG_PID: String(Deno.pid + 1),
  };
  const service = createServiceNotifier("enabled", env, Deno.pid);
  const stopSampling = sampler(service);
  try {
    assert.equal(service.watchdogUsec, null);
    await service.ready();
    await sleep(450);
    await service.stopping();
    await sleep(20);
    assert.deepEqual(receiver.texts(), ["READY=1", "STOPPING=1"]);
  } finally {
    stopSampling();
    service.close();
    await receiver.close();
  }
});

Deno.test("WATCHDOG_PID equal to our pid: pings", async () => {
  const receiver = Receiver.abstract();
  const env = {
    NOTIFY_SOCKET: receiver.notifySocket,
    WATCHDOG_USEC: "200000",
    WATCHDOG_PID: String(Deno.pid),
  };
  const service = createServiceNotifier("enabled", env, Deno.pid);
  const stopSampling = sampler(service);
  try {
    await service.ready();
    await sleep(350);
    await service.stopping();
    assert.ok(receiver.pings().length >= 2, receiver.texts().join(" | "));
  } finally {
    stopSampling();
    service.close();
    await receiver.close();
  }
});

Deno.test("--watchdog disabled: NOTIFY_SOCKET is never read nor touched", async () => {
  const receiver = Receiver.abstract();
  let reads = 0;
  const env: NotifyEnv = new Proxy({}, {
    get: () => {
      reads++;
      return receiver.notifySocket;
    },
  });
  const service = createServiceNotifier("disabled", env, Deno.pid);
  try {
    assert.equal(service.notifying, false);
    await service.ready("x");
    await service.status("y");
    service.markSample();
    await sleep(150);
    await service.stopping();
    await sleep(20);
    assert.equal(reads, 0);
    assert.deepEqual(receiver.texts(), []);
  } finally {
    service.close();
    await receiver.close();
  }
});

Deno.test("enabled without NOTIFY_SOCKET: one info line, every call a no-op", async () => {
  const lines = await captureLogs();
  const service = createServiceNotifier("enabled", {}, Deno.pid);
  assert.equal(service.notifying, false);
  assert.equal(service.watchdogUsec, null);
  await service.ready();
  service.markSample();
  await service.stopping();
  service.close();
  const notes = lines.filter((l) => l.includes("NOTIFY_SOCKET"));
  assert.equal(notes.length, 1, lines.join(""));
  assert.ok(notes[0]?.startsWith("<6>"), notes[0]);
});

Deno.test("NOTIFY_SOCKET without WATCHDOG_USEC: READY/STATUS/STOPPING and a warning", async () => {
  const receiver = Receiver.onPath();
  const lines = await captureLogs();
  const service = createServiceNotifier("enabled", { NOTIFY_SOCKET: receiver.notifySocket });
  try {
    assert.equal(service.watchdogUsec, null);
    await service.ready();
    await service.status("multi\nline status");
    service.markSample();
    await service.stopping();
    await sleep(20);
    assert.deepEqual(receiver.texts(), ["READY=1", "STATUS=multi line status", "STOPPING=1"]);
    assert.ok(
      lines.some((l) => l.startsWith("<4>") && l.includes("WatchdogSec= is missing")),
      lines.join(""),
    );
  } finally {
    service.close();
    await receiver.close();
  }
});

Deno.test("SystemdNotifier: a missing socket is logged once, never thrown", async () => {
  const lines = await captureLogs();
  const dir = await Deno.makeTempDir({ prefix: "notify-test-" });
  const notifier = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: `${dir}/absent` }, Deno.pid);
  assert.ok(notifier !== null);
  try {
    assert.equal(await notifier.send("READY=1"), false);
    assert.equal(await notifier.send("WATCHDOG=1"), false);
    await notifier.watchdogPing();
    const warnings = lines.filter((l) => l.startsWith("<4>sd_notify"));
    assert.equal(warnings.length, 1, lines.join(""));
    assert.ok(warnings[0]?.includes(`${dir}/absent`), warnings[0]);
  } finally {
    notifier.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(await notifier.send("READY=1"), false, "send after close");
});

Deno.test("SystemdNotifier.fromEnv and notifySocketPath", () => {
  assert.equal(SystemdNotifier.fromEnv({}, 1), null);
  assert.equal(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "" }, 1), null);
  assert.equal(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "vsock:2:1234" }, 1), null);
  assert.equal(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "/run/x" }, 1)?.socket, "/run/x");
  assert.equal(notifySocketPath("/run/systemd/notify"), "/run/systemd/notify");
  assert.equal(notifySocketPath("@abc"), "\0abc");
  assert.equal(notifySocketPath("@"), null);
  assert.equal(notifySocketPath("relative/path"), null);
  assert.equal(notifySocketPath(undefined), null);
});

Deno.test("watchdogIntervalUsec follows sd_watchdog_enabled", () => {
  assert.equal(watchdogIntervalUsec({}, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000" }, 10), 30_000_000);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10), 3e7);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "0" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "-5" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30s" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "x" }, 10), null);
});

Deno.test("Watchdog: health window floor is 10 s, or WATCHDOG_USEC when longer", () => {
  const ping = () => {};
  assert.equal(new Watchdog({ intervalUsec: 400_000, ping }).healthWindowMs, MIN_HEALTH_WINDOW_MS);
  assert.equal(new Watchdog({ intervalUsec: 30_000_000, ping }).healthWindowMs, 30_000);
  assert.equal(new Watchdog({ intervalUsec: 30_000_000, ping }).periodMs, 15_000);
  assert.throws(() => new Watchdog({ intervalUsec: 0, ping }), RangeError);
  assert.throws(() => new Watchdog({ intervalUsec: 1e6, ping, healthWindowMs: -1 }), RangeError);
});

Deno.test("Watchdog (fake clock): pings each period while healthy, none when stale", () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout", "performance"],
  });
  try {
    let pings = 0;
    const dog = new Watchdog({ intervalUsec: 30_000_000, ping: () => void pings++ });
    dog.start();
    for (let s = 0; s < 60; s++) {
      clock.tick(1_000);
      dog.markSample();
    }
    assert.equal(pings, 4); // at 15, 30, 45, 60 s
    clock.tick(30_000); // sample at 60 s still within 30 s at 75 and 90 s
    assert.equal(pings, 6);
    clock.tick(15_000); // 105 s: 45 s since the last sample
    assert.equal(pings, 6);
    assert.equal(dog.isHealthy(), false);
    dog.markSample();
    clock.tick(15_000);
    assert.equal(pings, 7);
    dog.stop();
    clock.tick(60_000);
    assert.equal(pings, 7);
    assert.equal(dog.running, false);
  } finally {
    clock.uninstall();
  }
});

Deno.test("Watchdog (fake clock): a starved tick sends nothing", () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout", "performance"],
  });
  try {
    let blockedMs = 0; // simulated time the event loop was blocked before the timer ran
    let pings = 0;
    const dog = new Watchdog({
      intervalUsec: 30_000_000,
      ping: () => void pings++,
      now: () => performance.now() + blockedMs,
    });
    dog.start();
    clock.tick(15_000);
    assert.equal(pings, 1);
    dog.markSample();
    blockedMs = 16_000; // the next tick (due at 30 s) runs at 46 s: 16 s > 15 s late
    dog.markSample(performance.now() + blockedMs);
    clock.tick(15_000);
    assert.equal(pings, 1, "the late tick must skip its ping");
    dog.markSample();
    clock.tick(15_000); // rescheduled from the late tick, on time again
    assert.equal(pings, 2);
    dog.stop();
  } finally {
    clock.uninstall();
  }
});
