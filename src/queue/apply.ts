// What a node does with one queued write batch, whatever the queue (JetStream here, the simulator's
// queue in src/sim): decode it with the fast Write decoder, write it through the WAL, and say whether
// to acknowledge it, drop it for good, or have it redelivered.

import { SoltixError, errorMessage } from "../base/errors.ts";
import type { StoredPoint } from "../engine/engine.ts";
import { ingestWriteRequest, type DeleteTarget } from "../rpc/deletes.ts";

export type QueuedOutcome =
  /** Durable (after the WAL fsync): acknowledge it. */
  | { kind: "applied"; points: StoredPoint[] }
  /** Can never apply (undecodable): terminate it, or it would be redelivered forever. */
  | { kind: "rejected"; error: string }
  /** The write failed (e.g. the disk): leave it for redelivery. */
  | { kind: "retry"; error: string };

/** Applies one queued batch: its points written and its deletes stored (both durable before "applied"). */
export async function applyQueuedBatch(body: Uint8Array, target: DeleteTarget, stamp: () => bigint): Promise<QueuedOutcome> {
  try {
    const r = await ingestWriteRequest(body, target, stamp);
    return { kind: "applied", points: r.points };
  } catch (e) {
    // Bad bytes never apply; anything else (the disk, a group's tombstone limit) may later.
    if (e instanceof SoltixError && e.kind === "invalid_argument") return { kind: "rejected", error: errorMessage(e) };
    return { kind: "retry", error: errorMessage(e) };
  }
}
