// Bounded concurrency (forEachBounded, Slots) against a model: random task durations and failures;
// never more than the limit running, every item started once in order (until a failure), the first
// failure thrown after the running ones settle; Slots hands out at most `limit` at once, in arrival order.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Slots, forEachBounded } from "../../src/base/bounded.ts";

const tick = (n: number) => new Promise<void>((r) => setTimeout(r, n));

describe("bounded concurrency", () => {
  test("forEachBounded: at most `limit` at once, started in order, stops starting after a failure", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.record({ ms: fc.integer({ min: 0, max: 3 }), fail: fc.integer({ min: 0, max: 9 }).map((n) => n === 0) }), { maxLength: 25 }), async (limit, items) => {
        let running = 0;
        let most = 0;
        const started: number[] = [];
        const finished: number[] = [];
        let error: unknown;
        try {
          await forEachBounded(items.keys(), limit, async (i) => {
            started.push(i);
            running++;
            most = Math.max(most, running);
            await tick(items[i]!.ms);
            running--;
            finished.push(i);
            if (items[i]!.fail) throw new Error(`item ${i}`);
          });
        } catch (e) {
          error = e;
        }
        expect(most).toBeLessThanOrEqual(limit);
        expect(running).toBe(0);
        expect(started).toEqual([...started].sort((a, b) => a - b));
        expect(new Set(started).size).toBe(started.length);
        expect(finished.sort((a, b) => a - b)).toEqual([...started].sort((a, b) => a - b));
        const failures = items.map((x, i) => (x.fail ? i : -1)).filter((i) => i >= 0 && started.includes(i));
        if (failures.length === 0) {
          expect(error).toBeUndefined();
          expect(started.length).toBe(items.length);
        } else expect((error as Error).message).toMatch(/^item \d+$/);
      }),
      { numRuns: 60 },
    );
  });

  test("Slots: at most `limit` holders across callers, waiters served in arrival order, a double release frees one slot", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 }), async (limit, holds) => {
        const slots = new Slots(limit);
        let held = 0;
        let most = 0;
        const order: number[] = [];
        await Promise.all(
          holds.map(async (ms, i) => {
            const release = await slots.acquire();
            order.push(i);
            held++;
            most = Math.max(most, held);
            await tick(ms);
            held--;
            release();
            release();
          }),
        );
        expect(most).toBeLessThanOrEqual(limit);
        expect(most).toBe(Math.min(limit, holds.length));
        expect(order).toEqual(holds.map((_, i) => i));
      }),
      { numRuns: 40 },
    );
  });
});
