// Time as the core sees it: wall time, monotonic time and timers. Every scheduler, backoff, deadline,
// pacing delay and lease keep-alive in src/ runs on a Clock, so the simulator can drive them all in
// simulated time. The system clock lives in adapters/; the simulator supplies its own.

export interface Timer {
  /** Stops the timer; a no-op once it fired. */
  cancel(): void;
}

export interface Clock {
  /** Wall-clock nanoseconds since the epoch. */
  nowNs(): bigint;
  /** Monotonic milliseconds, for durations and deadlines. */
  monotonicMs(): number;
  /** Calls `fn` once, `ms` milliseconds from now (this clock's time). */
  setTimer(ms: number, fn: () => void): Timer;
}

/** Resolves after `ms` of the clock's time (at once when aborted). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const t = clock.setTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    const onAbort = () => {
      t.cancel();
      resolve();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `work` with a signal that aborts after `ms` of the clock's time; the timer is released as
 * soon as the work settles (so nothing outlives the call).
 */
export async function withDeadline<T>(clock: Clock, ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const t = clock.setTimer(ms, () => ctl.abort(new DOMException(`deadline of ${ms} ms exceeded`, "TimeoutError")));
  try {
    return await work(ctl.signal);
  } finally {
    t.cancel();
  }
}

/** Rejects with `onTimeout()` if `work` has not settled after `ms`; the timer is released either way. */
export async function raceDeadline<T>(clock: Clock, ms: number, work: Promise<T>, onTimeout: () => Error): Promise<T> {
  let timer: Timer | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = clock.setTimer(ms, () => reject(onTimeout()));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    timer?.cancel();
  }
}

/** The clock's wall time as an ISO 8601 string (millisecond precision), for records and logs. */
export function isoNow(clock: Clock): string {
  return new Date(Number(clock.nowNs() / 1_000_000n)).toISOString();
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

  /**
   * Stamps for one batch: the clock is read at the first, each later one is the previous + 1 ns — the
   * batch's order kept (a key written twice in it: the later wins), still strictly increasing in the
   * process, and a series' versions within a batch a constant stride apart (they store in a byte).
   */
  batch(): () => bigint {
    let first = true;
    return () => {
      if (first) {
        first = false;
        return this.next();
      }
      this.lastNs += 1n;
      return this.lastNs;
    };
  }
}
