/**
 * sd_notify, the systemd watchdog and the STATUS line against REAL unix datagram sockets (a
 * filesystem path and an abstract name), with the watchdog's timers on fake time: a test
 * advances the clock, then waits for the datagrams it expects to arrive (a positive signal),
 * never on a wall-clock sleep. To show that nothing else was sent, a test ends with a marker
 * datagram: the socket keeps order, so once the marker is in, every datagram sent before it is
 * too.
 *
 * Run with: deno test --unstable-net --allow-net --allow-read --allow-write --allow-env
 */

import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import {
  createServiceNotifier,
  type NotifyEnv,
  type ServiceNotifier,
  StatusReporter,
  Watchdog,
} from "../../src/service/systemd.ts";
import { newDeliveryStats } from "../../src/delivery/sink.ts";
import { setupLogging } from "../../src/service/logging.ts";
import { StreamHealth } from "../../src/source/health.ts";

/** The fake clock `FakeTimers.install` returns. */
type FakeClock = ReturnType<typeof FakeTimers.install>;

/** Real timers, taken before any test installs fake ones: only for polling positive signals. */
const realSetTimeout = globalThis.setTimeout;

/** A systemd-like NOTIFY_SOCKET receiver: a bound SOCK_DGRAM unix socket collecting messages. */
class Receiver {
  readonly messages: string[] = [];
  readonly notifySocket: string;
  readonly #path: string;
  readonly #conn: Deno.DatagramConn;
  readonly #loop: Promise<void>;
  readonly #dir: string | undefined;

