// One simulated cluster, driven by one seed: 3–5 replicas of a group and a router, built from the
// real node code (engine, Connect services, startup sync, anti-entropy, write router) over SimFs,
// SimClock and SimNet. A run applies random actions with faults (phase 1, safety checked
// throughout), then heals everything and runs two anti-entropy rounds (phase 2, liveness checked).

import { fromBinary } from "@bufbuild/protobuf";
import { loadConfig } from "../config/config.ts";
import { startNode, type StorageNode } from "../app/node.ts";
import { startRouter, type Router } from "../app/router.ts";
import { MemoryMetadataStore } from "../adapters/memory-metadata.ts";
import { ClusterView } from "../cluster/view.ts";
import { nodeKey } from "../cluster/keys.ts";
import { GroupSyncer } from "../sync/startup-sync.ts";
import { AntiEntropy } from "../sync/anti-entropy.ts";
import { silentLogger } from "../ports/logger.ts";
import { VersionStamper } from "../ports/clock.ts";
import { WriteRequestSchema } from "../gen/soltix/v1/storage_pb.ts";
import { pointFromProto, storedFromPoint } from "../rpc/convert.ts";
import { compareVersions } from "../model/lww.ts";
import { shapeFor } from "../merkle/shape.ts";
import { WindowTree } from "../merkle/tree.ts";
import { createSha256, toHex } from "../base/sha256.ts";
import { NS_PER_DAY, NS_PER_SECOND, windowStartNs } from "../base/time.ts";
import { errorMessage } from "../base/errors.ts";
import type { Point } from "../model/point.ts";
import { Rng } from "./rng.ts";
import { Scheduler } from "./scheduler.ts";
import { SimClock, SIM_EPOCH_NS } from "./sim-clock.ts";
import { SimFs } from "./sim-fs.ts";
import { NO_FAULTS, SimNet } from "./sim-net.ts";
import { SimQueue } from "./sim-queue.ts";
import { applyQueuedBatch } from "../queue/apply.ts";

const GROUP = 0;
const SHAPE = shapeFor(4, 2); // small: a few dozen points already make a deep tree
const DEVICES = 4;
const DAY0 = windowStartNs(SIM_EPOCH_NS) - NS_PER_DAY; // writes land in the two days before the sim starts
/** Clock jumps are at most this far (the issue's ±5 minutes). */
const CLOCK_JUMP_NS_MAX = 5n * 60n * NS_PER_SECOND;

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
}

interface SimNode {
  id: string;
  fs: SimFs;
  clock: SimClock;
  up?: { node: StorageNode; view: ClusterView; syncer: GroupSyncer; ae: AntiEntropy; stamper: VersionStamper } | undefined;
  /** Points this node answered a Write for (durably stored) since its disk was last wiped. */
  durable: Map<string, Uint8Array>;
}

class Violation extends Error {}

