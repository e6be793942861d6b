// Whole windows as segment files (Engine.windowSegment / installSegment, used by FetchWindow): for any
// two engines A and B holding overlapping points (in memory, in several segments, compacted), B
// installing A's file of a window ends holding exactly the LWW union of both for that window — also
// after a flush, a compaction and a restart — and nothing else changes. A file of another group or
// window, or with one byte flipped, is refused with data_loss and B is unchanged.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { pointArb } from "../support/arb.ts";
import { engineChecksums, openEngine, oracleChecksums, stored, tempDir } from "../support/engine.ts";
import type { Engine, StoredPoint } from "../../src/engine/engine.ts";
import { SoltixError } from "../../src/base/errors.ts";
import { timeOfEncoding } from "../../src/model/encoding.ts";
import { windowStartNs } from "../../src/base/time.ts";

const SMALL_TIERS = { ratio: 2, tierBasePoints: 4, segmentsMax: 3 };
const placed = fc.array(fc.tuple(pointArb({ dense: true, days: 2, timesPerDay: 4 }), fc.constantFrom("a", "b", "both"), fc.boolean()), { minLength: 1, maxLength: 80 });

const windowOf = (p: StoredPoint) => `${p.group}:${windowStartNs(timeOfEncoding(p.enc))}`;

async function fill(e: Engine, points: StoredPoint[], flushed: boolean[]): Promise<void> {
  // Flushed ones first (segments, some merged), the rest stay in memory.
  const seg = points.filter((_, i) => flushed[i]);
  for (let i = 0; i < seg.length; i += 7) {
    await e.write(seg.slice(i, i + 7));
    await e.flush();
  }
  const mem = points.filter((_, i) => !flushed[i]);
  if (mem.length > 0) await e.write(mem);
}

describe("window files", () => {
  test("installing A's file of a window into B gives the LWW union there, and changes nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(placed, async (items) => {
        const pts = stored(items.map(([p]) => p));
        const onA = pts.filter((_, i) => items[i]![1] !== "b");
        const onB = pts.filter((_, i) => items[i]![1] !== "a");
        const flagsA = items.filter(([, w]) => w !== "b").map(([, , f]) => f);
        const flagsB = items.filter(([, w]) => w !== "a").map(([, , f]) => f);
        const target = windowOf((onA[0] ?? onB[0])!);
        const [g, w] = target.split(":");
        const { dir, cleanup } = tempDir("wfile");
        try {
          const a = await openEngine(`${dir}/a`, { compaction: SMALL_TIERS });
          let b = await openEngine(`${dir}/b`, { compaction: SMALL_TIERS });
          await fill(a, onA, flagsA);
          await fill(b, onB, flagsB);
          const file = await a.windowSegment(Number(g), BigInt(w!));
          const inTarget = onA.filter((p) => windowOf(p) === target);
          expect(file === undefined).toBe(inTarget.length === 0);
          if (file !== undefined) expect(await b.installSegment(Number(g), BigInt(w!), file.bytes)).toBe(file.count);
          // B's windows: the target is the union, every other window is B's own.
          const expected = oracleChecksums([...onB, ...inTarget]);
          const ids = [...expected.keys()];
          expect(await engineChecksums(b, ids)).toEqual(expected);
          await b.flush();
          await b.compactAll();
          await b.close();
          b = await openEngine(`${dir}/b`, { compaction: SMALL_TIERS });
          expect(await engineChecksums(b, ids)).toEqual(expected);
          await a.close();
          await b.close();
        } finally {
          cleanup();
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  test("a file of another group or window, or corrupted, is refused and B is unchanged", async () => {
    const { dir, cleanup } = tempDir("wfile-bad");
    try {
      const pts = stored(fc.sample(pointArb({ days: 1 }), 50));
      const a = await openEngine(`${dir}/a`);
      const b = await openEngine(`${dir}/b`);
      await a.write(pts);
      await a.flush();
      const target = windowOf(pts[0]!);
      const [g, w] = target.split(":").map((x) => x) as [string, string];
      const file = (await a.windowSegment(Number(g), BigInt(w)))!;
      const before = await engineChecksums(b, [target]);
      const refused = async (group: number, ws: bigint, bytes: Uint8Array, text: string) => {
        const e = await b.installSegment(group, ws, bytes).then(() => undefined, (x: unknown) => x);
        expect(e).toBeInstanceOf(SoltixError);
        expect((e as SoltixError).kind).toBe("data_loss");
        expect((e as SoltixError).message).toContain(text);
      };
      await refused((Number(g) + 1) % 4, BigInt(w), file.bytes, `the file names group ${g}`);
      await refused(Number(g), BigInt(w) + 86_400_000_000_000n, file.bytes, `window ${w}`);
      const flipped = file.bytes.slice();
      flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
      await refused(Number(g), BigInt(w), flipped, "");
      expect(await engineChecksums(b, [target])).toEqual(before);
      expect(b.windowsOf(Number(g))).toEqual([]);
      await a.close();
      await b.close();
    } finally {
      cleanup();
    }
  });
});
