// The local store of one node: WAL → memory store → segments per (group, UTC day) → compaction.
// Invariants: a write resolves only after its WAL record is fsynced; a WAL file is removed only after
// every record in it is inside a durable segment; segments are installed temp → fsync → rename →
// fsync dir; flushes run one at a time, compaction passes one at a time beside them (a window's
// merges in order; merges swap segments in one synchronous step). Reads merge memory and segments
// under LWW, so a key held twice (a crash between install and cleanup) is harmless.
//
// This file holds open and recovery, the write path, flush and compaction scheduling, and the
// window caches (checksums, trees). Beside it: types.ts (options, stats), data-meta.ts (the data
// dir's meta file), segment-refs.ts (segment names and refs), segment-cache.ts (decoded segments),
// window-summaries.ts (the window summary log, held summaries), window-checksum.ts, codec-tasks.ts (the Compute tasks),
// compaction-policy.ts, merge.ts, byte-lru.ts.

import { assert } from "../base/assert.ts";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { compareBytes } from "../base/bytes.ts";
import { MEMORY_BYTES_DEFAULT, memoryBudget } from "../base/memory-budget.ts";
import { ByteLru } from "./byte-lru.ts";
import { EMPTY_SHA256_HEX } from "../base/sha256.ts";
import { NS_PER_DAY, windowStartNs } from "../base/time.ts";
import { TIME_OFFSET, keyOfEncoding } from "../model/encoding.ts";
import { groupOf } from "../model/group.ts";
import { keyParts, type PointRecord } from "../model/point.ts";
import { installTemps, unwritableCode, writeFileDurable, writeTempDurable } from "../ports/fs.ts";
import { MemStore, windowId, type MemWindow, type WindowId } from "../memstore/memstore.ts";
import { SEGMENT_HEADER_BYTES, decodeSegment, decodeSegmentHeader, segmentDigest, type SegmentMeta } from "../segment/format.ts";
import { Wal } from "../wal/wal.ts";
import { parsePointsPayload, pointsRecord } from "../wal/format.ts";
import { mergeSources, memSource, segmentSource, type SortedSource } from "./merge.ts";
import { SKETCH_PREFIX_SYMBOLS, WindowTree } from "../merkle/tree.ts";
import type { Sketch } from "../merkle/riblt.ts";
import { shapeKey, type TreeShape } from "../merkle/shape.ts";
import type { NodeSummary } from "../merkle/tree.ts";
import { WindowSummaries } from "./window-summaries.ts";
import type { WindowSummary } from "./window-summary.ts";
import { SegmentCache } from "./segment-cache.ts";
import { CODEC_TASKS, packEncodings, transferable, type EncodeWindowArgs, type MergeWindowArgs, type MergeWindowResult, type VerifySegmentArgs, type VerifySegmentResult } from "./codec-tasks.ts";
import { inlineCompute, type Compute } from "../ports/compute.ts";
import { DEFAULT_COMPACTION, pickCompaction, type CompactionSettings } from "./compaction-policy.ts";
import type { EngineOptions, EngineStats, RecoveryReport, StoredPoint, WindowChecksum } from "./types.ts";
import { SEG_RE, segName, segmentFileName, type SegmentRef, type WindowSegments } from "./segment-refs.ts";
import { META_FILE, checkDataMeta } from "./data-meta.ts";
import { hashRecords } from "./window-checksum.ts";
import { forEachBounded } from "../base/bounded.ts";
import { KEEP_FOREVER, RetentionCutoffs, type RetentionPolicy } from "./retention.ts";
import { Tombstones, tombstoneId, type HeldTombstone } from "./tombstones.ts";
import { CompiledTombstone, encodeTombstone, type Tombstone } from "../model/tombstone.ts";
import { seriesPrefix } from "../model/point.ts";

export type { EngineOptions, EngineStats, RecoveryReport, StoredPoint, WindowChecksum } from "./types.ts";
export { hashRecords } from "./window-checksum.ts";

/** Memory of a held window checksum (an estimate, for the budget). */
const CHECKSUM_ENTRY_BYTES = 160;
/** Settled windows merged whole after one flush (the rest wait for the next), so a flush after a restart stays short. */
const QUIET_MERGES_PER_FLUSH_MAX = 8;
/** Fractions of memoryBytesMax (resident) that start a flush early, and that make writers wait for it. */
const FLUSH_EARLY_FRACTION = 0.8;
/** Fraction of memoryBytesMax (resident) above which a flush is followed by a full garbage collection. */
const COLLECT_AFTER_FLUSH_FRACTION = 0.6;
const WAIT_FRACTION = 0.92;
/** An early flush needs this much in the memory store, or 1/256 of its flush size when smaller (else it would only make files). */
const FLUSH_EARLY_BYTES_MIN = 4 * 1024 * 1024;
const FLUSH_EARLY_FRACTION_OF_STORE = 1 / 256;
/** Windows merged at once by a compaction pass (at least; twice the compute threads when more). */
const MERGES_IN_FLIGHT_MIN = 4;
/** A flush waits for compaction once a window holds this many times segmentsMax segments (compaction fell behind). */
const COMPACTION_LAG_FACTOR = 2;
/** Segment files of one flush written and fsynced concurrently. */
const SEGMENT_WRITES_IN_FLIGHT_MAX = 16;

/** A replica's segment file written durably under its temp name, waiting for its rename (commitInstall). */
interface PendingInstall {
  name: string;
  bytes: Uint8Array;
  seq: number;
  /** Verified whole: its flat checksum and point count, and its window's summary when the engine has a tree shape. */
  digest: { sha256Hex: string; count: number };
  summary: Uint8Array | undefined;
  id: WindowId;
}

/** A window's tree, valid while `version` equals the window's write version. */
interface CachedTree {
  readonly shape: string;
  version: number;
  readonly tree: WindowTree;
}

