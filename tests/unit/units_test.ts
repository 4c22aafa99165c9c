import assert from "node:assert/strict";
import {
  parseCount,
  parsePercent,
  parseSize,
  parseSizePair,
} from "../../src/source/docker_stats/units.ts";

Deno.test("parseSize: every binary memory unit", () => {
  assert.equal(parseSize("0B", "memory"), 0);
  assert.equal(parseSize("512B", "memory"), 512);
  assert.equal(parseSize("536KiB", "memory"), 536 * 1024);
  assert.equal(parseSize("200.8MiB", "memory"), Math.round(200.8 * 1024 ** 2));
  assert.equal(parseSize("23.54GiB", "memory"), Math.round(23.54 * 1024 ** 3));
  assert.equal(parseSize("1.5TiB", "memory"), 1.5 * 1024 ** 4);
  assert.equal(parseSize("2PiB", "memory"), 2 * 1024 ** 5);
  assert.equal(parseSize("1EiB", "memory"), 1024 ** 6);
});

Deno.test("parseSize: every decimal I/O unit, and %g scientific notation", () => {
  assert.equal(parseSize("648B", "io"), 648);
  assert.equal(parseSize("1.2kB", "io"), 1200);
  assert.equal(parseSize("1e+03kB", "io"), 1_000_000);
  assert.equal(parseSize("3.45MB", "io"), 3_450_000);
  assert.equal(parseSize("1e+03MB", "io"), 1e9);
  assert.equal(parseSize("12.3GB", "io"), 12_300_000_000);
  assert.equal(parseSize("4TB", "io"), 4e12);
  assert.equal(parseSize("1.5PB", "io"), 1.5e15);
  assert.equal(parseSize("1.5EB", "io"), 1.5e18);
  assert.equal(parseSize("2.5e-01kB", "io"), 250);
});

Deno.test("parseSize: a unit of the other kind, or unknown, is named in the error", () => {
  assert.throws(() => parseSize("12.3QB", "memory"), {
    name: "SyntaxError",
    message: 'Cannot parse memory size "12.3QB": unknown unit "QB"',
  });
  assert.throws(() => parseSize("1kB", "memory"), /unknown unit "kB"/);
  assert.throws(() => parseSize("1KiB", "io"), /unknown unit "KiB"/);
  assert.throws(() => parseSize("1 MB", "io"), /unknown unit " MB"/);
  assert.throws(() => parseSize("MB", "io"), /bad number/);
  assert.throws(() => parseSize("1.2.3MB", "io"), /bad number/);
  assert.throws(() => parseSize("-5MB", "io"), /bad number/);
  assert.throws(() => parseSize("", "io"), /bad number/);
});

Deno.test("parseSizePair: both sides, separator required", () => {
  assert.deepEqual(parseSizePair("536KiB / 23.54GiB", "memory"), [
    548864,
    Math.round(23.54 * 1024 ** 3),
  ]);
  assert.deepEqual(parseSizePair("1.2kB / 648B", "io"), [1200, 648]);
  assert.throws(() => parseSizePair("1.2kB/648B", "io"), /no " \/ "/);
});

Deno.test("parsePercent: CPU above 100 %, zero, malformed", () => {
  assert.equal(parsePercent("0.00%"), 0);
  assert.equal(parsePercent("51.87%"), 51.87);
  assert.equal(parsePercent("199.99%"), 199.99);
  assert.equal(parsePercent("1600.00%"), 1600);
  assert.throws(() => parsePercent("12.3"), /expected a number and "%"/);
  assert.throws(() => parsePercent("%"), /expected a number/);
  assert.throws(() => parsePercent("ab%"), /bad number/);
  assert.throws(() => parsePercent("--"), SyntaxError);
});

Deno.test("parseCount: PIDs", () => {
  assert.equal(parseCount("0"), 0);
  assert.equal(parseCount("1234"), 1234);
  assert.throws(() => parseCount("1.5"), /whole number/);
  assert.throws(() => parseCount(""), /whole number/);
  assert.throws(() => parseCount("--"), /whole number/);
});
