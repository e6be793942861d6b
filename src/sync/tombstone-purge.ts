// Repair-gated tombstone purge (DESIGN §11, ScyllaDB's tombstone_gc: repair). A tombstone keeps older
// versions from coming back; it may go only once nothing can bring one back:
//   - every replica of its group holds it: a comparison with each one that began at least
//     storage.tombstone_purge_delay after the delete was stamped found the replica's tombstones equal
//     to this node's — this one among them — and compared every window (anti-entropy's evidence);
//   - the group is settled: no node joining or leaving (a move in progress holds purging back), every
//     replica registered (one that is down holds it back), this node not catching up;
//   - no older write can still arrive here: the delay is at least replication.hint_window (hints and
//     a down node's queue) and this node's queue holds no backlog right now.
// A replica that purged a tombstone says so in its answers (purge markers): this node then purges it
// too once its own group is settled — the replica already saw every copy hold it.
// Never purges on a clock it has not read: the delay is measured on this node's clock from the
// delete's stamp; the evidence time is when the comparison began on this node's clock.

import { errorMessage } from "../base/errors.ts";
import { NS_PER_MS } from "../base/time.ts";
import type { Engine } from "../engine/engine.ts";
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes } from "../cluster/records.ts";
import type { Clock, Timer } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";
import type { AntiEntropy } from "./anti-entropy.ts";

/** How often the purger looks at the groups holding tombstones (besides after each anti-entropy run). */
export const PURGE_CHECK_INTERVAL_MS = 60_000;

export interface PurgeSettings {
  /** storage.tombstone_purge_delay. */
  delayMs: number;
}

export interface PurgeHooks {
  /** Is the group still catching up on this node (startup sync not finished)? */
  catchingUp: (group: number) => boolean;
  /** Messages waiting in this node's write queue (0 with direct delivery); rejects when unknown. */
  queueBacklog: () => Promise<number>;
}

export class TombstonePurger {
  readonly stats = { purged: 0, purgedByPeerMarker: 0, heldBack: 0 };
  /** Why the last look at each group purged nothing it holds (status, tests). */
  readonly heldBecause = new Map<number, string>();
  private timer: Timer | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly engine: Engine,
    private readonly view: ClusterView,
    private readonly ae: AntiEntropy,
    private readonly settings: PurgeSettings,
    private readonly hooks: PurgeHooks,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    ae.onPeerPurged = (group, ids) => this.purgeProven(group, ids);
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.timer = this.clock.setTimer(PURGE_CHECK_INTERVAL_MS, async () => {
        await this.sweep();
        tick();
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** Looks at every group holding tombstones once (one look at a time). */
  sweep(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = (async () => {
      for (const g of this.engine.tombstoneGroups()) {
        if (this.stopped) return;
        await this.purgeGroup(g).catch((e: unknown) => this.logger.log("warn", "tombstones: purge failed (tried again later)", { group: g, error: errorMessage(e) }));
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Why this node may not purge tombstones of the group now, or undefined. */
  async holdsBack(group: number): Promise<string | undefined> {
    const record = this.view.cachedGroup(group);
    if (record === undefined) return `group ${group} has no record`;
    if (record.joining_nodes.length > 0 || record.leaving_nodes.length > 0) return `group ${group} is in a move`;
    const nodes = groupNodes(record);
    if (!nodes.includes(this.nodeId)) return `node ${this.nodeId} is not a replica of group ${group}`;
    const down = nodes.filter((id) => this.view.node(id) === undefined);
    if (down.length > 0) return `replica ${down.join(", ")} of group ${group} is down`;
    if (this.hooks.catchingUp(group)) return `group ${group} is catching up here`;
    let backlog: number;
    try {
      backlog = await this.hooks.queueBacklog();
    } catch (e) {
      return `write queue backlog unknown (${errorMessage(e)})`;
    }
    if (backlog > 0) return `${backlog} queued writes not applied yet`;
    return undefined;
  }

  /** Purges the group's tombstones every replica was seen to hold (after the delay). */
  async purgeGroup(group: number): Promise<number> {
    const live = this.engine.liveTombstones(group);
    if (live.length === 0) {
      this.heldBecause.delete(group);
      return 0;
    }
    const why = await this.holdsBack(group);
    if (why !== undefined) {
      this.stats.heldBack++;
      this.heldBecause.set(group, why);
      return 0;
    }
    const record = this.view.cachedGroup(group)!;
    const peers = groupNodes(record).filter((id) => id !== this.nodeId);
    const now = this.clock.nowNs();
    const delayNs = BigInt(this.settings.delayMs) * NS_PER_MS;
    const ready: string[] = [];
    let waiting = "";
    for (const { id, tombstone } of live) {
      const due = tombstone.insertedAtNs + delayNs;
      if (now < due) {
        waiting ||= `a tombstone is younger than storage.tombstone_purge_delay (${this.settings.delayMs} ms)`;
        continue;
      }
      const unseen = peers.filter((p) => !this.ae.tombstoneSeenHeld(group, p, id, due));
      if (unseen.length > 0) {
        waiting ||= `not yet seen held by ${unseen.join(", ")} since the delay passed`;
        continue;
      }
      ready.push(id);
    }
    if (ready.length === 0) {
      this.heldBecause.set(group, waiting);
      return 0;
    }
    const n = await this.engine.purgeTombstones(group, ready, now);
    this.stats.purged += n;
    if (n === live.length) this.heldBecause.delete(group);
    else this.heldBecause.set(group, waiting);
    return n;
  }

  /** A replica purged these (it saw every replica hold them): purge them here once this node may. */
  async purgeProven(group: number, ids: readonly string[]): Promise<void> {
    if ((await this.holdsBack(group)) !== undefined) return;
    const delayNs = BigInt(this.settings.delayMs) * NS_PER_MS;
    const now = this.clock.nowNs();
    const due = new Set(this.engine.liveTombstones(group).filter((h) => h.tombstone.insertedAtNs + delayNs <= now).map((h) => h.id));
    const n = await this.engine.purgeTombstones(group, ids.filter((id) => due.has(id)), now);
    this.stats.purged += n;
    this.stats.purgedByPeerMarker += n;
  }
}
