// Lifecycle bench, tombstones in anti-entropy: what deletes cost the replica comparison, before and after
// their purge. Two replicas (router + 2 nodes in one process, direct delivery, real sockets) hold the
// same unique points (--devices devices, one point per device every 30 min over 2 days); one pass =
// every node compares every group it holds with its replica (AntiEntropy.runGroup), and its bytes are
// the real message sizes both ways. Measured:
//   baseline        identical replicas, no tombstone;
//   live            the same after --deletes deletes through the router (both hold every tombstone);
//   one side        after --deletes more deletes sent to one node only (the other takes them in the pass);
//   purged          once every tombstone is purged (storage.tombstone_purge_delay 2 s; each pass is
//                   followed by the purge) — a purged tombstone costs nothing: the same bytes as baseline.
// Every point not deleted is read back from both nodes at the end.

import { systemPlatform } from "../../src/adapters/platform.ts";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";
import { postJson } from "../../test/support/binary.ts";
import { tempDir } from "../../test/support/engine.ts";
import { round } from "./common.ts";

const STEP_NS = 30n * 60n * 1_000_000_000n;

interface Pass {
  bytes: number;
  round_trips: number;
  windows_compared: number;
}

async function pass(c: LocalCluster): Promise<Pass> {
  const out: Pass = { bytes: 0, round_trips: 0, windows_compared: 0 };
  for (const n of c.nodes) {
    const ae = n.node.sync.antiEntropy!;
    for (const g of n.node.sync.syncer!.heldGroups()) {
      for (const r of await ae.runGroup(g)) {
        out.bytes += r.bytesSent + r.bytesReceived;
        out.round_trips += r.roundTrips;
        out.windows_compared++;
      }
    }
    await n.node.sync.purger?.sweep();
  }
  return out;
}

const tombstones = (c: LocalCluster) => c.nodes.reduce((s, n) => s + n.node.engine.tombstoneCount(), 0);

export async function tombstonesAeBench(o: { devices: number; deletes: number }): Promise<Record<string, unknown>> {
  const { dir, cleanup } = tempDir("bench-tombstones");
  const c = await startLocalCluster(
    {
      nodes: 2, dir, routerPort: 0, factor: 2, minReplicasForWrite: 2, strategy: "sync",
      flags: { "replication.hint_window": "1s", "storage.tombstone_purge_delay": "2s", "storage.sync.anti_entropy.interval": "1h", "storage.sync.anti_entropy.settle": "0s", "coordinator.total_groups": "32" },
    },
    { platform: systemPlatform(serveWithBun), logger: silentLogger },
  );
  try {
    const days = 2;
    const steps = days * Number(NS_PER_DAY / STEP_NS);
    const base = (BigInt(Date.now()) * 1_000_000n / NS_PER_DAY - BigInt(days)) * NS_PER_DAY;
    const alive = new Map<string, Set<bigint>>();
    for (let s = 0; s < steps; s += 10) {
      const points = [];
      for (let k = s; k < Math.min(steps, s + 10); k++) {
        for (let d = 0; d < o.devices; d++) {
          const t = base + BigInt(k) * STEP_NS;
          points.push({ id: `dev-${d}`, time: String(t), v: Math.round(Math.sin(k + d) * 1000) / 10, w: k * 10 + d });
          let set = alive.get(`dev-${d}`);
          if (set === undefined) alive.set(`dev-${d}`, (set = new Set()));
          set.add(t);
        }
      }
      const r = await postJson(`${c.routerUrl}/v1/databases/life/collections/m/write/batch`, { points });
      if (r.status !== 200) throw new Error(`write: ${r.status} ${JSON.stringify(r.json)}`);
    }
    await pass(c); // settle: first summaries
    const baseline = await pass(c);
    let seed = 5;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const oneDelete = () => {
      const d = `dev-${Math.floor(next() * o.devices)}`;
      const from = base + BigInt(Math.floor(next() * (steps - 12))) * STEP_NS;
      const to = from + 12n * STEP_NS;
      for (const t of [...(alive.get(d) ?? [])]) if (t >= from && t < to) alive.get(d)!.delete(t);
      return { d, from, to };
    };
    const d0 = performance.now();
    for (let i = 0; i < o.deletes; i++) {
      const { d, from, to } = oneDelete();
      const res = await fetch(`${c.routerUrl}/v1/databases/life/collections/m/points?ids=${d}&start_time=${from}&end_time=${to}`, { method: "DELETE" });
      if (res.status !== 200) throw new Error(`delete: ${res.status} ${await res.text()}`);
    }
    const deleteSeconds = (performance.now() - d0) / 1000;
    const liveCount = tombstones(c);
    const live = await pass(c);
    // Deletes one replica missed: the other takes them in its pass (and the next pass is equal again).
    for (let i = 0; i < o.deletes; i++) {
      const { d, from, to } = oneDelete();
      const r = await postJson(`${c.nodes[0]!.url}/soltix.v1.StorageService/Delete`, { database: "life", collection: "m", ids: [d], startTime: String(from), endTime: String(to) });
      if (r.status !== 200) throw new Error(`node delete: ${r.status}`);
    }
    const oneSide = await pass(c);
    const liveAgain = await pass(c);
    // Past the purge delay, passes (each followed by the purge) until none is left.
    await Bun.sleep(2_500);
    const purgePasses: Pass[] = [];
    for (let i = 0; i < 5 && tombstones(c) > 0; i++) purgePasses.push(await pass(c));
    if (tombstones(c) !== 0) throw new Error(`${tombstones(c)} tombstones left after ${purgePasses.length} passes`);
    const purged = await pass(c);
    // Read back: every node holds exactly the points not deleted.
    const want = [...alive.values()].reduce((s, x) => s + x.size, 0);
    for (const n of c.nodes) {
      let got = 0;
      let cursor = "";
      do {
        const r = await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: "life", collection: "m", limit: 10000, cursor });
        got += (r.json.points ?? []).length;
        cursor = r.json.nextCursor ?? "";
      } while (cursor !== "");
      if (got !== want) throw new Error(`${n.id} holds ${got} points, expected ${want}`);
    }
    const perWindow = (p: Pass) => round(p.bytes / Math.max(1, p.windows_compared), 1);
    return {
      points: o.devices * steps,
      devices: o.devices,
      groups: 32,
      deletes_through_router: o.deletes,
      delete_seconds_each_ms: round((deleteSeconds / o.deletes) * 1000, 2),
      tombstones_live: liveCount,
      pass_bytes: { baseline: baseline.bytes, live: live.bytes, one_side_missing: oneSide.bytes, live_again: liveAgain.bytes, purged: purged.bytes },
      pass_round_trips: { baseline: baseline.round_trips, live: live.round_trips, one_side_missing: oneSide.round_trips, purged: purged.round_trips },
      bytes_per_window: { baseline: perWindow(baseline), live: perWindow(live), purged: perWindow(purged) },
      live_vs_baseline: round(live.bytes / baseline.bytes, 3),
      purged_vs_baseline: round(purged.bytes / baseline.bytes, 3),
      passes_to_purge: purgePasses.length,
      points_read_back_per_node: want,
    };
  } finally {
    await c.close();
    cleanup();
  }
}
