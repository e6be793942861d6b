// Narrowing a mismatch between two replicas' trees of the same window to the points that differ.
// The descent is batched: every round trip expands all mismatched nodes of one level at once (their
// children when both sides have children, their point lists when either side is a leaf there), so
// the cost is one round trip per level, not per node. The remote side is behind `TreeSource`, so the
// same code runs in memory (tests) and over RPC.

import { Buffer } from "node:buffer";
import { bytesEqual } from "../base/bytes.ts";
import { depthOfId, indexOfId, nodeId, type TreeShape } from "./shape.ts";
import type { NodeSummary, PointVersion } from "./tree.ts";

export interface Expansion {
  /** Children summaries, for requests with wantChildren. */
  children?: NodeSummary[];
  /**
   * When the request carried `mine`: for each child (by index) that differs from the caller's and is
   * internal here, that child's own children — the next level, sent before being asked for.
   */
  grandchildren?: Map<number, NodeSummary[]>;
  /**
   * For requests with wantPoints: the node range's points — only those that are missing from, or
   * differ in version from, `known` when the request carried it.
   */
  points?: PointVersion[];
  /** Version digests of `known` points this side does not hold in that version (when the request carried `known`). */
  missing?: Uint8Array[];
}

export interface ExpandRequest {
  id: number;
  wantChildren: boolean;
  wantPoints: boolean;
  /** The requester's own points of the range: the answer then holds only what differs. */
  known?: readonly PointVersion[];
  /** The requester's own children of the node (packMine): the answer then also expands the differing ones. */
  mine?: Uint8Array;
}

/** Bytes of each child digest prefix in a `mine` list: the digest alone decides equality (it covers the counts). */
export const MINE_DIGEST_BYTES = 8;

/** A `mine` list: fanout digest prefixes, zeros for empty children. */
export function packMine(children: readonly NodeSummary[]): Uint8Array {
  const out = new Uint8Array(children.length * MINE_DIGEST_BYTES);
  children.forEach((c, i) => {
    if (c.count > 0) out.set(c.digest.subarray(0, MINE_DIGEST_BYTES), i * MINE_DIGEST_BYTES);
  });
  return out;
}

