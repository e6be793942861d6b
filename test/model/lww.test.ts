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

describe("batch version stamps", () => {
  test("a batch's stamps are consecutive from one clock read, strictly increasing across batches, even when the clock stands still or goes back", async () => {
    const { VersionStamper } = await import("../../src/ports/clock.ts");
    let now = 1_000n;
    const clock = { nowNs: () => now, monotonicMs: () => 0, setTimer: () => ({ cancel() {} }) };
    const s = new VersionStamper(clock);
    const a = s.batch();
    const first = [a(), a(), a()];
    expect(first).toEqual([1_000n, 1_001n, 1_002n]);
    now = 1_001n; // a later batch while the clock has not passed the last stamp
    const b = s.batch();
    expect([b(), b()]).toEqual([1_003n, 1_004n]);
    now = 500n; // the clock stepped back
    expect(s.next()).toBe(1_005n);
    now = 5_000n;
    const c = s.batch();
    expect(c()).toBe(5_000n);
    // Stamps of two interleaved batches never collide.
    const d = s.batch();
    expect(d()).toBe(5_001n);
    expect(c()).toBe(5_002n);
    expect(d()).toBe(5_003n);
  });
});
