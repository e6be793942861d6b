// The engine's public shapes: a point ready to store, the options it opens with, the checksum of a
// window, and the counters and recovery report it shows on /healthz.

import type { FileSystem } from "../ports/fs.ts";
import type { Logger } from "../ports/logger.ts";
import type { Compute } from "../ports/compute.ts";
import type { PointRecord } from "../model/point.ts";
import type { TreeShape } from "../merkle/shape.ts";
import type { CompactionSettings } from "./compaction-policy.ts";

/** A point ready to store: its group, sort key and canonical encoding. */
export interface StoredPoint extends PointRecord {
  readonly group: number;
}

export interface EngineOptions {
  dataDir: string;
  /** The node this data dir belongs to: written on first start, a start under another id is refused (undefined = not checked). */
  nodeId?: string;
  /** Open read-only for this reason (e.g. the data dir's lock could not be taken on a full disk); resumeWrites() ends it. */
  readOnlyBecause?: string;
  /** The cluster's Merkle tree shape: compacted windows keep their summary for it beside the segment. */
  treeShape?: TreeShape;
  /** Summaries also keep each window's sketch prefix (storage.sync.anti_entropy.sketch; default true). */
  sketch?: boolean;
  fs: FileSystem;
  logger: Logger;
  totalGroups: number;
  memstoreBytesMax?: number;
  /** Where segment encoding and compaction merges run (default: inline on the calling thread). */
  compute?: Compute;
  /** Which segments of a window are merged when (default: size-tiered, DEFAULT_COMPACTION). */
  compaction?: CompactionSettings;
  /** Byte budgets of the caches (default: their shares of MEMORY_BYTES_DEFAULT, base/memory-budget.ts). */
  segmentCacheBytesMax?: number;
  treeCacheBytesMax?: number;
  /** Window summaries and checksums read or computed. */
  summaryCacheBytesMax?: number;
  walFileBytesMax?: number;
  /** Called when a flush released a memory store (a hint to collect garbage now). */
  releasedMemory?: () => void;
  /**
   * The process's resident memory and its limit (storage.memory_bytes_max): past FLUSH_EARLY_FRACTION
   * of it a flush starts whatever the memory store holds, past WAIT_FRACTION writers wait for it —
   * so RSS follows the limit even where the estimates of the store and caches fall short.
   */
  residentBytes?: () => number;
  memoryBytesMax?: number;
  /** Durations for metrics: each WAL group commit (write + fsync) and each flush of the memory store. */
  timing?: { nowMs: () => number; walFsyncMs: (ms: number) => void; flushMs: (ms: number) => void };
}

export interface WindowChecksum {
  sha256Hex: string;
  pointCount: number;
}

export interface EngineStats {
  memstoreBytes: number;
  memstorePoints: number;
  /** Points and batches stored through write() (clients, queue, sync pulls, repairs), after expired and deleted ones were left out. */
  ingestedPoints: number;
  ingestedBatches: number;
  segments: number;
  flushes: number;
  compactions: number;
  /** Points rewritten by compaction (a point climbing one tier counts once). */
  compactedPoints: number;
  walAppends: number;
  /** Bytes written to the WAL, to segment files, and the canonical encodings written (write amplification = (wal + segments) / ingested). */
  walBytes: number;
  segmentBytesWritten: number;
  ingestedBytes: number;
  /** Threads the codec tasks run on (0 = inline), and the tasks run there. */
  computeThreads: number;
  computeTasks: number;
  walFsyncs: number;
  quarantined: number;
  segmentDecodes: number;
  /** Range reads: only the series blocks a key range touches, read and decoded. */
  segmentRangeReads: number;
  /** Window summaries found in the summary log (or old sidecars) at open: windows a comparison reads no point of after a restart. */
  summariesLoaded: number;
  /** Writes that waited for a flush because the process's RSS neared storage.memory_bytes_max. */
  memoryWaits: number;
  /** Flushes started early because the process's RSS neared storage.memory_bytes_max. */
  memoryFlushes: number;
  /** Retention: points dropped at ingest as already expired, windows unlinked whole, windows rewritten without an expired database, and the bytes given back. */
  expiredPointsDropped: number;
  windowsExpired: number;
  windowsRewrittenForRetention: number;
  expiredBytesReclaimed: number;
  /**
   * Deletes: live tombstones held; versions refused at ingest because a held tombstone covers them;
   * points deleted from memory and segments; windows rewritten; tombstones added, purged (repair-gated)
   * and dropped as wholly past the retention horizon.
   */
  tombstonesLive: number;
  deletedPointsDropped: number;
  pointsDeleted: number;
  windowsRewrittenForDeletes: number;
  tombstonesAdded: number;
  tombstonesPurged: number;
  tombstonesExpired: number;
  /** Held in memory by the caches (each bounded by its budget). */
  segmentCacheBytes: number;
  treeCacheBytes: number;
  summaryCacheBytes: number;
}

export interface RecoveryReport {
  walRecords: number;
  walPoints: number;
  walTruncatedBytes: number;
  segments: number;
  problems: string[];
}
