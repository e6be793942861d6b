// A compacted window keeps its Merkle summary beside its segment: after a restart the window's root
// (and the root's children) come from it without decoding a point; a later write, a torn or foreign
// summary, or a re-verification make the engine build the tree from the points again (and keep a
// fresh summary). Golden bytes pin the summary format.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { openEngine, stored, tempDir } from "../support/engine.ts";
import { shapeFor } from "../../src/merkle/shape.ts";
import { WindowTree } from "../../src/merkle/tree.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { toHex } from "../../src/base/sha256.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { decodeSummary, encodeSummary } from "../../src/engine/window-summary.ts";
import type { Point } from "../../src/model/point.ts";

const WS = 20_620n * NS_PER_DAY;
const SHAPE = shapeFor(16, 32);

const points = (n: number, v: number): Point[] =>
  Array.from({ length: n }, (_, i) => ({ database: "db", collection: "c", id: `dev-${i % 7}`, timeNs: WS + BigInt(i) * NS_PER_SECOND, insertedAtNs: BigInt(10 + v), fields: [["v", { kind: "number", value: i + v }]] as Point["fields"] }));

describe("window summaries", () => {
  test("after a restart a compacted window's root comes from its summary, no point decoded; writes, torn or foreign summaries and re-verification fall back to the points", async () => {
    const { dir, cleanup } = tempDir("summary");
    try {
      const all = stored([...points(3000, 0), ...points(1500, 1)]);
      const group = all[0]!.group;
      const inGroup = all.filter((p) => p.group === group);
      let engine = await openEngine(dir, { treeShape: SHAPE });
      await engine.write(stored(points(3000, 0)));
      await engine.flush();
      await engine.write(stored(points(1500, 1)));
      await engine.flush();
      await engine.compactAll();
      const sums = readdirSync(`${dir}/segments`).filter((n) => n.endsWith(".sum"));
      expect(sums.length).toBeGreaterThan(0);
      await engine.close();
      const fresh = new WindowTree(SHAPE, WS, lwwMerge(inGroup));
      const want = { root: toHex(fresh.root().digest), count: fresh.root().count, children: fresh.children(0, 0).map((c) => toHex(c.digest)) };
      const rootOf = async () => {
        const r = await engine.windowRoot(group, WS, SHAPE);
        return { root: toHex(r.root.digest), count: r.root.count, children: r.children.map((c) => toHex(c.digest)) };
      };
      // 1. Restart: from the summary, nothing decoded.
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(0);
      // Another shape has no summary: built from the points.
      expect((await engine.windowRoot(group, WS, shapeFor(8, 16))).root.count).toBe(want.count);
      expect(engine.statsSnapshot.segmentDecodes).toBe(1);
      await engine.close();
      // 2. A torn summary is ignored (the points are read) and rewritten.
      const sumPath = `${dir}/segments/${readdirSync(`${dir}/segments`).find((n) => n.startsWith(`g${group}-`) && n.endsWith(".sum"))!}`;
      const good = readFileSync(sumPath);
      writeFileSync(sumPath, good.subarray(0, good.length - 5));
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(1);
      expect(Buffer.from(readFileSync(sumPath)).equals(good)).toBe(true);
      await engine.close();
      // 3. A summary that names another segment is ignored.
      const foreign = decodeSummary(good)!;
      writeFileSync(sumPath, encodeSummary({ ...foreign, segmentName: "g0-d1-s000000000001.seg" }));
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(1);
      // 4. A late write: the root follows it (the summary no longer applies).
      const late = stored([{ database: "db", collection: "c", id: "dev-0", timeNs: WS + 5n, insertedAtNs: 99n, fields: [["v", { kind: "number", value: 1 }]] }]);
      expect(late[0]!.group).toBe(group);
      await engine.write(late);
      expect((await rootOf()).count).toBe(want.count + 1);
      // 5. Re-verification reads the points again.
      engine.dropReadCaches();
      const before = engine.statsSnapshot.segmentDecodes;
      await engine.windowRoot(group, WS, SHAPE);
      expect(engine.statsSnapshot.segmentDecodes).toBeGreaterThan(before);
      await engine.close();
    } finally {
      cleanup();
    }
  });

  test("golden: a summary (format version 1)", () => {
    const digest = (b: number) => new Uint8Array(32).fill(b);
    const bytes = encodeSummary({
      shape: SHAPE, segmentName: "g7-d20620-s000000000003.seg", segmentBytes: 12345,
      root: { count: 10, leaf: false, digest: digest(1) },
      children: [{ count: 4, leaf: true, digest: digest(2) }, { count: 6, leaf: true, digest: digest(3) }],
    });
    expect(Buffer.from(bytes).toString("hex")).toBe(GOLDEN);
    expect(decodeSummary(bytes)!.children.length).toBe(2);
    const flipped = bytes.slice();
    flipped[40]! ^= 1;
    expect(decodeSummary(flipped)).toBeUndefined();
  });
});

const GOLDEN =
  "535853554d303031c23939db10060020081b67372d6432303632302d733030303030303030303030332e73656700000000000030390000000a000101010101010101010101010101010101010101010101010101010101010101020000000401020202020202020202020202020202020202020202020202020202020202020200000006010303030303030303030303030303030303030303030303030303030303030303";
