// Router side of the queue: publish each group batch to soltix.write.node.<nodeId> with the batch
// id as JetStream msgID (duplicates within the window are dropped by the server). `accepted` = the
// PubAck; `durable` = additionally the node's confirmation, published to this router's ack subject
// after its WAL fsync.

import { headers, type Subscription } from "@nats-io/nats-core";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { SoltixError, errorMessage } from "../base/errors.ts";
import type { NodeRecord } from "../cluster/records.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock } from "../ports/clock.ts";
import { randomToken, type Rng } from "../ports/rng.ts";
import type { PemSet } from "../base/pem.ts";
import type { Delivery, DeliveryMode } from "../router/delivery.ts";
import { NatsLink } from "./jetstream.ts";
import { HEADER_ACK_TO, HEADER_BATCH, durableName, nodeSubject, streamName } from "./subjects.ts";

const PUBLISH_TIMEOUT_MS = 5_000;
const DURABLE_ACK_TIMEOUT_MS = 10_000;

export class NatsDelivery implements Delivery {
  private js: JetStreamClient | undefined;
  private sub: Subscription | undefined;
  private readonly ackSubject: string;
  private readonly pending = new Map<string, () => void>();

  private constructor(private readonly link: NatsLink, routerId: string, private readonly clock: Clock, rng: Rng) {
    this.ackSubject = `soltix.ack.${routerId.replace(/[^A-Za-z0-9_-]/g, "_")}.${randomToken(rng, 16)}`;
  }

  static async connect(url: string, routerId: string, clock: Clock, rng: Rng, logger: Logger, tls?: PemSet): Promise<NatsDelivery> {
    const link = new NatsLink(url, `soltix-router-${routerId}`, clock, logger, tls);
    const d = new NatsDelivery(link, routerId, clock, rng);
    link.whenConnected((nc) => {
      d.js = jetstream(nc);
      d.sub = nc.subscribe(d.ackSubject);
      void (async () => {
        for await (const m of d.sub!) {
          try {
            const { batch, node } = JSON.parse(new TextDecoder().decode(m.data)) as { batch: string; node: string };
            d.pending.get(`${batch}/${node}`)?.();
          } catch {
            // not ours
          }
        }
      })();
    });
    link.start();
    return d;
  }

  async deliver(node: NodeRecord, batchId: string, body: Uint8Array, mode: DeliveryMode): Promise<void> {
    const js = this.js;
    if (js === undefined || !this.link.connected) throw new SoltixError("unavailable", this.link.lastError ?? "NATS not connected");
    await this.link.ensureStream(await this.link.manager(), node.id);
    // Messages must fit the server's max_payload (1 MiB by default): split on point boundaries.
    const maxBytes = Math.floor((this.link.nc?.info?.max_payload ?? 1024 * 1024) * 0.9);
    const chunks = splitWriteRequest(body, maxBytes);
    await Promise.all(chunks.map((chunk, i) => this.deliverOne(js, node, chunks.length === 1 ? batchId : `${batchId}.${i}`, chunk, mode)));
  }

  private async deliverOne(js: JetStreamClient, node: NodeRecord, batchId: string, body: Uint8Array, mode: DeliveryMode): Promise<void> {
    const h = headers();
    h.set(HEADER_BATCH, batchId);
    let confirmed: Promise<void> | undefined;
    const key = `${batchId}/${node.id}`;
    if (mode === "durable") {
      h.set(HEADER_ACK_TO, this.ackSubject);
      confirmed = new Promise<void>((resolve, reject) => {
        const t = this.clock.setTimer(DURABLE_ACK_TIMEOUT_MS, () => {
          this.pending.delete(key);
          reject(new SoltixError("unavailable", `node ${node.id} did not confirm durability within ${DURABLE_ACK_TIMEOUT_MS} ms (the batch stays queued for it)`));
        });
        this.pending.set(key, () => {
          t.cancel();
          this.pending.delete(key);
          resolve();
        });
      });
      confirmed.catch(() => {});
    }
    try {
      await js.publish(nodeSubject(node.id), body, { msgID: batchId, headers: h, timeout: PUBLISH_TIMEOUT_MS });
    } catch (e) {
      this.pending.delete(key);
      throw new SoltixError("unavailable", `queue did not accept the batch for node ${node.id}: ${errorMessage(e)}`);
    }
    if (confirmed !== undefined) await confirmed;
  }

  /** Messages in the node's stream its consumer has not acknowledged yet (what a down node will apply). */
  async backlog(nodeId: string): Promise<number> {
    const info = await (await this.link.manager()).consumers.info(streamName(nodeId), durableName(nodeId));
    return info.num_pending + info.num_ack_pending;
  }

  problem(): string | undefined {
    return this.link.connected ? undefined : this.link.lastError ?? "NATS not connected";
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    await this.link.close();
  }
}

/** Splits a WriteRequest body (a sequence of `points` entries) into bodies of at most maxBytes each. */
export function splitWriteRequest(body: Uint8Array, maxBytes: number): Uint8Array[] {
  if (body.length <= maxBytes) return [body];
  const out: Uint8Array[] = [];
  let chunkStart = 0;
  let pos = 0;
  while (pos < body.length) {
    const entryStart = pos;
    if (body[pos++] !== 0x0a) throw new SoltixError("internal", "router produced a WriteRequest that is not a sequence of points");
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const b = body[pos++]!;
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    pos += len;
    if (pos - chunkStart > maxBytes && entryStart > chunkStart) {
      out.push(body.subarray(chunkStart, entryStart));
      chunkStart = entryStart;
    }
  }
  out.push(body.subarray(chunkStart));
  return out;
}
