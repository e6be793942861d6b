// Sorted sources of one window and their LWW merge. A source is a key-sorted run (a memory window
// snapshot or a segment); the merge yields each key once, with the winning version, in key order.

import { compareVersions } from "../model/lww.ts";
import type { PointRecord } from "../model/point.ts";
import type { MemWindow } from "../memstore/memstore.ts";
import type { SegmentView } from "../segment/format.ts";

export interface SortedSource {
  readonly size: number;
  key(i: number): string;
  enc(i: number): Uint8Array;
  /** First index whose key is >= `key`. */
  lowerBound(key: string): number;
}

function lowerBoundIn(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function memSource(w: MemWindow): SortedSource {
  const keys = w.sortedKeys();
  const map = w.map;
  return {
    size: keys.length,
    key: (i) => keys[i]!,
    enc: (i) => map.get(keys[i]!)!,
    lowerBound: (k) => lowerBoundIn(keys, k),
  };
}

export function segmentSource(v: SegmentView): SortedSource {
  // Keys are parsed from the encodings on first use only (a single-segment checksum needs none).
  return {
    size: v.count,
    key: (i) => v.keys()[i]!,
    enc: (i) => v.enc(i),
    lowerBound: (k) => lowerBoundIn(v.keys(), k),
  };
}

/**
 * LWW merge of sorted sources over keys in [fromKey, toKey) (toKey undefined = no end), optionally
 * skipping keys <= afterKey (a cursor).
 */
export function* mergeSources(
  sources: readonly SortedSource[],
  fromKey = "",
  toKey: string | undefined = undefined,
): Generator<PointRecord> {
  const n = sources.length;
  const pos = new Array<number>(n);
  for (let s = 0; s < n; s++) pos[s] = sources[s]!.lowerBound(fromKey);
  if (n === 1) {
    const src = sources[0]!;
    for (let i = pos[0]!; i < src.size; i++) {
      const key = src.key(i);
      if (toKey !== undefined && key >= toKey) return;
      yield { key, enc: src.enc(i) };
    }
    return;
  }
  for (;;) {
    let minKey: string | undefined;
    for (let s = 0; s < n; s++) {
      const src = sources[s]!;
      const p = pos[s]!;
      if (p < src.size) {
        const k = src.key(p);
        if (minKey === undefined || k < minKey) minKey = k;
      }
    }
    if (minKey === undefined || (toKey !== undefined && minKey >= toKey)) return;
    let best: Uint8Array | undefined;
    for (let s = 0; s < n; s++) {
      const src = sources[s]!;
      const p = pos[s]!;
      if (p < src.size && src.key(p) === minKey) {
        const e = src.enc(p);
        if (best === undefined || compareVersions(e, best) > 0) best = e;
        pos[s] = p + 1;
      }
    }
    yield { key: minKey, enc: best! };
  }
}