export class Engine {
  private active = new MemStore();
  private frozen: MemStore[] = [];
  private readonly windows = new Map<WindowId, WindowSegments>();
  /** The same windows by group (windowsOf is called per group for every comparison: no scan of all windows). */
  private readonly windowsByGroup = new Map<number, WindowSegments[]>();
  private readonly lastTime = new Map<number, bigint>();
  private readonly checksumCache: ByteLru<WindowId, WindowChecksum>;
  /** Bumped on every applied write, per window: a checksum computed across a change is not cached. */
  private readonly writeVersion = new Map<WindowId, number>();
  /** Decoded segments, verified, within their byte budget. */
  private readonly cache: SegmentCache;
  /** Merkle trees of recently compared windows, valid while the window's write version is unchanged. */
  private readonly trees: ByteLru<WindowId, CachedTree>;
  /** Window summaries beside compacted segments, held within a byte budget. */
  private readonly summaries: WindowSummaries;
  private segSeq = 0;
  private maintenance: Promise<void> = Promise.resolve();
  private pendingInstalls: Array<PendingInstall & { resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;
  /** The running compaction pass, and the windows written since it started (for the next pass). */
  private compacting: Promise<void> | undefined;
  private compactionTouched = new Set<WindowId>();
  private closed = false;
  /** The data meta file that could not be written at open (full or read-only disk), and why. */
  private pendingMeta: Uint8Array | undefined;
  private unwritable: string | undefined;
  /**
   * segmentDecodes: segment files whose points were decoded whole (a comparison of identical replicas
   * should cause none); segmentRangeReads: reads of some series blocks of a segment (a Query of some devices).
   */
  readonly stats = { ingestedPoints: 0, ingestedBatches: 0, flushes: 0, compactions: 0, compactedPoints: 0, quarantined: 0, segmentDecodes: 0, segmentRangeReads: 0, summariesLoaded: 0, segmentBytesWritten: 0, ingestedBytes: 0, computeTasks: 0, memoryWaits: 0, memoryFlushes: 0, expiredPointsDropped: 0, windowsExpired: 0, windowsRewrittenForRetention: 0, expiredBytesReclaimed: 0, deletedPointsDropped: 0, pointsDeleted: 0, windowsRewrittenForDeletes: 0, tombstonesAdded: 0, tombstonesPurged: 0, tombstonesExpired: 0 };
  /** The retention cutoffs of the last sweep (or setRetention): ingest drops what they expire. */
  private cutoffs = new RetentionCutoffs(KEEP_FOREVER, 0n);
  /** Windows a sweep read and found nothing expired in: their write version and expired-database set then. */
  private readonly sweptClean = new Map<WindowId, string>();
  readonly recovery: RecoveryReport = { walRecords: 0, walPoints: 0, walTruncatedBytes: 0, segments: 0, problems: [] };

  private readonly segDir: string;
  private readonly quarantineDir: string;
  private readonly memstoreBytesMax: number;
  private readonly compaction: CompactionSettings;
  private readonly compute: Compute;

  private constructor(private readonly opts: EngineOptions, private wal: Wal, private readonly tombstones: Tombstones) {
    tombstones.onActivate((added) => this.deleteFromMemory(added));
    this.segDir = `${opts.dataDir}/segments`;
    this.quarantineDir = `${opts.dataDir}/quarantine`;
    const budget = memoryBudget(MEMORY_BYTES_DEFAULT);
    this.memstoreBytesMax = opts.memstoreBytesMax ?? budget.memstoreBytes;
    this.compaction = opts.compaction ?? DEFAULT_COMPACTION;
    this.compute = opts.compute ?? inlineCompute(CODEC_TASKS);
    this.cache = new SegmentCache(
      opts.fs,
      opts.segmentCacheBytesMax ?? budget.segmentCacheBytes,
      (ref, name, reason) => this.dropCorrupt(ref, name, reason),
      () => this.stats.segmentDecodes++,
      () => this.stats.segmentRangeReads++,
    );
    this.trees = new ByteLru(opts.treeCacheBytesMax ?? budget.treeCacheBytes);
    const summaryBytes = opts.summaryCacheBytesMax ?? budget.summaryCacheBytes;
    // Summaries make a clean comparison read no point: most of the share (~7 000 windows at 512 MiB).
    this.summaries = new WindowSummaries(opts.fs, opts.logger, this.segDir, (summaryBytes * 2) / 3);
    this.checksumCache = new ByteLru(summaryBytes / 3);
  }

  static async open(opts: EngineOptions): Promise<Engine> {
    const { fs, dataDir } = opts;
    // A full or read-only disk opens the engine read-only (what is there is served); resumeWrites()
    // finishes what could not be written and takes writes again.
    let unwritable: string | undefined = opts.readOnlyBecause;
    const tolerate = async (work: () => Promise<void>) => {
      try {
        await work();
      } catch (e) {
        if (unwritableCode(e) === undefined) throw e;
        unwritable ??= errorMessage(e);
      }
    };
    await tolerate(() => fs.mkdirp(dataDir));
    let pendingMeta: Uint8Array | undefined;
    await tolerate(async () => {
      pendingMeta = await checkDataMeta(fs, dataDir, opts.totalGroups, opts.nodeId);
      if (pendingMeta !== undefined) await writeFileDurable(fs, dataDir, META_FILE, pendingMeta);
      pendingMeta = undefined;
    });
    await tolerate(() => fs.mkdirp(`${dataDir}/segments`));
    await tolerate(() => fs.mkdirp(`${dataDir}/quarantine`));
    await tolerate(() => fs.mkdirp(`${dataDir}/wal`));
    // Tombstones first: the WAL's points are replayed through them (a deleted point never comes back).
    const tombs = await Tombstones.load(fs, dataDir, `${dataDir}/quarantine`, opts.logger);
    const { wal, recovery } = await Wal.open(fs, `${dataDir}/wal`, opts.logger, opts.walFileBytesMax, `${dataDir}/quarantine`, opts.readOnlyBecause === undefined);
    const engine = new Engine(opts, wal, tombs.store);
    const t = opts.timing;
    if (t !== undefined) wal.timing = { nowMs: t.nowMs, fsyncMs: t.walFsyncMs };
    if (tombs.problem !== undefined) engine.recovery.problems.push(tombs.problem);
    engine.pendingMeta = pendingMeta;
    engine.unwritable = unwritable;
    await engine.loadSegmentIndex();
    engine.recovery.walRecords = recovery.payloads.length;
    engine.recovery.walTruncatedBytes = recovery.truncatedBytes;
    engine.recovery.problems.push(...recovery.problems);
    for (const payload of recovery.payloads) {
      let encs: Uint8Array[];
      try {
        encs = parsePointsPayload(payload);
      } catch (e) {
        // CRC-valid but unparsable: written by a buggy or foreign writer. Never apply it.
        engine.recovery.problems.push(`WAL record not applied: ${errorMessage(e)}`);
        opts.logger.log("error", "wal: CRC-valid record does not parse; skipped", { error: errorMessage(e) });
        continue;
      }
      // One record = one batch, applied like the write that made it.
      engine.applyBatch(
        encs.map((enc) => {
          const key = keyOfEncoding(enc);
          const kp = keyParts(key);
          return { group: groupOf(kp.database, kp.collection, kp.id, opts.totalGroups), key, enc };
        }),
      );
      engine.recovery.walPoints += encs.length;
    }
    // Tombstones a crash caught before their segments were rewritten are applied again.
    const unapplied = engine.tombstones.groupIds().flatMap((g) => engine.tombstones.live(g).filter((h) => !h.applied));
    if (unapplied.length > 0 && engine.unwritable === undefined && opts.readOnlyBecause === undefined) await engine.applyToSegments(unapplied);
    opts.logger.log("info", "engine: recovered", { ...engine.recovery, tombstones: engine.tombstones.liveCount() });
    return engine;
  }

  private async loadSegmentIndex(): Promise<void> {
    const { fs, logger } = this.opts;
    const names = await fs.list(this.segDir);
    for (const name of names) {
      const path = `${this.segDir}/${name}`;
      if (name.endsWith(".tmp")) {
        await fs.remove(path);
        continue;
      }
      const m = SEG_RE.exec(name);
      if (m === null) continue;
      const seq = Number(m[3]);
      this.segSeq = Math.max(this.segSeq, seq);
      let meta: SegmentMeta;
      try {
        meta = decodeSegmentHeader(await fs.readRange(path, 0, SEGMENT_HEADER_BYTES), name);
        if (meta.group !== Number(m[1]) || meta.windowStartNs / NS_PER_DAY !== BigInt(m[2]!)) {
          throw new SoltixError("data_loss", `segment ${name}: header names group ${meta.group} window ${meta.windowStartNs}`);
        }
      } catch (e) {
        await this.quarantine(path, name, errorMessage(e));
        continue;
      }
      this.addSegmentRef({ path, seq, meta });
      this.recovery.segments++;
    }
    // The window summaries: one log read, the live ones copied to a new generation (sidecars of older dirs moved in).
    this.stats.summariesLoaded = await this.summaries.load([...this.windows.values()].flatMap((w) => w.segs), names, this.unwritable === undefined && this.opts.readOnlyBecause === undefined);
    logger.log("debug", "engine: segment index loaded", { segments: this.recovery.segments });
  }

  private addSegmentRef(ref: SegmentRef): void {
    const id = windowId(ref.meta.group, ref.meta.windowStartNs);
    let w = this.windows.get(id);
    if (w === undefined) {
      w = { group: ref.meta.group, windowStartNs: ref.meta.windowStartNs, segs: [] };
      this.windows.set(id, w);
      let byGroup = this.windowsByGroup.get(w.group);
      if (byGroup === undefined) this.windowsByGroup.set(w.group, (byGroup = []));
      byGroup.push(w);
    }
    w.segs.push(ref);
    if (ref.meta.count > 0) this.noteTime(ref.meta.group, ref.meta.maxTimeNs);
  }

  private noteTime(group: number, t: bigint): void {
    const cur = this.lastTime.get(group);
    if (cur === undefined || t > cur) this.lastTime.set(group, t);
  }

  /**
   * Applies durable points to the memory store. The window of a point is found from the 8 time bytes
   * of its encoding, compared with the previous point's window first (a batch mostly shares a few),
   * so the BigInt arithmetic runs once per window change, not once per point.
   */
  private applyBatch(points: readonly StoredPoint[]): void {
    let curGroup = -1;
    let curId = -1;
    let curWs = 0n;
    let curTree: CachedTree | undefined;
    let curTombs: readonly CompiledTombstone[] = [];
    let loHi = 0, loLo = 0, hiHi = 0, hiLo = 0; // [window start, window end) as (hi, lo) u32 pairs
    let maxHi = -1, maxLo = 0;
    let maxGroup = -1;
    for (const p of points) {
      const e = p.enc;
      const tHi = ((e[9]! << 24) | (e[10]! << 16) | (e[11]! << 8) | e[12]!) >>> 0;
      const tLo = ((e[13]! << 24) | (e[14]! << 16) | (e[15]! << 8) | e[16]!) >>> 0;
      const inWindow =
        p.group === curGroup &&
        (tHi > loHi || (tHi === loHi && tLo >= loLo)) &&
        (tHi < hiHi || (tHi === hiHi && tLo < hiLo));
      if (!inWindow) {
        if (maxGroup >= 0) this.noteTimeParts(maxGroup, maxHi, maxLo);
        maxGroup = -1;
        const t = (BigInt(tHi) << 32n) | BigInt(tLo);
        curWs = windowStartNs(t);
        curGroup = p.group;
        curId = windowId(curGroup, curWs);
        const end = curWs + NS_PER_DAY;
        loHi = Number(curWs >> 32n);
        loLo = Number(curWs & 0xffffffffn);
        hiHi = Number(end >> 32n);
        hiLo = Number(end & 0xffffffffn);
        this.checksumCache.delete(curId);
        const version = (this.writeVersion.get(curId) ?? 0) + 1;
        this.writeVersion.set(curId, version);
        // A cached tree follows the write (queued, applied lazily), so a late write costs one path, not a rebuild.
        curTree = this.trees.get(curId);
        if (curTree !== undefined) curTree.version = version;
        curTombs = this.tombstones.forWindow(curGroup, curWs);
      }
      // A version a held tombstone covers is not stored: deletes win over older writes whenever they arrive.
      if (curTombs.length > 0 && coveredBy(curTombs, p.key, (BigInt(tHi) << 32n) | BigInt(tLo), p.enc)) {
        this.stats.deletedPointsDropped++;
        continue;
      }
      this.active.put(curId, curGroup, curWs, p.key, p.enc);
      if (curTree !== undefined && !curTree.tree.stage(p.key, p.enc)) {
        this.trees.delete(curId);
        curTree = undefined;
      }
      if (maxGroup < 0 || tHi > maxHi || (tHi === maxHi && tLo > maxLo)) {
        maxGroup = curGroup;
        maxHi = tHi;
        maxLo = tLo;
      }
    }
    if (maxGroup >= 0) this.noteTimeParts(maxGroup, maxHi, maxLo);
  }

  private noteTimeParts(group: number, hi: number, lo: number): void {
    this.noteTime(group, (BigInt(hi) << 32n) | BigInt(lo));
  }

  // ---- writes ---------------------------------------------------------------------------------

  /** Stores a batch durably. Resolves after the WAL fsync; the points are then readable. */
  async write(points: readonly StoredPoint[]): Promise<void> {
    if (this.closed) throw new SoltixError("unavailable", "engine is closed");
    if (points.length === 0) return;
    if (this.unwritable !== undefined) throw new SoltixError("unavailable", `${this.writeProblem()}`);
    // Backpressure: when memory holds twice the budget (flushes lagging), wait instead of dropping.
    while (this.active.bytes + this.frozenBytes() >= 2 * this.memstoreBytesMax && this.flushing !== undefined) {
      await this.flushing;
    }
    if (this.opts.residentBytes !== undefined && this.opts.memoryBytesMax !== undefined) {
      const limit = this.opts.memoryBytesMax;
      let rss = this.opts.residentBytes();
      if (rss >= FLUSH_EARLY_FRACTION * limit && this.flushing === undefined && this.active.bytes >= Math.min(FLUSH_EARLY_BYTES_MIN, FLUSH_EARLY_FRACTION_OF_STORE * this.memstoreBytesMax)) {
        this.stats.memoryFlushes++;
        void this.flushMemory().catch(() => {});
      }
      while (rss >= WAIT_FRACTION * limit && this.flushing !== undefined) {
        this.stats.memoryWaits++;
        await this.flushing;
        rss = this.opts.residentBytes();
      }
    }
    // Points already expired by this node's clock are not stored (sync, repair and late writes can
    // never bring back what retention dropped).
    points = this.uncovered(this.unexpired(points));
    if (points.length === 0) return;
    const encs = points.map((p) => p.enc);
    const record = pointsRecord(encs);
    await this.wal.append(record, () => this.applyBatch(points));
    for (const e of encs) this.stats.ingestedBytes += e.length;
    this.stats.ingestedPoints += points.length;
    this.stats.ingestedBatches++;
    if (this.active.bytes >= this.memstoreBytesMax && this.flushing === undefined) void this.flushMemory().catch(() => {});
  }

  private frozenBytes(): number {
    let n = 0;
    for (const m of this.frozen) n += m.bytes;
    return n;
  }

  /**
   * Flushes the memory store into segments and drops the WAL files it covered. Everything written
   * before the call is in segments, and compacted as the policy asks, when it resolves.
   */
  async flush(): Promise<void> {
    await this.flushMemory();
    await this.compacted();
  }

  /** Resolves when no compaction is running or asked for. */
  async compacted(): Promise<void> {
    while (this.compacting !== undefined) await this.compacting;
  }

  /**
   * The flush itself (a flush already running is followed by another): the memory store into
   * segments. Compaction then runs beside later flushes and writes — writers wait for flushes only —
   * unless some window has fallen COMPACTION_LAG_FACTOR × segmentsMax segments behind.
   */
  private flushMemory(rotateEmpty = false): Promise<void> {
    if (this.flushing !== undefined) return this.flushing.then(() => (this.active.isEmpty() && !rotateEmpty ? undefined : this.flushMemory(rotateEmpty)));
    const run = this.serialized(async () => {
      // rotateEmpty: the WAL files are replaced even when memory holds nothing (their records may all
      // have been deleted since; a purge must not leave them to be replayed).
      if (this.active.isEmpty() && !rotateEmpty) return;
      const t0 = this.opts.timing?.nowMs();
      while (this.compacting !== undefined && this.mostSegmentsInAWindow() > COMPACTION_LAG_FACTOR * this.compaction.segmentsMax) await this.compacting;
      let snapshot: MemStore | undefined;
      const newSeq = await this.wal.rotate(() => {
        snapshot = this.active;
        this.frozen.push(snapshot);
        this.active = new MemStore();
      });
      assert(snapshot !== undefined, "rotation must freeze the memstore");
      await this.writeMemWindows(snapshot.windows.values());
      this.frozen = this.frozen.filter((m) => m !== snapshot);
      // A full collection costs the request thread tens of ms: only when RSS is well into the limit.
      const rss = this.opts.residentBytes?.();
      if (rss === undefined || this.opts.memoryBytesMax === undefined || rss >= COLLECT_AFTER_FLUSH_FRACTION * this.opts.memoryBytesMax) this.opts.releasedMemory?.();
      await this.wal.removeBefore(newSeq);
      this.stats.flushes++;
      if (t0 !== undefined) this.opts.timing!.flushMs(this.opts.timing!.nowMs() - t0);
      this.opts.logger.log("debug", "engine: flushed", { windows: snapshot.windows.size, points: snapshot.points });
      this.scheduleCompaction(snapshot.windows.keys());
    });
    this.flushing = run.finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private mostSegmentsInAWindow(): number {
    let most = 0;
    for (const w of this.windows.values()) if (w.segs.length > most) most = w.segs.length;
    return most;
  }

  /**
   * Asks for a compaction pass over the windows a flush touched; passes run one at a time (no two
   * merges of a window at once), the windows of flushes made meanwhile collected for the next one.
   */
  private scheduleCompaction(touched: Iterable<WindowId>): void {
    for (const id of touched) this.compactionTouched.add(id);
    if (this.compacting !== undefined || this.closed) return;
    this.compacting = (async () => {
      while (this.compactionTouched.size > 0 && !this.closed) {
        const ids = this.compactionTouched;
        this.compactionTouched = new Set();
        const merges = this.stats.compactions;
        try {
          await this.compactAfterFlush(ids);
        } catch (e) {
          this.opts.logger.log("error", "engine: compaction failed (retried after the next flush)", { error: errorMessage(e) });
          break;
        }
        this.opts.logger.log("debug", "engine: compacted", { windows: ids.size, merges: this.stats.compactions - merges });
      }
    })().finally(() => {
      this.compacting = undefined;
    });
  }

  private serialized(task: () => Promise<void>): Promise<void> {
    const next = this.maintenance.then(task);
    this.maintenance = next.catch((e: unknown) => {
      this.opts.logger.log("error", "engine: maintenance failed", { error: errorMessage(e) });
    });
    return next;
  }

  /**
   * Writes one segment per window of a frozen memory store, durably as one step (concurrent fsyncs,
   * one directory fsync), then installs them. The frozen store still holds these points until the
   * flush ends: a key in two sources is harmless under LWW, a key in none would be a visible loss.
   */
  private async writeMemWindows(windows: Iterable<MemWindow>): Promise<void> {
    const files: { name: string; bytes: Uint8Array; seq: number }[] = [];
    await forEachBounded(windows, SEGMENT_WRITES_IN_FLIGHT_MAX, async (w) => {
      const seq = ++this.segSeq;
      const name = segName(w.group, Number(w.windowStartNs / NS_PER_DAY), seq);
      const map = w.map;
      const packed = packEncodings(w.sortedKeys().map((k) => map.get(k)!));
      // Encoded off this thread (Compute), then written and fsynced while later windows encode; the
      // disk merges concurrent fsyncs.
      this.stats.computeTasks++;
      const bytes = await this.compute.run<Uint8Array>("encodeWindow", { group: w.group, windowStartNs: w.windowStartNs, packed } satisfies EncodeWindowArgs, [packed.buffer as ArrayBuffer]);
      files.push({ name, bytes, seq });
      await writeTempDurable(this.opts.fs, this.segDir, name, bytes);
    });
    files.sort((x, y) => x.seq - y.seq);
    await installTemps(this.opts.fs, this.segDir, files.map((f) => f.name));
    for (const f of files) this.addSegmentRef(this.installed(f));
  }

  private installed(f: { name: string; bytes: Uint8Array; seq: number }): SegmentRef {
    this.stats.segmentBytesWritten += f.bytes.length;
    return { path: `${this.segDir}/${f.name}`, seq: f.seq, meta: decodeSegmentHeader(f.bytes, f.name) };
  }

  /** Compacts every window with more than one segment into one (LWW kept). */
  compactAll(): Promise<void> {
    return this.serialized(async () => {
      // Flushes wait in the same chain, so no compaction pass starts while these merges run.
      await this.compacted();
      for (const w of [...this.windows.values()]) if (w.segs.length > 1) await this.mergeSegments(w, [...w.segs]);
    });
  }

  /**
   * After a flush, the merges the compaction policy asks for: tiers of the windows the flush wrote to,
   * and a whole merge of at most QUIET_MERGES_PER_FLUSH_MAX windows it did not touch (settled days).
   */
  private async compactAfterFlush(touched: ReadonlySet<WindowId>): Promise<void> {
    let quietMerges = QUIET_MERGES_PER_FLUSH_MAX;
    const pickOf = (w: WindowSegments, quiet: boolean) => pickCompaction(w.segs.map((r) => ({ seq: r.seq, points: r.meta.count })), quiet, this.compaction);
    let wave: Array<{ w: WindowSegments; quiet: boolean }> = [];
    for (const [id, w] of [...this.windows]) {
      const quiet = !touched.has(id) && quietMerges > 0;
      if (pickOf(w, quiet) === undefined) continue;
      if (quiet) quietMerges--;
      wave.push({ w, quiet });
    }
    // Windows are independent: a wave merges one pick of each window, several at once (the worker
    // encodes one while another's files are read, written and fsynced). Output names are numbered
    // in window order before the wave starts, so the files do not depend on timing.
    while (wave.length > 0) {
      const jobs = wave.flatMap(({ w, quiet }) => {
        const pick = pickOf(w, quiet);
        return pick === undefined ? [] : [{ w, quiet, refs: w.segs.filter((r) => pick.includes(r.seq)), seq: ++this.segSeq }];
      });
      await forEachBounded(jobs, Math.max(MERGES_IN_FLIGHT_MIN, 2 * this.compute.threads), (j) => this.mergeSegments(j.w, j.refs, j.seq));
      wave = jobs.filter((j) => pickOf(j.w, j.quiet) !== undefined).map(({ w, quiet }) => ({ w, quiet }));
    }
  }

  /**
   * Merges some segments of a window into one (LWW, on the Compute port), swapped in atomically for
   * readers; a whole-window merge also keeps the window's summary. A file that fails verification is
   * quarantined and the rest are merged.
   */
  private async mergeSegments(w: WindowSegments, old: SegmentRef[], outSeq?: number): Promise<void> {
    const files: Uint8Array[] = [];
    const names: string[] = [];
    const refs: SegmentRef[] = [];
    for (const ref of old) {
      const name = segmentFileName(ref);
      try {
        files.push(await this.opts.fs.readFile(ref.path));
        names.push(name);
        refs.push(ref);
      } catch (e) {
        await this.dropCorrupt(ref, name, errorMessage(e));
      }
    }
    if (refs.length < 2) return;
    const seq = outSeq ?? ++this.segSeq;
    const outName = segName(w.group, Number(w.windowStartNs / NS_PER_DAY), seq);
    const whole = refs.length === w.segs.length;
    const shape = whole ? this.opts.treeShape : undefined;
    const args: MergeWindowArgs = { group: w.group, windowStartNs: w.windowStartNs, files, names, outName, ...(shape === undefined ? {} : { shape, sketch: this.opts.sketch !== false }) };
    this.stats.computeTasks++;
    const result = await this.compute.run<MergeWindowResult>("mergeWindow", args, transferable(files));
    if (!result.ok) {
      for (const b of result.bad) await this.dropCorrupt(refs[b.index]!, names[b.index]!, b.reason);
      const rest = refs.filter((_, i) => !result.bad.some((b) => b.index === i));
      if (rest.length >= 2) await this.mergeSegments(w, rest);
      return;
    }
    await writeTempDurable(this.opts.fs, this.segDir, outName, result.bytes);
    await installTemps(this.opts.fs, this.segDir, [outName]);
    const ref = this.installed({ name: outName, bytes: result.bytes, seq });
    // Swap in one synchronous step so readers see either the old segments or the new one.
    w.segs = [...w.segs.filter((r) => !refs.includes(r)), ref];
    for (const r of refs) {
      this.cache.drop(r.path);
      this.summaries.forget(r);
      await this.opts.fs.remove(r.path);
    }
    // The compacted window's summary, so a comparison of identical replicas reads no point of it,
    // also after a restart.
    if (result.summary !== undefined && w.segs.length === 1) await this.summaries.keep(ref, result.summary);
    await this.opts.fs.syncDir(this.segDir);
    this.stats.compactions++;
    this.stats.compactedPoints += result.count;
  }

  /**
   * Deletes this node's copy of a group (a move gave it to another node): the memory store is flushed
   * first, so what the WAL held for the group is in segments, then every segment of the group is
   * removed and what was derived from its windows forgotten. Points of the group that arrive meanwhile
   * (in flight when the move ended) stay until the next call: the caller repeats it while any remain.
   * Returns the segment files removed.
   */
  async dropGroup(group: number): Promise<number> {
    await this.flushMemory();
    let removed = 0;
    await this.serialized(async () => {
      await this.compacted();
      for (const w of this.windowsByGroup.get(group) ?? []) {
        removed += w.segs.length;
        await this.removeSegments(w, [...w.segs]);
      }
      if (removed > 0) await this.opts.fs.syncDir(this.segDir);
      if (!this.groups().includes(group)) this.lastTime.delete(group);
      // Its tombstones go with it (another node holds the group now, tombstones included).
      if (this.tombstones.drop(group) > 0) await this.tombstones.rewrite();
    });
    this.opts.logger.log("info", "engine: group dropped (moved to another node)", { group, segments: removed });
    return removed;
  }

  /**
   * Removes some segments of a window (unlinked; the caller fsyncs the directory) and forgets what was
   * derived from the window: its checksum, tree and summaries. Returns the bytes the files held.
   */
  private async removeSegments(w: WindowSegments, refs: readonly SegmentRef[], replacement?: SegmentRef): Promise<number> {
    const id = windowId(w.group, w.windowStartNs);
    w.segs = [...w.segs.filter((r) => !refs.includes(r)), ...(replacement === undefined ? [] : [replacement])];
    let bytes = 0;
    for (const r of refs) {
      this.cache.drop(r.path);
      this.summaries.forget(r);
      bytes += r.meta.fileBytes;
      await this.opts.fs.remove(r.path);
    }
    this.checksumCache.delete(id);
    this.trees.delete(id);
    this.writeVersion.set(id, (this.writeVersion.get(id) ?? 0) + 1);
    return bytes;
  }

  // ---- retention (DESIGN §11; engine/retention.ts) ----------------------------------------------

  /** The retention in force from now on (ingest drops what it expires); the next sweep applies it to what is stored. */
  setRetention(policy: RetentionPolicy, nowNs: bigint): void {
    this.cutoffs = new RetentionCutoffs(policy, nowNs);
  }

  get retention(): RetentionCutoffs {
    return this.cutoffs;
  }

  /** Drops the points of a batch that are expired now (counted); the batch itself when none is. */
  private unexpired(points: readonly StoredPoint[]): readonly StoredPoint[] {
    const c = this.cutoffs;
    const from = c.noneExpiredFromNs;
    if (from === 0n) return points;
    let kept: StoredPoint[] | undefined;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const t = new DataView(p.enc.buffer, p.enc.byteOffset + TIME_OFFSET, 8).getBigUint64(0);
      const expired = t < from && c.expired(p.key.slice(0, p.key.indexOf("\u0000")), windowStartNs(t));
      if (expired && kept === undefined) kept = points.slice(0, i);
      else if (!expired) kept?.push(p);
    }
    if (kept === undefined) return points;
    this.stats.expiredPointsDropped += points.length - kept.length;
    return kept;
  }

  /**
   * Applies the retention at `nowNs` to what is stored: a window expired for every database is
   * unlinked whole without a read; a window holding some expired database is rewritten as one segment
   * without it (or unlinked when nothing else is left). What memory holds is flushed first, so the WAL
   * cannot bring expired points back. Returns the windows dropped and rewritten.
   */
  async sweepExpired(nowNs: bigint): Promise<{ dropped: number; rewritten: number; bytes: number }> {
    this.cutoffs = new RetentionCutoffs(this.cutoffs.policy, nowNs);
    const c = this.cutoffs;
    const out = { dropped: 0, rewritten: 0, bytes: 0 };
    if (this.closed || this.unwritable !== undefined || c.noneExpiredFromNs === 0n) return out;
    // Tombstones wholly past the horizon delete nothing any replica still keeps: dropped, no purge needed.
    let expiredTombstones = 0;
    for (const g of this.tombstones.groupIds()) {
      const gone = this.tombstones.live(g).filter((h) => h.c.t.endNs <= c.cutoffOf(h.c.t.database)).map((h) => h.id);
      if (gone.length > 0) expiredTombstones += this.tombstones.drop(g, gone);
    }
    if (expiredTombstones > 0) {
      this.stats.tombstonesExpired += expiredTombstones;
      await this.tombstones.rewrite();
    }
    const candidate = (ws: bigint) => ws < c.noneExpiredFromNs;
    const inMemory = [...this.frozen, this.active].some((m) => [...m.windows.values()].some((w) => candidate(w.windowStartNs)));
    if (![...this.windows.values()].some((w) => w.segs.length > 0 && candidate(w.windowStartNs)) && !inMemory) return out;
    if (inMemory) await this.flushMemory();
    await this.serialized(async () => {
      await this.compacted();
      let changed = false;
      const jobs: Array<{ w: WindowSegments; drop: (key: string) => boolean }> = [];
      const signatures = new Map<WindowSegments, string>();
      for (const w of [...this.windows.values()]) {
        if (w.segs.length === 0 || !candidate(w.windowStartNs)) continue;
        const id = windowId(w.group, w.windowStartNs);
        if (w.windowStartNs < c.allExpiredBeforeNs) {
          out.bytes += await this.removeSegments(w, [...w.segs]);
          out.dropped++;
          changed = true;
          continue;
        }
        const signature = `${this.writeVersion.get(id) ?? 0}|${c.signatureOf(w.windowStartNs)}`;
        if (this.sweptClean.get(id) === signature) continue;
        const ws = w.windowStartNs;
        signatures.set(w, signature);
        jobs.push({ w, drop: (key) => c.expired(key.slice(0, key.indexOf("\u0000")), ws) });
      }
      for (const r of await this.rewriteWindows(jobs)) {
        if (r.dropped === 0) {
          this.sweptClean.set(windowId(r.w.group, r.w.windowStartNs), signatures.get(r.w)!);
          continue;
        }
        changed = true;
        out.bytes += r.bytesFreed;
        if (r.removed) out.dropped++;
        else out.rewritten++;
      }
      if (changed) await this.opts.fs.syncDir(this.segDir);
    });
    this.stats.windowsExpired += out.dropped;
    this.stats.windowsRewrittenForRetention += out.rewritten;
    this.stats.expiredBytesReclaimed += Math.max(0, out.bytes);
    if (out.dropped + out.rewritten > 0) this.opts.logger.log("info", "engine: retention applied", { windows_dropped: out.dropped, windows_rewritten: out.rewritten, bytes_reclaimed: out.bytes });
    return out;
  }

  /**
   * Rewrites windows' segments, each as one without the records its `drop` picks (unlinked when none
   * is left; unchanged when it picks none). The windows are read, filtered and encoded several at
   * once, their new files written and fsynced concurrently, then renamed in one batch with one
   * directory fsync, and swapped in for readers. Runs in the maintenance chain with compaction idle;
   * the caller fsyncs the directory again after the old files' removal. Returns, per window, what went.
   */
  private async rewriteWindows(jobs: ReadonlyArray<{ w: WindowSegments; drop: (key: string, enc: Uint8Array) => boolean }>): Promise<Array<{ w: WindowSegments; dropped: number; bytesFreed: number; removed: boolean }>> {
    type Prepared = { w: WindowSegments; refs: SegmentRef[]; dropped: number; file?: { name: string; bytes: Uint8Array; seq: number } };
    const prepared: Prepared[] = [];
    await forEachBounded(jobs, Math.max(MERGES_IN_FLIGHT_MIN, 2 * this.compute.threads), async ({ w, drop }) => {
      const refs = [...w.segs];
      const sources: SortedSource[] = [];
      for (const ref of refs) {
        const v = await this.cache.load(ref);
        if (v !== undefined && v.count > 0) sources.push(segmentSource(v));
      }
      const kept: Uint8Array[] = [];
      let dropped = 0;
      for (const r of mergeSources(sources)) {
        if (drop(r.key, r.enc)) dropped++;
        else kept.push(r.enc);
      }
      if (dropped === 0 || kept.length === 0) {
        prepared.push({ w, refs, dropped });
        return;
      }
      const seq = ++this.segSeq;
      const name = segName(w.group, Number(w.windowStartNs / NS_PER_DAY), seq);
      const packed = packEncodings(kept);
      this.stats.computeTasks++;
      const bytes = await this.compute.run<Uint8Array>("encodeWindow", { group: w.group, windowStartNs: w.windowStartNs, packed } satisfies EncodeWindowArgs, [packed.buffer as ArrayBuffer]);
      await writeTempDurable(this.opts.fs, this.segDir, name, bytes);
      prepared.push({ w, refs, dropped, file: { name, bytes, seq } });
    });
    const files = prepared.flatMap((p) => (p.file === undefined ? [] : [p.file])).sort((a, b) => a.seq - b.seq);
    if (files.length > 0) await installTemps(this.opts.fs, this.segDir, files.map((f) => f.name));
    const out: Array<{ w: WindowSegments; dropped: number; bytesFreed: number; removed: boolean }> = [];
    for (const p of prepared) {
      if (p.dropped === 0) {
        out.push({ w: p.w, dropped: 0, bytesFreed: 0, removed: false });
        continue;
      }
      // Swapped in one synchronous step with the old files' removal from the index.
      const replacement = p.file === undefined ? undefined : this.installed(p.file);
      const freed = (await this.removeSegments(p.w, p.refs, replacement)) - (p.file?.bytes.length ?? 0);
      out.push({ w: p.w, dropped: p.dropped, bytesFreed: freed, removed: p.file === undefined });
    }
    return out;
  }

  // ---- deletes (DESIGN §11; model/tombstone.ts, engine/tombstones.ts) ---------------------------

  /**
   * Stores tombstones durably and deletes what they cover: resolves once the tombstone file holding
   * them is durable, memory no longer holds a covered version, and every segment window they touch is
   * rewritten without one. From the moment they are durable no covered version is stored again
   * (writes, replays, repairs, installed files). Tombstones already held, purged here lately, or wholly
   * past the retention horizon are skipped. Returns how many were new.
   */
  async addTombstones(items: ReadonlyArray<{ group: number; tombstone: Tombstone }>): Promise<number> {
    if (this.closed) throw new SoltixError("unavailable", "engine is closed");
    if (this.unwritable !== undefined) throw new SoltixError("unavailable", `${this.writeProblem()}`);
    const fresh: HeldTombstone[] = [];
    for (const { group, tombstone } of items) {
      if (tombstone.endNs <= this.cutoffs.cutoffOf(tombstone.database)) continue;
      const enc = encodeTombstone(tombstone);
      const id = tombstoneId(enc);
      if (this.tombstones.has(group, id) || this.tombstones.wasPurged(group, id) || fresh.some((h) => h.group === group && h.id === id)) continue;
      fresh.push({ group, id, c: new CompiledTombstone(tombstone, enc), applied: false });
    }
    if (fresh.length === 0) return 0;
    const inMemoryBefore = this.active.points;
    const deletedBefore = this.stats.pointsDeleted;
    await this.tombstones.add(fresh);
    this.stats.tombstonesAdded += fresh.length;
    // Most of memory deleted (a drop): flushed now, so the WAL files holding it go and the disk is given back.
    const fromMemory = this.stats.pointsDeleted - deletedBefore;
    if (fromMemory > 0 && 2 * fromMemory >= inMemoryBefore) await this.flushMemory(true);
    await this.applyToSegments(fresh);
    return fresh.length;
  }

  /**
   * Drops the points of a batch a held tombstone covers (counted), before they reach the WAL: a WAL
   * record never holds a version deleted before it was written, so purging a tombstone cannot bring
   * one back by a replay. (A write racing the tombstone's arrival is caught as it is applied.)
   */
  private uncovered(points: readonly StoredPoint[]): readonly StoredPoint[] {
    if (this.tombstones.liveCount() === 0) return points;
    let kept: StoredPoint[] | undefined;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const t = timeOfEncodingAt(p.enc);
      const ts = this.tombstones.forWindow(p.group, windowStartNs(t));
      const covered = ts.length > 0 && coveredBy(ts, p.key, t, p.enc);
      if (covered && kept === undefined) kept = points.slice(0, i);
      else if (!covered) kept?.push(p);
    }
    if (kept === undefined) return points;
    this.stats.deletedPointsDropped += points.length - kept.length;
    return kept;
  }

