// The memory store: the newest LWW version of each key not yet in a segment, per (group, window).
// Bounded by bytes: the engine flushes it under pressure and makes writers wait rather than drop.
// It never decides durability; it only holds what the WAL already made durable.

import { compareVersions } from "../model/lww.ts";

/**
 * Bytes of one entry beyond its key and encoding (Map slot, string and typed-array headers), so the
 * count follows the heap: measured by scripts/bench/memstore-memory.ts (Bun 1.3, 10-field points).
 */
const ENTRY_OVERHEAD_BYTES = 192;

/** Days per group slot in a window id: every day number below TIME_MAX_NS fits (104 000 < 2^17). */
const DAYS_PER_GROUP = 131_072;
const NS_PER_DAY = 86_400_000_000_000n;

/** A number naming (group, UTC day window); numbers make cheap Map keys on the write path. */
export type WindowId = number;

export function windowId(group: number, windowStartNs: bigint): WindowId {
  return group * DAYS_PER_GROUP + Number(windowStartNs / NS_PER_DAY);
}


export class MemWindow {
  readonly map = new Map<string, Uint8Array>();
  private sorted: string[] | undefined;
  bytes = 0;

  constructor(readonly group: number, readonly windowStartNs: bigint) {}

  /** Applies a version under LWW; returns the change in bytes held. */
  put(key: string, enc: Uint8Array): number {
    const cur = this.map.get(key);
    if (cur === undefined) {
      this.map.set(key, enc);
      this.sorted = undefined;
      const delta = key.length * 2 + enc.length + ENTRY_OVERHEAD_BYTES;
      this.bytes += delta;
      return delta;
    }
    if (compareVersions(cur, enc) >= 0) return 0;
    this.map.set(key, enc);
    const delta = enc.length - cur.length;
    this.bytes += delta;
    return delta;
  }

  /** Removes the entries `drop` picks; returns how many went and the change in bytes held. */
  removeWhere(drop: (key: string, enc: Uint8Array) => boolean): { removed: number; bytes: number } {
    let removed = 0;
    let bytes = 0;
    for (const [key, enc] of this.map) {
      if (!drop(key, enc)) continue;
      this.map.delete(key);
      removed++;
      bytes -= key.length * 2 + enc.length + ENTRY_OVERHEAD_BYTES;
    }
    if (removed > 0) {
      this.sorted = undefined;
      this.bytes += bytes;
    }
    return { removed, bytes };
  }

  /** Keys in order; the array is a snapshot that later writes do not change. */
  sortedKeys(): string[] {
    if (this.sorted === undefined) this.sorted = [...this.map.keys()].sort();
    return this.sorted;
  }
}

export class MemStore {
  readonly windows = new Map<WindowId, MemWindow>();
  bytes = 0;
  points = 0;

  put(id: WindowId, group: number, windowStartNs: bigint, key: string, enc: Uint8Array): void {
    let w = this.windows.get(id);
    if (w === undefined) {
      w = new MemWindow(group, windowStartNs);
      this.windows.set(id, w);
    }
    const before = w.map.size;
    this.bytes += w.put(key, enc);
    this.points += w.map.size - before;
  }

  /** Removes the entries of one window that `drop` picks; returns how many went. */
  removeWhere(id: WindowId, drop: (key: string, enc: Uint8Array) => boolean): number {
    const w = this.windows.get(id);
    if (w === undefined) return 0;
    const r = w.removeWhere(drop);
    this.bytes += r.bytes;
    this.points -= r.removed;
    if (w.map.size === 0) this.windows.delete(id);
    return r.removed;
  }

  isEmpty(): boolean {
    return this.windows.size === 0;
  }
}
