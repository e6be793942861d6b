// Shared JetStream plumbing: a connection that keeps retrying (a router or node starts without NATS
// and becomes ready when it appears), and idempotent stream creation.

import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { errorMessage } from "../base/errors.ts";
import type { Logger } from "../ports/logger.ts";
import { sleep, type Clock } from "../ports/clock.ts";
import type { PemSet } from "../base/pem.ts";
import { nodeSubject, streamName } from "./subjects.ts";

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

export class NatsLink {
  nc: NatsConnection | undefined;
  connected = false;
  lastError: string | undefined = "not connected yet";
  private stopped = false;
  private readonly streams = new Set<string>();
  private onConnect: Array<(nc: NatsConnection) => void> = [];

  constructor(readonly url: string, private readonly name: string, private readonly clock: Clock, private readonly logger: Logger, private readonly tls?: PemSet) {}

  start(): void {
    void this.loop();
  }

  whenConnected(cb: (nc: NatsConnection) => void): void {
    if (this.nc !== undefined) cb(this.nc);
    else this.onConnect.push(cb);
  }

  private async loop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped && this.nc === undefined) {
      try {
        const tls = this.tls === undefined ? {} : { tls: { ...(this.tls.ca === undefined ? {} : { ca: this.tls.ca }), ...(this.tls.cert === undefined ? {} : { cert: this.tls.cert, key: this.tls.key ?? "" }) } };
        const nc = await connect({ servers: this.url, name: this.name, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 2_000, ...tls });
        this.nc = nc;
        this.connected = true;
        this.lastError = undefined;
        this.logger.log("info", "queue: connected to NATS", { url: this.url });
        void (async () => {
          for await (const s of nc.status()) {
            if (s.type === "disconnect") {
              this.connected = false;
              this.lastError = `NATS at ${this.url} disconnected`;
              this.logger.log("warn", "queue: NATS disconnected", { url: this.url });
            } else if (s.type === "reconnect") {
              this.connected = true;
              this.lastError = undefined;
              this.logger.log("info", "queue: NATS reconnected", { url: this.url });
            }
          }
        })();
        for (const cb of this.onConnect.splice(0)) cb(nc);
      } catch (e) {
        this.lastError = `NATS at ${this.url} unreachable: ${errorMessage(e)}`;
        this.logger.log("error", "queue: cannot connect to NATS; retrying", { url: this.url, error: errorMessage(e), retry_in_ms: delay });
        await sleep(this.clock, delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /** Creates the node's stream if it does not exist (never changes or deletes an existing one). */
  async ensureStream(jsm: JetStreamManager, nodeId: string): Promise<void> {
    const name = streamName(nodeId);
    if (this.streams.has(name)) return;
    try {
      await jsm.streams.info(name);
    } catch {
      try {
        await jsm.streams.add({ name, subjects: [nodeSubject(nodeId)], storage: StorageType.File, retention: RetentionPolicy.Workqueue });
      } catch (e) {
        // Another router or the node created it in the meantime.
        if (!/already in use|exists/i.test(errorMessage(e))) throw e;
      }
    }
    this.streams.add(name);
  }

  async manager(): Promise<JetStreamManager> {
    if (this.nc === undefined) throw new Error(this.lastError ?? "NATS not connected");
    return jetstreamManager(this.nc);
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.nc !== undefined) await this.nc.drain().catch(() => this.nc?.close());
  }
}