  /** Takes added tombstones into effect in memory (called by the store, synchronously, once they are durable). */
  private deleteFromMemory(added: readonly HeldTombstone[]): void {
    for (const group of new Set(added.map((h) => h.group))) {
      const ts = added.filter((h) => h.group === group).map((h) => h.c);
      // Taken before the removal: a window memory alone held may be gone from the list after it.
      const windows = this.windowsOf(group);
      for (const [id, w] of [...this.active.windows]) {
        if (w.group !== group) continue;
        const here = ts.filter((c) => c.touches(w.windowStartNs, NS_PER_DAY));
        if (here.length === 0) continue;
        const removed = this.active.removeWhere(id, (key, enc) => coveredBy(here, key, timeOfEncodingAt(enc), enc));
        if (removed > 0) this.stats.pointsDeleted += removed;
      }
      // Checksums of the group's windows include their tombstones: every one may have changed.
      for (const ws of windows) this.forgetDerived(windowId(group, ws));
    }
  }

  /** A window's content changed in a way a cached tree cannot follow: drop what was derived from it. */
  private forgetDerived(id: WindowId): void {
    this.checksumCache.delete(id);
    this.trees.delete(id);
    this.writeVersion.set(id, (this.writeVersion.get(id) ?? 0) + 1);
  }

