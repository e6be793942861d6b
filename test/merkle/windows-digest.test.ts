// The digest of a group's windows against a naive oracle: two lists of window roots have equal
// digests exactly when they hold the same non-empty windows with the same roots (order and empty
// windows do not matter), and the input layout is fixed by golden bytes.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { windowsDigest, type WindowRootEntry } from "../../src/merkle/windows-digest.ts";
import { sha256, toHex } from "../../src/base/sha256.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const entry = fc.record({
  day: fc.integer({ min: 0, max: 6 }),
  digestByte: fc.integer({ min: 0, max: 2 }),
  count: fc.integer({ min: 0, max: 2 }),
});
const toEntries = (xs: { day: number; digestByte: number; count: number }[]): WindowRootEntry[] => {
  const byDay = new Map<number, WindowRootEntry>();
  for (const x of xs) byDay.set(x.day, { windowStart: BigInt(x.day) * NS_PER_DAY, root: { digest: new Uint8Array(32).fill(x.digestByte), count: x.count, leaf: true } });
  return [...byDay.values()];
};
const oracle = (es: WindowRootEntry[]) =>
  es.filter((e) => e.root.count > 0).map((e) => `${e.windowStart}:${toHex(e.root.digest)}:${e.root.count}`).sort().join(",");

describe("windows digest", () => {
  test("equal exactly when the non-empty windows and their roots are equal (property, vs a naive oracle)", () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), fc.array(entry, { maxLength: 6 }), (xa, xb) => {
        const a = toEntries(xa);
        const b = toEntries(xb);
        expect(toHex(windowsDigest(a)) === toHex(windowsDigest(b))).toBe(oracle(a) === oracle(b));
        expect(toHex(windowsDigest([...a].reverse()))).toBe(toHex(windowsDigest(a)));
      }),
      { numRuns: 2000 },
    );
  });

  test("golden: i64 BE start ‖ 32 B digest ‖ u64 BE count per non-empty window, ascending", () => {
    const d = new Uint8Array(32).fill(0xab);
    const got = windowsDigest([
      { windowStart: 2n * NS_PER_DAY, root: { digest: d, count: 3, leaf: false } },
      { windowStart: NS_PER_DAY, root: { digest: d, count: 0, leaf: true } },
      { windowStart: 0n, root: { digest: d, count: 1, leaf: true } },
    ]);
    const input = new Uint8Array(96);
    const v = new DataView(input.buffer);
    v.setBigInt64(0, 0n);
    input.set(d, 8);
    v.setBigUint64(40, 1n);
    v.setBigInt64(48, 2n * NS_PER_DAY);
    input.set(d, 56);
    v.setBigUint64(88, 3n);
    expect(toHex(got)).toBe(toHex(sha256(input)));
    expect(toHex(windowsDigest([]))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});
