// Narrowing a mismatch between two replicas' trees of the same window to the points that differ.
// The descent is batched: every round trip expands all mismatched nodes of one level at once (their
// children when both sides have children, their point lists when either side is a leaf there), so
// the cost is one round trip per level, not per node. The remote side is behind `TreeSource`, so the
// same code runs in memory (tests) and over RPC.

import { bytesEqual } from "../base/bytes.ts";
import { depthOfId, indexOfId, nodeId, type TreeShape } from "./shape.ts";
import type { NodeSummary, PointVersion } from "./tree.ts";

export interface Expansion {
  /** Children summaries, for requests with wantChildren. */
  children?: NodeSummary[];
  /** Point list of the node's range, for requests with wantPoints. */
  points?: PointVersion[];
}

export interface ExpandRequest {
  id: number;
  wantChildren: boolean;
  wantPoints: boolean;
}

/** One side of a comparison. `expand` answers many nodes in one call (one round trip remotely). */
export interface TreeSource {
  root(): Promise<NodeSummary>;
  expand(requests: readonly ExpandRequest[]): Promise<Expansion[]>;
}

export interface DiffResult {
  /** Keys the remote holds and the local side lacks. */
  onlyRemote: string[];
  /** Keys the local side holds and the remote lacks. */
  onlyLocal: string[];
  /** Keys both hold in different versions. */
  differ: string[];
  /** Remote point lists seen at the leaves (what a repair can pull from). */
  remotePoints: Map<string, PointVersion>;
  roundTrips: number;
  nodesCompared: number;
  leafRanges: number;
  /** Points present in the same version on both sides of the compared leaf ranges. */
  matchedInLeaves: number;
}

function same(a: NodeSummary, b: NodeSummary): boolean {
  return a.count === b.count && bytesEqual(a.digest, b.digest);
}

/** `knownRoots`: roots already exchanged (GetMerkleRoots covers many windows in one call). */
export async function diffTrees(shape: TreeShape, local: TreeSource, remote: TreeSource, knownRoots?: { local: NodeSummary; remote: NodeSummary }): Promise<DiffResult> {
  const result: DiffResult = { onlyRemote: [], onlyLocal: [], differ: [], remotePoints: new Map(), roundTrips: 0, nodesCompared: 1, leafRanges: 0, matchedInLeaves: 0 };
  let lr: NodeSummary;
  let rr: NodeSummary;
  if (knownRoots !== undefined) ({ local: lr, remote: rr } = knownRoots);
  else {
    [lr, rr] = await Promise.all([local.root(), remote.root()]);
    result.roundTrips++;
  }
  if (same(lr, rr)) return result;
  let frontier: Array<{ id: number; l: NodeSummary; r: NodeSummary }> = [{ id: nodeId(0, 0), l: lr, r: rr }];
  while (frontier.length > 0) {
    const requests: ExpandRequest[] = frontier.map(({ id, l, r }) => {
      const leafish = l.leaf || r.leaf || depthOfId(id) === shape.depthMax;
      return { id, wantChildren: !leafish, wantPoints: leafish };
    });
    const [le, re] = await Promise.all([local.expand(requests), remote.expand(requests)]);
    result.roundTrips++;
    const next: typeof frontier = [];
    requests.forEach((req, i) => {
      if (req.wantPoints) {
        result.leafRanges++;
        comparePoints(le[i]!.points ?? [], re[i]!.points ?? [], result);
        return;
      }
      const lc = le[i]!.children ?? [];
      const rc = re[i]!.children ?? [];
      const depth = depthOfId(req.id);
      const index = indexOfId(req.id);
      for (let c = 0; c < shape.fanout; c++) {
        const l = lc[c]!;
        const r = rc[c]!;
        result.nodesCompared++;
        if (!same(l, r)) next.push({ id: nodeId(depth + 1, index * shape.fanout + c), l, r });
      }
    });
    frontier = next;
  }
  return result;
}

/** Merge-compares two key-sorted point lists. */
function comparePoints(local: readonly PointVersion[], remote: readonly PointVersion[], out: DiffResult): void {
  let i = 0;
  let j = 0;
  while (i < local.length || j < remote.length) {
    const l = local[i];
    const r = remote[j];
    if (r === undefined || (l !== undefined && l.key < r.key)) {
      out.onlyLocal.push(l!.key);
      i++;
    } else if (l === undefined || r.key < l.key) {
      out.onlyRemote.push(r.key);
      out.remotePoints.set(r.key, r);
      j++;
    } else {
      if (!bytesEqual(l.version, r.version)) {
        out.differ.push(l.key);
        out.remotePoints.set(r.key, r);
      } else out.matchedInLeaves++;
      i++;
      j++;
    }
  }
}
