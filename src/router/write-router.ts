// The router's write path: stamp every point once (inserted_at, so all replicas hold the same
// version), split by group, encode each group's batch once, deliver it to every node of the group,
// and answer when each group has the acknowledgements the replication policy asks for. Deliveries
// past that point continue in the background; a node that misses one is repaired by sync.

import { create, toBinary } from "@bufbuild/protobuf";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { groupOf } from "../model/group.ts";
import type { Point } from "../model/point.ts";
import { pointToProto } from "../rpc/convert.ts";
import { WriteRequestSchema } from "../gen/soltix/v1/storage_pb.ts";
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes } from "../cluster/records.ts";
import type { Logger } from "../ports/logger.ts";
import type { Delivery, DeliveryMode } from "./delivery.ts";

export interface ReplicationPolicy {
  factor: number;
  strategy: "sync" | "async";
  minReplicasForWrite: number;
  totalGroups: number;
  /** direct: no queue, so both strategies wait for durable node acks. */
  queue: "direct" | "nats";
}

export interface WriteResult {
  accepted: number;
  groups: number;
  minAcks: number;
}

/** How many acknowledgements a group of `nodes` nodes needs, and of which kind. */
export function ackRequirement(p: ReplicationPolicy, nodes: number): { need: number; mode: DeliveryMode } {
  if (p.queue === "nats" && p.strategy === "async") return { need: nodes, mode: "accepted" };
  return { need: Math.min(p.minReplicasForWrite, nodes), mode: "durable" };
}

export class WriteRouter {
  private seq = 0;
  private readonly instance = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  readonly stats = { batches: 0, points: 0, deliveryFailures: 0 };

  constructor(
    private readonly view: ClusterView,
    private readonly delivery: Delivery,
    private readonly policy: ReplicationPolicy,
    private readonly logger: Logger,
  ) {}

  async write(points: readonly Point[]): Promise<WriteResult> {
    const byGroup = new Map<number, Point[]>();
    for (const p of points) {
      const g = groupOf(p.database, p.collection, p.id, this.policy.totalGroups);
      const list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, [p]);
      else list.push(p);
    }
    const acks = await Promise.all([...byGroup].map(([g, ps]) => this.writeGroup(g, ps)));
    this.stats.batches++;
    this.stats.points += points.length;
    return { accepted: points.length, groups: byGroup.size, minAcks: Math.min(...acks) };
  }

  private async writeGroup(groupId: number, points: Point[]): Promise<number> {
    const record = await this.view.group(groupId, this.policy.factor);
    const nodeIds = groupNodes(record);
    const body = toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: points.map(pointToProto) }));
    const batchId = `${this.instance}-${++this.seq}-g${groupId}`;
    const { need, mode } = ackRequirement(this.policy, nodeIds.length);
    return new Promise<number>((resolve, reject) => {
      let ok = 0;
      let failed = 0;
      let done = false;
      const errors: string[] = [];
      const settle = () => {
        if (done) return;
        if (ok >= need) {
          done = true;
          resolve(ok);
        } else if (nodeIds.length - failed < need && ok + failed === nodeIds.length) {
          // Report only once every attempt has settled, so the counts say what was really stored.
          done = true;
          reject(
            new SoltixError(
              "unavailable",
              `group ${groupId}: ${ok} of ${nodeIds.length} nodes acknowledged, ${need} needed (${mode}); not acknowledged: ${errors.join("; ")}`,
            ),
          );
        }
      };
      for (const id of nodeIds) {
        const node = this.view.node(id);
        const attempt =
          node === undefined
            ? Promise.reject(new SoltixError("unavailable", `node ${id} is not registered`))
            : this.delivery.deliver(node, batchId, body, mode);
        attempt.then(
          () => {
            ok++;
            settle();
          },
          (e: unknown) => {
            failed++;
            this.stats.deliveryFailures++;
            errors.push(errorMessage(e));
            if (done) this.logger.log("warn", "router: delivery failed after the write was acknowledged; sync will repair", { group: groupId, node: id, error: errorMessage(e) });
            settle();
          },
        );
      }
      settle();
    });
  }
}
