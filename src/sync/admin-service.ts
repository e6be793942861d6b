// AdminService: what an operator asks a node — its groups, their state and sync progress, the last
// anti-entropy result per window, the peers it sees down — and the triggers for a sync or an
// anti-entropy run now. It lives with sync because it is sync's operator surface.

import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { SoltixError } from "../base/errors.ts";
import {
  AdminService,
  AntiEntropyRecordSchema,
  GetStatusResponseSchema,
  GroupStatusSchema,
  PeerDownSchema,
  SyncProgressSchema,
  type AntiEntropyRecord,
  type SyncProgress,
} from "../gen/soltix/v1/admin_pb.ts";
import { groupNodes } from "../cluster/records.ts";
import type { ClusterView } from "../cluster/view.ts";
import type { TombstonePurger } from "./tombstone-purge.ts";
import type { AeRecord, AntiEntropy } from "./anti-entropy.ts";
import { etaSeconds, type GroupSyncer, type SyncProgressState } from "./startup-sync.ts";
import type { ClusterPlanner } from "../cluster/planner-loop.ts";
import type { GroupMover } from "./group-mover.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import { clusterStatus, decommission, rebalance, remove, replace, type ClusterAdminDeps } from "./cluster-admin.ts";
import type { NodeContext } from "../rpc/context.ts";
import { validateGroup } from "../rpc/sync-service.ts";

/** The node's sync machinery, present once the node has joined the cluster. */
export interface SyncRuntime {
  view?: ClusterView;
  syncer?: GroupSyncer;
  antiEntropy?: AntiEntropy;
  planner?: ClusterPlanner;
  mover?: GroupMover;
  purger?: TombstonePurger;
  /** "registered", or why not. */
  registration?: () => string;
}

export function aeRecordToProto(r: AeRecord): AntiEntropyRecord {
  return create(AntiEntropyRecordSchema, {
    windowStart: r.windowStartNs,
    peer: r.peer,
    result: r.result,
    path: r.path,
    reason: r.reason,
    roundTrips: r.roundTrips,
    bytesSent: BigInt(r.bytesSent),
    bytesReceived: BigInt(r.bytesReceived),
    pointsDiffering: BigInt(r.pointsDiffering),
    pointsRepaired: BigInt(r.pointsRepaired),
    durationMs: r.durationMs,
    finishedAt: r.finishedAtNs,
  });
}

export function progressToProto(p: SyncProgressState | undefined, nowMs: number): SyncProgress {
  if (p === undefined) return create(SyncProgressSchema, { state: "idle", etaSeconds: -1 });
  const secs = Math.max(0.001, ((p.state === "running" ? nowMs : p.finishedAtMs) - p.startedAtMs) / 1000);
  const rate = p.points / secs;
  return create(SyncProgressSchema, {
    state: p.state,
    points: BigInt(p.points),
    bytes: BigInt(p.bytes),
    ratePointsPerSec: rate,
    etaSeconds: etaSeconds(p, rate),
    expectedPoints: BigInt(Math.max(0, p.expectedPoints)),
    sourceNode: p.sourceNode,
    error: p.error,
    attempts: p.attempts,
    startedAt: p.startedAtNs,
    finishedAt: p.finishedAtNs,
    phase: p.phase,
    verifiedWith: p.verifiedWith,
  });
}

function notJoined(): SoltixError {
  return new SoltixError("unavailable", "the node has not joined the cluster yet (metadata not loaded)");
}

export function adminService(ctx: NodeContext, rt: SyncRuntime, cluster: { factor: number; store: MetadataStore }): ServiceImpl<typeof AdminService> {
  const deps: ClusterAdminDeps = { nodeId: ctx.nodeId, factor: cluster.factor, store: cluster.store, clock: ctx.clock, view: () => rt.view, planner: () => rt.planner };
  return {
    getClusterStatus: () => clusterStatus(deps),
    decommissionNode: (req) => decommission(deps, req.nodeId),
    removeNode: (req) => remove(deps, req.nodeId),
    replaceNode: (req) => replace(deps, req.nodeId, req.withNodeId),
    rebalance: () => rebalance(deps),

    async getStatus() {
      const held = new Set<number>(rt.syncer?.heldGroups() ?? []);
      for (const g of ctx.engine.groups()) held.add(g);
      for (const g of ctx.engine.tombstoneGroups()) if (ctx.engine.tombstoneCount(g) > 0) held.add(g);
      const groups = [];
      for (const g of [...held].sort((a, b) => a - b)) {
        const record = rt.view?.cachedGroup(g);
        let points = 0;
        for (const w of ctx.engine.windowsOf(g)) points += (await ctx.engine.windowChecksum(g, w)).pointCount;
        groups.push(
          create(GroupStatusSchema, {
            groupId: g,
            state: record?.state ?? "unassigned",
            points: BigInt(points),
            lastTimestamp: ctx.engine.lastTimestamp(g),
            sync: progressToProto(rt.syncer?.progress.get(g), ctx.clock.monotonicMs()),
            lastAntiEntropy: (rt.antiEntropy?.records.get(g) ?? []).map(aeRecordToProto),
            primaryNode: record?.primary_node ?? "",
            replicaNodes: record === undefined ? [] : groupNodes(record).slice(1),
            localState: rt.syncer?.isCatchingUp(g) === true ? "catching_up" : "serving",
            syncingNodes: record?.syncing_nodes ?? [],
            tombstones: ctx.engine.tombstoneCount(g),
          }),
        );
      }
      const peersDown = (rt.view?.downNodes() ?? [])
        .map((d) => ({ d, shared: (rt.view?.allGroups() ?? []).filter((g) => held.has(g.group_id) && groupNodes(g).includes(d.id)).length }))
        .filter((x) => x.shared > 0 && x.d.id !== ctx.nodeId)
        .map((x) => create(PeerDownSchema, { nodeId: x.d.id, downSince: x.d.last === undefined ? 0n : x.d.sinceNs, groups: x.shared }));
      return create(GetStatusResponseSchema, { nodeId: ctx.nodeId, groups, peersDown, registration: rt.registration?.() ?? "not joined" });
    },

    async triggerAntiEntropy(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      if (rt.antiEntropy === undefined) throw notJoined();
      const run = rt.antiEntropy.runGroup(req.groupId);
      if (!req.wait) return { records: [] };
      return { records: (await run).map(aeRecordToProto) };
    },

    async triggerSync(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      if (rt.syncer === undefined) throw notJoined();
      const run = rt.syncer.syncGroup(req.groupId);
      if (!req.wait) return { progress: progressToProto(rt.syncer.progress.get(req.groupId), ctx.clock.monotonicMs()) };
      return { progress: progressToProto(await run, ctx.clock.monotonicMs()) };
    },
  };
}
