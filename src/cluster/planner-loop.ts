// The cluster's one planner (DESIGN §10): every node runs this loop, one holds /soltix/planner under its
// lease (etcd election: when it dies the key goes with its lease and another node takes over). Each
// interval the leader reads the cluster from its view, asks planMoves what to change and applies it,
// every change a CAS that re-checks its premise on the record it replaces (cluster/groups.ts). It also
// marks a decommissioning node `decommissioned` once no group names it. Any node can compute the plan
// (for `soltix cluster status` and `rebalance`); only the leader applies it.

import { errorMessage } from "../base/errors.ts";
import type { Logger } from "../ports/logger.ts";
import { isoNow, type Clock, type Timer } from "../ports/clock.ts";
import type { Lease, MetadataStore } from "../ports/metadata.ts";
import type { ClusterView } from "./view.ts";
import { PLANNER_KEY, membershipKey, moveKey } from "./keys.ts";
import { groupNodes, writeNodes, type GroupRecord } from "./records.ts";
import { updateGroup } from "./groups.ts";
import { membershipJson } from "./membership.ts";
import { planMoves, type PlannedChange, type PlannerInput } from "./planner.ts";

export interface PlannerSettings {
  factor: number;
  maxConcurrentMoves: number;
  /** Unregistered this long = dead (0 = never). */
  deadNodeTimeoutMs: number;
  autoReplace: boolean;
  intervalMs: number;
}

/** The planner's lease: its key outlives a dead leader by at most this. */
export const PLANNER_LEASE_TTL_SECONDS = 10;
/** After a group record changes, the leader plans again this soon (changes close together share one round). */
const REPLAN_AFTER_CHANGE_MS = 5;

