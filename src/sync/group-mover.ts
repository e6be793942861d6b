// Group moves on this node (DESIGN §10), both ends:
// - joining: a group whose record names this node in `joining_nodes` is filled window by window from
//   an active replica (anti-entropy's fill: a window it lacks is streamed whole, one it holds in part
//   sends what differs, one it already holds costs its root — so a move killed halfway resumes without
//   redoing finished windows), under `cluster.move_bytes_per_sec`, with its progress published at
//   /soltix/moves/<group>; then every window is compared with every registered replica (no settle) and
//   only then a CAS makes this node a replica and takes the leaving node out. Writes reach the joining
//   node from the moment it joined (router and queue use writeNodes), so nothing written meanwhile is
//   missed; it serves no read of the group until promoted.
// - leaving: a group this node holds data of but whose record no longer names it (promotion took it
//   out) is deleted here, after a grace period and a fresh read of the record — never before.

import { errorMessage } from "../base/errors.ts";
import type { Engine } from "../engine/engine.ts";
import type { Logger } from "../ports/logger.ts";
import { isoNow, sleep, type Clock, type Timer } from "../ports/clock.ts";
import { jittered, type Rng } from "../ports/rng.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes, writeNodes, type GroupRecord } from "../cluster/records.ts";
import { getGroup, updateGroup } from "../cluster/groups.ts";
import { moveKey } from "../cluster/keys.ts";
import type { MoveProgress } from "../cluster/membership.ts";
import type { AeRecord, AntiEntropy } from "./anti-entropy.ts";

export interface MoverSettings {
  /** Bytes per second a move's stream may take (0 = unlimited). */
  moveBytesPerSec: number;
  /** Moves filled at once on this node. */
  maxConcurrent: number;
  /** How often the node looks for groups to fill or drop. */
  checkIntervalMs: number;
  /** A group must have been someone else's this long (and still be, read again) before its data is deleted here. */
  dropGraceMs: number;
  /**
   * After promotion, every replica is compared once more this long later: a write published before the
   * routers saw this node join may still sit in another replica's queue when the verify ran.
   */
  afterPromoteVerifyMs: number;
}

