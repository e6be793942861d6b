// Node loss on the compiled binaries with a real etcd and a real nats-server, in the README's cluster
// (3 nodes, replication factor 3, NATS, a router), with both strategies:
// - a node SIGSTOPped for 30 s under write load: no write is refused; the router lists it down with
//   its backlog; after SIGCONT it registers again by itself, applies its backlog, and every replica's
//   checksums agree — without any anti-entropy run;
// - a node killed, then backfills (older times) and overwrites written, then restarted: every
//   replica is equal at the moment it reports itself active for the group, and a router read right
//   after returns the new values (also with direct delivery and a router restart, so that only the
//   node's own startup sync can bring what it missed);
// - two starts with one node id, or on one data dir: the second is refused with a clear message and
//   the first is unharmed; no default node.id when etcd is configured.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, postJson, startBinary, type RunningBinary } from "../support/binary.ts";
import { startEtcd, startNats, type RunningServer } from "../support/servers.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";
import { windowSums } from "../support/checksums.ts";
import { EtcdMetadataStore } from "../../src/adapters/etcd-metadata.ts";
import { parseGroupRecord, parseNodeRecord } from "../../src/cluster/records.ts";
import { placeGroup } from "../../src/cluster/placement.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND, nsToIso, windowStartNs } from "../../src/base/time.ts";

const tmp = tempDir("bin-node-loss");
let etcd: RunningServer;
let nats: RunningServer & { port: number };
const procs: RunningBinary[] = [];
const etcds: RunningServer[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
  nats = await startNats();
});
afterAll(async () => {
  for (const p of procs) {
    p.proc.kill("SIGCONT");
    await p.kill9().catch(() => {});
  }
  await nats?.stop();
  await etcd?.stop();
  for (const e of etcds) await e.stop();
  tmp.cleanup();
});

const DAY = 20_470n * NS_PER_DAY;
const DB = "plant";
const COLL = "loss";

interface Cluster {
  etcdUrl: string;
  ids: string[];
  nodes: RunningBinary[];
  router: RunningBinary;
  nodeArgs(i: number): string[];
  routerArgs(): string[];
}

async function start(args: string[]): Promise<RunningBinary> {
  const b = await startBinary(args);
  procs.push(b);
  return b;
}

/** Each cluster has its own etcd (group records are per cluster), and shares the nats-server (streams are per node id). */
async function startCluster(prefix: string, queue: "nats" | "direct", strategy: "async" | "sync"): Promise<Cluster> {
  const etcd = await startEtcd();
  etcds.push(etcd);
  const ids = [1, 2, 3].map((i) => `${prefix}-storage-${i}`);
  const q = queue === "nats" ? ["--queue.type", "nats", "--queue.url", nats.url] : [];
  const nodeArgs = (i: number) => ["node", "--node.id", ids[i]!, "--storage.data_dir", `${tmp.dir}/${ids[i]}`, "--server.port", "0", "--etcd.endpoints", etcd.url, ...q];
  const routerArgs = () => ["router", "--node.id", `${prefix}-router`, "--server.port", "0", "--etcd.endpoints", etcd.url, ...q, "--replication.strategy", strategy];
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(await start(nodeArgs(i)));
  const router = await start(routerArgs());
  await until("router ready with 3 nodes", async () => {
    const r = await fetch(`${router.url}/readyz`);
    const b = (await r.json()) as { nodes: string[] };
    return r.status === 200 && ids.every((id) => b.nodes.includes(id)) ? true : undefined;
  });
  for (const n of nodes) await until("node ready", async () => ((await fetch(`${n.url}/readyz`)).status === 200 ? true : undefined));
  return { ids, nodes, router, nodeArgs, routerArgs, etcdUrl: etcd.url };
}


const windowOf = (id: string, t: bigint) => `${groupOf(DB, COLL, id, 256)}:${windowStartNs(t)}`;

async function writePoints(router: RunningBinary, points: Array<{ id: string; time: bigint; v: number }>): Promise<number> {
  const r = await postJson(`${router.url}/v1/databases/${DB}/collections/${COLL}/write/batch`, { points: points.map((p) => ({ id: p.id, time: nsToIso(p.time), v: p.v })) });
  return r.status;
}

/** No node ran anti-entropy (its records are empty everywhere). */
async function noAntiEntropyRan(nodes: RunningBinary[]): Promise<void> {
  for (const n of nodes) {
    const st = await postJson(`${n.url}/soltix.v1.AdminService/GetStatus`, {});
    for (const g of st.json.groups ?? []) expect(g.lastAntiEntropy ?? []).toEqual([]);
    expect(n.stderr()).not.toContain("anti-entropy: window");
  }
}