  /**
   * Rewrites the segment windows the tombstones touch without what any live tombstone of the window
   * covers (after a running flush, with compaction idle), then records them applied. A window of some
   * devices is first looked at through those devices' blocks only: most hold none of their points.
   */
  private async applyToSegments(items: readonly HeldTombstone[]): Promise<void> {
    await this.serialized(async () => {
      await this.compacted();
      const jobs: Array<{ w: WindowSegments; drop: (key: string, enc: Uint8Array) => boolean }> = [];
      for (const group of new Set(items.map((h) => h.group))) {
        const ts = items.filter((h) => h.group === group).map((h) => h.c);
        for (const w of [...(this.windowsByGroup.get(group) ?? [])]) {
          if (w.segs.length === 0) continue;
          const here = ts.filter((c) => c.touches(w.windowStartNs, NS_PER_DAY));
          if (here.length === 0 || !(await this.mayCover(w, here))) continue;
          const all = this.tombstones.forWindow(group, w.windowStartNs);
          jobs.push({ w, drop: (key, enc) => coveredBy(all, key, timeOfEncodingAt(enc), enc) });
        }
      }
      let changed = false;
      for (const r of await this.rewriteWindows(jobs)) {
        if (r.dropped === 0) continue;
        changed = true;
        this.stats.pointsDeleted += r.dropped;
        this.stats.windowsRewrittenForDeletes++;
      }
      if (changed) await this.opts.fs.syncDir(this.segDir);
    });
    // Recorded without waiting: until the file says so, a restart applies them again (finding nothing).
    void this.tombstones.markApplied(items).catch((e: unknown) => this.opts.logger.log("warn", "engine: cannot record tombstones as applied (they are applied again at the next open)", { error: errorMessage(e) }));
  }

