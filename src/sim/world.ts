// One simulated cluster, driven by one seed: 3–5 replicas of a group and a router, each started by
// the same composition code as the binary (launchNode / launchRouter, with the real settings) over
// SimFs, process clocks and SimNet; every timer they set — registration leases and keep-alives,
// startup-sync retries, hint replays, anti-entropy scheduling, deadlines — runs in simulated time.
// Phase 1 applies random actions with faults (safety checked throughout) — among them nodes joining
// (the planner moves the group onto its rendezvous nodes) and operator decommissions, removals and
// replacements through a node's AdminService; phase 2 heals everything, restarts every node, waits
// for the placement to equal the planner's desired one, checks completeness and router reads before
// any anti-entropy round, runs two anti-entropy rounds and checks convergence (non-holders hold
// nothing); then, past the purge delay, anti-entropy and purge leave no tombstone anywhere; then a
// holder dies for good and, past cluster.dead_node_timeout, is replaced by itself. Deletes (some
// devices or all over a range, collection drops) are among the actions: a node never holds again a
// version deleted by a tombstone it held (checked on every snapshot and every router read it serves).

import type { Hono } from "hono";
import { fromBinary } from "@bufbuild/protobuf";
import { loadConfig, type NodeConfig } from "../config/config.ts";
import { launchNode, type RunningNode } from "../app/node.ts";
import { launchRouter, type RunningRouter } from "../app/router.ts";
import { MemoryMetadataStore } from "../adapters/memory-metadata.ts";
import { membershipKey, nodeKey } from "../cluster/keys.ts";
import { parseMembershipRecord } from "../cluster/membership.ts";
import { groupNodes, parseNodeRecord, writeNodes } from "../cluster/records.ts";
import { getGroup } from "../cluster/groups.ts";
import { desiredNodes } from "../cluster/planner.ts";
import { silentLogger } from "../ports/logger.ts";
import { VersionStamper } from "../ports/clock.ts";
import { WriteRequestSchema } from "../gen/soltix/v1/storage_pb.ts";
import { pointFromProto, storedFromPoint } from "../rpc/convert.ts";
import type { StatusJson } from "../app/status.ts";
import { compareVersions } from "../model/lww.ts";
import { encodePoint, timeOfEncoding } from "../model/encoding.ts";
import { shapeFor } from "../merkle/shape.ts";
import { SKETCH_PREFIX_SYMBOLS, WindowTree } from "../merkle/tree.ts";
import { encodeSymbols } from "../merkle/riblt.ts";
import { createSha256, toHex } from "../base/sha256.ts";
import { NS_PER_DAY, NS_PER_SECOND, windowStartNs } from "../base/time.ts";
import { errorMessage } from "../base/errors.ts";
import { keyParts, pointKey, type Point } from "../model/point.ts";
import { Rng } from "./rng.ts";
import { Scheduler } from "./scheduler.ts";
import { SIM_EPOCH_NS, SimMachineClock, type ProcessClock } from "./sim-clock.ts";
import { SimFs } from "./sim-fs.ts";
import { NO_FAULTS, SimNet } from "./sim-net.ts";
import { SimQueue } from "./sim-queue.ts";
import { SimLocks, simProcess, type SimProcess } from "./platform.ts";
import { applyQueuedBatch } from "../queue/apply.ts";
import type { EngineStats } from "../engine/engine.ts";
import { CompiledTombstone, tombstoneDeletes, tombstoneOfDelete, type Tombstone } from "../model/tombstone.ts";
import { decodePoint } from "../model/encoding.ts";

const GROUP = 0;
const SHAPE = shapeFor(4, 2); // small: a few dozen points already make a deep tree
const DEVICES = 4;
const DAY0 = windowStartNs(SIM_EPOCH_NS) - NS_PER_DAY; // writes land in the two days before the sim starts
/** Backfills land up to this many days before DAY0 (older than anything a tail stream would fetch). */
const BACKFILL_DAYS = 3;
/** Clock jumps are at most this far (the issue's ±5 minutes). */
const CLOCK_JUMP_NS_MAX = 5n * 60n * NS_PER_SECOND;
/** A pause this long outlives the 10 s registration lease. */
const PAUSE_MS_MIN = 12_000;
const PAUSE_MS_MAX = 40_000;
/** How long a restarted node may take to catch up before the scenario moves on (simulated ms). */
const CATCH_UP_WAIT_MS = 60_000;
/** Nodes a seed may add to its cluster (joins). */
const SPARE_NODES_MAX = 2;

export interface SimOptions {
  seed: number;
  /** Phase-1 actions (default 40). */
  steps?: number;
  log?: (line: string) => void;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  /** Digest of every event and the final state: equal for equal seeds. */
  trace: string;
  replicas: number;
  simulatedMs: number;
  faults: Record<string, number>;
  acked: number;
  /** Router reads checked against what was acknowledged. */
  readsChecked: number;
}

interface Up {
  running: RunningNode;
  clock: ProcessClock;
  proc: SimProcess;
  stamper: VersionStamper;
}

interface SimNode {
  id: string;
  fs: SimFs;
  machine: SimMachineClock;
  up?: Up | undefined;
  /** Points this node answered a Write for (durably stored) since its disk was last wiped. */
  durable: Map<string, Uint8Array>;
  /** The node's process reports RSS near storage.memory_bytes_max: it flushes early, writers wait for flushes. */
  memoryPressure?: boolean;
  /** Removed by the operator (its disk counts as lost): never started again. */
  gone?: boolean;
}

class Violation extends Error {}

/** Engine counters a seed reports (summed over every process of every node). */
const ENGINE_COUNTS = ["moves_finished", "groups_dropped", "memory_flushes", "memory_waits", "range_reads", "summaries_loaded", "windows_digest_equal", "windows_digest_differ", "sketch_settled", "sketch_descended", "tombstones_purged", "points_deleted", "deleted_writes_refused", "tombstones_received_by_sync"] as const;
/** Deletes wait this long before their purge (and hints last as long): a minute of simulated time. */
const PURGE_DELAY = "60s";
const PURGE_DELAY_NS = 60n * NS_PER_SECOND;

