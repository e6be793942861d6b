// The Merkle tree of one (group, UTC day) window (format TREE_FORMAT_VERSION). A node's digest is a
// function of the points in its range alone (and the shape):
//
//   ZERO                                                   if the range holds no point
//   SHA-256(encodings in (grid slot, key) order)           if count ≤ directPointsMax or depth = depthMax
//   SHA-256(0x00 ‖ fanout × (u32 count ‖ child digest))    otherwise
//
// A point list starts with an encoding's format byte (PointV1 = 0x01, never 0x00), so the two forms
// never hash the same bytes. Replicas holding the same points have the same tree whatever their
// storage history. A node is a *leaf* (compared point by point, not descended into) when it holds at
// most leafPointsMax points or sits at depthMax.
//
// Cost: one stable radix sort of the records by grid slot makes every node a contiguous run. Only the
// nodes above directPointsMax (= fanout · leafPointsMax) and their direct children are materialised
// and hashed at build time: one SHA-256 call per direct node over its (at most 512) points, in place when
// they are contiguous in the table. Nodes below a direct node are summarised on demand (when a descent
// reaches them) from its sorted run. Late writes (`stage`) are queued in O(1) and applied on the next
// read: each walks one path, edits that direct node's own point list (LWW), splits it when it outgrows
// directPointsMax, and marks the path dirty; dirty digests are rehashed lazily.

import { sha256 } from "../base/sha256.ts";
import { compareVersions } from "../model/lww.ts";
import { SERIES_OFFSET, seriesEnd } from "../model/encoding.ts";
import { rangesEqual } from "../base/bytes.ts";
import type { PointRecord } from "../model/point.ts";
import { fnv1a32Update, FNV32_OFFSET } from "../model/group.ts";
import { DAY_NS, nodeId, slotCount, slotOf, slotsPerNode, timeSlotCount, validateShape, type TreeShape } from "./shape.ts";
import { Sketch, idKey, itemIdOf } from "./riblt.ts";

/** Bumped whenever a digest definition changes: replicas must agree on it. */
export const TREE_FORMAT_VERSION = 2;
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
  /**
   * First VERSION_DIGEST_BYTES of SHA-256(encoding). The encoding holds the key, so this names the
   * (key, version) pair: leaf lists exchange these alone.
   */
  readonly version: Uint8Array;
  readonly enc: Uint8Array;
}

