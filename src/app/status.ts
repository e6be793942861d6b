// The status JSON behind the status page (DESIGN §12; the shape is documented in the README):
// `GET /api/status` on a node (its own groups, syncs and anti-entropy results, with what its view of
// the cluster holds) and on a router (the cluster: nodes, groups, moves, and every live node's syncs
// and anti-entropy results, fetched from their /api/status). Cheap to build: no point is read.

import type { ClusterView } from "../cluster/view.ts";
import { groupNodes } from "../cluster/records.ts";
import type { MoveProgress } from "../cluster/membership.ts";
import type { Engine } from "../engine/engine.ts";
import type { SyncRuntime } from "../sync/admin-service.ts";
import type { Clock } from "../ports/clock.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { withDeadline } from "../ports/clock.ts";

import { errorMessage } from "../base/errors.ts";

/** How long a router waits for a node's /api/status. */
const NODE_STATUS_TIMEOUT_MS = 2_000;

export interface StatusNode {
  id: string;
  address: string;
  /** up | down (its registration is gone) */
  health: "up" | "down";
  /** member | decommissioning | decommissioned | removed */
  membership: string;
  /** Groups it is a replica of, and joining. */
  groups: number;
  joining: number;
  down_since: string | null;
}

export interface StatusGroup {
  group_id: number;
  replicas: string[];
  joining: string[];
  leaving: string[];
  syncing: string[];
  /** serving | catching_up | joining (on a node: this node's state for the group) */
  state: string;
  tombstones?: number;
}

export interface StatusMove extends MoveProgress {
  /** windows_done / windows_total, 0–1. */
  progress: number;
}

export interface StatusSync {
  node: string;
  group_id: number;
  state: string;
  phase: string;
  points: number;
  expected_points: number;
  progress: number;
  eta_seconds: number;
}

export interface StatusWindow {
  node: string;
  peer: string;
  group_id: number;
  window_start: string;
  day: string;
  /** in_sync | repaired | partial | failed */
  result: string;
  path: string;
  age_seconds: number;
}

export interface StatusJson {
  role: "node" | "router";
  id: string;
  version: string;
  generated_at: string;
  nodes: StatusNode[];
  groups: StatusGroup[];
  moves: StatusMove[];
  syncs: StatusSync[];
  windows: StatusWindow[];
  /** Nodes whose status could not be read (router). */
  errors: string[];
}

function dayOf(ws: bigint): string {
  return new Date(Number(ws / 1_000_000n)).toISOString().slice(0, 10);
}

/** The cluster as a view sees it: nodes (registered or named by a group and down), groups, moves. */
function clusterPart(view: ClusterView | undefined): Pick<StatusJson, "nodes" | "groups" | "moves"> {
  if (view === undefined) return { nodes: [], groups: [], moves: [] };
  const groups = view.allGroups();
  const nodes: StatusNode[] = [];
  const count = (id: string) => ({
    groups: groups.filter((g) => groupNodes(g).includes(id)).length,
    joining: groups.filter((g) => g.joining_nodes.includes(id)).length,
  });
  for (const n of view.activeNodes()) nodes.push({ id: n.id, address: n.address, health: "up", membership: view.membership(n.id)?.state ?? "member", ...count(n.id), down_since: null });
  for (const d of view.downNodes()) {
    if (nodes.some((n) => n.id === d.id)) continue;
    nodes.push({ id: d.id, address: d.last?.address ?? "", health: "down", membership: view.membership(d.id)?.state ?? "member", ...count(d.id), down_since: new Date(Number(d.sinceNs / 1_000_000n)).toISOString() });
  }
  nodes.sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    nodes,
    groups: groups.map((g) => ({ group_id: g.group_id, replicas: groupNodes(g), joining: g.joining_nodes, leaving: g.leaving_nodes, syncing: g.syncing_nodes, state: g.state })),
    moves: view.allMoves().map((m) => ({ ...m, progress: m.windows_total > 0 ? m.windows_done / m.windows_total : 0 })),
  };
}

export function nodeStatusJson(d: { nodeId: string; version: string; engine: Engine; rt: SyncRuntime; clock: Clock }): StatusJson {
  const { rt, engine } = d;
  const cluster = clusterPart(rt.view);
  const held = new Set<number>([...(rt.syncer?.heldGroups() ?? []), ...engine.groups()]);
  const nowMs = d.clock.monotonicMs();
  const nowNs = d.clock.nowNs();
  const groups: StatusGroup[] = [...held].sort((a, b) => a - b).map((g) => {
    const record = cluster.groups.find((x) => x.group_id === g);
    const state = record?.joining.includes(d.nodeId) ? "joining" : rt.syncer?.isCatchingUp(g) === true ? "catching_up" : "serving";
    return { group_id: g, replicas: record?.replicas ?? [], joining: record?.joining ?? [], leaving: record?.leaving ?? [], syncing: record?.syncing ?? [], state, tombstones: engine.tombstoneCount(g) };
  });
  const syncs: StatusSync[] = [];
  for (const [g, p] of rt.syncer?.progress ?? []) {
    if (p.state === "idle") continue;
    const rate = p.finishedAtMs > 0 || nowMs <= p.startedAtMs ? 0 : p.points / ((nowMs - p.startedAtMs) / 1000);
    syncs.push({
      node: d.nodeId, group_id: g, state: p.state, phase: p.phase, points: p.points, expected_points: p.expectedPoints,
      progress: p.state === "done" ? 1 : p.expectedPoints > 0 ? Math.min(1, p.points / p.expectedPoints) : 0,
      eta_seconds: p.state === "running" && rate > 0 && p.expectedPoints > 0 ? Math.max(0, (p.expectedPoints - p.points) / rate) : -1,
    });
  }
  const windows: StatusWindow[] = [];
  for (const [g, recs] of rt.antiEntropy?.records ?? []) {
    for (const r of recs) {
      windows.push({ node: d.nodeId, peer: r.peer, group_id: g, window_start: r.windowStartNs.toString(), day: dayOf(r.windowStartNs), result: r.result, path: r.path, age_seconds: Math.max(0, Number((nowNs - r.finishedAtNs) / 1_000_000n) / 1000) });
    }
  }
  return { role: "node", id: d.nodeId, version: d.version, generated_at: new Date(Number(nowNs / 1_000_000n)).toISOString(), ...cluster, groups, syncs, windows, errors: [] };
}

/** A router's view of the cluster, with every live node's syncs and anti-entropy results. */
export async function routerStatusJson(d: { id: string; version: string; view: ClusterView; net: PeerNet; clock: Clock }): Promise<StatusJson> {
  const cluster = clusterPart(d.view);
  const syncs: StatusSync[] = [];
  const windows: StatusWindow[] = [];
  const errors: string[] = [];
  await Promise.all(
    cluster.nodes.filter((n) => n.health === "up").map(async (n) => {
      try {
        const res = await withDeadline(d.clock, NODE_STATUS_TIMEOUT_MS, (signal) => d.net.fetch(d.net.url(n.address, "/api/status"), { signal }));
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        const s = (await res.json()) as StatusJson;
        syncs.push(...s.syncs);
        windows.push(...s.windows);
      } catch (e) {
        errors.push(`${n.id} (${n.address}): ${errorMessage(e)}`);
      }
    }),
  );
  syncs.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.group_id - b.group_id));
  return { role: "router", id: d.id, version: d.version, generated_at: new Date(Number(d.clock.nowNs() / 1_000_000n)).toISOString(), ...cluster, syncs, windows, errors };
}