  /** Might the window's segments hold a point these tombstones cover? (Reads only the named devices' blocks when every one names devices.) */
  private async mayCover(w: WindowSegments, ts: readonly CompiledTombstone[]): Promise<boolean> {
    if (ts.some((c) => c.t.ids.length === 0)) return true;
    for (const c of ts) {
      for (const id of c.t.ids) {
        const from = seriesPrefix(c.t.database, c.t.collection, id);
        const to = `${from.slice(0, -1)}\u0001`;
        for (const ref of [...w.segs]) {
          const v = await this.cache.range(ref, from, to);
          if (v === undefined || v.count === 0) continue;
          for (const r of mergeSources([segmentSource(v)], from, to)) if (c.covers(r.key, timeOfEncodingAt(r.enc), r.enc)) return true;
        }
      }
    }
    return false;
  }

  /** The group's live tombstones (encodings) and purged ids, for a replica comparing its own. */
  tombstonesOf(group: number): { encodings: Uint8Array[]; purgedIds: string[] } {
    return { encodings: this.tombstones.live(group).map((h) => h.c.enc), purgedIds: this.tombstones.purgedIds(group) };
  }

  /** Digest of the group's live tombstones (empty bytes when it holds none). */
  tombstoneDigest(group: number): Uint8Array {
    return this.tombstones.digest(group);
  }