export function pointVersionOf(key: string, enc: Uint8Array): PointVersion {
  return { key, version: sha256(enc).subarray(0, VERSION_DIGEST_BYTES), enc };
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

/** A point a direct node holds once late writes edited it (its own list then replaces its run of the table). */
interface OwnPoint {
  readonly slot: number;
  readonly key: string;
  readonly enc: Uint8Array;
}

/** A materialised node: above directPointsMax (hashed over its children), or a direct node right below one. */
interface TreeNode {
  /** undefined = dirty: rehashed on the next read. */
  digest: Uint8Array | undefined;
  count: number;
  /** Hashed over its points (count ≤ directPointsMax or depth = depthMax); its subtree is not materialised. */
  direct: boolean;
  /** The node's run in `order`, as built. */
  readonly lo: number;
  readonly hi: number;
  /** A direct node edited by late writes: its points in (slot, key) order. */
  own?: OwnPoint[] | undefined;
}

/** Late writes queued on a tree before it gives up (and its owner rebuilds it): past this a rebuild is cheaper. */
export const TREE_PENDING_MAX = 65_536;

/** Points up to which a node is hashed over its points rather than its children. */
export function directPointsMax(shape: TreeShape): number {
  return shape.fanout * shape.leafPointsMax;
}

/**
 * Symbols of a window's rateless IBLT kept current on its cached tree (merkle/riblt.ts): built with the
 * first sketch read, then every late write applied to the tree updates them (the replaced version's id
 * out, the new one's in: about 2·ln(L/2)+1 cells each). Longer prefixes are computed from the points.
 */
export const SKETCH_PREFIX_SYMBOLS = 64;

export class WindowTree {
  private readonly nodes = new Map<number, TreeNode>();
  /** The window's sketch prefix (SKETCH_PREFIX_SYMBOLS), once asked for; kept current by late writes. */
  private sketchPrefix: Sketch | undefined;
  private readonly idScratch = new Uint32Array(2);
  /** A late write changed the points: the table alone no longer lists them. */
  private edited = false;
  /** Record indices sorted by (grid slot, key): every node's points are a contiguous run. */
  private readonly order: Uint32Array;
  /** Grid slot of each record (by record index). */
  private readonly slot: Uint32Array;
  private readonly table: RecordTable;
  private readonly wsHi: number;
  private readonly wsLo: number;
  private readonly timeSlots: number;
  private readonly directMax: number;
  private readonly body: Uint8Array;
  private gather = new Uint8Array(64 * 1024);
  private pending: Array<{ key: string; enc: Uint8Array }> = [];

  constructor(
    readonly shape: TreeShape,
    readonly windowStartNs: bigint,
    source: RecordTable | readonly PointRecord[],
  ) {
    validateShape(shape);
    const table = Array.isArray(source) ? tableOfRecords(source as readonly PointRecord[]) : (source as RecordTable);
    this.table = table;
    this.wsHi = Number(windowStartNs >> 32n);
    this.wsLo = Number(windowStartNs & 0xffffffffn);
    this.timeSlots = timeSlotCount(shape);
    this.directMax = directPointsMax(shape);
    this.body = new Uint8Array(1 + shape.fanout * (4 + DIGEST_BYTES));
    this.slot = computeSlots(table, this.wsHi, this.wsLo, this.timeSlots, shape.seriesBits);
    this.order = sortBySlot(this.slot, slotCount(shape));
    this.build(0, 0, 0, table.count);
  }

  /**
   * Approximate bytes this tree holds: its table (shared with a cached segment when built from one,
   * counted here too: the tree keeps it alive), the sort arrays, materialised nodes and queued writes.
   */
  memoryBytes(): number {
    const t = this.table;
    let pending = 0;
    for (const p of this.pending) pending += p.key.length + p.enc.length + 96;
    return t.buf.byteLength + t.starts.byteLength + t.ends.byteLength + this.order.byteLength + this.slot.byteLength + this.gather.byteLength + this.nodes.size * 128 + pending + (this.sketchPrefix === undefined ? 0 : SKETCH_PREFIX_SYMBOLS * 16);
  }

  /** Points in the window (after queued late writes). */
  get size(): number {
    return this.root().count;
  }

  /**
   * Queues a late write (O(1); applied on the next read, LWW against what the tree holds). False when
   * the queue is full: the tree then no longer reflects the window and must be dropped.
   */
  stage(key: string, enc: Uint8Array): boolean {
    if (this.pending.length >= TREE_PENDING_MAX) return false;
    this.pending.push({ key, enc });
    return true;
  }

  root(): NodeSummary {
    return this.node(0, 0);
  }

  node(depth: number, index: number): NodeSummary {
    this.settle();
    const id = nodeId(depth, index);
    const m = this.nodes.get(id);
    if (m !== undefined) return { digest: this.digestOf(depth, index, m), count: m.count, leaf: this.isLeaf(depth, m.count) };
    const a = this.ancestor(depth, index);
    if (a === undefined) return EMPTY_NODE;
    // Below a direct node: summarised from its sorted points on demand.
    const per = slotsPerNode(this.shape, depth);
    const [lo, hi] = this.subRange(a.node, index * per, (index + 1) * per);
    if (hi === lo) return EMPTY_NODE;
    return { digest: this.rangeDigest(a.node, lo, hi), count: hi - lo, leaf: this.isLeaf(depth, hi - lo) };
  }

  /** Summaries of the fanout children of an internal node (EMPTY_NODE for empty ones). */
  children(depth: number, index: number): NodeSummary[] {
    const out: NodeSummary[] = [];
    for (let c = 0; c < this.shape.fanout; c++) out.push(this.node(depth + 1, index * this.shape.fanout + c));
    return out;
  }

  /** The points of a node's range in key order, with version digests (for leaf comparison). */
  points(depth: number, index: number): PointVersion[] {
    this.settle();
    const out: OwnPoint[] = [];
    const m = this.nodes.get(nodeId(depth, index));
    if (m !== undefined) this.collect(depth, index, m, out);
    else {
      const a = this.ancestor(depth, index);
      if (a !== undefined) {
        const per = slotsPerNode(this.shape, depth);
        const [lo, hi] = this.subRange(a.node, index * per, (index + 1) * per);
        this.pointsOf(a.node, lo, hi, out);
      }
    }
    out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    return out.map((p) => pointVersionOf(p.key, p.enc));
  }

  private isLeaf(depth: number, count: number): boolean {
    return count <= this.shape.leafPointsMax || depth === this.shape.depthMax;
  }

  /** The direct node above an unmaterialised one (undefined: the range is empty). */
  private ancestor(depth: number, index: number): { node: TreeNode; depth: number } | undefined {
    let d = depth;
    let j = index;
    while (d > 0) {
      d--;
      j = Math.floor(j / this.shape.fanout);
      const b = this.nodes.get(nodeId(d, j));
      if (b !== undefined) return b.direct ? { node: b, depth: d } : undefined;
    }
    return undefined;
  }

  // ---- build ----------------------------------------------------------------------------------

  private build(depth: number, index: number, lo: number, hi: number): void {
    const count = hi - lo;
    if (count === 0) return;
    const id = nodeId(depth, index);
    if (count <= this.directMax || depth === this.shape.depthMax) {
      this.nodes.set(id, { digest: this.runDigest(lo, hi), count, direct: true, lo, hi });
      return;
    }
    const { fanout } = this.shape;
    const per = slotsPerNode(this.shape, depth + 1);
    const first = index * fanout;
    let a = lo;
    for (let c = 0; c < fanout; c++) {
      const end = c === fanout - 1 ? hi : this.lowerBound(a, hi, (first + c + 1) * per);
      this.build(depth + 1, first + c, a, end);
      a = end;
    }
    const node: TreeNode = { digest: undefined, count, direct: false, lo, hi };
    this.nodes.set(id, node);
    node.digest = this.internalDigest(depth, index);
  }

  /** First position in order[a, hi) whose slot is ≥ bound (runs are sorted by slot). */
  private lowerBound(a: number, hi: number, bound: number): number {
    const { order, slot } = this;
    let lo = a;
    let h = hi;
    while (lo < h) {
      const mid = (lo + h) >>> 1;
      if (slot[order[mid]!]! < bound) lo = mid + 1;
      else h = mid;
    }
    return lo;
  }

  /** The part of a direct node's points with slots in [from, to): a run of `order`, or of its own list. */
  private subRange(n: TreeNode, from: number, to: number): [number, number] {
    if (n.own === undefined) {
      const lo = this.lowerBound(n.lo, n.hi, from);
      return [lo, this.lowerBound(lo, n.hi, to)];
    }
    const own = n.own;
    let lo = 0;
    while (lo < own.length && own[lo]!.slot < from) lo++;
    let hi = lo;
    while (hi < own.length && own[hi]!.slot < to) hi++;
    return [lo, hi];
  }

  private digestOf(depth: number, index: number, node: TreeNode): Uint8Array {
    if (node.digest === undefined) {
      node.digest = node.direct ? this.rangeDigest(node, node.own === undefined ? node.lo : 0, node.own === undefined ? node.hi : node.own.length) : this.internalDigest(depth, index);
    }
    return node.digest;
  }

  /** SHA-256(0x00 ‖ fanout × (u32 count ‖ child digest)), child digests refreshed first. */
  private internalDigest(depth: number, index: number): Uint8Array {
    const { fanout } = this.shape;
    const children: Array<TreeNode | undefined> = [];
    for (let c = 0; c < fanout; c++) {
      const ci = index * fanout + c;
      const child = this.nodes.get(nodeId(depth + 1, ci));
      if (child !== undefined) this.digestOf(depth + 1, ci, child); // dirty ones first: `body` is shared
      children.push(child);
    }
    const body = this.body;
    body.fill(0);
    for (let c = 0; c < fanout; c++) {
      const child = children[c];
      if (child === undefined) continue;
      const at = 1 + c * (4 + DIGEST_BYTES);
      const n = child.count;
      body[at] = n >>> 24;
      body[at + 1] = (n >>> 16) & 0xff;
      body[at + 2] = (n >>> 8) & 0xff;
      body[at + 3] = n & 0xff;
      body.set(child.digest!, at + 4);
    }
    return sha256(body);
  }

  /** SHA-256 of a direct node's points [lo, hi) (positions in its run, or in its own list). */
  private rangeDigest(n: TreeNode, lo: number, hi: number): Uint8Array {
    if (n.own === undefined) return this.runDigest(lo, hi);
    let bytes = 0;
    for (let i = lo; i < hi; i++) bytes += n.own[i]!.enc.length;
    const out = this.gatherBuf(bytes);
    let at = 0;
    for (let i = lo; i < hi; i++) {
      const e = n.own[i]!.enc;
      out.set(e, at);
      at += e.length;
    }
    return sha256(out.subarray(0, at));
  }

  /** SHA-256 of order[lo, hi)'s encodings: in place when contiguous in the table, else gathered. */
  private runDigest(lo: number, hi: number): Uint8Array {
    const { buf, starts, ends } = this.table;
    const order = this.order;
    let contiguous = true;
    let bytes = 0;
    let prevEnd = starts[order[lo]!]!;
    for (let i = lo; i < hi; i++) {
      const r = order[i]!;
      if (starts[r] !== prevEnd) contiguous = false;
      prevEnd = ends[r]!;
      bytes += prevEnd - starts[r]!;
    }
    if (contiguous) return sha256(buf.subarray(starts[order[lo]!]!, prevEnd));
    const out = this.gatherBuf(bytes);
    let at = 0;
    for (let i = lo; i < hi; i++) {
      const r = order[i]!;
      // Point encodings are short: a byte loop beats a subarray view and a set call each.
      for (let k = starts[r]!, end = ends[r]!; k < end; k++) out[at++] = buf[k]!;
    }
    return sha256(out.subarray(0, at));
  }

  private gatherBuf(bytes: number): Uint8Array {
    if (bytes > this.gather.length) this.gather = new Uint8Array(bytes * 2);
    return this.gather;
  }

  /** A direct node's points [lo, hi) as OwnPoints. */
  private pointsOf(n: TreeNode, lo: number, hi: number, out: OwnPoint[]): void {
    if (n.own !== undefined) {
      for (let i = lo; i < hi; i++) out.push(n.own[i]!);
      return;
    }
    const { buf, starts, ends } = this.table;
    for (let i = lo; i < hi; i++) {
      const r = this.order[i]!;
      out.push({ slot: this.slot[r]!, key: this.table.key(r), enc: buf.subarray(starts[r]!, ends[r]!) });
    }
  }

  /** Every point of a materialised node's subtree. */
  private collect(depth: number, index: number, node: TreeNode, out: OwnPoint[]): void {
    if (node.direct) {
      this.pointsOf(node, node.own === undefined ? node.lo : 0, node.own === undefined ? node.hi : node.own.length, out);
      return;
    }
    const { fanout } = this.shape;
    for (let c = 0; c < fanout; c++) {
      const ci = index * fanout + c;
      const child = this.nodes.get(nodeId(depth + 1, ci));
      if (child !== undefined) this.collect(depth + 1, ci, child, out);
    }
  }

  // ---- sketch ---------------------------------------------------------------------------------

  /**
   * The first `length` symbols of the window's rateless IBLT over its points' ids (itemIdOf of each
   * encoding): from the kept prefix when it is long enough (built once, then kept current), else
   * computed from every point.
   */
  sketch(length: number): Sketch {
    this.settle();
    if (length <= SKETCH_PREFIX_SYMBOLS) {
      this.sketchPrefix ??= this.sketchOfPoints(SKETCH_PREFIX_SYMBOLS);
      return this.sketchPrefix.prefix(length);
    }
    return this.sketchOfPoints(length);
  }

  /** The encodings of the window's points whose ids (idKey) are in `ids` (in no set order). */
  pointsWithIds(ids: ReadonlySet<string>): Uint8Array[] {
    this.settle();
    const out: Uint8Array[] = [];
    if (ids.size === 0) return out;
    const id = this.idScratch;
    this.forEachEncoding((buf, start, end) => {
      itemIdOf(buf, start, end, id, 0);
      if (ids.has(idKey(id[0]!, id[1]!))) out.push(buf.subarray(start, end));
    });
    return out;
  }

  private sketchOfPoints(length: number): Sketch {
    const s = new Sketch(length);
    const id = this.idScratch;
    this.forEachEncoding((buf, start, end) => {
      itemIdOf(buf, start, end, id, 0);
      s.add(id[0]!, id[1]!);
    });
    return s;
  }

  /** Every point's encoding as buf[start, end): the table as built, else (late writes applied) the nodes' points. */
  private forEachEncoding(visit: (buf: Uint8Array, start: number, end: number) => void): void {
    if (!this.edited) {
      const { buf, starts, ends, count } = this.table;
      for (let i = 0; i < count; i++) visit(buf, starts[i]!, ends[i]!);
      return;
    }
    const root = this.nodes.get(nodeId(0, 0));
    if (root === undefined) return;
    const all: OwnPoint[] = [];
    this.collect(0, 0, root, all);
    for (const p of all) visit(p.enc, 0, p.enc.length);
  }

  private sketchUpdate(enc: Uint8Array, sign: 1 | -1): void {
    if (this.sketchPrefix === undefined) return;
    const id = this.idScratch;
    itemIdOf(enc, 0, enc.length, id, 0);
    this.sketchPrefix.apply(id[0]!, id[1]!, sign);
  }

  // ---- late writes ----------------------------------------------------------------------------

  private settle(): void {
    if (this.pending.length === 0) return;
    const queued = this.pending;
    this.pending = [];
    for (const p of queued) this.apply(p.key, p.enc);
  }

  /** One late write: walk to its direct node, keep the LWW winner there, grow counts, dirty the path. */
  private apply(key: string, enc: Uint8Array): void {
    const slot = slotOfEncoding(enc, 0, this.wsHi, this.wsLo, this.timeSlots, this.shape.seriesBits, key);
    const point: OwnPoint = { slot, key, enc };
    this.edited = true;
    const path: TreeNode[] = [];
    let depth = 0;
    let index = 0;
    let node = this.nodes.get(nodeId(0, 0));
    while (node !== undefined && !node.direct) {
      path.push(node);
      depth++;
      index = Math.floor(slot / slotsPerNode(this.shape, depth));
      node = this.nodes.get(nodeId(depth, index));
    }
    let grows = true;
    if (node === undefined) {
      node = { digest: undefined, count: 1, direct: true, lo: 0, hi: 0, own: [point] };
      this.nodes.set(nodeId(depth, index), node);
    } else {
      const own = (node.own ??= this.ownOf(node));
      let i = 0;
      while (i < own.length && (own[i]!.slot < slot || (own[i]!.slot === slot && own[i]!.key < key))) i++;
      grows = !(i < own.length && own[i]!.key === key);
      if (!grows && compareVersions(enc, own[i]!.enc) <= 0) return; // the held version wins (or is this one)
      if (!grows) this.sketchUpdate(own[i]!.enc, -1);
      own.splice(i, grows ? 0 : 1, point);
      if (grows) node.count++;
      node.digest = undefined;
    }
    this.sketchUpdate(enc, 1);
    for (const p of path) {
      if (grows) p.count++;
      p.digest = undefined;
    }
    if (node.count > this.directMax && depth < this.shape.depthMax) this.split(depth, index, node);
  }

  private ownOf(n: TreeNode): OwnPoint[] {
    const out: OwnPoint[] = [];
    this.pointsOf(n, n.lo, n.hi, out);
    return out;
  }

  /** A direct node that outgrew directPointsMax is hashed over children from now on; they become direct nodes (split again as needed). */
  private split(depth: number, index: number, node: TreeNode): void {
    const own = node.own ?? this.ownOf(node);
    node.own = undefined;
    node.direct = false;
    node.digest = undefined;
    const { fanout, depthMax } = this.shape;
    const per = slotsPerNode(this.shape, depth + 1);
    let a = 0;
    for (let c = 0; c < fanout && a < own.length; c++) {
      const ci = index * fanout + c;
      let b = a;
      while (b < own.length && own[b]!.slot < (ci + 1) * per) b++;
      if (b === a) continue;
      const child: TreeNode = { digest: undefined, count: b - a, direct: true, lo: 0, hi: 0, own: own.slice(a, b) };
      this.nodes.set(nodeId(depth + 1, ci), child);
      if (child.count > this.directMax && depth + 1 < depthMax) this.split(depth + 1, ci, child);
      a = b;
    }
  }
}

/** Record indices sorted stably by slot (LSD radix, 12 bits a pass); the identity when already sorted. */
function sortBySlot(slot: Uint32Array, slots: number): Uint32Array {
  const n = slot.length;
  let src = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    src[i] = i;
    if (i > 0 && slot[i]! < slot[i - 1]!) sorted = false;
  }
  if (sorted) return src;
  let dst = new Uint32Array(n);
  const counts = new Uint32Array(4097);
  for (let shift = 0; 2 ** shift < slots; shift += 12) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((slot[i]! >>> shift) & 4095) + 1]!++;
    for (let k = 0; k < 4096; k++) counts[k + 1]! += counts[k]!;
    for (let i = 0; i < n; i++) {
      const r = src[i]!;
      dst[counts[(slot[r]! >>> shift) & 4095]!++] = r;
    }
    [src, dst] = [dst, src];
  }
  return src;
}

