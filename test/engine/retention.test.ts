// Retention in the engine (DESIGN §11, engine/retention.ts). Against a naive oracle — a point of
// database d in window W survives iff W + 1 day > now − retention(d) — for random points over many
// days, several databases with their own retentions and a default, flushed, compacted or in memory:
// after a sweep the engine holds exactly the surviving points (checksums of every window), windows
// with nothing left have no file, a restart brings nothing back, and writes or installed window files
// of expired windows store nothing.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync } from "node:fs";
import { DAY0, pointArb } from "../support/arb.ts";
import { engineChecksums, openEngine, oracleChecksums, stored, tempDir } from "../support/engine.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";
import { EXPIRY_GUARD_NS, RetentionCutoffs, expiryCutoffNs, type RetentionPolicy } from "../../src/engine/retention.ts";
import { timeOfEncoding } from "../../src/model/encoding.ts";
import { keyParts } from "../../src/model/point.ts";
import { NS_PER_DAY, NS_PER_SECOND, windowStartNs } from "../../src/base/time.ts";

const DAYS = 8;
const HOUR = 3600n * NS_PER_SECOND;
const retentionArb = fc.constantFrom(0n, 1n * NS_PER_DAY, 2n * NS_PER_DAY + 5n * HOUR, 5n * NS_PER_DAY);
const policyArb = fc.record({ defaultNs: retentionArb, own: fc.array(fc.tuple(fc.constantFrom("db", "demo", "metrics"), retentionArb), { maxLength: 3 }) }).map(
  ({ defaultNs, own }): RetentionPolicy => ({ defaultNs, byDatabase: new Map(own) }),
);
const nowArb = fc.bigInt({ min: DAY0 + 2n * NS_PER_DAY, max: DAY0 + BigInt(DAYS + 3) * NS_PER_DAY });

/** The oracle: does the point survive the policy at `now`? */
function survives(p: StoredPoint, policy: RetentionPolicy, now: bigint): boolean {
  const r = policy.byDatabase.get(keyParts(p.key).database) ?? policy.defaultNs;
  return r === 0n || windowStartNs(timeOfEncoding(p.enc)) + NS_PER_DAY > now - r;
}

describe("retention cutoffs", () => {
  test("expired(db, window) is exactly 'the window ends at or before now − retention'; bands surround each expiry", () => {
    fc.assert(
      fc.property(policyArb, nowArb, fc.integer({ min: 0, max: DAYS + 3 }), fc.constantFrom("db", "demo", "metrics", "other"), (policy, now, day, db) => {
        const c = new RetentionCutoffs(policy, now);
        const ws = DAY0 + BigInt(day) * NS_PER_DAY;
        const r = policy.byDatabase.get(db) ?? policy.defaultNs;
        expect(c.expired(db, ws)).toBe(r > 0n && ws + NS_PER_DAY <= now - r);
        if (c.expired(db, ws)) expect(ws < c.noneExpiredFromNs).toBe(true);
        if (ws < c.allExpiredBeforeNs) expect(c.expired(db, ws)).toBe(true);
        // A window is in a band exactly when some retention's expiry moment is within the guard of now.
        const all = [policy.defaultNs, ...policy.byDatabase.values()].filter((x) => x > 0n);
        const near = all.some((x) => { const d = ws + NS_PER_DAY + x - now; return d < EXPIRY_GUARD_NS && -d < EXPIRY_GUARD_NS; });
        expect(c.inExpiryBand(ws)).toBe(near);
      }),
      { numRuns: 2000 },
    );
    expect(expiryCutoffNs(0n, DAY0)).toBe(0n);
  });
});

describe("engine retention", () => {
  test("a sweep keeps exactly the surviving points, unlinks emptied windows, and nothing comes back after a restart or a late write", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(pointArb({ days: DAYS, timesPerDay: 6 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        policyArb,
        nowArb,
        async (items, policy, now) => {
          const pts = stored(items.map(([p]) => p));
          const { dir, cleanup } = tempDir("retention");
          try {
            let e = await openEngine(dir, { compaction: { ratio: 2, tierBasePoints: 4, segmentsMax: 3 } });
            // Some flushed (several segments per window), the rest in memory.
            for (let i = 0; i < pts.length; i += 9) {
              await e.write(pts.slice(i, i + 9));
              if (items[i]![1]) await e.flush();
            }
            const all = oracleChecksums(pts);
            const kept = pts.filter((p) => survives(p, policy, now));
            const expected = oracleChecksums(kept);
            e.setRetention(policy, now);
            await e.sweepExpired(now);
            const check = async () => {
              const got = await engineChecksums(e, all.keys());
              for (const id of all.keys()) expect(got.get(id)!.pointCount === 0 ? undefined : got.get(id)).toEqual(expected.get(id));
              // A window with nothing left has no file.
              const days = new Set(readdirSync(`${dir}/segments`).filter((f) => f.endsWith(".seg")).map((f) => f.replace(/-s\d+\.seg$/, "")));
              const liveDays = new Set([...expected.keys()].map((id) => { const [g, w] = id.split(":"); return `g${g}-d${Number(BigInt(w!) / NS_PER_DAY)}`; }));
              for (const d of days) expect(liveDays.has(d)).toBe(true);
            };
            await check();
            // Late writes and window files of expired windows store nothing.
            await e.write(pts);
            const expiredWindows = new Set(pts.filter((p) => !survives(p, policy, now)).map((p) => `${p.group}:${windowStartNs(timeOfEncoding(p.enc))}`));
            for (const id of expiredWindows) {
              const [g, w] = id.split(":");
              const { dir: d2, cleanup: c2 } = tempDir("retention-src");
              try {
                const src = await openEngine(d2);
                await src.write(pts);
                const file = await src.windowSegment(Number(g), BigInt(w!));
                await src.close();
                if (file !== undefined) await e.installSegment(Number(g), BigInt(w!), file.bytes);
              } finally {
                c2();
              }
            }
            // Re-applied points that survive were already there: the union is unchanged.
            await check();
            await e.close();
            e = await openEngine(dir);
            e.setRetention(policy, now);
            await check();
            await e.close();
          } finally {
            cleanup();
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);
});
