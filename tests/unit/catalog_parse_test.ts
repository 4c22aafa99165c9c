/**
 * The catalog's parsers (src/catalog/events.ts, src/catalog/listing.ts, the version
 * negotiation of src/engine/api.ts) on the Engine API's answers recorded from dockerd 20.10 with
 * curl (tests/fixtures/catalog/README.md).
 */
import assert from "node:assert/strict";
import { formatSince, parseEventLine } from "../../src/catalog/events.ts";
import { parseContainerList, parseInspect } from "../../src/catalog/listing.ts";
import { compareVersions, engineSocket } from "../../src/engine/api.ts";
import { EVENT_LINES, readFixture as read } from "../helpers/recorded_engine.ts";

Deno.test("events: every recorded line parses, with its action and exact timeNano", () => {
  const events = EVENT_LINES.map((l) => parseEventLine(l)!);
  const actions = new Map<string, number>();
  for (const e of events) actions.set(e.action, (actions.get(e.action) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries([...actions].sort()), {
    create: 5,
    destroy: 5,
    die: 8,
    exec_create: 10,
    exec_die: 10,
    exec_start: 10,
    health_status: 2,
    kill: 4,
    oom: 1,
    pause: 1,
    rename: 1,
    restart: 1,
    start: 8,
    stop: 1,
    unpause: 1,
  });
  EVENT_LINES.forEach((line, i) => {
    // Above 2^53: JSON.parse would round it, the parser reads the digits.
    const digits = /"timeNano":(\d+)/.exec(line)![1]!;
    assert.equal(events[i]!.timeNano.toString(), digits);
    assert.equal(events[i]!.id.length, 64);
  });
});

Deno.test("events: exit codes, signals, health, rename and labels", () => {
  const events = EVENT_LINES.map((l) => parseEventLine(l)!);
  const of = (name: string, action: string) =>
    events.filter((e) => e.name === name && e.action === action);
  assert.equal(of("ct-rec-exit3", "die")[0]!.exitCode, 3);
  assert.deepEqual(of("ct-rec-oom", "die").map((e) => e.exitCode), [137]);
  assert.equal(of("ct-rec-oom", "oom").length, 1);
  assert.deepEqual(of("ct-rec-policy", "die").map((e) => e.exitCode), [1, 1, 1]);
  assert.deepEqual(of("ct-rec-life2", "kill").map((e) => e.signal), [15, 9, 9]);
  assert.deepEqual(of("ct-rec-health", "health_status").map((e) => e.detail), [
    "healthy",
    "unhealthy",
  ]);
  const rename = of("ct-rec-life2", "rename")[0]!;
  assert.deepEqual(rename.labels, {
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": "db",
    "ct.rec": "1",
  });
  const die = of("ct-rec-exit3", "die")[0]!;
  assert.equal(die.image, "busybox:local");
  assert.deepEqual(die.labels, {
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": "web",
    "ct.rec": "1",
  });
  assert.equal(die.signal, undefined);
  const exec = events.find((e) => e.action === "exec_start")!;
  assert.equal(exec.detail, "/bin/sh -c test ! -f /dev/shm/bad");
  assert.equal(exec.labels.execID, undefined);
});

Deno.test("events: other types are not container events; broken lines throw SyntaxError", () => {
  const network = '{"Type":"network","Action":"connect","Actor":{"ID":"n1","Attributes":{}},' +
    '"scope":"local","time":1796190700,"timeNano":1796190700000000001}';
  assert.equal(parseEventLine(network), null);
  // Engines 25+ no longer print status/id/from; only time, no timeNano, is also accepted.
  const modern = '{"Type":"container","Action":"start","Actor":{"ID":"' + "c".repeat(64) +
    '","Attributes":{"name":"x","image":"i"}},"scope":"local","time":1796190700}';
  assert.equal(parseEventLine(modern)!.timeNano, 1796190700_000000000n);
  assert.throws(() => parseEventLine('{"Type":"container","Act'), SyntaxError);
  assert.throws(() => parseEventLine('{"Type":"container","Action":"start"}'), SyntaxError);
  assert.throws(() => parseEventLine("[1]"), SyntaxError);
});

Deno.test("formatSince: seconds.nanoseconds, as docker events --since takes them", () => {
  assert.equal(formatSince(1796190716559500876n), "1796190716.559500876");
  assert.equal(formatSince(1796190716000000005n), "1796190716.000000005");
  assert.equal(formatSince(0n), "0.000000000");
});

Deno.test("listing: full IDs, first name, state and labels of every container", () => {
  const list = parseContainerList(JSON.parse(read("containers.json")));
  assert.deepEqual(list.map((p) => [p.name, p.state, p.image]), [
    ["ct-rec-life", "running", "busybox:local"],
    ["ct-rec-policy", "restarting", "busybox:local"],
    ["ct-rec-health", "running", "busybox:local"],
    ["ct-rec-oom", "exited", "busybox:local"],
    ["ct-rec-exit3", "exited", "busybox:local"],
  ]);
  for (const p of list) assert.equal(p.id.length, 64);
  assert.deepEqual(list[0]!.labels, {
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": "db",
    "ct.rec": "1",
  });
  assert.deepEqual(parseContainerList([]), []);
  assert.deepEqual(parseContainerList([{ Names: ["/x"] }]), [], "no Id: skipped");
  assert.throws(() => parseContainerList({ message: "page not found" }), SyntaxError);
});

Deno.test("inspect: PID, network mode, restart count, state, health, labels, start time", () => {
  const now = (JSON.parse(read("inspect.json")) as unknown[]).map(parseInspect);
  const later = (JSON.parse(read("inspect-later.json")) as unknown[]).map(parseInspect);
  const row = (list: typeof now, name: string) => {
    const c = list.find((x) => x.name === name)!;
    return [c.state, c.pid > 0, c.networkMode, c.restartCount, c.health ?? null];
  };
  assert.deepEqual(row(now, "ct-rec-life"), ["running", true, "none", 0, null]);
  assert.deepEqual(row(now, "ct-rec-policy"), ["running", true, "default", 1, null]);
  assert.deepEqual(row(now, "ct-rec-health"), ["running", true, "default", 0, "healthy"]);
  assert.deepEqual(row(later, "ct-rec-life2"), ["running", true, "none", 0, null]);
  assert.deepEqual(row(later, "ct-rec-health"), ["running", true, "default", 0, "unhealthy"]);
  assert.deepEqual(row(later, "ct-rec-policy"), ["exited", false, "default", 2, null]);
  assert.deepEqual(row(later, "ct-rec-oom"), ["exited", false, "default", 0, null]);
  const life = now.find((x) => x.name === "ct-rec-life")!;
  const life2 = later.find((x) => x.name === "ct-rec-life2")!;
  assert.equal(life.id, life2.id, "a rename keeps the ID");
  assert.notEqual(life.pid, life2.pid, "a restart gives a new init PID");
  assert.equal(life.startedAtMs, Date.parse("2026-12-06T22:08:21.204Z"), "State.StartedAt");
  assert.ok(life2.startedAtMs! > life.startedAtMs!, "a restart moves it");
  assert.deepEqual(life.labels, {
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": "db",
    "ct.rec": "1",
  });
  assert.equal(life.image, "busybox:local");
  const never = parseInspect({ Id: "c", State: { StartedAt: "0001-01-01T00:00:00Z" } });
  assert.equal(never.startedAtMs, 0, "the engine's zero time: never started");
  // what the engine answers for a vanished container (HTTP 404) is no inspect
  assert.throws(() => parseInspect(JSON.parse(read("inspect-404.json"))), SyntaxError);
  assert.throws(() => parseInspect([]), SyntaxError);
});

Deno.test("API version: the lower of ours and the engine's; DOCKER_HOST unix paths only", () => {
  const version = JSON.parse(read("version.json")) as { ApiVersion: string };
  assert.equal(version.ApiVersion, "1.41");
  assert.ok(compareVersions("1.41", "1.51") < 0);
  assert.ok(compareVersions("1.9", "1.41") < 0, "numeric, not textual");
  assert.ok(compareVersions("2.0", "1.51") > 0);
  assert.equal(compareVersions("1.41", "1.41"), 0);
  assert.equal(engineSocket(undefined), "/var/run/docker.sock");
  assert.equal(engineSocket(""), "/var/run/docker.sock");
  assert.equal(engineSocket("unix:///run/user/1000/docker.sock"), "/run/user/1000/docker.sock");
  for (const bad of ["tcp://127.0.0.1:2375", "ssh://me@host", "unix://", "/var/run/docker.sock"]) {
    assert.throws(() => engineSocket(bad), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(
        e.message,
        new RegExp(`^DOCKER_HOST=${bad.replace(/[./]/g, "\\$&")} is not supported`),
      );
      assert.ok(!e.message.includes("\n"), "one line");
      return true;
    });
  }
});
