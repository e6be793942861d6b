// A TreeSource over a tree in this process (tests, and the local side of every comparison).

import { answerChildren, filterAgainstKnown, type ExpandRequest, type Expansion, type TreeSource } from "./diff.ts";
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
        if (r.wantChildren) {
          out.children = tree.children(d, i);
          if (r.mine !== undefined) {
            const a = answerChildren(tree.children(d, i), r.mine, d + 1, tree.shape.depthMax, (c) => tree.children(d + 1, i * tree.shape.fanout + c));
            out.children = a.children;
            out.grandchildren = a.grandchildren;
          }
        }
        if (r.wantPoints) {
          const pts = tree.points(d, i);
          if (r.known === undefined) out.points = pts;
          else {
            const f = filterAgainstKnown(pts, r.known.map((k) => k.version));
            out.points = f.points;
            out.missing = f.missing;
          }
        }
        return out;
      }),
  };
}
