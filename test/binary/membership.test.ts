// Membership with the compiled binaries: real etcd, real nats-server (JetStream), a router and nodes
// under continuous write load (unique points). 3 → 5 nodes: the planner gives the new ones their
// rendezvous share; 5 → 4 by `soltix cluster decommission` (its data dir ends with no group data);
// a node kill -9'ed for good is replaced by itself after cluster.dead_node_timeout; `soltix cluster
// replace` puts a new id in a dead node's place. After each: every group has factor replicas on the
// desired nodes, every replica identical, every acknowledged point readable through the router.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { binaryPool, cli, postJson, readAllThroughRouter, type RunningBinary } from "../support/binary.ts";
import { startEtcd, startNats, type RunningServer } from "../support/servers.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";
import { windowSums } from "../support/checksums.ts";
import { desiredNodes } from "../../src/cluster/planner.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";

const tmp = tempDir("bin-membership");
const pool = binaryPool();
let etcd: RunningServer;
let nats: RunningServer & { port: number };
beforeAll(async () => {
  etcd = await startEtcd();
  nats = await startNats();
});
afterAll(async () => {
  await pool.killAll();
  await nats?.stop();
  await etcd?.stop();
  tmp.cleanup();
});

const DAY0 = 20_300n * NS_PER_DAY;
const DEVICES = 60;
const GROUPS = "32";

const common = () => ["--etcd.endpoints", etcd.url, "--queue.type", "nats", "--queue.url", nats.url, "--replication.factor", "3", "--coordinator.total_groups", GROUPS];
const startNode = (id: string) =>
  pool.start(["node", "--node.id", id, "--storage.data_dir", `${tmp.dir}/${id}`, "--server.port", "0", ...common(),
    "--cluster.plan_interval", "500ms", "--cluster.dead_node_timeout", "6s", "--storage.sync.anti_entropy.settle", "0s", "--log.level", "info"]);

interface Status {
  nodes: Array<{ nodeId: string; state: string; groups?: number; registered?: boolean; placementId?: string }>;
  groups: number;
  underReplicated?: unknown[];
  moves?: Array<{ groupId: number; join: string; phase: string }>;
  plan?: Array<{ kind: string }>;
}
const status = async (via: RunningBinary): Promise<Status> => (await postJson(`${via.url}/soltix.v1.AdminService/GetClusterStatus`, {})).json as Status;

/** Group records straight from etcd's view of a node: GetStatus of every node names its groups' nodes. */
async function placement(via: RunningBinary): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  const r = await postJson(`${via.url}/soltix.v1.AdminService/GetStatus`, {});
  for (const g of (r.json.groups ?? []) as Array<{ groupId?: number; primaryNode: string; replicaNodes?: string[] }>) out.set(g.groupId ?? 0, [g.primaryNode, ...(g.replicaNodes ?? [])]);
  return out;
}

