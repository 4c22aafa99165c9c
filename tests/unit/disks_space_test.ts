/**
 * computeSpace: df's size, avail and Use% from statfs numbers (coreutils src/df.c).
 */
import assert from "node:assert/strict";
import { computeSpace } from "../../src/disks/space.ts";

/** df's Use%: ceil(used * 100 / (used + avail)) in integers (src/df.c). */
function dfPercent(blocks: bigint, bfree: bigint, bavail: bigint): bigint {
  const used = blocks - bfree;
  const u100 = used * 100n;
  const total = used + bavail;
  return u100 / total + (u100 % total !== 0n ? 1n : 0n);
}

Deno.test("computeSpace: ext4 with reserved blocks, as `stat -f /` showed on the build host", () => {
  const s = { bsize: 4096n, frsize: 4096n, blocks: 66053021n, bfree: 62926643n, bavail: 20748938n };
  const r = computeSpace(s);
  assert.equal(r.totalSpace, 66053021 * 4096);
  assert.equal(r.availableSpace, 20748938 * 4096);
  const used = 66053021 - 62926643;
  assert.equal(r.percentageUse, (used * 100) / (used + 20748938));
  assert.equal(BigInt(Math.ceil(r.percentageUse)), dfPercent(s.blocks, s.bfree, s.bavail)); // 14
});

Deno.test("computeSpace: the unrounded value is what df rounds up", () => {
  for (
    const [blocks, bfree, bavail] of [
      [1000n, 900n, 900n], // 10% exactly: df 10
      [1000n, 899n, 899n], // 10.1%: df 11
      [1000n, 0n, 0n], // full: 100
      [16384n, 13824n, 13824n], // 64 MiB tmpfs with 10 MiB used: 15.625 -> 16
    ] as const
  ) {
    const p = computeSpace({ bsize: 4096n, blocks, bfree, bavail }).percentageUse;
    assert.equal(BigInt(Math.ceil(p)), dfPercent(blocks, bfree, bavail), `${blocks}/${bfree}`);
  }
});

Deno.test("computeSpace: frsize is the unit when reported, else bsize", () => {
  const base = { blocks: 10n, bfree: 5n, bavail: 5n };
  assert.equal(computeSpace({ ...base, bsize: 4096n }).totalSpace, 40960);
  assert.equal(computeSpace({ ...base, bsize: 131072n, frsize: 4096n }).totalSpace, 40960);
  assert.equal(computeSpace({ ...base, bsize: 4096n, frsize: 0n }).totalSpace, 40960);
});

Deno.test("computeSpace: empty filesystem and impossible values give 0 %, never NaN", () => {
  assert.equal(
    computeSpace({ bsize: 4096n, blocks: 0n, bfree: 0n, bavail: 0n }).percentageUse,
    0,
  );
  const odd = computeSpace({ bsize: 512n, blocks: 10n, bfree: 20n, bavail: 5n });
  assert.equal(odd.percentageUse, 0);
  assert.equal(odd.availableSpace, 2560);
});
