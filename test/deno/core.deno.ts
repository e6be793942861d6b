// The pure core under Deno: canonical encoding, LWW merge, the window checksum over merged sources.
// Same assertions as the bun:test suite's, against the same naive oracle.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodePoint, encodePoint, recordOf } from "../../src/model/encoding.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { hashRecords } from "../../src/engine/engine.ts";
import { mergeSources, type SortedSource } from "../../src/engine/merge.ts";
import { crc32c } from "../../src/base/crc32c.ts";
import { createSha256, nobleHasher, toHex } from "../../src/base/sha256.ts";
import type { PointRecord } from "../../src/model/point.ts";
import { pointArb } from "../support/arb.ts";

function arraySource(records: PointRecord[]): SortedSource {
  const sorted = lwwMerge(records);
  return {
    size: sorted.length,
    key: (i) => sorted[i]!.key,
    enc: (i) => sorted[i]!.enc,
    lowerBound: (k) => {
      const i = sorted.findIndex((r) => r.key >= k);
      return i < 0 ? sorted.length : i;
    },
  };
}

Deno.test("encoding round-trips under Deno", () => {
  fc.assert(
    fc.property(pointArb(), (p) => {
      const enc = encodePoint(p);
      assert.deepEqual(encodePoint(decodePoint(enc)), enc);
    }),
    { numRuns: 300 },
  );
});

Deno.test("merged sources hash like the LWW-union oracle, however the points are split", () => {
  fc.assert(
    fc.property(fc.array(pointArb({ dense: true, days: 1, timesPerDay: 4 }), { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (ps, k) => {
      const recs = ps.map(recordOf);
      const parts: PointRecord[][] = Array.from({ length: k }, () => []);
      recs.forEach((r, i) => parts[i % k]!.push(r));
      const merged = hashRecords(mergeSources(parts.map(arraySource)));
      assert.deepEqual(merged, hashRecords(lwwMerge(recs)));
    }),
    { numRuns: 200 },
  );
});

Deno.test("native and portable SHA-256 agree; CRC-32C matches the standard check value", () => {
  const data = new TextEncoder().encode("123456789");
  assert.equal(crc32c(data), 0xe3069283);
  assert.equal(toHex(createSha256().update(data).digest()), toHex(nobleHasher().update(data).digest()));
});

Deno.test("sketch ids and symbols match the golden vectors (format 1) under Deno", async () => {
  const { goldenSketch, GOLDEN_IDS, GOLDEN_FIRST_SYMBOLS, GOLDEN_SYMBOLS_SHA256 } = await import("../fixtures/riblt-golden.ts");
  const { ids, symbols } = goldenSketch();
  assert.deepEqual(ids.slice(0, 3), GOLDEN_IDS);
  assert.equal(toHex(symbols.subarray(0, 20)), GOLDEN_FIRST_SYMBOLS);
  assert.equal(toHex(createSha256().update(symbols).digest()), GOLDEN_SYMBOLS_SHA256);
});
