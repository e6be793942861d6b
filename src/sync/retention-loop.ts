// The node's side of retention (DESIGN §11): the policy in force (storage.retention and each
// database's own, from the cluster view), handed to the engine — whose ingest then drops what is
// expired — and a sweep of what is stored every RETENTION_SWEEP_INTERVAL_MS and whenever a
// database's retention changes. Sweeps never overlap.

import type { Engine } from "../engine/engine.ts";
import { RETENTION_SWEEP_INTERVAL_MS, type RetentionPolicy } from "../engine/retention.ts";
import type { ClusterView } from "../cluster/view.ts";
import { parseDurationMs, NS_PER_MS } from "../base/time.ts";
import { errorMessage } from "../base/errors.ts";
import type { Clock, Timer } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";

export class RetentionLoop {
  private view: ClusterView | undefined;
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly engine: Engine, private readonly defaultMs: number, private readonly clock: Clock, private readonly logger: Logger) {}

  /** The policy now: the node's default and every database record's own retention. */
  policy(): RetentionPolicy {
    const byDatabase = new Map<string, bigint>();
    for (const d of this.view?.allDatabases() ?? []) {
      const ms = d.retention === "" ? undefined : parseDurationMs(d.retention);
      if (ms !== undefined) byDatabase.set(d.name, BigInt(Math.round(ms)) * NS_PER_MS);
    }
    return { defaultNs: BigInt(this.defaultMs) * NS_PER_MS, byDatabase };
  }

  /** Applies the policy now: ingest follows it at once, the stored windows once the sweep ends. */
  sweep(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const now = this.clock.nowNs();
        this.engine.setRetention(this.policy(), now);
        try {
          await this.engine.sweepExpired(now);
        } catch (e) {
          this.logger.log("error", "retention: sweep failed; retried on the next interval", { error: errorMessage(e) });
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Follows the cluster's database records from now on, sweeping on every change and every interval. */
  start(view: ClusterView | undefined): void {
    this.view = view;
    this.unsubscribe = view?.onDatabaseChange(() => void this.sweep());
    const tick = () => {
      if (this.stopped) return;
      this.timer = this.clock.setTimer(RETENTION_SWEEP_INTERVAL_MS, () => void this.sweep().finally(tick));
    };
    void this.sweep().finally(tick);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.unsubscribe?.();
    await this.running;
  }
}
