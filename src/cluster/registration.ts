// Node registration: /soltix/nodes/<id> on a 10 s lease, kept alive, created only if absent — a key
// held by another live process is never overwritten (its holder is named; a holder that does not
// answer is waited out until its lease expires). The node watches its own key: if the lease is lost
// (a pause longer than the TTL, a partition) or the key is deleted, it registers again by itself, and
// `status` says the truth meanwhile. Retried with backoff while the store is unreachable (a node never
// crashes for that). Call only once the RPC server is listening, so whoever reads the record can dial it.

import { errorMessage } from "../base/errors.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock, Timer } from "../ports/clock.ts";
import { nodeKey } from "./keys.ts";
import { parseNodeRecord, type NodeRecord } from "./records.ts";

export const NODE_LEASE_TTL_SECONDS = 10;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
/** While the key is held by a process that does not answer, look again this often (its lease runs out). */
const HOLDER_RECHECK_MS = 1_000;
/** Beyond its TTL, how long a silent holder's record may stay before it counts as kept alive. */
const HOLDER_GRACE_MS = 2_000;

export interface RegistrationStatus {
  registered: boolean;
  lastError: string | undefined;
  attempts: number;
  /** Set while the id is held by another live process (a second start with this node.id). */
  conflict: string | undefined;
}

/**
 * Asks the process named by a record whether it is that process: "alive" (same id and instance),
 * "gone" (its address answers as someone else: it is dead), or "no answer" (dead, paused or cut off).
 */
export type HolderProbe = (record: NodeRecord) => Promise<"alive" | "gone" | "no answer">;

export class NodeRegistration {
  readonly status: RegistrationStatus = { registered: false, lastError: undefined, attempts: 0, conflict: undefined };
  private stopped = false;
  private revoke: (() => Promise<void>) | undefined;
  private wake: (() => void) | undefined;
  private readonly firstOutcome: Promise<void>;
  private settleFirst: { ok: () => void; fail: (e: Error) => void } | undefined;

  constructor(
    private readonly store: MetadataStore,
    private readonly record: () => NodeRecord,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly probe: HolderProbe,
    /** Called when another live process holds the id (this one must stop acting as the node: e.g. consuming its queue). */
    private readonly onConflict: () => void = () => {},
    private readonly ttlSeconds = NODE_LEASE_TTL_SECONDS,
  ) {
    this.firstOutcome = new Promise<void>((ok, fail) => {
      this.settleFirst = { ok, fail };
    });
    this.firstOutcome.catch(() => {});
  }

  /**
   * Registers in the background until stop(). Resolves once registered — or once registering must
   * wait (the store is unreachable, or the key's holder does not answer and its lease has to run
   * out): registration keeps trying. Rejects when a live process holds the id.
   */
  start(): Promise<void> {
    void this.loop();
    return this.firstOutcome;
  }

  private first(e?: Error): void {
    const s = this.settleFirst;
    this.settleFirst = undefined;
    if (s === undefined) return;
    if (e === undefined) s.ok();
    else s.fail(e);
  }

