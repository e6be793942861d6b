// The Merkle tree of one (group, UTC day) window, built from its points in key order.
//
//   node digest = ZERO                                   if the range holds no point
//               = SHA-256(0x00 ‖ encodings in key order) if count ≤ leafPointsMax or depth = depthMax (a leaf)
//               = SHA-256(0x01 ‖ fanout × (u32 count ‖ child digest))  otherwise
//
// The digest is a function of the point set alone (and the shape), so replicas holding the same
// points have the same tree whatever their storage history. One hash call per node: a leaf hashes
// its points' bytes in one batch.

import { createSha256, sha256 } from "../base/sha256.ts";
import type { PointRecord } from "../model/point.ts";
import { fnv1a32Update, FNV32_OFFSET } from "../model/group.ts";
import { DAY_NS, nodeId, slotOf, slotsPerNode, timeSlotCount, validateShape, type TreeShape } from "./shape.ts";

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
  /** First KEY_HASH_BYTES of SHA-256(key): how a point is named in compact leaf lists. */
  readonly keyHash: Uint8Array;
  /** First VERSION_DIGEST_BYTES of SHA-256(encoding). */
  readonly version: Uint8Array;
  readonly enc: Uint8Array;
}

export const KEY_HASH_BYTES = 8;
const utf8 = new TextEncoder();

export function keyHashOf(key: string): Uint8Array {
  return createSha256().update(utf8.encode(key)).digest().subarray(0, KEY_HASH_BYTES);
}

export function pointVersionOf(key: string, enc: Uint8Array): PointVersion {
  return { key, keyHash: keyHashOf(key), version: createSha256().update(enc).digest().subarray(0, VERSION_DIGEST_BYTES), enc };
}

/**
 * A window's points in key order as one table: encoding i is buf[starts[i], ends[i]). A compacted
 * segment is such a table already (no copy); other sources are packed once.
 */
export interface RecordTable {
  readonly count: number;
  readonly buf: Uint8Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  key(i: number): string;
}

export function tableOfRecords(records: readonly PointRecord[]): RecordTable {
  let bytes = 0;
  for (const r of records) bytes += r.enc.length;
  const buf = new Uint8Array(bytes);
  const starts = new Uint32Array(records.length);
  const ends = new Uint32Array(records.length);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const e = records[i]!.enc;
    buf.set(e, at);
    starts[i] = at;
    at += e.length;
    ends[i] = at;
  }
  return { count: records.length, buf, starts, ends, key: (i) => records[i]!.key };
}

interface Built extends NodeSummary {
  readonly lo: number;
  readonly hi: number;
}

export class WindowTree {
  private readonly nodes = new Map<number, Built>();
  /** Record indices, partitioned level by level: every materialised node owns a contiguous run, in key order. */
  private readonly order: Uint32Array;
  /** Grid slot of each record (by record index). */
  private readonly slot: Uint32Array;
  private readonly scratch: Uint32Array;
  private readonly table: RecordTable;
  private leafBuf = new Uint8Array(64 * 1024);

  constructor(
    readonly shape: TreeShape,
    readonly windowStartNs: bigint,
    source: RecordTable | readonly PointRecord[],
  ) {
    validateShape(shape);
    const table = Array.isArray(source) ? tableOfRecords(source as readonly PointRecord[]) : (source as RecordTable);
    this.table = table;
    const n = table.count;
    this.slot = new Uint32Array(n);
    this.order = new Uint32Array(n);
    this.scratch = new Uint32Array(n);
    computeSlots(table, windowStartNs, timeSlotCount(shape), shape.seriesBits, this.slot, this.order);
    // Records arrive in key order; each level distributes a node's run into its children stably
    // (an MSD radix pass on the slot), so every run stays in key order and leaves need no sort.
    this.build(0, 0, 0, n);
  }

  get size(): number {
    return this.table.count;
  }

  private build(depth: number, index: number, lo: number, hi: number): NodeSummary {
    const count = hi - lo;
    if (count === 0) return EMPTY_NODE;
    const { fanout, depthMax, leafPointsMax } = this.shape;
    let built: Built;
    if (count <= leafPointsMax || depth === depthMax) {
      built = { digest: this.leafDigest(lo, hi), count, leaf: true, lo, hi };
    } else {
      const per = slotsPerNode(this.shape, depth + 1);
      const first = index * fanout;
      const starts = new Int32Array(fanout + 1);
      const { order, slot, scratch } = this;
      for (let i = lo; i < hi; i++) starts[Math.floor(slot[order[i]!]! / per) - first + 1]!++;
      for (let c = 0; c < fanout; c++) starts[c + 1]! += starts[c]!;
      const fill = starts.slice(0, fanout);
      for (let i = lo; i < hi; i++) {
        const r = order[i]!;
        scratch[lo + fill[Math.floor(slot[r]! / per) - first]!++] = r;
      }
      order.set(scratch.subarray(lo, hi), lo);
      const body = new Uint8Array(1 + fanout * (4 + DIGEST_BYTES));
      const view = new DataView(body.buffer);
      body[0] = 0x01;
      for (let c = 0; c < fanout; c++) {
        const child = this.build(depth + 1, first + c, lo + starts[c]!, lo + starts[c + 1]!);
        const at = 1 + c * (4 + DIGEST_BYTES);
        view.setUint32(at, child.count, false);
        body.set(child.digest, at + 4);
      }
      built = { digest: sha256(body), count, leaf: false, lo, hi };
    }
    this.nodes.set(nodeId(depth, index), built);
    return built;
  }

