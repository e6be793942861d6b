// Segment files: version 2 (columnar per series) decodes to exactly the canonical encodings it was
// written from — byte for byte, in key order, with the same flat SHA-256 — for any points (field sets
// that vary per point, a field whose type changes, huge and tiny versions and ints, NaN bit patterns,
// unicode); version 1 files of earlier data dirs still read; any flipped bit is data_loss; golden
// bytes pin the format; and regular series compress far below their canonical size.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeSegment, decodeSegmentHeader, encodeSegment, encodeSegmentV1 } from "../../src/segment/format.ts";
import { encodePoint } from "../../src/model/encoding.ts";
import { pointKey, type FieldValue, type Point, type PointRecord } from "../../src/model/point.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { createSha256, toHex } from "../../src/base/sha256.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { SoltixError } from "../../src/base/errors.ts";
import { fieldValueArb } from "../support/arb.ts";

const WS = 20_100n * NS_PER_DAY;

const rec = (p: Point): PointRecord => ({ key: pointKey(p.database, p.collection, p.id, p.timeNs), enc: encodePoint(p) });

function sorted(points: Point[]): PointRecord[] {
  return lwwMerge(points.map(rec));
}

const concat = (rs: readonly PointRecord[]) => {
  const n = rs.reduce((s, r) => s + r.enc.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const r of rs) {
    out.set(r.enc, at);
    at += r.enc.length;
  }
  return out;
};

const nanBits = fc.tuple(fc.integer({ min: 0x7ff00001, max: 0x7fffffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([hi, lo]) => {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, hi);
  v.setUint32(4, lo);
  return v.getFloat64(0);
});

const valueArb: fc.Arbitrary<FieldValue> = fc.oneof(
  fieldValueArb,
  fc.constantFrom(0, -0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 1e-300).map((value) => ({ kind: "number" as const, value })),
  nanBits.map((value) => ({ kind: "number" as const, value })),
  fc.double({ min: 20, max: 21, noNaN: true }).map((value) => ({ kind: "number" as const, value })),
  fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n).map((value) => ({ kind: "int" as const, value })),
);

const pointArb = fc.record({
  id: fc.constantFrom("a", "b", "dev-ü", "🚀", "0"),
  coll: fc.constantFrom("m", "cpu"),
  slot: fc.nat(86_399_999),
  insertedAtNs: fc.oneof(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), fc.constant(1_733_000_000_000_000_000n)),
  fields: fc.uniqueArray(fc.tuple(fc.constantFrom("a", "b", "temp", "ζ", "x1", "é"), valueArb), { maxLength: 5, selector: (t) => t[0] }),
}).map((r): Point => ({ database: "db", collection: r.coll, id: r.id, timeNs: WS + BigInt(r.slot) * 1_000_000n, insertedAtNs: r.insertedAtNs, fields: r.fields }));