export async function runSeed(o: SimOptions): Promise<SimResult> {
  const rng = new Rng(o.seed);
  const sched = new Scheduler();
  const net = new SimNet(sched, rng);
  const metaClock = new SimMachineClock(sched).process();
  const metadata = new MemoryMetadataStore(metaClock);
  const locks = new SimLocks();
  const trace: string[] = [];
  const faults: Record<string, number> = {
    crashes: 0, restarts: 0, empty_disk_restarts: 0, partitions: 0, clock_jumps: 0, fault_changes: 0, torn_tails: 0, garbled_tails: 0,
    pauses: 0, pauses_past_lease: 0, router_restarts: 0, id_collisions_refused: 0, dir_lock_refusals: 0, backfills: 0, quiet_writes: 0,
    memory_pressure_changes: 0, auto_replacements: 0, joins: 0, decommissions: 0, removals: 0, replacements: 0, membership_refusals: 0, moves_finished: 0, groups_dropped: 0,
    expired_writes: 0, deletes: 0, deletes_acked: 0, deletes_on_one_node: 0, quiet_deletes_on_one_node: 0, collection_drops: 0, tombstones_left_after_purge_rounds: 0, resurrection_checks: 0, crashes_during_purge: 0,
    tombstones_purged: 0, points_deleted: 0, deleted_writes_refused: 0, tombstones_received_by_sync: 0,
    memory_flushes: 0, memory_waits: 0, range_reads: 0, summaries_loaded: 0, windows_digest_equal: 0, windows_digest_differ: 0, sketch_settled: 0, sketch_descended: 0,
  };
  let readsChecked = 0;
  const note = (s: string) => {
    trace.push(`${sched.nowMs} ${s}`);
    o.log?.(`[seed ${o.seed} t=${sched.nowMs}] ${s}`);
  };
  const replicas = 3 + rng.int(3);
  // Odd seeds run moves and anti-entropy under a bandwidth cap (a few kB/s: a fill spans many steps and
  // their faults); taken from the seed, not the random stream, so even seeds replay as they did before.
  const bytesPerSecCap = o.seed % 2 === 1 ? String(4096) : "0";
  // Half the seeds reconcile with sketches before the descent (seeds 0, 1, 4, 5, …: both bandwidth
  // settings), from the seed too.
  const sketches = Math.floor(o.seed / 2) % 2 === 0;
  // Symbols sent with a lone window's root: none (the replica answers its own), too few to peel most
  // differences (its answer, or the descent, takes over), or the default.
  const sketchSymbols = [0, 1, 4, 32][Math.floor(o.seed / 4) % 4]!;
  // Delivery: direct calls to every replica (with the router's hints), or a durable queue per node
  // (JetStream's role), acked by the router once persisted (async) or once 2 nodes applied it (sync).
  // Every third seed keeps 60 h (storage.retention): of the backfills, those in the window 3 days
  // before DAY0 are expired the moment they are written (that window's expiry was 12 h before the
  // sim starts, far outside clock jumps) — never stored, never read, never counted as acknowledged.
  // Taken from the seed, not the random stream.
  const retained = o.seed % 3 === 0;
  const expired = (enc: Uint8Array) => retained && windowStartNs(timeOfEncoding(enc)) < DAY0 - 2n * NS_PER_DAY;
  const queued = rng.chance(0.5);
  const strategy = !queued || rng.chance(0.5) ? "sync" : "async";
  const queue = new SimQueue(sched, rng);
  let pumping = true;
  const newFs = (machine: SimMachineClock) => {
    const fs = new SimFs();
    fs.latency = () => new Promise<void>((r) => void sched.setTimer(rng.int(3), () => machine.run(r)));
    return fs;
  };
  const nodes: SimNode[] = Array.from({ length: replicas }, (_, i) => {
    const machine = new SimMachineClock(sched);
    return { id: `n${i + 1}`, fs: newFs(machine), machine, durable: new Map() };
  });
  /** Nodes there from the start, and every node a group record has named as a replica since. */
  const named = new Set(nodes.map((n) => n.id));
  const routerMachine = new SimMachineClock(sched);
  const stamper = new VersionStamper(routerMachine.process());
  const attempted = new Map<string, Set<string>>();
  const acked = new Map<string, Uint8Array>();
  const stamps = new Map<string, bigint>();
  /** Every delete sent (acknowledged or not: an unacknowledged one may still take effect anywhere). */
  const deletes: Array<{ c: CompiledTombstone; acked: boolean }> = [];
  /**
   * Tombstones each node has held applied (seen in its snapshots; forgotten when its copy is given up
   * or its disk lost): a node never again holds a version one of them covers, whatever syncs, repairs,
   * replays or purges.
   */
  const everHeld = new Map<string, Map<string, CompiledTombstone>>();
  const deletedByAttempt = (key: string, enc: Uint8Array) => deletes.some((d) => d.c.covers(key, timeOfEncoding(enc), enc));
  const observeTombstones = (n: SimNode): CompiledTombstone[] => {
    let m = everHeld.get(n.id);
    if (m === undefined) everHeld.set(n.id, (m = new Map()));
    const e = n.up?.running.node.engine;
    if (e !== undefined) for (const h of e.liveTombstones(GROUP)) if (h.applied && !m.has(h.id)) m.set(h.id, new CompiledTombstone(h.tombstone, h.encoding));
    return [...m.values()];
  };
  let wipesLeft = 1; // acknowledged = durable on 2 replicas: one lost disk cannot lose it
  let router: RunningRouter | undefined;
  let routerClock: ProcessClock | undefined;
  let extraMachines = 0;
  let extraNodes = 0;

  const flags = (id: string, machine: string): Map<string, string> =>
    new Map(Object.entries({
      "node.id": id,
      "node.address": SimNet.address(machine),
      "server.port": "1",
      "storage.data_dir": `/${id}`,
      // the smallest memory store: memory-pressure flushes (and the compaction they feed) start at a few KiB
      "storage.memstore_bytes_max": String(1024 * 1024),
      "coordinator.total_groups": "1",
      "replication.factor": String(replicas),
      "replication.min_replicas_for_write": "2",
      "replication.strategy": strategy,
      "storage.sync.anti_entropy.fanout": String(SHAPE.fanout),
      "storage.sync.anti_entropy.leaf_points_max": String(SHAPE.leafPointsMax),
      "log.level": "error",
      "cluster.plan_interval": "1s",
      "cluster.move_bytes_per_sec": bytesPerSecCap,
      "storage.sync.anti_entropy.max_bytes_per_sec": bytesPerSecCap,
      "storage.sync.anti_entropy.sketch": String(sketches),
      "storage.sync.anti_entropy.sketch_symbols": String(sketchSymbols),
      // Under the random faults a dead node is only ever declared by the operator (remove: one lost
      // disk); after healing, nodes run with a short timeout and one dies for good (auto-replace).
      "cluster.dead_node_timeout": deadNodeTimeout,
      "replication.hint_window": PURGE_DELAY,
      "storage.tombstone_purge_delay": PURGE_DELAY,
      ...(retained ? { "storage.retention": "60h" } : {}),
    }));
  let deadNodeTimeout = "0";
  const nodeConfig = (id: string, machine = id): NodeConfig => loadConfig({ flags: flags(id, machine) });

  const noteDurable = (n: SimNode, key: string, enc: Uint8Array) => {
    if (expired(enc)) return;
    const cur = n.durable.get(key);
    if (cur === undefined || compareVersions(enc, cur) > 0) n.durable.set(key, enc);
  };
  net.observer = (_from, to, path, status, body) => {
    if (path !== "/soltix.v1.StorageService/Write" || status !== 200) return;
    const n = nodes.find((x) => x.id === to);
    if (n === undefined) return;
    for (const p of fromBinary(WriteRequestSchema, body).points) {
      const s = storedFromPoint(pointFromProto("sim", p, () => 0n), 1);
      noteDurable(n, s.key, s.enc);
    }
  };

  const run = <T>(p: Promise<T>) => sched.run(p);
  /**
   * A process's counters reported per seed: early flushes and waits under memory pressure, range
   * reads, summaries found in the summary log at open, and comparisons begun with one digest of every window.
   */
  const engineCounts = (up: Up): Record<(typeof ENGINE_COUNTS)[number], number> => {
    const s: EngineStats = up.running.node.engine.statsSnapshot;
    const ae = up.running.node.sync.antiEntropy?.stats;
    const mv = up.running.node.sync.mover?.stats;
    return {
      moves_finished: mv?.movesFinished ?? 0, groups_dropped: mv?.groupsDropped ?? 0,
      memory_flushes: s.memoryFlushes, memory_waits: s.memoryWaits, range_reads: s.segmentRangeReads, summaries_loaded: s.summariesLoaded,
      windows_digest_equal: ae?.windowsDigestEqual ?? 0, windows_digest_differ: ae?.windowsDigestDiffer ?? 0,
      sketch_settled: ae?.sketchSettled ?? 0, sketch_descended: ae?.sketchNotDecoded ?? 0,
      tombstones_purged: s.tombstonesPurged, points_deleted: s.pointsDeleted, deleted_writes_refused: s.deletedPointsDropped, tombstones_received_by_sync: ae?.tombstonesReceived ?? 0,
    };
  };
  const countEngine = (up: Up) => {
    for (const [k, v] of Object.entries(engineCounts(up))) faults[k] = faults[k]! + v;
  };

  async function start(n: SimNode): Promise<void> {
    // A node whose copy the group's record gave to others while it was away drops it as it starts
    // (app/node.ts): what it acknowledged for the group counts no more.
    const g = await groupRecord();
    if (g !== undefined && !writeNodes(g).includes(n.id) && groupNodes(g).some((id) => id !== n.id)) {
      n.durable = new Map();
      everHeld.delete(n.id);
    }
    const clock = n.machine.process();
    const config = nodeConfig(n.id);
    // RSS as the process would report it: low, or past the engine's early-flush and wait fractions.
    const residentBytes = () => (n.memoryPressure === true ? 0.95 : 0.1) * config.storage.memoryBytesMax;
    const proc = simProcess({ machine: n.id, fs: n.fs, clock, rng, net, metadata, locks, residentBytes });
    const running = await run(launchNode(config, { platform: proc.platform, logger: silentLogger, queueBacklog: () => queue.backlog(n.id) }));
    n.up = { running, clock, proc, stamper: new VersionStamper(clock) };
  }

  /** kill -9: the process stops at once (no timer, I/O or answer of it happens again). */
  function crash(n: SimNode, torn: boolean): void {
    const up = n.up;
    if (up === undefined) return;
    countEngine(up);
    n.up = undefined;
    net.detach(n.id);
    up.clock.kill();
    for (const s of up.proc.sessions) void s.close();
    n.machine.resume();
    const left = n.fs.crash(torn ? rng : undefined);
    faults.torn_tails! += left.torn;
    faults.garbled_tails! += left.garbled;
  }

  /** A clean stop (SIGTERM): the node revokes its registration and closes its files. */
  async function stop(n: SimNode): Promise<void> {
    const up = n.up;
    if (up === undefined) return;
    n.machine.resume();
    countEngine(up);
    await run(up.running.stop());
    up.clock.kill();
    n.up = undefined;
  }

  const syncerOf = (n: SimNode) => n.up?.running.node.sync.syncer;
  const catchingUp = (n: SimNode) => {
    const s = syncerOf(n);
    return s === undefined || s.isCatchingUp(GROUP);
  };

  /** Lets the node finish its startup sync (or gives up after CATCH_UP_WAIT_MS: it stays closed for reads). */
  async function awaitCatchUp(n: SimNode): Promise<boolean> {
    for (let waited = 0; waited < CATCH_UP_WAIT_MS; waited += 250) {
      if (n.up === undefined) return false;
      if (!catchingUp(n)) return true;
      await sched.advance(250);
    }
    return !catchingUp(n);
  }

  /** Every point a node acknowledged is still there after its crash and recovery. */
  async function checkDurable(n: SimNode): Promise<void> {
    // A node the group's record no longer names has given its copy up (it is deleted, by design).
    const g = await groupRecord();
    if (g !== undefined && !writeNodes(g).includes(n.id)) return;
    const held = await contents(n);
    for (const [key, enc] of n.durable) {
      const h = held.get(key);
      if ((h === undefined || compareVersions(h, enc) < 0) && !deletedByAttempt(key, enc)) throw new Violation(`${n.id} lost an acknowledged write after a crash: ${keyOf(key)}`);
    }
  }

  async function contents(n: SimNode): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const e = n.up!.running.node.engine;
    // The tombstones it held before this look: none of the versions they cover may be there.
    const held = observeTombstones(n);
    await run((async () => {
      for (const ws of e.windowsOf(GROUP)) for await (const r of e.scanWindow(GROUP, ws)) out.set(r.key, r.enc);
    })());
    // Retention: an expired point is never on any replica, whatever synced, repaired or crashed.
    for (const [k, enc] of out) if (expired(enc)) throw new Violation(`${n.id} holds an expired point ${keyOf(k)} (storage.retention 60h)`);
    if (held.length > 0) {
      faults.resurrection_checks!++;
      for (const [k, enc] of out) {
        const c = held.find((x) => x.covers(k, timeOfEncoding(enc), enc));
        if (c !== undefined) throw new Violation(`${n.id} holds ${keyOf(k)} (inserted_at ${decodePoint(enc).insertedAtNs}) deleted by a tombstone it held (inserted_at ${c.t.insertedAtNs}): a deleted point came back`);
      }
    }
    return out;
  }

  /** The cached (incrementally updated) tree equals a tree built afresh from the window's points. */
  async function checkTrees(n: SimNode): Promise<void> {
    const e = n.up!.running.node.engine;
    for (const ws of e.windowsOf(GROUP)) {
      const recs = [];
      for await (const r of e.scanWindow(GROUP, ws)) recs.push(r);
      const tree = await run(e.windowTree(GROUP, ws, SHAPE));
      const cached = tree.root();
      const freshTree = new WindowTree(SHAPE, ws, recs);
      const fresh = freshTree.root();
      if (cached.count !== fresh.count || toHex(cached.digest) !== toHex(fresh.digest)) throw new Violation(`${n.id}: cached tree of window ${ws} differs from its points`);
      // The sketch prefix the cached tree keeps through late writes (read synchronously: nothing lands
      // between) is the sketch of the window's points.
      if (toHex(encodeSymbols(tree.sketch(SKETCH_PREFIX_SYMBOLS))) !== toHex(encodeSymbols(freshTree.sketch(SKETCH_PREFIX_SYMBOLS)))) throw new Violation(`${n.id}: the sketch kept for window ${ws} differs from its points`);
    }
  }

  /**
   * Every acknowledged write is durable on some node (its version or a newer one): acknowledged means
   * on 2 disks (or in every queue), and at most one disk is ever lost.
   */
  function checkAckedHeld(): void {
    for (const [key, enc] of acked) {
      const held = nodes.some((n) => {
        const d = n.durable.get(key);
        return d !== undefined && compareVersions(d, enc) >= 0;
      });
      if (!held && !(queued && queue.pending() > 0) && !deletedByAttempt(key, enc)) throw new Violation(`acknowledged write ${keyOf(key)} is durable on no node`);
    }
  }

  function makePoints(kind: "normal" | "backfill"): Point[] {
    const points: Point[] = [];
    const count = 1 + rng.int(12);
    const ackedKeys = [...acked.keys()];
    for (let i = 0; i < count; i++) {
      let id: string;
      let timeNs: bigint;
      if (kind === "backfill" && ackedKeys.length > 0 && rng.chance(0.5)) {
        // An overwrite of a point already acknowledged (a correction): same key, new version.
        const kp = keyParts(rng.pick(ackedKeys));
        id = kp.id;
        timeNs = kp.timeNs;
      } else {
        const dayBack = kind === "backfill" ? BigInt(1 + rng.int(BACKFILL_DAYS)) : 0n;
        timeNs = DAY0 - dayBack * NS_PER_DAY + BigInt(rng.int(2)) * NS_PER_DAY + BigInt(rng.int(40)) * 60n * NS_PER_SECOND;
        id = `d${rng.int(DEVICES)}`;
      }
      // Now and then the same version stamp as an earlier write of the key (two routers whose clocks
      // agree): an LWW tie, decided by the encodings' bytes on every replica alike.
      const key = `${id}@${timeNs}`;
      const prior = stamps.get(key);
      const insertedAtNs = prior !== undefined && rng.chance(0.15) ? prior : stamper.next();
      stamps.set(key, insertedAtNs);
      points.push({ database: "sim", collection: "m", id, timeNs, insertedAtNs, fields: [["v", { kind: "number", value: rng.int(1000) }]] });
    }
    return points;
  }

  /** Writes one batch through the router; returns the acknowledged versions (storage key → encoding), or undefined when refused. */
  async function write(kind: "normal" | "backfill" = "normal", crashDuring?: SimNode): Promise<Map<string, Uint8Array> | undefined> {
    if (router === undefined) return undefined;
    const points = makePoints(kind);
    const stored = points.map((p) => storedFromPoint(p, 1));
    for (const s of stored) {
      const set = attempted.get(s.key) ?? new Set<string>();
      set.add(toHex(s.enc));
      attempted.set(s.key, set);
    }
    // A replica may die while the batch is in flight: mid-append, mid-fsync or mid-answer (at the
    // latest when the write has settled).
    const victim = crashDuring;
    const crashed =
      victim === undefined
        ? Promise.resolve()
        : sched.sleep(rng.int(6)).then(() => {
            crash(victim, true);
            faults.crashes!++;
            note(`crash ${victim.id} during a write`);
          });
    try {
      await run(router.router.writer.write(points)).finally(() => run(crashed));
      for (const s of stored) {
        if (expired(s.enc)) {
          faults.expired_writes!++;
          continue;
        }
        const cur = acked.get(s.key);
        if (cur === undefined || compareVersions(s.enc, cur) > 0) acked.set(s.key, s.enc);
      }
      note(`write ${points.length}${kind === "backfill" ? " (backfill/overwrite)" : ""} acked`);
      if (!queued) checkAckedHeld();
      const out = new Map<string, Uint8Array>();
      for (const s of stored) if (!out.has(s.key) || compareVersions(s.enc, out.get(s.key)!) > 0) out.set(s.key, s.enc);
      return out;
    } catch (e) {
      note(`write ${points.length} refused: ${errorMessage(e).slice(0, 80)}`);
      return undefined;
    }
  }

  /**
   * A delete through the router, stamped like a write (now and then with a write's own stamp: the
   * tombstone wins the tie): some devices over a time range among the written days, every device over
   * a range, or the whole collection (a drop). Acknowledged or not, it may take effect.
   */
  async function deleteSome(): Promise<void> {
    if (router === undefined || attempted.size === 0) return;
    const r = rng.next();
    const drop = r < 0.05;
    const ids = drop || r < 0.15 ? [] : [...new Set([`d${rng.int(DEVICES)}`, ...(rng.chance(0.3) ? [`d${rng.int(DEVICES)}`] : [])])];
    const startNs = drop ? 0n : DAY0 - BigInt(rng.int(BACKFILL_DAYS + 1)) * NS_PER_DAY + BigInt(rng.int(48)) * 30n * 60n * NS_PER_SECOND;
    const endNs = drop ? 0n : startNs + BigInt(1 + rng.int(96)) * 30n * 60n * NS_PER_SECOND;
    const priors = [...stamps.values()];
    const insertedAtNs = priors.length > 0 && rng.chance(0.1) ? rng.pick(priors) : stamper.next();
    const t: Tombstone = tombstoneOfDelete("sim delete", { database: "sim", collection: "m", ids, startNs, endNs, insertedAtNs }, () => insertedAtNs);
    const d = { c: new CompiledTombstone(t, new Uint8Array(0)), acked: false };
    deletes.push(d);
    faults.deletes!++;
    if (drop) faults.collection_drops!++;
    const what = drop ? "drop of the collection" : `delete ${ids.length === 0 ? "every device" : ids.join("+")} [${(startNs - DAY0) / NS_PER_SECOND}s, ${(endNs - DAY0) / NS_PER_SECOND}s)`;
    // Now and then straight to one node (StorageService.Delete, as a client or a router whose other
    // deliveries failed would leave it): the other replicas learn it from that node only.
    const only = rng.chance(0.2) ? rng.pick(nodes.filter((n) => n.up !== undefined && !n.machine.paused).concat([])) : undefined;
    if (only?.up !== undefined) {
      faults.deletes_on_one_node!++;
      const body = { database: "sim", collection: "m", ids, startTime: String(startNs), endTime: String(endNs === 0n ? 0n : endNs), insertedAt: String(insertedAtNs) };
      const req = new Request(`http://${only.id}/soltix.v1.StorageService/Delete`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const res = await run(Promise.resolve(only.up.running.node.app.fetch(req)));
      const text = await run(res.text());
      note(`${what} on ${only.id} only: ${res.status === 200 ? "stored" : `refused (${text.slice(0, 80)})`}`);
      observeTombstones(only);
      return;
    }
    try {
      await run(router.router.writer.delete(t));
      d.acked = true;
      faults.deletes_acked!++;
      for (const n of nodes) if (n.up !== undefined) observeTombstones(n);
      note(`${what} acked (inserted_at ${insertedAtNs})`);
    } catch (e) {
      note(`${what} refused: ${errorMessage(e).slice(0, 80)}`);
    }
  }

  /** Anti-entropy on a node, then its tombstone purge (as after a scheduled round); the node may crash meanwhile. */
  async function antiEntropyAndPurge(n: SimNode, crashDuring: boolean): Promise<void> {
    const sync = n.up!.running.node.sync;
    const ae = sync.antiEntropy;
    if (ae === undefined) return;
    let finished = false;
    const work = (async () => {
      const recs = await ae.runGroup(GROUP);
      const purged = sync.purger === undefined ? 0 : await sync.purger.purgeGroup(GROUP);
      finished = true;
      const held = n.up?.running.node.engine.tombstoneCount(GROUP) ?? 0;
      const why = held > 0 ? ` (${held} kept: ${sync.purger?.heldBecause.get(GROUP) ?? "-"})` : "";
      return `anti-entropy ${n.id}: ${recs.map((x) => `${x.peer}:${x.result}/${x.path}`).join(",")}${purged > 0 ? `; ${purged} tombstones purged` : ""}${why}`;
    })();
    // A crash at a random moment of the run (a crashed process's work never finishes: not waited for).
    const crashed = crashDuring
      ? sched.sleep(rng.int(40)).then(() => {
          if (finished || n.up?.running.node.sync !== sync) return undefined;
          crash(n, rng.chance(0.5));
          faults.crashes!++;
          faults.crashes_during_purge!++;
          return `crash ${n.id} during anti-entropy and purge`;
        })
      : new Promise<undefined>(() => {});
    work.catch(() => {});
    const line = await run(Promise.race([work, crashed.then((c) => c ?? work)]));
    note(line);
  }

  async function restart(n: SimNode, wipe: boolean): Promise<void> {
    if (wipe) {
      n.fs = newFs(n.machine);
      n.durable = new Map();
      everHeld.delete(n.id);
      faults.empty_disk_restarts!++;
    }
    faults.restarts!++;
    await start(n);
    if (!wipe) await checkDurable(n);
    const caughtUp = await awaitCatchUp(n);
    const p = syncerOf(n)?.progress.get(GROUP);
    note(`restart ${n.id}${wipe ? " (empty disk)" : ""}: ${caughtUp ? "caught up" : "still catching up"} (${p?.state ?? "-"}, ${p?.points ?? 0} pts, verified with ${p?.verifiedWith.join("+") ?? "-"})`);
  }

  async function startRouter(): Promise<void> {
    routerClock = routerMachine.process();
    const proc = simProcess({ machine: "router", fs: new SimFs(), clock: routerClock, rng, net, metadata, locks });
    const rconfig = loadConfig({
      flags: new Map(Object.entries({
        "node.id": "router", "coordinator.total_groups": "1", "replication.factor": String(replicas), "replication.min_replicas_for_write": "2", "replication.strategy": strategy, "replication.hint_window": PURGE_DELAY,
        "server.port": "1", "log.level": "error",
        ...(queued ? { "queue.type": "nats", "queue.url": "nats://sim:4222" } : {}),
      })),
    });
    router = await run(launchRouter(rconfig, { platform: proc.platform, logger: silentLogger, ...(queued ? { delivery: queue } : {}) }));
  }

  /** Devices written to so far, sorted. */
  const writtenIds = () => [...new Set([...attempted.keys()].map((k) => keyParts(k).id))].sort();

  /**
   * Reads every written key through the router — or one device's (`only`: on the nodes a range read
   * of its series blocks); each answer must be a version that was written.
   */
  async function routerRead(consistency: "one" | "quorum" | "all", requireAcked: boolean, only?: string): Promise<number> {
    const ids = only === undefined ? writtenIds() : [only];
    if (ids.length === 0 || router === undefined) return 0;
    // What each node held applied before the read: a node that answers never returns what those delete.
    const heldBefore = new Map(nodes.map((n) => [n.id, n.up === undefined ? [...(everHeld.get(n.id)?.values() ?? [])] : observeTombstones(n)]));
    const got = new Map<string, Uint8Array>();
    let cursor = "";
    let served = "";
    // Each page may be answered by other replicas: a point is checked against its own page's servers.
    const servedBy = new Map<string, string[]>();
    const allServers = new Set<string>();
    for (let page = 0; page < 1000; page++) {
      const url = `http://router/v1/databases/sim/collections/m/query?ids=${ids.join(",")}&limit=${1 + rng.int(30)}&consistency=${consistency}${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await run(Promise.resolve(router.router.app.fetch(new Request(url))));
      const body = (await res.json()) as { points?: Array<Record<string, unknown>>; next_cursor?: string; served_by?: Record<string, string>; message?: string };
      if (res.status !== 200) {
        if (requireAcked) throw new Violation(`router read (${consistency}) refused after healing: ${body.message}`);
        note(`router read (${consistency}) refused: ${String(body.message).slice(0, 80)}`);
        return 0;
      }
      served = Object.values(body.served_by ?? {}).join(",");
      const pageServers = served.split(",").filter((x) => x !== "");
      for (const x of pageServers) allServers.add(x);
      for (const p of body.points ?? []) {
        const enc = encodePoint({
          database: "sim", collection: "m", id: String(p.id), timeNs: BigInt(String(p.time)), insertedAtNs: BigInt(String(p.insertedAt)),
          fields: Object.entries(p.fields as Record<string, { numberValue: number }>).map(([k, v]) => [k, { kind: "number", value: v.numberValue }] as const),
        });
        const key = pointKey("sim", "m", String(p.id), BigInt(String(p.time)));
        if (got.has(key)) throw new Violation(`router read (${consistency}) returned ${keyOf(key)} twice across pages`);
        if (expired(enc)) throw new Violation(`router read (${consistency}) returned the expired point ${keyOf(key)}`);
        got.set(key, enc);
        servedBy.set(key, pageServers);
        if (!attempted.get(key)?.has(toHex(enc))) throw new Violation(`router read (${consistency}) returned a version never written: ${keyOf(key)}`);
      }
      cursor = body.next_cursor ?? "";
      if (cursor === "") break;
    }
    // Who answered must have been serving the group (never a node still catching up, never one joining it).
    const rec = await groupRecord();
    const servers = [...allServers];
    for (const [key, enc] of got) {
      for (const id of servedBy.get(key) ?? []) {
        const c = heldBefore.get(id)?.find((x) => x.covers(key, timeOfEncoding(enc), enc));
        if (c !== undefined) throw new Violation(`router read (${consistency}) returned ${keyOf(key)}, deleted by a tombstone ${id} held before it answered`);
      }
    }
    for (const id of servers) {
      if (rec?.joining_nodes.includes(id) === true) throw new Violation(`router read was served by ${id} while it was joining the group`);
      const n = nodes.find((x) => x.id === id);
      if (n?.up !== undefined && catchingUp(n)) throw new Violation(`router read was served by ${id} while it was catching up`);
    }
    if (requireAcked) {
      for (const [key, enc] of acked) {
        if (only !== undefined && keyParts(key).id !== only) continue;
        const h = got.get(key);
        if ((h === undefined || compareVersions(h, enc) < 0) && !deletedByAttempt(key, enc)) throw new Violation(`router read (${consistency}) after healing returned ${h === undefined ? "nothing" : "an older version"} for acknowledged ${keyOf(key)} (served by ${served})`);
      }
      readsChecked += acked.size;
    }
    note(`router read (${consistency}): ${got.size} points from ${served || "-"}`);
    return got.size;
  }

  /**
   * A quiet spell with one node paused past its lease: no other fault, so every write must be
   * acknowledged by the live nodes; once it resumes it re-registers by itself and gets what it
   * missed (hints, or its queue) without any anti-entropy run.
   */
  async function quietPause(): Promise<void> {
    // Among the group's replicas (a node joining or outside the group is not promised these writes).
    const g = await groupRecord();
    const up = nodes.filter((n) => n.up !== undefined && !n.machine.paused && g !== undefined && groupNodes(g).includes(n.id) && g.joining_nodes.length === 0);
    if (up.length < 3 || router === undefined) return;
    net.healAll();
    net.faults = NO_FAULTS;
    queue.faults = { dropPublish: 0, redeliver: 0 };
    await sched.advance(15_000); // the network settles (registrations, hint replays)
    const victim = rng.pick(up);
    if (victim.up === undefined) return;
    victim.machine.pause();
    faults.pauses!++;
    faults.pauses_past_lease!++;
    const pauseMs = PAUSE_MS_MIN + rng.int(PAUSE_MS_MAX - PAUSE_MS_MIN);
    note(`quiet pause of ${victim.id} for ${pauseMs} ms`);
    await sched.advance(11_000); // past the lease: the node is unregistered
    const ackedDuring = new Map<string, Uint8Array>();
    for (let i = 0; i < 3; i++) {
      const got = await write(rng.chance(0.5) ? "normal" : "backfill");
      faults.quiet_writes!++;
      if (got === undefined) throw new Violation(`a write was refused while only ${victim.id} was down (${up.length - 1} live nodes, 2 needed)`);
      for (const [k, enc] of got) if (!expired(enc) && (!ackedDuring.has(k) || compareVersions(enc, ackedDuring.get(k)!) > 0)) ackedDuring.set(k, enc);
      await sched.advance(rng.int(3000));
    }
    await sched.advance(Math.max(0, pauseMs - 11_000));
    victim.machine.resume();
    // Re-registration, then hint replay / queue consumption.
    for (let waited = 0; waited < 60_000; waited += 500) {
      await sched.advance(500);
      if (victim.up === undefined) return;
      const rec = await metadata.get(nodeKey(victim.id));
      if (rec !== undefined && parseNodeRecord(rec.value).instance === victim.up.running.node.instance && (router.router.writer.hints?.pending(victim.id) ?? 0) === 0 && (await queue.backlog(victim.id)) === 0) break;
    }
    const rec = await metadata.get(nodeKey(victim.id));
    if (rec === undefined || parseNodeRecord(rec.value).instance !== victim.up!.running.node.instance) throw new Violation(`${victim.id} did not register again after its pause`);
    const now = await groupRecord();
    if (now !== undefined && !writeNodes(now).includes(victim.id)) {
      note(`${victim.id} resumed; a move took it out of the group meanwhile (its copy is given up)`);
      return;
    }
    const held = await contents(victim);
    for (const [key, enc] of ackedDuring) {
      const h = held.get(key);
      if ((h === undefined || compareVersions(h, enc) < 0) && !deletedByAttempt(key, enc)) throw new Violation(`${victim.id} does not hold ${keyOf(key)} after its pause (hints/queue should have brought it, no anti-entropy ran)`);
    }
    note(`${victim.id} resumed, registered again and holds every write acknowledged meanwhile`);
  }

  /**
   * A quiet spell (every replica up, no fault) in which a delete reaches one replica only, of a device
   * and day that hold acknowledged points; the purge delay passes; that replica compares and purges,
   * twice, before any other replica took the tombstone from it. It must not purge (the others do not
   * hold it) — else its second comparison pulls a deleted version back, which its snapshot would show.
   */
  async function quietDeleteOnOne(): Promise<void> {
    const g = await groupRecord();
    const reps = nodes.filter((n) => g !== undefined && groupNodes(g).includes(n.id));
    if (g === undefined || g.joining_nodes.length > 0 || reps.length < 2 || reps.some((n) => n.up === undefined) || acked.size === 0) return;
    net.healAll();
    net.faults = NO_FAULTS;
    queue.faults = { dropPublish: 0, redeliver: 0 };
    for (const n of reps) n.machine.resume();
    // Clocks agree (the delay is measured on the target's clock from the router's stamp).
    routerMachine.skewNs = 0n;
    for (const n of nodes) n.machine.skewNs = 0n;
    await sched.advance(15_000);
    if (reps.some((n) => n.up === undefined || catchingUp(n))) return;
    const target = rng.pick(reps);
    const kp = keyParts(rng.pick([...acked.keys()]));
    const startNs = windowStartNs(kp.timeNs);
    const insertedAtNs = stamper.next();
    const t: Tombstone = tombstoneOfDelete("sim delete", { database: "sim", collection: "m", ids: [kp.id], startNs, endNs: startNs + NS_PER_DAY, insertedAtNs }, () => insertedAtNs);
    deletes.push({ c: new CompiledTombstone(t, new Uint8Array(0)), acked: false });
    faults.deletes!++;
    faults.quiet_deletes_on_one_node!++;
    const body = { database: "sim", collection: "m", ids: [kp.id], startTime: String(startNs), endTime: String(startNs + NS_PER_DAY), insertedAt: String(insertedAtNs) };
    const res = await run(Promise.resolve(target.up!.running.node.app.fetch(new Request(`http://${target.id}/soltix.v1.StorageService/Delete`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }))));
    note(`quiet delete of ${kp.id}'s day on ${target.id} only: ${res.status}`);
    observeTombstones(target);
    await sched.advance(Number(PURGE_DELAY_NS / 1_000_000n) + 1_000);
    for (let i = 0; i < 2 && target.up !== undefined; i++) await antiEntropyAndPurge(target, false);
    if (target.up !== undefined) await contents(target);
  }

  /** A second process with a live node's id (on another machine) is refused, and the first is unharmed. */
  async function idCollision(): Promise<void> {
    const live = nodes.filter((n) => n.up !== undefined && !n.machine.paused && !catchingUp(n));
    if (live.length === 0) return;
    const n = rng.pick(live);
    const rec = await metadata.get(nodeKey(n.id));
    if (rec === undefined || parseNodeRecord(rec.value).instance !== n.up!.running.node.instance) return; // not registered right now
    const machineName = `x${++extraMachines}`;
    const m = new SimMachineClock(sched);
    const clock = m.process();
    const proc = simProcess({ machine: machineName, fs: newFs(m), clock, rng, net, metadata, locks });
    let started: RunningNode | undefined;
    try {
      started = await run(launchNode(nodeConfig(n.id, machineName), { platform: proc.platform, logger: silentLogger }));
    } catch (e) {
      if (!/already registered by a live process/.test(errorMessage(e))) throw new Violation(`a second ${n.id} failed for the wrong reason: ${errorMessage(e)}`);
    }
    clock.kill();
    if (started !== undefined) throw new Violation(`a second process with node id ${n.id} was allowed to start`);
    const after = await metadata.get(nodeKey(n.id));
    if (after === undefined || parseNodeRecord(after.value).instance !== n.up!.running.node.instance) throw new Violation(`the refused second ${n.id} disturbed the first's registration`);
    faults.id_collisions_refused!++;
    note(`second process as ${n.id} refused`);
  }

  /** A second process on a live node's data dir is refused before it touches a file. */
  async function dirCollision(): Promise<void> {
    const live = nodes.filter((n) => n.up !== undefined && !n.machine.paused);
    if (live.length === 0) return;
    const n = rng.pick(live);
    const clock = n.machine.process();
    const proc = simProcess({ machine: n.id, fs: n.fs, clock, rng, net, metadata, locks });
    let started: RunningNode | undefined;
    try {
      started = await run(launchNode(nodeConfig(n.id), { platform: proc.platform, logger: silentLogger }));
    } catch (e) {
      if (!/is locked by/.test(errorMessage(e))) throw new Violation(`a second process on ${n.id}'s data dir failed for the wrong reason: ${errorMessage(e)}`);
    }
    clock.kill();
    if (started !== undefined) throw new Violation(`a second process was allowed to open ${n.id}'s data dir`);
    faults.dir_lock_refusals!++;
    note(`second process on ${n.id}'s data dir refused`);
  }

  /** The group's record as stored now. */
  const groupRecord = async () => (await run(getGroup(metadata, GROUP)))?.record;

  /** A node's AdminService over the real RPC path (Connect JSON, as curl sends it). */
  async function adminCall(via: SimNode, method: string, body: object): Promise<{ ok: boolean; text: string }> {
    const req = new Request(`http://${via.id}/soltix.v1.AdminService/${method}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const res = await run(Promise.resolve(via.up!.running.node.app.fetch(req)));
    const j = (await run(res.json())) as { message?: string };
    return { ok: res.status === 200, text: res.status === 200 ? JSON.stringify(j) : String(j.message ?? "") };
  }

  /** A new node joins the cluster (the planner gives it its rendezvous share). */
  async function join(): Promise<void> {
    if (extraNodes >= SPARE_NODES_MAX) return;
    extraNodes++;
    const machine = new SimMachineClock(sched);
    const n: SimNode = { id: `n${nodes.length + 1}`, fs: newFs(machine), machine, durable: new Map() };
    nodes.push(n);
    await start(n);
    faults.joins!++;
    note(`join ${n.id}`);
  }

  /** An operator decision through a random live node: decommission, remove (a down node's disk counts as lost) or replace. */
  async function membershipOp(): Promise<void> {
    const via = nodes.filter((n) => n.up !== undefined && !n.machine.paused);
    if (via.length === 0) return;
    const v = rng.pick(via);
    const down = nodes.filter((n) => n.up === undefined && !n.gone);
    // Replace twice as often as the others: it also needs a spare node (started for it when none is idle).
    const kind = rng.pick(["decommission", "remove", "replace", "replace"] as const);
    let r: { ok: boolean; text: string };
    let target: SimNode;
    if (kind === "decommission") {
      target = rng.pick(nodes.filter((n) => !n.gone));
      r = await adminCall(v, "DecommissionNode", { nodeId: target.id });
      if (r.ok) faults.decommissions!++;
    } else {
      if (down.length === 0 || wipesLeft === 0) return;
      target = rng.pick(down);
      // As an operator reading `cluster status`: mostly waits until the cluster sees the node gone (its
      // registration lease expired); sometimes asks at once (refused while it is registered).
      if (v.up!.running.node.sync.view?.node(target.id) !== undefined && rng.chance(0.7)) await sched.advance(11_000);
      if (v.up === undefined || v.machine.paused) return;
      const isSpare = (n: SimNode) => n.up !== undefined && n.up.running.node.engine.groups().length === 0 && n !== target;
      let spare = nodes.find(isSpare);
      // The operator's usual replacement: a new machine, started for it (when the seed may add one).
      if (kind === "replace" && spare === undefined) {
        await join();
        spare = nodes.find(isSpare);
      }
      if (kind === "replace" && spare === undefined) return;
      r = kind === "remove" ? await adminCall(v, "RemoveNode", { nodeId: target.id }) : await adminCall(v, "ReplaceNode", { nodeId: target.id, withNodeId: spare!.id });
      if (r.ok) {
        // Declared gone: its disk is the seed's one lost disk, and it never starts again.
        target.gone = true;
        target.durable = new Map();
        queue.discard(target.id);
        wipesLeft--;
        faults[kind === "remove" ? "removals" : "replacements"]!++;
      }
    }
    if (!r.ok) {
      if (r.text === "") throw new Violation(`${kind} of ${target.id} refused without a reason`);
      faults.membership_refusals!++;
    }
    note(`${kind} ${target.id}: ${r.ok ? "accepted" : `refused (${r.text.slice(0, 80)})`}`);
  }

  /**
   * At every step: the group's record keeps `factor` full-copy slots (a move adds the joining node
   * before the leaving one goes); a node the record no longer names has given its copy up (what it
   * held counts as durable no more). Slots are counted over the nodes able to hold a copy: not gone,
   * members (a decommissioning node counts while the record still names it), and either there from
   * the start or named by the record once — a node that joined holds no copy before its first move
   * ends, so when a removed node's slot is dropped (nothing could take it) the group may wait for it.
   */
  async function checkPlacement(): Promise<void> {
    const g = await groupRecord();
    if (g === undefined) return;
    for (const id of groupNodes(g)) named.add(id);
    const able = [];
    for (const n of nodes) {
      if (n.gone || !named.has(n.id)) continue;
      const m = await run(metadata.get(membershipKey(n.id)));
      const leaving = m !== undefined && parseMembershipRecord(m.value).state !== "active";
      if (!leaving || groupNodes(g).includes(n.id)) able.push(n.id);
    }
    if (groupNodes(g).length < Math.min(replicas, able.length)) throw new Violation(`group has ${groupNodes(g).length} nodes (${groupNodes(g).join(",")}), factor ${replicas}`);
    for (const n of nodes) {
      if (writeNodes(g).includes(n.id)) continue;
      n.durable = new Map();
      everHeld.delete(n.id);
    }
  }

  /** After healing: no move in flight, the group on the planner's desired nodes, non-holders empty. */
  async function awaitPlacement(): Promise<void> {
    for (let waited = 0; waited < 600_000; waited += 1_000) {
      await sched.advance(1_000);
      const g = await groupRecord();
      const view = nodes.find((n) => n.up !== undefined)?.up?.running.node.sync.view;
      if (g === undefined || view === undefined || g.joining_nodes.length > 0) continue;
      const members = nodes.filter((n) => !n.gone && view.isMember(n.id)).map((n) => n.id);
      const want = desiredNodes(GROUP, members, replicas, (id) => view.placementOf(id)).sort().join();
      const holdersOk = nodes.every((n) => n.up === undefined || groupNodes(g).includes(n.id) || n.up.running.node.engine.groups().length === 0);
      if (groupNodes(g).sort().join() === want && holdersOk) return;
    }
    const g = await groupRecord();
    throw new Violation(`placement did not settle: group on ${g === undefined ? "-" : groupNodes(g).join(",")}, joining ${g?.joining_nodes.join(",") ?? "-"}`);
  }

  /** Nodes the group's record names (the final checks run over them). */
  const holders = async () => {
    const g = await groupRecord();
    return nodes.filter((n) => g !== undefined && groupNodes(g).includes(n.id));
  };

  try {
    for (const n of nodes) await start(n);
    await startRouter();
    // The cluster is up before the first write: the group is placed on every replica.
    await sched.advance(1_000);
    const placed = await run(router!.router.view.group(GROUP, replicas));
    if (groupNodes(placed).length !== replicas) throw new Violation(`group placed on ${groupNodes(placed).join(",")} only`);
    note(`${replicas} replicas, ${queued ? `queue (${strategy})` : "direct"} delivery`);
    // Each node's queue consumer, in simulated time: the real apply path, acked only once durable.
    void (async () => {
      let busy = false;
      while (pumping) {
        // Idle consumers poll less often (a long pause would otherwise cost thousands of wake-ups).
        await sched.sleep(busy ? 1 + rng.int(3) : 25);
        busy = false;
        for (const n of nodes) {
          const up = n.up;
          if (up === undefined || n.machine.paused || !pumping) continue;
          const fs = n.fs;
          const out = await queue.pumpOnce(n.id, (body) => applyQueuedBatch(body, up.running.node.ingest, () => up.stamper.next()));
          if (out !== undefined) busy = true;
          if (out?.kind === "applied" && n.fs === fs) for (const p of out.points) noteDurable(n, p.key, p.enc);
        }
      }
    })();

    // Phase 1: random actions under faults; safety checked as we go.
    const steps = o.steps ?? 40;
    for (let step = 0; step < steps; step++) {
      const up = nodes.filter((n) => n.up !== undefined);
      const down = nodes.filter((n) => n.up === undefined && !n.gone);
      const r = rng.next();
      if (r < 0.2) await write();
      else if (r < 0.24) await deleteSome();
      else if (r < 0.3) {
        // Backfills and overwrites (older times), most useful while a replica is down.
        faults.backfills!++;
        await write("backfill");
      } else if (r < 0.36 && up.length > 0) await write("normal", rng.pick(up));
      else if (r < 0.42 && up.length > 0) await antiEntropyAndPurge(rng.pick(up), rng.chance(0.2)); else if (r < 0.48 && up.length > 0) {
        const n = rng.pick(up);
        await run(n.up!.running.node.engine.flush());
        if (rng.chance(0.5)) await run(n.up!.running.node.engine.compactAll());
        await checkTrees(n);
        note(`flush ${n.id}`);
      } else if (r < 0.55 && up.length > 0) {
        const n = rng.pick(up);
        crash(n, rng.chance(0.5));
        faults.crashes!++;
        note(`crash ${n.id}`);
      } else if (r < 0.63 && down.length > 0) {
        const n = rng.pick(down);
        const wipe = wipesLeft > 0 && rng.chance(0.3);
        if (wipe) wipesLeft--;
        await restart(n, wipe);
      } else if (r < 0.69) {
        const a = rng.pick([...nodes.map((n) => n.id), "router"]);
        const b = rng.pick(nodes.map((n) => n.id));
        const cut = rng.chance(0.6);
        if (a !== b) net.partition(a, b, cut);
        faults.partitions!++;
        note(`${cut ? "partition" : "heal"} ${a}|${b}`);
      } else if (r < 0.73) {
        const jump = (BigInt(rng.int(2 * 300 + 1)) - 300n) * NS_PER_SECOND;
        const target = rng.chance(0.5) ? routerMachine : rng.pick(nodes).machine;
        target.skewNs += jump;
        if (target.skewNs > CLOCK_JUMP_NS_MAX) target.skewNs = CLOCK_JUMP_NS_MAX;
        if (target.skewNs < -CLOCK_JUMP_NS_MAX) target.skewNs = -CLOCK_JUMP_NS_MAX;
        faults.clock_jumps!++;
        note(`clock jump ${jump / NS_PER_SECOND}s`);
      } else if (r < 0.77) {
        net.faults = { lossRequest: rng.next() * 0.15, lossResponse: rng.next() * 0.15, duplicate: rng.next() * 0.2, delayMsMax: rng.int(50) };
        queue.faults = { dropPublish: rng.next() * 0.15, redeliver: rng.next() * 0.2 };
        faults.fault_changes!++;
        note("network faults changed");
      } else if (r < 0.81 && up.length > 0) {
        // A pause (SIGSTOP) of a node, sometimes past its lease, while the others go on.
        const n = rng.pick(up);
        if (!n.machine.paused) {
          const ms = rng.chance(0.5) ? PAUSE_MS_MIN + rng.int(PAUSE_MS_MAX - PAUSE_MS_MIN) : 500 + rng.int(5000);
          n.machine.pause();
          faults.pauses!++;
          if (ms > 10_000) faults.pauses_past_lease!++;
          note(`pause ${n.id} for ${ms} ms`);
          await sched.advance(Math.floor(ms / 2));
          await write();
          await sched.advance(Math.ceil(ms / 2));
          n.machine.resume();
          note(`resume ${n.id}`);
        }
      } else if (r < 0.85) {
        const ids = writtenIds();
        await routerRead(rng.pick(["one", "quorum"] as const), false, ids.length > 0 && rng.next() < 0.5 ? rng.pick(ids) : undefined);
        if (rng.next() < 0.2) await checkStatus(false);
      }
      else if (r < 0.88) {
        // The router dies (its hints with it) and a new one starts.
        await run(router!.stop()).catch(() => {});
        routerClock?.kill();
        faults.router_restarts!++;
        await startRouter();
        note("router restarted (hints lost)");
      } else if (r < 0.9) await quietPause();
      else if (r < 0.91) await quietDeleteOnOne();
      else if (r < 0.93) {
        // Memory pressure on a node (its RSS near the limit) comes or goes: early flushes, writers
        // waiting for them — back-pressure, never loss (the scenario's invariants say so).
        const n = rng.pick(nodes);
        n.memoryPressure = n.memoryPressure !== true;
        faults.memory_pressure_changes!++;
        note(`memory pressure ${n.memoryPressure ? "on" : "off"} ${n.id}`);
      }
      else if (r < 0.95) await idCollision();
      else if (r < 0.96) await dirCollision();
      else if (r < 0.975) await join();
      else await membershipOp();
      await checkPlacement();
    }

    // Phase 2: heal everything, restart every node one after the other (each catches up from the
    // others), then check completeness and router reads before any anti-entropy round.
    checkAckedHeld();
    net.healAll();
    net.faults = NO_FAULTS;
    queue.faults = { dropPublish: 0, redeliver: 0 };
    for (const n of nodes) n.machine.resume();
    await sched.advance(15_000);
    deadNodeTimeout = "60s";
    for (const n of nodes) if (n.up === undefined && !n.gone) await restart(n, false);
    // Every node consumes what its queue still holds for it (a removed node's stream is deleted:
    // the router published to it while the node was still named by the group).
    for (const n of nodes) if (n.gone === true) queue.discard(n.id);
    await run((async () => {
      for (let i = 0; i < 10_000 && queue.pending() > 0; i++) await sched.sleep(5);
    })());
    if (queue.pending() > 0) throw new Violation(`${queue.pending()} queued batches never applied`);
    for (const n of nodes) {
      if (n.gone) continue;
      if (n.up !== undefined) await stop(n);
      await restart(n, false);
      if (catchingUp(n)) throw new Violation(`${n.id} did not catch up after healing (${syncerOf(n)?.progress.get(GROUP)?.error ?? "no progress"})`);
    }
    await sched.advance(15_000);
    // Moves begun under the faults finish: the group ends on the planner's desired nodes.
    await awaitPlacement();
    // Complete startup sync (and moves): every holder has every acknowledged write before any anti-entropy.
    for (const n of await holders()) {
      const held = await contents(n);
      for (const [key, enc] of acked) {
        const h = held.get(key);
        if ((h === undefined || compareVersions(h, enc) < 0) && !deletedByAttempt(key, enc)) throw new Violation(`${n.id} serves the group without acknowledged ${keyOf(key)} (${h === undefined ? "missing" : "older version"}) after its startup sync`);
      }
    }
    await routerRead("one", true);
    await routerRead("quorum", true);
    for (const id of writtenIds()) await routerRead("one", true, id);
    await converged("after healing");
    await checkStatus(true);
    await purgedEverywhere();
    // A holder dies for good: after cluster.dead_node_timeout a spare member (if any) takes its place.
    const settledOn = groupNodes((await groupRecord())!);
    const spare = nodes.some((n) => n.up !== undefined && !settledOn.includes(n.id) && n.up.running.node.sync.view?.isMember(n.id) === true);
    if (spare) {
      const victim = rng.pick(await holders());
      crash(victim, false);
      victim.gone = true;
      victim.durable = new Map();
      queue.discard(victim.id);
      faults.crashes!++;
      note(`${victim.id} dies for good`);
      await sched.advance(61_000);
      await awaitPlacement();
      const g = await groupRecord();
      if (g === undefined || groupNodes(g).includes(victim.id)) throw new Violation(`dead ${victim.id} was not replaced`);
      faults.auto_replacements!++;
      note(`${victim.id} replaced automatically: group on ${groupNodes(g).join(",")}`);
      await converged("after the dead node's replacement");
    }
    note(`final ${(await contents((await holders())[0]!)).size} points`);
    return finish(true);
  } catch (e) {
    note(`FAILED: ${errorMessage(e)}`);
    return finish(false, e instanceof Violation ? e.message : `${errorMessage(e)}\n${(e as Error).stack ?? ""}`);
  } finally {
    pumping = false;
    for (const n of nodes) if (n.up !== undefined) crash(n, false);
    routerClock?.kill();
    await metadata.close();
  }

  /**
   * The status page's JSON (app/status.ts) through the router and a node, as an operator's browser
   * reads it: always answers, fractions within [0, 1], known states and results. `settled`: after
   * healing and anti-entropy, every node answers the router, every live node is listed up, no move
   * is under way, and every holder serves the group with its last comparisons in sync or repaired.
   */
  async function checkStatus(settled: boolean): Promise<void> {
    if (router === undefined) return;
    const read = async (app: Hono, who: string): Promise<StatusJson> => {
      const res = await run(Promise.resolve(app.fetch(new Request(`http://${who}/api/status`))));
      if (res.status !== 200) throw new Violation(`${who} /api/status answered ${res.status}`);
      return (await res.json()) as StatusJson;
    };
    const fraction = (x: number, what: string) => {
      if (!(x >= 0 && x <= 1)) throw new Violation(`status: ${what} ${x} outside [0, 1]`);
    };
    const r = await read(router.router.app, "router");
    for (const m of r.moves) fraction(m.progress, `move of group ${m.group_id} to ${m.join}`);
    for (const x of r.syncs) fraction(x.progress, `sync of ${x.node}`);
    for (const w of r.windows) if (!["in_sync", "repaired", "partial", "failed"].includes(w.result)) throw new Violation(`status: window result ${w.result}`);
    const up = nodes.filter((n) => n.up !== undefined && !n.gone);
    if (up.length > 0) {
      const n = rng.pick(up);
      const own = await read(n.up!.running.node.app, n.id);
      for (const g of own.groups) if (!["serving", "catching_up", "joining"].includes(g.state)) throw new Violation(`status: ${n.id} group ${g.group_id} state ${g.state}`);
    }
    if (!settled) return;
    if (r.errors.length > 0) throw new Violation(`status after healing: nodes not read: ${r.errors.join("; ")}`);
    if (r.moves.some((m) => m.phase !== "failed")) throw new Violation(`status after healing: moves under way ${JSON.stringify(r.moves)}`);
    for (const n of up) if (r.nodes.find((x) => x.id === n.id)?.health !== "up") throw new Violation(`status after healing: ${n.id} not listed up`);
    for (const n of await holders()) {
      const own = await read(n.up!.running.node.app, n.id);
      const g = own.groups.find((x) => x.group_id === GROUP);
      if (g?.state !== "serving") throw new Violation(`status after healing: ${n.id} group ${GROUP} is ${g?.state ?? "not listed"}`);
      const bad = own.windows.filter((w) => w.group_id === GROUP && w.result !== "in_sync" && w.result !== "repaired");
      if (bad.length > 0) throw new Violation(`status after healing: ${n.id} last compared ${bad.map((w) => `${w.day} with ${w.peer}: ${w.result}`).join(", ")}`);
    }
  }

  /**
   * Tombstones do not accumulate: past the purge delay (and any clock skew of their stamps), two rounds
   * of anti-entropy and purge on every holder leave none anywhere — and still no deleted version, no
   * acknowledged write lost, replicas identical.
   */
  async function purgedEverywhere(): Promise<void> {
    for (const n of nodes) n.machine.skewNs = 0n;
    const hs = await holders();
    // Until the youngest tombstone's delay has passed on every holder's clock (stamps carry the router's skew).
    let waitNs = 0n;
    for (const n of hs) {
      const now = n.up!.clock.nowNs();
      for (const h of n.up!.running.node.engine.liveTombstones(GROUP)) if (h.tombstone.insertedAtNs + PURGE_DELAY_NS - now > waitNs) waitNs = h.tombstone.insertedAtNs + PURGE_DELAY_NS - now;
    }
    if (waitNs > 0n) await sched.advance(Number(waitNs / 1_000_000n) + 1_000);
    for (let round = 1; round <= 2; round++) for (const n of hs) await antiEntropyAndPurge(n, false);
    for (const n of hs) {
      const left = n.up!.running.node.engine.tombstoneCount(GROUP);
      faults.tombstones_left_after_purge_rounds! += left;
      if (left > 0) throw new Violation(`${n.id} still holds ${left} tombstone(s) after every replica held them past the purge delay (${n.up!.running.node.sync.purger?.heldBecause.get(GROUP) ?? "?"})`);
    }
    await converged("after the purge");
  }

  /** Two anti-entropy rounds on the holders, then identical contents with every acknowledged write; non-holders hold nothing. */
  async function converged(when: string): Promise<void> {
    const hs = await holders();
    for (let round = 1; round <= 2; round++) {
      for (const n of hs) {
        const recs = await run(n.up!.running.node.sync.antiEntropy!.runGroup(GROUP));
        note(`round ${round} ${n.id}: ${recs.map((x) => `${x.peer}:${x.result}/${x.path}`).join(",")}`);
      }
    }
    // Liveness: identical contents everywhere, holding every acknowledged write (its version or a
    // newer one), and nothing that was never written.
    const first = await contents(hs[0]!);
    for (const n of hs) {
      await checkTrees(n);
      const c = await contents(n);
      if (c.size !== first.size || [...c].some(([k, v]) => first.get(k) === undefined || toHex(first.get(k)!) !== toHex(v))) {
        throw new Violation(`${when} and 2 anti-entropy rounds ${n.id} differs from ${hs[0]!.id} (${c.size} vs ${first.size} points)`);
      }
    }
    for (const n of nodes) {
      if (n.up === undefined || hs.includes(n)) continue;
      if ((await contents(n)).size > 0) throw new Violation(`${when}: ${n.id} is not in the group but still holds its data`);
    }
    for (const [key, enc] of acked) {
      const h = first.get(key);
      if ((h === undefined || compareVersions(h, enc) < 0) && !deletedByAttempt(key, enc)) throw new Violation(`acknowledged write lost: ${keyOf(key)}`);
    }
    for (const [pk, enc] of first) if (!attempted.get(pk)?.has(toHex(enc))) throw new Violation(`replicas hold a version never written: ${keyOf(pk)}`);
  }

  /** The engine counters with the live processes' added (crashed and stopped ones were counted as they ended). */
  function endCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of ENGINE_COUNTS) out[k] = faults[k]!;
    for (const n of nodes) {
      if (n.up === undefined) continue;
      for (const [k, v] of Object.entries(engineCounts(n.up))) out[k]! += v;
    }
    return out;
  }

  function finish(ok: boolean, error?: string): SimResult {
    const h = createSha256();
    for (const t of trace) h.update(new TextEncoder().encode(`${t}\n`));
    return {
      seed: o.seed, ok, ...(error === undefined ? {} : { error }), trace: toHex(h.digest()).slice(0, 16), replicas, simulatedMs: sched.nowMs,
      faults: { ...faults, ...endCounts(), ...net.stats, queue_published: queue.stats.published, queue_dropped_publishes: queue.stats.droppedPublishes, queue_redelivered: queue.stats.redelivered },
      acked: acked.size, readsChecked,
    };
  }
}

/** "id@time" of a storage key (db\0coll\0id\0hex-time). */
function keyOf(storageKey: string): string {
  const parts = storageKey.split("\u0000");
  return `${parts[2]}@${BigInt(`0x${parts[3]}`)}`;
}

