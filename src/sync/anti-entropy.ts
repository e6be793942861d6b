// Anti-entropy: compare this node's windows of a group with each replica's and repair what differs.
// One GetMerkleRoots call covers every window — first with one digest of all the windows' roots
// (identical replicas end there, in one small message), then with every root; equal roots end there
// (no point is read: roots come from cached trees or the windows' stored summaries). A mismatched window is narrowed by the batched
// descent and only the differing points are pulled (this side pulls what it lacks or holds older;
// the peer's own run pulls the rest). When most of a window differs, or the peer cannot serve a tree,
// the window is resynced whole from the peer instead — the path and the reason are recorded.

import { Code, ConnectError } from "@connectrpc/connect";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FetchWindowRequestSchema, FetchWindowResponseSchema, type SketchAnswer } from "../gen/soltix/v1/sync_pb.ts";
import { SKETCH_FORMAT_VERSION, SKETCH_ID_BYTES, decodeSymbols, encodeSymbols, idKey, packIds, peel, unpackIds, type Sketch } from "../merkle/riblt.ts";
import { EXCHANGE_IDS_MAX, SKETCH_SYMBOLS_MAX } from "../rpc/sketch-answer.ts";
import { WINDOW_FILE_BYTES_MAX } from "../rpc/sync-service.ts";
import { FETCH_WINDOW_PATH } from "../rpc/fetch-window-route.ts";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { Slots, forEachBounded } from "../base/bounded.ts";
import { NS_PER_DAY, NS_PER_MS, windowStartNs } from "../base/time.ts";
import type { Engine, StoredPoint } from "../engine/engine.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock, Timer } from "../ports/clock.ts";
import { jittered, type Rng } from "../ports/rng.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes } from "../cluster/records.ts";
import { MINE_DIGEST_BYTES, diffTrees, packMine, sameSummary, type Expansion } from "../merkle/diff.ts";
import { treeSource } from "../merkle/memory-source.ts";
import { windowsDigest } from "../merkle/windows-digest.ts";
import type { TreeShape } from "../merkle/shape.ts";
import { EMPTY_NODE, type NodeSummary, type PointVersion } from "../merkle/tree.ts";
import { bytesEqual, concatBytes } from "../base/bytes.ts";
import { insertedAtOfEncoding, keyOfEncoding, timeOfEncoding } from "../model/encoding.ts";
import { compareVersions } from "../model/lww.ts";
import { decodeTombstone } from "../model/tombstone.ts";
import { groupOf } from "../model/group.ts";
import { toHex } from "../base/sha256.ts";
import { validatePoint } from "../model/validate.ts";
import { storedFromPeerEncoding } from "../rpc/convert.ts";
import { pullStream } from "./pull-stream.ts";
import { pointPagesClient, serverStream } from "./point-pages.ts";


/** Sketch repairs remembered (sketchDistrusted) before the memory is cleared. */
const SKETCH_REPAIRS_REMEMBERED = 100_000;
/** A whole-window (or whole-group) resync stream may take this long. */
const FULL_RESYNC_TIMEOUT_MS = 10 * 60_000;
/** From this many windows on, a comparison starts with one digest of them all (GetMerkleRoots.windows_digest). */
export const WINDOWS_DIGEST_MIN = 2;
/**
 * Symbols sent with a window's root when the comparison is of one window (the default of
 * storage.sync.anti_entropy.sketch_symbols): enough to peel a difference of up to ~10 points in the
 * same round trip 99 times in 100 (scripts/bench/riblt-impl.ts, test/merkle/riblt.test.ts).
 */
export const SKETCH_FIRST_SYMBOLS = 32;
import { rpcTreeSource } from "./rpc-tree-source.ts";
import { expansionFromProto, summaryFromProto } from "../rpc/merkle-wire.ts";
import { bandwidthPacer, syncClient, type ByteCounter, type Pacer } from "./peers.ts";

export interface AntiEntropySettings {
  shape: TreeShape;
  totalGroups: number;
  /** Windows older than this many days are not checked; 0 = every window the group has. */
  horizonDays: number;
  /** Versions younger than this are in flight, not divergence. */
  settleMs: number;
  /** Above this share of differing points a window is resynced whole. */
  fullResyncShare: number;
  /** Points per write while repairing. */
  batchSize: number;
  /** Every this many scheduled runs, caches are dropped so windows are re-verified from disk (0 = never). */
  reverifyEveryRuns: number;
  /** Bytes per second a session may move (0 = unlimited). */
  bytesPerSecMax: number;
  /**
   * Reconcile differing windows with rateless IBLT sketches before descending the tree
   * (storage.sync.anti_entropy.sketch): a comparison of one window sends its first symbols with its
   * root; with many windows, the replica answers its symbols for those that differ.
   */
  sketch: boolean;
  /** Symbols sent with a lone window's root (storage.sync.anti_entropy.sketch_symbols; 0 = none). */
  sketchSymbols: number;
  /** How replicas are reached (scheme, token, trust). */
  net: PeerNet;
}

