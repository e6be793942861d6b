// The flat checksum of a window: SHA-256 over its merged canonical encodings in key order, followed by
// the encodings of the tombstones touching the window in byte order (model/tombstone.ts; none: the
// points alone, as before deletes existed).

import { EMPTY_SHA256_HEX, createSha256, toHex } from "../base/sha256.ts";
import type { PointRecord } from "../model/point.ts";
import type { WindowChecksum } from "./types.ts";

/** SHA-256 over concatenated encodings, fed in large batches (never one hash call per point). */
export function hashRecords(records: Iterable<PointRecord>, tombstones: readonly Uint8Array[] = []): WindowChecksum {
  const BATCH_BYTES = 1 << 20;
  const hasher = createSha256();
  const buf = new Uint8Array(BATCH_BYTES);
  let used = 0;
  let count = 0;
  for (const r of records) {
    count++;
    const e = r.enc;
    if (used + e.length > BATCH_BYTES) {
      hasher.update(buf.subarray(0, used));
      used = 0;
      if (e.length > BATCH_BYTES) {
        hasher.update(e);
        continue;
      }
    }
    buf.set(e, used);
    used += e.length;
  }
  if (used > 0) hasher.update(buf.subarray(0, used));
  for (const t of tombstones) hasher.update(t);
  return { sha256Hex: count === 0 && tombstones.length === 0 ? EMPTY_SHA256_HEX : toHex(hasher.digest()), pointCount: count };
}
