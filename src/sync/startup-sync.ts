// Catch-up sync of the groups this node holds (the Soltix startup-sync steps, made real and complete):
// for each group, mark this node `syncing` for it (CAS on the group record: routers stop reading it),
// stream everything from the newest local point time on from the first replica that answers (the
// fast path for the tail it missed), then compare every window of the group with every reachable
// replica through the Merkle roots and pull what differs (backfills and overwrites with older times
// are below the tail's mark), and only then serve the group again (local gate and CAS back).
// A group that fails is retried with backoff; the node serves its other groups all along.

import { errorMessage } from "../base/errors.ts";
import { windowStartNs } from "../base/time.ts";
import type { Engine } from "../engine/engine.ts";
import type { Logger } from "../ports/logger.ts";
import { isoNow, sleep, type Clock } from "../ports/clock.ts";
import { jittered, type Rng } from "../ports/rng.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes } from "../cluster/records.ts";
import { setNodeSyncing } from "../cluster/groups.ts";
import { syncClient } from "./peers.ts";
import { pullStream } from "./pull-stream.ts";
import { pointPagesClient } from "./point-pages.ts";
import type { AeRecord } from "./anti-entropy.ts";

export interface SyncSettings {
  batchSize: number;
  maxConcurrent: number;
  timeoutMs: number;
  totalGroups: number;
  /** How replicas are reached (scheme, token, trust). */
  net: PeerNet;
}

export type SyncPhase = "" | "tail" | "verify";

export interface SyncProgressState {
  state: "idle" | "running" | "done" | "failed";
  phase: SyncPhase;
  points: number;
  bytes: number;
  expectedPoints: number;
  sourceNode: string;
  /** Replicas whose every window was compared (and repaired from) before the group was served again. */
  verifiedWith: string[];
  error: string;
  attempts: number;
  startedAtMs: number;
  finishedAtMs: number;
  startedAtNs: bigint;
  finishedAtNs: bigint;
}

/** Compares every window of a group with one replica and pulls what differs (the anti-entropy path). */
export type WindowVerifier = (group: number, peer: string) => Promise<AeRecord[]>;

const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;

export class GroupSyncer {
  readonly progress = new Map<number, SyncProgressState>();
  private readonly running = new Map<number, Promise<SyncProgressState>>();
  /** Groups not yet caught up since this process started: no reads are served for them. */
  private readonly catchingUp = new Set<number>();
  private stopped = false;

  constructor(
    private readonly nodeId: string,
    private readonly engine: Engine,
    private readonly view: ClusterView,
    private readonly metadata: MetadataStore,
    private readonly settings: SyncSettings,
    private readonly verify: WindowVerifier,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly logger: Logger,
  ) {}

  /** Groups whose assignment names this node. */
  heldGroups(): number[] {
    return this.view
      .allGroups()
      .filter((g) => groupNodes(g).includes(this.nodeId))
      .map((g) => g.group_id);
  }

  /** Is the group still catching up on this node (reads refused)? */
  isCatchingUp(group: number): boolean {
    return this.catchingUp.has(group);
  }

  /**
   * Syncs every held group, `maxConcurrent` at a time; failed groups keep retrying in the background.
   * Every held group is closed for reads from the start until its own sync is done.
   */
  async syncAll(): Promise<void> {
    const queue = this.heldGroups();
    for (const g of queue) this.catchingUp.add(g);
    this.logger.log("info", "sync: startup sync", { groups: queue.length, max_concurrent: this.settings.maxConcurrent });
    const deadline = this.clock.monotonicMs() + this.settings.timeoutMs;
    const worker = async () => {
      for (let g = queue.shift(); g !== undefined && !this.stopped; g = queue.shift()) {
        const p = await this.syncGroup(g);
        if (p.state === "failed") void this.retry(g);
        if (this.clock.monotonicMs() > deadline) {
          this.logger.log("warn", "sync: startup_timeout reached; remaining groups continue in the background", { remaining: queue.length });
          for (const rest of queue.splice(0)) void this.retry(rest);
        }
      }
    };
    await Promise.all(Array.from({ length: this.settings.maxConcurrent }, worker));
  }