/** What a comparison covers: windows from horizonStart on; versions younger than settleMs are left alone. */
interface CompareOptions {
  settleMs: number;
  horizonStart: bigint;
  /** Bandwidth cap of this comparison (else the anti-entropy one). */
  bytesPerSecMax?: number;
  /** Called as each window is done, with how many there are. */
  onWindow?: (r: AeRecord, done: number, total: number) => void;
  /** Windows compared at once (a move's fill overlaps one window's transfer with another's install). */
  windowsInFlight?: number;
}

/**
 * Windows a move's fill works on at once: while one window's file crosses the network, the previous
 * one is verified and installed (fsync) — a single stream otherwise idles both ends half the time.
 */
export const FILL_WINDOWS_IN_FLIGHT = 4;
/**
 * Window files held by this node's transfers at once, whatever the number of moves and sessions: each
 * is up to WINDOW_FILE_BYTES_MAX in memory between its arrival and its install.
 */
const WINDOW_FILES_IN_FLIGHT_MAX = 4;

/** A move's fill (sync/group-mover.ts): every window from one replica, under the move's bandwidth cap, with progress. */
export interface FillOptions {
  bytesPerSecMax: number;
  onWindow: (r: AeRecord, done: number, total: number) => void;
}

export type AeResult = "in_sync" | "repaired" | "partial" | "failed";
export type AePath = "roots" | "sketch" | "descent" | "full_resync";

export interface AeRecord {
  group: number;
  windowStartNs: bigint;
  peer: string;
  result: AeResult;
  path: AePath;
  reason: string;
  roundTrips: number;
  bytesSent: number;
  bytesReceived: number;
  pointsDiffering: number;
  pointsRepaired: number;
  durationMs: number;
  finishedAtNs: bigint;
}


