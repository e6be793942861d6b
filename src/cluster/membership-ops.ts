// The operator's membership decisions (DESIGN §10), checked against the cluster as the view sees it and
// written as membership records by create-if-absent or CAS (two operators racing on one node: one
// wins, the other is refused). The planner does the moves; these only say what the cluster should be.
// Every refusal says why: the node, its state, the numbers.

import { SoltixError } from "../base/errors.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { ClusterView } from "./view.ts";
import { membershipKey } from "./keys.ts";
import { groupNodes } from "./records.ts";
import { membershipJson, parseMembershipRecord, type MembershipRecord } from "./membership.ts";

export interface MembershipChange {
  nodeId: string;
  state: string;
  message: string;
  groupsAffected: number;
}

function refuse(message: string): SoltixError {
  return new SoltixError("failed_precondition", message);
}

/** Every node the cluster knows: registered, named by a group, or with a membership record. */
export function knownNodes(view: ClusterView): string[] {
  const ids = new Set<string>(view.activeNodes().map((n) => n.id));
  for (const d of view.downNodes()) ids.add(d.id);
  for (const m of view.allMemberships()) ids.add(m.node_id);
  for (const g of view.allGroups()) for (const id of g.joining_nodes) ids.add(id);
  return [...ids].sort();
}

function checkKnown(view: ClusterView, nodeId: string, field: string): void {
  if (nodeId === "") throw new SoltixError("invalid_argument", `${field}: required (a node id)`);
  const known = knownNodes(view);
  if (!known.includes(nodeId)) throw new SoltixError("not_found", `${field}: node ${JSON.stringify(nodeId)} is not known to the cluster (not registered, in no group, no membership record); known nodes: ${known.join(", ") || "none"}`);
}

/** A decision already in force on the node: a second operation on it is refused. */
function checkNoOperation(m: MembershipRecord | undefined, nodeId: string, what: string): void {
  if (m === undefined) return;
  if (m.state === "decommissioning") throw refuse(`cannot ${what} ${nodeId}: it is being decommissioned (since ${m.updated_at}); wait until it is decommissioned`);
  if (m.state === "decommissioned") throw refuse(`cannot ${what} ${nodeId}: it is decommissioned (holds no data)`);
  if (m.state === "removed") throw refuse(`cannot ${what} ${nodeId}: it was removed${m.replaced_by === "" ? "" : ` (replaced by ${m.replaced_by})`} at ${m.updated_at}`);
  if (m.placement_id !== "") throw refuse(`cannot ${what} ${nodeId}: it is replacing ${m.placement_id}`);
}

function groupsOf(view: ClusterView, nodeId: string): number {
  return view.allGroups().filter((g) => groupNodes(g).includes(nodeId) || g.joining_nodes.includes(nodeId)).length;
}

/** Members that hold data after `without` leaves: registered or down, not decommissioning, removed or leaving. */
function membersWithout(view: ClusterView, without: string, dead: ReadonlySet<string>): string[] {
  return knownNodes(view).filter((id) => id !== without && !dead.has(id) && view.isMember(id));
}

/** The node's membership record as stored now (the view may lag a decision made a moment ago). */
async function readMembership(store: MetadataStore, nodeId: string): Promise<MembershipRecord | undefined> {
  const kv = await store.get(membershipKey(nodeId));
  return kv === undefined ? undefined : parseMembershipRecord(kv.value);
}

/** Writes the record only if the node's record is still what the checks saw (absent or the same revision). */
async function writeMembership(store: MetadataStore, record: MembershipRecord, expected: MembershipRecord | undefined): Promise<void> {
  const key = membershipKey(record.node_id);
  const cur = await store.get(key);
  const curRecord = cur === undefined ? undefined : parseMembershipRecord(cur.value);
  if (JSON.stringify(curRecord) !== JSON.stringify(expected)) throw refuse(`node ${record.node_id}: another membership operation changed it just now (${curRecord?.state ?? "none"}); look again`);
  const ok = cur === undefined ? await store.create(key, membershipJson(record)) : await store.compareAndSwap(key, membershipJson(record), cur.modRevision);
  if (!ok) throw refuse(`node ${record.node_id}: another membership operation changed it just now; look again`);
}