  /** The group's live tombstones with their ids. */
  liveTombstones(group: number): ReadonlyArray<{ id: string; tombstone: Tombstone; encoding: Uint8Array; applied: boolean }> {
    return this.tombstones.live(group).map((h) => ({ id: h.id, tombstone: h.c.t, encoding: h.c.enc, applied: h.applied }));
  }

  /** Groups holding live tombstones (or purge markers). */
  tombstoneGroups(): number[] {
    return this.tombstones.groupIds();
  }

  tombstoneCount(group?: number): number {
    return this.tombstones.liveCount(group);
  }

  /** The group's purge floor (engine/tombstones.ts): the newest inserted_at of a tombstone purged here; 0 = none. */
  purgeFloorNs(group: number): bigint {
    return this.tombstones.floorNs(group);
  }

  /** Was this tombstone purged here lately (a marker is held)? */
  tombstonePurged(group: number, id: string): boolean {
    return this.tombstones.wasPurged(group, id);
  }

  /**
   * Purges live tombstones (every replica was seen to hold them; sync/tombstone-purge.ts decides):
   * they stop filtering, and are remembered as purge markers for PURGE_MARKER_KEEP_NS. Durable when
   * it resolves. Returns how many were live.
   */
  async purgeTombstones(group: number, ids: readonly string[], nowNs: bigint): Promise<number> {
    // Only tombstones already applied to the segments (a failed rewrite is applied again at the next open).
    const applied = new Set(this.tombstones.live(group).filter((h) => h.applied).map((h) => h.id));
    ids = ids.filter((id) => applied.has(id));
    if (ids.length === 0) return 0;
    // The WAL may still hold versions these tombstones deleted (written before them): a replay after
    // the purge would bring them back. Flushed first — memory is already without them — and the WAL
    // files replaced; later writes meet the tombstones before the WAL (write()), so none enter it again.
    await this.flushMemory(true);
    const n = this.tombstones.purge(group, ids, nowNs);
    this.tombstones.pruneMarkers(nowNs);
    if (n === 0) return 0;
    await this.tombstones.rewrite();
    this.stats.tombstonesPurged += n;
    for (const ws of this.windowsOf(group)) this.checksumCache.delete(windowId(group, ws));
    this.opts.logger.log("info", "engine: tombstones purged (every replica holds them)", { group, purged: n });
    return n;
  }

  // ---- whole windows as segment files (moves, full resyncs) ------------------------------------

  /**
   * The window as one segment file: its only segment's file as it is (checked by its CRC) when
   * nothing else holds the window, else its sources LWW-merged and encoded. Undefined when the
   * window holds no point.
   */
  async windowSegment(group: number, ws: bigint): Promise<{ bytes: Uint8Array; count: number } | undefined> {
    const id = windowId(group, ws);
    const w = this.windows.get(id);
    const inMemory = [...this.frozen, this.active].some((m) => (m.windows.get(id)?.map.size ?? 0) > 0);
    if (!inMemory && w !== undefined && w.segs.length === 1) {
      const ref = w.segs[0]!;
      try {
        const bytes = await this.opts.fs.readFile(ref.path);
        const d = segmentDigest(bytes, segmentFileName(ref));
        if (d.count > 0) return { bytes, count: d.count };
      } catch {
        // Merged away meanwhile, or failing its check: the merge below reads through the cache (which quarantines).
      }
    }
    const encs: Uint8Array[] = [];
    for (const r of mergeSources(await this.windowSources(group, ws))) encs.push(r.enc);
    if (encs.length === 0) return undefined;
    const packed = packEncodings(encs);
    this.stats.computeTasks++;
    const bytes = await this.compute.run<Uint8Array>("encodeWindow", { group, windowStartNs: ws, packed } satisfies EncodeWindowArgs, [packed.buffer as ArrayBuffer]);
    return { bytes, count: encs.length };
  }

  /**
   * Installs a replica's segment file of one window (windowSegment's output) beside what the window
   * holds: verified whole first (header names this group and window, times inside it, every checksum),
   * then written temp → fsync → rename → fsync dir like a flush's. Reads merge it under LWW with the
   * rest, so newer local versions keep winning. Returns its point count.
   */
  async installSegment(group: number, ws: bigint, bytes: Uint8Array): Promise<number> {
    if (this.closed) throw new SoltixError("unavailable", "engine is closed");
    if (this.unwritable !== undefined) throw new SoltixError("unavailable", `${this.writeProblem()}`);
    const what = `group ${group} window ${ws} from a replica`;
    const meta = decodeSegmentHeader(bytes, what);
    if (meta.group !== group || meta.windowStartNs !== ws) throw new SoltixError("data_loss", `${what}: the file names group ${meta.group} window ${meta.windowStartNs}`);
    if (meta.count > 0 && (meta.minTimeNs < ws || meta.maxTimeNs >= ws + NS_PER_DAY)) throw new SoltixError("data_loss", `${what}: times ${meta.minTimeNs}..${meta.maxTimeNs} fall outside the window`);
    // Retention: a window expired for every database is not stored; one that may hold an expired
    // database goes through write(), which drops those points.
    if (ws < this.cutoffs.allExpiredBeforeNs) return 0;
    // Deletes: a window some held tombstone touches goes through write() too (covered versions dropped).
    if (ws < this.cutoffs.noneExpiredFromNs || this.tombstones.forWindow(group, ws).length > 0) {
      const records = [...mergeSources([segmentSource(decodeSegment(bytes, what))])].map((r) => ({ group, key: r.key, enc: r.enc }));
      const kept = this.unexpired(records);
      await this.write(kept);
      return kept.length;
    }
    // Written beside other installs and flushes (the disk merges concurrent fsyncs): the name first,
    // since the summary names its segment; only the rename and the directory fsync wait in the
    // maintenance chain, shared by every install waiting.
    const seq = ++this.segSeq;
    const name = segName(group, Number(ws / NS_PER_DAY), seq);
    // Decoded and verified whole off this thread, with the window's summary (the move's verify, and any
    // comparison after it, then reads no point of it).
    const shape = this.opts.treeShape;
    this.stats.computeTasks++;
    const v = await this.compute.run<VerifySegmentResult>("verifySegment", { bytes, what, name, ...(shape === undefined ? {} : { shape, sketch: this.opts.sketch !== false }) } satisfies VerifySegmentArgs, transferable([bytes]));
    if (!v.ok) throw new SoltixError("data_loss", v.reason);
    if (v.count === 0) return 0;
    await writeTempDurable(this.opts.fs, this.segDir, name, v.bytes);
    await this.commitInstall({ name, bytes: v.bytes, seq, digest: { sha256Hex: v.sha256Hex, count: v.count }, summary: v.summary, id: windowId(group, ws) });
    return v.count;
  }

