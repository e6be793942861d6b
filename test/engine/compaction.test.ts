// Compaction on the real engine over real files: a window written by many flushes keeps a bounded
// number of segments and rewrites each point a few times (tiers), not once per flush; a window the
// latest flush did not touch is merged whole with its summary; every point reads back with the
// checksum of the LWW union, across a restart.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { SUMMARY_LOG_RE, parseSummaryLog } from "../../src/engine/window-summaries.ts";
import { engineChecksums, openEngine, oracleChecksums, stored, tempDir } from "../support/engine.ts";
import { shapeFor } from "../../src/merkle/shape.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import type { Point } from "../../src/model/point.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";

const DAY = 20_620n;
const SETTINGS = { ratio: 4, tierBasePoints: 16, segmentsMax: 10 };

function batch(day: bigint, from: number, n: number): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    database: "db", collection: "c", id: "dev-1",
    timeNs: day * NS_PER_DAY + BigInt(from + i) * NS_PER_SECOND, insertedAtNs: 5n,
    fields: [["v", { kind: "number", value: from + i }]] as Point["fields"],
  }));
}

describe("compaction", () => {
  test("100 flushes into one window: ≤ segmentsMax files, each point rewritten ≤ tiers times; a quiet day merged whole with its summary; all points read back", async () => {
    const { dir, cleanup } = tempDir("compaction");
    try {
      let engine = await openEngine(dir, { compaction: SETTINGS, treeShape: shapeFor(16, 32) });
      const all: StoredPoint[] = [];
      const segsOf = (day: bigint) => readdirSync(`${dir}/segments`).filter((n) => n.includes(`-d${day}-`) && n.endsWith(".seg"));
      let filesMax = 0;
      for (let f = 0; f < 100; f++) {
        const b = stored(batch(DAY, f * 50, 50));
        all.push(...b);
        await engine.write(b);
        await engine.flush();
        filesMax = Math.max(filesMax, segsOf(DAY).length);
      }
      expect(filesMax).toBeLessThanOrEqual(SETTINGS.segmentsMax);
      const s = engine.statsSnapshot;
      // 5 000 points climb from tier 0 (< 64) to tier 3 (≥ 1 024): at most ~4 rewrites each.
      expect(s.compactedPoints / all.length).toBeLessThanOrEqual(4.5);
      expect(s.compactedPoints).toBeGreaterThan(0);
      expect(segsOf(DAY).length).toBeGreaterThan(1);
      // The next day's flush leaves DAY untouched: it is merged whole, with its summary.
      const next = stored(batch(DAY + 1n, 0, 10));
      all.push(...next);
      await engine.write(next);
      await engine.flush();
      expect(segsOf(DAY).length).toBe(1);
      const log = readdirSync(`${dir}/segments`).find((n) => SUMMARY_LOG_RE.test(n))!;
      expect(parseSummaryLog(readFileSync(`${dir}/segments/${log}`)).map((r) => r.summary.segmentName)).toContain(segsOf(DAY)[0]!);
      const want = oracleChecksums(all);
      expect(await engineChecksums(engine, want.keys())).toEqual(want);
      await engine.close();
      engine = await openEngine(dir, { compaction: SETTINGS, treeShape: shapeFor(16, 32) });
      expect(await engineChecksums(engine, want.keys())).toEqual(want);
      let read = 0;
      for (const id of want.keys()) {
        const [g, w] = id.split(":");
        for await (const _ of engine.scanWindow(Number(g), BigInt(w!))) read++;
      }
      expect(read).toBe(all.length);
      await engine.close();
    } finally {
      cleanup();
    }
  });
});
