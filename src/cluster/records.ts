// Metadata records as stored in etcd (JSON, snake_case as in Soltix) and their strict parsers: a
// record that does not parse is reported, never half-trusted.

import { SoltixError } from "../base/errors.ts";

export type NodeStatus = "active" | "draining";
export type GroupState = "active" | "syncing";

export interface NodeRecord {
  id: string;
  address: string;
  status: NodeStatus;
  version: string;
  updated_at: string;
  /** Random per process start: tells two processes claiming one id apart ("" in records of older versions). */
  instance: string;
}

export interface GroupRecord {
  group_id: number;
  primary_node: string;
  replica_nodes: string[];
  /** `syncing` while any node is in syncing_nodes, else `active` (Soltix's field, kept meaningful). */
  state: GroupState;
  epoch: number;
  updated_at: string;
  /**
   * Nodes of the group catching up (startup sync: tail stream, then a Merkle comparison of every
   * window): they take writes but serve no reads for the group. Absent in the JSON = empty.
   */
  syncing_nodes: string[];
  /**
   * Nodes being added by a move (DESIGN §10): they receive every write but serve no read and are not
   * counted as copies until verified, when they move into replica_nodes. Absent in the JSON = empty.
   */
  joining_nodes: string[];
  /** Nodes a move will take out once its joining node is verified; they stay full replicas until then. */
  leaving_nodes: string[];
}

function bad(what: string, text: string, why: string): SoltixError {
  return new SoltixError("data_loss", `metadata ${what} is malformed (${why}): ${text.slice(0, 200)}`);
}

export function parseNodeRecord(text: string): NodeRecord {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad("node record", text, "not JSON");
  }
  if (typeof o.id !== "string" || typeof o.address !== "string") throw bad("node record", text, "id/address");
  const status = o.status === "draining" ? "draining" : "active";
  return { id: o.id, address: o.address, status, version: String(o.version ?? ""), updated_at: String(o.updated_at ?? ""), instance: typeof o.instance === "string" ? o.instance : "" };
}

export function parseGroupRecord(text: string): GroupRecord {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad("group record", text, "not JSON");
  }
  if (typeof o.group_id !== "number" || !Number.isInteger(o.group_id)) throw bad("group record", text, "group_id");
  if (typeof o.primary_node !== "string") throw bad("group record", text, "primary_node");
  if (!Array.isArray(o.replica_nodes) || !o.replica_nodes.every((x) => typeof x === "string")) throw bad("group record", text, "replica_nodes");
  if (o.state !== "active" && o.state !== "syncing") throw bad("group record", text, "state");
  if (typeof o.epoch !== "number") throw bad("group record", text, "epoch");
  const list = (field: "syncing_nodes" | "joining_nodes" | "leaving_nodes"): string[] => {
    const v = o[field] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw bad("group record", text, field);
    return v as string[];
  };
  return {
    group_id: o.group_id,
    primary_node: o.primary_node,
    replica_nodes: o.replica_nodes as string[],
    state: o.state,
    epoch: o.epoch,
    updated_at: String(o.updated_at ?? ""),
    syncing_nodes: list("syncing_nodes"),
    joining_nodes: list("joining_nodes"),
    leaving_nodes: list("leaving_nodes"),
  };
}

/** The record as stored: the node lists beyond Soltix's only when non-empty (older readers see the Soltix shape). */
export function groupRecordJson(g: GroupRecord): string {
  const { syncing_nodes, joining_nodes, leaving_nodes, ...rest } = g;
  return JSON.stringify({
    ...rest,
    ...(syncing_nodes.length > 0 ? { syncing_nodes } : {}),
    ...(joining_nodes.length > 0 ? { joining_nodes } : {}),
    ...(leaving_nodes.length > 0 ? { leaving_nodes } : {}),
  });
}

/** Nodes that receive the group's writes: its replicas and the nodes joining it. */
export function writeNodes(g: GroupRecord): string[] {
  const nodes = groupNodes(g);
  return [...nodes, ...g.joining_nodes.filter((id) => !nodes.includes(id))];
}

/** Nodes of the group that serve reads: every node not catching up. */
export function readableNodes(g: GroupRecord): string[] {
  return groupNodes(g).filter((id) => !g.syncing_nodes.includes(id));
}

/** Every node of a group: primary first, then replicas. */
export function groupNodes(g: GroupRecord): string[] {
  return [g.primary_node, ...g.replica_nodes];
}
