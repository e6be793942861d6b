// The simulated write queue (what JetStream is in production): one durable stream per node, publish
// de-duplicated by batch id, at-least-once delivery to the node's consumer, acknowledged only once
// the node made the batch durable. Faults: a publish lost before it was persisted (the router sees an
// error), and redelivery of an acknowledged message (an ack lost on the way back). The node side is
// the real consumer logic (queue/apply.ts).

import { SoltixError } from "../base/errors.ts";
import type { NodeRecord } from "../cluster/records.ts";
import type { Delivery, DeliveryMode } from "../router/delivery.ts";
import type { QueuedOutcome } from "../queue/apply.ts";
import type { Rng } from "./rng.ts";
import type { Scheduler } from "./scheduler.ts";

/** How long a router waits for a node's durable ack in sync mode (simulated ms). */
export const SIM_DURABLE_ACK_TIMEOUT_MS = 300;

interface QueuedMessage {
  batchId: string;
  body: Uint8Array;
  acked: Array<() => void>;
}

export class SimQueue implements Delivery {
  private readonly streams = new Map<string, { pending: QueuedMessage[]; seen: Set<string> }>();
  faults = { dropPublish: 0, redeliver: 0 };
  readonly stats = { published: 0, droppedPublishes: 0, redelivered: 0, applied: 0 };

  constructor(private readonly sched: Scheduler, private readonly rng: Rng) {}

  private stream(id: string) {
    let s = this.streams.get(id);
    if (s === undefined) this.streams.set(id, (s = { pending: [], seen: new Set() }));
    return s;
  }

  async deliver(node: NodeRecord, batchId: string, body: Uint8Array, mode: DeliveryMode): Promise<void> {
    await this.sched.sleep(this.rng.int(3));
    if (this.rng.chance(this.faults.dropPublish)) {
      this.stats.droppedPublishes++;
      throw new SoltixError("unavailable", `sim queue: publish to ${node.id} lost`);
    }
    const s = this.stream(node.id);
    let m = s.pending.find((x) => x.batchId === batchId);
    if (m === undefined && !s.seen.has(batchId)) {
      s.seen.add(batchId);
      m = { batchId, body: body.slice(), acked: [] };
      s.pending.push(m);
      this.stats.published++;
    }
    if (mode === "accepted" || m === undefined) return; // persisted (PubAck), or already applied
    const msg = m;
    let acked = false;
    await Promise.race([
      new Promise<void>((r) => msg.acked.push(() => ((acked = true), r()))),
      this.sched.sleep(SIM_DURABLE_ACK_TIMEOUT_MS),
    ]);
    if (!acked) throw new SoltixError("unavailable", `sim queue: no durable ack from ${node.id} within ${SIM_DURABLE_ACK_TIMEOUT_MS} ms`);
  }

  problem(): string | undefined {
    return undefined;
  }

  async backlog(nodeId: string): Promise<number> {
    return this.stream(nodeId).pending.length;
  }

  async close(): Promise<void> {}

  /** Messages not yet acknowledged by their node. */
  /** Deletes a node's stream (the operator removed the node: nothing will ever consume it). */
  discard(nodeId: string): void {
    this.streams.delete(nodeId);
  }

  pending(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.pending.length;
    return n;
  }

  /**
   * Hands the oldest unacknowledged message of a node to its consumer; acknowledged (removed) only
   * when the consumer made it durable. Returns the outcome, or undefined when the stream is empty.
   */
  async pumpOnce(nodeId: string, consume: (body: Uint8Array) => Promise<QueuedOutcome>): Promise<QueuedOutcome | undefined> {
    const s = this.stream(nodeId);
    const m = s.pending[0];
    if (m === undefined) return undefined;
    const out = await consume(m.body);
    if (out.kind === "retry") return out; // stays first: redelivered
    s.pending.splice(s.pending.indexOf(m), 1);
    if (out.kind === "applied") {
      this.stats.applied++;
      for (const a of m.acked) a();
      if (this.rng.chance(this.faults.redeliver)) {
        // The ack was lost: the same message comes again (the node applies it twice: LWW is idempotent).
        this.stats.redelivered++;
        s.pending.push({ batchId: m.batchId, body: m.body, acked: [] });
      }
    }
    return out;
  }
}
