// The window tree against a naive oracle of its definition (every node a descent can reach: built,
// summarised on demand below a direct node, or edited by late writes), and its golden bytes.

import { Sketch, encodeSymbols, idKey, itemIdOf } from "../../src/merkle/riblt.ts";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { directPointsMax, EMPTY_NODE, TREE_FORMAT_VERSION, SKETCH_PREFIX_SYMBOLS, TREE_PENDING_MAX, WindowTree, type NodeSummary } from "../../src/merkle/tree.ts";
import { DAY_NS, slotsPerNode, timeSlotCount, type TreeShape } from "../../src/merkle/shape.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { keyParts, type PointRecord } from "../../src/model/point.ts";
import { fnv1a32 } from "../../src/model/group.ts";
import { nobleHasher, toHex } from "../../src/base/sha256.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const WS = 20_400n * NS_PER_DAY;
const utf8 = new TextEncoder();

const shapes: TreeShape[] = [
  { fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: 8 },
  { fanout: 4, depthMax: 8, leafPointsMax: 3, seriesBits: 0 },
  { fanout: 4, depthMax: 8, leafPointsMax: 2, seriesBits: 3 },
  { fanout: 2, depthMax: 12, leafPointsMax: 1, seriesBits: 2 },
];

function rec(dev: number, offsetNs: number, version: number, v: number): PointRecord {
  return recordOf({ database: "db", collection: "c", id: `dev-${dev}`, timeNs: WS + BigInt(offsetNs), insertedAtNs: BigInt(version), fields: [["v", { kind: "number", value: v }]] });
}

/** The definition, spelled out: slot = bucket(series) · T + floor(offset · T / DAY). */
function naiveSlot(shape: TreeShape, r: PointRecord): number {
  const k = keyParts(r.key);
  const series: number[] = [];
  for (const s of [k.database, k.collection, k.id]) {
    const b = utf8.encode(s);
    expect(b.length).toBeLessThan(128); // one-byte varint in this oracle
    series.push(b.length, ...b);
  }
  const t = timeSlotCount(shape);
  const bucket = shape.seriesBits === 0 ? 0 : fnv1a32(new Uint8Array(series)) % 2 ** shape.seriesBits;
  return bucket * t + Number(((k.timeNs - WS) * BigInt(t)) / BigInt(DAY_NS));
}

function naiveNode(shape: TreeShape, pts: Array<{ slot: number; r: PointRecord }>, depth: number, index: number): NodeSummary {
  const per = slotsPerNode(shape, depth);
  const inRange = pts.filter((p) => p.slot >= index * per && p.slot < (index + 1) * per);
  if (inRange.length === 0) return EMPTY_NODE;
  const leaf = inRange.length <= shape.leafPointsMax || depth === shape.depthMax;
  const h = nobleHasher();
  if (inRange.length <= directPointsMax(shape) || depth === shape.depthMax) {
    inRange.sort((a, b) => a.slot - b.slot || (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : 0));
    for (const p of inRange) h.update(p.r.enc);
  } else {
    h.update(new Uint8Array([0]));
    for (let c = 0; c < shape.fanout; c++) {
      const child = naiveNode(shape, inRange, depth + 1, index * shape.fanout + c);
      const count = new Uint8Array(4);
      new DataView(count.buffer).setUint32(0, child.count);
      h.update(count).update(child.digest);
    }
  }
  return { digest: h.digest(), count: inRange.length, leaf };
}

/** Every node a descent can reach (children of non-leaves), compared with the oracle; also the leaves' point lists. */
function expectMatchesOracle(shape: TreeShape, tree: WindowTree, records: readonly PointRecord[]): void {
  const pts = records.map((r) => ({ slot: naiveSlot(shape, r), r }));
  const walk = (depth: number, index: number) => {
    const got = tree.node(depth, index);
    const want = naiveNode(shape, pts, depth, index);
    expect({ depth, index, count: got.count, leaf: got.leaf, digest: toHex(got.digest) }).toEqual({ depth, index, count: want.count, leaf: want.leaf, digest: toHex(want.digest) });
    if (got.count === 0) return;
    if (got.leaf) {
      const per = slotsPerNode(shape, depth);
      const keys = pts.filter((p) => p.slot >= index * per && p.slot < (index + 1) * per).map((p) => p.r.key).sort();
      expect(tree.points(depth, index).map((p) => p.key)).toEqual(keys);
      return;
    }
    for (let c = 0; c < shape.fanout; c++) walk(depth + 1, index * shape.fanout + c);
  };
  walk(0, 0);
}

const pointsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: Number(NS_PER_DAY) - 1 }), fc.integer({ min: 1, max: 4 })), { maxLength: 300 });
/** Dense in a few short time ranges, so nodes cross directPointsMax and split at the bottom too. */
const burstArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 }).map((h) => h * 3_600_000_000_000), fc.integer({ min: 0, max: 2_000_000_000 }), fc.integer({ min: 1, max: 4 })), { maxLength: 600 });

function records(base: Array<[number, number, number]>): PointRecord[] {
  return lwwMerge(base.map(([d, off, ver], i) => rec(d, off, ver, i)));
}