/** Progress is written to the metadata store at most this often per move (and at each phase change). */
const PUBLISH_EVERY_MS = 1_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export class GroupMover {
  /** Moves this node runs or ran (joining side), by group. */
  readonly progress = new Map<number, MoveProgress>();
  readonly stats = { movesFinished: 0, movesFailed: 0, groupsDropped: 0, windowsFilled: 0, windowsSkipped: 0, bytesReceived: 0, pointsRepairedAfterPromote: 0, fillMs: 0, verifyMs: 0 };
  private readonly busy = new Map<number, Promise<void>>();
  private readonly notOursSinceMs = new Map<number, number>();
  /** The record epoch each promotion wrote: an older cached record naming this node as joining is stale. */
  private readonly promotedAtEpoch = new Map<number, number>();
  private readonly retryAtMs = new Map<number, { at: number; delay: number }>();
  private timer: Timer | undefined;
  private soon: Timer | undefined;
  private unwatch: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly nodeId: string,
    private readonly engine: Engine,
    private readonly view: ClusterView,
    private readonly metadata: MetadataStore,
    private readonly ae: AntiEntropy,
    private readonly settings: MoverSettings,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly logger: Logger,
    /** Nodes the planner counts as dead (removed, or down past cluster.dead_node_timeout). */
    private readonly deadNodes: () => ReadonlySet<string> = () => new Set(),
  ) {}

  start(): void {
    // A group naming this node as joining starts filling at once, not at the next look.
    this.unwatch = this.view.onGroupChange((group) => {
      if (this.stopped || this.busy.has(group) || this.soon !== undefined) return;
      if (!(this.view.cachedGroup(group)?.joining_nodes.includes(this.nodeId) ?? false)) return;
      this.soon = this.clock.setTimer(0, () => {
        this.soon = undefined;
        this.check();
      });
    });
    const tick = () => {
      if (this.stopped) return;
      this.timer = this.clock.setTimer(jittered(this.rng, this.settings.checkIntervalMs, 0.1), () => {
        this.check();
        tick();
      });
    };
    this.check();
    tick();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.soon?.cancel();
    this.unwatch?.();
  }

  /** Is this node joining the group (filling, not yet verified): it serves no read of it. */
  isJoining(group: number): boolean {
    return this.view.cachedGroup(group)?.joining_nodes.includes(this.nodeId) ?? false;
  }

  /** Resolves when no move or drop runs on this node. */
  async idle(): Promise<void> {
    while (this.busy.size > 0) await Promise.all([...this.busy.values()]);
  }

  /** One look: start the moves this node joins, drop the groups it gave up. */
  check(): void {
    if (this.stopped || !this.view.loaded) return;
    const now = this.clock.monotonicMs();
    for (const g of this.view.allGroups()) {
      if (!g.joining_nodes.includes(this.nodeId) || this.busy.has(g.group_id)) continue;
      // Promoted already, and this view has not caught up with the record that says so.
      if (g.epoch < (this.promotedAtEpoch.get(g.group_id) ?? 0)) continue;
      const retry = this.retryAtMs.get(g.group_id);
      if (retry !== undefined && now < retry.at) continue;
      if ([...this.busy.keys()].filter((id) => this.isJoining(id)).length >= this.settings.maxConcurrent) break;
      this.run(g.group_id, () => this.move(g.group_id), true);
    }
    for (const group of this.engine.groups()) {
      const record = this.view.cachedGroup(group);
      if (record === undefined || writeNodes(record).includes(this.nodeId)) {
        this.notOursSinceMs.delete(group);
        continue;
      }
      const since = this.notOursSinceMs.get(group);
      if (since === undefined) this.notOursSinceMs.set(group, now);
      else if (now - since >= this.settings.dropGraceMs && !this.busy.has(group)) this.run(group, () => this.dropIfGone(group));
    }
  }

  private run(group: number, task: () => Promise<void>, lookAgain = false): void {
    const p = task()
      .catch((e: unknown) => this.logger.log("error", "move: task failed", { group, error: errorMessage(e) }))
      .finally(() => {
        this.busy.delete(group);
        // A finished move frees a slot: the next one starts now (a drop waits for the next look).
        if (lookAgain && !this.stopped) this.check();
      });
    this.busy.set(group, p);
  }

  /** Deletes this node's copy of a group the metadata store (read now) no longer gives it. */
  private async dropIfGone(group: number): Promise<void> {
    const fresh = await getGroup(this.metadata, group);
    if (fresh === undefined || writeNodes(fresh.record).includes(this.nodeId)) return;
    // Never the last copy: the group must be held by a replica that serves it.
    if (!groupNodes(fresh.record).some((id) => id !== this.nodeId && !fresh.record.syncing_nodes.includes(id))) return;
    const segments = await this.engine.dropGroup(group);
    this.stats.groupsDropped++;
    this.notOursSinceMs.delete(group);
    this.logger.log("info", "move: this node's copy of a group it gave up deleted", { group, segments, epoch: fresh.record.epoch });
  }

  private async move(group: number): Promise<void> {
    // Attempts count across restarts of this node: the last published progress carries them.
    const published = this.view.allMoves().find((m) => m.group_id === group && m.join === this.nodeId);
    const attemptsBefore = Math.max(this.progress.get(group)?.attempts ?? 0, published?.attempts ?? 0);
    const startedAtMs = this.clock.monotonicMs();
    const record0 = this.view.cachedGroup(group);
    const p: MoveProgress = {
      group_id: group, join: this.nodeId, leave: record0?.leaving_nodes[0] ?? "", source: "", phase: "fill", windows_done: 0, windows_total: 0, windows_skipped: 0,
      bytes: 0, points: 0, rate_bytes_per_sec: 0, eta_seconds: -1, attempts: attemptsBefore + 1, error: "", started_at: isoNow(this.clock), updated_at: isoNow(this.clock),
    };
    this.progress.set(group, p);
    let lastPublish = -Infinity;
    const publish = async (force: boolean) => {
      const now = this.clock.monotonicMs();
      if (!force && now - lastPublish < PUBLISH_EVERY_MS) return;
      lastPublish = now;
      const secs = Math.max(0.001, (now - startedAtMs) / 1000);
      p.rate_bytes_per_sec = Math.round(p.bytes / secs);
      const windowsPerSec = p.windows_done / secs;
      p.eta_seconds = p.windows_total > 0 && windowsPerSec > 0 ? Math.round((p.windows_total - p.windows_done) / windowsPerSec) : -1;
      p.updated_at = isoNow(this.clock);
      await this.metadata.put(moveKey(group), JSON.stringify(p)).catch((e: unknown) => this.logger.log("warn", "move: cannot publish progress", { group, error: errorMessage(e) }));
    };
    try {
      await publish(true);
      const sources = this.sources(group);
      if (sources.length === 0) throw new Error(`group ${group}: no registered replica to fill from`);
      // 1. Fill from the first source that completes every window.
      const errors: string[] = [];
      let filled = false;
      for (const source of sources) {
        p.source = source;
        p.windows_done = 0;
        p.windows_skipped = 0;
        const recs = await this.ae.fillFrom(group, source, {
          bytesPerSecMax: this.settings.moveBytesPerSec,
          onWindow: (r, done, total) => {
            this.account(p, r);
            p.windows_done = done;
            p.windows_total = total;
            void publish(false);
          },
        });
        const bad = recs.filter((r) => r.result === "partial" || r.result === "failed");
        if (p.windows_total === 0 && recs.length > 0 && recs.every((r) => r.result === "in_sync")) {
          // Every window equal at once (one digest): a resumed move whose fill was done.
          p.windows_total = recs.length;
          p.windows_done = recs.length;
          p.windows_skipped = recs.length;
          this.stats.windowsSkipped += recs.length;
        }
        if (bad.length === 0) {
          filled = true;
          break;
        }
        errors.push(`${source}: ${bad[0]!.reason}`);
      }
      if (!filled) throw new Error(`fill failed: ${errors.join("; ")}`);
      const filledAtMs = this.clock.monotonicMs();
      this.stats.fillMs += filledAtMs - startedAtMs;
      // 2. Verify: every window compared with every registered replica, what differs pulled.
      p.phase = "verify";
      await publish(true);
      const verified: string[] = [];
      // The leaving node too: it gives its copy up after the promotion, so the joiner must have compared
      // with it (it may hold writes no other replica has). One that is down holds the move until it
      // is back, or dead (then the joiner takes its place).
      const leavers = this.view.cachedGroup(group)?.leaving_nodes ?? [];
      const dead = this.deadNodes();
      const down = leavers.filter((id) => this.view.node(id) === undefined && !dead.has(id));
      if (down.length > 0) throw new Error(`leaving node ${down.join(", ")} is down: the joining node compares with it before it gives its copy up`);
      const peers = [...new Set([...this.sources(group), ...leavers.filter((id) => id !== this.nodeId && this.view.node(id) !== undefined)])];
      for (const peer of peers) {
        const recs = await this.ae.verifyWith(group, peer);
        for (const r of recs) {
          p.bytes += r.bytesReceived;
          p.points += r.pointsRepaired;
        }
        const bad = recs.filter((r) => r.result === "partial" || r.result === "failed");
        if (bad.length > 0) throw new Error(`verify with ${peer}: ${bad[0]!.reason}`);
        verified.push(peer);
      }
      if (verified.length === 0) throw new Error("no replica to verify with");
      this.stats.verifyMs += this.clock.monotonicMs() - filledAtMs;
      // 3. Promote: a replica now; the leaving node (if any) is out, and drops its copy by itself.
      p.phase = "promote";
      await publish(true);
      const promoted = await updateGroup(this.metadata, group, (g) => promote(g, this.nodeId, this.deadNodes()), isoNow(this.clock));
      if (!groupNodes(promoted).includes(this.nodeId)) throw new Error("the move was cancelled (this node is no longer joining the group)");
      this.promotedAtEpoch.set(group, promoted.epoch);
      await this.metadata.delete(moveKey(group)).catch(() => {});
      p.phase = "done";
      this.stats.movesFinished++;
      void this.verifyLater(group);
      this.retryAtMs.delete(group);
      this.logger.log("info", "move: group joined", {
        group, from: p.source, replaced: p.leave, verified_with: verified, windows: p.windows_total, windows_already_held: p.windows_skipped, attempt: p.attempts, bytes: p.bytes, points: p.points,
        seconds: (this.clock.monotonicMs() - startedAtMs) / 1000,
      });
    } catch (e) {
      p.error = errorMessage(e);
      p.phase = "failed";
      this.stats.movesFailed++;
      const delay = Math.min(RETRY_MAX_MS, (this.retryAtMs.get(group)?.delay ?? RETRY_MIN_MS / 2) * 2);
      this.retryAtMs.set(group, { at: this.clock.monotonicMs() + jittered(this.rng, delay, 0.2), delay });
      this.logger.log("warn", "move: attempt failed; will retry", { group, error: p.error, attempts: p.attempts, retry_in_ms: delay });
      if (this.isJoining(group)) await publish(true);
    }
  }

  /** The post-promotion comparison with every replica (what it repairs is logged; a failure is anti-entropy's to finish). */
  private async verifyLater(group: number): Promise<void> {
    await sleep(this.clock, this.settings.afterPromoteVerifyMs);
    if (this.stopped) return;
    for (const peer of this.sources(group)) {
      try {
        const recs = await this.ae.verifyWith(group, peer);
        const repaired = recs.reduce((n, r) => n + r.pointsRepaired, 0);
        this.stats.pointsRepairedAfterPromote += repaired;
        if (repaired > 0) this.logger.log("info", "move: points that were in flight at promotion pulled", { group, peer, points: repaired });
      } catch (e) {
        this.logger.log("warn", "move: post-promotion comparison failed (anti-entropy will finish it)", { group, peer, error: errorMessage(e) });
      }
    }
  }

  private account(p: MoveProgress, r: AeRecord): void {
    p.bytes += r.bytesReceived;
    p.points += r.pointsRepaired;
    this.stats.bytesReceived += r.bytesReceived;
    if (r.result === "in_sync") {
      p.windows_skipped++;
      this.stats.windowsSkipped++;
    } else this.stats.windowsFilled++;
  }

  /** Replicas to fill from and verify with: registered ones serving the group, the primary first. */
  private sources(group: number): string[] {
    const g = this.view.cachedGroup(group);
    if (g === undefined) return [];
    return groupNodes(g).filter((id) => id !== this.nodeId && !g.syncing_nodes.includes(id) && this.view.node(id) !== undefined);
  }
}

