// Clocks in the simulation. A machine's clock is simulated time plus its skew (clock jumps move it);
// each process started on the machine gets its own ProcessClock: its timers stop for good when the
// process crashes (a dead process runs nothing), and are held back while the machine is paused
// (SIGSTOP) — then fired in order on resume. Nothing here reads the real clock.

import type { Clock, Timer } from "../ports/clock.ts";
import type { Scheduler } from "./scheduler.ts";

/** 2024-11-24T00:00:00Z: where simulated wall time starts. */
export const SIM_EPOCH_NS = 1_732_406_400_000_000_000n;

export class SimMachineClock {
  skewNs = 0n;
  private pausedAt: number | undefined;
  private held: Array<() => void> = [];
  private resumeWaiters: Array<() => void> = [];

  constructor(readonly sched: Scheduler) {}

  nowNs(): bigint {
    return SIM_EPOCH_NS + BigInt(Math.floor(this.sched.nowMs)) * 1_000_000n + this.skewNs;
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  pause(): void {
    if (this.pausedAt === undefined) this.pausedAt = this.sched.nowMs;
  }

  /** Runs what was held back, in order. */
  resume(): void {
    if (this.pausedAt === undefined) return;
    this.pausedAt = undefined;
    const held = this.held.splice(0);
    for (const fn of held) this.sched.setTimer(0, fn);
    for (const w of this.resumeWaiters.splice(0)) w();
  }

  /** Resolves at once when running, else on resume. */
  whenRunning(): Promise<void> {
    if (this.pausedAt === undefined) return Promise.resolve();
    return new Promise((r) => this.resumeWaiters.push(r));
  }

  /** Queues `fn` for the machine: now when running, on resume when paused. */
  run(fn: () => void): void {
    if (this.pausedAt === undefined) fn();
    else this.held.push(fn);
  }

  /** A clock for one process on this machine. */
  process(): ProcessClock {
    return new ProcessClock(this);
  }
}

export class ProcessClock implements Clock {
  private dead = false;
  constructor(readonly machine: SimMachineClock) {}

  nowNs(): bigint {
    return this.machine.nowNs();
  }

  monotonicMs(): number {
    return this.machine.sched.nowMs;
  }

  setTimer(ms: number, fn: () => void): Timer {
    if (this.dead) return { cancel() {} };
    let cancelled = false;
    const t = this.machine.sched.setTimer(ms, () => {
      if (!this.dead && !cancelled) this.machine.run(() => !this.dead && !cancelled && fn());
    });
    return {
      cancel() {
        cancelled = true;
        t.cancel();
      },
    };
  }

  /** The process died: none of its timers fire again. */
  kill(): void {
    this.dead = true;
  }

  get alive(): boolean {
    return !this.dead;
  }
}
