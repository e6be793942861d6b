// The shape of a window's Merkle tree, fixed before any data is seen: a grid of N = fanout^depthMax
// slots; a node at depth d, index j spans slots [j·fanout^(depthMax−d), (j+1)·fanout^(depthMax−d)).
// A point's slot = series bucket · T + time slot: the high bits pick one of 2^seriesBits device
// buckets (series hash), the low bits cut the UTC day into T = N / 2^seriesBits equal time ranges
// (time slot of offset t is floor(t·T / DAY)). So the top levels split by device and the lower ones by
// time: a device that diverges all day, or many devices sampled at the same instants, stay in small
// subtrees and small leaves. Both replicas cut identical ranges without talking. Which nodes are
// materialised depends on the data (a node holding at most leafPointsMax points is a leaf), but
// every boundary is a grid point.

import { assert } from "../base/assert.ts";

export const DAY_NS = 86_400_000_000_000;

export interface TreeShape {
  /** Children per internal node (a power of two, 2..64). */
  readonly fanout: number;
  /** Deepest level; a node there is always a leaf. fanout^depthMax ≤ 2^24. */
  readonly depthMax: number;
  /** A node with at most this many points is a leaf (hashed over its points, not its children). */
  readonly leafPointsMax: number;
  /** High slot bits taken from the series (device) hash; 0 = a pure time grid. */
  readonly seriesBits: number;
}

export const DEFAULT_SERIES_BITS = 8;
export const DEFAULT_SHAPE: TreeShape = { fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: DEFAULT_SERIES_BITS };

/** The deepest level for a fanout: as many levels as fit in 2^24 grid slots. */
export function depthMaxFor(fanout: number): number {
  return Math.floor(24 / Math.log2(fanout));
}

export function shapeFor(fanout: number, leafPointsMax: number): TreeShape {
  return { fanout, depthMax: depthMaxFor(fanout), leafPointsMax, seriesBits: DEFAULT_SERIES_BITS };
}

export function shapeKey(s: TreeShape): string {
  return `${s.fanout}/${s.depthMax}/${s.leafPointsMax}/${s.seriesBits}`;
}

/** Time slots of the grid: total slots without the series bits (at least 16). */
export function timeSlotCount(s: TreeShape): number {
  return slotCount(s) / 2 ** s.seriesBits;
}

export function validateShape(s: TreeShape): void {
  assert(Number.isInteger(s.fanout) && s.fanout >= 2 && s.fanout <= 64 && (s.fanout & (s.fanout - 1)) === 0, `fanout ${s.fanout} must be a power of two in [2, 64]`);
  assert(Number.isInteger(s.depthMax) && s.depthMax >= 1 && s.fanout ** s.depthMax <= 2 ** 24, `fanout^depthMax must be ≤ 2^24`);
  assert(Number.isInteger(s.leafPointsMax) && s.leafPointsMax >= 1, "leafPointsMax must be ≥ 1");
  assert(Number.isInteger(s.seriesBits) && s.seriesBits >= 0 && s.fanout ** s.depthMax >= 16 * 2 ** s.seriesBits, "seriesBits must leave at least 16 time slots");
}

/** The time range [from, to) (ns offsets in the window) a node covers, and its device buckets. */
export function timeRangeOfNode(s: TreeShape, depth: number, index: number): [bigint, bigint, number, number] {
  const per = slotsPerNode(s, depth);
  const t = timeSlotCount(s);
  const a = index * per;
  const b = a + per - 1;
  const bucketA = Math.floor(a / t);
  const bucketB = Math.floor(b / t);
  if (bucketA !== bucketB) return [0n, BigInt(DAY_NS), bucketA, bucketB];
  return [slotStartNs(a % t, t), slotStartNs((b % t) + 1, t), bucketA, bucketB];
}

export function slotCount(s: TreeShape): number {
  return s.fanout ** s.depthMax;
}

/** DAY / 65536, an integer: DAY = 2^16 · 1 318 359 375. */
export const UNIT_NS = DAY_NS / 65_536;

/**
 * Slot of an offset in [0, DAY): floor(offset·slots / DAY), exactly, in doubles. With
 * offset = q·UNIT + r (q < 65536, r < UNIT): slot = floor((q + r/UNIT) · slots / 65536).
 */
export function slotOf(offsetNs: number, slots: number): number {
  const unit = 1_318_359_375; // UNIT_NS as a literal: a module constant costs a binding check per call on this hot path
  let q = Math.floor(offsetNs / unit);
  if (q * unit > offsetNs) q--;
  if (slots <= 65_536) return Math.floor(q / (65_536 / slots)); // r/UNIT < 1 cannot carry past a multiple of g
  const r = offsetNs - q * unit;
  const factor = slots / 65_536;
  const scaled = r * factor; // < 2^39, exact
  let f = Math.floor(scaled / unit);
  if (f * unit > scaled) f--;
  else if ((f + 1) * unit <= scaled) f++;
  return q * factor + f;
}

/** First ns offset of a slot: ceil(k·DAY/N) (the grid point; consistent with slotOf). */
export function slotStartNs(k: number, slots: number): bigint {
  const num = BigInt(k) * BigInt(DAY_NS);
  const den = BigInt(slots);
  return (num + den - 1n) / den;
}

/** Slots per node at a depth. */
export function slotsPerNode(s: TreeShape, depth: number): number {
  return s.fanout ** (s.depthMax - depth);
}

/** A node's id: depth in the low 5 bits, index above (index < 2^24). */
export function nodeId(depth: number, index: number): number {
  return index * 32 + depth;
}

export function depthOfId(id: number): number {
  return id % 32;
}

export function indexOfId(id: number): number {
  return Math.floor(id / 32);
}
