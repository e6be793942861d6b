// What the RPC services need from the node: its engine, identity, limits and clock.

import type { Engine } from "../engine/engine.ts";
import type { Clock, VersionStamper } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";
import type { TreeShape } from "../merkle/shape.ts";
import type { DeleteTarget } from "./deletes.ts";

export interface NodeContext extends DeleteTarget {
  readonly nodeId: string;
  readonly engine: Engine;
  readonly totalGroups: number;
  readonly stamper: VersionStamper;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Merkle tree shape used when a request leaves it unset. */
  readonly treeShape: TreeShape;
  /** Told of every refused write or delete, with the error kind as the reason (metrics). */
  readonly ingestRejected?: (reason: string) => void;
  /** Why reads of a group are refused right now (it is catching up after a start), or undefined. */
  readonly readRefusal: (group: number) => string | undefined;
}
