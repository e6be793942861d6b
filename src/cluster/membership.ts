// Membership records (DESIGN §10): what an operator decided about a node, at /soltix/membership/<id>.
// A node without a record is a member once registered. `decommissioning`: its groups move away, then
// it is `decommissioned` (holds nothing); `removed`: a dead node whose copies count for nothing;
// `active` with `placement_id`: a node that took a replaced node's place (rendezvous scores it as that
// node, so it gets exactly the groups the old one had). Strict parsers, as for every record.

import { SoltixError } from "../base/errors.ts";

export type MembershipState = "active" | "decommissioning" | "decommissioned" | "removed";

export interface MembershipRecord {
  node_id: string;
  state: MembershipState;
  /** The id this node is placed as (rendezvous): a replaced node's, or "" = its own. */
  placement_id: string;
  /** For a removed node replaced by another: that node. */
  replaced_by: string;
  reason: string;
  updated_at: string;
}

const STATES: readonly MembershipState[] = ["active", "decommissioning", "decommissioned", "removed"];

export function parseMembershipRecord(text: string): MembershipRecord {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SoltixError("data_loss", `metadata membership record is malformed (not JSON): ${text.slice(0, 200)}`);
  }
  if (typeof o.node_id !== "string" || !STATES.includes(o.state as MembershipState)) {
    throw new SoltixError("data_loss", `metadata membership record is malformed (node_id/state): ${text.slice(0, 200)}`);
  }
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
  return { node_id: o.node_id, state: o.state as MembershipState, placement_id: str("placement_id"), replaced_by: str("replaced_by"), reason: str("reason"), updated_at: str("updated_at") };
}

export function membershipJson(m: MembershipRecord): string {
  return JSON.stringify(m);
}

/** A move in progress as the joining node reports it (/soltix/moves/<group>). */
export interface MoveProgress {
  group_id: number;
  join: string;
  leave: string;
  source: string;
  /** fill (streaming windows from the source) | verify (every window compared with every live replica) | promote */
  phase: string;
  windows_done: number;
  windows_total: number;
  /** Windows this attempt found already held (a resumed move): compared by root, not fetched again. */
  windows_skipped: number;
  bytes: number;
  points: number;
  rate_bytes_per_sec: number;
  /** -1 = unknown */
  eta_seconds: number;
  attempts: number;
  error: string;
  started_at: string;
  updated_at: string;
}

export function parseMoveProgress(text: string): MoveProgress {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SoltixError("data_loss", `metadata move record is malformed (not JSON): ${text.slice(0, 200)}`);
  }
  if (typeof o.group_id !== "number" || typeof o.join !== "string") throw new SoltixError("data_loss", `metadata move record is malformed (group_id/join): ${text.slice(0, 200)}`);
  const num = (k: string, d = 0) => (typeof o[k] === "number" ? (o[k] as number) : d);
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
  return {
    group_id: o.group_id, join: o.join, leave: str("leave"), source: str("source"), phase: str("phase"),
    windows_done: num("windows_done"), windows_total: num("windows_total"), windows_skipped: num("windows_skipped"), bytes: num("bytes"), points: num("points"),
    rate_bytes_per_sec: num("rate_bytes_per_sec"), eta_seconds: num("eta_seconds", -1), attempts: num("attempts"), error: str("error"),
    started_at: str("started_at"), updated_at: str("updated_at"),
  };
}
