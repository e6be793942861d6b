// What the engine knows of each segment file, and the file names it gives them:
// g<group>-d<UTC day>-s<sequence, 12 digits>.seg (a higher sequence is newer).

import type { SegmentMeta } from "../segment/format.ts";
import type { WindowSummary } from "./window-summary.ts";

export const SEG_RE = /^g(\d+)-d(\d+)-s(\d+)\.seg$/;

export function segName(group: number, day: number, seq: number): string {
  return `g${group}-d${day}-s${String(seq).padStart(12, "0")}.seg`;
}

export interface SegmentRef {
  readonly path: string;
  readonly seq: number;
  readonly meta: SegmentMeta;
  /** Its verified flat checksum, once read (from the footer, or a decode). */
  digest?: { sha256Hex: string; count: number };
  /** Its window's Merkle summary, once read from the sidecar (null: none usable; undefined: not looked at). */
  summary?: WindowSummary | null;
}

export interface WindowSegments {
  readonly group: number;
  readonly windowStartNs: bigint;
  segs: SegmentRef[];
}

/** The file name of a segment (its path's last part). */
export function segmentFileName(ref: SegmentRef): string {
  return ref.path.slice(ref.path.lastIndexOf("/") + 1);
}
