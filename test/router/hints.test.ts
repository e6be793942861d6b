// The router's hint buffer (direct delivery): what a node missed is replayed oldest first once it
// answers, with backoff while it does not; bounded by bytes across nodes (the oldest go first) and by
// the hint window (older hints are dropped: the node's startup sync repairs it) — every loss counted.
// Driven by the simulator's clock, so time is exact.

import { describe, expect, test } from "bun:test";
import { HintBuffer } from "../../src/router/hints.ts";
import { Scheduler } from "../../src/sim/scheduler.ts";
import { SimMachineClock } from "../../src/sim/sim-clock.ts";
import { silentLogger } from "../../src/ports/logger.ts";

function setup(bytesMax: number, windowMs: number) {
  const sched = new Scheduler();
  const clock = new SimMachineClock(sched).process();
  const up = new Set<string>();
  const delivered: Array<[string, string]> = [];
  let attempts = 0;
  const hints = new HintBuffer(bytesMax, windowMs, async (node, batch) => {
    attempts++;
    if (!up.has(node)) throw new Error(`${node} unreachable`);
    delivered.push([node, batch]);
  }, clock, silentLogger);
  return { sched, hints, up, delivered, attempts: () => attempts };
}

const body = (n: number) => new Uint8Array(n);

describe("hint buffer", () => {
  test("replays oldest first once the node answers; backs off while it does not", async () => {
    const h = setup(1 << 20, 3_600_000);
    for (let i = 0; i < 5; i++) h.hints.add("n1", `b${i}`, body(10), "down");
    expect(h.hints.pending("n1")).toBe(5);
    expect(h.hints.waiting("n1")).toBe(true);
    await h.sched.advance(20_000);
    const tried = h.attempts();
    expect(tried).toBeGreaterThan(2);
    expect(tried).toBeLessThan(12); // backoff 0.5 s → 10 s, not a busy loop
    expect(h.delivered).toEqual([]);
    h.up.add("n1");
    await h.sched.advance(11_000);
    expect(h.delivered).toEqual([0, 1, 2, 3, 4].map((i) => ["n1", `b${i}`]));
    expect(h.hints.pending("n1")).toBe(0);
    expect(h.hints.snapshot()).toEqual([{ node: "n1", pending: 0, bytes: 0, oldestAgeMs: 0, dropped: 0, replayed: 5, lastError: "" }]);
  });

  test("bounded by bytes across nodes: the oldest hints go first, counted", async () => {
    const h = setup(100, 3_600_000);
    h.hints.add("n1", "a", body(40), "down");
    await h.sched.advance(10);
    h.hints.add("n2", "b", body(40), "down");
    await h.sched.advance(10);
    h.hints.add("n1", "c", body(40), "down"); // 120 > 100: "a" (the oldest) goes
    expect(h.hints.pending("n1")).toBe(1);
    expect(h.hints.pending("n2")).toBe(1);
    h.hints.add("n3", "huge", body(101), "down"); // larger than the whole buffer: dropped at once
    expect(h.hints.pending("n3")).toBe(0);
    const snap = new Map(h.hints.snapshot().map((s) => [s.node, s]));
    expect(snap.get("n1")!.dropped).toBe(1);
    expect(snap.get("n3")!.dropped).toBe(1);
    h.up.add("n1");
    h.up.add("n2");
    await h.sched.advance(2_000);
    expect(h.delivered.sort()).toEqual([["n1", "c"], ["n2", "b"]]);
  });

  test("hints older than the hint window are dropped (the node's startup sync repairs it)", async () => {
    const h = setup(1 << 20, 60_000);
    h.hints.add("n1", "old", body(10), "down");
    await h.sched.advance(61_000);
    h.hints.add("n1", "new", body(10), "down");
    expect(h.hints.pending("n1")).toBe(1);
    h.up.add("n1");
    await h.sched.advance(11_000);
    expect(h.delivered).toEqual([["n1", "new"]]);
    expect(h.hints.snapshot()[0]!.dropped).toBe(1);
  });
});