export class AntiEntropy {
  /** The last run's records per group. */
  readonly records = new Map<number, AeRecord[]>();
  /** Comparisons that began with one digest of every window: equal (ended there) or not. */
  readonly stats = { windowsDigestEqual: 0, windowsDigestDiffer: 0, sketchSettled: 0, sketchNotDecoded: 0, windowFilesInstalled: 0, tombstonesReceived: 0, tombstoneExchanges: 0, runs: 0, bytesSent: 0, bytesReceived: 0, pointsRepaired: 0 };
  /** Windows compared by the runs (anti-entropy proper), by "result/path". */
  readonly windowsByOutcome = new Map<string, number>();
  /** Per group, when (monotonic ms) a run last compared every window with every replica without a failure. */
  readonly lastVerifiedAtMs = new Map<number, number>();
  /**
   * Per group and replica, the last comparison that found the replica holding exactly this node's
   * tombstones and ended with every window compared: when it began (this node's clock, ns) and which
   * tombstones this node held then — the evidence a tombstone purge waits for (sync/tombstone-purge.ts).
   */
  private readonly tombstoneEvidence = new Map<number, Map<string, { atNs: bigint; ids: ReadonlySet<string> }>>();
  /** Called after each scheduled round (the tombstone purger looks at its evidence then). */
  onRoundDone: () => Promise<void> = async () => {};
  /** Told of tombstones a replica purged (every replica held them); set by the purger. */
  onPeerPurged: (group: number, ids: readonly string[]) => Promise<void> = async () => {};
  private readonly running = new Map<number, Promise<AeRecord[]>>();
  private readonly windowFileSlots = new Slots(WINDOW_FILES_IN_FLIGHT_MAX);
  /** Per (group, window, replica): the root a sketch repair left here (see sketchDistrusted). */
  private readonly sketchRepairedRoots = new Map<string, string>();
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly nodeId: string,
    private readonly engine: Engine,
    private readonly view: ClusterView,
    private readonly settings: AntiEntropySettings,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly logger: Logger,
  ) {}

  /** Runs every `intervalMs` ± 10 % (jitter, so replicas do not all start together). */
  start(intervalMs: number, heldGroups: () => number[]): void {
    let runs = 0;
    const schedule = () => {
      if (this.stopped) return;
      this.timer = this.clock.setTimer(jittered(this.rng, intervalMs, 0.1), async () => {
        runs++;
        if (this.settings.reverifyEveryRuns > 0 && runs % this.settings.reverifyEveryRuns === 0) {
          this.logger.log("info", "anti-entropy: re-verifying windows from disk this run");
          this.engine.dropReadCaches();
        }
        for (const g of heldGroups()) {
          if (this.stopped) return;
          await this.runGroup(g).catch((e: unknown) => this.logger.log("error", "anti-entropy: run failed", { group: g, error: errorMessage(e) }));
        }
        await this.onRoundDone().catch((e: unknown) => this.logger.log("warn", "anti-entropy: after the round", { error: errorMessage(e) }));
        schedule();
      });
    };
    schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  runGroup(group: number): Promise<AeRecord[]> {
    const cur = this.running.get(group);
    if (cur !== undefined) return cur;
    const run = this.run(group).finally(() => this.running.delete(group));
    this.running.set(group, run);
    return run;
  }

  /**
   * Startup sync's second step: every window of the group (no horizon) compared with one replica and
   * everything that differs pulled — in-flight versions too (no settle), since the node must hold them
   * before it serves the group.
   */
  verifyWith(group: number, peer: string): Promise<AeRecord[]> {
    return this.withPeer(group, peer, { settleMs: 0, horizonStart: 0n });
  }

  /**
   * A joining node's fill: every window of the group compared with the source and pulled (no settle):
   * windows it lacks are streamed whole, windows it holds in part send only what differs, windows it
   * already holds (a resumed move) cost their root only.
   */
  fillFrom(group: number, peer: string, fill: FillOptions): Promise<AeRecord[]> {
    return this.withPeer(group, peer, { settleMs: 0, horizonStart: 0n, windowsInFlight: FILL_WINDOWS_IN_FLIGHT, ...fill });
  }

  private async run(group: number): Promise<AeRecord[]> {
    const record = this.view.cachedGroup(group);
    const peers = record === undefined ? [] : groupNodes(record).filter((id) => id !== this.nodeId);
    const out: AeRecord[] = [];
    const opts = { settleMs: this.settings.settleMs, horizonStart: this.horizonStart() };
    for (const peer of peers) out.push(...(await this.withPeer(group, peer, opts)));
    this.records.set(group, out);
    this.stats.runs++;
    for (const r of out) {
      const k = `${r.result}/${r.path}`;
      this.windowsByOutcome.set(k, (this.windowsByOutcome.get(k) ?? 0) + 1);
      this.stats.bytesSent += r.bytesSent;
      this.stats.bytesReceived += r.bytesReceived;
      this.stats.pointsRepaired += r.pointsRepaired;
    }
    if (peers.length > 0 && out.every((r) => r.result === "in_sync" || r.result === "repaired")) this.lastVerifiedAtMs.set(group, this.clock.monotonicMs());
    for (const r of out) {
      if (r.result !== "in_sync") {
        this.logger.log(r.result === "repaired" ? "info" : "warn", "anti-entropy: window", {
          group,
          window: r.windowStartNs,
          peer: r.peer,
          result: r.result,
          path: r.path,
          reason: r.reason,
          round_trips: r.roundTrips,
          bytes_sent: r.bytesSent,
          bytes_received: r.bytesReceived,
          points_differing: r.pointsDiffering,
          points_repaired: r.pointsRepaired,
          duration_ms: Math.round(r.durationMs),
        });
      }
    }
    return out;
  }

  private horizonStart(): bigint {
    if (this.settings.horizonDays <= 0) return 0n;
    return windowStartNs(this.clock.nowNs()) - BigInt(this.settings.horizonDays) * NS_PER_DAY;
  }

  /**
   * Was `peer` seen holding this tombstone: did the last comparison whose tombstones were equal, begun
   * at or after `sinceNs`, find this tombstone among them? (Two empty sets are equal too: the
   * tombstone itself must have been in the set compared.)
   */
  tombstoneSeenHeld(group: number, peer: string, id: string, sinceNs: bigint): boolean {
    const e = this.tombstoneEvidence.get(group)?.get(peer);
    return e !== undefined && e.atNs >= sinceNs && e.ids.has(id);
  }

  /**
   * A replica's tombstones of the group (sent because they differ from ours): those this node lacks are
   * stored (unless it purged them lately: every replica held them), those it purged lately are purged
   * here too when this node may. Returns whether this node's tombstones changed.
   */
  private async takePeerTombstones(group: number, peer: string, encodings: readonly Uint8Array[], purgedIds: readonly Uint8Array[]): Promise<boolean> {
    this.stats.tombstoneExchanges++;
    const before = this.engine.tombstoneDigest(group);
    const items = encodings.map((enc, i) => {
      const t = decodeTombstone(enc);
      for (const id of t.ids) {
        if (groupOf(t.database, t.collection, id, this.settings.totalGroups) !== group) throw new SoltixError("data_loss", `replica ${peer} sent a tombstone of another group (tombstones[${i}], device ${JSON.stringify(id)}) for group ${group}`);
      }
      return { group, tombstone: t };
    });
    this.stats.tombstonesReceived += await this.engine.addTombstones(items);
    const theirPurged = new Set(purgedIds.map(toHex));
    const mine = this.engine.liveTombstones(group).filter((h) => theirPurged.has(h.id)).map((h) => h.id);
    if (mine.length > 0) await this.onPeerPurged(group, mine);
    return !bytesEqual(before, this.engine.tombstoneDigest(group));
  }

  private noteTombstonesEqual(group: number, peer: string, atNs: bigint, ids: ReadonlySet<string>): void {
    let m = this.tombstoneEvidence.get(group);
    if (m === undefined) this.tombstoneEvidence.set(group, (m = new Map()));
    m.set(peer, { atNs, ids });
  }

  private async withPeer(group: number, peer: string, opts: CompareOptions, retried = false): Promise<AeRecord[]> {
    const started = this.clock.monotonicMs();
    const startedNs = this.clock.nowNs();
    const node = this.view.node(peer);
    // Retention: windows expired for every database, or near an expiry (clock skew), are never compared.
    const compared = (w: bigint) => w >= opts.horizonStart && !this.engine.retention.skipsComparison(w);
    const localWindows = this.engine.windowsOf(group).filter(compared);
    const base = (w: bigint): AeRecord => ({
      group, windowStartNs: w, peer, result: "partial", path: "roots", reason: "", roundTrips: 0, bytesSent: 0, bytesReceived: 0,
      pointsDiffering: 0, pointsRepaired: 0, durationMs: 0, finishedAtNs: 0n,
    });
    const finish = (r: AeRecord, t0: number): AeRecord => ({ ...r, durationMs: this.clock.monotonicMs() - t0, finishedAtNs: this.clock.nowNs() });
    if (node === undefined) return localWindows.map((w) => finish({ ...base(w), reason: `replica ${peer} is not registered` }, started));
    const rootsCounter: ByteCounter = { sent: 0, received: 0 };
    // One bandwidth bound for the whole session: every window's calls and streams draw on it.
    const pacer = bandwidthPacer(this.clock, opts.bytesPerSecMax ?? this.settings.bytesPerSecMax);
    const client = syncClient(this.settings.net, node.address, rootsCounter, pacer);
    let remoteRoots: Map<bigint, NodeSummary>;
    const firstLevels = new Map<bigint, Expansion>();
    const sketchAnswers = new Map<bigint, SketchAnswer>();
    let treeless: string | undefined;
    let digestRoundTrips = 0;
    // Tombstones first (they are part of the group's data): sent with the first call; when the
    // replica's differ, the answer holds them. What this node lacked it stores, and the comparison
    // starts again once (its windows changed).
    const tombstonesDigest = this.engine.tombstoneDigest(group);
    // The set that digest stands for (the tombstones a peer with an equal digest is seen to hold).
    const tombstoneIds = new Set(this.engine.liveTombstones(group).map((h) => h.id));
    let tombstonesEqual = false;
    let again = false;
    const tombstonesOf = async (res: { tombstonesDiffer: boolean; tombstones: Uint8Array[]; purgedTombstones: Uint8Array[] }) => {
      if (!res.tombstonesDiffer) {
        tombstonesEqual = true;
        return;
      }
      again = (await this.takePeerTombstones(group, peer, res.tombstones, res.purgedTombstones)) && !retried;
    };
    try {
      // Our roots and root children go with the request: for every window that differs the answer
      // already holds the two levels below the root.
      const local = [];
      for (const w of localWindows) local.push({ windowStart: w, ...(await this.engine.windowRoot(group, w, this.settings.shape)) });
      // Many windows: one digest of them all first, so identical replicas exchange one small message.
      if (local.length >= WINDOWS_DIGEST_MIN) {
        const res = await client.getMerkleRoots({ groupId: group, windowsDigest: windowsDigest(local), fromWindow: opts.horizonStart > 0n ? opts.horizonStart : 0n, tombstonesDigest });
        await tombstonesOf(res);
        if (again) return this.withPeer(group, peer, opts, true);
        if (res.windowsEqual) {
          if (tombstonesEqual) this.noteTombstonesEqual(group, peer, startedNs, tombstoneIds);
          this.stats.windowsDigestEqual++;
          const shared = { roundTrips: 1, sent: rootsCounter.sent, received: rootsCounter.received };
          return localWindows.map((w, i) =>
            finish({ ...base(w), result: "in_sync", ...(i === 0 ? { roundTrips: shared.roundTrips, bytesSent: shared.sent, bytesReceived: shared.received } : {}) }, started),
          );
        }
        this.stats.windowsDigestDiffer++;
        digestRoundTrips = 1;
      }
      // Sketches: one window sends its first symbols (the difference can come back in this answer);
      // many send their counts only (the replica answers symbols for the windows that differ).
      const sketches = this.settings.sketch;
      const withSymbols = sketches && local.length < WINDOWS_DIGEST_MIN && this.settings.sketchSymbols > 0;
      const mine = [];
      for (const { windowStart, root, children } of local) {
        const symbols = withSymbols && root.count > 0 ? encodeSymbols(await this.engine.windowSketch(group, windowStart, this.settings.shape, this.settings.sketchSymbols)) : undefined;
        mine.push({
          windowStart,
          root: root.count === 0 ? new Uint8Array(0) : root.digest.subarray(0, MINE_DIGEST_BYTES),
          children: root.leaf ? new Uint8Array(0) : packMine([...children]),
          ...(sketches ? { count: BigInt(root.count) } : {}),
          ...(symbols === undefined ? {} : { sketch: symbols }),
        });
      }
      const res = await client.getMerkleRoots({ groupId: group, windows: [], mine, ...(digestRoundTrips === 0 ? { tombstonesDigest } : {}), ...(sketches ? { sketchFormat: SKETCH_FORMAT_VERSION } : {}) });
      if (digestRoundTrips === 0) {
        await tombstonesOf(res);
        if (again) return this.withPeer(group, peer, opts, true);
      }
      remoteRoots = new Map(res.roots.map((r) => [r.windowStart, summaryFromProto(r.root)]));
      for (const r of res.roots) if (r.firstLevel !== undefined) firstLevels.set(r.windowStart, expansionFromProto(r.firstLevel, this.settings.shape.fanout));
      if (sketches) for (const r of res.roots) if (r.sketch !== undefined) sketchAnswers.set(r.windowStart, r.sketch);
    } catch (e) {
      if (e instanceof ConnectError && e.code === Code.Unimplemented) {
        treeless = `replica ${peer} cannot serve a Merkle tree (${e.rawMessage})`;
        remoteRoots = new Map();
      } else {
        return localWindows.map((w) => finish({ ...base(w), reason: `replica ${peer} unreachable: ${errorMessage(e)}` }, started));
      }
    }
    if (treeless !== undefined) return this.resyncFromTreelessPeer(group, node.address, treeless, opts.horizonStart, base, finish);
    const windows = [...new Set([...localWindows, ...[...remoteRoots.keys()].filter(compared)])].sort((a, b) => (a < b ? -1 : 1));
    const out: AeRecord[] = [];
    // The roots call is shared by every window; charge it to the first.
    let shared = { roundTrips: 1 + digestRoundTrips, sent: rootsCounter.sent, received: rootsCounter.received };
    let done = 0;
    await forEachBounded(windows, opts.windowsInFlight ?? 1, async (w) => {
      const t0 = this.clock.monotonicMs();
      const counter: ByteCounter = { sent: shared.sent, received: shared.received };
      const r = base(w);
      r.roundTrips = shared.roundTrips;
      shared = { roundTrips: 0, sent: 0, received: 0 };
      try {
        await this.compareWindow(group, w, peer, node.address, remoteRoots.get(w) ?? EMPTY_NODE, firstLevels.get(w), sketchAnswers.get(w), counter, r, opts.settleMs, pacer);
      } catch (e) {
        r.result = "partial";
        r.reason = `${r.reason ? `${r.reason}; ` : ""}${errorMessage(e)}`;
      }
      r.bytesSent = counter.sent;
      r.bytesReceived = counter.received;
      const rec = finish(r, t0);
      out.push(rec);
      opts.onWindow?.(rec, ++done, windows.length);
    });
    // Every window compared with a replica holding exactly our tombstones: evidence for their purge.
    if (tombstonesEqual && out.every((r) => r.result === "in_sync" || r.result === "repaired")) this.noteTombstonesEqual(group, peer, startedNs, tombstoneIds);
    // Records in window order, whatever order the windows finished in.
    return out.sort((a, b) => (a.windowStartNs < b.windowStartNs ? -1 : a.windowStartNs > b.windowStartNs ? 1 : 0));
  }

  /**
   * A peer without Merkle RPCs cannot even list its windows: stream everything it holds for the group
   * within the horizon and write it under LWW, one record per window seen.
   */
  private async resyncFromTreelessPeer(
    group: number,
    address: string,
    reason: string,
    horizonStart: bigint,
    base: (w: bigint) => AeRecord,
    finish: (r: AeRecord, t0: number) => AeRecord,
  ): Promise<AeRecord[]> {
    const t0 = this.clock.monotonicMs();
    const counter: ByteCounter = { sent: 0, received: 0 };
    const perWindow = new Map<bigint, number>();
    try {
      await pullStream(pointPagesClient(this.settings.net, address, this.clock, counter, bandwidthPacer(this.clock, this.settings.bytesPerSecMax)), { groupId: group, startTime: horizonStart, batchSize: this.settings.batchSize }, FULL_RESYNC_TIMEOUT_MS, this.engine, this.settings.totalGroups, this.clock, (stored) => {
        for (const p of stored) {
          const w = windowStartNs(timeOfEncoding(p.enc));
          perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
        }
      });
    } catch (e) {
      return [finish({ ...base(horizonStart), result: "partial", path: "full_resync", reason: `${reason}; stream failed: ${errorMessage(e)}`, bytesSent: counter.sent, bytesReceived: counter.received }, t0)];
    }
    const windows = [...perWindow.keys()].sort((a, b) => (a < b ? -1 : 1));
    return windows.map((w, i) =>
      finish(
        {
          ...base(w),
          result: "repaired",
          path: "full_resync",
          reason,
          roundTrips: i === 0 ? 2 : 0,
          bytesSent: i === 0 ? counter.sent : 0,
          bytesReceived: i === 0 ? counter.received : 0,
          pointsDiffering: perWindow.get(w)!,
          pointsRepaired: perWindow.get(w)!,
        },
        t0,
      ),
    );
  }

  private async compareWindow(
    group: number, w: bigint, peer: string, address: string, remoteRoot: NodeSummary, firstLevel: Expansion | undefined, sketch: SketchAnswer | undefined, counter: ByteCounter, r: AeRecord, settleMs: number, pacer: Pacer,
  ): Promise<void> {
    const { shape } = this.settings;
    // Equal roots end here, without building the tree (a compacted window's root is its summary); the
    // tree is built only for a descent (a sketch answer, or a resync, needs the root alone).
    const localRoot = (await this.engine.windowRoot(group, w, shape)).root;
    if (sameSummary(localRoot, remoteRoot)) {
      r.result = "in_sync";
      return;
    }
    const client = syncClient(this.settings.net, address, counter, pacer);
    // A version stamped within the settle horizon of now is in flight on the write path, not
    // divergence (versions far in the future — a skewed clock — are repaired like any other).
    const now = this.clock.nowNs();
    const settle = BigInt(settleMs) * NS_PER_MS;
    const inFlight = (enc: Uint8Array) => {
      const age = now - insertedAtOfEncoding(enc);
      return age <= settle && age >= -settle;
    };
    // The sketch's difference (peeled there, or here from the replica's symbols) settles the window
    // in this round trip or the next; when it does not peel, the descent goes on from the first level.
    if (sketch !== undefined) {
      if (this.sketchDistrusted(group, w, peer, localRoot, remoteRoot)) r.reason = "both roots are as a sketch repair left them: descending instead";
      else if (await this.sketchRepair(group, w, client, sketch, r, inFlight)) {
        this.rememberSketchRepair(group, w, peer, (await this.engine.windowRoot(group, w, shape)).root, remoteRoot);
        return;
      }
    }
    const biggest = Math.max(localRoot.count, remoteRoot.count, 1);
    const countGap = Math.abs(localRoot.count - remoteRoot.count) / biggest;
    let fallback: string | undefined;
    if (countGap > this.settings.fullResyncShare) {
      fallback = `point counts differ by ${(countGap * 100).toFixed(0)}% (local ${localRoot.count}, ${peer} ${remoteRoot.count}; threshold ${this.settings.fullResyncShare * 100}%)`;
    }
    if (fallback === undefined) {
      let settling = 0;
      let repaired = 0;
      // What differs is written as each round trip brings it: a session holds one round's answer.
      const onRemotePoints = async (points: PointVersion[]) => {
        const pull = points.map((p) => p.enc).filter((enc) => !inFlight(enc));
        settling += points.length - pull.length;
        repaired += await this.writeEncodings(group, pull);
      };
      // Without a first level (the sketch answer came instead, and did not settle the window) the descent starts at the root.
      const localTree = await this.engine.windowTree(group, w, shape);
      const found = await diffTrees(shape, treeSource(localTree), rpcTreeSource(client, group, w, shape), { knownRoots: { local: localTree.root(), remote: remoteRoot }, firstLevel, onRemotePoints });
      r.roundTrips += found.roundTrips;
      r.pointsDiffering = found.onlyLocal.length + found.onlyRemote.length + found.differ.length - settling;
      r.pointsRepaired = repaired;
      const share = r.pointsDiffering / biggest;
      if (share > this.settings.fullResyncShare) {
        fallback = `${(share * 100).toFixed(0)}% of the window differs (threshold ${this.settings.fullResyncShare * 100}%)`;
      } else {
        r.path = "descent";
        r.result = r.pointsDiffering === 0 ? "in_sync" : "repaired";
        if (settling > 0) r.reason = `${r.reason ? `${r.reason}; ` : ""}${settling} point(s) younger than the settle horizon left to the write path`;
        return;
      }
    }
    // Full resync of the window from the peer: its window as one segment file, installed beside what
    // this node holds (LWW at read); a peer that cannot ship one streams the points, written under LWW.
    r.path = "full_resync";
    r.reason = fallback;
    r.roundTrips += 1;
    const release = await this.windowFileSlots.acquire();
    let file: Uint8Array | undefined;
    try {
      file = await fetchWindowFile(this.settings.net, address, this.clock, counter, pacer, group, w);
      if (file !== undefined) r.pointsRepaired = file.length === 0 ? 0 : await this.engine.installSegment(group, w, file);
    } finally {
      release();
    }
    if (file !== undefined) {
      r.reason += "; the window came as one segment file";
      this.stats.windowFilesInstalled++;
    } else r.pointsRepaired = await pullStream(pointPagesClient(this.settings.net, address, this.clock, counter, pacer), { groupId: group, startTime: w, endTime: w + NS_PER_DAY, batchSize: this.settings.batchSize }, FULL_RESYNC_TIMEOUT_MS, this.engine, this.settings.totalGroups, this.clock);
    r.pointsDiffering = Math.max(r.pointsDiffering, Math.abs(localRoot.count - remoteRoot.count));
    r.result = "repaired";
  }

  /**
   * Repairs a window from a sketch answer: the replica's decoded difference (points it sent, ids to
   * fetch, ids it lacks), or its symbols peeled here against this node's. Points this node lacks are
   * written; points the replica lacks are given to it (ExchangePoints, with any still to fetch).
   * False when the symbols did not peel (the reason says so): the caller descends.
   */
  private async sketchRepair(group: number, w: bigint, client: ReturnType<typeof syncClient>, ans: SketchAnswer, r: AeRecord, inFlight: (enc: Uint8Array) => boolean): Promise<boolean> {
    const { shape } = this.settings;
    let got: Uint8Array[];
    let want: Uint8Array;
    let lacking: Set<string>;
    let differing: number;
    const bad = (e: unknown) => new SoltixError("data_loss", `sketch answer: ${errorMessage(e)}`);
    if (ans.decoded) {
      got = ans.points;
      want = ans.missing;
      try {
        unpackIds(want, "missing", EXCHANGE_IDS_MAX);
        lacking = unpackIds(ans.lacking, "lacking", EXCHANGE_IDS_MAX);
      } catch (e) {
        throw bad(e);
      }
      differing = got.length + want.length / SKETCH_ID_BYTES + lacking.size;
    } else if (ans.symbols.length > 0) {
      let theirs: Sketch;
      try {
        theirs = decodeSymbols(ans.symbols, "symbols", SKETCH_SYMBOLS_MAX);
      } catch (e) {
        throw bad(e);
      }
      const d = peel((await this.engine.windowSketch(group, w, shape, theirs.length)).minus(theirs));
      if (!d.ok) {
        this.stats.sketchNotDecoded++;
        r.reason = `the sketch's ${theirs.length} symbols did not decode`;
        return false;
      }
      got = [];
      want = packIds(d.onlyB);
      lacking = new Set(d.onlyA.map(([hi, lo]) => idKey(hi, lo)));
      differing = d.onlyA.length + d.onlyB.length;
    } else {
      this.stats.sketchNotDecoded++;
      r.reason = "the difference looked too large for a sketch";
      return false;
    }
    // Equal sets have equal roots: a decode to no difference while the roots differ is a false one
    // (or two versions whose ids collide), and the descent finds what it missed.
    if (differing === 0) {
      this.stats.sketchNotDecoded++;
      r.reason = "the sketch decoded to no difference, yet the roots differ";
      return false;
    }
    const mineToGive = lacking.size === 0 ? [] : (await this.engine.windowTree(group, w, shape)).pointsWithIds(lacking);
    // A key both sides hold in other versions: only the newer one moves (the replica's, when it sent it already).
    const theirsByKey = new Map(got.map((enc) => [keyOfEncoding(enc), enc]));
    const give = mineToGive.filter((enc) => {
      const theirs = theirsByKey.get(keyOfEncoding(enc));
      return !inFlight(enc) && (theirs === undefined || compareVersions(enc, theirs) > 0);
    });
    let settling = mineToGive.filter(inFlight).length;
    if (want.length > 0 || give.length > 0) {
      const res = await client.exchangePoints({ groupId: group, windowStart: w, want, give });
      r.roundTrips++;
      got = [...got, ...res.points];
    }
    const pull = got.filter((enc) => !inFlight(enc));
    settling += got.length - pull.length;
    // Counted by key, as the descent counts: a key held in two versions is one differing point.
    const keys = new Set([...got.map((enc) => keyOfEncoding(enc)), ...mineToGive.map((enc) => keyOfEncoding(enc))]);
    const pulled = await this.writeEncodings(group, pull, w);
    this.stats.sketchSettled++;
    r.path = "sketch";
    r.pointsDiffering = Math.max(0, Math.min(differing, keys.size) - settling);
    r.pointsRepaired = Math.min(r.pointsDiffering, pulled + give.length);
    r.result = r.pointsDiffering === 0 ? "in_sync" : "repaired";
    if (settling > 0) r.reason = `${settling} point(s) younger than the settle horizon left to the write path`;
    return true;
  }

  /**
   * A sketch is a function of the points, so a wrong decode (a false purity that still left the prefix
   * empty) would repeat on every run: a window whose two roots are still those of the last sketch repair
   * (ours as it left it, the replica's as it was seen then) — nothing changed, yet they differ —
   * descends instead.
   */
  private sketchDistrusted(group: number, w: bigint, peer: string, local: NodeSummary, remote: NodeSummary): boolean {
    return this.sketchRepairedRoots.get(`${group}/${w}/${peer}`) === `${toHex(local.digest)}/${toHex(remote.digest)}`;
  }

  private rememberSketchRepair(group: number, w: bigint, peer: string, localAfter: NodeSummary, remoteSeen: NodeSummary): void {
    if (this.sketchRepairedRoots.size >= SKETCH_REPAIRS_REMEMBERED) this.sketchRepairedRoots.clear();
    this.sketchRepairedRoots.set(`${group}/${w}/${peer}`, `${toHex(localAfter.digest)}/${toHex(remoteSeen.digest)}`);
  }

  /** Writes peer encodings after checking each is a valid, canonical point of this group (and window, when given). */
  private async writeEncodings(group: number, encs: Uint8Array[], windowStart?: bigint): Promise<number> {
    for (let i = 0; i < encs.length; i += this.settings.batchSize) {
      const batch: StoredPoint[] = encs.slice(i, i + this.settings.batchSize).map((enc, j) => storedFromPeerEncoding(`repair[${i + j}]`, enc, group, this.settings.totalGroups, "data_loss", windowStart));
      await this.engine.write(batch);
    }
    return encs.length;
  }
}

