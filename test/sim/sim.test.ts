// The deterministic simulator in the suite: 200 seeds of random writes through the router path with
// crashes (some mid-write, with torn tails), empty-disk restarts, partitions, lost / duplicated /
// delayed calls and clock jumps. Safety (no acknowledged write lost, cached trees equal their points)
// is checked throughout; liveness (identical replicas holding every acknowledged write) after
// healing and two anti-entropy rounds. A seed replays identically.

import { describe, expect, test } from "bun:test";
import { runSeed } from "../../src/sim/world.ts";

const SEEDS = 200;

describe("deterministic simulation", () => {
  test(`${SEEDS} seeds: safety throughout, convergence after healing`, async () => {
    const failed: string[] = [];
    let crashes = 0;
    let torn = 0;
    let lost = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runSeed({ seed });
      if (!r.ok) failed.push(`seed ${seed}: ${r.error}`);
      crashes += r.faults.crashes ?? 0;
      torn += r.faults.torn_tails ?? 0;
      lost += (r.faults.lostRequests ?? 0) + (r.faults.lostResponses ?? 0);
    }
    expect(failed).toEqual([]);
    // The faults really happened (a simulator that injects nothing proves nothing).
    expect(crashes).toBeGreaterThan(SEEDS);
    expect(torn).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(SEEDS);
  }, 300_000);

  test("a seed replays identically", async () => {
    for (const seed of [3, 77, 150]) {
      const a = await runSeed({ seed });
      const b = await runSeed({ seed });
      expect(b.trace).toBe(a.trace);
      expect(b.simulatedMs).toBe(a.simulatedMs);
      expect(b.faults).toEqual(a.faults);
    }
  }, 120_000);
});
