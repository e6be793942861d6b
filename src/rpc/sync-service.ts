// SyncService: what replicas ask of each other. GetLastTimestamp answers from the index;
// StreamPoints walks (window, key) order in bounded batches and can resume from any batch's cursor;
// GetChecksum is the flat SHA-256 of one 24 h window, the same function on both sides.

import type { ServiceImpl } from "@connectrpc/connect";
import { windowsDigest } from "../merkle/windows-digest.ts";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { SoltixError, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { NS_PER_DAY, TIME_MAX_NS, isWindowStart, windowStartNs } from "../base/time.ts";
import { keyParts, pointKey } from "../model/point.ts";
import { timeOfEncoding } from "../model/encoding.ts";
import { validateId, validateName, validateTimeNs } from "../model/validate.ts";
import {
  SyncService,
  StreamPointsResponseSchema,
  FetchWindowResponseSchema,
  GetMerkleRootsResponseSchema,
  GetMerkleNodesResponseSchema,
  GetLeafPointsResponseSchema,
  LeafPointsSchema,
  PointVersionSchema,
  TreeShapeSchema,
  WindowRootSchema,
  type NodeRef,
  type StreamPointsRequest,
  type FetchWindowRequest,
  type TreeShape as PbTreeShape,
} from "../gen/soltix/v1/sync_pb.ts";
import { PointKeySchema } from "../gen/soltix/v1/point_pb.ts";
import { depthMaxFor, type TreeShape } from "../merkle/shape.ts";
import { VERSION_DIGEST_BYTES, type NodeSummary } from "../merkle/tree.ts";
import { forEachBounded } from "../base/bounded.ts";
import { MINE_DIGEST_BYTES, answerChildren, filterAgainstKnown } from "../merkle/diff.ts";
import { merkleNodeToProto, nodeChildrenToProto } from "./merkle-wire.ts";
import { bytesEqual, concatBytes } from "../base/bytes.ts";
import type { Point as PbPoint, PointKey } from "../gen/soltix/v1/point_pb.ts";
import { pointToProtoFromEncoding } from "./convert.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { pageSize, timeRange } from "./storage-service.ts";
import type { NodeContext } from "./context.ts";
import { fromHex } from "../base/sha256.ts";
import { exchangePoints, sketchAnswer, wantsSketches } from "./sketch-answer.ts";

export function validateGroup(field: string, group: number, totalGroups: number): void {
  if (group >= totalGroups) throw invalidArgument(field, `${group} is not a group (coordinator.total_groups is ${totalGroups})`);
}

function keyFromProto(field: string, k: PointKey): string {
  validateName(`${field}.database`, k.database);
  validateName(`${field}.collection`, k.collection);
  validateId(`${field}.id`, k.id);
  validateTimeNs(`${field}.time`, k.time);
  return pointKey(k.database, k.collection, k.id, k.time);
}

/** Windows in one GetMerkleRoots call. */
const MERKLE_WINDOWS_MAX = 4_096;
/** Window roots of one GetMerkleRoots computed at once. */
const ROOTS_IN_FLIGHT = 4;
/** Nodes in one GetMerkleNodes / GetLeafPoints call. */
const MERKLE_NODES_PER_CALL_MAX = 65_536;
/** Points returned by one GetLeafPoints call. */
const LEAF_POINTS_PER_CALL_MAX = 200_000;

/** Parses packed version digests (each names a (key, version) pair). */
function unpackKnown(field: string, bytes: Uint8Array): Uint8Array[] {
  if (bytes.length % VERSION_DIGEST_BYTES !== 0) throw invalidArgument(field, `${bytes.length} bytes is not a multiple of ${VERSION_DIGEST_BYTES}`);
  if (bytes.length / VERSION_DIGEST_BYTES > LEAF_POINTS_PER_CALL_MAX) throw resourceExhausted(field, `over ${LEAF_POINTS_PER_CALL_MAX} entries`);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += VERSION_DIGEST_BYTES) out.push(bytes.subarray(at, at + VERSION_DIGEST_BYTES));
  return out;
}

