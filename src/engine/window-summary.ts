// A compacted window's Merkle summary, kept beside its segment (`<segment>.sum`) so that comparing
// identical replicas — warm or right after a restart — reads no point: the root and the root's
// children for one tree shape, tied to the segment by name and size. It is derived data: written
// without fsync, ignored (and rebuilt from the points) when missing, torn, of another shape, or
// naming another segment.
//
//   summary := "SXSUM002" | u32 crc32c(everything after this field)
//              | u8 fanout | u8 depth_max | u16 leaf_points_max | u8 series_bits
//              | str segment name | u64 segment bytes
//              | node root | u8 child_count | child_count × node
//              | u16 sketch_symbols | sketch_symbols × 10 B      (v2: the window's sketch prefix,
//                                                               merkle/riblt.ts wire symbols)
//   node    := u32 count | u8 leaf | 32 B digest
// A v1 summary ("SXSUM001", no sketch) is still read; its window's sketch comes from the tree.

import { ByteReader, ByteWriter } from "../base/bytes.ts";
import { crc32c } from "../base/crc32c.ts";
import type { TreeShape } from "../merkle/shape.ts";
import { SKETCH_PREFIX_SYMBOLS, type NodeSummary, type WindowTree } from "../merkle/tree.ts";
import { SKETCH_SYMBOL_BYTES, decodeSymbols, encodeSymbols, type Sketch } from "../merkle/riblt.ts";

export const SUMMARY_MAGIC_V1 = "SXSUM001";
export const SUMMARY_MAGIC_V2 = "SXSUM002";
export const SUMMARY_SUFFIX = ".sum";

export interface WindowSummary {
  readonly shape: TreeShape;
  readonly segmentName: string;
  readonly segmentBytes: number;
  readonly root: NodeSummary;
  /** The root's children (empty when the root is a leaf). */
  readonly children: readonly NodeSummary[];
  /** The window's first SKETCH_PREFIX_SYMBOLS sketch symbols (absent in a v1 summary). */
  readonly sketch?: Sketch | undefined;
}

/** The summary of a window's tree, for the segment that holds the window. */
export function summaryOfTree(tree: WindowTree, shape: TreeShape, segmentName: string, segmentBytes: number, withSketch = true): WindowSummary {
  const root = tree.root();
  return { shape, segmentName, segmentBytes, root, children: root.leaf ? [] : tree.children(0, 0), ...(withSketch ? { sketch: tree.sketch(SKETCH_PREFIX_SYMBOLS) } : {}) };
}

function writeNode(w: ByteWriter, n: NodeSummary): void {
  w.u32(n.count);
  w.u8(n.leaf ? 1 : 0);
  w.bytes(n.digest);
}

export function encodeSummary(s: WindowSummary): Uint8Array {
  const sketch = s.sketch === undefined ? new Uint8Array(0) : encodeSymbols(s.sketch);
  const w = new ByteWriter(128 + s.children.length * 37 + sketch.length);
  for (let i = 0; i < 8; i++) w.u8(SUMMARY_MAGIC_V2.charCodeAt(i));
  w.u32(0);
  w.u8(s.shape.fanout);
  w.u8(s.shape.depthMax);
  w.u8(s.shape.leafPointsMax >> 8);
  w.u8(s.shape.leafPointsMax & 0xff);
  w.u8(s.shape.seriesBits);
  w.str(s.segmentName);
  w.u64(BigInt(s.segmentBytes));
  writeNode(w, s.root);
  w.u8(s.children.length);
  for (const c of s.children) writeNode(w, c);
  w.u8(sketch.length / SKETCH_SYMBOL_BYTES >> 8);
  w.u8((sketch.length / SKETCH_SYMBOL_BYTES) & 0xff);
  w.bytes(sketch);
  const out = w.toBytes();
  new DataView(out.buffer).setUint32(8, crc32c(out, 12, out.length), false);
  return out;
}

/** The summary, or undefined when the bytes are not a whole, valid one (it is then rebuilt). */
export function decodeSummary(bytes: Uint8Array): WindowSummary | undefined {
  try {
    if (bytes.length < 12) return undefined;
    let version = 0;
    for (const [v, magic] of [[1, SUMMARY_MAGIC_V1], [2, SUMMARY_MAGIC_V2]] as const) {
      let same = true;
      for (let i = 0; i < 8; i++) if (bytes[i] !== magic.charCodeAt(i)) same = false;
      if (same) version = v;
    }
    if (version === 0) return undefined;
    if (new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, false) !== crc32c(bytes, 12, bytes.length)) return undefined;
    const r = new ByteReader(bytes, 12);
    const fanout = r.u8();
    const depthMax = r.u8();
    const leafPointsMax = (r.u8() << 8) | r.u8();
    const seriesBits = r.u8();
    const segmentName = r.str();
    const segmentBytes = Number(r.u64());
    const node = (): NodeSummary => {
      const count = r.u32();
      const leaf = r.u8() === 1;
      return { count, leaf, digest: r.take(32).slice() };
    };
    const root = node();
    const n = r.u8();
    const children: NodeSummary[] = [];
    for (let i = 0; i < n; i++) children.push(node());
    let sketch: Sketch | undefined;
    if (version >= 2) {
      const symbols = (r.u8() << 8) | r.u8();
      if (symbols > 0) sketch = decodeSymbols(r.take(symbols * SKETCH_SYMBOL_BYTES), "summary sketch", SKETCH_PREFIX_SYMBOLS);
    }
    if (r.remaining() !== 0) return undefined;
    return { shape: { fanout, depthMax, leafPointsMax, seriesBits }, segmentName, segmentBytes, root, children, sketch };
  } catch {
    return undefined;
  }
}
