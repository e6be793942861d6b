// The promotion CAS of a move (sync/group-mover.ts promote): the joiner becomes a replica and the
// leaving node leaves — unless another node of the group died meanwhile: then the joiner takes the dead
// node's place and the live leaving node keeps its copy, so no promotion ever lowers the live copies.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { promote } from "../../src/sync/group-mover.ts";
import { groupNodes, type GroupRecord } from "../../src/cluster/records.ts";

const record = (nodes: string[], join: string, leave: string[]): GroupRecord => ({
  group_id: 7, primary_node: nodes[0]!, replica_nodes: nodes.slice(1), state: "active", epoch: 3, updated_at: "", syncing_nodes: [], joining_nodes: [join], leaving_nodes: leave,
});

describe("promote", () => {
  test("the joiner replaces the leaving node", () => {
    const g = promote(record(["a", "b", "c"], "d", ["b"]), "d")!;
    expect(groupNodes(g)).toEqual(["a", "c", "d"]);
    expect(g.joining_nodes).toEqual([]);
    expect(g.leaving_nodes).toEqual([]);
  });

  test("a node no longer joining is not promoted (the move was cancelled)", () => {
    expect(promote({ ...record(["a", "b", "c"], "d", ["b"]), joining_nodes: [] }, "d")).toBeUndefined();
  });

  test("a node of the group died meanwhile: the joiner takes its place, the live leaving node stays", () => {
    const g = promote(record(["a", "b", "c", "e"], "d", ["b"]), "d", new Set(["e"]))!;
    expect(groupNodes(g).sort()).toEqual(["a", "b", "c", "d"]);
  });

  test("property: live copies never drop below what the record had, and the joiner is always in", () => {
    const ids = ["a", "b", "c", "d", "e", "f", "g"];
    fc.assert(
      fc.property(fc.shuffledSubarray(ids, { minLength: 2 }), fc.subarray(ids), fc.nat(), (order, deadList, li) => {
        const nodes = order.slice(0, -1);
        const join = order[order.length - 1]!;
        const leave = [nodes[li % nodes.length]!];
        const dead = new Set(deadList.filter((id) => id !== join));
        const before = nodes.filter((id) => !dead.has(id)).length;
        const g = promote(record(nodes, join, leave), join, dead)!;
        const after = groupNodes(g).filter((id) => !dead.has(id));
        expect(groupNodes(g)).toContain(join);
        expect(groupNodes(g).length).toBe(nodes.length);
        // The joiner adds a live copy; at most one live copy (the leaving node's) goes, and only when no dead one could go instead.
        const deadHeld = nodes.some((id) => dead.has(id) && !leave.includes(id));
        expect(after.length).toBeGreaterThanOrEqual(before + 1 - (deadHeld || dead.has(leave[0]!) ? 0 : 1));
      }),
      { numRuns: 500 },
    );
  });
});
