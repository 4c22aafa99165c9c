/**
 * `--listen [host:]port` (src/exporter/listen.ts, src/config/flags.ts): the forms accepted,
 * one line and status 2 for a bad one, and no default QuestDB sink when it stands alone.
 */
import assert from "node:assert/strict";
import { type Config, FlagExit, parseFlags, startupFields } from "../../src/config/flags.ts";
import { parseListen, showListen } from "../../src/exporter/listen.ts";

function parse(argv: string[], env: Record<string, string> = {}) {
  let err = "";
  try {
    const config = parseFlags(argv, { HOME: "/home/u", ...env }, {
      out: () => {},
      err: (s) => (err += s),
    });
    return { config, err, code: null as number | null };
  } catch (e) {
    if (!(e instanceof FlagExit)) throw e;
    return { config: null as Config | null, err, code: e.exitCode };
  }
}

Deno.test("[host:]port: a bare port listens everywhere; IPv6 in brackets", () => {
  assert.deepEqual(parseListen("9338"), { hostname: "0.0.0.0", port: 9338 });
  assert.deepEqual(parseListen(":9338"), { hostname: "0.0.0.0", port: 9338 });
  assert.deepEqual(parseListen("127.0.0.1:1"), { hostname: "127.0.0.1", port: 1 });
  assert.deepEqual(parseListen("localhost:65535"), { hostname: "localhost", port: 65535 });
  assert.deepEqual(parseListen("[::1]:9338"), { hostname: "::1", port: 9338 });
  assert.equal(showListen(parseListen("[::1]:9338")), "[::1]:9338");
  for (const bad of ["", ":", "0", ":65536", "host:", "a b:1", "::1:9338", "http://x:1", "-1"]) {
    assert.throws(() => parseListen(bad), RangeError, bad);
  }
});

Deno.test("--listen alone: no QuestDB sink, the endpoint, and no host label unless asked", () => {
  const { config } = parse(["-n", "h1", "--listen", ":9338"]);
  assert.equal(config?.questdb, null);
  assert.deepEqual(config?.influxdb, []);
  assert.deepEqual(config?.listen, { hostname: "0.0.0.0", port: 9338 });
  assert.equal(config?.listenHostLabel, false);
  assert.match(startupFields(config!), / questdb=none .* listen=0\.0\.0\.0:9338$/);
  // With a sink asked for, both.
  const both = parse(["-n", "h1", "--listen", "9338", "-q", "db1", "--listen-host-label"]);
  assert.equal(both.config?.questdb?.host, "db1");
  assert.equal(both.config?.listenHostLabel, true);
  // Without it, the default QuestDB as before.
  assert.equal(parse(["-n", "h1"]).config?.listen, null);
  assert.notEqual(parse(["-n", "h1"]).config?.questdb, null);
});

Deno.test("a bad --listen: one line naming the flag and what is allowed, status 2", () => {
  const { code, err } = parse(["-n", "h1", "--listen", "99999"]);
  assert.equal(code, 2);
  assert.equal(
    err,
    "error: option '--listen <[host:]port>' argument '99999' is invalid. Allowed: [host:]port " +
      "with a port from 1 to 65535, such as :9338, 127.0.0.1:9338 or [::1]:9338.\n",
  );
});
