// The membership planner's decisions (DESIGN §10), pure: from the groups' records and what is known
// of the nodes, the changes that bring placement toward the desired one — rendezvous over the member
// nodes — without ever leaving a group with fewer complete copies because of a move. A move adds one
// node to `joining_nodes` (it fills, is verified, then replaces the node in `leaving_nodes`, if any).
// At most `maxConcurrentMoves` groups move at once, fewest live copies first.

import type { GroupRecord } from "./records.ts";
import { groupNodes } from "./records.ts";
import { placeGroup, placementScore } from "./placement.ts";

export interface PlannerInput {
  groups: readonly GroupRecord[];
  /** Nodes that should hold data: registered (or down for less than the dead-node timeout), not decommissioning or removed. */
  members: readonly string[];
  /** Nodes registered now (a move only ever fills a live node). */
  live: ReadonlySet<string>;
  /** Nodes whose copies count for nothing: dead past the timeout (with auto-replace) or removed by the operator. */
  dead: ReadonlySet<string>;
  /**
   * Of the dead, those the operator removed (their disks are gone): only these are dropped from a group
   * when no node can take their place. A node dead by the timeout keeps its slot until a replacement is
   * promoted — it may come back holding writes no other replica has. Default: every dead node.
   */
  removed?: ReadonlySet<string>;
  factor: number;
  maxConcurrentMoves: number;
  /** The id a node is placed as (a replacement takes the replaced node's); default its own. */
  placementOf?: (id: string) => string;
}

export type PlannedChange =
  | { kind: "start"; group: number; join: string; leave: string | undefined; reason: string }
  | { kind: "cancel"; group: number; join: string; reason: string }
  | { kind: "drop"; group: number; leave: string; reason: string }
  /** A group that needs a move no node can take now (reported, so nothing hangs silently). */
  | { kind: "blocked"; group: number; reason: string };

/** The nodes a group should be on. */
export function desiredNodes(group: number, members: readonly string[], factor: number, placementOf?: (id: string) => string): string[] {
  return placeGroup(group, members, factor, placementOf);
}

/** Complete copies of a group that count now: its replicas that are live and not catching up. */
export function liveCopies(g: GroupRecord, live: ReadonlySet<string>): number {
  return groupNodes(g).filter((id) => live.has(id) && !g.syncing_nodes.includes(id)).length;
}

export function planMoves(input: PlannerInput): PlannedChange[] {
  const { members, live, dead, factor } = input;
  const memberSet = new Set(members);
  const out: PlannedChange[] = [];
  let inFlight = 0;
  const candidates: Array<{ g: GroupRecord; copies: number }> = [];
  for (const g of input.groups) {
    if (g.joining_nodes.length > 0) {
      // A move in flight: cancelled only when its joining node will never finish it.
      // Or when placement changed under it (a node replaced, a better-placed node joined): the joining
      // node is no longer one the group should be on.
      const wanted = desiredNodes(g.group_id, members, factor, input.placementOf);
      const stuck = g.joining_nodes.find((id) => dead.has(id) || !memberSet.has(id) || !wanted.includes(id));
      if (stuck !== undefined) {
        const reason = dead.has(stuck) ? `joining node ${stuck} is dead` : !memberSet.has(stuck) ? `joining node ${stuck} is no longer a member` : `placement changed: ${stuck} is no longer one of the group's desired nodes`;
        out.push({ kind: "cancel", group: g.group_id, join: stuck, reason });
      }
      else inFlight++;
      continue;
    }
    candidates.push({ g, copies: liveCopies(g, live) });
  }
  candidates.sort((a, b) => a.copies - b.copies || a.g.group_id - b.g.group_id);
  for (const { g } of candidates) {
    const current = groupNodes(g);
    const desired = desiredNodes(g.group_id, members, factor, input.placementOf);
    // The node to fill: the best-placed desired node not holding the group, registered now.
    const join = desired.find((id) => !current.includes(id) && live.has(id));
    // The node to give up: dead or removed first, then non-members, then the worst-placed surplus.
    const extras = current.filter((id) => !desired.includes(id));
    const rank = (id: string) => (dead.has(id) ? 0 : memberSet.has(id) ? 2 : 1);
    const score = (id: string) => placementScore(g.group_id, input.placementOf?.(id) ?? id);
    extras.sort((a, b) => rank(a) - rank(b) || (score(a) < score(b) ? -1 : 1));
    const counted = current.filter((id) => !dead.has(id)).length;
    if (join !== undefined) {
      if (inFlight >= input.maxConcurrentMoves) continue;
      // Below the factor (counting only copies that are not dead) the new node adds a copy; else it replaces one.
      const leave = counted < factor && !(extras[0] !== undefined && dead.has(extras[0])) ? undefined : extras[0];
      const reason =
        leave === undefined
          ? `${counted} of ${factor} copies: ${join} added`
          : dead.has(leave)
            ? `${leave} is dead: replaced by ${join}`
            : memberSet.has(leave)
              ? `rebalance: ${join} takes ${leave}'s place`
              : `${leave} is leaving the cluster: replaced by ${join}`;
      out.push({ kind: "start", group: g.group_id, join, leave, reason });
      inFlight++;
      continue;
    }
    // Nothing to fill: a surplus copy beyond the factor, or a removed node, is dropped when enough stay.
    // A removed node's slot is kept while a desired member that is down now (a replacement not
    // registered yet) could take it: the move starts once that node registers.
    const removed = input.removed ?? dead;
    const waitingFor = desired.find((id) => !current.includes(id) && !dead.has(id));
    const drop = extras.find((id) => (removed.has(id) && waitingFor === undefined) || current.length > factor);
    if (drop !== undefined && current.length > 1 && ((removed.has(drop) && waitingFor === undefined) || counted - 1 >= factor)) {
      out.push({ kind: "drop", group: g.group_id, leave: drop, reason: removed.has(drop) ? `${drop} was removed and no node can take its place` : `${current.length} copies, factor ${factor}: ${drop} dropped` });
      continue;
    }
    // A move is needed (too few copies, or a node leaving holds one) and no registered node can take it.
    const leaving = current.find((id) => !memberSet.has(id) && !dead.has(id));
    if (counted < factor || leaving !== undefined) {
      const down = desired.filter((id) => !current.includes(id) && !live.has(id));
      const why = down.length > 0 ? `${down.join(", ")} (desired) not registered` : `only ${members.length} member node(s) for replication.factor ${factor}`;
      out.push({ kind: "blocked", group: g.group_id, reason: `${leaving !== undefined ? `${leaving} is leaving` : `${counted} of ${factor} copies`}; no node can take a copy now: ${why}` });
    }
  }
  return out;
}
