/**
 * The filters (src/catalog/filters.ts): name globs and label conditions; exclude wins.
 */
import assert from "node:assert/strict";
import {
  ContainerFilter,
  type FilterOptions,
  parseLabelMatch,
  validateGlob,
} from "../../src/catalog/filters.ts";

const none: FilterOptions = { include: [], exclude: [], includeLabels: [], excludeLabels: [] };
const shop = { "com.docker.compose.project": "shop", "com.docker.compose.service": "web" };

Deno.test("no filter: every container passes", () => {
  const f = new ContainerFilter(none);
  assert.equal(f.active, false);
  assert.ok(f.passes("anything", {}));
});

Deno.test("name globs match the whole name: *, ?, [..], {a,b}", () => {
  const f = new ContainerFilter({ ...none, include: ["web-*", "db-?", "cache-[0-9]", "{a,b}x"] });
  const pass = ["web-1", "web-", "db-1", "cache-7", "ax", "bx"];
  const fail = ["xweb-1", "db-12", "cache-a", "cx", "web"];
  for (const n of pass) assert.ok(f.passes(n, {}), n);
  for (const n of fail) assert.ok(!f.passes(n, {}), n);
  assert.ok(new ContainerFilter({ ...none, include: ["*"] }).passes(".hidden", {}));
});

Deno.test("label conditions: KEY exists, KEY=VALUE equals; include and exclude", () => {
  const f = new ContainerFilter({
    ...none,
    includeLabels: [parseLabelMatch("com.docker.compose.project")],
  });
  assert.ok(f.passes("a", shop));
  assert.ok(!f.passes("a", {}));
  const v = new ContainerFilter({
    ...none,
    includeLabels: [parseLabelMatch("com.docker.compose.service=db")],
  });
  assert.ok(!v.passes("a", shop));
  const x = new ContainerFilter({
    ...none,
    excludeLabels: [parseLabelMatch("com.docker.compose.service=web")],
  });
  assert.ok(!x.passes("a", shop));
  assert.ok(x.passes("a", {}));
  assert.deepEqual(parseLabelMatch("k=a=b"), { key: "k", value: "a=b" });
  assert.deepEqual(parseLabelMatch("k="), { key: "k", value: "" });
  assert.throws(() => parseLabelMatch("=v"), RangeError);
});

Deno.test("exclude wins over include; names and labels combine", () => {
  const f = new ContainerFilter({
    include: ["web-*"],
    exclude: ["web-tmp*"],
    includeLabels: [{ key: "com.docker.compose.project", value: "shop" }],
    excludeLabels: [{ key: "ci" }],
  });
  assert.ok(f.passes("web-1", shop));
  assert.ok(!f.passes("web-tmp1", shop), "excluded by name");
  assert.ok(!f.passes("web-1", { ...shop, ci: "" }), "excluded by label");
  assert.ok(!f.passes("web-1", {}), "lacks the included label");
  assert.ok(!f.passes("db-1", shop), "name not included");
});

Deno.test("globs: empty is refused", () => {
  assert.equal(validateGlob("web-*"), "web-*");
  assert.throws(() => validateGlob(""), RangeError);
});
