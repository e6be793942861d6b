// Last-write-wins between two versions of the same key. Higher inserted_at wins; on a tie the
// byte-lexicographically larger canonical encoding wins. Because inserted_at is the first field after
// the version byte, both rules are one byte comparison: the winner is the max of a total order, so
// merging is commutative, associative and idempotent, and replicas converge in any delivery order.

import { compareBytes } from "../base/bytes.ts";
import type { PointRecord } from "./point.ts";

export function compareVersions(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, b);
}

/** The winning encoding of two versions of one key. */
export function lwwWinner(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareVersions(a, b) >= 0 ? a : b;
}

export function lwwRecord(a: PointRecord, b: PointRecord): PointRecord {
  return compareVersions(a.enc, b.enc) >= 0 ? a : b;
}

/** Merges any number of records into the LWW winner per key, sorted by key (the naive oracle). */
export function lwwMerge(records: Iterable<PointRecord>): PointRecord[] {
  const byKey = new Map<string, PointRecord>();
  for (const r of records) {
    const cur = byKey.get(r.key);
    byKey.set(r.key, cur === undefined ? r : lwwRecord(cur, r));
  }
  return [...byKey.values()].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}
