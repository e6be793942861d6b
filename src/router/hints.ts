// Hinted handoff for direct delivery: write batches a node did not take (it is down, paused, or its
// call failed) wait here and are replayed, oldest first, when it answers again — so a node that was
// away for minutes gets what it missed without an anti-entropy run. Bounded: at most `bytesMax` held
// across all nodes (the oldest hints go first when full) and none older than `windowMs` (after that
// the node recovers by its startup sync). A hint lost to either bound is counted, never silent.

import { errorMessage } from "../base/errors.ts";
import type { Clock, Timer } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";

interface Hint {
  batchId: string;
  body: Uint8Array;
  atMs: number;
}

export interface HintStats {
  node: string;
  pending: number;
  bytes: number;
  oldestAgeMs: number;
  dropped: number;
  replayed: number;
  lastError: string;
}

/** Replay backoff between failed attempts (ms). */
const REPLAY_RETRY_MIN_MS = 500;
const REPLAY_RETRY_MAX_MS = 10_000;

export class HintBuffer {
  private readonly queues = new Map<string, Hint[]>();
  private readonly stats = new Map<string, { dropped: number; replayed: number; lastError: string }>();
  private readonly timers = new Map<string, Timer>();
  private readonly replaying = new Set<string>();
  private bytes = 0;
  private closed = false;

  constructor(
    private readonly bytesMax: number,
    private readonly windowMs: number,
    /** Delivers one batch to the node now (its Write RPC); throws when the node did not take it. */
    private readonly send: (node: string, batchId: string, body: Uint8Array) => Promise<void>,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private stat(node: string) {
    let s = this.stats.get(node);
    if (s === undefined) this.stats.set(node, (s = { dropped: 0, replayed: 0, lastError: "" }));
    return s;
  }

  /** Keeps a batch for `node`; replay starts after a short wait. */
  add(node: string, batchId: string, body: Uint8Array, why: string): void {
    if (this.closed) return;
    if (body.length > this.bytesMax) {
      this.stat(node).dropped++;
      this.logger.log("warn", "router: hint larger than replication.hint_buffer_bytes dropped; sync will repair", { node, bytes: body.length });
      return;
    }
    let q = this.queues.get(node);
    if (q === undefined) this.queues.set(node, (q = []));
    if (q.length === 0) this.logger.log("warn", "router: node missed a write; keeping hints for it", { node, reason: why });
    q.push({ batchId, body, atMs: this.clock.monotonicMs() });
    this.bytes += body.length;
    this.stat(node).lastError = why;
    this.evict();
    this.schedule(node, REPLAY_RETRY_MIN_MS);
  }

  /** Has hints waiting for the node (new writes to it go behind them, so it is not tried directly)? */
  waiting(node: string): boolean {
    return (this.queues.get(node)?.length ?? 0) > 0;
  }

  /** Drops expired hints, then the oldest across all nodes until the buffer fits. */
  private evict(): void {
    const now = this.clock.monotonicMs();
    for (const [node, q] of this.queues) {
      while (q.length > 0 && now - q[0]!.atMs > this.windowMs) this.drop(node, q);
    }
    while (this.bytes > this.bytesMax) {
      let oldest: [string, Hint[]] | undefined;
      for (const e of this.queues) if (e[1].length > 0 && (oldest === undefined || e[1][0]!.atMs < oldest[1][0]!.atMs)) oldest = e;
      if (oldest === undefined) break;
      this.drop(oldest[0], oldest[1]);
    }
  }

  private drop(node: string, q: Hint[]): void {
    const h = q.shift()!;
    this.bytes -= h.body.length;
    this.stat(node).dropped++;
  }

  private schedule(node: string, ms: number): void {
    if (this.closed || this.timers.has(node) || this.replaying.has(node)) return;
    this.timers.set(
      node,
      this.clock.setTimer(ms, () => {
        this.timers.delete(node);
        void this.replay(node, ms);
      }),
    );
  }

  private async replay(node: string, lastDelayMs: number): Promise<void> {
    if (this.closed) return;
    this.replaying.add(node);
    const q = this.queues.get(node) ?? [];
    let failed = false;
    try {
      this.evict();
      while (q.length > 0 && !this.closed) {
        const h = q[0]!;
        try {
          await this.send(node, h.batchId, h.body);
        } catch (e) {
          this.stat(node).lastError = errorMessage(e);
          failed = true;
          break;
        }
        if (q[0] === h) {
          q.shift();
          this.bytes -= h.body.length;
        }
        this.stat(node).replayed++;
      }
    } finally {
      this.replaying.delete(node);
    }
    if (failed) this.schedule(node, Math.min(REPLAY_RETRY_MAX_MS, lastDelayMs * 2));
    else if (q.length === 0 && this.stat(node).replayed > 0) this.logger.log("info", "router: hints replayed; node caught up", { node, replayed: this.stat(node).replayed });
  }

  /** Per node with hints (or a history of them): what waits, how old, what was lost. */
  snapshot(): HintStats[] {
    const now = this.clock.monotonicMs();
    const out: HintStats[] = [];
    for (const [node, s] of this.stats) {
      const q = this.queues.get(node) ?? [];
      out.push({
        node,
        pending: q.length,
        bytes: q.reduce((n, h) => n + h.body.length, 0),
        oldestAgeMs: q.length === 0 ? 0 : now - q[0]!.atMs,
        dropped: s.dropped,
        replayed: s.replayed,
        lastError: q.length === 0 ? "" : s.lastError,
      });
    }
    return out.sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  pending(node: string): number {
    return this.queues.get(node)?.length ?? 0;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }
}
