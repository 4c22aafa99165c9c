/**
 * Startup of `--source cgroup`: the one-line errors and their fixes when the host's cgroups or
 * processes cannot be read under --host-root, on fixture roots; and the two new flags.
 *
 * The catalog is an empty in-test `CatalogView` (no engine needed).
 */
import assert from "node:assert/strict";
import type { CatalogView } from "../../src/catalog/container.ts";
import { FlagExit, parseFlags } from "../../src/config/flags.ts";
import { CGROUP_ACCESS_FIX, openCgroupSource } from "../../src/source/cgroup/open.ts";
import { CgroupSource } from "../../src/source/cgroup/source.ts";

const FIXTURES = new URL("../fixtures/cgroup/", import.meta.url).pathname;

const EMPTY_CATALOG: CatalogView = {
  get: () => undefined,
  running: () => [],
  subscribe: () => () => {},
};

function open(hostRoot: string) {
  return openCgroupSource({ hostRoot, catalog: EMPTY_CATALOG, periodMs: 1000, watchdogUsec: null });
}

Deno.test("the fix names systemd, docker and a shell bind, with ProtectProc and --pid host", () => {
  for (
    const part of [
      "BindReadOnlyPaths=/:/run/container-statsd/host",
      "ProtectProc=default",
      "-v /:/host:ro,rslave --pid host",
      "mount --rbind / DIR",
      "--host-root",
    ]
  ) assert.ok(CGROUP_ACCESS_FIX.includes(part), part);
});

Deno.test("--host-root /: Deno refuses /sys without --allow-all; one line with the fix", async () => {
  const result = await open("/");
  assert.equal(typeof result, "string");
  assert.equal(
    result,
    "cgroup source: Deno refuses /proc and /sys without --allow-all, which the daemon is not " +
      `given; ${CGROUP_ACCESS_FIX}`,
  );
  assert.ok(!String(result).includes("\n"));
});

Deno.test("a root without /sys/fs/cgroup (a bind that is not recursive)", async () => {
  const result = await open(FIXTURES);
  assert.equal(
    result,
    `cgroup source: no cgroup hierarchy at ${FIXTURES}sys/fs/cgroup (a bind that is not ` +
      `recursive carries no /sys or /proc); ${CGROUP_ACCESS_FIX}`,
  );
});

Deno.test("host processes hidden (no /proc/1): stops with the fix", async () => {
  const root = await Deno.makeTempDir({ prefix: "cg-open-" });
  try {
    await new Deno.Command("/bin/cp", { args: ["-a", `${FIXTURES}v2-systemd/.`, root] }).output();
    await Deno.remove(`${root}/proc/1`, { recursive: true });
    const result = await open(root);
    assert.match(
      String(result),
      /^cgroup source: cannot read \/\S+\/proc\/1\/cgroup, so the host's processes are not visible \(ENOENT: no such file/,
    );
    assert.ok(String(result).endsWith(CGROUP_ACCESS_FIX));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a readable root gives the source", async () => {
  for (const tree of ["v1-cgroupfs", "v2-systemd"]) {
    const result = await open(FIXTURES + tree);
    assert.ok(result instanceof CgroupSource, `${tree}: ${result}`);
    assert.equal(result.kind, "cgroup");
    await result.stop();
  }
});

Deno.test("--source and --sample-period: defaults, values, one-line errors", () => {
  const errors: string[] = [];
  const parse = (...args: string[]) =>
    parseFlags(["--node", "n", ...args], {}, { out: () => {}, err: (s) => errors.push(s) });
  const defaults = parse();
  assert.equal(defaults.source, "docker");
  assert.equal(defaults.samplePeriodMs, 1000);
  const c = parse("--source", "cgroup", "--sample-period", "250ms");
  assert.deepEqual([c.source, c.samplePeriodMs], ["cgroup", 250]);
  const cgroup = (period: string) => parse("--source", "cgroup", "--sample-period", period);
  assert.equal(cgroup("2.5s").samplePeriodMs, 2500);
  assert.equal(cgroup("60s").samplePeriodMs, 60_000);
  assert.equal(cgroup("100ms").samplePeriodMs, 100);
  for (const bad of ["99ms", "61s", "1", "1m", "fast", "0s"]) {
    errors.length = 0;
    assert.throws(
      () => parse("--sample-period", bad),
      (e) => e instanceof FlagExit && e.exitCode === 2,
    );
    assert.deepEqual(errors, [
      `error: option '--sample-period <duration>' argument '${bad}' is invalid. Allowed: a ` +
      "duration from 100ms to 60s, such as 100ms, 500ms, 1s, 2.5s, 60s.\n",
    ]);
  }
  errors.length = 0;
  assert.throws(() => parse("--source", "podman"), FlagExit);
  assert.deepEqual(errors, [
    "error: option '--source <kind>' argument 'podman' is invalid. Allowed choices are docker, " +
    "cgroup.\n",
  ]);
});
