// Group assignments in the metadata store. Every change is a compare-and-swap on the key's revision
// and bumps `epoch`; creation is create-if-absent, so two routers racing to create a group end with
// one assignment (the loser reads the winner's). Never check-then-act across an await without a CAS.

import { SoltixError } from "../base/errors.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import { groupKey } from "./keys.ts";
import { groupRecordJson, parseGroupRecord, type GroupRecord, type GroupState } from "./records.ts";
import { placeGroup } from "./placement.ts";

/** CAS retries before giving up on a hot key. */
const CAS_ATTEMPTS_MAX = 32;

export async function getGroup(store: MetadataStore, groupId: number): Promise<{ record: GroupRecord; modRevision: bigint } | undefined> {
  const kv = await store.get(groupKey(groupId));
  return kv === undefined ? undefined : { record: parseGroupRecord(kv.value), modRevision: kv.modRevision };
}

/** The group's assignment, created from the current nodes if it does not exist yet. */
export async function ensureGroup(store: MetadataStore, groupId: number, nodeIds: readonly string[], factor: number, nowIso: string, placementOf?: (id: string) => string): Promise<GroupRecord> {
  const existing = await getGroup(store, groupId);
  if (existing !== undefined) return existing.record;
  const placed = placeGroup(groupId, nodeIds, factor, placementOf);
  if (placed.length === 0) throw new SoltixError("unavailable", `no storage nodes registered to place group ${groupId}`);
  const record: GroupRecord = { group_id: groupId, primary_node: placed[0]!, replica_nodes: placed.slice(1), state: "active", epoch: 1, updated_at: nowIso, syncing_nodes: [], joining_nodes: [], leaving_nodes: [] };
  if (await store.create(groupKey(groupId), groupRecordJson(record))) return record;
  const winner = await getGroup(store, groupId);
  if (winner === undefined) throw new SoltixError("unavailable", `group ${groupId} was created and deleted concurrently`);
  return winner.record;
}

/** Applies `change` with CAS retries; bumps epoch. Returns the stored record. */
export async function updateGroup(
  store: MetadataStore,
  groupId: number,
  change: (g: GroupRecord) => GroupRecord | undefined,
  nowIso: string,
): Promise<GroupRecord> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS_MAX; attempt++) {
    const cur = await getGroup(store, groupId);
    if (cur === undefined) throw new SoltixError("not_found", `group ${groupId} has no assignment`);
    const next = change(cur.record);
    if (next === undefined) return cur.record;
    const stored: GroupRecord = { ...next, epoch: cur.record.epoch + 1, updated_at: nowIso };
    if (await store.compareAndSwap(groupKey(groupId), groupRecordJson(stored), cur.modRevision)) return stored;
  }
  throw new SoltixError("unavailable", `group ${groupId}: ${CAS_ATTEMPTS_MAX} compare-and-swap conflicts in a row`);
}

export function setGroupState(store: MetadataStore, groupId: number, state: GroupState, nowIso: string): Promise<GroupRecord> {
  return updateGroup(store, groupId, (g) => (g.state === state ? undefined : { ...g, state }), nowIso);
}

/**
 * Marks `nodeId` as catching up on the group (`syncing`: it takes writes, serves no reads) or done;
 * `state` follows: syncing while any node is. No write when nothing changes.
 */
export function setNodeSyncing(store: MetadataStore, groupId: number, nodeId: string, syncing: boolean, nowIso: string): Promise<GroupRecord> {
  return updateGroup(
    store,
    groupId,
    (g) => {
      const others = g.syncing_nodes.filter((x) => x !== nodeId);
      const syncingNodes = syncing ? [...others, nodeId].sort() : others;
      const state: GroupState = syncingNodes.length > 0 ? "syncing" : "active";
      if (state === g.state && syncingNodes.join() === g.syncing_nodes.join()) return undefined;
      return { ...g, syncing_nodes: syncingNodes, state };
    },
    nowIso,
  );
}
