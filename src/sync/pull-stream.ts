// Pulling a replica's points into this node: StreamPoints pages as bytes (sync/point-pages.ts), each
// decoded and validated by the node's write decoder (the same checks as a client write, keeping the
// points' inserted_at) and written through the WAL. Shared by startup sync and the anti-entropy
// full-resync paths.

import { Code, ConnectError } from "@connectrpc/connect";
import { ByteRangeError, ByteReader } from "../base/bytes.ts";
import type { Engine, StoredPoint } from "../engine/engine.ts";
import type { Clock } from "../ports/clock.ts";
import { storedFromWriteRequestBinary } from "../rpc/write-fast.ts";
import type { PointPages, StreamPointsInit } from "./point-pages.ts";

/** Consecutive failed attempts (no batch received in between) before a pull gives up. */
export const STREAM_RESUME_ATTEMPTS_MAX = 3;

/** Failures worth resuming after: the connection or the peer's stream broke, not the data. */
function resumable(e: unknown): boolean {
  if (!(e instanceof ConnectError)) return false;
  return [Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Unknown, Code.Internal, Code.Canceled].includes(e.code);
}

/** The cursor (field 2) of a StreamPointsResponse's bytes. */
export function cursorOfPage(page: Uint8Array): string {
  const r = new ByteReader(page);
  let cursor = "";
  try {
    while (r.remaining() > 0) {
      const key = r.uvarint();
      const wt = key & 7;
      if (wt === 2 && key >>> 3 === 2) cursor = r.str();
      else if (wt === 2) r.take(r.uvarint());
      else if (wt === 0) while (r.u8() >= 0x80); // any varint, up to 64 bits
      else if (wt === 1) r.take(8);
      else if (wt === 5) r.take(4);
      else throw new ByteRangeError(`wire type ${wt}`);
    }
  } catch (e) {
    if (e instanceof ByteRangeError) throw new ConnectError(`StreamPoints page: ${e.message}`, Code.InvalidArgument);
    throw e;
  }
  return cursor;
}

/**
 * Streams `request` from the peer into the engine; `onBatch` sees each written batch. A stream that
 * breaks is resumed from the cursor of the last written batch (nothing is pulled twice, nothing
 * skipped), up to STREAM_RESUME_ATTEMPTS_MAX failures in a row. Returns the point count.
 */
export async function pullStream(
  source: PointPages,
  request: StreamPointsInit,
  timeoutMs: number,
  engine: Engine,
  totalGroups: number,
  clock: Clock,
  onBatch: (stored: readonly StoredPoint[]) => void = () => {},
): Promise<number> {
  let n = 0;
  let cursor = request.cursor ?? "";
  let failures = 0;
  const stamp = () => clock.nowNs();
  for (;;) {
    try {
      for await (const page of source.pages({ ...request, cursor }, timeoutMs)) {
        const next = cursorOfPage(page);
        const stored = storedFromWriteRequestBinary(page, stamp, totalGroups);
        await engine.write(stored);
        n += stored.length;
        cursor = next;
        failures = 0;
        onBatch(stored);
      }
      return n;
    } catch (e) {
      if (!resumable(e) || ++failures >= STREAM_RESUME_ATTEMPTS_MAX) throw e;
    }
  }
}
