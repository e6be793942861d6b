// Tree answers on the wire: only differing children travel when the caller sent its own, and a
// peer's malformed answer is refused rather than misread.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { create } from "@bufbuild/protobuf";
import { MerkleNodeSchema, NodeChildrenSchema } from "../../src/gen/soltix/v1/sync_pb.ts";
import { expansionFromProto, nodeChildrenToProto } from "../../src/rpc/merkle-wire.ts";
import { EMPTY_NODE, type NodeSummary } from "../../src/merkle/tree.ts";

const summaryArb: fc.Arbitrary<NodeSummary> = fc.oneof(
  fc.constant(EMPTY_NODE),
  fc.record({ digest: fc.uint8Array({ minLength: 8, maxLength: 8 }), count: fc.integer({ min: 1, max: 10_000 }), leaf: fc.boolean() }),
);

describe("Merkle answers on the wire", () => {
  test("children (some left out as equal to the caller's) and grandchildren round-trip", () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 4, 16, 64), fc.integer(), (fanout, seed) => {
        const rnd = fc.sample(fc.array(fc.option(summaryArb, { nil: undefined }), { minLength: fanout, maxLength: fanout }), { seed, numRuns: 1 })[0]!;
        const grand = new Map<number, NodeSummary[]>();
        rnd.forEach((c, i) => {
          if (c !== undefined && !c.leaf && c.count > 0) grand.set(i, fc.sample(summaryArb, { seed: seed + i, numRuns: fanout }));
        });
        const back = expansionFromProto(nodeChildrenToProto(rnd, grand, 8), fanout);
        expect(back.children).toEqual(rnd.map((c) => (c === undefined ? undefined : c.count === 0 ? EMPTY_NODE : c)));
        expect(back.grandchildren ?? new Map()).toEqual(new Map([...grand].map(([k, gs]) => [k, gs.map((g) => (g.count === 0 ? EMPTY_NODE : g))])));
      }),
      { numRuns: 200 },
    );
  });

  test("a malformed answer is an error naming what is wrong", () => {
    const node = create(MerkleNodeSchema, { digest: new Uint8Array(8), count: 3n, leaf: true });
    const cases: Array<[Parameters<typeof create<typeof NodeChildrenSchema>>[1], RegExp]> = [
      [{ children: [node, node, node] }, /3 children, fanout 4/],
      [{ children: [node], listed: new Uint8Array([0b11]) }, /fewer children than listed/],
      [{ children: [node, node], listed: new Uint8Array([0b1]) }, /more children than listed/],
      [{ children: [node], listed: new Uint8Array([1, 0]) }, /listed bitmap of 2 bytes/],
      [{ children: [node, node, node, node], expanded: [9], grandchildren: [create(NodeChildrenSchema, { children: [node, node, node, node] })] }, /grandchildren of child 9/],
    ];
    for (const [msg, re] of cases) expect(() => expansionFromProto(create(NodeChildrenSchema, msg), 4)).toThrow(re);
  });
});
