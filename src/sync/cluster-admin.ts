// The AdminService's membership calls (DESIGN §10), answered by any node from its view of the
// cluster: status (nodes, groups per node, under-replicated groups, every move's progress, what the
// planner waits for), decommission / remove / replace (cluster/membership-ops.ts) and rebalance.

import { create } from "@bufbuild/protobuf";
import { SoltixError } from "../base/errors.ts";
import { isoNow, type Clock } from "../ports/clock.ts";
import { NS_PER_MS } from "../base/time.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import {
  ClusterNodeSchema,
  GetClusterStatusResponseSchema,
  GroupMoveSchema,
  MembershipChangeResponseSchema,
  PlannedChangeSchema,
  RebalanceResponseSchema,
  UnderReplicatedGroupSchema,
  type GetClusterStatusResponse,
  type MembershipChangeResponse,
  type PlannedChange as PlannedChangeProto,
  type RebalanceResponse,
} from "../gen/soltix/v1/admin_pb.ts";
import type { ClusterView } from "../cluster/view.ts";
import type { ClusterPlanner } from "../cluster/planner-loop.ts";
import { PLANNER_KEY } from "../cluster/keys.ts";
import { groupNodes } from "../cluster/records.ts";
import { liveCopies, planMoves, type PlannedChange } from "../cluster/planner.ts";
import { decommissionNode, knownNodes, removeNode, replaceNode, type MembershipChange } from "../cluster/membership-ops.ts";

export interface ClusterAdminDeps {
  nodeId: string;
  factor: number;
  store: MetadataStore;
  clock: Clock;
  view: () => ClusterView | undefined;
  planner: () => ClusterPlanner | undefined;
}

function joined(deps: ClusterAdminDeps): { view: ClusterView; planner: ClusterPlanner } {
  const view = deps.view();
  const planner = deps.planner();
  if (view === undefined || !view.loaded || planner === undefined) throw new SoltixError("unavailable", `node ${deps.nodeId} has not joined the cluster yet (metadata not loaded)`);
  return { view, planner };
}

function planToProto(c: PlannedChange): PlannedChangeProto {
  return create(PlannedChangeSchema, {
    kind: c.kind,
    groupId: c.group,
    join: c.kind === "start" || c.kind === "cancel" ? c.join : "",
    leave: c.kind === "start" ? c.leave ?? "" : c.kind === "drop" ? c.leave : "",
    reason: c.reason,
  });
}

async function plannerName(store: MetadataStore): Promise<string> {
  const kv = await store.get(PLANNER_KEY).catch(() => undefined);
  if (kv === undefined) return "";
  try {
    return String((JSON.parse(kv.value) as { node_id?: unknown }).node_id ?? "");
  } catch {
    return "";
  }
}