describe("segment format", () => {
  test("version 2 decodes to exactly the canonical encodings, in key order, with the flat SHA-256 (property)", () => {
    fc.assert(
      fc.property(fc.array(pointArb, { minLength: 1, maxLength: 200 }), fc.nat(3), (points, group) => {
        const records = sorted(points);
        const file = encodeSegment(group, WS, records);
        const view = decodeSegment(file, "prop");
        const want = concat(records);
        expect(view.count).toBe(records.length);
        expect(Buffer.from(view.data).equals(Buffer.from(want))).toBe(true);
        for (let i = 0; i < records.length; i++) expect(Buffer.from(view.enc(i)).equals(Buffer.from(records[i]!.enc))).toBe(true);
        expect(view.keys()).toEqual(records.map((r) => r.key));
        expect(view.sha256Hex).toBe(toHex(createSha256().update(want).digest()));
        const h = decodeSegmentHeader(file, "prop");
        expect(h.group).toBe(group);
        expect(h.count).toBe(records.length);
      }),
      { numRuns: 300 },
    );
  });

  test("version 1 files (earlier data dirs) decode to the same view", () => {
    fc.assert(
      fc.property(fc.array(pointArb, { minLength: 0, maxLength: 50 }), (points) => {
        const records = sorted(points);
        const v1 = decodeSegment(encodeSegmentV1(2, WS, records), "v1");
        const v2 = decodeSegment(encodeSegment(2, WS, records), "v2");
        expect(Buffer.from(v1.data).equals(Buffer.from(v2.data))).toBe(true);
        expect(v1.sha256Hex).toBe(v2.sha256Hex);
        expect(v1.keys()).toEqual(v2.keys());
      }),
      { numRuns: 100 },
    );
  });

  test("any flipped bit or truncation of a version 2 file is data_loss, never wrong data", () => {
    const records = sorted(Array.from({ length: 300 }, (_, i) => ({
      database: "db", collection: "m", id: `d${i % 4}`, timeNs: WS + BigInt(i) * NS_PER_SECOND, insertedAtNs: 100n + BigInt(i),
      fields: [["s", { kind: "string", value: `v${i % 7}` }], ["t", { kind: "number", value: 20 + (i % 10) / 10 }]] as Array<readonly [string, FieldValue]>,
    })));
    const file = encodeSegment(1, WS, records);
    fc.assert(
      fc.property(fc.nat(file.length * 8 - 1), (bit) => {
        const bad = file.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        let err: unknown;
        try {
          decodeSegment(bad, "flip");
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(SoltixError);
        expect((err as SoltixError).kind).toBe("data_loss");
      }),
      { numRuns: 400 },
    );
    for (const cut of [1, 7, 48, file.length - 41, file.length - 1]) expect(() => decodeSegment(file.subarray(0, cut), "cut")).toThrow(SoltixError);
  });

  test("golden: a fixed window (format version 2)", () => {
    const points: Point[] = [
      { database: "demo", collection: "sensors", id: "dev-1", timeNs: 1732406400000000000n, insertedAtNs: 1732406400500000000n, fields: [["ok", { kind: "bool", value: true }], ["temp", { kind: "number", value: 21.5 }]] },
      { database: "demo", collection: "sensors", id: "dev-1", timeNs: 1732406460000000000n, insertedAtNs: 1732406460500000000n, fields: [["ok", { kind: "bool", value: true }], ["temp", { kind: "number", value: 21.7 }]] },
      { database: "demo", collection: "sensors", id: "dev-1", timeNs: 1732406520250000000n, insertedAtNs: 1732406520600000000n, fields: [["note", { kind: "string", value: "door open" }], ["temp", { kind: "number", value: 22.1 }]] },
      { database: "demo", collection: "sensors", id: "dev-2", timeNs: 1732406400000000000n, insertedAtNs: 1732406400500000001n, fields: [["count", { kind: "int", value: 42n }]] },
    ];
    const file = encodeSegment(132, 1732406400000000000n, sorted(points));
    expect(Buffer.from(file).toString("hex")).toBe(GOLDEN_V2);
    expect(decodeSegment(file, "golden").count).toBe(4);
  });

  test("decimal random walks (scaled-integer columns, varint or bit-packed) decode byte for byte", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: -2000, max: 2000 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        (k, steps, start) => {
          let m = start;
          const points: Point[] = steps.map((step, i) => {
            m += step;
            return { database: "db", collection: "m", id: "walk", timeNs: WS + BigInt(i) * NS_PER_SECOND, insertedAtNs: 7n, fields: [["v", { kind: "number" as const, value: m / 10 ** k }]] };
          });
          const records = sorted(points);
          const file = encodeSegment(0, WS, records);
          expect(Buffer.from(decodeSegment(file, "walk").data).equals(Buffer.from(concat(records)))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("golden: a decimal random walk, bit-packed (format version 2, number stream kind 2)", () => {
    const walk = [215, 214, 216, 219, 218, 218, 221, 224, 223, 220, 219, 222, 225, 226, 224, 221];
    const points: Point[] = walk.map((m, i) => ({ database: "demo", collection: "sensors", id: "dev-1", timeNs: 1732406400000000000n + BigInt(i) * 1_000_000_000n, insertedAtNs: 1732406400500000000n, fields: [["temp", { kind: "number" as const, value: m / 10 }]] }));
    const file = encodeSegment(132, 1732406400000000000n, sorted(points));
    expect(Buffer.from(file).toString("hex")).toBe(GOLDEN_V2_PACKED);
    expect(Buffer.from(decodeSegment(file, "golden").data).equals(Buffer.from(concat(sorted(points))))).toBe(true);
  });

  test("a regular series compresses far below its canonical size", () => {
    const points: Point[] = [];
    for (let d = 0; d < 10; d++) {
      for (let s = 0; s < 3600; s++) {
        const fields: Array<readonly [string, FieldValue]> = [];
        for (let f = 0; f < 10; f++) fields.push([`f${f}`, { kind: "number", value: Math.round((20 + Math.sin((s + d * 7 + f) / 300) * 5) * 100) / 100 }]);
        points.push({ database: "bench", collection: "metrics", id: `device-${d}`, timeNs: WS + BigInt(s) * NS_PER_SECOND, insertedAtNs: 1_733_000_000_000_000_000n + BigInt(s) * 1_000_123n + BigInt(d), fields });
      }
    }
    const records = sorted(points);
    const canonical = concat(records).length;
    const file = encodeSegment(0, WS, records);
    const perPoint = file.length / records.length;
    console.error(`segment v2: ${perPoint.toFixed(1)} B/point vs ${(canonical / records.length).toFixed(1)} B/point canonical (10 float fields, 1 Hz)`);
    expect(perPoint).toBeLessThan(canonical / records.length / 3);
    expect(Buffer.from(decodeSegment(file, "bench").data).equals(Buffer.from(concat(records)))).toBe(true);
  });
});

const GOLDEN_V2 =
  "53585345473030320000008400000004180abe712e9d0000180abe712e9d0000180abe8d2e126280000000a318d1b73f000000020000005e54db7f880464656d6f0773656e736f7273056465762d31030080b09dc2df0180cab5ee0102180abe714c6a650080e0ba84bf038084af5f03046e6f74650220020a09646f6f72206f70656e026f6b02c00301c00474656d70030107010100ae0304080000003156dd366d0464656d6f0773656e736f7273056465762d32010000180abe714c6a65010105636f756e7403040900000000000000002afb0be2a921eb121582ac78f16af8a5907d331a325574404545e7f40f8a16798df1aadf3853585346";

const GOLDEN_V2_PACKED =
  "53585345473030320000008400000010180abe712e9d0000180abe712e9d0000180abe74acaed6000000006198e0ef550000000100000055aa2617ef0464656d6f0773656e736f7273056465762d3110008094ebdc03000000000000000000000000000000180abe714c6a6500000000000000000000000000000000010474656d7003010c020100ae03033311b1a764e8cdb6ace5e1c50a086bd8d578aa47802c6e721519aa13896446abaec0b9ea936727dc0a0653585346";