/** Children a side has under the differing children of a node (the answering side of `mine`). */
export function expandDiffering(
  children: readonly NodeSummary[],
  mine: Uint8Array,
  childDepth: number,
  depthMax: number,
  childrenOf: (childIndex: number) => NodeSummary[],
): Map<number, NodeSummary[]> {
  const out = new Map<number, NodeSummary[]>();
  if (childDepth >= depthMax || mine.length !== children.length * MINE_DIGEST_BYTES) return out;
  const zero = new Uint8Array(MINE_DIGEST_BYTES);
  children.forEach((c, i) => {
    const m = mine.subarray(i * MINE_DIGEST_BYTES, (i + 1) * MINE_DIGEST_BYTES);
    const own = c.count === 0 ? zero : c.digest.subarray(0, MINE_DIGEST_BYTES);
    if (c.leaf || bytesEqual(own, m)) return;
    out.set(i, childrenOf(i));
  });
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/**
 * The answering side's filter, over version digests (each names a (key, version) pair): its points
 * whose version `known` lacks, and the known versions it does not hold.
 */
export function filterAgainstKnown(mine: readonly PointVersion[], known: readonly Uint8Array[]): { points: PointVersion[]; missing: Uint8Array[] } {
  const theirs = new Map(known.map((v) => [hex(v), v]));
  const points: PointVersion[] = [];
  for (const p of mine) {
    const h = hex(p.version);
    if (!theirs.delete(h)) points.push(p);
  }
  return { points, missing: [...theirs.values()] };
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

/** Equal summaries; a peer may send truncated digests, so the common prefix is compared. */
export function sameSummary(a: NodeSummary, b: NodeSummary): boolean {
  if (a.count !== b.count) return false;
  if (a.count === 0) return true;
  const n = Math.min(a.digest.length, b.digest.length);
  return bytesEqual(a.digest.subarray(0, n), b.digest.subarray(0, n));
}

/**
 * `knownRoots`: roots already exchanged (GetMerkleRoots covers many windows in one call);
 * `firstLevel`: the remote's expansion of the root, when it came with the roots (sent against our
 * root children), so the descent starts one round trip further.
 */
export async function diffTrees(
  shape: TreeShape,
  local: TreeSource,
  remote: TreeSource,
  knownRoots?: { local: NodeSummary; remote: NodeSummary },
  firstLevel?: Expansion,
): Promise<DiffResult> {
  const result: DiffResult = { onlyRemote: [], onlyLocal: [], differ: [], remotePoints: new Map(), roundTrips: 0, nodesCompared: 1, leafRanges: 0, matchedInLeaves: 0 };
  let lr: NodeSummary;
  let rr: NodeSummary;
  if (knownRoots !== undefined) ({ local: lr, remote: rr } = knownRoots);
  else {
    [lr, rr] = await Promise.all([local.root(), remote.root()]);
    result.roundTrips++;
  }
  if (sameSummary(lr, rr)) return result;
  let frontier: Array<{ id: number; l: NodeSummary; r: NodeSummary }> = [{ id: nodeId(0, 0), l: lr, r: rr }];
  while (frontier.length > 0) {
    const requests: ExpandRequest[] = frontier.map(({ id, l, r }) => {
      const leafish = l.leaf || r.leaf || depthOfId(id) === shape.depthMax;
      return { id, wantChildren: !leafish, wantPoints: leafish };
    });
    // Local first (in-process): the remote answers point requests against our lists, so only
    // differing points travel, and child requests against our children, so it can send the next
    // level of every differing child at once (two levels per round trip).
    const le = await local.expand(requests);
    const enriched = requests.map((r, i) =>
      r.wantPoints ? { ...r, known: le[i]!.points ?? [] } : { ...r, mine: packMine(le[i]!.children ?? []) },
    );
    let re: Expansion[];
    const root = requests.length === 1 && requests[0]!.id === nodeId(0, 0) && requests[0]!.wantChildren;
    if (root && firstLevel !== undefined && firstLevel.children !== undefined) re = [firstLevel];
    else {
      re = await remote.expand(enriched);
      result.roundTrips++;
    }
    const next: typeof frontier = [];
    const grandRequests: ExpandRequest[] = [];
    const grandRemote: Array<{ id: number; children: NodeSummary[] }> = [];
    requests.forEach((req, i) => {
      if (req.wantPoints) {
        result.leafRanges++;
        comparePoints(le[i]!.points ?? [], re[i]!.points ?? [], re[i]!.missing ?? [], result);
        return;
      }
      const lc = le[i]!.children ?? [];
      const rc = re[i]!.children ?? [];
      const gc = re[i]!.grandchildren ?? new Map<number, NodeSummary[]>();
      const depth = depthOfId(req.id);
      const index = indexOfId(req.id);
      for (let c = 0; c < shape.fanout; c++) {
        const l = lc[c]!;
        const r = rc[c]!;
        result.nodesCompared++;
        if (sameSummary(l, r)) continue;
        const childId = nodeId(depth + 1, index * shape.fanout + c);
        const remoteNext = gc.get(c);
        // The remote already sent this child's children; use them unless our child is a leaf
        // (then the range is compared point by point next round).
        if (remoteNext !== undefined && !l.leaf) {
          grandRequests.push({ id: childId, wantChildren: true, wantPoints: false });
          grandRemote.push({ id: childId, children: remoteNext });
        } else next.push({ id: childId, l, r });
      }
    });
    if (grandRequests.length > 0) {
      const lg = await local.expand(grandRequests);
      grandRemote.forEach(({ id, children }, k) => {
        const mine = lg[k]!.children ?? [];
        const depth = depthOfId(id);
        const index = indexOfId(id);
        for (let c = 0; c < shape.fanout; c++) {
          const l = mine[c]!;
          const r = children[c]!;
          result.nodesCompared++;
          if (!sameSummary(l, r)) next.push({ id: nodeId(depth + 1, index * shape.fanout + c), l, r });
        }
      });
    }
    frontier = next;
  }
  return result;
}

/** Classifies the remote's differing points and the versions it reported missing against our list. */
function comparePoints(local: readonly PointVersion[], remoteDiffering: readonly PointVersion[], missing: readonly Uint8Array[], out: DiffResult): void {
  const localKeys = new Set(local.map((p) => p.key));
  const remoteKeys = new Set<string>();
  let differ = 0;
  for (const r of remoteDiffering) {
    remoteKeys.add(r.key);
    if (localKeys.has(r.key)) {
      out.differ.push(r.key);
      differ++;
    } else out.onlyRemote.push(r.key);
    out.remotePoints.set(r.key, r);
  }
  // A version the remote lacks is ours alone unless it sent another version of the key (a `differ`).
  const missingSet = new Set(missing.map(hex));
  let onlyLocal = 0;
  for (const l of local) {
    if (missingSet.has(hex(l.version)) && !remoteKeys.has(l.key)) {
      out.onlyLocal.push(l.key);
      onlyLocal++;
    }
  }
  out.matchedInLeaves += local.length - onlyLocal - differ;
}
