// A damaged segment is detected by its checksums, moved to quarantine and never served; the node keeps
// running (anti-entropy then restores the window from a replica).

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { openEngine, stored, tempDir } from "../support/engine.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";
import type { Point } from "../../src/model/point.ts";

const WS = 20_600n * NS_PER_DAY;

describe("segment corruption", () => {
  test("a flipped bit in a segment is detected, quarantined, and the window reads as missing (no crash)", async () => {
    const { dir, cleanup } = tempDir("corrupt");
    try {
      const points: Point[] = Array.from({ length: 200 }, (_, i) => ({ database: "db", collection: "c", id: "dev-1", timeNs: WS + BigInt(i), insertedAtNs: 1n, fields: [["v", { kind: "number", value: i }]] }));
      const s = stored(points);
      const group = s[0]!.group;
      let engine = await openEngine(dir);
      await engine.write(s);
      await engine.flush();
      expect((await engine.windowChecksum(group, WS)).pointCount).toBe(200);
      await engine.close();
      const seg = readdirSync(`${dir}/segments`).find((n) => n.endsWith(".seg"))!;
      const bytes = readFileSync(`${dir}/segments/${seg}`);
      bytes[200]! ^= 0x10; // inside the data region
      writeFileSync(`${dir}/segments/${seg}`, bytes);
      engine = await openEngine(dir);
      const c = await engine.windowChecksum(group, WS);
      expect(c.pointCount).toBe(0);
      expect(readdirSync(`${dir}/quarantine`)).toEqual([seg]);
      expect(engine.statsSnapshot.quarantined).toBe(1);
      // Writes still work and the window heals as points come back.
      await engine.write(s.slice(0, 10));
      expect((await engine.windowChecksum(group, WS)).pointCount).toBe(10);
      await engine.close();
    } finally {
      cleanup();
    }
  });
});