export function validateWindowStart(field: string, ws: bigint): void {
  if (!isWindowStart(ws) || ws < 0n || ws >= TIME_MAX_NS) {
    throw invalidArgument(field, `${ws} is not a UTC midnight in ns (a multiple of ${NS_PER_DAY})`);
  }
}

function shapeFromProto(field: string, s: PbTreeShape | undefined, defaults: TreeShape): TreeShape {
  if (s === undefined || (s.fanout === 0 && s.depthMax === 0 && s.leafPointsMax === 0 && s.seriesBits === 0)) return defaults;
  const fanout = s.fanout === 0 ? defaults.fanout : s.fanout;
  if (fanout < 2 || fanout > 64 || (fanout & (fanout - 1)) !== 0) throw invalidArgument(`${field}.fanout`, `${fanout} must be a power of two in [2, 64]`);
  const depthMax = s.depthMax === 0 ? depthMaxFor(fanout) : s.depthMax;
  if (depthMax < 1 || fanout ** depthMax > 2 ** 24) throw invalidArgument(`${field}.depth_max`, `${depthMax}: fanout^depth_max must be at most 2^24`);
  const leafPointsMax = s.leafPointsMax === 0 ? defaults.leafPointsMax : s.leafPointsMax;
  if (leafPointsMax > 4096) throw invalidArgument(`${field}.leaf_points_max`, `${leafPointsMax}, limit 4096`);
  const seriesBits = s.seriesBits;
  if (fanout ** depthMax < 16 * 2 ** seriesBits) throw invalidArgument(`${field}.series_bits`, `${seriesBits} leaves fewer than 16 time slots in a grid of ${fanout}^${depthMax}`);
  return { fanout, depthMax, leafPointsMax, seriesBits };
}

function shapeToProto(s: TreeShape): PbTreeShape {
  return create(TreeShapeSchema, { fanout: s.fanout, depthMax: s.depthMax, leafPointsMax: s.leafPointsMax, seriesBits: s.seriesBits });
}

function nodeRefs(nodes: readonly NodeRef[], shape: TreeShape): Array<[number, number]> {
  if (nodes.length > MERKLE_NODES_PER_CALL_MAX) throw resourceExhausted("nodes", `${nodes.length} nodes, limit ${MERKLE_NODES_PER_CALL_MAX}`);
  return nodes.map((n, i) => {
    if (n.depth > shape.depthMax) throw invalidArgument(`nodes[${i}].depth`, `${n.depth} is deeper than depth_max ${shape.depthMax}`);
    if (n.index >= shape.fanout ** n.depth) throw invalidArgument(`nodes[${i}].index`, `${n.index} does not exist at depth ${n.depth} (fanout ${shape.fanout})`);
    return [n.depth, n.index];
  });
}

/** A StreamPoints batch: canonical encodings in (window, key) order and the cursor that resumes after them. */
export interface PointPage {
  encs: Uint8Array[];
  cursor: string;
}

/**
 * StreamPoints' walk, shared by the Connect handler and the binary fast path (rpc/stream-points-route.ts):
 * validates the request, then yields batches of `batch_size` points window by window; stops when
 * `aborted()` turns true, and fails with deadline_exceeded past LIMITS.streamDeadlineMs (the caller
 * resumes from the last cursor).
 */
