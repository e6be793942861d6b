// A replica's window tree seen through SyncService: the remote side of a Merkle comparison. One
// `expand` is one round trip (GetMerkleNodes and GetLeafPoints are issued together).

import type { Client } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import type { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import { KnownPointsSchema, NodeRefSchema, TreeShapeSchema, type MerkleNode } from "../gen/soltix/v1/sync_pb.ts";
import type { ExpandRequest, Expansion, TreeSource } from "../merkle/diff.ts";
import { depthOfId, indexOfId, type TreeShape } from "../merkle/shape.ts";
import { EMPTY_NODE, KEY_HASH_BYTES, keyHashOf, pointVersionOf, type NodeSummary, type PointVersion } from "../merkle/tree.ts";
import { concatBytes } from "../base/bytes.ts";
import { pointKey } from "../model/point.ts";
import { keyOfEncoding } from "../model/encoding.ts";

function summaryFromProto(n: MerkleNode | undefined): NodeSummary {
  if (n === undefined || n.count === 0n) return EMPTY_NODE;
  return { digest: n.digest, count: Number(n.count), leaf: n.leaf };
}

/** Child digests requested from peers during a descent (see GetMerkleNodesRequest.digest_bytes). */
export const DESCENT_DIGEST_BYTES = 8;

function packKnown(points: readonly PointVersion[]): Uint8Array {
  return concatBytes(points.flatMap((p) => [p.keyHash, p.version]));
}

export function rpcTreeSource(client: Client<typeof SyncService>, groupId: number, windowStart: bigint, shape: TreeShape, withEncodings = true): TreeSource {
  const shapeMsg = create(TreeShapeSchema, { fanout: shape.fanout, depthMax: shape.depthMax, leafPointsMax: shape.leafPointsMax, seriesBits: shape.seriesBits });
  return {
    async root() {
      const res = await client.getMerkleRoots({ groupId, windows: [windowStart], shape: shapeMsg });
      return summaryFromProto(res.roots.find((r) => r.windowStart === windowStart)?.root);
    },
    async expand(requests: readonly ExpandRequest[]): Promise<Expansion[]> {
      const childReqs = requests.filter((r) => r.wantChildren);
      const pointReqs = requests.filter((r) => r.wantPoints);
      const ref = (id: number) => create(NodeRefSchema, { depth: depthOfId(id), index: indexOfId(id) });
      const [nodes, leaves] = await Promise.all([
        childReqs.length === 0
          ? undefined
          : client.getMerkleNodes({
              groupId,
              windowStart,
              shape: shapeMsg,
              nodes: childReqs.map((r) => ref(r.id)),
              digestBytes: DESCENT_DIGEST_BYTES,
              mine: childReqs.some((r) => r.mine !== undefined) ? childReqs.map((r) => r.mine ?? new Uint8Array(0)) : [],
            }),
        pointReqs.length === 0
          ? undefined
          : client.getLeafPoints({
              groupId,
              windowStart,
              shape: shapeMsg,
              nodes: pointReqs.map((r) => ref(r.id)),
              withEncodings,
              known: pointReqs.some((r) => r.known !== undefined) ? pointReqs.map((r) => create(KnownPointsSchema, { entries: packKnown(r.known ?? []) })) : [],
            }),
      ]);
      let ci = 0;
      let pi = 0;
      return requests.map((r) => {
        const out: Expansion = {};
        if (r.wantChildren) {
          const n = nodes!.nodes[ci++];
          out.children = (n?.children ?? []).map(summaryFromProto);
          if (n !== undefined && n.expanded.length > 0) {
            out.grandchildren = new Map(n.expanded.map((c, k) => [c, (n.grandchildren[k]?.children ?? []).map(summaryFromProto)]));
          }
        }
        if (r.wantPoints) {
          const leaf = leaves!.nodes[pi++];
          out.points = (leaf?.points ?? []).map((p): PointVersion => {
            if (p.encoding.length > 0) return pointVersionOf(keyOfEncoding(p.encoding), p.encoding);
            const key = pointKey(p.key?.database ?? "", p.key?.collection ?? "", p.key?.id ?? "", p.key?.time ?? 0n);
            return { key, keyHash: keyHashOf(key), version: p.version, enc: p.encoding };
          });
          const missing = leaf?.missing ?? new Uint8Array(0);
          out.missing = [];
          for (let at = 0; at + KEY_HASH_BYTES <= missing.length; at += KEY_HASH_BYTES) out.missing.push(missing.subarray(at, at + KEY_HASH_BYTES));
        }
        return out;
      });
    },
  };
}