/**
 * The peer's window as one segment file (FetchWindow), assembled from its chunks; empty when the window
 * holds no point there; undefined when the peer cannot ship it (a node without the RPC, or a file over
 * the limit) — then the caller streams points.
 */
async function fetchWindowFile(net: PeerNet, address: string, clock: Clock, counter: ByteCounter, pacer: Pacer, group: number, w: bigint): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = -1;
  let got = 0;
  try {
    const request = toBinary(FetchWindowRequestSchema, create(FetchWindowRequestSchema, { groupId: group, windowStart: w, bytesMax: BigInt(WINDOW_FILE_BYTES_MAX) }));
    for await (const bytes of serverStream(net, address, clock, counter, pacer, FETCH_WINDOW_PATH, request, FULL_RESYNC_TIMEOUT_MS)) {
      const m = fromBinary(FetchWindowResponseSchema, bytes);
      if (total < 0) total = Number(m.totalBytes);
      got += m.chunk.length;
      if (got > total) throw new SoltixError("data_loss", `FetchWindow: more than the ${total} bytes announced`);
      chunks.push(m.chunk);
    }
  } catch (e) {
    if (e instanceof ConnectError && (e.code === Code.Unimplemented || e.code === Code.ResourceExhausted)) return undefined;
    throw e;
  }
  if (total < 0 || got !== total) throw new SoltixError("unavailable", `FetchWindow: ${got} of ${Math.max(total, 0)} bytes received`);
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
