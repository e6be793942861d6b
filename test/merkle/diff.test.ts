// The Merkle descent against the naive oracle: for random replica pairs it must find exactly the set
// difference, and repairing only what it found must leave both replicas with the roots of the LWW union.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { WindowTree } from "../../src/merkle/tree.ts";
import { diffTrees, packMine } from "../../src/merkle/diff.ts";
import { treeSource } from "../../src/merkle/memory-source.ts";
import { DAY_NS, slotOf, slotStartNs, type TreeShape } from "../../src/merkle/shape.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { lwwMerge, lwwRecord } from "../../src/model/lww.ts";
import type { PointRecord } from "../../src/model/point.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const WS = 20_300n * NS_PER_DAY;

function rec(id: string, offsetNs: bigint, version: bigint, v: number): PointRecord {
  return recordOf({ database: "db", collection: "c", id, timeNs: WS + offsetNs, insertedAtNs: version, fields: [["v", { kind: "number", value: v }]] });
}

const shapes: TreeShape[] = [
  { fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: 8 },
  { fanout: 4, depthMax: 8, leafPointsMax: 3, seriesBits: 0 },
  { fanout: 4, depthMax: 8, leafPointsMax: 2, seriesBits: 3 },
  { fanout: 2, depthMax: 12, leafPointsMax: 1, seriesBits: 2 },
];

type Mutation =
  | { kind: "drop"; side: 0 | 1; at: number }
  | { kind: "extra"; side: 0 | 1; id: number; offset: number }
  | { kind: "version"; side: 0 | 1; at: number }
  | { kind: "gap"; side: 0 | 1; from: number; width: number }
  | { kind: "device"; side: 0 | 1; id: number };

const devices = 6;
const scenarioArb = fc.record({
  shape: fc.constantFrom(...shapes),
  base: fc.array(fc.tuple(fc.integer({ min: 0, max: devices - 1 }), fc.integer({ min: 0, max: Number(NS_PER_DAY) - 1 })), { maxLength: 400 }),
  mutations: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("drop" as const), side: fc.constantFrom(0 as const, 1 as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("extra" as const), side: fc.constantFrom(0 as const, 1 as const), id: fc.integer({ min: 0, max: devices - 1 }), offset: fc.integer({ min: 0, max: Number(NS_PER_DAY) - 1 }) }),
      fc.record({ kind: fc.constant("version" as const), side: fc.constantFrom(0 as const, 1 as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("gap" as const), side: fc.constantFrom(0 as const, 1 as const), from: fc.integer({ min: 0, max: Number(NS_PER_DAY) - 1 }), width: fc.integer({ min: 1, max: 3_600_000_000_000 }) }),
      fc.record({ kind: fc.constant("device" as const), side: fc.constantFrom(0 as const, 1 as const), id: fc.integer({ min: 0, max: devices - 1 }) }),
    ),
    { maxLength: 8 },
  ),
});

