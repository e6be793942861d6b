// What a node does with one queued write batch, whatever the queue (JetStream here, the simulator's
// queue in src/sim): decode it with the fast Write decoder, write it through the WAL, and say whether
// to acknowledge it, drop it for good, or have it redelivered.

import { errorMessage } from "../base/errors.ts";
import type { Engine, StoredPoint } from "../engine/engine.ts";
import { storedFromWriteRequestBinary } from "../rpc/write-fast.ts";

export type QueuedOutcome =
  /** Durable (after the WAL fsync): acknowledge it. */
  | { kind: "applied"; points: StoredPoint[] }
  /** Can never apply (undecodable): terminate it, or it would be redelivered forever. */
  | { kind: "rejected"; error: string }
  /** The write failed (e.g. the disk): leave it for redelivery. */
  | { kind: "retry"; error: string };

export async function applyQueuedBatch(body: Uint8Array, engine: Engine, stamp: () => bigint, totalGroups: number): Promise<QueuedOutcome> {
  let stored: StoredPoint[];
  try {
    stored = storedFromWriteRequestBinary(body, stamp, totalGroups);
  } catch (e) {
    return { kind: "rejected", error: errorMessage(e) };
  }
  try {
    await engine.write(stored);
  } catch (e) {
    return { kind: "retry", error: errorMessage(e) };
  }
  return { kind: "applied", points: stored };
}
