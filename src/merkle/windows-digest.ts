// The digest of a group's windows: one SHA-256 over every non-empty window's start, root digest and
// point count, in window order. Two replicas with equal digests over the same windows hold equal
// roots for every window (an empty window and an absent one are the same), so identical replicas
// are checked in one small message whatever the number of windows they hold.
//
//   windows_digest := SHA-256( for each window w with count > 0, ascending:
//                              i64 BE window_start ‖ 32 B root digest ‖ u64 BE count )

import { sha256 } from "../base/sha256.ts";
import type { NodeSummary } from "./tree.ts";

/** Bytes of one window's entry in the digest input. */
const ENTRY_BYTES = 8 + 32 + 8;

export interface WindowRootEntry {
  readonly windowStart: bigint;
  readonly root: NodeSummary;
}

/** The digest of `windows` (any order; empty windows are left out). */
export function windowsDigest(windows: readonly WindowRootEntry[]): Uint8Array {
  const held = windows.filter((w) => w.root.count > 0).sort((a, b) => (a.windowStart < b.windowStart ? -1 : a.windowStart > b.windowStart ? 1 : 0));
  const input = new Uint8Array(held.length * ENTRY_BYTES);
  const view = new DataView(input.buffer);
  held.forEach((w, i) => {
    const at = i * ENTRY_BYTES;
    view.setBigInt64(at, w.windowStart, false);
    input.set(w.root.digest.subarray(0, 32), at + 8);
    view.setBigUint64(at + 40, BigInt(w.root.count), false);
  });
  return sha256(input);
}
