// Repair-gated tombstone purge on the compiled binaries with a real etcd (DESIGN §11): ScyllaDB's
// four-step test — (1) tombstones are purged eventually; (2) with one replica down they are not;
// (3) after it returns they are; (4) after the dead replica is removed (membership) they are — and then
// the replica that was down during a delete comes back after the others purged it, holding the
// deleted points: nothing brings them back (its start, anti-entropy, a read, a move to a new node).
// Every step also checks that the deleted points are gone from every replica and the rest are there.

import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { cli, postJson, readAllThroughRouter, type RunningBinary } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { until } from "../support/wait.ts";
import { NS_PER_DAY, nsToIso, windowStartNs } from "../../src/base/time.ts";

const fx = etcdFixture("bin-tombstones");
const DB = "gc";
const COLL = "meters";
const IDS = Array.from({ length: 10 }, (_, i) => `m-${i}`);
const GROUPS = 4;
const PURGE_DELAY_S = 3;

async function tombstonesOn(n: RunningBinary): Promise<number> {
  const r = await postJson(`${n.url}/soltix.v1.AdminService/GetStatus`, {});
  if (r.status !== 200) throw new Error(`GetStatus answered ${r.status}`);
  return ((r.json.groups ?? []) as Array<{ tombstones?: number }>).reduce((s, g) => s + (g.tombstones ?? 0), 0);
}

async function del(router: RunningBinary, query: string): Promise<void> {
  const r = await fetch(`${router.url}/v1/databases/${DB}/collections/${COLL}/points?${query}`, { method: "DELETE" });
  const body = (await r.json()) as Record<string, unknown>;
  if (r.status !== 200) throw new Error(`DELETE answered ${r.status}: ${JSON.stringify(body)}`);
}

/** Every point of the collection each node holds (node Query: what its reads serve), as "id/time". */
async function heldBy(n: RunningBinary): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor = "";
  do {
    const r = await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: DB, collection: COLL, ids: IDS, limit: 10000, cursor });
    if (r.status !== 200) throw new Error(`Query answered ${r.status}: ${JSON.stringify(r.json)}`);
    for (const p of (r.json.points ?? []) as Array<{ id: string; time: string }>) out.add(`${p.id}/${nsToIso(BigInt(p.time))}`);
    cursor = r.json.nextCursor ?? "";
  } while (cursor !== "");
  return out;
}

