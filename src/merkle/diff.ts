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
  /**
   * Children summaries, for requests with wantChildren. When the request carried `mine`, a child equal
   * to the requester's is left out (undefined): only differing children travel.
   */
  children?: Array<NodeSummary | undefined>;
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

const ZERO_PREFIX = new Uint8Array(MINE_DIGEST_BYTES);

/**
 * The answering side of `mine`: children equal to the requester's are left out (undefined), and the
 * children of every differing internal child come along (the next level, before being asked for).
 */
export function answerChildren(
  children: readonly NodeSummary[],
  mine: Uint8Array,
  childDepth: number,
  depthMax: number,
  childrenOf: (childIndex: number) => NodeSummary[],
): { children: Array<NodeSummary | undefined>; grandchildren: Map<number, NodeSummary[]> } {
  const grandchildren = new Map<number, NodeSummary[]>();
  if (mine.length !== children.length * MINE_DIGEST_BYTES) return { children: [...children], grandchildren };
  const out = children.map((c, i) => {
    const m = mine.subarray(i * MINE_DIGEST_BYTES, (i + 1) * MINE_DIGEST_BYTES);
    if (bytesEqual(c.count === 0 ? ZERO_PREFIX : c.digest.subarray(0, MINE_DIGEST_BYTES), m)) return undefined;
    if (!c.leaf && childDepth < depthMax) grandchildren.set(i, childrenOf(i));
    return c;
  });
  return { children: out, grandchildren };
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
  /** Remote point lists seen at the leaves (what a repair can pull from), unless they went to onRemotePoints. */
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

/** Leaf ranges compared per round trip: bounds what one answer (and a session's memory) holds. */
export const LEAF_NODES_PER_ROUND_MAX = 2_048;

export interface DiffOptions {
  /** Roots already exchanged (GetMerkleRoots covers many windows in one call). */
  knownRoots?: { local: NodeSummary; remote: NodeSummary };
  /**
   * The remote's expansion of the root, when it came with the roots (sent against our root
   * children), so the descent starts one round trip further.
   */
  firstLevel?: Expansion | undefined;
  /**
   * Receives the remote's differing points after every round trip, so a caller can write them as they
   * come; they are then not kept in `remotePoints` (memory stays bounded by one round's answer).
   */
  onRemotePoints?: (points: PointVersion[]) => Promise<void>;
  /** Leaf ranges per round trip (default LEAF_NODES_PER_ROUND_MAX); more go in further round trips. */
  leafNodesPerRound?: number;
}

export async function diffTrees(shape: TreeShape, local: TreeSource, remote: TreeSource, opts: DiffOptions = {}): Promise<DiffResult> {
  const result: DiffResult = { onlyRemote: [], onlyLocal: [], differ: [], remotePoints: new Map(), roundTrips: 0, nodesCompared: 1, leafRanges: 0, matchedInLeaves: 0 };
  let lr: NodeSummary;
  let rr: NodeSummary;
  if (opts.knownRoots !== undefined) ({ local: lr, remote: rr } = opts.knownRoots);
  else {
    [lr, rr] = await Promise.all([local.root(), remote.root()]);
    result.roundTrips++;
  }
  if (sameSummary(lr, rr)) return result;
  const perRound = Math.max(1, opts.leafNodesPerRound ?? LEAF_NODES_PER_ROUND_MAX);
  let frontier: Frontier = [{ id: nodeId(0, 0), l: lr, r: rr }];
  while (frontier.length > 0) {
    const requests: ExpandRequest[] = frontier.map(({ id, l, r }) => {
      const leafish = l.leaf || r.leaf || depthOfId(id) === shape.depthMax;
      return { id, wantChildren: !leafish, wantPoints: leafish };
    });
    // Every child request goes in the first round trip of the level; leaf ranges at most perRound a trip.
    const childReqs = requests.filter((r) => r.wantChildren);
    const pointReqs = requests.filter((r) => r.wantPoints);
    const next: Frontier = [];
    for (let at = 0, first = true; first || at < pointReqs.length; at += perRound, first = false) {
      const batch = [...(first ? childReqs : []), ...pointReqs.slice(at, at + perRound)];
      await expandRound(shape, local, remote, batch, opts, result, next);
    }
    frontier = next;
  }
  return result;
}

type Frontier = Array<{ id: number; l: NodeSummary; r: NodeSummary }>;

/** One round trip: expands a batch of mismatched nodes on both sides; differing children join `next`. */
async function expandRound(shape: TreeShape, local: TreeSource, remote: TreeSource, requests: ExpandRequest[], opts: DiffOptions, result: DiffResult, next: Frontier): Promise<void> {
  // Local first (in-process): the remote answers point requests against our lists, so only
  // differing points travel, and child requests against our children, so it leaves out the equal
  // ones and sends the next level of every differing child at once (two levels per round trip).
  const le = await local.expand(requests);
  const enriched = requests.map((r, i) =>
    r.wantPoints ? { ...r, known: le[i]!.points ?? [] } : { ...r, mine: packMine((le[i]!.children ?? []) as NodeSummary[]) },
  );
  let re: Expansion[];
  const root = requests.length === 1 && requests[0]!.id === nodeId(0, 0) && requests[0]!.wantChildren;
  if (root && opts.firstLevel?.children !== undefined) re = [opts.firstLevel];
  else {
    re = await remote.expand(enriched);
    result.roundTrips++;
  }
  const grandRequests: ExpandRequest[] = [];
  const grandRemote: Array<{ id: number; children: NodeSummary[] }> = [];
  const pulled: PointVersion[] = [];
  requests.forEach((req, i) => {
    if (req.wantPoints) {
      result.leafRanges++;
      comparePoints(le[i]!.points ?? [], re[i]!.points ?? [], re[i]!.missing ?? [], result, opts.onRemotePoints === undefined ? undefined : pulled);
      return;
    }
    const lc = (le[i]!.children ?? []) as NodeSummary[]; // the local side answers in full
    const rc = re[i]!.children ?? [];
    const gc = re[i]!.grandchildren ?? new Map<number, NodeSummary[]>();
    const depth = depthOfId(req.id);
    const index = indexOfId(req.id);
    for (let c = 0; c < shape.fanout; c++) {
      const l = lc[c]!;
      const r = rc[c];
      result.nodesCompared++;
      if (r === undefined || sameSummary(l, r)) continue; // left out by the remote: equal to ours
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
      const mine = (lg[k]!.children ?? []) as NodeSummary[];
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
  if (opts.onRemotePoints !== undefined && pulled.length > 0) await opts.onRemotePoints(pulled);
}

/**
 * Classifies the remote's differing points and the versions it reported missing against our list.
 * The remote's points go to `sink` when given, else into out.remotePoints.
 */
function comparePoints(local: readonly PointVersion[], remoteDiffering: readonly PointVersion[], missing: readonly Uint8Array[], out: DiffResult, sink: PointVersion[] | undefined): void {
  const localKeys = new Set(local.map((p) => p.key));
  const remoteKeys = new Set<string>();
  let differ = 0;
  for (const r of remoteDiffering) {
    remoteKeys.add(r.key);
    if (localKeys.has(r.key)) {
      out.differ.push(r.key);
      differ++;
    } else out.onlyRemote.push(r.key);
    if (sink !== undefined) sink.push(r);
    else out.remotePoints.set(r.key, r);
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
