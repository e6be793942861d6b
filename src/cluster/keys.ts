// The etcd key layout of Soltix (DESIGN §3); nothing else builds these strings.

export const NODES_PREFIX = "/soltix/nodes/";
export const GROUPS_PREFIX = "/soltix/groups/";

export function nodeKey(nodeId: string): string {
  return `${NODES_PREFIX}${nodeId}`;
}

export function groupKey(groupId: number): string {
  return `${GROUPS_PREFIX}${groupId}`;
}
