// Range reads on the real engine over real files: a key range of a window (a Query of some devices)
// reads only the series blocks it touches from each segment — and returns exactly what the LWW merge
// of everything does (property test against the naive oracle: every version written, filtered to
// the range). A block that fails its CRC quarantines its file; the read answers without it.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { openEngine, stored, tempDir } from "../support/engine.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import type { Point } from "../../src/model/point.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";

const DAY = 20_700n;
const WS = DAY * NS_PER_DAY;
const DEVICES = 40;

function point(d: number, t: number, v: number, ins: bigint): Point {
  return { database: "db", collection: "c", id: `dev-${String(d).padStart(2, "0")}`, timeNs: WS + BigInt(t) * NS_PER_SECOND, insertedAtNs: ins, fields: [["v", { kind: "number", value: v }]] };
}

const prefix = (d: number) => `db\u0000c\u0000dev-${String(d).padStart(2, "0")}\u0000`;

describe("range reads", () => {
  test("a device range read from several segments and memory equals the LWW oracle", async () => {
    let rangeReads = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: DEVICES - 1 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: DEVICES - 1 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 500 }),
        async (flushes, devices, fromSecond) => {
          const { dir, cleanup } = tempDir("range");
          try {
            // One group: every device shares each segment (a range is a few of its series blocks).
            const engine = await openEngine(dir, { totalGroups: 1 });
            const all: StoredPoint[] = [];
            let ins = 10n;
            for (const [k, b] of flushes.entries()) {
              const s = stored(b.map(([d, t, v]) => point(d, t, v, ins++))).map((p) => ({ ...p, group: 0 }));
              all.push(...s);
              await engine.write(s);
              if (k < flushes.length - 1) await engine.flush(); // the last batch stays in memory
            }
            for (const d of devices) {
              const g = 0;
              const from = `${prefix(d)}${(WS + BigInt(fromSecond) * NS_PER_SECOND).toString(16).padStart(16, "0")}`;
              const to = `${prefix(d)}\uffff`;
              const got: string[] = [];
              for await (const r of engine.scanWindow(g, WS, from, to)) got.push(`${r.key}=${Buffer.from(r.enc).toString("hex")}`);
              const want = lwwMerge(all.filter((p) => p.group === g))
                .filter((r) => r.key >= from && r.key < to)
                .map((r) => `${r.key}=${Buffer.from(r.enc).toString("hex")}`);
              expect(got).toEqual(want);
            }
            rangeReads += engine.statsSnapshot.segmentRangeReads;
            await engine.close();
          } finally {
            cleanup();
          }
        },
      ),
      { numRuns: 25 },
    );
    // The range path itself ran (not only whole decodes).
    expect(rangeReads).toBeGreaterThan(0);
  });

  test("a big segment: one device read by a range read, not a whole decode, then held; a corrupt block quarantines the file", async () => {
    const { dir, cleanup } = tempDir("range-big");
    try {
      // One group, so every device shares the window's single segment.
      const engine = await openEngine(dir, { totalGroups: 1 });
      const pts = stored(Array.from({ length: DEVICES * 200 }, (_, i) => point(i % DEVICES, Math.floor(i / DEVICES), i, 5n))).map((p) => ({ ...p, group: 0 }));
      await engine.write(pts);
      await engine.flush();
      await engine.close();
      const reopened = await openEngine(dir, { totalGroups: 1 });
      const read = async (d: number) => {
        const out: string[] = [];
        for await (const r of reopened.scanWindow(0, WS, prefix(d), `${prefix(d)}\uffff`)) out.push(r.key);
        return out;
      };
      expect(await read(7)).toHaveLength(200);
      expect(reopened.statsSnapshot.segmentRangeReads).toBe(1);
      expect(reopened.statsSnapshot.segmentDecodes).toBe(0);
      // The same device again: its decoded blocks are held, nothing is read or decoded.
      expect(await read(7)).toEqual(await read(7));
      expect(reopened.statsSnapshot.segmentRangeReads).toBe(1);
      expect(await read(8)).toHaveLength(200);
      expect(reopened.statsSnapshot.segmentRangeReads).toBe(2);
      await reopened.close();

      // Flip a byte inside the last series block's payload (device 39 is last in key order).
      const seg = readdirSync(`${dir}/segments`).find((n) => n.endsWith(".seg"))!;
      const path = `${dir}/segments/${seg}`;
      const bytes = readFileSync(path);
      bytes[bytes.length - 60] = bytes[bytes.length - 60]! ^ 0xff;
      writeFileSync(path, bytes);
      const third = await openEngine(dir, { totalGroups: 1 });
      const out: string[] = [];
      for await (const r of third.scanWindow(0, WS, prefix(DEVICES - 1), `${prefix(DEVICES - 1)}\uffff`)) out.push(r.key);
      expect(out).toHaveLength(0);
      expect(third.statsSnapshot.quarantined).toBe(1);
      await third.close();
    } finally {
      cleanup();
    }
  });
});
