// Node registration: /soltix/nodes/<id> on a 10 s lease, kept alive, re-created if the lease is lost,
// retried with backoff while the metadata store is unreachable (a node never crashes for that). Call
// only once the RPC server is listening, so whoever reads the record can dial it.

import { errorMessage } from "../base/errors.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import { nodeKey } from "./keys.ts";
import type { NodeRecord } from "./records.ts";

export const NODE_LEASE_TTL_SECONDS = 10;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

export interface RegistrationStatus {
  registered: boolean;
  lastError: string | undefined;
  attempts: number;
}

export class NodeRegistration {
  readonly status: RegistrationStatus = { registered: false, lastError: undefined, attempts: 0 };
  private stopped = false;
  private revoke: (() => Promise<void>) | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: MetadataStore,
    private readonly record: () => NodeRecord,
    private readonly logger: Logger,
    private readonly ttlSeconds = NODE_LEASE_TTL_SECONDS,
  ) {}

  /** Registers in the background until stop(); resolves once the first registration succeeded or stop() was called. */
  start(): Promise<void> {
    return new Promise((firstDone) => void this.loop(firstDone));
  }

  private async loop(firstDone: () => void): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      this.status.attempts++;
      try {
        const lease = await this.store.grantLease(this.ttlSeconds);
        const lost = new Promise<string>((resolve) => {
          lease.onLost(resolve);
          this.wake = () => resolve("stopping");
        });
        await lease.put(nodeKey(this.record().id), JSON.stringify(this.record()));
        this.revoke = () => lease.revoke();
        this.status.registered = true;
        this.status.lastError = undefined;
        delay = RETRY_MIN_MS;
        this.logger.log("info", "cluster: node registered", { key: nodeKey(this.record().id), lease: lease.id });
        firstDone();
        const reason = await lost;
        this.status.registered = false;
        if (this.stopped) return;
        this.status.lastError = `lease lost: ${reason}`;
        this.logger.log("warn", "cluster: registration lease lost; registering again", { reason });
      } catch (e) {
        this.status.registered = false;
        this.status.lastError = errorMessage(e);
        this.logger.log("error", "cluster: cannot register node; retrying", { error: this.status.lastError, retry_in_ms: delay });
        await new Promise<void>((r) => {
          const t = setTimeout(r, delay);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
    firstDone();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (this.revoke !== undefined) {
      try {
        await this.revoke();
      } catch (e) {
        this.logger.log("warn", "cluster: lease revoke failed (it expires by itself)", { error: errorMessage(e) });
      }
    }
  }
}
