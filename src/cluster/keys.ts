// The etcd key layout of Soltix (DESIGN §3); nothing else builds these strings.

export const NODES_PREFIX = "/soltix/nodes/";
export const GROUPS_PREFIX = "/soltix/groups/";

export function nodeKey(nodeId: string): string {
  return `${NODES_PREFIX}${nodeId}`;
}

export function groupKey(groupId: number): string {
  return `${GROUPS_PREFIX}${groupId}`;
}

/** Operator decisions about a node (DESIGN §10): decommissioning, removed, or taking a replaced node's place. */
export const MEMBERSHIP_PREFIX = "/soltix/membership/";
/** The planner's election key (under the leader's lease). */
export const PLANNER_KEY = "/soltix/planner";
/** A group move's progress, written by the joining node. */
export const MOVES_PREFIX = "/soltix/moves/";

export function membershipKey(nodeId: string): string {
  return `${MEMBERSHIP_PREFIX}${nodeId}`;
}

export function moveKey(groupId: number): string {
  return `${MOVES_PREFIX}${groupId}`;
}

/** Database records (DESIGN §11): name → retention, written by the router's create and update calls. */
export const DATABASES_PREFIX = "/soltix/databases/";

export function databaseKey(name: string): string {
  return `${DATABASES_PREFIX}${name}`;
}