/** Offset of a point's time in the window (ns, exact), from the 8 time bytes of its encoding at `o`. */
function offsetInWindow(e: Uint8Array, o: number, wsHi: number, wsLo: number): number {
  const tHi = ((e[o + 9]! << 24) | (e[o + 10]! << 16) | (e[o + 11]! << 8) | e[o + 12]!) >>> 0;
  const tLo = ((e[o + 13]! << 24) | (e[o + 14]! << 16) | (e[o + 15]! << 8) | e[o + 16]!) >>> 0;
  return (tHi - wsHi) * 4294967296 + (tLo - wsLo); // < DAY < 2^53 inside the window: exact
}

function outside(key: string): never {
  throw new RangeError(`point ${key} is outside the window`);
}

/** Grid slot of the encoding at `o`. */
function slotOfEncoding(e: Uint8Array, o: number, wsHi: number, wsLo: number, timeSlots: number, seriesBits: number, key: string): number {
  const offset = offsetInWindow(e, o, wsHi, wsLo);
  if (!(offset >= 0 && offset < DAY_NS)) outside(key);
  const bucket = seriesBits === 0 ? 0 : (fnv1a32Update(FNV32_OFFSET, e, o + SERIES_OFFSET, seriesEnd(e, o + SERIES_OFFSET)) >>> 0) & (2 ** seriesBits - 1);
  return bucket * timeSlots + slotOf(offset, timeSlots);
}

