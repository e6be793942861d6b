// A replica's window tree seen through SyncService: the remote side of a Merkle comparison. One
// `expand` is one round trip (GetMerkleNodes and GetLeafPoints are issued together).

import type { Client } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import type { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import { KnownPointsSchema, NodeRefSchema, TreeShapeSchema } from "../gen/soltix/v1/sync_pb.ts";
import { expansionFromProto, summaryFromProto } from "../rpc/merkle-wire.ts";
import type { ExpandRequest, Expansion, TreeSource } from "../merkle/diff.ts";
import { depthOfId, indexOfId, type TreeShape } from "../merkle/shape.ts";
import { VERSION_DIGEST_BYTES, pointVersionOf, type PointVersion } from "../merkle/tree.ts";
import { concatBytes } from "../base/bytes.ts";
import { pointKey } from "../model/point.ts";
import { keyOfEncoding } from "../model/encoding.ts";

/** Child digests requested from peers during a descent (see GetMerkleNodesRequest.digest_bytes). */
export const DESCENT_DIGEST_BYTES = 8;

/** Nodes per GetMerkleNodes call, and point entries (known versions) per GetLeafPoints call. */
const CHILD_NODES_PER_CALL_MAX = 8_192;
const LEAF_ENTRIES_PER_CALL_MAX = 50_000;

/** Splits items into runs whose summed weight stays within max (an item heavier than max goes alone). */
function chunk<T>(items: readonly T[], weight: (t: T) => number, max: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let sum = 0;
  for (const it of items) {
    const w = weight(it);
    if (cur.length > 0 && sum + w > max) {
      out.push(cur);
      cur = [];
      sum = 0;
    }
    cur.push(it);
    sum += w;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function packKnown(points: readonly PointVersion[]): Uint8Array {
  return concatBytes(points.map((p) => p.version));
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
      // Calls are split so no single request or answer exceeds the server's limits or holds a whole
      // window in memory: child requests by node count, leaf requests by the points they carry.
      const nodeChunks = chunk(childReqs, () => 1, CHILD_NODES_PER_CALL_MAX);
      const pointChunks = chunk(pointReqs, (r) => 1 + (r.known?.length ?? 0), LEAF_ENTRIES_PER_CALL_MAX);
      const [nodeAnswers, leafAnswers] = await Promise.all([
        Promise.all(
          nodeChunks.map((c) =>
            client.getMerkleNodes({
              groupId,
              windowStart,
              shape: shapeMsg,
              nodes: c.map((r) => ref(r.id)),
              digestBytes: DESCENT_DIGEST_BYTES,
              mine: c.some((r) => r.mine !== undefined) ? c.map((r) => r.mine ?? new Uint8Array(0)) : [],
            }),
          ),
        ),
        Promise.all(
          pointChunks.map((c) =>
            client.getLeafPoints({
              groupId,
              windowStart,
              shape: shapeMsg,
              nodes: c.map((r) => ref(r.id)),
              withEncodings,
              known: c.some((r) => r.known !== undefined) ? c.map((r) => create(KnownPointsSchema, { entries: packKnown(r.known ?? []) })) : [],
            }),
          ),
        ),
      ]);
      const nodes = { nodes: nodeAnswers.flatMap((a) => a.nodes) };
      const leaves = { nodes: leafAnswers.flatMap((a) => a.nodes) };
      let ci = 0;
      let pi = 0;
      return requests.map((r) => {
        const out: Expansion = {};
        if (r.wantChildren) {
          const n = nodes.nodes[ci++];
          if (n !== undefined) Object.assign(out, expansionFromProto(n, shape.fanout));
          else out.children = [];
        }
        if (r.wantPoints) {
          const leaf = leaves.nodes[pi++];
          out.points = (leaf?.points ?? []).map((p): PointVersion => {
            if (p.encoding.length > 0) return pointVersionOf(keyOfEncoding(p.encoding), p.encoding);
            const key = pointKey(p.key?.database ?? "", p.key?.collection ?? "", p.key?.id ?? "", p.key?.time ?? 0n);
            return { key, version: p.version, enc: p.encoding };
          });
          const missing = leaf?.missing ?? new Uint8Array(0);
          out.missing = [];
          for (let at = 0; at + VERSION_DIGEST_BYTES <= missing.length; at += VERSION_DIGEST_BYTES) out.missing.push(missing.subarray(at, at + VERSION_DIGEST_BYTES));
        }
        return out;
      });
    },
  };
}
