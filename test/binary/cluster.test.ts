// The compiled binaries as a cluster: real etcd, real nats-server (JetStream), 3 storage nodes with
// replication factor 3 and a router. Writes through the router's HTTP API land on every replica; a
// node killed with -9 during writes catches up from its durable consumer once restarted; a delete
// sent while one node is down reaches it through its stream, and every tombstone is purged once all
// replicas hold it (each node asking JetStream that its own backlog is empty).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startBinary, postJson, type RunningBinary } from "../support/binary.ts";
import { freePort, startEtcd, startNats, type RunningServer } from "../support/servers.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";
import { windowSums } from "../support/checksums.ts";
import { groupOf } from "../../src/model/group.ts";
import { windowStartNs, NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";

const tmp = tempDir("bin-cluster");
let etcd: RunningServer;
let nats: RunningServer & { port: number };
const procs: RunningBinary[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
  nats = await startNats();
});
afterAll(async () => {
  for (const p of procs) await p.kill9().catch(() => {});
  await nats?.stop();
  await etcd?.stop();
  tmp.cleanup();
});

const DAY = 20_060n * NS_PER_DAY;

function nodeArgs(i: number, natsUrl: string): string[] {
  return ["node", "--node.id", `storage-${i}`, "--storage.data_dir", `${tmp.dir}/storage-${i}`, "--server.port", "0", "--etcd.endpoints", etcd.url,
    "--queue.type", "nats", "--queue.url", natsUrl, "--replication.factor", "3",
    "--replication.hint_window", "2s", "--storage.tombstone_purge_delay", "3s", "--storage.sync.anti_entropy.interval", "1s"];
}



describe("cluster of compiled binaries over etcd + NATS JetStream", () => {
  test("RF 3: writes reach every replica; a node kill -9'ed during writes matches the others after its backlog", async () => {
    const nodes: RunningBinary[] = [];
    for (let i = 1; i <= 3; i++) {
      const n = await startBinary(nodeArgs(i, nats.url));
      nodes.push(n);
      procs.push(n);
    }
    const router = await startBinary(["router", "--server.port", "0", "--etcd.endpoints", etcd.url, "--queue.type", "nats", "--queue.url", nats.url, "--replication.factor", "3"]);
    procs.push(router);
    await until("router ready with 3 nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      const b = (await r.json()) as { nodes: string[] };
      return r.status === 200 && b.nodes.length === 3 ? true : undefined;
    });
    for (const n of nodes) await until("node ready", async () => ((await fetch(`${n.url}/readyz`)).status === 200 ? true : undefined));

    const windows = new Set<string>();
    const keys = new Set<string>();
    const writeBatch = async (b: number) => {
      const points = Array.from({ length: 200 }, (_, i) => {
        const id = `dev-${(b * 13 + i) % 30}`;
        const t = DAY + BigInt(i % 2) * NS_PER_DAY + BigInt(b * 500 + i) * NS_PER_SECOND;
        windows.add(`${groupOf("plant", "sensors", id, 256)}:${windowStartNs(t)}`);
        keys.add(`${id}/${t}`);
        return { id, time: t.toString(), temp: i * 0.5, ok: i % 3 === 0 };
      });
      const r = await postJson(`${router.url}/v1/databases/plant/collections/sensors/write/batch`, { points });
      expect(r.status).toBe(200);
    };
    for (let b = 0; b < 10; b++) await writeBatch(b);
    await nodes[1]!.kill9();
    for (let b = 10; b < 25; b++) await writeBatch(b); // queued for storage-2 while it is down
    const restarted = await startBinary(nodeArgs(2, nats.url));
    procs.push(restarted);
    nodes[1] = restarted;
    for (let b = 25; b < 30; b++) await writeBatch(b);
    const final = await until("replicas converged", async () => {
      const s = await windowSums(nodes, windows);
      return s[0] === s[1] && s[1] === s[2] ? s : undefined;
    }, 60_000);
    const total = final[0]!.split(",").reduce((n, part) => n + Number(part.split("/")[1]), 0);
    expect(total).toBe(keys.size);

    // A delete while storage-3 is down: its stream keeps it; once back, it applies it from there.
    await nodes[2]!.kill9();
    const from = DAY;
    const to = DAY + NS_PER_DAY;
    const del = await fetch(`${router.url}/v1/databases/plant/collections/sensors/points?ids=dev-0,dev-1,dev-2&start_time=${from}&end_time=${to}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    for (const k of [...keys]) {
      const [id, t] = k.split("/");
      if (["dev-0", "dev-1", "dev-2"].includes(id!) && BigInt(t!) >= from && BigInt(t!) < to) keys.delete(k);
    }
    nodes[2] = await startBinary(nodeArgs(3, nats.url));
    procs.push(nodes[2]);
    let lastSums: string[] = [];
    // Points of one node's window sums ("w=sha/count", a count of 0 is left out of Connect JSON).
    const count = (sums: string) => sums.split(",").reduce((n, part) => n + (Number(part.split("/")[1]) || 0), 0);
    const afterDelete = await until("replicas converged after the delete", async () => {
      const s = await windowSums(nodes, windows);
      lastSums = s;
      return s[0] === s[1] && s[1] === s[2] && count(s[0]!) === keys.size ? s : undefined;
    }, 60_000).catch((e) => {
      throw new Error(`${String(e)}; want ${keys.size} points, the nodes hold ${lastSums.map(count).join(" / ")}`);
    });
    expect(afterDelete[0]).toBe(afterDelete[2]!);
    await until("tombstones purged on every node", async () => {
      for (const n of nodes) {
        const r = await postJson(`${n.url}/soltix.v1.AdminService/GetStatus`, {});
        if (((r.json.groups ?? []) as Array<{ tombstones?: number }>).some((g) => (g.tombstones ?? 0) > 0)) return undefined;
      }
      return true;
    }, 60_000);
  });

  test("NATS unreachable: router and node not ready, writes refused with unavailable", async () => {
    const dead = `nats://127.0.0.1:${await freePort()}`;
    const router = await startBinary(["router", "--node.id", "router-dead", "--server.port", "0", "--etcd.endpoints", etcd.url, "--queue.type", "nats", "--queue.url", dead]);
    procs.push(router);
    const node = await startBinary(["node", "--node.id", "storage-dead", "--storage.data_dir", `${tmp.dir}/dead`, "--server.port", "0", "--etcd.endpoints", etcd.url, "--queue.type", "nats", "--queue.url", dead]);
    procs.push(node);
    const rr = await until("router not ready", async () => {
      const r = await fetch(`${router.url}/readyz`);
      const b = (await r.json()) as { problems: string[] };
      return r.status === 503 && b.problems.some((p) => p.includes("NATS")) ? b : undefined;
    });
    expect(rr.problems.join(" ")).toContain(dead.replace("nats://", ""));
    const nr = await fetch(`${node.url}/readyz`);
    expect(nr.status).toBe(503);
    const w = await postJson(`${router.url}/v1/databases/plant/collections/sensors/write`, { id: "dev-1", time: String(DAY), temp: 1 });
    expect(w.status).toBe(503);
    expect(w.json.code).toBe("unavailable");
    expect(w.json.message).toMatch(/NATS/);
  });
});