describe("Merkle window tree", () => {
  test("every reachable node equals the naive definition (built, on-demand and at depthMax)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...shapes), fc.oneof(pointsArb, burstArb.map((b) => b.map(([d, h, off, v]) => [d, h + off, v] as [number, number, number]))), (shape, base) => {
        const rs = records(base);
        expectMatchesOracle(shape, new WindowTree(shape, WS, rs), rs);
      }),
      { numRuns: 300 },
    );
  });

  test("late writes staged on a built tree give the tree of the LWW union (new keys, newer, older and equal versions)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...shapes), pointsArb, burstArb, fc.boolean(), (shape, base, late, readBetween) => {
        const rs = records(base);
        const tree = new WindowTree(shape, WS, rs);
        const lateRecs = late.map(([d, h, off, ver], i) => rec(d, (h + off) % Number(NS_PER_DAY), ver, 10_000 + i));
        // Some late writes hit keys of the base, in both newer and older versions.
        lateRecs.push(...rs.slice(0, 20).map((r, i) => rec(Number(keyParts(r.key).id.slice(4)), Number(keyParts(r.key).timeNs - WS), i % 2 === 0 ? 9 : 0, i)));
        lateRecs.push(...rs.slice(20, 25)); // the same version again: no change
        for (const [i, r] of lateRecs.entries()) {
          expect(tree.stage(r.key, r.enc)).toBe(true);
          if (readBetween && i % 97 === 0) tree.root(); // applied in several settles
        }
        const union = lwwMerge([...rs, ...lateRecs]);
        expect(tree.root()).toEqual(new WindowTree(shape, WS, union).root());
        expectMatchesOracle(shape, tree, union);
      }),
      { numRuns: 300 },
    );
  });

  test("the sketch prefix a tree keeps through late writes is the sketch of the LWW union; longer sketches and points by id agree", () => {
    fc.assert(
      fc.property(fc.constantFrom(...shapes), pointsArb, burstArb, fc.boolean(), fc.integer({ min: 1, max: 200 }), (shape, base, late, readFirst, longer) => {
        const rs = records(base);
        const tree = new WindowTree(shape, WS, rs);
        if (readFirst) tree.sketch(SKETCH_PREFIX_SYMBOLS); // held from here on, updated by each applied write
        const lateRecs = late.map(([d, h, off, ver], i) => rec(d, (h + off) % Number(NS_PER_DAY), ver, 10_000 + i));
        lateRecs.push(...rs.slice(0, 20).map((r, i) => rec(Number(keyParts(r.key).id.slice(4)), Number(keyParts(r.key).timeNs - WS), i % 2 === 0 ? 9 : 0, i)));
        for (const r of lateRecs) tree.stage(r.key, r.enc);
        const union = lwwMerge([...rs, ...lateRecs]);
        // The naive sketch: every point of the union added once.
        const naive = (length: number) => {
          const s = new Sketch(length);
          const id = new Uint32Array(2);
          for (const r of union) {
            itemIdOf(r.enc, 0, r.enc.length, id, 0);
            s.add(id[0]!, id[1]!);
          }
          return encodeSymbols(s);
        };
        expect(encodeSymbols(tree.sketch(SKETCH_PREFIX_SYMBOLS))).toEqual(naive(SKETCH_PREFIX_SYMBOLS));
        expect(encodeSymbols(tree.sketch(SKETCH_PREFIX_SYMBOLS + longer))).toEqual(naive(SKETCH_PREFIX_SYMBOLS + longer));
        // Points by id: exactly those of the union with the ids asked for.
        const pick = union.filter((_, i) => i % 3 === 0);
        const id = new Uint32Array(2);
        const ids = new Set(pick.map((r) => {
          itemIdOf(r.enc, 0, r.enc.length, id, 0);
          return idKey(id[0]!, id[1]!);
        }));
        expect(tree.pointsWithIds(ids).map((e) => Buffer.from(e).toString("hex")).sort()).toEqual(pick.map((r) => Buffer.from(r.enc).toString("hex")).sort());
      }),
      { numRuns: 200 },
    );
  });

  test("a full queue of late writes is refused (the owner drops the tree)", () => {
    const tree = new WindowTree(shapes[0]!, WS, []);
    const r = rec(1, 5, 1, 1);
    for (let i = 0; i < TREE_PENDING_MAX; i++) expect(tree.stage(r.key, r.enc)).toBe(true);
    expect(tree.stage(r.key, r.enc)).toBe(false);
    expect(tree.root().count).toBe(1);
  });

  test("golden: digests of a fixed window (format version 2)", () => {
    expect(TREE_FORMAT_VERSION).toBe(2);
    const rs = lwwMerge(Array.from({ length: 2000 }, (_, i) => rec(i % 7, (i * 7_919_000_003) % Number(NS_PER_DAY), 1 + (i % 3), i)));
    const shape: TreeShape = { fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: 8 };
    const tree = new WindowTree(shape, WS, rs);
    const root = tree.root();
    expect(root.count).toBe(2000);
    expect(root.leaf).toBe(false);
    expect(toHex(root.digest)).toBe("1ed0fbc476488370c288283be40dda9a82a64c94cdedb0ab6eba2c87767c61a3");
    expect(toHex(tree.node(1, 0).digest)).toBe("19e7ceb5c0949537f0f95479499cdc05dd75f9763506665d0256b71a9cf56810");
    expectMatchesOracle(shape, tree, rs);
  });
});
