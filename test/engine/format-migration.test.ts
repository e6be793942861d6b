// Data dirs of the earlier segment format (version 1) are never lost: they open and serve as they
// are, every checksum and tree unchanged; compaction rewrites them as version 2 (columnar), and after
// that and a restart the window still hashes the same — the canonical encodings are the unit.

import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { openEngine, oracleChecksums, stored, tempDir } from "../support/engine.ts";
import { encodeSegmentV1, SEGMENT_MAGIC_V2 } from "../../src/segment/format.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { shapeFor } from "../../src/merkle/shape.ts";
import type { Point } from "../../src/model/point.ts";

const WS = 20_610n * NS_PER_DAY;
const magic = (path: string) => readFileSync(path).subarray(0, 8).toString("latin1");

describe("segment format migration", () => {
  test("a version 1 data dir opens and serves unchanged; compaction rewrites it as version 2 with the same checksums", async () => {
    const { dir, cleanup } = tempDir("migrate");
    try {
      const points: Point[] = Array.from({ length: 500 }, (_, i) => ({
        database: "db", collection: "c", id: `dev-${i % 5}`, timeNs: WS + BigInt(i) * NS_PER_SECOND, insertedAtNs: 10n + BigInt(i),
        fields: [["v", { kind: "number", value: i / 4 }], ["s", { kind: "string", value: `x${i % 3}` }]],
      }));
      const s = stored(points);
      // An old data dir: its meta file and one version-1 segment per group of these points.
      mkdirSync(`${dir}/segments`, { recursive: true });
      writeFileSync(`${dir}/soltix-data.json`, JSON.stringify({ version: 1, total_groups: 4 }) + "\n");
      const byGroup = new Map<number, typeof s>();
      for (const p of s) byGroup.set(p.group, [...(byGroup.get(p.group) ?? []), p]);
      let seq = 1;
      for (const [g, list] of byGroup) {
        writeFileSync(`${dir}/segments/g${g}-d${WS / NS_PER_DAY}-s${String(seq++).padStart(12, "0")}.seg`, encodeSegmentV1(g, WS, lwwMerge(list)));
      }
      const oracle = oracleChecksums(s);
      let engine = await openEngine(dir);
      for (const [id, want] of oracle) {
        const [g] = id.split(":");
        expect(await engine.windowChecksum(Number(g), WS)).toEqual(want);
      }
      // Trees are built from the version-1 segments in place, like any other.
      for (const g of byGroup.keys()) expect((await engine.windowTree(g, WS, shapeFor(16, 32))).root().count).toBe(byGroup.get(g)!.length);
      // New writes and a compaction: the window is rewritten as one version-2 segment.
      const more = stored(points.slice(0, 50).map((p) => ({ ...p, insertedAtNs: p.insertedAtNs + 1000n, fields: [["v", { kind: "number" as const, value: -1 }]] as Point["fields"] })));
      await engine.write(more);
      await engine.flush();
      await engine.compactAll();
      const segs = readdirSync(`${dir}/segments`).filter((n) => n.endsWith(".seg"));
      expect(segs.length).toBe(byGroup.size);
      for (const n of segs) expect(magic(`${dir}/segments/${n}`)).toBe(SEGMENT_MAGIC_V2);
      const after = oracleChecksums([...s, ...more]);
      for (const [id, want] of after) expect(await engine.windowChecksum(Number(id.split(":")[0]), WS)).toEqual(want);
      await engine.close();
      // After a restart, from version-2 files only: the same.
      engine = await openEngine(dir);
      for (const [id, want] of after) expect(await engine.windowChecksum(Number(id.split(":")[0]), WS)).toEqual(want);
      await engine.close();
    } finally {
      cleanup();
    }
  });
});