describe("membership with compiled binaries over etcd + NATS", () => {
  test("3 → 5 → 4 (decommission) → kill -9 replaced by itself → replace with a new id, under writes", async () => {
    const byId = new Map<string, RunningBinary>();
    for (const id of ["s1", "s2", "s3"]) byId.set(id, await startNode(id));
    const router = await pool.start(["router", "--server.port", "0", ...common(), "--replication.strategy", "sync", "--replication.min_replicas_for_write", "2"]);
    await until("router sees 3 nodes", async () => {
      const b = (await (await fetch(`${router.url}/readyz`)).json()) as { nodes: string[] };
      return b.nodes.length === 3 ? true : undefined;
    });
    // Continuous load: unique points, every acknowledged one remembered.
    const acked = new Set<string>();
    let writing = true;
    let paused = false;
    let idle = true;
    let batch = 0;
    const load = (async () => {
      while (writing) {
        if (paused) {
          idle = true;
          await Bun.sleep(20);
          continue;
        }
        idle = false;
        const b = batch++;
        const points = Array.from({ length: 100 }, (_, i) => {
          const n = b * 100 + i;
          return { id: `dev-${n % DEVICES}`, time: String(DAY0 + BigInt(n % 3) * NS_PER_DAY + BigInt(n) * NS_PER_SECOND), v: n };
        });
        const r = await postJson(`${router.url}/v1/databases/m/collections/c/write/batch`, { points }).catch(() => ({ status: 0 }));
        if (r.status === 200) for (const p of points) acked.add(`${p.id}/${p.time}`);
        await Bun.sleep(20);
      }
    })();

    const members = () => [...byId.keys()].filter((id) => !gone.has(id) && !leaving.has(id));
    const gone = new Set<string>();
    const leaving = new Set<string>();
    const placedAs = new Map<string, string>();
    const anyLive = () => [...byId].find(([id]) => !gone.has(id))![1];
    /** Settled: no move, nothing under-replicated, placement = rendezvous over the members; replicas identical. */
    const settle = async (what: string) => {
      await until(what, async () => {
        const s = await status(anyLive());
        if ((s.moves ?? []).length > 0 || (s.underReplicated ?? []).length > 0 || (s.plan ?? []).some((c) => c.kind !== "blocked")) return undefined;
        const p = await placement(anyLive());
        // Every node's own record of the groups it holds names the desired nodes.
        for (const id of members()) {
          const held = await placement(byId.get(id)!);
          for (const [g, nodes] of held) {
            const want = desiredNodes(g, members(), 3, (x) => placedAs.get(x) ?? x).sort().join();
            if (nodes.slice().sort().join() !== want) return undefined;
          }
        }
        return p.size >= 0 ? true : undefined;
      }, 120_000, 250);
      // Every group's replicas identical (window checksums side by side), compared between writes:
      // the load pauses (every batch answered) and resumes after.
      paused = true;
      await until("load paused", async () => (idle ? true : undefined), 30_000, 10);
      const groups = new Map<number, string[]>();
      for (const id of members()) for (const [g, nodes] of await placement(byId.get(id)!)) groups.set(g, nodes);
      for (const [g, nodes] of groups) {
        expect(nodes.length).toBe(3);
        const roots = (await postJson(`${byId.get(nodes[0]!)!.url}/soltix.v1.SyncService/GetMerkleRoots`, { groupId: g })).json as { roots?: Array<{ windowStart: string }> };
        const windows = (roots.roots ?? []).map((r) => `${g}:${r.windowStart}`);
        let sums: string[] = [];
        const identical = async () => {
          sums = await windowSums(nodes.map((n) => byId.get(n)!), windows);
          return new Set(sums).size === 1 ? true : undefined;
        };
        // A replica may miss a write only if the router said so: a delivery that failed after the
        // write was acknowledged (a NATS publish timing out on a loaded machine) — which anti-entropy
        // repairs (README "What an acknowledgement means"); it runs hourly here, so it is asked to.
        await until(`group ${g} replicas identical`, identical, 20_000, 200).catch(async () => {
          const failed = router.stderr().split("\n").filter((l) => l.includes("delivery failed after the write was acknowledged") && nodes.some((n) => l.includes(`"node":"${n}"`)));
          if (failed.length === 0) return until(`group ${g} replicas identical`, identical, 40_000, 200);
          for (const n of nodes) await postJson(`${byId.get(n)!.url}/soltix.v1.AdminService/TriggerAntiEntropy`, { groupId: g, wait: true });
          return until(`group ${g} replicas identical after anti-entropy (the router reported: ${failed.join(" ")})`, identical, 40_000, 200);
        }).catch((e: unknown) => {
          const warnings = (log: string) => log.split("\n").filter((l) => l.includes('"level":"warn"') || l.includes('"level":"error"') || l.includes(`"group":${g},`)).join("\n").slice(-6000);
          throw new Error(`${what}: ${String(e)} — ${nodes.map((n, i) => `${n}: ${sums[i]}`).join(" | ")}\nrouter: ${warnings(router.stderr())}\n${nodes.map((n) => `log of ${n}: ${warnings(byId.get(n)!.stderr())}`).join("\n")}`);
        });
      }
      paused = false;
    };

    await settle("3 nodes placed");
    // 3 → 5: the new nodes get their share by moves.
    for (const id of ["s4", "s5"]) byId.set(id, await startNode(id));
    await settle("5 nodes: every node holds its rendezvous share");
    const s5 = await status(anyLive());
    for (const id of ["s4", "s5"]) expect(s5.nodes.find((n) => n.nodeId === id)!.groups ?? 0).toBeGreaterThan(0);

    // 5 → 4: decommission s5 with the CLI; its data dir ends with no group data.
    const dec = cli(["cluster", "decommission", "--node", "s5", "--server", `127.0.0.1:${byId.get("s1")!.port}`]);
    expect(dec.code).toBe(0);
    expect(dec.out).toContain("s5: decommissioning");
    leaving.add("s5");
    await settle("s5 decommissioned");
    await until("s5 holds no group data", async () => {
      const st = (await postJson(`${byId.get("s5")!.url}/soltix.v1.AdminService/GetStatus`, {})).json as { groups?: unknown[] };
      const segs = readdirSync(`${tmp.dir}/s5/segments`).filter((f) => f.endsWith(".seg"));
      return (st.groups ?? []).length === 0 && segs.length === 0 ? true : undefined;
    }, 60_000, 250);
    expect((await status(anyLive())).nodes.find((n) => n.nodeId === "s5")!.state).toBe("decommissioned");
    // Refusals: a second operation on a node in one, an unknown id.
    const twice = cli(["cluster", "decommission", "--node", "s5", "--server", `127.0.0.1:${byId.get("s1")!.port}`]);
    expect(twice.out).toContain("it is decommissioned");
    const unknown = cli(["cluster", "remove", "--node", "zz", "--server", `127.0.0.1:${byId.get("s1")!.port}`]);
    expect(unknown.out).toContain(`node "zz" is not known to the cluster`);

    // kill -9 s4 for good: replaced by itself after cluster.dead_node_timeout.
    await byId.get("s4")!.kill9();
    gone.add("s4");
    await settle("s4 replaced automatically");
    expect((await status(anyLive())).nodes.find((n) => n.nodeId === "s4")!.state).toBe("dead");
    // Three members left: decommissioning one would go below the factor.
    const below = cli(["cluster", "decommission", "--node", "s2", "--server", `127.0.0.1:${byId.get("s1")!.port}`]);
    expect(below.code).not.toBe(0);
    expect(below.out).toContain("would leave 2 member node(s) (s1, s3), fewer than replication.factor 3");

    // replace: s3 dies; s6 takes its place (placed as s3: exactly its groups).
    await byId.get("s3")!.kill9();
    gone.add("s3");
    await until("s3 unregistered", async () => ((await status(anyLive())).nodes.find((n) => n.nodeId === "s3")!.registered !== true ? true : undefined), 30_000, 200);
    byId.set("s6", await startNode("s6"));
    const rep = cli(["cluster", "replace", "--node", "s3", "--with", "s6", "--server", `127.0.0.1:${byId.get("s1")!.port}`]);
    expect(rep.out).toContain("s6 takes s3's place");
    placedAs.set("s6", "s3");
    await settle("s6 in s3's place");

    writing = false;
    await load;
    // Every acknowledged point readable through the router.
    const seen = await readAllThroughRouter(router.url, "m", "c", Array.from({ length: DEVICES }, (_, i) => `dev-${i}`));
    const missing = [...acked].filter((k) => !seen.has(k));
    expect(missing.length).toBe(0);
    expect(acked.size).toBeGreaterThan(1000);
    const json = cli(["cluster", "status", "--json", "--server", `127.0.0.1:${byId.get("s1")!.port}`]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).replicationFactor).toBe(3);
  }, 600_000);
});
