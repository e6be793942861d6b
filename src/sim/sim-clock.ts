// A node's clock in the simulation: simulated time plus this node's skew (clock jumps move it).

import type { Clock } from "../ports/clock.ts";
import type { Scheduler } from "./scheduler.ts";

/** 2024-11-24T00:00:00Z: where simulated wall time starts. */
export const SIM_EPOCH_NS = 1_732_406_400_000_000_000n;

export class SimClock implements Clock {
  skewNs = 0n;
  constructor(private readonly sched: Scheduler) {}

  nowNs(): bigint {
    return SIM_EPOCH_NS + BigInt(Math.floor(this.sched.nowMs)) * 1_000_000n + this.skewNs;
  }

  monotonicMs(): number {
    return this.sched.nowMs;
  }
}
