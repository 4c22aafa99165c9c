/**
 * Deno's permissions and the disk collector: reading /proc, /sys and /dev needs every
 * permission whatever --allow-read says (since Deno 1.43, GHSA-23rx-c3g5-hv9w). The daemon is
 * run with --allow-all (deno task start, the compile tasks, run.sh, the units); started by hand
 * with less, each disk is skipped with one warning that carries Deno's own refusal, which names
 * --allow-all, and never again per interval.
 *
 * Each test narrows its permissions (the `permissions` option), so the outcome is the same
 * whether the suite runs with the project's flags or with -A. The host itself is read in
 * tests/integration/deploy_test.ts and disks_host_test.ts.
 */
import assert from "node:assert/strict";
import { DiskCollector } from "../../src/disks/collector.ts";

/** Files and statfs only: never every permission. */
const NARROW: Deno.PermissionOptionsObject = {
  read: true,
  sys: ["statfs"],
  write: false,
  run: false,
  env: false,
  net: false,
  ffi: false,
  import: false,
};

Deno.test({
  name:
    "host root / without --allow-all: one warning per disk naming --allow-all, not per interval",
  permissions: NARROW,
  fn: async () => {
    const warnings: string[] = [];
    const c = new DiskCollector(["/", "vda"], { onWarning: (m) => warnings.push(m) });
    for (let i = 0; i < 3; i++) assert.deepEqual(await c.collect(), []);
    const refusal = /Requires all access to "\/proc\/[^"]+", run again with the --allow-all flag/;
    assert.ok(warnings.some((w) => w.startsWith("cannot read /proc/diskstats: ")), warnings[0]);
    const disks = warnings.filter((w) => w.startsWith("disk "));
    assert.deepEqual(disks.map((w) => w.slice(0, w.indexOf(":"))), ['disk "/"', 'disk "vda"']);
    for (const w of warnings) assert.match(w, refusal);
    assert.equal(warnings.length, 3, warnings.join("\n"));
  },
});
