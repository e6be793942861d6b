import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DEFAULT_COMPACTION, pickCompaction, tierOf, type CompactionSettings, type SegmentStat } from "../../src/engine/compaction-policy.ts";

/** Runs the policy over a sequence of flushes into one window; returns files and points rewritten. */
function simulate(flushPoints: readonly number[], s: CompactionSettings): { filesMax: number; rewritten: number; total: number; final: number } {
  let segs: SegmentStat[] = [];
  let seq = 0;
  let rewritten = 0;
  let filesMax = 0;
  let total = 0;
  for (const n of flushPoints) {
    segs.push({ seq: ++seq, points: n });
    total += n;
    for (;;) {
      const pick = pickCompaction(segs, false, s);
      if (pick === undefined) break;
      expect(pick.length).toBeGreaterThanOrEqual(2);
      const merged = segs.filter((x) => pick.includes(x.seq));
      expect(merged.length).toBe(pick.length);
      const points = merged.reduce((a, x) => a + x.points, 0);
      rewritten += points;
      segs = [...segs.filter((x) => !pick.includes(x.seq)), { seq: ++seq, points }];
    }
    filesMax = Math.max(filesMax, segs.length);
  }
  // No point is lost or duplicated by the bookkeeping (the engine's merge keeps LWW by version).
  expect(segs.reduce((a, x) => a + x.points, 0)).toBe(total);
  return { filesMax, rewritten, total, final: segs.length };
}

describe("compaction policy", () => {
  test("tiers: tier k holds [base·ratio^k, base·ratio^(k+1)) points", () => {
    const s = DEFAULT_COMPACTION;
    expect(tierOf(0, s)).toBe(0);
    expect(tierOf(s.tierBasePoints * s.ratio - 1, s)).toBe(0);
    expect(tierOf(s.tierBasePoints * s.ratio, s)).toBe(1);
    expect(tierOf(s.tierBasePoints * s.ratio ** 3, s)).toBe(3);
  });

  test("a day of flushes: files per window bounded, each point rewritten about once per tier (not once per flush)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 400 }),
        fc.constantFrom<CompactionSettings>(DEFAULT_COMPACTION, { ratio: 2, tierBasePoints: 100, segmentsMax: 6 }, { ratio: 8, tierBasePoints: 1000, segmentsMax: 40 }),
        (flushes, s) => {
          const r = simulate(flushes, s);
          expect(r.filesMax).toBeLessThanOrEqual(s.segmentsMax);
          // A point climbs a tier with every merge above tier 0, so it is rewritten at most once per tier
          // (plus the cap's smallest-first merges); merges that stay in tier 0 rewrite < ratio² · base each.
          const tiers = Math.ceil(Math.log(Math.max(r.total / s.tierBasePoints, 1)) / Math.log(s.ratio)) + 2;
          const tier0 = (flushes.length / (s.ratio - 1)) * s.ratio * s.ratio * s.tierBasePoints;
          expect(r.rewritten).toBeLessThanOrEqual(r.total * tiers + tier0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a steady day: 345 flushes of 1 000 points rewrite each point ≤ 4 times; the old whole-window rule ~43 times", () => {
    const flushes = new Array<number>(345).fill(1000);
    const tiered = simulate(flushes, DEFAULT_COMPACTION);
    // The rule before: more than 4 segments → merge the whole window.
    const whole = simulate(flushes, { ratio: 5, tierBasePoints: Number.MAX_SAFE_INTEGER, segmentsMax: 4 });
    expect(tiered.rewritten / tiered.total).toBeLessThanOrEqual(4);
    expect(whole.rewritten / whole.total).toBeGreaterThan(40);
    expect(tiered.filesMax).toBeLessThanOrEqual(DEFAULT_COMPACTION.segmentsMax);
  });

  test("a quiet window is merged whole; one segment is left alone", () => {
    const segs = [{ seq: 1, points: 10 }, { seq: 2, points: 1_000_000 }, { seq: 3, points: 5 }];
    expect(pickCompaction(segs, true, DEFAULT_COMPACTION)).toEqual([1, 2, 3]);
    expect(pickCompaction(segs, false, DEFAULT_COMPACTION)).toBeUndefined();
    expect(pickCompaction([{ seq: 1, points: 10 }], true, DEFAULT_COMPACTION)).toBeUndefined();
  });
});
