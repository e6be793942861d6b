// The engine's CPU-heavy work as pure tasks for the Compute port: they run in a worker in the binary
// (src/worker.ts) and inline elsewhere, with the same result byte for byte. Arguments and results
// are structured-cloneable; byte buffers travel as transfers (no copy).
//
//   encodeWindow  — a flush's points of one window (canonical encodings in key order, one per key:
//                   the memory store sorts them) → the segment file (format 2)
//   mergeWindow   — segment files of one window → one segment under LWW, with the Merkle summary of
//                   the result when asked (a whole-window merge); a file that fails verification is
//                   named (the engine quarantines it and merges the rest)
//   verifySegment — one segment file (a replica's window file, or a window's only segment) decoded
//                   whole, every checksum verified, and its window's Merkle summary built when asked

import { errorMessage } from "../base/errors.ts";
import { WindowTree } from "../merkle/tree.ts";
import type { TreeShape } from "../merkle/shape.ts";
import type { TaskHandlers } from "../ports/compute.ts";
import { decodeSegment, encodeSegment, encodeSegmentOrdered, type SegmentView } from "../segment/format.ts";
import { mergeSources, segmentSource } from "./merge.ts";
import { encodeSummary, summaryOfTree } from "./window-summary.ts";

/** Canonical encodings packed in one buffer (one transfer to a worker): u32 length | bytes, repeated. */
export function packEncodings(encs: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of encs) total += 4 + e.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of encs) {
    view.setUint32(at, e.length, false);
    out.set(e, at + 4);
    at += 4 + e.length;
  }
  return out;
}

export function unpackEncodings(packed: Uint8Array): Uint8Array[] {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < packed.length; ) {
    const n = view.getUint32(at, false);
    out.push(packed.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

export interface EncodeWindowArgs {
  readonly group: number;
  readonly windowStartNs: bigint;
  readonly packed: Uint8Array;
}

export function encodeWindow(a: EncodeWindowArgs): Uint8Array {
  return encodeSegmentOrdered(a.group, a.windowStartNs, unpackEncodings(a.packed));
}

export interface MergeWindowArgs {
  readonly group: number;
  readonly windowStartNs: bigint;
  readonly files: readonly Uint8Array[];
  readonly names: readonly string[];
  /** The merged segment's file name (its summary names it). */
  readonly outName: string;
  /** The tree shape to summarise the merged window for (a whole-window merge), if any. */
  readonly shape?: TreeShape;
  /** The summary keeps the window's sketch prefix too (default). */
  readonly sketch?: boolean;
}

export type MergeWindowResult =
  | { readonly ok: true; readonly bytes: Uint8Array; readonly count: number; readonly summary?: Uint8Array }
  | { readonly ok: false; readonly bad: readonly { readonly index: number; readonly reason: string }[] };

export function mergeWindow(a: MergeWindowArgs): MergeWindowResult {
  const views: SegmentView[] = [];
  const bad: { index: number; reason: string }[] = [];
  a.files.forEach((bytes, index) => {
    try {
      views.push(decodeSegment(bytes, a.names[index]!));
    } catch (e) {
      bad.push({ index, reason: errorMessage(e) });
    }
  });
  if (bad.length > 0) return { ok: false, bad };
  const merged = [...mergeSources(views.map(segmentSource))];
  const bytes = encodeSegment(a.group, a.windowStartNs, merged);
  if (a.shape === undefined) return { ok: true, bytes, count: merged.length };
  const tree = new WindowTree(a.shape, a.windowStartNs, merged);
  return { ok: true, bytes, count: merged.length, summary: encodeSummary(summaryOfTree(tree, a.shape, a.outName, bytes.length, a.sketch !== false)) };
}

export interface VerifySegmentArgs {
  readonly bytes: Uint8Array;
  /** What the file is, for error messages. */
  readonly what: string;
  /** The segment's file name (its summary names it). */
  readonly name: string;
  /** The tree shape to summarise the window for, if any. */
  readonly shape?: TreeShape;
  /** The summary keeps the window's sketch prefix too (default). */
  readonly sketch?: boolean;
}

export type VerifySegmentResult =
  | { readonly ok: true; readonly bytes: Uint8Array; readonly count: number; readonly sha256Hex: string; readonly summary?: Uint8Array }
  | { readonly ok: false; readonly reason: string };

/** The file comes back (it was moved to the task) with its point count, flat checksum and summary. */
export function verifySegment(a: VerifySegmentArgs): VerifySegmentResult {
  let view: SegmentView;
  try {
    view = decodeSegment(a.bytes, a.what);
  } catch (e) {
    return { ok: false, reason: errorMessage(e) };
  }
  const base = { ok: true as const, bytes: a.bytes, count: view.count, sha256Hex: view.sha256Hex };
  if (a.shape === undefined) return base;
  const tree = new WindowTree(a.shape, view.meta.windowStartNs, view.table());
  return { ...base, summary: encodeSummary(summaryOfTree(tree, a.shape, a.name, a.bytes.length, a.sketch !== false)) };
}

export const CODEC_TASKS = {
  encodeWindow,
  mergeWindow,
  verifySegment,
} satisfies TaskHandlers;

/** The whole buffers among `files` (moved to the task); pooled or shared ones are copied instead. */
export function transferable(files: readonly Uint8Array[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const f of files) {
    const b = f.buffer;
    if (b instanceof ArrayBuffer && f.byteOffset === 0 && f.byteLength === b.byteLength && !out.includes(b)) out.push(b);
  }
  return out;
}
