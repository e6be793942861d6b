// Simulated time: timers ordered by (due time, creation order), fired one at a time by the simulator
// when everything runnable has run. Nothing here reads the real clock.

export class Scheduler {
  nowMs = 0;
  private seq = 0;
  private timers: Array<{ due: number; seq: number; fire: () => void }> = [];

  /** Resolves after `ms` of simulated time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timers.push({ due: this.nowMs + Math.max(0, ms), seq: this.seq++, fire: resolve });
    });
  }

  /** Advances time to the earliest timer and fires it; false when none is pending. */
  fireNext(): boolean {
    if (this.timers.length === 0) return false;
    let k = 0;
    for (let i = 1; i < this.timers.length; i++) {
      const a = this.timers[i]!;
      const b = this.timers[k]!;
      if (a.due < b.due || (a.due === b.due && a.seq < b.seq)) k = i;
    }
    const [t] = this.timers.splice(k, 1);
    this.nowMs = Math.max(this.nowMs, t!.due);
    t!.fire();
    return true;
  }

  /**
   * Runs until `p` settles: lets all runnable work finish (a few event-loop turns, no I/O exists
   * here), then fires the next simulated timer, and so on.
   */
  async run<T>(p: Promise<T>, stepsMax = 200_000): Promise<T> {
    let settled = false;
    const done = p.finally(() => {
      settled = true;
    });
    done.catch(() => {});
    for (let steps = 0; !settled; steps++) {
      for (let i = 0; i < 4 && !settled; i++) await new Promise<void>((r) => setImmediate(r));
      if (settled) break;
      if (!this.fireNext() || steps > stepsMax) {
        // Nothing scheduled and not done: let pending native work finish, then give up.
        for (let i = 0; i < 50 && !settled; i++) await new Promise<void>((r) => setImmediate(r));
        if (!settled) throw new Error(`simulation stuck at t=${this.nowMs} ms (no timer pending, operation not settled)`);
      }
    }
    return p;
  }
}