  private async retry(group: number): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      await sleep(this.clock, jittered(this.rng, delay, 0.2));
      if (this.stopped) return;
      const p = await this.syncGroup(group);
      if (p.state === "done") return;
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }

  /** One catch-up of one group (joins a run already in progress). */
  syncGroup(group: number): Promise<SyncProgressState> {
    const cur = this.running.get(group);
    if (cur !== undefined) return cur;
    const run = this.run(group).finally(() => this.running.delete(group));
    this.running.set(group, run);
    return run;
  }

  private async run(group: number): Promise<SyncProgressState> {
    const prev = this.progress.get(group);
    const p: SyncProgressState = {
      state: "running",
      phase: "tail",
      points: 0,
      bytes: 0,
      expectedPoints: -1,
      sourceNode: "",
      verifiedWith: [],
      error: "",
      attempts: (prev?.attempts ?? 0) + 1,
      startedAtMs: this.clock.monotonicMs(),
      finishedAtMs: 0,
      startedAtNs: this.clock.nowNs(),
      finishedAtNs: 0n,
    };
    this.progress.set(group, p);
    const since = this.engine.lastTimestamp(group);
    try {
      const record = this.view.cachedGroup(group);
      if (record === undefined) throw new Error(`group ${group} has no assignment`);
      const replicas = groupNodes(record).filter((id) => id !== this.nodeId);
      await setNodeSyncing(this.metadata, group, this.nodeId, true, isoNow(this.clock));
      // 1. The tail: everything from the newest local time on, from the first replica that answers.
      const errors: string[] = [];
      let tailDone = replicas.length === 0;
      for (const id of this.sourceOrder(replicas, group)) {
        const node = this.view.node(id);
        if (node === undefined) {
          errors.push(`${id}: not registered`);
          continue;
        }
        try {
          await this.pullFrom(group, id, node.address, since, p);
          tailDone = true;
          break;
        } catch (e) {
          errors.push(`${id}: ${errorMessage(e)}`);
          this.logger.log("warn", "sync: replica failed, trying the next", { group, replica: id, error: errorMessage(e) });
        }
      }
      if (!tailDone) throw new Error(`no replica could serve group ${group}: ${errors.join("; ")}`);
      // 2. Every window, compared with every reachable replica: what the tail cannot see (older times).
      // Nodes joining the group by a move are compared too: they take every write from the moment they
      // joined, so a write acknowledged while this node was away may be held by them alone.
      p.phase = "verify";
      const joining = record.joining_nodes.filter((id) => id !== this.nodeId && !replicas.includes(id));
      for (const id of [...replicas, ...joining]) {
        if (this.view.node(id) === undefined) {
          errors.push(`${id}: not registered (not compared)`);
          continue;
        }
        const recs = await this.verify(group, id);
        const bad = recs.filter((r) => r.result === "partial" || r.result === "failed");
        if (bad.length === 0) {
          p.verifiedWith.push(id);
          const repaired = recs.reduce((n, r) => n + r.pointsRepaired, 0);
          if (repaired > 0) this.logger.log("info", "sync: windows repaired before serving", { group, peer: id, points_repaired: repaired });
        } else errors.push(`${id}: ${bad[0]!.reason}`);
      }
      if (replicas.length > 0 && !p.verifiedWith.some((id) => replicas.includes(id))) throw new Error(`no replica's windows could be compared for group ${group}: ${errors.join("; ")}`);
      this.catchingUp.delete(group);
      await setNodeSyncing(this.metadata, group, this.nodeId, false, isoNow(this.clock));
      p.state = "done";
      p.phase = "";
    } catch (e) {
      p.state = "failed";
      p.error = errorMessage(e);
      this.logger.log("error", "sync: group failed; will retry", { group, error: p.error, attempts: p.attempts });
    }
    p.finishedAtMs = this.clock.monotonicMs();
    p.finishedAtNs = this.clock.nowNs();
    if (p.state === "done") {
      const secs = Math.max(0.001, (p.finishedAtMs - p.startedAtMs) / 1000);
      this.logger.log("info", "sync: group caught up", {
        group, from: p.sourceNode, verified_with: p.verifiedWith, points: p.points, bytes: p.bytes, seconds: secs, rate_points_per_sec: Math.round(p.points / secs),
      });
    }
    return p;
  }

  /** Replicas that serve reads for the group first (they are complete), then those catching up too. */
  private sourceOrder(replicas: string[], group: number): string[] {
    const syncing = new Set(this.view.cachedGroup(group)?.syncing_nodes ?? []);
    return [...replicas.filter((id) => !syncing.has(id)), ...replicas.filter((id) => syncing.has(id))];
  }

  private async pullFrom(group: number, nodeId: string, address: string, since: bigint, p: SyncProgressState): Promise<void> {
    const client = syncClient(this.settings.net, address);
    p.sourceNode = nodeId;
    p.points = 0;
    p.bytes = 0;
    // Expected volume for the ETA: the source's point counts of the windows from `since` on.
    try {
      const roots = await client.getMerkleRoots({ groupId: group, windows: [] });
      const from = windowStartNs(since);
      p.expectedPoints = roots.roots.filter((r) => r.windowStart >= from).reduce((n, r) => n + Number(r.root?.count ?? 0n), 0);
    } catch {
      p.expectedPoints = -1;
    }
    let lastLog = this.clock.monotonicMs();
    const request = { groupId: group, startTime: since, batchSize: this.settings.batchSize };
    await pullStream(pointPagesClient(this.settings.net, address, this.clock), request, this.settings.timeoutMs, this.engine, this.settings.totalGroups, this.clock, (stored) => {
      p.points += stored.length;
      for (const s of stored) p.bytes += s.enc.length;
      if (this.clock.monotonicMs() - lastLog > 5_000) {
        lastLog = this.clock.monotonicMs();
        const secs = (lastLog - p.startedAtMs) / 1000;
        const rate = p.points / Math.max(0.001, secs);
        this.logger.log("info", "sync: progress", { group, from: nodeId, points: p.points, bytes: p.bytes, rate_points_per_sec: Math.round(rate), eta_seconds: etaSeconds(p, rate) });
      }
    });
  }

  stop(): void {
    this.stopped = true;
  }
}

export function etaSeconds(p: SyncProgressState, rate: number): number {
  if (p.state !== "running" || p.expectedPoints < 0 || rate <= 0) return -1;
  return Math.max(0, (p.expectedPoints - p.points) / rate);
}