/**
 * The promotion CAS: the joining node becomes a replica and the leaving node leaves (primary passed on
 * if it was the primary); nothing when the node is no longer joining (the planner cancelled the move).
 * When another node of the group died meanwhile (`dead`: removed, or down past the dead-node timeout),
 * the joiner takes the dead node's place instead of a live leaving node's: the live copy is kept (the
 * planner moves it later, when some node can take it), so the group never ends below the copies it had.
 */
export function promote(g: GroupRecord, joiner: string, dead: ReadonlySet<string> = new Set()): GroupRecord | undefined {
  if (!g.joining_nodes.includes(joiner)) return undefined;
  let leaving = new Set(g.leaving_nodes);
  const deadHeld = groupNodes(g).find((id) => dead.has(id) && !leaving.has(id) && id !== joiner);
  if (deadHeld !== undefined && g.leaving_nodes.some((id) => !dead.has(id))) leaving = new Set([...g.leaving_nodes.filter((id) => dead.has(id)), deadHeld]);
  const kept = groupNodes(g).filter((id) => !leaving.has(id) && id !== joiner);
  const nodes = [...kept, joiner];
  return {
    ...g,
    primary_node: nodes[0]!,
    replica_nodes: nodes.slice(1),
    joining_nodes: g.joining_nodes.filter((id) => id !== joiner),
    leaving_nodes: [],
    syncing_nodes: g.syncing_nodes.filter((id) => !leaving.has(id)),
    state: g.syncing_nodes.some((id) => !leaving.has(id)) ? "syncing" : "active",
  };
}
