// A node's side of deletes (DESIGN §11): a checked, stamped delete becomes one tombstone per group it
// touches on this node — the groups of its devices, or for every device each group the node holds —
// stored durably by the engine before the caller is answered. Shared by StorageService.Delete, Write
// requests carrying a router's deletes (direct and fast path) and the queue consumer.

import { SoltixError, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { insertedAtOfEncoding } from "../model/encoding.ts";
import { LIMITS } from "../base/limits.ts";
import type { Engine, StoredPoint } from "../engine/engine.ts";
import { tombstonesByGroup, type Tombstone } from "../model/tombstone.ts";
import { decodeWriteRequestBinary } from "./write-fast.ts";

/** What storing deletes needs of a node. */
export interface DeleteTarget {
  readonly engine: Engine;
  readonly totalGroups: number;
  /** Groups this node holds or is joining (a delete of every device is placed in each). */
  readonly heldGroups: () => Iterable<number>;
}

/** Stores the tombstones of deletes; returns how many were new. Refused when a group would pass its tombstone limit. */
export async function storeDeletes(target: DeleteTarget, deletes: readonly Tombstone[]): Promise<number> {
  const items: Array<{ group: number; tombstone: Tombstone }> = [];
  const perGroup = new Map<number, number>();
  for (const t of deletes) {
    for (const [group, tombstone] of tombstonesByGroup(t, target.totalGroups, target.heldGroups())) {
      items.push({ group, tombstone });
      perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
    }
  }
  for (const [group, n] of perGroup) {
    const held = target.engine.tombstoneCount(group);
    if (held + n > LIMITS.tombstonesPerGroupMax) {
      throw resourceExhausted("deletes", `group ${group} holds ${held} tombstones, limit ${LIMITS.tombstonesPerGroupMax}: deletes wait until older ones are purged (every replica holds them; see soltix status)`);
    }
  }
  return target.engine.addTombstones(items);
}

/**
 * Refuses a fresh write (a router's, a queue's — not sync, anti-entropy or a move, which carry stored
 * versions) holding a point stamped before its group's purge floor: the newest delete purged there
 * may have covered it, and nothing remembers what it covered. Only a writer whose clock lags by more
 * than storage.tombstone_purge_delay (or a delivery that late) gets here.
 */
export function refuseBelowPurgeFloor(points: readonly StoredPoint[], engine: Engine): void {
  let lastGroup = -1;
  let floor = 0n;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.group !== lastGroup) {
      lastGroup = p.group;
      floor = engine.purgeFloorNs(p.group);
    }
    if (floor === 0n) continue;
    const stamp = insertedAtOfEncoding(p.enc);
    if (stamp <= floor) {
      throw invalidArgument(
        `points[${i}].inserted_at`,
        `${stamp} is not newer than a delete already purged in group ${p.group} (stamped ${floor}): it could bring deleted points back, so it is refused; a writer's clock lags by more than storage.tombstone_purge_delay (check NTP)`,
      );
    }
  }
}

/** A binary WriteRequest applied: its points written, its deletes stored (both durable when it resolves). */
export async function ingestWriteRequest(body: Uint8Array, target: DeleteTarget, stamp: () => bigint): Promise<{ points: StoredPoint[]; tombstones: number }> {
  const { points, deletes } = decodeWriteRequestBinary(body, stamp, target.totalGroups);
  refuseBelowPurgeFloor(points, target.engine);
  if (points.length > 0) await target.engine.write(points);
  const tombstones = deletes.length === 0 ? 0 : await storeDeletes(target, deletes);
  return { points, tombstones };
}

/** Runs a write or delete, telling the node's metrics of a refusal (by error kind) before it goes back to the caller. */
export async function countRejected<T>(ctx: { readonly ingestRejected?: (reason: string) => void }, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    ctx.ingestRejected?.(e instanceof SoltixError ? e.kind : "internal");
    throw e;
  }
}
