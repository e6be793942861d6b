import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { lwwMerge, lwwWinner } from "../../src/model/lww.ts";
import { recordOf } from "../../src/model/encoding.ts";
import type { Point } from "../../src/model/point.ts";
import { pointArb } from "../support/arb.ts";

const versionsArb = fc.array(pointArb({ days: 1, timesPerDay: 2 }), { minLength: 1, maxLength: 6 }).map((ps) => {
  // Same key, different versions: collapse every point onto the first one's key.
  const k = ps[0]!;
  return ps.map((p): Point => ({ ...p, database: k.database, collection: k.collection, id: k.id, timeNs: k.timeNs }));
});

describe("last-write-wins", () => {
  test("higher inserted_at wins regardless of content", () => {
    fc.assert(
      fc.property(versionsArb, (ps) => {
        const encs = ps.map((p) => recordOf(p).enc);
        const w = encs.reduce(lwwWinner);
        const maxIns = ps.reduce((m, p) => (p.insertedAtNs > m ? p.insertedAtNs : m), 0n);
        const winnerIns = new DataView(w.buffer, w.byteOffset + 1, 8).getBigUint64(0);
        expect(winnerIns).toBe(maxIns);
      }),
    );
  });

  test("merge is commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(versionsArb, versionsArb, versionsArb, (a, b, c) => {
        const [x, y, z] = [a, b, c].map((ps) => ps.map((p) => recordOf(p).enc).reduce(lwwWinner));
        expect(lwwWinner(x!, y!)).toEqual(lwwWinner(y!, x!));
        expect(lwwWinner(lwwWinner(x!, y!), z!)).toEqual(lwwWinner(x!, lwwWinner(y!, z!)));
        expect(lwwWinner(x!, x!)).toEqual(x!);
      }),
    );
  });

  test("merging any permutation or duplication of records gives the same result", () => {
    fc.assert(
      fc.property(fc.array(pointArb(), { maxLength: 40 }), fc.integer(), (ps, seed) => {
        const recs = ps.map(recordOf);
        const shuffled = [...recs, ...recs.slice(0, Math.abs(seed) % 5)];
        let s = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        expect(lwwMerge(shuffled)).toEqual(lwwMerge(recs));
      }),
    );
  });
});
