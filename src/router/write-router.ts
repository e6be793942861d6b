// The router's write path: stamp every point once (inserted_at, so all replicas hold the same
// version), split by group, encode each group's batch once, deliver it to every node of the group,
// and answer when each group has the acknowledgements the replication policy asks for. Deliveries
// past that point continue in the background; a node that misses one is repaired by sync.

import { SoltixError, errorMessage } from "../base/errors.ts";
import { groupOf } from "../model/group.ts";
import type { Point } from "../model/point.ts";
import { writeRequestBody, writeRequestEntry } from "./wire.ts";
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

/** A point ready to fan out: its group and its `points` entry of a WriteRequest (tag, length, bytes). */
export interface RoutedPoint {
  group: number;
  entry: Uint8Array;
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

  /** Routes validated, stamped core points (the JSON API). */
  write(points: readonly Point[]): Promise<WriteResult> {
    return this.writeRouted(points.map((p) => ({ group: groupOf(p.database, p.collection, p.id, this.policy.totalGroups), entry: writeRequestEntry(p) })));
  }

  /** Routes points already encoded as WriteRequest entries (validated and stamped). */
  async writeRouted(points: readonly RoutedPoint[]): Promise<WriteResult> {
    const byGroup = new Map<number, Uint8Array[]>();
    for (const p of points) {
      const list = byGroup.get(p.group);
      if (list === undefined) byGroup.set(p.group, [p.entry]);
      else list.push(p.entry);
    }
    // One delivery per node, holding every group it serves: a batch costs (nodes) messages, not
    // (groups × replicas). Each point is encoded once.
    const records = await Promise.all([...byGroup.keys()].map((g) => this.view.group(g, this.policy.factor)));
    const perNode = new Map<string, Uint8Array[]>();
    const groupsOfNode = new Map<string, number[]>();
    const requirements: Array<{ group: number; nodes: string[]; need: number }> = [];
    let mode: DeliveryMode = "durable";
    records.forEach((record) => {
      const nodes = groupNodes(record);
      const req = ackRequirement(this.policy, nodes.length);
      mode = req.mode;
      requirements.push({ group: record.group_id, nodes, need: req.need });
      const entries = byGroup.get(record.group_id)!;
      for (const id of nodes) {
        const list = perNode.get(id);
        if (list === undefined) perNode.set(id, [...entries]);
        else for (const e of entries) list.push(e);
        const gs = groupsOfNode.get(id);
        if (gs === undefined) groupsOfNode.set(id, [record.group_id]);
        else gs.push(record.group_id);
      }
    });
    const batchId = `${this.instance}-${++this.seq}`;
    const outcome = new Map<string, { ok: boolean; error?: string }>();
    const minAcks = await new Promise<number>((resolve, reject) => {
      let done = false;
      const check = () => {
        if (done) return;
        let allMet = true;
        let min = Infinity;
        const hopeless: string[] = [];
        for (const r of requirements) {
          let ok = 0;
          let settled = 0;
          for (const id of r.nodes) {
            const o = outcome.get(id);
            if (o !== undefined) settled++;
            if (o?.ok === true) ok++;
          }
          min = Math.min(min, ok);
          if (ok < r.need) {
            allMet = false;
            if (settled === r.nodes.length) {
              const errs = r.nodes.map((id) => outcome.get(id)).filter((o) => o?.ok === false).map((o) => o!.error);
              hopeless.push(`group ${r.group}: ${ok} of ${r.nodes.length} nodes acknowledged, ${r.need} needed (${mode}); not acknowledged: ${errs.join("; ")}`);
            }
          }
        }
        if (allMet) {
          done = true;
          resolve(min);
        } else if (hopeless.length > 0 && outcome.size === perNode.size) {
          // Report once every delivery settled, so the counts say what was really stored.
          done = true;
          reject(new SoltixError("unavailable", hopeless.slice(0, 5).join(" | ") + (hopeless.length > 5 ? ` | … ${hopeless.length - 5} more groups` : "")));
        }
      };
      for (const [id, entries] of perNode) {
        const node = this.view.node(id);
        const attempt =
          node === undefined
            ? Promise.reject(new SoltixError("unavailable", `node ${id} is not registered`))
            : this.delivery.deliver(node, batchId, writeRequestBody(entries), mode);
        attempt.then(
          () => {
            outcome.set(id, { ok: true });
            check();
          },
          (e: unknown) => {
            outcome.set(id, { ok: false, error: errorMessage(e) });
            this.stats.deliveryFailures++;
            if (done) this.logger.log("warn", "router: delivery failed after the write was acknowledged; sync will repair", { node: id, groups: groupsOfNode.get(id)?.length, error: errorMessage(e) });
            check();
          },
        );
      }
      check();
    });
    this.stats.batches++;
    this.stats.points += points.length;
    return { accepted: points.length, groups: byGroup.size, minAcks };
  }
}
