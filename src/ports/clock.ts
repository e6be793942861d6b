// Time as the core sees it. The system clock lives in adapters/; the simulator supplies its own.

export interface Clock {
  /** Wall-clock nanoseconds since the epoch. */
  nowNs(): bigint;
  /** Monotonic milliseconds, for durations and deadlines. */
  monotonicMs(): number;
}

/** Stamps LWW versions: wall time, but strictly increasing within this process. */
export class VersionStamper {
  private lastNs = 0n;
  constructor(private readonly clock: Clock) {}

  next(): bigint {
    const now = this.clock.nowNs();
    this.lastNs = now > this.lastNs ? now : this.lastNs + 1n;
    return this.lastNs;
  }
}