function replicas(base: Array<[number, number]>, mutations: Mutation[]): [PointRecord[], PointRecord[]] {
  const common = lwwMerge(base.map(([d, off], i) => rec(`dev-${d}`, BigInt(off), 10n, i)));
  const sides: Array<Map<string, PointRecord>> = [new Map(common.map((r) => [r.key, r])), new Map(common.map((r) => [r.key, r]))];
  let n = 1000;
  for (const m of mutations) {
    const side = sides[m.side]!;
    const keys = [...side.keys()].sort();
    switch (m.kind) {
      case "drop":
        if (keys.length > 0) side.delete(keys[m.at % keys.length]!);
        break;
      case "extra": {
        const r = rec(`dev-${m.id}`, BigInt(m.offset), 20n + BigInt(n), n++);
        side.set(r.key, r);
        break;
      }
      case "version": {
        if (keys.length === 0) break;
        const old = side.get(keys[m.at % keys.length]!)!;
        const parts = old.key.split("\u0000");
        const r = rec(parts[2]!, BigInt(`0x${parts[3]}`) - WS, 30n + BigInt(n), n++);
        side.set(r.key, r);
        break;
      }
      case "gap":
        for (const k of keys) {
          const off = BigInt(`0x${k.split("\u0000")[3]}`) - WS;
          if (off >= BigInt(m.from) && off < BigInt(m.from + m.width)) side.delete(k);
        }
        break;
      case "device":
        for (const k of keys) {
          if (k.split("\u0000")[2] !== `dev-${m.id}`) continue;
          const old = side.get(k)!;
          const r = rec(`dev-${m.id}`, BigInt(`0x${k.split("\u0000")[3]}`) - WS, 40n + BigInt(n), n++);
          side.set(old.key, r);
        }
        break;
    }
  }
  return sides.map((s) => [...s.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) as [PointRecord[], PointRecord[]];
}

function naiveDiff(a: PointRecord[], b: PointRecord[]) {
  const ma = new Map(a.map((r) => [r.key, r.enc]));
  const mb = new Map(b.map((r) => [r.key, r.enc]));
  const onlyLocal = a.filter((r) => !mb.has(r.key)).map((r) => r.key);
  const onlyRemote = b.filter((r) => !ma.has(r.key)).map((r) => r.key);
  const differ = a.filter((r) => mb.has(r.key) && Buffer.compare(Buffer.from(mb.get(r.key)!), Buffer.from(r.enc)) !== 0).map((r) => r.key);
  return { onlyLocal: onlyLocal.sort(), onlyRemote: onlyRemote.sort(), differ: differ.sort() };
}

/** Applies what a descent found: pull the remote's version where it is missing here or wins LWW. */
function repair(local: PointRecord[], found: Awaited<ReturnType<typeof diffTrees>>): PointRecord[] {
  const m = new Map(local.map((r) => [r.key, r]));
  for (const key of [...found.onlyRemote, ...found.differ]) {
    const remote = found.remotePoints.get(key)!;
    const incoming: PointRecord = { key, enc: remote.enc };
    const cur = m.get(key);
    m.set(key, cur === undefined ? incoming : lwwRecord(cur, incoming));
  }
  return [...m.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

describe("Merkle descent", () => {
  test("finds exactly the naive set difference; repairing only that converges both replicas to the LWW union", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ shape, base, mutations }) => {
        const [a, b] = replicas(base, mutations);
        const ta = new WindowTree(shape, WS, a);
        const tb = new WindowTree(shape, WS, b);
        const found = await diffTrees(shape, treeSource(ta), treeSource(tb));
        const want = naiveDiff(a, b);
        expect({ onlyLocal: [...found.onlyLocal].sort(), onlyRemote: [...found.onlyRemote].sort(), differ: [...found.differ].sort() }).toEqual(want);
        if (want.onlyLocal.length + want.onlyRemote.length + want.differ.length === 0) expect(found.roundTrips).toBe(1);
        // Same answer when the first level came with the roots (sent against our root children).
        const [first] = await treeSource(tb).expand([{ id: 0, wantChildren: true, wantPoints: false, mine: packMine(ta.children(0, 0)) }]);
        const viaRoots = await diffTrees(shape, treeSource(ta), treeSource(tb), { knownRoots: { local: ta.root(), remote: tb.root() }, firstLevel: first, leafNodesPerRound: 1 + (found.leafRanges % 3) });
        expect({ onlyLocal: [...viaRoots.onlyLocal].sort(), onlyRemote: [...viaRoots.onlyRemote].sort(), differ: [...viaRoots.differ].sort() }).toEqual(want);
        // Each side pulls what it lacks or holds older (the peer's own run pulls the rest).
        const a2 = repair(a, found);
        const back = await diffTrees(shape, treeSource(tb), treeSource(ta));
        const b2 = repair(b, back);
        const union = lwwMerge([...a, ...b]);
        const ra = new WindowTree(shape, WS, a2).root();
        const rb = new WindowTree(shape, WS, b2).root();
        const ru = new WindowTree(shape, WS, union).root();
        expect(ra).toEqual(ru);
        expect(rb).toEqual(ru);
      }),
      { numRuns: 300 },
    );
  });

  test("the tree depends only on the point set, not on how the points are split or ordered", () => {
    fc.assert(
      fc.property(scenarioArb, ({ shape, base }) => {
        const [a] = replicas(base, []);
        const rebuilt = new WindowTree(shape, WS, [...a]);
        expect(rebuilt.root()).toEqual(new WindowTree(shape, WS, a).root());
      }),
      { numRuns: 50 },
    );
  });

  test("slot boundaries are exact grid points at every resolution", () => {
    for (const slots of [16, 4096, 65_536, 1 << 20, 1 << 24]) {
      for (let i = 0; i < 20_000; i++) {
        const off = i < 500 ? Number(slotStartNs(i, slots)) - (i % 2) : Math.floor(Math.random() * DAY_NS);
        if (off < 0) continue;
        const k = slotOf(off, slots);
        expect(k).toBe(Number((BigInt(off) * BigInt(slots)) / BigInt(DAY_NS)));
        expect(slotStartNs(k, slots) <= BigInt(off) && slotStartNs(k + 1, slots) > BigInt(off)).toBe(true);
      }
    }
  });
});