export async function clusterStatus(deps: ClusterAdminDeps): Promise<GetClusterStatusResponse> {
  const { view, planner } = joined(deps);
  const input = planner.input();
  const groups = view.allGroups();
  const nodes = knownNodes(view).map((id) => {
    const rec = view.node(id);
    const m = view.membership(id);
    const down = view.down(id);
    const state =
      m?.state === "removed" ? "removed"
        : m?.state === "decommissioning" || m?.state === "decommissioned" ? m.state
          : input.dead.has(id) ? "dead"
            : rec === undefined ? "down"
              : "member";
    return create(ClusterNodeSchema, {
      nodeId: id,
      address: rec?.address ?? down?.last?.address ?? "",
      registered: rec !== undefined,
      state,
      groups: groups.filter((g) => groupNodes(g).includes(id)).length,
      joining: groups.filter((g) => g.joining_nodes.includes(id)).length,
      downSince: rec === undefined && down?.last !== undefined ? down.sinceNs : 0n,
      placementId: m?.placement_id ?? "",
    });
  });
  const underReplicated = groups
    .map((g) => ({ g, copies: liveCopies(g, input.live) }))
    .filter((x) => x.copies < deps.factor)
    .map(({ g, copies }) => {
      const missing = groupNodes(g).filter((id) => !input.live.has(id));
      const syncing = groupNodes(g).filter((id) => input.live.has(id) && g.syncing_nodes.includes(id));
      const reason = [
        missing.length > 0 ? `${missing.join(", ")} not registered` : "",
        syncing.length > 0 ? `${syncing.join(", ")} catching up` : "",
        groupNodes(g).length < deps.factor ? `${groupNodes(g).length} node(s) in the group` : "",
        g.joining_nodes.length > 0 ? `${g.joining_nodes.join(", ")} joining` : "",
      ].filter((s) => s !== "").join("; ");
      return create(UnderReplicatedGroupSchema, { groupId: g.group_id, copies, nodes: groupNodes(g), reason });
    });
  const nowMs = Number(deps.clock.nowNs() / NS_PER_MS);
  const progress = new Map(view.allMoves().map((m) => [`${m.group_id}/${m.join}`, m]));
  const moves = groups.flatMap((g) =>
    g.joining_nodes.map((join) => {
      const p = progress.get(`${g.group_id}/${join}`);
      return create(GroupMoveSchema, {
        groupId: g.group_id, join, leave: g.leaving_nodes[0] ?? "", source: p?.source ?? "", phase: p?.phase ?? "waiting",
        windowsDone: p?.windows_done ?? 0, windowsTotal: p?.windows_total ?? 0, bytes: BigInt(p?.bytes ?? 0), points: BigInt(p?.points ?? 0),
        rateBytesPerSec: p?.rate_bytes_per_sec ?? 0, etaSeconds: p?.eta_seconds ?? -1, attempts: p?.attempts ?? 0, error: p?.error ?? "",
        startedAt: p?.started_at ?? "", updatedAt: p?.updated_at ?? "", windowsSkipped: p?.windows_skipped ?? 0,
        secondsSinceUpdate: p === undefined ? 0 : secondsSince(p.updated_at, nowMs),
      });
    }),
  );
  const plan = planMoves(input).map(planToProto);
  return create(GetClusterStatusResponseSchema, {
    nodes, groups: groups.length, replicationFactor: deps.factor, underReplicated, moves, plan, planner: await plannerName(deps.store), answeredBy: deps.nodeId,
  });
}

/** Whole seconds from an ISO time to now (0 when the time cannot be read or lies ahead). */
function secondsSince(iso: string, nowMs: number): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.max(0, Math.round((nowMs - t) / 1000));
}

function changeToProto(c: MembershipChange): MembershipChangeResponse {
  return create(MembershipChangeResponseSchema, { nodeId: c.nodeId, state: c.state, message: c.message, groupsAffected: c.groupsAffected });
}

export async function decommission(deps: ClusterAdminDeps, nodeId: string): Promise<MembershipChangeResponse> {
  const { view, planner } = joined(deps);
  const r = changeToProto(await decommissionNode(deps.store, view, nodeId, deps.factor, planner.input().dead, isoNow(deps.clock)));
  void planner.runOnce().catch(() => {});
  return r;
}

export async function remove(deps: ClusterAdminDeps, nodeId: string): Promise<MembershipChangeResponse> {
  const { view, planner } = joined(deps);
  const r = changeToProto(await removeNode(deps.store, view, nodeId, isoNow(deps.clock)));
  void planner.runOnce().catch(() => {});
  return r;
}

export async function replace(deps: ClusterAdminDeps, oldId: string, newId: string): Promise<MembershipChangeResponse> {
  const { view, planner } = joined(deps);
  const r = changeToProto(await replaceNode(deps.store, view, oldId, newId, isoNow(deps.clock)));
  void planner.runOnce().catch(() => {});
  return r;
}

export async function rebalance(deps: ClusterAdminDeps): Promise<RebalanceResponse> {
  const { planner } = joined(deps);
  const plan = await planner.runOnce();
  return create(RebalanceResponseSchema, { plan: plan.map(planToProto), planner: await plannerName(deps.store), applied: planner.leader });
}