  private constructor(notifySocket: string, path: string, dir: string | undefined) {
    this.notifySocket = notifySocket;
    this.#path = path;
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
        this.messages.push(decoder.decode(data));
      } catch {
        return; // closed
      }
    }
  }

  /** Waits until `n` messages have arrived. */
  async waitFor(n: number): Promise<string[]> {
    const deadline = performance.now() + 10_000;
    while (this.messages.length < n) {
      if (performance.now() > deadline) {
        throw new Error(`${this.messages.length} of ${n} datagrams: ${this.messages.join(" | ")}`);
      }
      await new Promise((r) => realSetTimeout(r, 2));
    }
    return this.messages;
  }

  /**
   * Sends a marker from another socket and waits for it: then every datagram sent before is
   * in. @returns the messages before the marker.
   */
  async drain(): Promise<string[]> {
    const marker = `STATUS=marker-${crypto.randomUUID()}`;
    const sender = Deno.listenDatagram({
      transport: "unixpacket",
      path: `\0container-statsd-test-marker-${crypto.randomUUID()}`,
    });
    try {
      const data = new TextEncoder().encode(marker);
      await sender.send(data, { transport: "unixpacket", path: this.#path });
      const deadline = performance.now() + 10_000;
      while (!this.messages.includes(marker)) {
        if (performance.now() > deadline) throw new Error("the marker datagram did not arrive");
        await new Promise((r) => realSetTimeout(r, 2));
      }
    } finally {
      sender.close();
    }
    return this.messages.slice(0, this.messages.indexOf(marker));
  }

  pings(): number {
    return this.messages.filter((m) => m === "WATCHDOG=1").length;
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.#loop;
    if (this.#dir !== undefined) await Deno.remove(this.#dir, { recursive: true });
  }
}

/** Collects log lines so tests can check the policy messages. */
async function captureLogs(): Promise<string[]> {
  const lines: string[] = [];
  await setupLogging("debug", { journald: true, write: (text) => lines.push(text) });
  return lines;
}

/** Runs `fn` with setTimeout/clearTimeout faked (the watchdog's ticks), then restores them. */
async function onFakeTime(fn: (clock: FakeClock) => Promise<void>): Promise<void> {
  const clock = FakeTimers.install({ now: 0, toFake: ["setTimeout", "clearTimeout"] });
  try {
    await fn(clock);
  } finally {
    clock.uninstall();
  }
}

/**
 * Runs `fn` with a notifier for `NOTIFY_SOCKET` = the receiver's socket plus `env`, its
 * watchdog on a fake clock; closes the notifier and the receiver after.
 */
async function withNotifier(
  receiver: Receiver,
  env: NotifyEnv,
  fn: (service: ServiceNotifier, clock: FakeClock, receiver: Receiver) => Promise<void>,
): Promise<void> {
  try {
    await onFakeTime(async (clock) => {
      const service = createServiceNotifier(
        "enabled",
        { NOTIFY_SOCKET: receiver.notifySocket, ...env },
        Deno.pid,
        { now: () => clock.now },
      );
      try {
        await fn(service, clock, receiver);
      } finally {
        service.close();
      }
    });
  } finally {
    await receiver.close();
  }
}

for (
  const [kind, receiver] of [["path", Receiver.onPath], ["abstract @", Receiver.abstract]] as const
) {
  Deno.test(`${kind}NOTIFY_SOCKET: READY, pings every WATCHDOG_USEC/2, then STOPPING`, async () => {
    await withNotifier(
      receiver(),
      { WATCHDOG_USEC: "400000" },
      async (service, clock, receiver) => {
        assert.equal(service.notifying, true);
        assert.equal(service.watchdogUsec, 400_000);
        service.start(() => true);
        await service.ready("Collecting");
        clock.tick(1_100); // 200 ms period: pings at 200, 400, 600, 800, 1000 ms
        await service.stopping("Publishing the last interval");
        clock.tick(1_000); // no ping may follow STOPPING
        assert.deepEqual(await receiver.drain(), [
          "READY=1\nSTATUS=Collecting",
          ...Array<string>(5).fill("WATCHDOG=1"),
          "STOPPING=1\nSTATUS=Publishing the last interval",
        ]);
      },
    );
  });
}

Deno.test("datagrams sent at once all arrive, in call order (READY with STATUS, as main.ts does)", async () => {
  // Before the fix, Deno refused the second send while the first was under way ("Busy: Socket
  // already in use"): main.ts's `void notifier.ready(); status.update()` could lose READY=1.
  await withNotifier(Receiver.abstract(), {}, async (service, _clock, receiver) => {
    const sent = [service.ready(), service.status("2 containers"), service.stopping("bye")];
    await Promise.all(sent);
    assert.deepEqual(await receiver.drain(), [
      "READY=1",
      "STATUS=2 containers",
      "STOPPING=1\nSTATUS=bye",
    ]);
  });
});

Deno.test("pings stop while the source is unhealthy and resume with it", async () => {
  const lines = await captureLogs();
  // WATCHDOG_USEC=2 s: a ping every second; the source's health window is max(10 s, 2 s).
  const receiver = Receiver.abstract();
  await withNotifier(receiver, { WATCHDOG_USEC: "2000000" }, async (service, clock) => {
    const health = new StreamHealth({ startMs: clock.now, watchdogUsec: 2_000_000 });
    const seconds = async (n: number, sampling: boolean) => {
      for (let i = 0; i < n; i++) {
        if (sampling) health.sample(clock.now, true);
        clock.tick(1000);
      }
      await receiver.drain();
    };
    service.start((now) => health.healthy(now));
    await seconds(5, true); // samples at 0..4 s, pings at 1..5 s
    assert.equal(receiver.pings(), 5);
    await seconds(20, false); // the last sample was at 4 s: healthy until 14 s
    assert.equal(receiver.pings(), 5 + 9, "pings at 6..14 s, none from 15 s");
    await seconds(3, true); // samples again from 25 s
    assert.equal(receiver.pings(), 14 + 3);
    assert.ok(
      lines.some((l) => l.startsWith("<4>The source shows no samples; withholding WATCHDOG=1")),
      lines.join(""),
    );
    assert.ok(lines.some((l) => l.startsWith("<6>Samples resumed")), lines.join(""));
  });
});

Deno.test("the watchdog asks the source's health with its own monotonic clock", async () => {
  await onFakeTime((clock) => {
    const asked: number[] = [];
    const dog = new Watchdog({
      intervalUsec: 2_000_000,
      ping: () => {},
      healthy: (now) => (asked.push(now), true),
      now: () => 7_000_000 + clock.now, // e.g. performance.now(), never Date.now()
    });
    dog.start();
    clock.tick(3000);
    dog.stop();
    assert.deepEqual(asked, [7_001_000, 7_002_000, 7_003_000]);
    return Promise.resolve();
  });
});

Deno.test("WATCHDOG_PID of another process: READY and STOPPING, no pings", async () => {
  const env = { WATCHDOG_USEC: "200000", WATCHDOG_PID: String(Deno.pid + 1) };
  await withNotifier(Receiver.onPath(), env, async (service, clock, receiver) => {
    assert.equal(service.watchdogUsec, null);
    service.start(() => true);
    await service.ready();
    clock.tick(1000);
    await service.stopping();
    assert.deepEqual(await receiver.drain(), ["READY=1", "STOPPING=1"]);
  });
});

Deno.test("WATCHDOG_PID equal to our pid: pings", async () => {
  const env = { WATCHDOG_USEC: "200000", WATCHDOG_PID: String(Deno.pid) };
  await withNotifier(Receiver.abstract(), env, async (service, clock, receiver) => {
    service.start(() => true);
    clock.tick(350);
    await service.stopping();
    assert.deepEqual(await receiver.drain(), [
      "WATCHDOG=1",
      "WATCHDOG=1",
      "WATCHDOG=1",
      "STOPPING=1",
    ]);
  });
});

Deno.test("start() after stopping() starts no watchdog", async () => {
  await withNotifier(
    Receiver.abstract(),
    { WATCHDOG_USEC: "200000" },
    async (service, clock, receiver) => {
      await service.stopping();
      service.start(() => true);
      clock.tick(1000);
      assert.deepEqual(await receiver.drain(), ["STOPPING=1"]);
    },
  );
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
  await onFakeTime(async (clock) => {
    const service = createServiceNotifier("disabled", env, Deno.pid, { now: () => clock.now });
    try {
      assert.equal(service.notifying, false);
      assert.equal(service.watchdogUsec, null);
      service.start(() => true);
      await service.ready("x");
      await service.status("y");
      clock.tick(10_000);
      await service.stopping();
      assert.equal(reads, 0);
      assert.deepEqual(await receiver.drain(), []);
    } finally {
      service.close();
      await receiver.close();
    }
  });
});

Deno.test("enabled without NOTIFY_SOCKET: one info line, every call a no-op", async () => {
  const lines = await captureLogs();
  const service = createServiceNotifier("enabled", {}, Deno.pid);
  assert.equal(service.notifying, false);
  assert.equal(service.watchdogUsec, null);
  service.start(() => true);
  await service.ready();
  await service.stopping();
  service.close();
  const notes = lines.filter((l) => l.includes("NOTIFY_SOCKET"));
  assert.equal(notes.length, 1, lines.join(""));
  assert.ok(notes[0]?.startsWith("<6>"), notes[0]);
});

Deno.test("NOTIFY_SOCKET without WATCHDOG_USEC: READY/STATUS/STOPPING and a warning", async () => {
  const lines = await captureLogs();
  await withNotifier(Receiver.onPath(), {}, async (service, clock, receiver) => {
    assert.equal(service.watchdogUsec, null);
    service.start(() => true);
    await service.ready();
    await service.status("multi\nline status");
    clock.tick(10_000);
    await service.stopping();
    assert.deepEqual(await receiver.drain(), ["READY=1", "STATUS=multi line status", "STOPPING=1"]);
    assert.ok(
      lines.some((l) => l.startsWith("<4>") && l.includes("WatchdogSec= is missing")),
      lines.join(""),
    );
  });
});

Deno.test("a missing socket is logged once, never thrown", async () => {
  const lines = await captureLogs();
  const dir = await Deno.makeTempDir({ prefix: "notify-test-" });
  const notifier = createServiceNotifier("enabled", { NOTIFY_SOCKET: `${dir}/absent` }, Deno.pid);
  try {
    assert.equal(await notifier.ready(), false);
    assert.equal(await notifier.status("x"), false);
    await notifier.stopping();
    const warnings = lines.filter((l) => l.startsWith("<4>sd_notify"));
    assert.equal(warnings.length, 1, lines.join(""));
    assert.ok(warnings[0]?.includes(`${dir}/absent`), warnings[0]);
  } finally {
    notifier.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(await notifier.ready(), false, "send after close");
});

Deno.test("NOTIFY_SOCKET is a /path or an @abstract name (both sent to above)", () => {
  const notifying = (socket: string | undefined) =>
    createServiceNotifier("enabled", { NOTIFY_SOCKET: socket }, 1).notifying;
  assert.equal(notifying(undefined), false);
  assert.equal(notifying(""), false);
  assert.equal(notifying("vsock:2:1234"), false);
  assert.equal(notifying("/run/x"), true);
  assert.equal(notifying("/run/systemd/notify"), true);
  assert.equal(notifying("@abc"), true);
  assert.equal(notifying("@"), false);
  assert.equal(notifying("relative/path"), false);
});

Deno.test("watchdogUsec follows sd_watchdog_enabled", () => {
  const watchdogIntervalUsec = (env: NotifyEnv, pid: number) =>
    createServiceNotifier("enabled", { NOTIFY_SOCKET: "@x", ...env }, pid).watchdogUsec;
  assert.equal(watchdogIntervalUsec({}, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000" }, 10), 30_000_000);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10), 3e7);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "0" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "-5" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30s" }, 10), null);
  assert.equal(watchdogIntervalUsec({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "x" }, 10), null);
});

Deno.test("Watchdog: a ping every half WATCHDOG_USEC; bad intervals are RangeErrors", () => {
  const options = { ping: () => {}, healthy: () => true };
  assert.equal(new Watchdog({ intervalUsec: 30_000_000, ...options }).periodMs, 15_000);
  assert.throws(() => new Watchdog({ intervalUsec: 0, ...options }), RangeError);
  assert.throws(() => new Watchdog({ intervalUsec: Number.NaN, ...options }), RangeError);
});

Deno.test("Watchdog (fake clock): pings each period while healthy, none when stale", async () => {
  await onFakeTime((clock) => {
    let pings = 0;
    let lastSample = 0;
    const dog = new Watchdog({
      intervalUsec: 30_000_000,
      ping: () => void pings++,
      healthy: (now) => now - lastSample <= 30_000, // a source with a 30 s window
      now: () => clock.now,
    });
    dog.start();
    for (let s = 0; s < 60; s++) {
      clock.tick(1_000);
      lastSample = clock.now;
    }
    assert.equal(pings, 4); // at 15, 30, 45, 60 s
    clock.tick(30_000); // sample at 60 s still within 30 s at 75 and 90 s
    assert.equal(pings, 6);
    clock.tick(15_000); // 105 s: 45 s since the last sample
    assert.equal(pings, 6);
    lastSample = clock.now;
    clock.tick(15_000);
    assert.equal(pings, 7);
    dog.stop();
    clock.tick(60_000);
    assert.equal(pings, 7);
    return Promise.resolve();
  });
});

Deno.test("Watchdog (fake clock): a starved tick sends nothing", async () => {
  await onFakeTime((clock) => {
    let blockedMs = 0; // simulated time the event loop was blocked before the timer ran
    let pings = 0;
    const dog = new Watchdog({
      intervalUsec: 30_000_000,
      ping: () => void pings++,
      healthy: () => true,
      now: () => clock.now + blockedMs,
    });
    dog.start();
    clock.tick(15_000);
    assert.equal(pings, 1);
    blockedMs = 16_000; // the next tick (due at 30 s) runs at 46 s: 16 s > 15 s late
    clock.tick(15_000);
    assert.equal(pings, 1, "the late tick must skip its ping");
    clock.tick(15_000); // rescheduled from the late tick, on time again
    assert.equal(pings, 2);
    dog.stop();
    return Promise.resolve();
  });
});

Deno.test("STATUS: containers, then each sink's last publish, queue, drops, refusals", async () => {
  await withNotifier(Receiver.abstract(), {}, async (service, _clock, receiver) => {
    const status = new StatusReporter(service);
    status.update(); // nothing tracked yet: nothing sent
    const endMs = Date.parse("2026-12-06T12:05:00Z");
    const questdb = {
      ...newDeliveryStats(),
      droppedRows: 2,
      rejectedRows: 1,
      last: { endMs, rows: 3, ok: true },
    };
    const influxdb = { ...newDeliveryStats(), last: { endMs, rows: 3, ok: false, error: "503" } };
    status.track(() => 3, [
      { name: "questdb", stats: questdb, pendingRows: 4 },
      { name: "influxdb", stats: influxdb, pendingRows: 0 },
      { name: "stdout", stats: newDeliveryStats(), pendingRows: 0 },
    ], () => 5);
    status.update();
    await receiver.waitFor(1);
    assert.deepEqual(await receiver.drain(), [
      "STATUS=3 containers; questdb: last publish 12:05:00Z ok (3 rows), 4 rows queued, " +
      "2 rows dropped (buffer full), 1 rows refused; influxdb: last publish 12:05:00Z " +
      "failed: 503; 5 rows could not be encoded",
    ]);
  });
});
