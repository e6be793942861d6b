// The session bandwidth bound (sync/peers.ts): a token bucket of one second's bytes. Against a
// virtual clock (sleeping advances it), for any sequence of takes the time spent is at least what
// the bytes beyond the first second's allowance cost at the rate, and never more than that plus the
// last take's own cost (no needless waiting).

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Clock } from "../../src/ports/clock.ts";
import { bandwidthPacer, UNPACED } from "../../src/sync/peers.ts";

function virtualClock(): Clock & { ms: number } {
  const c = {
    ms: 0,
    nowNs: () => BigInt(Math.round(c.ms * 1e6)),
    monotonicMs: () => c.ms,
    setTimer(ms: number, fn: () => void) {
      c.ms += ms;
      queueMicrotask(fn);
      return { cancel() {} };
    },
  };
  return c;
}

describe("bandwidthPacer", () => {
  test("time spent ≥ (bytes − one second's allowance) / rate, and no more than needed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1_000, max: 10_000_000 }), fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 40 }), async (rate, takes) => {
        const clock = virtualClock();
        const pacer = bandwidthPacer(clock, rate);
        let total = 0;
        for (const n of takes) {
          await pacer.take(n);
          total += n;
        }
        const floorMs = (Math.max(0, total - rate) / rate) * 1000;
        expect(clock.ms).toBeGreaterThanOrEqual(floorMs - 1e-6);
        expect(clock.ms).toBeLessThanOrEqual(floorMs + 1e-6);
      }),
      { numRuns: 200 },
    );
  });

  test("0 means no bound", async () => {
    const clock = virtualClock();
    expect(bandwidthPacer(clock, 0)).toBe(UNPACED);
    await UNPACED.take(1e12);
    expect(clock.ms).toBe(0);
  });
});
