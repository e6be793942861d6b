// Catch-up sync of the groups this node holds (the Soltix startup-sync steps, made real): for each
// group, find the newest local point time (index), mark the group `syncing` (CAS on its metadata),
// stream everything from that time on from the first replica that answers (next one on error),
// write it through the normal WAL → memory → flush path, and mark the group `active` again.
// A group that fails is reported and retried with backoff; the node serves all along.

import { errorMessage } from "../base/errors.ts";
import { windowStartNs } from "../base/time.ts";
import type { Engine } from "../engine/engine.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock } from "../ports/clock.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes } from "../cluster/records.ts";
import { setGroupState } from "../cluster/groups.ts";
import { syncClient } from "./peers.ts";
import { pullStream } from "./pull-stream.ts";

export interface SyncSettings {
  batchSize: number;
  maxConcurrent: number;
  timeoutMs: number;
  totalGroups: number;
  /** How replicas are reached (scheme, token, trust). */
  net: PeerNet;
}

export interface SyncProgressState {
  state: "idle" | "running" | "done" | "failed";
  points: number;
  bytes: number;
  expectedPoints: number;
  sourceNode: string;
  error: string;
  attempts: number;
  startedAtMs: number;
  finishedAtMs: number;
  startedAtNs: bigint;
  finishedAtNs: bigint;
}

const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;

export class GroupSyncer {
  readonly progress = new Map<number, SyncProgressState>();
  private readonly running = new Map<number, Promise<SyncProgressState>>();
  private stopped = false;

  constructor(
    private readonly nodeId: string,
    private readonly engine: Engine,
    private readonly view: ClusterView,
    private readonly metadata: MetadataStore,
    private readonly settings: SyncSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Groups whose assignment names this node. */
  heldGroups(): number[] {
    return this.view
      .allGroups()
      .filter((g) => groupNodes(g).includes(this.nodeId))
      .map((g) => g.group_id);
  }

  /** Syncs every held group, `maxConcurrent` at a time; failed groups keep retrying in the background. */
  async syncAll(): Promise<void> {
    const queue = this.heldGroups();
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
      await new Promise((r) => setTimeout(r, delay));
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
      points: 0,
      bytes: 0,
      expectedPoints: -1,
      sourceNode: "",
      error: "",
      attempts: (prev?.attempts ?? 0) + 1,
      startedAtMs: this.clock.monotonicMs(),
      finishedAtMs: 0,
      startedAtNs: this.clock.nowNs(),
      finishedAtNs: 0n,
    };
    this.progress.set(group, p);
    const since = this.engine.lastTimestamp(group);
    const now = () => new Date().toISOString();
    try {
      const record = this.view.cachedGroup(group);
      if (record === undefined) throw new Error(`group ${group} has no assignment`);
      const replicas = groupNodes(record).filter((id) => id !== this.nodeId);
      await setGroupState(this.metadata, group, "syncing", now());
      const errors: string[] = [];
      let done = false;
      for (const id of replicas) {
        const node = this.view.node(id);
        if (node === undefined) {
          errors.push(`${id}: not registered`);
          continue;
        }
        try {
          await this.pullFrom(group, id, node.address, since, p);
          done = true;
          break;
        } catch (e) {
          errors.push(`${id}: ${errorMessage(e)}`);
          this.logger.log("warn", "sync: replica failed, trying the next", { group, replica: id, error: errorMessage(e) });
        }
      }
      if (!done && replicas.length > 0) throw new Error(`no replica could serve group ${group}: ${errors.join("; ")}`);
      await setGroupState(this.metadata, group, "active", now());
      p.state = "done";
    } catch (e) {
      p.state = "failed";
      p.error = errorMessage(e);
      this.logger.log("error", "sync: group failed; will retry", { group, error: p.error, attempts: p.attempts });
    }
    p.finishedAtMs = this.clock.monotonicMs();
    p.finishedAtNs = this.clock.nowNs();
    if (p.state === "done") {
      const secs = Math.max(0.001, (p.finishedAtMs - p.startedAtMs) / 1000);
      this.logger.log("info", "sync: group caught up", { group, from: p.sourceNode, points: p.points, bytes: p.bytes, seconds: secs, rate_points_per_sec: Math.round(p.points / secs) });
    }
    return p;
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
    await pullStream(client, request, this.settings.timeoutMs, this.engine, this.settings.totalGroups, this.clock, (stored) => {
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