export async function* streamPointPages(req: StreamPointsRequest, ctx: NodeContext, aborted: () => boolean): AsyncGenerator<PointPage> {
  validateGroup("group_id", req.groupId, ctx.totalGroups);
  const [start, end] = timeRange("start_time", req.startTime, "end_time", req.endTime);
  const batch = pageSize("batch_size", req.batchSize);
  const keyLo = req.keyStart === undefined ? "" : keyFromProto("key_start", req.keyStart);
  const keyHi = req.keyEnd === undefined ? undefined : keyFromProto("key_end", req.keyEnd);
  if (keyHi !== undefined && keyHi <= keyLo) throw invalidArgument("key_end", "must be after key_start");
  const cursor = req.cursor === "" ? undefined : decodeCursor("cursor", req.cursor);
  if (cursor !== undefined && cursor.g !== req.groupId) throw invalidArgument("cursor", `belongs to group ${cursor.g}, not ${req.groupId}`);
  const startedMs = ctx.clock.monotonicMs();
  const firstWindow = windowStartNs(start);
  let encs: Uint8Array[] = [];
  for (const ws of ctx.engine.windowsOf(req.groupId)) {
    if (ws < firstWindow || ws >= end) continue;
    if (cursor !== undefined && ws < cursor.w) continue;
    const resumeAfter = cursor !== undefined && ws === cursor.w ? cursor.k : undefined;
    const from = resumeAfter !== undefined && resumeAfter >= keyLo ? `${resumeAfter}\u0000` : keyLo;
    for await (const r of ctx.engine.scanWindow(req.groupId, ws, from, keyHi)) {
      const t = timeOfEncoding(r.enc);
      if (t < start || t >= end) continue;
      encs.push(r.enc);
      if (encs.length === batch) {
        yield { encs, cursor: encodeCursor({ g: req.groupId, w: ws, k: r.key }) };
        encs = [];
        if (aborted()) return;
        if (ctx.clock.monotonicMs() - startedMs > LIMITS.streamDeadlineMs) {
          throw new SoltixError("deadline_exceeded", `StreamPoints ran over ${LIMITS.streamDeadlineMs} ms; resume from the last cursor`);
        }
      }
    }
    if (encs.length > 0) {
      yield { encs, cursor: encodeCursor({ g: req.groupId, w: ws, k: "\uffff" }) };
      encs = [];
    }
  }
}

/** FetchWindow: the largest segment file a node ships (a larger window is streamed as points). */
export const WINDOW_FILE_BYTES_MAX = 256 * 1024 * 1024;
/** FetchWindow: bytes per message. */
const WINDOW_FILE_CHUNK_BYTES = 1024 * 1024;

/**
 * FetchWindow's messages: the window's file (Engine.windowSegment) in chunks, the first with the
 * file's size and point count; one message of size 0 when the window holds no point.
 */
export async function* windowFileMessages(req: FetchWindowRequest, ctx: NodeContext): AsyncGenerator<MessageInitShape<typeof FetchWindowResponseSchema>> {
  validateGroup("group_id", req.groupId, ctx.totalGroups);
  validateWindowStart("window_start", req.windowStart);
  const limit = req.bytesMax === 0n || req.bytesMax > BigInt(WINDOW_FILE_BYTES_MAX) ? WINDOW_FILE_BYTES_MAX : Number(req.bytesMax);
  const file = await ctx.engine.windowSegment(req.groupId, req.windowStart);
  if (file === undefined) {
    yield { totalBytes: 0n, pointCount: 0 };
    return;
  }
  if (file.bytes.length > limit) throw resourceExhausted("bytes_max", `window ${req.windowStart} of group ${req.groupId} is a ${file.bytes.length}-byte file, limit ${limit}`);
  for (let at = 0; at < file.bytes.length; at += WINDOW_FILE_CHUNK_BYTES) {
    const chunk = file.bytes.subarray(at, at + WINDOW_FILE_CHUNK_BYTES);
    yield at === 0 ? { chunk, totalBytes: BigInt(file.bytes.length), pointCount: file.count } : { chunk };
  }
}

