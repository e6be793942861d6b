// The Merkle tree of one (group, UTC day) window, built from its points in key order.
//
//   node digest = ZERO                                   if the range holds no point
//               = SHA-256(0x00 ‖ encodings in key order) if count ≤ leafPointsMax or depth = depthMax (a leaf)
//               = SHA-256(0x01 ‖ fanout × (u32 count ‖ child digest))  otherwise
//
// The digest is a function of the point set alone (and the shape), so replicas holding the same
// points have the same tree whatever their storage history. One hash call per node: a leaf hashes
// its points' bytes in one batch.

import { createSha256 } from "../base/sha256.ts";
import type { PointRecord } from "../model/point.ts";
import { DAY_NS, nodeId, slotCount, slotOf, slotsPerNode, validateShape, type TreeShape } from "./shape.ts";

export const DIGEST_BYTES = 32;
export const ZERO_DIGEST = new Uint8Array(DIGEST_BYTES);
/** Bytes of a point's version digest in leaf lists (a truncated SHA-256 of its encoding). */
export const VERSION_DIGEST_BYTES = 8;

export interface NodeSummary {
  readonly digest: Uint8Array;
  readonly count: number;
  /** True when the node is hashed over its points (no children to descend into). */
  readonly leaf: boolean;
}

export const EMPTY_NODE: NodeSummary = { digest: ZERO_DIGEST, count: 0, leaf: true };

export interface PointVersion {
  readonly key: string;
  /** First VERSION_DIGEST_BYTES of SHA-256(encoding). */
  readonly version: Uint8Array;
  readonly enc: Uint8Array;
}

interface Built extends NodeSummary {
  readonly lo: number;
  readonly hi: number;
}

const ROUND_BASE = 2 ** 29; // composite sort key: slot · 2^29 + key rank (rank < 2^29)

export class WindowTree {
  private readonly nodes = new Map<number, Built>();
  /** Record indices (key ranks) sorted by (slot, rank). */
  private readonly order: Uint32Array;
  /** Slot of order[i]. */
  private readonly slots: Uint32Array;
  private readonly slotTotal: number;

  constructor(
    readonly shape: TreeShape,
    readonly windowStartNs: bigint,
    private readonly records: readonly PointRecord[],
  ) {
    validateShape(shape);
    this.slotTotal = slotCount(shape);
    const n = records.length;
    const composite = new Float64Array(n);
    const wsHi = Number(windowStartNs >> 32n);
    const wsLo = Number(windowStartNs & 0xffffffffn);
    for (let i = 0; i < n; i++) {
      const e = records[i]!.enc;
      const tHi = ((e[9]! << 24) | (e[10]! << 16) | (e[11]! << 8) | e[12]!) >>> 0;
      const tLo = ((e[13]! << 24) | (e[14]! << 16) | (e[15]! << 8) | e[16]!) >>> 0;
      const offset = (tHi - wsHi) * 4294967296 + (tLo - wsLo); // < DAY < 2^53: exact
      if (!(offset >= 0 && offset < DAY_NS)) throw new RangeError(`point ${records[i]!.key} is outside the window`);
      composite[i] = slotOf(offset, this.slotTotal) * ROUND_BASE + i;
    }
    composite.sort();
    this.order = new Uint32Array(n);
    this.slots = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const c = composite[i]!;
      const slot = Math.floor(c / ROUND_BASE);
      this.slots[i] = slot;
      this.order[i] = c - slot * ROUND_BASE;
    }
    this.build(0, 0, 0, n);
  }

  get size(): number {
    return this.records.length;
  }

  /** First position in `order` whose slot is ≥ `slot`, within [lo, hi). */
  private lowerSlot(slot: number, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.slots[mid]! < slot) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private build(depth: number, index: number, lo: number, hi: number): NodeSummary {
    const count = hi - lo;
    if (count === 0) return EMPTY_NODE;
    const { fanout, depthMax, leafPointsMax } = this.shape;
    let built: Built;
    if (count <= leafPointsMax || depth === depthMax) {
      const h = createSha256().update(new Uint8Array([0x00]));
      h.update(concatInKeyOrder(this.records, this.order, lo, hi));
      built = { digest: h.digest(), count, leaf: true, lo, hi };
    } else {
      const per = slotsPerNode(this.shape, depth + 1);
      const body = new Uint8Array(1 + fanout * (4 + DIGEST_BYTES));
      const view = new DataView(body.buffer);
      body[0] = 0x01;
      let start = lo;
      for (let c = 0; c < fanout; c++) {
        const childIndex = index * fanout + c;
        const end = c === fanout - 1 ? hi : this.lowerSlot((childIndex + 1) * per, start, hi);
        const child = this.build(depth + 1, childIndex, start, end);
        const at = 1 + c * (4 + DIGEST_BYTES);
        view.setUint32(at, child.count, false);
        body.set(child.digest, at + 4);
        start = end;
      }
      built = { digest: createSha256().update(body).digest(), count, leaf: false, lo, hi };
    }
    this.nodes.set(nodeId(depth, index), built);
    return built;
  }

  root(): NodeSummary {
    return this.node(0, 0);
  }

  node(depth: number, index: number): NodeSummary {
    const b = this.nodes.get(nodeId(depth, index));
    return b === undefined ? EMPTY_NODE : { digest: b.digest, count: b.count, leaf: b.leaf };
  }

  /** Summaries of the fanout children of an internal node (EMPTY_NODE for empty ones). */
  children(depth: number, index: number): NodeSummary[] {
    const out: NodeSummary[] = [];
    for (let c = 0; c < this.shape.fanout; c++) out.push(this.node(depth + 1, index * this.shape.fanout + c));
    return out;
  }

  /** The points of a node's range in key order, with version digests (for leaf comparison). */
  points(depth: number, index: number): PointVersion[] {
    const b = this.nodes.get(nodeId(depth, index));
    if (b === undefined) {
      // Not materialised: either empty, or inside a leaf ancestor — find the range by slots.
      const per = slotsPerNode(this.shape, depth);
      const lo = this.lowerSlot(index * per, 0, this.order.length);
      const hi = this.lowerSlot((index + 1) * per, lo, this.order.length);
      return this.pointsIn(lo, hi);
    }
    return this.pointsIn(b.lo, b.hi);
  }

  private pointsIn(lo: number, hi: number): PointVersion[] {
    const ranks = Array.from(this.order.subarray(lo, hi)).sort((a, b) => a - b);
    return ranks.map((r) => {
      const rec = this.records[r]!;
      return { key: rec.key, version: createSha256().update(rec.enc).digest().subarray(0, VERSION_DIGEST_BYTES), enc: rec.enc };
    });
  }
}

function concatInKeyOrder(records: readonly PointRecord[], order: Uint32Array, lo: number, hi: number): Uint8Array {
  const ranks = Array.from(order.subarray(lo, hi)).sort((a, b) => a - b);
  let n = 0;
  for (const r of ranks) n += records[r]!.enc.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const r of ranks) {
    const e = records[r]!.enc;
    out.set(e, at);
    at += e.length;
  }
  return out;
}