  /** Sleeps `ms` on the clock, or until woken (stop, or a change of our key). */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      let t: Timer | undefined = this.clock.setTimer(ms, () => {
        t = undefined;
        r();
      });
      this.wake = () => {
        t?.cancel();
        r();
      };
    });
  }

  private async loop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    const key = nodeKey(this.record().id);
    let heldSince: { rev: bigint; atMs: number } | undefined;
    while (!this.stopped) {
      this.status.attempts++;
      let stopWatch: (() => Promise<void>) | undefined;
      try {
        const lease = await this.store.grantLease(this.ttlSeconds);
        const me = this.record();
        const ended = new Promise<string>((resolve) => {
          lease.onLost((why) => resolve(`lease lost: ${why}`));
          this.wake = () => resolve("woken");
        });
        // Watch our key first, so a deletion or takeover right after the create is not missed.
        let lostKey: ((why: string) => void) | undefined;
        const keyGone = new Promise<string>((resolve) => (lostKey = resolve));
        stopWatch = await this.store.watchPrefix(key, (e) => {
          if (e.key !== key) return;
          if (e.type === "delete") lostKey?.("our registration key was deleted");
          else {
            try {
              const r = parseNodeRecord(e.value);
              if (r.instance !== me.instance) lostKey?.(`our registration key was overwritten by another process (${r.address})`);
            } catch {
              lostKey?.("our registration key was overwritten with a malformed record");
            }
          }
        });
        if (!(await lease.create(key, JSON.stringify(me)))) {
          await lease.revoke().catch(() => {});
          await stopWatch();
          stopWatch = undefined;
          const held = await this.store.get(key);
          if (held === undefined) continue; // gone in the meantime: try again at once
          let holder: NodeRecord | undefined;
          try {
            holder = parseNodeRecord(held.value);
          } catch {
            holder = undefined;
          }
          if (holder !== undefined && holder.instance !== "" && holder.instance === me.instance) {
            // Our own earlier registration (a lease we gave up on): replace it.
            if (!(await this.store.compareAndDelete(key, held.modRevision))) await this.pause(HOLDER_RECHECK_MS);
            continue;
          }
          const probed = holder === undefined ? "no answer" : await this.probe(holder).catch(() => "no answer" as const);
          // A holder that does not answer is alive exactly when its lease outlives its TTL: the
          // same record (revision) still there a TTL later was kept alive by a running process.
          if (heldSince === undefined || heldSince.rev !== held.modRevision) heldSince = { rev: held.modRevision, atMs: this.clock.monotonicMs() };
          const outlived = this.clock.monotonicMs() - heldSince.atMs > this.ttlSeconds * 1000 + HOLDER_GRACE_MS;
          this.status.registered = false;
          if (probed === "alive" || outlived) {
            const how = probed === "alive" ? "answers" : `does not answer but has kept its lease alive for more than ${this.ttlSeconds} s`;
            this.status.conflict =
              `node id ${me.id} is already registered by a live process at ${holder?.address ?? "?"} (instance ${holder?.instance || "?"}, since ${holder?.updated_at ?? "?"}; it ${how}); ` +
              `this process (${me.address}) will not take it over. Give this node its own --node.id, or stop the other process`;
            this.status.lastError = this.status.conflict;
            this.logger.log("error", "cluster: node id held by a live process", { key, holder: holder?.address, error: this.status.conflict });
            this.first(new Error(this.status.conflict));
            this.onConflict();
          } else {
            this.status.conflict = undefined;
            this.status.lastError = `waiting for the previous registration of ${me.id} (${holder?.address ?? "malformed record"}, not answering) to expire with its lease`;
            if (probed === "gone") {
              // Our own predecessor (kill -9, then a restart): its lease would take up to a TTL to
              // expire; remove exactly the record we judged (CAS on its revision) and register now.
              if (await this.store.compareAndDelete(key, held.modRevision)) {
                this.logger.log("info", "cluster: removed the registration of a previous process that is gone", { key, holder: holder?.address });
                continue;
              }
            }
            this.logger.log("warn", "cluster: node key held by a process that does not answer; waiting for its lease to expire", { key, holder: holder?.address, probe: probed });
          }
          await this.pause(HOLDER_RECHECK_MS);
          continue;
        }
        this.revoke = () => lease.revoke();
        this.status.registered = true;
        this.status.conflict = undefined;
        this.status.lastError = undefined;
        delay = RETRY_MIN_MS;
        this.logger.log("info", "cluster: node registered", { key, lease: lease.id, instance: me.instance });
        this.first();
        const reason = await Promise.race([ended, keyGone]);
        this.status.registered = false;
        this.revoke = undefined;
        await stopWatch();
        stopWatch = undefined;
        await lease.revoke().catch(() => {});
        if (this.stopped) return;
        this.status.lastError = `${reason}; registering again`;
        this.logger.log("warn", "cluster: registration lost; registering again", { reason });
      } catch (e) {
        await stopWatch?.().catch(() => {});
        this.status.registered = false;
        this.status.lastError = errorMessage(e);
        this.logger.log("error", "cluster: cannot register node; retrying", { error: this.status.lastError, retry_in_ms: delay });
        this.first(); // unreachable store: the node serves and keeps trying
        await this.pause(delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
    this.first();
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
