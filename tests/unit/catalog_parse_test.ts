/**
 * The catalog's parsers (src/catalog/events.ts, src/catalog/listing.ts) on real recordings of
 * dockerd 20.10 with CLI 28.2 (tests/fixtures/catalog/README.md).
 */
import assert from "node:assert/strict";
import { formatSince, parseEventLine } from "../../src/catalog/events.ts";
import { parseInspect, parsePs } from "../../src/catalog/listing.ts";

const DIR = new URL("../fixtures/catalog/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, DIR));
const EVENT_LINES = read("events.jsonl").split("\n").filter((l) => l !== "");

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

Deno.test("docker ps: full IDs, first name, state; labels are left to inspect", () => {
  const ps = parsePs(read("ps.jsonl"));
  assert.deepEqual(ps.map((p) => [p.name, p.state, p.image]), [
    ["ct-rec-life", "running", "busybox:local"],
    ["ct-rec-policy", "running", "busybox:local"],
    ["ct-rec-health", "running", "busybox:local"],
  ]);
  for (const p of ps) assert.equal(p.id.length, 64);
  assert.deepEqual(parsePs("\n"), []);
  assert.throws(() => parsePs('{"Names":"x"}\n'), SyntaxError);
});

Deno.test("docker inspect: PID, network mode, restart count, state, health, labels", () => {
  const now = parseInspect(read("inspect.json"));
  const later = parseInspect(read("inspect-later.json"));
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
  assert.deepEqual(life.labels, {
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": "db",
    "ct.rec": "1",
  });
  assert.equal(life.image, "busybox:local");
  assert.throws(() => parseInspect("{}"), SyntaxError);
});
