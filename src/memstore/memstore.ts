// The memory store: the newest LWW version of each key not yet in a segment, per (group, window).
// Bounded by bytes: the engine flushes it under pressure and makes writers wait rather than drop.
// It never decides durability; it only holds what the WAL already made durable.

import { compareVersions } from "../model/lww.ts";

/** Approximate bytes of one entry beyond its key and encoding (Map slot, object headers). */
const ENTRY_OVERHEAD_BYTES = 64;

export function windowId(group: number, windowStartNs: bigint): string {
  return `${group}:${windowStartNs}`;
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

  /** Keys in order; the array is a snapshot that later writes do not change. */
  sortedKeys(): string[] {
    if (this.sorted === undefined) this.sorted = [...this.map.keys()].sort();
    return this.sorted;
  }
}

export class MemStore {
  readonly windows = new Map<string, MemWindow>();
  bytes = 0;
  points = 0;

  put(group: number, windowStartNs: bigint, key: string, enc: Uint8Array): void {
    const id = windowId(group, windowStartNs);
    let w = this.windows.get(id);
    if (w === undefined) {
      w = new MemWindow(group, windowStartNs);
      this.windows.set(id, w);
    }
    const before = w.map.size;
    this.bytes += w.put(key, enc);
    this.points += w.map.size - before;
  }

  isEmpty(): boolean {
    return this.windows.size === 0;
  }
}
