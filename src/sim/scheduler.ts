// Simulated time: timers ordered by (due time, creation order) in a binary heap, fired one at a time
// by the simulator when everything runnable has run. Nothing here reads the real clock.

import type { Timer } from "../ports/clock.ts";

interface Entry {
  due: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

export class Scheduler {
  nowMs = 0;
  private seq = 0;
  private readonly heap: Entry[] = [];

  private less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** Calls `fire` after `ms` of simulated time. */
  setTimer(ms: number, fire: () => void): Timer {
    const e: Entry = { due: this.nowMs + Math.max(0, ms), seq: this.seq++, fire, cancelled: false };
    this.push(e);
    return { cancel: () => void (e.cancelled = true) };
  }

  /** Resolves after `ms` of simulated time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => void this.setTimer(ms, resolve));
  }

  /** Advances time to the earliest live timer and fires it; false when none is pending. */
  fireNext(): boolean {
    for (let e = this.pop(); e !== undefined; e = this.pop()) {
      if (e.cancelled) continue;
      this.nowMs = Math.max(this.nowMs, e.due);
      e.fire();
      return true;
    }
    return false;
  }

  /**
   * Runs until `p` settles: lets all runnable work finish (a few event-loop turns, no I/O exists
   * here), then fires the next simulated timer, and so on.
   */
  async run<T>(p: Promise<T>, stepsMax = 2_000_000): Promise<T> {
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

  /** Lets simulated time pass (every timer due in the next `ms` fires). */
  advance(ms: number): Promise<void> {
    return this.run(this.sleep(ms));
  }
}
