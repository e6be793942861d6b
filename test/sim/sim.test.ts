// The deterministic simulator in the suite: 200 seeds of nodes and a router started by the binary's
// own composition code (launchNode / launchRouter) over simulated files, clocks and network, with
// random writes (backfills and overwrites too), crashes (some mid-write, with torn tails), empty-disk
// restarts, pauses past the registration lease, router restarts, node-id and data-dir collisions,
// partitions, lost / duplicated / delayed calls and clock jumps. Safety (no acknowledged write lost,
// cached trees equal their points, no write refused while one node is down, reads never served by a
// node catching up) is checked throughout; completeness and router reads after healing and restarts,
// before any anti-entropy; convergence after two anti-entropy rounds. Every third seed runs with
// storage.retention 60h: backfills into an expired window are never stored, read or synced back
// (checked on every snapshot of every replica). Deletes and collection drops go through the router
// among the faults; no node ever holds again — and no read served by it returns — a version deleted by
// a tombstone it held, whatever syncs, repairs, replays or purges; past the purge delay every
// tombstone is purged everywhere (anti-entropy then purge, crashes during both). A seed replays identically.

import { describe, expect, test } from "bun:test";
import { runSeed } from "../../src/sim/world.ts";

const SEEDS = 200;

describe("deterministic simulation", () => {
  test(`${SEEDS} seeds: safety throughout, convergence after healing`, async () => {
    const failed: string[] = [];
    let crashes = 0;
    let torn = 0;
    let lost = 0;
    const totals: Record<string, number> = {};
    let reads = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runSeed({ seed });
      if (!r.ok) failed.push(`seed ${seed}: ${r.error}`);
      crashes += r.faults.crashes ?? 0;
      torn += r.faults.torn_tails ?? 0;
      lost += (r.faults.lostRequests ?? 0) + (r.faults.lostResponses ?? 0);
      for (const [k, v] of Object.entries(r.faults)) totals[k] = (totals[k] ?? 0) + v;
      reads += r.readsChecked;
    }
    expect(failed).toEqual([]);
    // The faults really happened (a simulator that injects nothing proves nothing).
    expect(crashes).toBeGreaterThan(SEEDS);
    expect(torn).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(SEEDS);
    for (const k of ["pauses_past_lease", "quiet_writes", "router_restarts", "id_collisions_refused", "dir_lock_refusals", "backfills", "empty_disk_restarts", "memory_pressure_changes", "memory_flushes", "memory_waits", "range_reads", "summaries_loaded", "windows_digest_equal", "windows_digest_differ",
      // Membership through the real wiring: joins, moves finished, copies given up, dead holders replaced by themselves.
      "joins", "moves_finished", "groups_dropped", "auto_replacements"]) {
      expect(totals[k] ?? 0).toBeGreaterThan(SEEDS / 20);
    }
    // Operator decisions under the faults: decommissions, removals (a lost disk), replacements, and refusals with reasons.
    for (const k of ["decommissions", "removals", "replacements", "membership_refusals", "expired_writes"]) expect(totals[k] ?? 0).toBeGreaterThan(0);
    // Deletes through the real wiring: acknowledged and refused, drops, points deleted, older writes
    // refused by a tombstone, tombstones taken from a replica by anti-entropy, purged (some runs cut by a
    // crash), and the resurrection check run on replicas holding tombstones.
    for (const k of ["deletes", "deletes_acked", "points_deleted", "deleted_writes_refused", "tombstones_received_by_sync", "tombstones_purged", "resurrection_checks"]) expect(totals[k] ?? 0).toBeGreaterThan(SEEDS / 20);
    for (const k of ["collection_drops", "crashes_during_purge"]) expect(totals[k] ?? 0).toBeGreaterThan(0);
    expect(totals.tombstones_left_after_purge_rounds ?? 0).toBe(0);
    expect(reads).toBeGreaterThan(SEEDS * 10);
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
