import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { pointArb } from "../support/arb.ts";
import { engineChecksums, openEngine, oracleChecksums, stored, tempDir } from "../support/engine.ts";
import type { Engine, StoredPoint } from "../../src/engine/engine.ts";
import { WindowTree } from "../../src/merkle/tree.ts";
import { DEFAULT_SHAPE, type TreeShape } from "../../src/merkle/shape.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { timeOfEncoding } from "../../src/model/encoding.ts";
import { windowStartNs } from "../../src/base/time.ts";

/** Tiny tiers, so flushes merge some segments of a window (not all) as well as whole windows. */
const SMALL_TIERS = { ratio: 2, tierBasePoints: 4, segmentsMax: 3 };

/** A schedule: how the same points are delivered (order, batch split) and what happens between. */
const scheduleArb = fc.record({
  // Dense keys (few devices, few slots) so most keys are written several times and LWW decides.
  points: fc.oneof(
    fc.array(pointArb({ dense: true, days: 2, timesPerDay: 4 }), { minLength: 1, maxLength: 120 }),
    fc.array(pointArb(), { minLength: 1, maxLength: 120 }),
  ),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  batchMax: fc.integer({ min: 1, max: 40 }),
  actions: fc.array(fc.constantFrom("none", "flush", "compact", "restart"), { minLength: 1, maxLength: 6 }),
});

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("window checksum", () => {
  test("equals the LWW-union oracle whatever the write order, batch split, flush, compaction or restart", async () => {
    await fc.assert(
      fc.asyncProperty(scheduleArb, async ({ points, seed, batchMax, actions }) => {
        const all = stored(points);
        const expected = oracleChecksums(all);
        const { dir, cleanup } = tempDir("inv");
        try {
          let engine = await openEngine(dir, { compaction: SMALL_TIERS });
          const order = shuffle(all, seed);
          const batches: StoredPoint[][] = [];
          for (let i = 0; i < order.length; i += batchMax) batches.push(order.slice(i, i + batchMax));
          for (let b = 0; b < batches.length; b++) {
            await engine.write(batches[b]!);
            const action = actions[b % actions.length];
            if (action === "flush") await engine.flush();
            else if (action === "compact") {
              await engine.flush();
              await engine.compactAll();
            } else if (action === "restart") {
              await engine.close();
              engine = await openEngine(dir, { compaction: SMALL_TIERS });
            }
          }
          expect(await engineChecksums(engine, expected.keys())).toEqual(expected);
          await engine.close();
          // And once more after a restart with everything recovered from WAL + segments.
          const reopened = await openEngine(dir);
          expect(await engineChecksums(reopened, expected.keys())).toEqual(expected);
          await reopened.flush();
          await reopened.compactAll();
          expect(await engineChecksums(reopened, expected.keys())).toEqual(expected);
          await reopened.close();
        } finally {
          cleanup();
        }
      }),
      { numRuns: 40 },
    );
  });

  test("the cached window tree follows every write (late writes staged on it) and equals a fresh tree of the LWW union", async () => {
    const small: TreeShape = { fanout: 4, depthMax: 8, leafPointsMax: 2, seriesBits: 2 };
    const rootsOf = async (engine: Engine, written: StoredPoint[], shape: TreeShape) => {
      const byWindow = new Map<string, StoredPoint[]>();
      for (const p of written) {
        const id = `${p.group}:${windowStartNs(timeOfEncoding(p.enc))}`;
        byWindow.set(id, [...(byWindow.get(id) ?? []), p]);
      }
      for (const [id, list] of byWindow) {
        const [g, w] = id.split(":");
        const got = (await engine.windowTree(Number(g), BigInt(w!), shape)).root();
        const want = new WindowTree(shape, BigInt(w!), lwwMerge(list)).root();
        expect({ id, ...got }).toEqual({ id, ...want });
      }
    };
    await fc.assert(
      fc.asyncProperty(scheduleArb, fc.boolean(), async ({ points, seed, batchMax, actions }, smallShape) => {
        const shape = smallShape ? small : DEFAULT_SHAPE;
        const order = shuffle(stored(points), seed);
        const { dir, cleanup } = tempDir("tree");
        try {
          const engine = await openEngine(dir, { compaction: SMALL_TIERS });
          for (let i = 0, b = 0; i < order.length; i += batchMax, b++) {
            await engine.write(order.slice(i, i + batchMax));
            const action = actions[b % actions.length];
            if (action === "flush") await engine.flush();
            else if (action === "compact") {
              await engine.flush();
              await engine.compactAll();
            }
            await rootsOf(engine, order.slice(0, i + batchMax), shape);
          }
          await engine.close();
        } finally {
          cleanup();
        }
      }),
      { numRuns: 40 },
    );
  });
});
