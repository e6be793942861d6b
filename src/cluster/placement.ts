// Rendezvous (highest-random-weight) placement: for each node a score FNV-1a 64 of
// "group:<id>:<nodeId>"; the `factor` highest scores hold the group, the highest is primary. Adding or
// removing a node moves only the groups whose top set it enters or leaves.

import { fnv1a64 } from "../model/group.ts";

const utf8 = new TextEncoder();

export function placementScore(groupId: number, nodeId: string): bigint {
  return fnv1a64(utf8.encode(`group:${groupId}:${nodeId}`));
}

/**
 * Nodes for a group, best first (ties broken by node id). `placementOf` names the id a node is scored
 * as: a node that replaced another takes its place (cluster/membership.ts).
 */
export function placeGroup(groupId: number, nodeIds: readonly string[], factor: number, placementOf: (id: string) => string = (id) => id): string[] {
  return [...new Set(nodeIds)]
    .map((id) => ({ id, score: placementScore(groupId, placementOf(id)) }))
    .sort((a, b) => (a.score === b.score ? (a.id < b.id ? -1 : 1) : a.score > b.score ? -1 : 1))
    .slice(0, factor)
    .map((x) => x.id);
}
