// The membership planner against its contract, by applying its decisions until nothing changes
// (each move completing at once): placement ends at rendezvous over the members, no step takes a
// group below the factor in copies that count, at most maxConcurrentMoves groups move at once, and
// stuck moves are cancelled.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { desiredNodes, planMoves, type PlannedChange } from "../../src/cluster/planner.ts";
import { groupNodes, type GroupRecord } from "../../src/cluster/records.ts";
import { placeGroup } from "../../src/cluster/placement.ts";

const rec = (group: number, nodes: string[]): GroupRecord => ({
  group_id: group, primary_node: nodes[0]!, replica_nodes: nodes.slice(1), state: "active", epoch: 1, updated_at: "", syncing_nodes: [], joining_nodes: [], leaving_nodes: [],
});

/** Applies a plan: a started move completes (join replaces leave); a drop removes; a cancel undoes. */
function apply(groups: Map<number, GroupRecord>, plan: PlannedChange[]): void {
  for (const c of plan) {
    const g = groups.get(c.group)!;
    const nodes = groupNodes(g);
    if (c.kind === "start") groups.set(c.group, rec(c.group, [...nodes.filter((n) => n !== c.leave), c.join]));
    else if (c.kind === "drop") groups.set(c.group, rec(c.group, nodes.filter((n) => n !== c.leave)));
    else groups.set(c.group, { ...g, joining_nodes: [], leaving_nodes: [] });
  }
}

describe("membership planner", () => {
  test("converges to rendezvous over the members; never below the factor; at most maxConcurrentMoves per round (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 40 }),
        (factor, before, added, lost, maxMoves, groupCount) => {
          const old = Array.from({ length: before }, (_, i) => `n${i}`);
          // Groups placed on the old nodes; then `added` nodes join and `lost` of the old ones die.
          const groups = new Map<number, GroupRecord>();
          for (let g = 0; g < groupCount; g++) groups.set(g, rec(g, placeGroup(g, old, factor)));
          const deadNodes = old.slice(0, Math.min(lost, before - 1));
          const members = [...old.filter((n) => !deadNodes.includes(n)), ...Array.from({ length: added }, (_, i) => `new${i}`)];
          const live = new Set(members);
          const dead = new Set(deadNodes);
          for (let round = 0; round < 200; round++) {
            const all = planMoves({ groups: [...groups.values()], members, live, dead, factor, maxConcurrentMoves: maxMoves });
            // A group no node can help is reported, never silently left: only when the members are too few.
            for (const c of all) if (c.kind === "blocked") expect(members.length).toBeLessThan(factor);
            const plan = all.filter((c) => c.kind !== "blocked");
            if (plan.length === 0) break;
            expect(plan.filter((c) => c.kind === "start").length).toBeLessThanOrEqual(maxMoves);
            for (const c of plan) {
              const g = groups.get(c.group)!;
              const counted = groupNodes(g).filter((n) => !dead.has(n)).length;
              if (c.kind === "start") expect(live.has(c.join)).toBe(true);
              // A change never lowers the copies that count below the factor (or below what there was).
              const after = c.kind === "start" ? counted + 1 - (c.leave !== undefined && !dead.has(c.leave) ? 1 : 0) : c.kind === "drop" ? counted - (dead.has(c.leave) ? 0 : 1) : counted;
              expect(after).toBeGreaterThanOrEqual(Math.min(counted, factor));
            }
            apply(groups, plan);
          }
          const rest = planMoves({ groups: [...groups.values()], members, live, dead, factor, maxConcurrentMoves: maxMoves });
          expect(rest.filter((c) => c.kind !== "blocked")).toEqual([]);
          expect(rest.length).toBe(members.length < factor ? groups.size : 0);
          for (const g of groups.values()) {
            const want = desiredNodes(g.group_id, members, factor);
            expect(new Set(groupNodes(g))).toEqual(new Set(want));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test("fewest live copies first; a move whose joining node died is cancelled; a move in flight counts toward the limit", () => {
    const live = new Set(["a", "b", "c", "d"]);
    const groups = [rec(1, ["a", "b", "c"]), rec(2, ["a"]), rec(3, ["a", "b"])];
    const plan = planMoves({ groups, members: ["a", "b", "c", "d"], live, dead: new Set(), factor: 3, maxConcurrentMoves: 1 });
    expect(plan).toEqual([{ kind: "start", group: 2, join: expect.any(String), leave: undefined, reason: expect.stringContaining("1 of 3 copies") }]);
    const inFlight = { ...rec(3, ["a", "b"]), joining_nodes: ["x"] };
    expect(planMoves({ groups: [inFlight, rec(2, ["a"])], members: ["a", "b", "c", "d"], live, dead: new Set(["x"]), factor: 3, maxConcurrentMoves: 1 })).toEqual([
      { kind: "cancel", group: 3, join: "x", reason: "joining node x is dead" },
      expect.objectContaining({ kind: "start", group: 2 }),
    ]);
    // A move to a desired node counts toward the limit; one whose node placement no longer wants is cancelled.
    const want = desiredNodes(3, ["a", "b", "c", "d"], 3);
    const j = want.find((n) => n !== "a" && n !== "b")!;
    expect(planMoves({ groups: [{ ...rec(3, ["a", "b"]), joining_nodes: [j] }, rec(2, ["a"])], members: ["a", "b", "c", "d"], live, dead: new Set(), factor: 3, maxConcurrentMoves: 1 })).toEqual([]);
    const unwanted = ["a", "b", "c", "d"].find((n) => !want.includes(n))!;
    expect(planMoves({ groups: [{ ...rec(3, want.slice(0, 2)), joining_nodes: [unwanted] }], members: ["a", "b", "c", "d"], live, dead: new Set(), factor: 3, maxConcurrentMoves: 1 })[0]).toEqual({
      kind: "cancel", group: 3, join: unwanted, reason: `placement changed: ${unwanted} is no longer one of the group's desired nodes`,
    });
  });

  test("a node dead by the timeout keeps its slot until a replacement is promoted; a removed one is dropped when nothing can take it", () => {
    // Three members for factor 3, c dead: no node can take c's place.
    const groups = [rec(1, ["a", "b", "c"])];
    const base = { groups, members: ["a", "b"], live: new Set(["a", "b"]), dead: new Set(["c"]), factor: 3, maxConcurrentMoves: 4 };
    // Down past the timeout: c may come back holding writes no other replica has — it is not dropped.
    expect(planMoves({ ...base, removed: new Set() }).map((c) => c.kind)).toEqual(["blocked"]);
    // Removed by the operator (its disk is gone): dropped.
    expect(planMoves({ ...base, removed: new Set(["c"]) })).toEqual([{ kind: "drop", group: 1, leave: "c", reason: "c was removed and no node can take its place" }]);
    // With a node to take its place, the timed-out node is replaced (join d, leave c).
    expect(planMoves({ ...base, members: ["a", "b", "d"], live: new Set(["a", "b", "d"]), removed: new Set() })).toEqual([
      { kind: "start", group: 1, join: "d", leave: "c", reason: "c is dead: replaced by d" },
    ]);
  });
});
