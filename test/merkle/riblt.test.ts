// The rateless IBLT (src/merkle/riblt.ts) against a naive set difference: whenever a prefix decodes,
// the ids are exactly the symmetric difference, split by side; a prefix long enough always decodes;
// symbols survive the wire; the mapping's density is the paper's; golden vectors hold the format.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Sketch, checkOf, decodeSymbols, encodeSymbols, forEachIndex, itemIdOf, peel, sketchOfIds } from "../../src/merkle/riblt.ts";
import { sha256, toHex } from "../../src/base/sha256.ts";
import { GOLDEN_FIRST_SYMBOLS, GOLDEN_IDS, GOLDEN_SYMBOLS_SHA256, goldenSketch } from "../fixtures/riblt-golden.ts";

type Id = [number, number];
const idKey = ([h, l]: Id) => `${h}:${l}`;
const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** 48-bit ids: a u16 and a u32. */
const idArb = fc.tuple(fc.integer({ min: 0, max: 0xffff }), u32);

function sketchOf(ids: readonly Id[], length: number): Sketch {
  const s = new Sketch(length);
  for (const [h, l] of ids) s.add(h, l);
  return s;
}

describe("rateless IBLT", () => {
  test("a decoded prefix is exactly the symmetric difference (naive oracle); long prefixes always decode", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idArb, { selector: idKey, maxLength: 400 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 200 }),
        (ids, onlyA, onlyB, length) => {
          const a = ids.slice(0, Math.max(0, ids.length - onlyB));
          const b = [...ids.slice(0, Math.max(0, ids.length - onlyA - onlyB)), ...ids.slice(Math.max(0, ids.length - onlyB))];
          const setA = new Set(a.map(idKey));
          const setB = new Set(b.map(idKey));
          const wantA = a.filter((x) => !setB.has(idKey(x))).map(idKey).sort();
          const wantB = b.filter((x) => !setA.has(idKey(x))).map(idKey).sort();
          const d = wantA.length + wantB.length;
          const r = peel(sketchOf(a, length).minus(sketchOf(b, length)));
          if (r.ok) {
            expect(r.onlyA.map(idKey).sort()).toEqual(wantA);
            expect(r.onlyB.map(idKey).sort()).toEqual(wantB);
          } else {
            expect(d).toBeGreaterThan(0);
          }
          // Every peeled id, decoded or not, is in the difference on its side.
          for (const x of r.onlyA) expect(wantA).toContain(idKey(x));
          for (const x of r.onlyB) expect(wantB).toContain(idKey(x));
          // Well past the paper's 1.35–2 symbols per item, the prefix decodes.
          if (d === 0 || length >= 4 * d + 40) expect(r.ok).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  test("the symbols needed per difference are the paper's (≈1.4–1.7 per item at the median)", () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) ^ (seed >>> 7);
    for (const d of [10, 100, 1000]) {
      const needs: number[] = [];
      for (let t = 0; t < (d === 1000 ? 5 : 40); t++) {
        const s = new Sketch(d * 3 + 40);
        for (let k = 0; k < d; k++) s.apply(rnd() >>> 0, rnd() >>> 0, k % 2 === 0 ? 1 : -1);
        let lo = 1;
        let hi = s.length;
        while (lo < hi) {
          const m = (lo + hi) >> 1;
          if (peel(s.prefix(m)).ok) hi = m;
          else lo = m + 1;
        }
        needs.push(lo);
      }
      needs.sort((x, y) => x - y);
      const perItem = needs[needs.length >> 1]! / d;
      expect(perItem).toBeGreaterThan(1.2);
      expect(perItem).toBeLessThan(2.0);
    }
  });

  test("the mapping: symbol 0 always, increasing indices, density ≈ 1/(1 + i/2)", () => {
    const hits = new Float64Array(64);
    const n = 20_000;
    const ids = new Uint32Array(2);
    for (let k = 0; k < n; k++) {
      itemIdOf(new Uint8Array([k & 0xff, k >> 8, 3, 4, 5]), 0, 5, ids, 0);
      let prev = -1;
      forEachIndex(ids[0]!, ids[1]!, 64, (i) => {
        expect(i).toBeGreaterThan(prev);
        prev = i;
        hits[i]!++;
      });
    }
    expect(hits[0]).toBe(n);
    for (const i of [1, 4, 16, 40]) {
      const p = hits[i]! / n;
      const want = 1 / (1 + i / 2);
      expect(Math.abs(p - want)).toBeLessThan(0.25 * want);
    }
  });

  test("symbols survive the wire (counts mod 256); bad lengths and too many symbols are refused", () => {
    fc.assert(
      fc.property(fc.array(idArb, { maxLength: 300 }), fc.integer({ min: 1, max: 80 }), (ids, length) => {
        const s = sketchOf(ids, length);
        const back = decodeSymbols(encodeSymbols(s), "sketch", 1000);
        expect(encodeSymbols(back)).toEqual(encodeSymbols(s));
        // A decode of the wire form of a difference gives what the in-memory one gives.
        const other = sketchOf(ids.slice(0, ids.length >> 1), length);
        const a = peel(back.minus(other));
        const b = peel(s.minus(other));
        expect(a.ok).toBe(b.ok);
        expect(a.onlyA.map(idKey).sort()).toEqual(b.onlyA.map(idKey).sort());
      }),
      { numRuns: 200 },
    );
    expect(() => decodeSymbols(new Uint8Array(14), "mine[0].sketch", 10)).toThrow("mine[0].sketch: 14 bytes is not a whole number of 10-byte symbols");
    expect(() => decodeSymbols(new Uint8Array(10 * 11), "mine[0].sketch", 10)).toThrow("11 symbols, limit 10");
  });

  test("a false purity does not decode: random symbols never report success", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 * 40 }), (bytes) => {
        const whole = bytes.subarray(0, bytes.length - (bytes.length % 10));
        const s = decodeSymbols(whole, "x", 100);
        if (s.isZero()) return;
        expect(peel(s).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  test("sketchOfIds is adding each id; removing an id undoes adding it", () => {
    const hi = new Uint32Array([1, 2, 3, 0xffffffff]);
    const lo = new Uint32Array([5, 6, 7, 0]);
    const s = sketchOfIds(hi, lo, 4, 32);
    const t = new Sketch(32);
    for (let i = 0; i < 4; i++) t.add(hi[i]!, lo[i]!);
    expect(encodeSymbols(s)).toEqual(encodeSymbols(t));
    for (let i = 0; i < 4; i++) t.remove(hi[i]!, lo[i]!);
    expect(t.isZero()).toBe(true);
    expect(checkOf(1, 5)).not.toBe(checkOf(5, 1));
  });

  test("golden: ids and symbols of fixed items (format 1)", () => {
    const { ids, symbols } = goldenSketch();
    expect(ids.slice(0, 3)).toEqual(GOLDEN_IDS);
    expect(new Set(ids).size).toBe(100);
    expect(toHex(symbols.subarray(0, 20))).toBe(GOLDEN_FIRST_SYMBOLS);
    expect(toHex(sha256(symbols))).toBe(GOLDEN_SYMBOLS_SHA256);
  });
});