/** Series runs span this many records per probe before the boundary is searched for. */
const SERIES_PROBE_STEP = 64;

/**
 * Grid slot of every record (time bytes and series bytes of its encoding). Records are key-sorted and
 * the series is a key prefix, so if two records share a series every record between them does too:
 * series runs are found by probing SERIES_PROBE_STEP records ahead and binary-searching the boundary,
 * and each run's bucket is hashed once.
 */
function computeSlots(table: RecordTable, wsHi: number, wsLo: number, timeSlots: number, seriesBits: number): Uint32Array {
  const mask = 2 ** seriesBits - 1;
  const e = table.buf;
  const starts = table.starts;
  const n = table.count;
  const slot = new Uint32Array(n);
  const dayNs = 86_400_000_000_000; // DAY_NS as a literal (hot loop)
  let i = 0;
  while (i < n) {
    // The run of records sharing record i's series: [i, end).
    let end = n;
    let bucket = 0;
    if (seriesBits > 0) {
      const s0 = starts[i]! + SERIES_OFFSET;
      const p = seriesEnd(e, s0);
      const len = p - s0;
      bucket = (fnv1a32Update(FNV32_OFFSET, e, s0, p) >>> 0) & mask;
      const same = (k: number) => starts[k]! + SERIES_OFFSET + len <= e.length && rangesEqual(e, s0, starts[k]! + SERIES_OFFSET, len);
      let ok = i; // known to share the series
      let step = SERIES_PROBE_STEP;
      while (ok + step < n && same(ok + step)) {
        ok += step;
        step *= 2;
      }
      let bad = Math.min(n, ok + step); // first known not to (or n)
      while (bad - ok > 1) {
        const mid = (ok + bad) >>> 1;
        if (same(mid)) ok = mid;
        else bad = mid;
      }
      end = bad;
    }
    const base = bucket * timeSlots;
    for (; i < end; i++) {
      const offset = offsetInWindow(e, starts[i]!, wsHi, wsLo);
      if (!(offset >= 0 && offset < dayNs)) outside(table.key(i));
      slot[i] = base + slotOf(offset, timeSlots);
    }
  }
  return slot;
}