/** `dead`: nodes whose copies count for nothing (removed, or down past cluster.dead_node_timeout). */
export async function decommissionNode(store: MetadataStore, view: ClusterView, nodeId: string, factor: number, dead: ReadonlySet<string>, nowIso: string): Promise<MembershipChange> {
  checkKnown(view, nodeId, "node_id");
  const prev = await readMembership(store, nodeId);
  checkNoOperation(prev, nodeId, "decommission");
  const rest = membersWithout(view, nodeId, dead);
  if (rest.length < factor) {
    throw refuse(`decommissioning ${nodeId} would leave ${rest.length} member node(s) (${rest.join(", ") || "none"}), fewer than replication.factor ${factor}: add a node first`);
  }
  const live = new Set(view.activeNodes().map((n) => n.id));
  const liveRest = rest.filter((id) => live.has(id));
  if (liveRest.length < factor) throw refuse(`decommissioning ${nodeId}: only ${liveRest.length} other member node(s) are registered now (${liveRest.join(", ") || "none"}), replication.factor ${factor} — bring the down ones back or remove them first`);
  await writeMembership(store, { node_id: nodeId, state: "decommissioning", placement_id: "", replaced_by: "", reason: "operator: decommission", updated_at: nowIso }, prev);
  const n = groupsOf(view, nodeId);
  return { nodeId, state: "decommissioning", groupsAffected: n, message: `${nodeId} is decommissioning: its ${n} group(s) move to the other ${rest.length} member nodes, ${n === 0 ? "none to move" : "each verified before its copy here is deleted"}` };
}

export async function removeNode(store: MetadataStore, view: ClusterView, nodeId: string, nowIso: string): Promise<MembershipChange> {
  checkKnown(view, nodeId, "node_id");
  const live = view.node(nodeId);
  if (live !== undefined) throw refuse(`cannot remove ${nodeId}: it is registered (alive at ${live.address}); decommission it to move its data away, or stop it first`);
  const prev = await readMembership(store, nodeId);
  // A decommission whose node died is superseded by the removal; anything else in force is refused.
  if (prev?.state !== "decommissioning") checkNoOperation(prev, nodeId, "remove");
  await writeMembership(store, { node_id: nodeId, state: "removed", placement_id: "", replaced_by: "", reason: "operator: remove (dead node)", updated_at: nowIso }, prev);
  const n = groupsOf(view, nodeId);
  return { nodeId, state: "removed", groupsAffected: n, message: `${nodeId} is removed: its copies in ${n} group(s) are re-placed on member nodes${prev?.state === "decommissioning" ? " (its decommission is superseded)" : ""}` };
}

export async function replaceNode(store: MetadataStore, view: ClusterView, oldId: string, newId: string, nowIso: string): Promise<MembershipChange> {
  checkKnown(view, oldId, "node_id");
  if (newId === "") throw new SoltixError("invalid_argument", "with_node_id: required (the id of the new node)");
  if (newId === oldId) throw new SoltixError("invalid_argument", `with_node_id: ${newId} is the node being replaced`);
  const oldLive = view.node(oldId);
  if (oldLive !== undefined) throw refuse(`cannot replace ${oldId}: it is registered (alive at ${oldLive.address}); decommission it instead, or stop it first`);
  const prevOld = await readMembership(store, oldId);
  checkNoOperation(prevOld, oldId, "replace");
  const fresh = view.node(newId);
  if (fresh === undefined) throw refuse(`cannot replace ${oldId} with ${newId}: ${newId} is not registered (start it with the cluster's etcd first)`);
  const prevNew = await readMembership(store, newId);
  checkNoOperation(prevNew, newId, "use as a replacement");
  // A new node may already have begun taking its own share (the planner gives one at once): placed
  // as the old node now, those groups move back and the old node's move to it.
  const held = groupsOf(view, newId);
  // The new node first (create-if-absent guards two replacements racing for it), then the old one.
  await writeMembership(store, { node_id: newId, state: "active", placement_id: view.placementOf(oldId), replaced_by: "", reason: `operator: replaces ${oldId}`, updated_at: nowIso }, prevNew);
  try {
    await writeMembership(store, { node_id: oldId, state: "removed", placement_id: "", replaced_by: newId, reason: `operator: replaced by ${newId}`, updated_at: nowIso }, prevOld);
  } catch (e) {
    // Undo the first write when the second one lost a race (the new node had no record before).
    if (prevNew === undefined) await store.delete(membershipKey(newId)).catch(() => {});
    throw e;
  }
  const n = groupsOf(view, oldId);
  return {
    nodeId: oldId, state: "removed", groupsAffected: n,
    message: `${newId} takes ${oldId}'s place: its ${n} group(s) are filled on ${newId}${held > 0 ? `; the ${held} group(s) ${newId} held or joined of its own are re-placed` : ""}`,
  };
}