  /**
   * SHA-256(0x00 ‖ the run's encodings). A run that is contiguous in the table (one device's points in
   * a time range, the common case) is hashed in place; otherwise it is gathered into a reused buffer.
   */
  private leafDigest(lo: number, hi: number): Uint8Array {
    const { buf, starts, ends } = this.table;
    const order = this.order;
    let contiguous = true;
    let bytes = 1;
    for (let i = lo; i < hi; i++) {
      const r = order[i]!;
      bytes += ends[r]! - starts[r]!;
      if (i > lo && starts[r] !== ends[order[i - 1]!]) contiguous = false;
    }
    if (bytes > this.leafBuf.length) this.leafBuf = new Uint8Array(bytes * 2);
    const out = this.leafBuf;
    out[0] = 0x00;
    if (contiguous) {
      out.set(buf.subarray(starts[order[lo]!]!, ends[order[hi - 1]!]!), 1);
      return sha256(out.subarray(0, bytes));
    }
    let at = 1;
    for (let i = lo; i < hi; i++) {
      const r = order[i]!;
      out.set(buf.subarray(starts[r]!, ends[r]!), at);
      at += ends[r]! - starts[r]!;
    }
    return sha256(out.subarray(0, at));
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
    // The node's run, or (inside a leaf) its nearest materialised ancestor's run filtered by slot.
    let d = depth;
    let j = index;
    let b = this.nodes.get(nodeId(d, j));
    while (b === undefined && d > 0) {
      d--;
      j = Math.floor(j / this.shape.fanout);
      b = this.nodes.get(nodeId(d, j));
    }
    if (b === undefined) return [];
    const per = slotsPerNode(this.shape, depth);
    const from = index * per;
    const to = from + per;
    const out: PointVersion[] = [];
    for (let i = b.lo; i < b.hi; i++) {
      const r = this.order[i]!;
      const s = this.slot[r]!;
      if (s < from || s >= to) continue;
      out.push(pointVersionOf(this.table.key(r), this.table.buf.subarray(this.table.starts[r]!, this.table.ends[r]!)));
    }
    // An internal node's run is ordered child by child, not by key.
    if (!b.leaf) out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    return out;
  }
}

/**
 * Grid slot of every record (time bytes and series bytes of its encoding), and the identity order.
 * Records are key-sorted, so neighbours usually share a series: its hash is reused until the series
 * bytes change.
 */
function computeSlots(table: RecordTable, windowStartNs: bigint, timeSlots: number, seriesBits: number, slot: Uint32Array, order: Uint32Array): void {
  const wsHi = Number(windowStartNs >> 32n);
  const wsLo = Number(windowStartNs & 0xffffffffn);
  const mask = 2 ** seriesBits - 1;
  const e = table.buf;
  const starts = table.starts;
  let prevStart = -1;
  let prevLen = -1;
  let bucket = 0;
  const n = table.count;
  for (let i = 0; i < n; i++) {
    const o = starts[i]!;
    const tHi = ((e[o + 9]! << 24) | (e[o + 10]! << 16) | (e[o + 11]! << 8) | e[o + 12]!) >>> 0;
    const tLo = ((e[o + 13]! << 24) | (e[o + 14]! << 16) | (e[o + 15]! << 8) | e[o + 16]!) >>> 0;
    const offset = (tHi - wsHi) * 4294967296 + (tLo - wsLo); // < DAY < 2^53: exact
    if (!(offset >= 0 && offset < DAY_NS)) throw new RangeError(`point ${table.key(i)} is outside the window`);
    if (seriesBits > 0) {
      // Series bytes: the three length-prefixed strings after the 17-byte header.
      const s0 = o + 17;
      let p = s0;
      for (let k = 0; k < 3; k++) {
        let len = 0;
        for (let shiftBits = 0; ; shiftBits += 7) {
          const b = e[p++]!;
          len += (b & 0x7f) * 2 ** shiftBits;
          if (b < 0x80) break;
        }
        p += len;
      }
      const len = p - s0;
      let same = len === prevLen;
      if (same) {
        for (let j = 0; j < len; j++) {
          if (e[prevStart + j] !== e[s0 + j]) {
            same = false;
            break;
          }
        }
      }
      if (!same) {
        bucket = (fnv1a32Update(FNV32_OFFSET, e, s0, p) >>> 0) & mask;
        prevStart = s0;
        prevLen = len;
      }
    }
    slot[i] = bucket * timeSlots + slotOf(offset, timeSlots);
    order[i] = i;
  }
}