export function syncService(ctx: NodeContext): ServiceImpl<typeof SyncService> {
  return {
    getLastTimestamp(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      return { timestamp: ctx.engine.lastTimestamp(req.groupId) };
    },

    async *streamPoints(req, call) {
      for await (const page of streamPointPages(req, ctx, () => call.signal.aborted)) {
        yield create(StreamPointsResponseSchema, { points: page.encs.map(pointToProtoFromEncoding), cursor: page.cursor });
      }
    },

    async *fetchWindow(req) {
      for await (const m of windowFileMessages(req, ctx)) yield create(FetchWindowResponseSchema, m);
    },

    async getMerkleRoots(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      const shape = shapeFromProto("shape", req.shape, ctx.treeShape);
      // Several windows at once: a root not summarised yet is built by a Compute task.
      const rootsOf = async (ws: readonly bigint[]) => {
        const out: Array<{ root: NodeSummary }> = new Array(ws.length);
        await forEachBounded(ws.keys(), ROOTS_IN_FLIGHT, async (i) => {
          out[i] = await ctx.engine.windowRoot(req.groupId, ws[i]!, shape);
        });
        return out;
      };
      if (req.windows.length > MERKLE_WINDOWS_MAX) throw resourceExhausted("windows", `${req.windows.length} windows, limit ${MERKLE_WINDOWS_MAX}`);
      req.windows.forEach((w, i) => validateWindowStart(`windows[${i}]`, w));
      const windows = req.windows.length > 0 ? [...new Set(req.windows)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : ctx.engine.windowsOf(req.groupId);
      if (req.mine.length > MERKLE_WINDOWS_MAX) throw resourceExhausted("mine", `${req.mine.length} windows, limit ${MERKLE_WINDOWS_MAX}`);
      if (req.tombstonesDigest.length !== 0 && req.tombstonesDigest.length !== 32) throw invalidArgument("tombstones_digest", `${req.tombstonesDigest.length} bytes, expected 32 (SHA-256) or none`);
      // The group's tombstones are part of its data: when the caller's differ, it gets ours (and the
      // ids we purged lately) in this same answer.
      const tombstones = tombstonesAnswer(ctx, req.groupId, req.tombstonesDigest);
      if (req.windowsDigest.length > 0) {
        if (req.windowsDigest.length !== 32) throw invalidArgument("windows_digest", `${req.windowsDigest.length} bytes, expected 32 (SHA-256)`);
        validateWindowStart("from_window", req.fromWindow);
        const from = windows.filter((w) => w >= req.fromWindow);
        const entries = (await rootsOf(from)).map((r, i) => ({ windowStart: from[i]!, root: r.root }));
        return create(GetMerkleRootsResponseSchema, { shape: shapeToProto(shape), windowsEqual: bytesEqual(windowsDigest(entries), req.windowsDigest), ...tombstones });
      }
      const mine = new Map(req.mine.map((m) => [m.windowStart, m]));
      const roots = [];
      // The root alone (a compacted window answers from its summary, reading no point); the tree
      // only when the caller's root differs and wants the levels below — not when the caller holds
      // nothing of the window (an empty root): it takes the window whole.
      const ours = await rootsOf(windows);
      const sketches = wantsSketches(req.sketchFormat);
      const mineIndex = new Map(req.mine.map((m, i) => [m.windowStart, i]));
      for (const [i, w] of windows.entries()) {
        const { root } = ours[i]!;
        const theirs = mine.get(w);
        let firstLevel;
        let sketch;
        let withFirstLevel = true;
        const differs = theirs !== undefined && theirs.root.length > 0 && !bytesEqual(root.digest.subarray(0, MINE_DIGEST_BYTES), theirs.root);
        // Sketches first: when the difference peels here, the answer carries it and no tree level.
        if (differs && sketches) ({ answer: sketch, firstLevel: withFirstLevel } = await sketchAnswer(ctx, req.groupId, w, shape, `mine[${mineIndex.get(w)}]`, theirs, root.count));
        // The first level for the descent, unless the sketch settles it: decoded here, or symbols for the
        // caller to peel (sized to decode 99 times in 100; should they not, it descends from the root).
        if (differs && !root.leaf && withFirstLevel) {
          const tree = await ctx.engine.windowTree(req.groupId, w, shape);
          const a = answerChildren(tree.children(0, 0), theirs.children, 1, shape.depthMax, (c) => tree.children(1, c));
          firstLevel = nodeChildrenToProto(a.children, a.grandchildren, MINE_DIGEST_BYTES);
        }
        roots.push(create(WindowRootSchema, { windowStart: w, root: merkleNodeToProto(root), ...(firstLevel === undefined ? {} : { firstLevel }), ...(sketch === undefined ? {} : { sketch }) }));
      }
      return create(GetMerkleRootsResponseSchema, { roots, shape: shapeToProto(shape), ...tombstones });
    },

    async exchangePoints(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      validateWindowStart("window_start", req.windowStart);
      return exchangePoints(ctx, req, ctx.treeShape);
    },

    async getMerkleNodes(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      validateWindowStart("window_start", req.windowStart);
      const shape = shapeFromProto("shape", req.shape, ctx.treeShape);
      const refs = nodeRefs(req.nodes, shape);
      const digestBytes = req.digestBytes === 0 ? 32 : req.digestBytes;
      if (digestBytes < 8 || digestBytes > 32) throw invalidArgument("digest_bytes", `${req.digestBytes} must be 0 or in [8, 32]`);
      if (req.mine.length > 0 && req.mine.length !== refs.length) throw invalidArgument("mine", `${req.mine.length} lists for ${refs.length} nodes (give one per node, or none)`);
      const tree = await ctx.engine.windowTree(req.groupId, req.windowStart, shape);
      return create(GetMerkleNodesResponseSchema, {
        nodes: refs.map(([d, i], n) => {
          const children = d >= shape.depthMax ? [] : tree.children(d, i);
          const mine = req.mine[n];
          if (mine === undefined || mine.length === 0 || children.length === 0) return nodeChildrenToProto(children, undefined, digestBytes);
          if (mine.length !== children.length * MINE_DIGEST_BYTES) throw invalidArgument(`mine[${n}]`, `${mine.length} bytes, expected ${children.length * MINE_DIGEST_BYTES} (fanout × ${MINE_DIGEST_BYTES})`);
          const a = answerChildren(children, mine, d + 1, shape.depthMax, (c) => tree.children(d + 1, i * shape.fanout + c));
          return nodeChildrenToProto(a.children, a.grandchildren, digestBytes);
        }),
      });
    },

    async getLeafPoints(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      validateWindowStart("window_start", req.windowStart);
      const shape = shapeFromProto("shape", req.shape, ctx.treeShape);
      const refs = nodeRefs(req.nodes, shape);
      const tree = await ctx.engine.windowTree(req.groupId, req.windowStart, shape);
      let total = 0;
      if (req.known.length > 0 && req.known.length !== refs.length) {
        throw invalidArgument("known", `${req.known.length} lists for ${refs.length} nodes (give one per node, or none)`);
      }
      const nodes = refs.map(([d, i], n) => {
        let pts = tree.points(d, i);
        let missing: Uint8Array = new Uint8Array(0);
        const known = req.known[n];
        if (known !== undefined) {
          const f = filterAgainstKnown(pts, unpackKnown(`known[${n}].entries`, known.entries));
          pts = f.points;
          missing = concatBytes(f.missing);
        }
        total += pts.length;
        if (total > LEAF_POINTS_PER_CALL_MAX) throw resourceExhausted("nodes", `ranges hold over ${LEAF_POINTS_PER_CALL_MAX} points; ask for fewer or deeper nodes`);
        return create(LeafPointsSchema, {
          points: pts.map((p) => {
            // The encoding carries the key and determines the version digest: send it alone.
            if (req.withEncodings) return create(PointVersionSchema, { encoding: p.enc });
            const k = keyParts(p.key);
            return create(PointVersionSchema, {
              key: create(PointKeySchema, { database: k.database, collection: k.collection, id: k.id, time: k.timeNs }),
              version: p.version,
            });
          }),
          missing,
        });
      });
      return create(GetLeafPointsResponseSchema, { nodes });
    },

    async getChecksum(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      validateWindowStart("window_start", req.windowStart);
      const c = await ctx.engine.windowChecksum(req.groupId, req.windowStart);
      return { sha256: c.sha256Hex, pointCount: BigInt(c.pointCount) };
    },
  };
}

/** The tombstone part of a GetMerkleRoots answer: nothing when the caller's digest is ours. */
function tombstonesAnswer(ctx: NodeContext, group: number, theirs: Uint8Array): { tombstonesDiffer?: boolean; tombstones?: Uint8Array[]; purgedTombstones?: Uint8Array[] } {
  if (bytesEqual(ctx.engine.tombstoneDigest(group), theirs)) return {};
  const held = ctx.engine.tombstonesOf(group);
  return { tombstonesDiffer: true, tombstones: held.encodings, purgedTombstones: held.purgedIds.map(fromHex) };
}
