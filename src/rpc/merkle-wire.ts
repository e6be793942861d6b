// Tree summaries on the wire (SyncService messages), both directions: what a node answers and what
// the caller makes of it. Peers' answers are checked, never trusted for shape.

import { create } from "@bufbuild/protobuf";
import { MerkleNodeSchema, NodeChildrenSchema, type MerkleNode, type NodeChildren } from "../gen/soltix/v1/sync_pb.ts";
import { SoltixError } from "../base/errors.ts";
import type { Expansion } from "../merkle/diff.ts";
import { EMPTY_NODE, type NodeSummary } from "../merkle/tree.ts";

/** A node summary, its digest cut to `digestBytes` (empty ranges send no digest: all zeros by definition). */
export function merkleNodeToProto(n: NodeSummary, digestBytes = n.digest.length): MerkleNode {
  return create(MerkleNodeSchema, { digest: n.count === 0 ? new Uint8Array(0) : n.digest.subarray(0, digestBytes), count: BigInt(n.count), leaf: n.leaf });
}

export function summaryFromProto(n: MerkleNode | undefined): NodeSummary {
  if (n === undefined || n.count === 0n) return EMPTY_NODE;
  return { digest: n.digest, count: Number(n.count), leaf: n.leaf };
}

/** Children (undefined = equal to the caller's, left out) and the grandchildren sent along. */
export function nodeChildrenToProto(children: ReadonlyArray<NodeSummary | undefined>, grandchildren: ReadonlyMap<number, NodeSummary[]> | undefined, digestBytes: number): NodeChildren {
  const partial = children.some((c) => c === undefined);
  const listed = new Uint8Array(partial ? Math.ceil(children.length / 8) : 0);
  if (partial) children.forEach((c, i) => c !== undefined && (listed[i >> 3]! |= 1 << (i & 7)));
  const g = grandchildren ?? new Map<number, NodeSummary[]>();
  return create(NodeChildrenSchema, {
    children: children.filter((c) => c !== undefined).map((c) => merkleNodeToProto(c, digestBytes)),
    expanded: [...g.keys()],
    grandchildren: [...g.values()].map((gs) => create(NodeChildrenSchema, { children: gs.map((c) => merkleNodeToProto(c, digestBytes)) })),
    listed,
  });
}

function malformed(what: string): never {
  throw new SoltixError("internal", `peer sent a malformed tree answer: ${what}`);
}

/** An Expansion from a peer's NodeChildren answer (children plus the grandchildren it expanded). */
export function expansionFromProto(n: NodeChildren, fanout: number): Expansion {
  let children: Array<NodeSummary | undefined>;
  if (n.listed.length === 0) {
    if (n.children.length !== fanout && n.children.length !== 0) malformed(`${n.children.length} children, fanout ${fanout}`);
    children = n.children.map(summaryFromProto);
  } else {
    if (n.listed.length !== Math.ceil(fanout / 8)) malformed(`listed bitmap of ${n.listed.length} bytes for fanout ${fanout}`);
    let next = 0;
    children = [];
    for (let c = 0; c < fanout; c++) children.push((n.listed[c >> 3]! >> (c & 7)) & 1 ? summaryFromProto(n.children[next++] ?? malformed("fewer children than listed")) : undefined);
    if (next !== n.children.length) malformed("more children than listed");
  }
  const out: Expansion = { children };
  if (n.expanded.length > 0) {
    out.grandchildren = new Map(
      n.expanded.map((c, k) => {
        const gs = (n.grandchildren[k]?.children ?? []).map(summaryFromProto);
        if (c >= fanout || gs.length !== fanout) malformed(`grandchildren of child ${c}`);
        return [c, gs];
      }),
    );
  }
  return out;
}