  /**
   * Group commit of installed segments: the temp files waiting are renamed and the directory fsynced
   * once, in the maintenance chain (after a running flush or drop, before the next).
   */
  private commitInstall(f: PendingInstall): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingInstalls.push({ ...f, resolve, reject });
      // A batch already queued takes this one too.
      if (this.pendingInstalls.length > 1) return;
      void this.serialized(async () => {
        const batch = this.pendingInstalls;
        this.pendingInstalls = [];
        try {
          await installTemps(this.opts.fs, this.segDir, batch.map((b) => b.name));
        } catch (e) {
          for (const b of batch) b.reject(e);
          return;
        }
        for (const b of batch) {
          const ref = this.installed(b);
          ref.digest = b.digest;
          if (b.summary !== undefined) void this.summaries.keep(ref, b.summary);
          this.addSegmentRef(ref);
          this.checksumCache.delete(b.id);
          this.trees.delete(b.id);
          this.writeVersion.set(b.id, (this.writeVersion.get(b.id) ?? 0) + 1);
          this.compactionTouched.add(b.id);
          b.resolve();
        }
      });
    });
  }

  // ---- segment cache --------------------------------------------------------------------------

  /** Quarantines a segment that cannot be read or verified and forgets what was derived from its window. */
  private async dropCorrupt(ref: SegmentRef, name: string, reason: string): Promise<void> {
    await this.quarantine(ref.path, name, reason);
    this.summaries.forget(ref);
    const id = windowId(ref.meta.group, ref.meta.windowStartNs);
    const w = this.windows.get(id);
    if (w !== undefined) w.segs = w.segs.filter((r) => r !== ref);
    // The window's content changed (its points are gone until repaired): drop what was derived from it.
    this.checksumCache.delete(id);
    this.trees.delete(id);
    this.writeVersion.set(id, (this.writeVersion.get(id) ?? 0) + 1);
  }

  private async quarantine(path: string, name: string, reason: string): Promise<void> {
    this.stats.quarantined++;
    this.recovery.problems.push(`quarantined ${name}: ${reason}`);
    this.opts.logger.log("error", "engine: corrupt segment quarantined", { file: name, reason });
    try {
      await this.opts.fs.rename(path, `${this.quarantineDir}/${name}`);
      await this.opts.fs.syncDir(this.segDir);
    } catch (e) {
      this.opts.logger.log("error", "engine: quarantine move failed", { file: name, error: errorMessage(e) });
    }
  }

  // ---- reads ----------------------------------------------------------------------------------

  /** Sorted sources of one window: memory (active and frozen) and its segments. */
  async windowSources(group: number, ws: bigint): Promise<SortedSource[]> {
    const id = windowId(group, ws);
    const sources: SortedSource[] = [];
    const seg = this.windows.get(id);
    if (seg !== undefined) {
      for (const ref of [...seg.segs]) {
        const v = await this.cache.load(ref);
        if (v !== undefined && v.count > 0) sources.push(segmentSource(v));
      }
    }
    return this.withMemorySources(id, sources);
  }

  /** Adds the memory store's snapshots of a window: last and after the awaits, so they are as new as possible. */
  private withMemorySources(id: WindowId, sources: SortedSource[]): SortedSource[] {
    for (const m of [...this.frozen, this.active]) {
      const w = m.windows.get(id);
      if (w !== undefined && w.map.size > 0) sources.push(memSource(w));
    }
    return sources;
  }

  /** Window starts holding data for a group, ascending. */
  windowsOf(group: number): bigint[] {
    const out = new Set<bigint>();
    for (const w of this.windowsByGroup.get(group) ?? []) if (w.segs.length > 0) out.add(w.windowStartNs);
    for (const m of [...this.frozen, this.active]) for (const w of m.windows.values()) if (w.group === group) out.add(w.windowStartNs);
    return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Groups holding any data, ascending. */
  groups(): number[] {
    const out = new Set<number>();
    for (const [g, ws] of this.windowsByGroup) if (ws.some((w) => w.segs.length > 0)) out.add(g);
    for (const m of [...this.frozen, this.active]) for (const w of m.windows.values()) out.add(w.group);
    return [...out].sort((a, b) => a - b);
  }

  /**
   * Why writes are refused now (the disk is full or read-only, or the WAL hit an I/O error), or
   * undefined. Reads and repair streams are served all along; resumeWrites() ends it.
   */
  writeProblem(): string | undefined {
    const why = this.unwritable ?? this.wal.failedBecause;
    return why === undefined ? undefined : `read-only: writes refused until the disk can be written again (${why})`;
  }

  /** Tries to take writes again (after a full or read-only disk): true when writes are accepted. */
  async resumeWrites(): Promise<boolean> {
    if (this.closed) return false;
    try {
      if (this.unwritable !== undefined) {
        await this.opts.fs.mkdirp(this.opts.dataDir);
        if (this.pendingMeta !== undefined) await writeFileDurable(this.opts.fs, this.opts.dataDir, META_FILE, this.pendingMeta);
        this.pendingMeta = undefined;
        for (const d of ["segments", "quarantine", "wal"]) await this.opts.fs.mkdirp(`${this.opts.dataDir}/${d}`);
        this.unwritable = undefined;
      }
    } catch (e) {
      if (unwritableCode(e) === undefined) throw e;
      this.unwritable = errorMessage(e);
      return false;
    }
    return this.wal.resume();
  }

  /** Newest point time in the group (0n = no data), from the index: no scan. */
  lastTimestamp(group: number): bigint {
    return this.lastTime.get(group) ?? 0n;
  }

  /** Flat checksum of one window: SHA-256 over the merged canonical encodings in key order. */
  async windowChecksum(group: number, ws: bigint): Promise<WindowChecksum> {
    const id = windowId(group, ws);
    const cached = this.checksumCache.get(id);
    if (cached !== undefined) return cached;
    const version = this.writeVersion.get(id) ?? 0;
    let result: WindowChecksum | undefined;
    const single = this.tombstones.forWindow(group, ws).length > 0 ? undefined : this.singleSegment(id);
    if (single !== undefined) {
      // A compacted window with nothing in memory: its segment's verified data digest is the checksum
      // (read from the file's footer, no point decoded).
      const d = await this.cache.checksum(single);
      if (d !== undefined && this.singleSegment(id) === single) result = { sha256Hex: d.count === 0 ? EMPTY_SHA256_HEX : d.sha256Hex, pointCount: d.count };
    }
    // The window's tombstones are part of its data: hashed after its points (byte order).
    const tombs = this.tombstones.forWindow(group, ws).map((c) => c.enc).sort(compareBytes);
    if (result === undefined) {
      const sources = await this.windowSources(group, ws);
      result = sources.length === 0 && tombs.length === 0 ? { sha256Hex: EMPTY_SHA256_HEX, pointCount: 0 } : hashRecords(mergeSources(sources), tombs);
    }
    if ((this.writeVersion.get(id) ?? 0) === version) this.checksumCache.set(id, result, CHECKSUM_ENTRY_BYTES);
    return result;
  }

  /** The window's only source, when it is one segment and memory holds nothing for it. */
  private singleSegment(id: WindowId): SegmentRef | undefined {
    const w = this.windows.get(id);
    if (w === undefined || w.segs.length !== 1) return undefined;
    for (const m of [...this.frozen, this.active]) if (m.windows.has(id)) return undefined;
    return w.segs[0];
  }

  /**
   * Forgets cached trees, checksums and decoded segments, so the next comparison re-reads and
   * re-verifies every segment from disk (anti-entropy does this now and then to catch bit rot).
   */
  dropReadCaches(): void {
    this.trees.clear();
    this.checksumCache.clear();
    // Re-verify from the points: checksums and summaries are read again (a rebuilt tree rewrites its summary).
    for (const w of this.windows.values()) for (const ref of w.segs) {
      delete ref.digest;
      ref.summary = null;
    }
    this.summaries.clear();
    this.cache.clear();
  }

  /**
   * The window's Merkle tree. Built once (from the segment in place when the window is compacted) and
   * then kept up to date by the writes to the window (queued on it); rebuilt after a change it cannot
   * follow (a quarantined segment, a full queue, eviction) or for another shape.
   */
  async windowTree(group: number, ws: bigint, shape: TreeShape): Promise<WindowTree> {
    const id = windowId(group, ws);
    const version = this.writeVersion.get(id) ?? 0;
    const sk = shapeKey(shape);
    const hit = this.trees.get(id);
    if (hit !== undefined && hit.version === version && hit.shape === sk) return hit.tree;
    // A compacted window with nothing in memory is already a table: build from the segment in place.
    const single = this.singleSegment(id);
    const view = single === undefined ? undefined : await this.cache.load(single);
    const fromSegment = view !== undefined && this.singleSegment(id) === single;
    const tree = fromSegment ? new WindowTree(shape, ws, view.table()) : new WindowTree(shape, ws, [...mergeSources(await this.windowSources(group, ws))]);
    // A compacted window whose summary was missing (an older data dir, a lost sidecar): keep it now.
    if (fromSegment && this.opts.treeShape !== undefined && shapeKey(shape) === shapeKey(this.opts.treeShape) && (await this.summaries.of(single!, shape)) === undefined) {
      await this.summaries.write(single!, tree, shape, this.opts.sketch !== false);
    }
    if ((this.writeVersion.get(id) ?? 0) === version) {
      this.trees.set(id, { shape: sk, version, tree }, tree.memoryBytes());
    }
    return tree;
  }

  /**
   * The window's root and the root's children: from its tree when cached, from the compacted
   * window's summary beside its segment (no point read), or else from a tree built now.
   */
  async windowRoot(group: number, ws: bigint, shape: TreeShape): Promise<{ root: NodeSummary; children: readonly NodeSummary[] }> {
    const id = windowId(group, ws);
    const version = this.writeVersion.get(id) ?? 0;
    const hit = this.trees.get(id);
    const sk = shapeKey(shape);
    if (hit === undefined || hit.version !== version || hit.shape !== sk) {
      const single = this.singleSegment(id);
      if (single !== undefined) {
        let s = await this.summaries.of(single, shape);
        // No summary yet (a window flushed once, never merged): built off this thread, and kept.
        if (s === undefined && this.opts.treeShape !== undefined && shapeKey(this.opts.treeShape) === sk) s = await this.summaryOffThread(single, shape);
        if (s !== undefined && this.singleSegment(id) === single && (this.writeVersion.get(id) ?? 0) === version) return { root: s.root, children: s.children };
      }
    }
    const tree = await this.windowTree(group, ws, shape);
    const root = tree.root();
    return { root, children: root.leaf ? [] : tree.children(0, 0) };
  }

  /**
   * The window's first `length` sketch symbols (merkle/riblt.ts): for a short prefix, from its cached
   * tree (kept current by writes) or a compacted window's summary (no point read); else from its tree.
   */
  async windowSketch(group: number, ws: bigint, shape: TreeShape, length: number): Promise<Sketch> {
    if (length <= SKETCH_PREFIX_SYMBOLS) {
      const id = windowId(group, ws);
      const version = this.writeVersion.get(id) ?? 0;
      const hit = this.trees.get(id);
      const single = this.singleSegment(id);
      if ((hit === undefined || hit.version !== version || hit.shape !== shapeKey(shape)) && single !== undefined) {
        const s = await this.summaries.of(single, shape);
        if (s?.sketch !== undefined && this.singleSegment(id) === single && (this.writeVersion.get(id) ?? 0) === version) return s.sketch.prefix(length);
      }
    }
    return (await this.windowTree(group, ws, shape)).sketch(length);
  }

  /** A single-segment window's summary from its file, verified whole and summarised by a Compute task; kept in the summary log. */
  private async summaryOffThread(ref: SegmentRef, shape: TreeShape): Promise<WindowSummary | undefined> {
    const name = segmentFileName(ref);
    let bytes: Uint8Array;
    try {
      bytes = await this.opts.fs.readFile(ref.path);
    } catch {
      return undefined; // the tree's own read reports it
    }
    this.stats.computeTasks++;
    this.stats.segmentDecodes++;
    const v = await this.compute.run<VerifySegmentResult>("verifySegment", { bytes, what: name, name, shape, sketch: this.opts.sketch !== false } satisfies VerifySegmentArgs, transferable([bytes]));
    if (!v.ok) {
      await this.dropCorrupt(ref, name, v.reason);
      return undefined;
    }
    ref.digest = { sha256Hex: v.sha256Hex, count: v.count };
    if (v.summary === undefined) return undefined;
    await this.summaries.keep(ref, v.summary);
    return this.summaries.of(ref, shape);
  }

  /** Merged records of a window in [fromKey, toKey). */
  async *scanWindow(group: number, ws: bigint, fromKey = "", toKey?: string): AsyncGenerator<PointRecord> {
    const sources = toKey === undefined ? await this.windowSources(group, ws) : await this.rangeSources(group, ws, fromKey, toKey);
    yield* mergeSources(sources, fromKey, toKey);
  }

  /** Sources of a key range of a window (a Query of some devices): of each segment, only what the range touches. */
  private async rangeSources(group: number, ws: bigint, fromKey: string, toKey: string): Promise<SortedSource[]> {
    const id = windowId(group, ws);
    const sources: SortedSource[] = [];
    for (const ref of [...(this.windows.get(id)?.segs ?? [])]) {
      const v = await this.cache.range(ref, fromKey, toKey);
      if (v !== undefined && v.count > 0) sources.push(segmentSource(v));
    }
    return this.withMemorySources(id, sources);
  }

  get statsSnapshot(): EngineStats {
    let segments = 0;
    for (const w of this.windows.values()) segments += w.segs.length;
    return {
      memstoreBytes: this.active.bytes + this.frozenBytes(),
      memstorePoints: this.active.points + this.frozen.reduce((n, m) => n + m.points, 0),
      ingestedPoints: this.stats.ingestedPoints,
      ingestedBatches: this.stats.ingestedBatches,
      segments,
      flushes: this.stats.flushes,
      compactions: this.stats.compactions,
      compactedPoints: this.stats.compactedPoints,
      walAppends: this.wal.stats.appends,
      walBytes: this.wal.stats.bytes,
      segmentBytesWritten: this.stats.segmentBytesWritten,
      ingestedBytes: this.stats.ingestedBytes,
      computeThreads: this.compute.threads,
      computeTasks: this.stats.computeTasks,
      walFsyncs: this.wal.stats.fsyncs,
      quarantined: this.stats.quarantined,
      segmentDecodes: this.stats.segmentDecodes,
      segmentRangeReads: this.stats.segmentRangeReads,
      summariesLoaded: this.stats.summariesLoaded,
      memoryWaits: this.stats.memoryWaits,
      memoryFlushes: this.stats.memoryFlushes,
      expiredPointsDropped: this.stats.expiredPointsDropped,
      windowsExpired: this.stats.windowsExpired,
      windowsRewrittenForRetention: this.stats.windowsRewrittenForRetention,
      expiredBytesReclaimed: this.stats.expiredBytesReclaimed,
      tombstonesLive: this.tombstones.liveCount(),
      deletedPointsDropped: this.stats.deletedPointsDropped,
      pointsDeleted: this.stats.pointsDeleted,
      windowsRewrittenForDeletes: this.stats.windowsRewrittenForDeletes,
      tombstonesAdded: this.stats.tombstonesAdded,
      tombstonesPurged: this.stats.tombstonesPurged,
      tombstonesExpired: this.stats.tombstonesExpired,
      segmentCacheBytes: this.cache.bytes,
      treeCacheBytes: this.trees.bytes,
      summaryCacheBytes: this.summaries.bytes + this.checksumCache.bytes,
    };
  }

  /**
   * Stops the engine. A clean close flushes the memory store first, so the next open replays no WAL
   * (a failed flush leaves the WAL in place: nothing is lost, the next open replays it).
   */
  async close(): Promise<void> {
    if (!this.closed && this.unwritable === undefined && !this.active.isEmpty()) {
      await this.flushMemory().catch((e: unknown) => this.opts.logger.log("warn", "engine: flush on close failed; the WAL is replayed on the next open", { error: errorMessage(e) }));
    }
    this.closed = true;
    await this.maintenance;
    await this.compacted();
    await this.summaries.close();
    await this.tombstones.settled();
    await this.wal.close();
  }
}

/** Is the point deleted by one of these tombstones? */
function coveredBy(ts: readonly CompiledTombstone[], key: string, timeNs: bigint, enc: Uint8Array): boolean {
  for (const c of ts) if (c.covers(key, timeNs, enc)) return true;
  return false;
}

function timeOfEncodingAt(enc: Uint8Array): bigint {
  return new DataView(enc.buffer, enc.byteOffset + TIME_OFFSET, 8).getBigUint64(0);
}
