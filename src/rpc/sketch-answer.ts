// The answering side of sketch reconciliation (GetMerkleRoots with sketch_format, ExchangePoints).
// A caller that sent its first symbols gets the decoded difference: the points it lacks (or holds in
// another version) in the same answer, and the ids of its points this node lacks — one round trip,
// two when it has points to give. When they do not peel (or none were sent), it gets this node's
// symbols sized by the difference as the count gap and the caller's empty symbols estimate it, to
// peel on its side — a probe of 256 when its size is unknown; nothing when the difference looks too
// large for a sketch to pay. Unless the answer settles the window, the tree's first level goes beside
// it, so a descent loses no round trip.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { invalidArgument, resourceExhausted } from "../base/errors.ts";
import { SKETCH_FORMAT_VERSION, estimateDifference, type DifferenceEstimate, decodeSymbols, encodeSymbols, idKey, itemIdOf, packIds, peel, symbolsFor, unpackIds, type Sketch } from "../merkle/riblt.ts";
import type { TreeShape } from "../merkle/shape.ts";
import { ExchangePointsResponseSchema, SketchAnswerSchema, type ExchangePointsRequest, type RootMine } from "../gen/soltix/v1/sync_pb.ts";
import type { StoredPoint } from "../engine/engine.ts";
import type { NodeContext } from "./context.ts";
import { storedFromPeerEncoding } from "./convert.ts";

/** Symbols in one window's sketch, sent or answered. */
export const SKETCH_SYMBOLS_MAX = 16_384;
/** Ids (and points given) in one ExchangePoints call. */
export const EXCHANGE_IDS_MAX = 16_384;
/** Bytes of point encodings one SketchAnswer carries; the rest are named in `missing`. */
export const SKETCH_ANSWER_POINTS_BYTES_MAX = 4 * 1024 * 1024;

/**
 * The sketch answer for one window whose root differs from the caller's, and whether the tree's first
 * level should go beside it (the sketch may not settle the window: no symbols, or a probe).
 */
export async function sketchAnswer(ctx: NodeContext, group: number, w: bigint, shape: TreeShape, field: string, theirs: RootMine, ourCount: number): Promise<{ answer: MessageInitShape<typeof SketchAnswerSchema>; firstLevel: boolean }> {
  const gap = Math.abs(Number(theirs.count) - ourCount);
  let estimate: DifferenceEstimate | undefined;
  if (theirs.sketch.length > 0) {
    let callers: Sketch;
    try {
      callers = decodeSymbols(theirs.sketch, `${field}.sketch`, SKETCH_SYMBOLS_MAX);
    } catch (e) {
      throw invalidArgument(`${field}.sketch`, (e as Error).message);
    }
    const ours = await ctx.engine.windowSketch(group, w, shape, callers.length);
    // caller − this node: onlyA = the caller's alone (this node lacks), onlyB = this node's alone.
    const diff = callers.minus(ours);
    estimate = estimateDifference(diff);
    const d = peel(diff);
    if (d.ok) {
      const want = new Set(d.onlyB.map(([hi, lo]) => idKey(hi, lo)));
      const points: Uint8Array[] = [];
      const missing: Array<[number, number]> = [];
      let bytes = 0;
      if (want.size > 0) {
        const tree = await ctx.engine.windowTree(group, w, shape);
        const ids = new Uint32Array(2);
        for (const enc of tree.pointsWithIds(want)) {
          if (bytes + enc.length <= SKETCH_ANSWER_POINTS_BYTES_MAX) {
            bytes += enc.length;
            points.push(enc);
          } else {
            // Past the byte limit: named instead; the caller fetches them with ExchangePoints.
            itemIdOf(enc, 0, enc.length, ids, 0);
            missing.push([ids[0]!, ids[1]!]);
          }
        }
      }
      return { answer: { decoded: true, points, missing: packIds(missing), lacking: packIds(d.onlyA) }, firstLevel: false };
    }
  }
  const size = symbolsFor(gap, estimate, SKETCH_SYMBOLS_MAX);
  if (size === undefined) return { answer: {}, firstLevel: true };
  return { answer: { symbols: encodeSymbols(await ctx.engine.windowSketch(group, w, shape, size.length)) }, firstLevel: size.probe };
}

/** Whether a GetMerkleRoots caller asked for sketches this node speaks. */
export function wantsSketches(format: number): boolean {
  return format === SKETCH_FORMAT_VERSION;
}

/** ExchangePoints: the caller's points written (each checked to be of this group and window), then this node's wanted ones. */
export async function exchangePoints(ctx: NodeContext, req: ExchangePointsRequest, shape: TreeShape) {
  let want: Set<string>;
  try {
    want = unpackIds(req.want, "want", EXCHANGE_IDS_MAX);
  } catch (e) {
    throw (e as Error).message.includes("limit") ? resourceExhausted("want", (e as Error).message) : invalidArgument("want", (e as Error).message);
  }
  if (req.give.length > EXCHANGE_IDS_MAX) throw resourceExhausted("give", `${req.give.length} points, limit ${EXCHANGE_IDS_MAX}`);
  const give: StoredPoint[] = req.give.map((enc, i) => storedFromPeerEncoding(`give[${i}]`, enc, req.groupId, ctx.totalGroups, "invalid_argument", req.windowStart));
  if (give.length > 0) await ctx.engine.write(give);
  const points = want.size === 0 ? [] : (await ctx.engine.windowTree(req.groupId, req.windowStart, shape)).pointsWithIds(want);
  return create(ExchangePointsResponseSchema, { points, stored: give.length });
}