describe("tombstone purge on the compiled binaries (repair-gated)", () => {
  test("ScyllaDB's four steps, then a replica that was down during a delete returns after the purge: nothing comes back", async () => {
    const etcd = fx.etcd();
    const ids = ["gc-a", "gc-b", "gc-c", "gc-d"];
    const common = ["--etcd.endpoints", etcd.url, "--coordinator.total_groups", String(GROUPS), "--replication.hint_window", "2s", "--storage.tombstone_purge_delay", `${PURGE_DELAY_S}s`];
    const nodeArgs = (i: number) => [
      "node", "--node.id", ids[i]!, "--storage.data_dir", `${fx.dir}/${ids[i]}`, "--server.port", "0", ...common,
      "--storage.sync.anti_entropy.interval", "1s", "--cluster.plan_interval", "500ms", "--cluster.dead_node_timeout", "0",
    ];
    const nodes: RunningBinary[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await fx.pool.start(nodeArgs(i)));
    const router = await fx.pool.start(["router", "--node.id", "gc-router", "--server.port", "0", ...common, "--replication.strategy", "sync", "--replication.min_replicas_for_write", "2"]);
    await until("router ready with 3 nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      return r.status === 200 && ((await r.json()) as { nodes: string[] }).nodes.length === 3 ? true : undefined;
    });

    // Two days of points of 10 devices, on all 3 replicas.
    const today = windowStartNs(BigInt(Date.now()) * 1_000_000n);
    const times = Array.from({ length: 24 }, (_, k) => today - NS_PER_DAY + BigInt(k) * 7_200_000_000_000n);
    const expected = new Set<string>();
    const points = IDS.flatMap((id) => times.map((t, k) => ({ id, time: nsToIso(t), v: k })));
    for (const p of points) expected.add(`${p.id}/${p.time}`);
    expect((await postJson(`${router.url}/v1/databases/${DB}/collections/${COLL}/write/batch`, { points })).status).toBe(200);
    const live = () => nodes.filter((n) => n.proc.exitCode === null && !n.proc.killed);
    const allHoldExactly = async (what: string, set: RunningBinary[]) => {
      let last = "";
      try {
        return await until(what, async () => {
          for (const n of set) {
            const h = await heldBy(n);
            const extra = [...h].filter((k) => !expected.has(k));
            const missing = [...expected].filter((k) => !h.has(k));
            last = `${n.url}: ${extra.length} extra (${extra.slice(0, 3).join(" ")}), ${missing.length} missing (${missing.slice(0, 3).join(" ")})`;
            if (extra.length > 0 || missing.length > 0) return undefined;
          }
          return true;
        }, 30_000);
      } catch (e) {
        throw new Error(`${String(e)}; last seen: ${last}`);
      }
    };
    await allHoldExactly("every replica holds every point", nodes);
    const deleteDevice = async (id: string) => {
      const from = times[6]!;
      const to = times[18]!;
      await del(router, `ids=${id}&start_time=${from}&end_time=${to}`);
      for (const t of times) if (t >= from && t < to) expected.delete(`${id}/${nsToIso(t)}`);
    };
    const allPurged = (set: RunningBinary[]) => until("tombstones purged on " + set.length + " nodes", async () => {
      for (const n of set) if ((await tombstonesOn(n)) !== 0) return undefined;
      return true;
    }, 60_000);

    // (1) A delete: tombstones on every replica, then purged everywhere once every replica holds them.
    await deleteDevice("m-0");
    await allHoldExactly("m-0's range deleted everywhere", nodes);
    for (const n of nodes) expect(await tombstonesOn(n)).toBeGreaterThan(0);
    await allPurged(nodes);
    await allHoldExactly("still exactly the survivors after the purge", nodes);

    // (2) One replica down: a delete is acknowledged by the other two, whose tombstones stay.
    await nodes[2]!.kill9();
    await deleteDevice("m-1");
    await allHoldExactly("m-1's range deleted on the live replicas", live());
    await Bun.sleep((PURGE_DELAY_S + 5) * 1000);
    for (const n of live()) expect(await tombstonesOn(n)).toBeGreaterThan(0);

    // (3) It returns: it takes the tombstones in its startup sync (its copy of m-1's range is deleted,
    // never served), then every replica purges them.
    nodes[2] = await fx.pool.start(nodeArgs(2));
    await allHoldExactly("the returned replica holds exactly the survivors", nodes);
    await allPurged(nodes);

    // (4) Down again for good during a delete; removed by the operator → the others purge.
    await nodes[2]!.kill9();
    await deleteDevice("m-2");
    await allHoldExactly("m-2's range deleted on the live replicas", live());
    await Bun.sleep((PURGE_DELAY_S + 3) * 1000);
    for (const n of live()) expect(await tombstonesOn(n)).toBeGreaterThan(0);
    await until("the dead replica unregistered", async () => {
      const r = await postJson(`${nodes[0]!.url}/soltix.v1.AdminService/GetClusterStatus`, {});
      return ((r.json.nodes ?? []) as Array<{ nodeId: string; registered?: boolean }>).find((x) => x.nodeId === ids[2])?.registered ? undefined : true;
    }, 30_000);
    const removed = cli(["cluster", "remove", "--node", ids[2]!, "--server", nodes[0]!.url.replace("http://", "")]);
    expect(removed.code).toBe(0);
    await allPurged(live());

    // The removed replica's data dir still holds m-2's deleted range (it was down during the delete).
    // It starts again: it is no replica of anything now, drops its copies, and nothing it held comes
    // back — not through reads, not through anti-entropy (the operator's repair of every group on the
    // live nodes), not through a move to a new node.
    expect(readdirSync(`${fx.dir}/${ids[2]}/segments`).some((f) => f.endsWith(".seg"))).toBe(true);
    nodes[2] = await fx.pool.start(nodeArgs(2));
    await until("the removed node dropped its copies", async () => (readdirSync(`${fx.dir}/${ids[2]}/segments`).some((f) => f.endsWith(".seg")) ? undefined : true), 30_000);
    for (const n of [nodes[0]!, nodes[1]!]) {
      for (let g = 0; g < GROUPS; g++) expect(cli(["repair", "--node", n.url.replace("http://", ""), "--group", String(g)]).code).toBe(0);
    }
    const d = await fx.pool.start(nodeArgs(3));
    await until("the new node joined every group (3 → factor 3 again)", async () => {
      const r = await postJson(`${d.url}/soltix.v1.AdminService/GetClusterStatus`, {});
      const moves = (r.json.moves ?? []) as unknown[];
      const under = (r.json.underReplicated ?? []) as unknown[];
      const dGroups = ((r.json.nodes ?? []) as Array<{ nodeId: string; groups?: number }>).find((x) => x.nodeId === ids[3])?.groups ?? 0;
      return moves.length === 0 && under.length === 0 && dGroups === GROUPS ? true : undefined;
    }, 60_000);
    await allHoldExactly("the new node and both replicas hold exactly the survivors", [nodes[0]!, nodes[1]!, d]);
    const read = await readAllThroughRouter(router.url, DB, COLL, IDS);
    expect(read.size).toBe(expected.size);
    for (const k of read) expect(expected.has(k.replace(/\/(\d+)$/, (_, ns: string) => `/${nsToIso(BigInt(ns))}`))).toBe(true);
    expect(existsSync(`${fx.dir}/${ids[2]}`)).toBe(true);
  }, 300_000);
});
