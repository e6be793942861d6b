// How one number, storage.memory_bytes_max, is shared by what a node holds in memory. The memory store
// starts a flush at its share and makes writers wait at twice it (the active store plus the one being
// flushed); each cache evicts beyond its share. The rest is for the runtime itself, requests in flight,
// compaction merges on the worker threads and the collector's slack — RSS stays under the total.

export interface MemoryBudget {
  /** Memory store bytes (as counted by the memory store, calibrated to the heap) that start a flush. */
  memstoreBytes: number;
  /** Decoded segments. */
  segmentCacheBytes: number;
  /** Merkle trees of windows (anti-entropy). */
  treeCacheBytes: number;
  /** Window summaries read from the .sum sidecars (two thirds) and window checksums (one third). */
  summaryCacheBytes: number;
}

/** Default storage.memory_bytes_max. */
export const MEMORY_BYTES_DEFAULT = 512 * 1024 * 1024;
export const MEMORY_BYTES_MIN = 64 * 1024 * 1024;

/** Shares of the budget (the memory store's is per store: twice it can be held while flushing). */
export const MEMORY_SHARES = { memstore: 0.15, segmentCache: 0.08, treeCache: 0.08, summaryCache: 0.04 } as const;

export function memoryBudget(memoryBytesMax: number): MemoryBudget {
  const part = (share: number) => Math.floor(memoryBytesMax * share);
  return {
    memstoreBytes: part(MEMORY_SHARES.memstore),
    segmentCacheBytes: part(MEMORY_SHARES.segmentCache),
    treeCacheBytes: part(MEMORY_SHARES.treeCache),
    summaryCacheBytes: part(MEMORY_SHARES.summaryCache),
  };
}

/** Bytes the explicit settings take of the budget (the memory store counted twice: active + flushing). */
export function budgetUsed(b: MemoryBudget): number {
  return 2 * b.memstoreBytes + b.segmentCacheBytes + b.treeCacheBytes + b.summaryCacheBytes;
}

/** At most this fraction of storage.memory_bytes_max may be given to the memory store and caches. */
export const MEMORY_ASSIGNABLE_FRACTION = 0.75;
