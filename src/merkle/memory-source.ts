// A TreeSource over a tree in this process (tests, and the local side of every comparison).

import type { ExpandRequest, Expansion, TreeSource } from "./diff.ts";
import { depthOfId, indexOfId } from "./shape.ts";
import type { NodeSummary, WindowTree } from "./tree.ts";

export function treeSource(tree: WindowTree): TreeSource {
  return {
    root: async (): Promise<NodeSummary> => tree.root(),
    expand: async (requests: readonly ExpandRequest[]): Promise<Expansion[]> =>
      requests.map((r) => {
        const d = depthOfId(r.id);
        const i = indexOfId(r.id);
        const out: Expansion = {};
        if (r.wantChildren) out.children = tree.children(d, i);
        if (r.wantPoints) out.points = tree.points(d, i);
        return out;
      }),
  };
}