describe("node loss on the README cluster (compiled binaries, etcd, NATS)", () => {
  for (const strategy of ["async", "sync"] as const) {
    test(`${strategy}: a node SIGSTOPped for 30 s under write load — 0 writes refused; after SIGCONT it catches up from its backlog, no anti-entropy`, async () => {
      const c = await startCluster(`pause-${strategy}`, "nats", strategy);
      const windows = new Set<string>();
      let refused = 0;
      let acked = 0;
      let seq = 0;
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const points = Array.from({ length: 100 }, (_, i) => {
            const k = seq++;
            const id = `dev-${k % 12}`;
            const time = DAY + BigInt(k % 2) * NS_PER_DAY + BigInt(k) * NS_PER_SECOND;
            windows.add(windowOf(id, time));
            return { id, time, v: k };
          });
          const status = await writePoints(c.router, points);
          if (status === 200) acked += points.length;
          else refused++;
          await Bun.sleep(40);
        }
      })();
      const paused = c.nodes[1]!;
      try {
        await Bun.sleep(2_000);
        paused.proc.kill("SIGSTOP");
        // Past its 10 s lease the router sees it down, with what waits for it in its stream.
        const down = await until("router lists the paused node down", async () => {
          const b = (await (await fetch(`${c.router.url}/readyz`)).json()) as { ready: boolean; nodes_down: Array<{ id: string; hints_pending: number }> };
          const d = b.nodes_down.find((x) => x.id === c.ids[1]);
          return b.ready && d !== undefined && d.hints_pending > 0 ? d : undefined;
        }, 25_000, 500).catch(async (e) => {
          throw new Error(`${(e as Error).message}: ${JSON.stringify(await (await fetch(`${c.router.url}/readyz`)).json())}`);
        });
        expect(down.hints_pending).toBeGreaterThan(0);
        await Bun.sleep(Math.max(0, 30_000 - 2_000));
      } finally {
        paused.proc.kill("SIGCONT");
        await Bun.sleep(3_000);
        writing = false;
        await writer;
      }
      expect(refused).toBe(0);
      expect(acked).toBeGreaterThan(20_000);
      // It registers again by itself and its /readyz is true again.
      await until("paused node registered and ready again", async () => ((await fetch(`${paused.url}/readyz`)).status === 200 ? true : undefined), 30_000, 250);
      const store = new EtcdMetadataStore([c.etcdUrl]);
      expect(parseNodeRecord((await store.get(`/soltix/nodes/${c.ids[1]}`))!.value).address).toBe(`127.0.0.1:${paused.port}`);
      await store.close();
      // Its backlog applied: every replica equal, and nothing came from anti-entropy.
      const final = await until("replicas equal after the backlog", async () => {
        const s = await windowSums(c.nodes, windows);
        return s[0] === s[1] && s[1] === s[2] ? s : undefined;
      }, 60_000, 500);
      const total = final[0]!.split(",").reduce((n, part) => n + Number(part.split("/")[1]), 0);
      expect(total).toBe(acked);
      await noAntiEntropyRan(c.nodes);
      expect(paused.stderr()).toContain("registration lost; registering again");
      for (const n of [...c.nodes, c.router]) await n.kill9();
    }, 150_000);
  }

  for (const mode of [
    { name: "NATS async", queue: "nats", strategy: "async", restartRouter: false },
    { name: "NATS sync", queue: "nats", strategy: "sync", restartRouter: false },
    { name: "direct, router restarted while the node is down (its hints lost)", queue: "direct", strategy: "sync", restartRouter: true },
  ] as const) {
    test(`${mode.name}: killed, backfills and overwrites with older times, restarted — equal before it reports active; a router read right after has the new values`, async () => {
      const prefix = `kill-${mode.queue}-${mode.strategy}`;
      const c = await startCluster(prefix, mode.queue, mode.strategy);
      // A device whose group's primary is the node we kill: the router reads it first.
      const victim = 1;
      let device = "";
      for (let k = 0; device === ""; k++) {
        const id = `dev-${k}`;
        if (placeGroup(groupOf(DB, COLL, id, 256), c.ids, 3)[0] === c.ids[victim]) device = id;
      }
      const group = groupOf(DB, COLL, device, 256);
      const windows = new Set<string>();
      const base = Array.from({ length: 2_000 }, (_, i) => ({ id: device, time: DAY + BigInt(i) * 30n * NS_PER_SECOND, v: i }));
      for (const p of base) windows.add(windowOf(p.id, p.time));
      for (let i = 0; i < base.length; i += 500) expect(await writePoints(c.router, base.slice(i, i + 500))).toBe(200);
      const store = new EtcdMetadataStore([c.etcdUrl]);
      await until("group assigned", async () => ((await store.get(`/soltix/groups/${group}`)) !== undefined ? true : undefined));
      await c.nodes[victim]!.kill9();
      // While it is down: backfills two days back (below its newest local time) and overwrites.
      const backfill = Array.from({ length: 600 }, (_, i) => ({ id: device, time: DAY - 2n * NS_PER_DAY + BigInt(i) * 60n * NS_PER_SECOND, v: 10_000 + i }));
      const overwrite = base.filter((_, i) => i % 7 === 0).map((p) => ({ ...p, v: p.v + 1_000_000 }));
      for (const p of backfill) windows.add(windowOf(p.id, p.time));
      for (const batch of [backfill, overwrite]) expect(await writePoints(c.router, batch)).toBe(200);
      if (mode.restartRouter) {
        await c.router.kill9();
        c.router = await start(c.routerArgs());
      }
      // Watch the group record: the restarted node goes syncing, then active.
      const events: Array<{ syncing: string[] }> = [];
      const stopWatch = await store.watchPrefix(`/soltix/groups/${group}`, (e) => {
        if (e.type === "put") events.push({ syncing: parseGroupRecord(e.value).syncing_nodes });
      });
      c.nodes[victim] = await start(c.nodeArgs(victim));
      const id = c.ids[victim]!;
      await until(`${id} reports active for group ${group}`, async () => {
        const i = events.findIndex((e) => e.syncing.includes(id));
        return i >= 0 && events.slice(i + 1).some((e) => !e.syncing.includes(id)) ? true : undefined;
      }, 60_000, 20).catch((e) => {
        throw new Error(`${(e as Error).message}; events ${JSON.stringify(events)}; its log: ${c.nodes[victim]!.stderr().slice(-3000)}`);
      });
      // At that moment: every replica equal ...
      const s = await windowSums(c.nodes, windows);
      expect(s[1]).toBe(s[0]!);
      expect(s[2]).toBe(s[0]!);
      // ... and the router (reading the primary, the restarted node) returns the new values.
      await until("router sees the node registered again", async () => {
        const b = (await (await fetch(`${c.router.url}/readyz`)).json()) as { nodes: string[] };
        return b.nodes.includes(id) ? true : undefined;
      }, 30_000, 100);
      const q = await fetch(`${c.router.url}/v1/databases/${DB}/collections/${COLL}/query?ids=${device}&start_time=${nsToIso(DAY - 2n * NS_PER_DAY)}&limit=10000`);
      expect(q.status).toBe(200);
      const body = (await q.json()) as { points: Array<{ time: string; fields: { v: { numberValue: number } } }>; served_by: Record<string, string>; next_cursor: string };
      expect(body.served_by[device]).toBe(id);
      const byTime = new Map(body.points.map((p) => [p.time, p.fields.v.numberValue]));
      for (const p of [...overwrite, ...backfill]) expect(byTime.get(String(p.time))).toBe(p.v);
      expect(byTime.size).toBe(base.length + backfill.length);
      await stopWatch();
      await store.close();
      for (const n of c.nodes) await n.kill9();
      await c.router.kill9();
    }, 120_000);
  }

  test("two starts with one node id, or on one data dir: the second is refused clearly, the first unharmed; no default node.id with etcd", async () => {
    const args = (id: string, dir: string) => ["node", "--node.id", id, "--storage.data_dir", `${tmp.dir}/${dir}`, "--server.port", "0", "--etcd.endpoints", etcd.url];
    const first = await start(args("twin", "twin-a"));
    await until("first registered", async () => ((await fetch(`${first.url}/readyz`)).status === 200 ? true : undefined));
    const store = new EtcdMetadataStore([etcd.url]);
    const before = parseNodeRecord((await store.get("/soltix/nodes/twin"))!.value);
    // The same id, another data dir.
    const twin = cli(args("twin", "twin-b"));
    expect(twin.code).not.toBe(0);
    expect(twin.out).toContain("node id twin is already registered by a live process at 127.0.0.1:");
    expect(twin.out).toContain(`${first.port}`);
    expect(twin.out).toMatch(/Give this node its own --node\.id, or stop the other process/);
    // The same data dir (under any id).
    const sameDir = cli(args("twin", "twin-a"));
    expect(sameDir.code).not.toBe(0);
    expect(sameDir.out).toMatch(/storage\.data_dir .*twin-a is locked by pid \d+ .*that process is running/);
    const otherIdSameDir = cli(args("other", "twin-a"));
    expect(otherIdSameDir.code).not.toBe(0);
    expect(otherIdSameDir.out).toMatch(/is locked by pid/);
    // The first is unharmed: still registered as itself, still serving.
    const after = parseNodeRecord((await store.get("/soltix/nodes/twin"))!.value);
    expect(after.instance).toBe(before.instance);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect(first.proc.exitCode).toBeNull();
    // A data dir belongs to its node: once the first stops, another id is still refused on it.
    expect(await first.stop()).toBe(0);
    const wrongId = cli(args("impostor", "twin-a"));
    expect(wrongId.code).not.toBe(0);
    expect(wrongId.out).toMatch(/belongs to node "twin" .*start it with --node\.id twin/);
    // In a cluster (etcd configured) a node must be given its id.
    const noId = cli(["node", "--storage.data_dir", `${tmp.dir}/noid`, "--server.port", "0", "--etcd.endpoints", etcd.url]);
    expect(noId.code).not.toBe(0);
    expect(noId.out).toMatch(/node\.id: must be set when etcd\.endpoints is/);
    await store.close();
  }, 60_000);
});