export async function runSeed(o: SimOptions): Promise<SimResult> {
  const rng = new Rng(o.seed);
  const sched = new Scheduler();
  const net = new SimNet(sched, rng);
  const metadata = new MemoryMetadataStore();
  const trace: string[] = [];
  const faults: Record<string, number> = { crashes: 0, restarts: 0, empty_disk_restarts: 0, partitions: 0, clock_jumps: 0, fault_changes: 0, torn_tails: 0, garbled_tails: 0 };
  const note = (s: string) => {
    trace.push(`${sched.nowMs} ${s}`);
    o.log?.(`[seed ${o.seed} t=${sched.nowMs}] ${s}`);
  };
  const replicas = 3 + rng.int(3);
  // Delivery: direct calls to every replica, or a durable queue per node (JetStream's role), acked by
  // the router once persisted (async) or once min_replicas nodes applied it (sync).
  const queued = rng.chance(0.5);
  const strategy = !queued || rng.chance(0.5) ? "sync" : "async";
  const queue = new SimQueue(sched, rng);
  let pumping = true;
  const newFs = () => {
    const fs = new SimFs();
    fs.latency = () => sched.sleep(rng.int(3));
    return fs;
  };
  const nodes: SimNode[] = Array.from({ length: replicas }, (_, i) => ({ id: `n${i + 1}`, fs: newFs(), clock: new SimClock(sched), durable: new Map() }));
  const routerClock = new SimClock(sched);
  const stamper = new VersionStamper(routerClock);
  const attempted = new Map<string, Set<string>>();
  const acked = new Map<string, Uint8Array>();
  const stamps = new Map<string, bigint>();
  let wipesLeft = 1; // acknowledged = durable on 2 replicas: one lost disk cannot lose it
  let router: Router | undefined;

  const config = (id: string) =>
    loadConfig({
      flags: new Map(Object.entries({
        "node.id": id,
        "storage.data_dir": `/${id}`,
        "coordinator.total_groups": "1",
        "replication.factor": String(replicas),
        "replication.min_replicas_for_write": "2",
        "replication.strategy": "sync",
        "storage.sync.anti_entropy.fanout": String(SHAPE.fanout),
        "storage.sync.anti_entropy.leaf_points_max": String(SHAPE.leafPointsMax),
      })),
    });

  const noteDurable = (n: SimNode, key: string, enc: Uint8Array) => {
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

  async function start(n: SimNode): Promise<void> {
    const node = await run(startNode(config(n.id), { fs: n.fs, clock: n.clock, logger: silentLogger, metadata, net: net.for(n.id) }));
    const view = await run(ClusterView.open(metadata, silentLogger));
    const syncer = new GroupSyncer(n.id, node.engine, view, metadata, { batchSize: 50, maxConcurrent: 1, timeoutMs: 60_000, totalGroups: 1, net: net.for(n.id) }, n.clock, silentLogger);
    const ae = new AntiEntropy(n.id, node.engine, view, {
      shape: SHAPE, totalGroups: 1, horizonDays: 0, settleMs: 0, fullResyncShare: 0.5, batchSize: 100, reverifyEveryRuns: 0, bytesPerSecMax: 0, net: net.for(n.id),
    }, n.clock, silentLogger);
    n.up = { node, view, syncer, ae, stamper: new VersionStamper(n.clock) };
    net.attach(n.id, node.app);
  }

  function crash(n: SimNode, torn: boolean): void {
    if (n.up === undefined) return;
    net.detach(n.id);
    void n.up.view.close();
    n.up = undefined;
    const left = n.fs.crash(torn ? rng : undefined);
    faults.torn_tails! += left.torn;
    faults.garbled_tails! += left.garbled;
  }

  /** Every point a node acknowledged is still there after its crash and recovery. */
  async function checkDurable(n: SimNode): Promise<void> {
    const held = await contents(n);
    for (const [key, enc] of n.durable) {
      const h = held.get(key);
      if (h === undefined || compareVersions(h, enc) < 0) throw new Violation(`${n.id} lost an acknowledged write after a crash: ${key}`);
    }
  }

  async function contents(n: SimNode): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const e = n.up!.node.engine;
    for (const ws of e.windowsOf(GROUP)) for await (const r of e.scanWindow(GROUP, ws)) out.set(r.key, r.enc);
    return out;
  }

  /** The cached (incrementally updated) tree equals a tree built afresh from the window's points. */
  async function checkTrees(n: SimNode): Promise<void> {
    const e = n.up!.node.engine;
    for (const ws of e.windowsOf(GROUP)) {
      const recs = [];
      for await (const r of e.scanWindow(GROUP, ws)) recs.push(r);
      const cached = (await e.windowTree(GROUP, ws, SHAPE)).root();
      const fresh = new WindowTree(SHAPE, ws, recs).root();
      if (cached.count !== fresh.count || toHex(cached.digest) !== toHex(fresh.digest)) throw new Violation(`${n.id}: cached tree of window ${ws} differs from its points`);
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
      if (!held && !(queued && queue.pending() > 0)) throw new Violation(`acknowledged write ${key} is durable on no node`);
    }
  }

  async function write(crashDuring?: SimNode): Promise<void> {
    const points: Point[] = [];
    const count = 1 + rng.int(12);
    for (let i = 0; i < count; i++) {
      const timeNs = DAY0 + BigInt(rng.int(2)) * NS_PER_DAY + BigInt(rng.int(40)) * 60n * NS_PER_SECOND;
      const id = `d${rng.int(DEVICES)}`;
      // Now and then the same version stamp as an earlier write of the key (two routers whose clocks
      // agree): an LWW tie, decided by the encodings' bytes on every replica alike.
      const key = `${id}@${timeNs}`;
      const prior = stamps.get(key);
      const insertedAtNs = prior !== undefined && rng.chance(0.15) ? prior : stamper.next();
      stamps.set(key, insertedAtNs);
      points.push({ database: "sim", collection: "m", id, timeNs, insertedAtNs, fields: [["v", { kind: "number", value: rng.int(1000) }]] });
    }
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
      await run(router!.writer.write(points)).finally(() => run(crashed));
      for (const s of stored) {
        const cur = acked.get(s.key);
        if (cur === undefined || compareVersions(s.enc, cur) > 0) acked.set(s.key, s.enc);
      }
      note(`write ${count} acked`);
      if (!queued) checkAckedHeld();
    } catch (e) {
      note(`write ${count} refused: ${errorMessage(e).slice(0, 60)}`);
    }
  }

  async function restart(n: SimNode, wipe: boolean): Promise<void> {
    if (wipe) {
      n.fs = newFs();
      n.durable = new Map();
      faults.empty_disk_restarts!++;
    }
    faults.restarts!++;
    await start(n);
    if (!wipe) await checkDurable(n);
    const p = await run(n.up!.syncer.syncGroup(GROUP));
    note(`restart ${n.id}${wipe ? " (empty disk)" : ""}: sync ${p.state} ${p.points} pts`);
  }

  try {
    for (const n of nodes) {
      await metadata.put(nodeKey(n.id), JSON.stringify({ id: n.id, address: SimNet.address(n.id), status: "active", version: "sim", updated_at: "1970-01-01T00:00:00Z" }));
      await start(n);
    }
    const rconfig = loadConfig({
      flags: new Map(Object.entries({
        "node.id": "router", "coordinator.total_groups": "1", "replication.factor": String(replicas), "replication.min_replicas_for_write": "2", "replication.strategy": strategy,
        ...(queued ? { "queue.type": "nats", "queue.url": "nats://sim:4222" } : {}),
      })),
    });
    router = await run(startRouter(rconfig, { clock: routerClock, logger: silentLogger, metadata, net: net.for("router"), ...(queued ? { delivery: queue } : {}) }));
    note(`${replicas} replicas, ${queued ? `queue (${strategy})` : "direct"} delivery`);
    // Each node's queue consumer, in simulated time: the real apply path, acked only once durable.
    void (async () => {
      while (pumping) {
        await sched.sleep(1 + rng.int(3));
        for (const n of nodes) {
          const up = n.up;
          if (up === undefined || !pumping) continue;
          const fs = n.fs;
          const out = await queue.pumpOnce(n.id, (body) => applyQueuedBatch(body, up.node.engine, () => up.stamper.next(), 1));
          if (out?.kind === "applied" && n.fs === fs) for (const p of out.points) noteDurable(n, p.key, p.enc);
        }
      }
    })();

    // Phase 1: random actions under faults; safety checked as we go.
    const steps = o.steps ?? 40;
    for (let step = 0; step < steps; step++) {
      const up = nodes.filter((n) => n.up !== undefined);
      const down = nodes.filter((n) => n.up === undefined);
      const r = rng.next();
      if (r < 0.32) await write();
      else if (r < 0.4 && up.length > 0) await write(rng.pick(up));
      else if (r < 0.5 && up.length > 0) {
        const n = rng.pick(up);
        const recs = await run(n.up!.ae.runGroup(GROUP));
        note(`anti-entropy ${n.id}: ${recs.map((x) => `${x.peer}:${x.result}/${x.path}`).join(",")}`);
      } else if (r < 0.58 && up.length > 0) {
        const n = rng.pick(up);
        await run(n.up!.node.engine.flush());
        if (rng.chance(0.5)) await run(n.up!.node.engine.compactAll());
        await checkTrees(n);
        note(`flush ${n.id}`);
      } else if (r < 0.66 && up.length > 0) {
        const n = rng.pick(up);
        crash(n, rng.chance(0.5));
        faults.crashes!++;
        note(`crash ${n.id}`);
      } else if (r < 0.76 && down.length > 0) {
        const n = rng.pick(down);
        const wipe = wipesLeft > 0 && rng.chance(0.3);
        if (wipe) wipesLeft--;
        await restart(n, wipe);
      } else if (r < 0.84) {
        const a = rng.pick([...nodes.map((n) => n.id), "router"]);
        const b = rng.pick(nodes.map((n) => n.id));
        const cut = rng.chance(0.6);
        if (a !== b) net.partition(a, b, cut);
        faults.partitions!++;
        note(`${cut ? "partition" : "heal"} ${a}|${b}`);
      } else if (r < 0.9) {
        const jump = (BigInt(rng.int(2 * 300 + 1)) - 300n) * NS_PER_SECOND;
        const target = rng.chance(0.5) ? routerClock : rng.pick(nodes).clock;
        target.skewNs += jump;
        if (target.skewNs > CLOCK_JUMP_NS_MAX) target.skewNs = CLOCK_JUMP_NS_MAX;
        if (target.skewNs < -CLOCK_JUMP_NS_MAX) target.skewNs = -CLOCK_JUMP_NS_MAX;
        faults.clock_jumps!++;
        note(`clock jump ${jump / NS_PER_SECOND}s`);
      } else {
        net.faults = { lossRequest: rng.next() * 0.15, lossResponse: rng.next() * 0.15, duplicate: rng.next() * 0.2, delayMsMax: rng.int(50) };
        queue.faults = { dropPublish: rng.next() * 0.15, redeliver: rng.next() * 0.2 };
        faults.fault_changes!++;
        note("network faults changed");
      }
    }

    // Phase 2: heal everything, restart every node, two anti-entropy rounds.
    checkAckedHeld();
    net.healAll();
    net.faults = NO_FAULTS;
    queue.faults = { dropPublish: 0, redeliver: 0 };
    for (const n of nodes) if (n.up === undefined) await restart(n, false);
    // Every node consumes what its queue still holds for it.
    await run((async () => {
      for (let i = 0; i < 10_000 && queue.pending() > 0; i++) await sched.sleep(5);
    })());
    if (queue.pending() > 0) throw new Violation(`${queue.pending()} queued batches never applied`);
    for (let round = 1; round <= 2; round++) {
      for (const n of nodes) {
        const recs = await run(n.up!.ae.runGroup(GROUP));
        note(`round ${round} ${n.id}: ${recs.map((x) => `${x.peer}:${x.result}/${x.path}`).join(",")}`);
      }
    }
    // Liveness: identical contents everywhere, holding every acknowledged write (its version or a
    // newer one), and nothing that was never written.
    const first = await contents(nodes[0]!);
    for (const n of nodes) {
      await checkTrees(n);
      const c = await contents(n);
      if (c.size !== first.size || [...c].some(([k, v]) => first.get(k) === undefined || toHex(first.get(k)!) !== toHex(v))) {
        throw new Violation(`after healing and 2 anti-entropy rounds ${n.id} differs from ${nodes[0]!.id} (${c.size} vs ${first.size} points)`);
      }
    }
    for (const [key, enc] of acked) {
      const h = first.get(key);
      if (h === undefined || compareVersions(h, enc) < 0) throw new Violation(`acknowledged write lost: ${key}`);
    }
    for (const [key, enc] of first) if (!attempted.get(key)?.has(toHex(enc))) throw new Violation(`replicas hold a version never written: ${key}`);
    note(`final ${first.size} points`);
    return finish(true);
  } catch (e) {
    note(`FAILED: ${errorMessage(e)}`);
    return finish(false, e instanceof Violation ? e.message : `${errorMessage(e)}\n${(e as Error).stack ?? ""}`);
  } finally {
    pumping = false;
    for (const n of nodes) if (n.up !== undefined) crash(n, false);
    await router?.close().catch(() => {});
  }

  function finish(ok: boolean, error?: string): SimResult {
    const h = createSha256();
    for (const t of trace) h.update(new TextEncoder().encode(`${t}\n`));
    return {
      seed: o.seed, ok, ...(error === undefined ? {} : { error }), trace: toHex(h.digest()).slice(0, 16), replicas, simulatedMs: sched.nowMs,
      faults: { ...faults, ...net.stats, queue_published: queue.stats.published, queue_dropped_publishes: queue.stats.droppedPublishes, queue_redelivered: queue.stats.redelivered }, acked: acked.size,
    };
  }
}
