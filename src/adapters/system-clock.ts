// The real clock: wall time in ns (ms resolution plus a monotonic sub-ms part), monotonic ms, and
// timers on the runtime's event loop.

import type { Clock, Timer } from "../ports/clock.ts";

const originWallMs = Date.now();
const originPerf = performance.now();

export const systemClock: Clock = {
  nowNs() {
    const elapsed = performance.now() - originPerf;
    const wallMs = originWallMs + elapsed;
    return BigInt(Math.floor(wallMs)) * 1_000_000n + BigInt(Math.floor((wallMs % 1) * 1_000_000));
  },
  monotonicMs() {
    return performance.now();
  },
  setTimer(ms: number, fn: () => void): Timer {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};
