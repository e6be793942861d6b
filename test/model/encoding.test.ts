import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodePoint, encodePoint, keyOfEncoding, timeOfEncoding, insertedAtOfEncoding } from "../../src/model/encoding.ts";
import { keyParts, pointKey, type Point } from "../../src/model/point.ts";
import { toHex } from "../../src/base/sha256.ts";
import { pointArb } from "../support/arb.ts";

function normalize(p: Point): Point {
  return { ...p, fields: [...p.fields].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) };
}

describe("canonical encoding V1", () => {
  test("round-trips every point (decode ∘ encode = id, encode ∘ decode = id)", () => {
    fc.assert(
      fc.property(pointArb(), (p) => {
        const enc = encodePoint(p);
        const back = decodePoint(enc);
        expect(back).toEqual(normalize(p));
        expect(encodePoint(back)).toEqual(enc);
        expect(keyOfEncoding(enc)).toBe(pointKey(p.database, p.collection, p.id, p.timeNs));
        expect(timeOfEncoding(enc)).toBe(p.timeNs);
        expect(insertedAtOfEncoding(enc)).toBe(p.insertedAtNs);
      }),
      { numRuns: 500 },
    );
  });

  test("field order of the input does not change the bytes", () => {
    fc.assert(
      fc.property(pointArb(), (p) => {
        const reversed = { ...p, fields: [...p.fields].reverse() };
        expect(encodePoint(reversed)).toEqual(encodePoint(p));
      }),
    );
  });

  test("golden bytes (format is frozen: changing them needs a new version)", () => {
    const p: Point = {
      database: "db",
      collection: "c",
      id: "d1",
      timeNs: 1_700_000_000_000_000_000n,
      insertedAtNs: 5n,
      fields: [
        ["t", { kind: "number", value: 1.5 }],
        ["s", { kind: "string", value: "hé" }],
        ["b", { kind: "bool", value: true }],
        ["i", { kind: "int", value: -2n }],
      ],
    };
    expect(toHex(encodePoint(p))).toBe(
      "01" + "0000000000000005" + "17979cfe362a0000" + "026462" + "0163" + "026431" + "04" +
        "0162" + "03" + "01" + "0169" + "04" + "fffffffffffffffe" + "0173" + "02" + "0368c3a9" + "0174" + "01" + "3ff8000000000000",
    );
  });

  test("rejects non-canonical or damaged encodings", () => {
    const p: Point = { database: "db", collection: "c", id: "d", timeNs: 1n, insertedAtNs: 1n, fields: [["a", { kind: "bool", value: true }], ["b", { kind: "int", value: 1n }]] };
    const enc = encodePoint(p);
    expect(() => decodePoint(enc.subarray(0, enc.length - 1))).toThrow(/invalid point encoding/);
    expect(() => decodePoint(new Uint8Array([...enc, 0]))).toThrow(/trailing/);
    const badVersion = enc.slice();
    badVersion[0] = 2;
    expect(() => decodePoint(badVersion)).toThrow(/version/);
    // swap field names a <-> b so names are no longer increasing
    const swapped = encodePoint({ ...p, fields: [["a", { kind: "int", value: 1n }], ["b", { kind: "bool", value: true }]] });
    const text = toHex(swapped).replace("016104", "016204").replace("016203", "016103");
    const unordered = Uint8Array.from(text.match(/../g)!.map((h) => parseInt(h, 16)));
    expect(() => decodePoint(unordered)).toThrow(/increasing/);
  });

  test("key order is (database, collection, id, time) and keys parse back", () => {
    fc.assert(
      fc.property(pointArb(), pointArb(), (a, b) => {
        const ka = pointKey(a.database, a.collection, a.id, a.timeNs);
        const kb = pointKey(b.database, b.collection, b.id, b.timeNs);
        const tuple = (p: Point) => [p.database, p.collection, p.id] as const;
        const [da, ca, ia] = tuple(a);
        const [db, cb, ib] = tuple(b);
        const expected = da !== db ? (da < db ? -1 : 1) : ca !== cb ? (ca < cb ? -1 : 1) : ia !== ib ? (ia < ib ? -1 : 1) : a.timeNs === b.timeNs ? 0 : a.timeNs < b.timeNs ? -1 : 1;
        expect(Math.sign(ka < kb ? -1 : ka > kb ? 1 : 0)).toBe(expected);
        expect(keyParts(ka)).toEqual({ database: a.database, collection: a.collection, id: a.id, timeNs: a.timeNs });
      }),
      { numRuns: 500 },
    );
  });
});