export class ClusterPlanner {
  /** The last plan this node computed (applied when it led), and when. */
  lastPlan: PlannedChange[] = [];
  lastPlanAtNs = 0n;
  leader = false;
  readonly stats = { plans: 0, applied: 0, conflicts: 0 };
  private lease: Lease | undefined;
  private timer: Timer | undefined;
  private stopped = false;
  private running: Promise<PlannedChange[]> | undefined;
  private soon: Timer | undefined;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly store: MetadataStore,
    private readonly view: ClusterView,
    private readonly settings: PlannerSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // A group record changed (a move finished, a node joined a group): the leader plans again at once,
    // so the next move starts without waiting for the interval.
    this.unwatch = this.view.onGroupChange(() => {
      if (!this.leader || this.stopped || this.soon !== undefined) return;
      this.soon = this.clock.setTimer(REPLAN_AFTER_CHANGE_MS, () => {
        this.soon = undefined;
        void this.runOnce().catch((e: unknown) => this.logger.log("error", "planner: round failed", { error: errorMessage(e) }));
      });
    });
    const tick = () => {
      if (this.stopped) return;
      this.timer = this.clock.setTimer(this.settings.intervalMs, async () => {
        await this.runOnce().catch((e: unknown) => this.logger.log("error", "planner: round failed", { error: errorMessage(e) }));
        tick();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.soon?.cancel();
    this.unwatch?.();
    await this.running?.catch(() => {});
    const lease = this.lease;
    this.lease = undefined;
    this.leader = false;
    await lease?.revoke().catch(() => {});
  }

  /** The planner's input from the view: who is a member, live, dead (and since when). */
  input(): PlannerInput {
    const v = this.view;
    const now = this.clock.nowNs();
    const live = new Set(v.activeNodes().map((n) => n.id));
    const known = new Set<string>([...live, ...v.downNodes().map((d) => d.id), ...v.allMemberships().map((m) => m.node_id)]);
    const dead = new Set<string>();
    const removed = new Set<string>();
    const members: string[] = [];
    for (const id of known) {
      const m = v.membership(id);
      if (m?.state === "removed") {
        dead.add(id);
        removed.add(id);
        continue;
      }
      const down = v.down(id);
      const timeoutNs = BigInt(this.settings.deadNodeTimeoutMs) * 1_000_000n;
      if (down !== undefined && this.settings.autoReplace && this.settings.deadNodeTimeoutMs > 0 && now - down.sinceNs >= timeoutNs) {
        dead.add(id);
        continue;
      }
      if (v.isMember(id)) members.push(id);
    }
    return { groups: v.allGroups(), members: members.sort(), live, dead, removed, factor: this.settings.factor, maxConcurrentMoves: this.settings.maxConcurrentMoves, placementOf: (id) => v.placementOf(id) };
  }

  /** One round: campaign (or keep leading), plan, and apply when leading. Returns the plan. */
  runOnce(): Promise<PlannedChange[]> {
    if (this.running !== undefined) return this.running;
    this.running = this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<PlannedChange[]> {
    if (!this.view.loaded) return [];
    await this.campaign();
    const input = this.input();
    const plan = planMoves(input);
    this.lastPlan = plan;
    this.lastPlanAtNs = this.clock.nowNs();
    this.stats.plans++;
    if (!this.leader || this.stopped) return plan;
    for (const c of plan) {
      if (c.kind === "blocked") continue;
      try {
        const applied = await this.apply(c, input);
        if (applied) {
          this.stats.applied++;
          this.logger.log("info", "planner: change", { ...c });
        } else this.stats.conflicts++;
      } catch (e) {
        this.logger.log("warn", "planner: change not applied", { ...c, error: errorMessage(e) });
      }
    }
    await this.finishDecommissions();
    return plan;
  }

  private async campaign(): Promise<void> {
    if (this.leader || this.stopped) return;
    try {
      if (this.lease === undefined) {
        const lease = await this.store.grantLease(PLANNER_LEASE_TTL_SECONDS);
        lease.onLost((reason) => {
          if (this.lease !== lease) return;
          this.lease = undefined;
          if (this.leader) this.logger.log("warn", "planner: leadership lost", { reason });
          this.leader = false;
        });
        this.lease = lease;
      }
      if (await this.lease.create(PLANNER_KEY, JSON.stringify({ node_id: this.nodeId, since: isoNow(this.clock) }))) {
        this.leader = true;
        this.logger.log("info", "planner: this node plans the cluster's moves now");
      }
    } catch (e) {
      this.logger.log("warn", "planner: cannot campaign", { error: errorMessage(e) });
    }
  }

  /** Applies one change by CAS on the group's record, re-checking its premise there; false = the record moved on. */
  private async apply(c: PlannedChange, input: PlannerInput): Promise<boolean> {
    let changed = false;
    const now = isoNow(this.clock);
    await updateGroup(
      this.store,
      c.group,
      (g): GroupRecord | undefined => {
        changed = false;
        const nodes = groupNodes(g);
        if (c.kind === "start") {
          if (g.joining_nodes.length > 0 || nodes.includes(c.join) || (c.leave !== undefined && !nodes.includes(c.leave))) return undefined;
          changed = true;
          return { ...g, joining_nodes: [c.join], leaving_nodes: c.leave === undefined ? [] : [c.leave] };
        }
        if (c.kind === "cancel") {
          if (!g.joining_nodes.includes(c.join)) return undefined;
          changed = true;
          return { ...g, joining_nodes: g.joining_nodes.filter((id) => id !== c.join), leaving_nodes: [] };
        }
        if (c.kind === "drop") {
          if (!nodes.includes(c.leave) || nodes.length < 2 || g.joining_nodes.length > 0) return undefined;
          const counted = nodes.filter((id) => !input.dead.has(id)).length;
          if (!(input.removed ?? input.dead).has(c.leave) && counted - 1 < input.factor) return undefined;
          const rest = nodes.filter((id) => id !== c.leave);
          changed = true;
          return { ...g, primary_node: rest[0]!, replica_nodes: rest.slice(1), syncing_nodes: g.syncing_nodes.filter((id) => id !== c.leave) };
        }
        return undefined;
      },
      now,
    );
    if (changed && c.kind === "cancel") await this.store.delete(moveKey(c.group)).catch(() => {});
    return changed;
  }

  /** A decommissioning node that no group names any more is decommissioned (it holds nothing). */
  private async finishDecommissions(): Promise<void> {
    for (const m of this.view.allMemberships()) {
      if (m.state !== "decommissioning") continue;
      if (this.view.allGroups().some((g) => writeNodes(g).includes(m.node_id))) continue;
      await this.store.put(membershipKey(m.node_id), membershipJson({ ...m, state: "decommissioned", updated_at: isoNow(this.clock) }));
      this.logger.log("info", "planner: node decommissioned (no group names it)", { node: m.node_id });
    }
  }
}
