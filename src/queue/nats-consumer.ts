// Node side of the queue: one durable consumer on this node's stream, created once and never deleted
// at start (a restarted node resumes where it stopped). A message is acked only after its points are
// in an fsynced WAL record; several messages are in flight at once so they share group commits.
// Redeliveries and duplicates are harmless: the router stamped inserted_at, and LWW is idempotent.

import { AckPolicy, DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { errorMessage, SoltixError } from "../base/errors.ts";
import type { DeleteTarget } from "../rpc/deletes.ts";
import type { PemSet } from "../base/pem.ts";
import type { Logger } from "../ports/logger.ts";
import { sleep, type Clock, type Timer } from "../ports/clock.ts";
import { applyQueuedBatch } from "./apply.ts";
import { NatsLink } from "./jetstream.ts";
import { HEADER_ACK_TO, HEADER_BATCH, durableName, nodeSubject, streamName } from "./subjects.ts";

/**
 * Messages being applied at once (they share WAL fsyncs), and pulled ahead of them. Kept small: a
 * pulled message's ack_wait runs while it waits its turn, and under load 64 + 64 of them (each up to
 * a few thousand points) took longer than ack_wait to apply — a third of them were redelivered and
 * applied twice (cluster bench), feeding the overload.
 */
const IN_FLIGHT_MAX = 16;
// Unacked messages of a crashed node come back after this; redelivery is harmless (idempotent).
const ACK_WAIT_NS = 5_000_000_000;
/** A message still being applied tells the server so (+WPI) this often, so it is not redelivered meanwhile. */
const WORKING_EVERY_MS = ACK_WAIT_NS / 1_000_000 / 2;

export interface ConsumerStats {
  applied: number;
  points: number;
  redelivered: number;
  rejected: number;
}

export class NatsConsumer {
  readonly link: NatsLink;
  readonly stats: ConsumerStats = { applied: 0, points: 0, redelivered: 0, rejected: 0 };
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  subscribed = false;

  constructor(
    url: string,
    private readonly nodeId: string,
    private readonly target: DeleteTarget,
    private readonly stamp: () => bigint,
    private readonly clock: Clock,
    private readonly logger: Logger,
    tls?: PemSet,
  ) {
    this.link = new NatsLink(url, `soltix-node-${nodeId}`, clock, logger, tls);
  }

  start(): void {
    this.link.whenConnected(() => void this.run());
    this.link.start();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const jsm = await this.link.manager();
        await this.link.ensureStream(jsm, this.nodeId);
        const stream = streamName(this.nodeId);
        const durable = durableName(this.nodeId);
        try {
          await jsm.consumers.info(stream, durable);
        } catch {
          await jsm.consumers.add(stream, {
            durable_name: durable,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            filter_subject: nodeSubject(this.nodeId),
            ack_wait: ACK_WAIT_NS,
            max_ack_pending: 4 * IN_FLIGHT_MAX,
          });
          this.logger.log("info", "queue: durable consumer created", { stream, durable });
        }
        const consumer = await jetstream(this.link.nc!).consumers.get(stream, durable);
        this.messages = await consumer.consume({ max_messages: IN_FLIGHT_MAX });
        this.subscribed = true;
        const inFlight = new Set<Promise<void>>();
        for await (const m of this.messages) {
          const p = this.apply(m).finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= IN_FLIGHT_MAX) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      } catch (e) {
        this.subscribed = false;
        if (this.stopped) return;
        this.logger.log("error", "queue: consumer failed; restarting", { error: errorMessage(e) });
        await sleep(this.clock, 1000);
      }
    }
  }

  private async apply(m: JsMsg): Promise<void> {
    if (m.redelivered) this.stats.redelivered++;
    let timer: Timer | undefined;
    const working = () => {
      timer = this.clock.setTimer(WORKING_EVERY_MS, () => {
        m.working();
        working();
      });
    };
    working();
    let outcome;
    try {
      outcome = await applyQueuedBatch(m.data, this.target, this.stamp);
    } finally {
      timer?.cancel();
    }
    if (outcome.kind === "rejected") {
      this.stats.rejected++;
      this.logger.log("error", "queue: rejecting undecodable message", { seq: m.seq, error: outcome.error });
      m.term();
      return;
    }
    if (outcome.kind === "retry") {
      this.logger.log("error", "queue: write failed; message will be redelivered", { seq: m.seq, error: outcome.error });
      m.nak(1000);
      return;
    }
    m.ack();
    this.stats.applied++;
    this.stats.points += outcome.points.length;
    const ackTo = m.headers?.get(HEADER_ACK_TO);
    const batch = m.headers?.get(HEADER_BATCH);
    if (ackTo && batch && this.link.nc !== undefined) {
      this.link.nc.publish(ackTo, JSON.stringify({ batch, node: this.nodeId }));
    }
  }

  /** Messages of this node's stream not yet applied and acknowledged (pending + delivered unacked). */
  async backlog(): Promise<number> {
    const jsm = await this.link.manager();
    const info = await jsm.consumers.info(streamName(this.nodeId), durableName(this.nodeId));
    return info.num_pending + info.num_ack_pending;
  }

  problem(): string | undefined {
    if (!this.link.connected) return this.link.lastError ?? "NATS not connected";
    if (!this.subscribed) return "queue consumer not subscribed yet";
    return undefined;
  }

  async close(): Promise<void> {
    this.stopped = true;
    try {
      await this.messages?.close();
    } catch (e) {
      throw new SoltixError("internal", `closing the consumer: ${errorMessage(e)}`);
    } finally {
      await this.link.close();
    }
  }
}
