// Group moves between real nodes in one process (shared embedded metadata, real sockets, the
// binary's composition): a node added to a running cluster gets its rendezvous share by moves (filled
// window by window, verified, promoted), the nodes that gave a group up delete their copy, every
// replica ends identical and every written point is readable through the router.

import { afterAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "../../src/gen/soltix/v1/admin_pb.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { groupNodes } from "../../src/cluster/records.ts";
import { desiredNodes } from "../../src/cluster/planner.ts";
import { tempDir } from "../support/engine.ts";
import { postJson } from "../support/binary.ts";
import { until } from "../support/wait.ts";
import { startServedNode, startServedRouter, type ServedNode } from "../support/served-node.ts";
import { storedFromPoint } from "../../src/rpc/convert.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";

const tmp = tempDir("membership");
const DAY0 = 20_400n * NS_PER_DAY;
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

const admin = (url: string) => createClient(AdminService, createConnectTransport({ baseUrl: url }));
const FLAGS = { "cluster.plan_interval": "200ms", "coordinator.total_groups": "32" };
const start = (metadata: MemoryMetadataStore, id: string, extra: Record<string, string> = {}) => startServedNode(metadata, id, tmp.dir, { ...FLAGS, ...extra }, closers);

async function routerOn(metadata: MemoryMetadataStore): Promise<string> {
  return (await startServedRouter(metadata, { "replication.strategy": "sync", "replication.min_replicas_for_write": "2", "coordinator.total_groups": "32" }, closers)).url;
}

/** Writes `n` new points (unique ids and times from `from`) over 3 days; returns how many were acknowledged. */
async function write(url: string, from: number, n: number): Promise<number> {
  for (let b = from; b < from + n; b += 500) {
    const points = [];
    for (let i = b; i < Math.min(from + n, b + 500); i++) points.push({ id: `dev-${i % 60}`, time: String(DAY0 + BigInt(i % 3) * NS_PER_DAY + BigInt(i) * NS_PER_SECOND), v: i });
    const r = await postJson(`${url}/v1/databases/s/collections/m/write/batch`, { points });
    expect(r.status).toBe(200);
  }
  return n;
}

/** Every point of the 60 devices through the router's paged query: distinct values read. */
async function countAll(url: string): Promise<number> {
  const ids = Array.from({ length: 60 }, (_, i) => `dev-${i}`).join(",");
  const seen = new Set<number>();
  let cursor = "";
  do {
    const r = await fetch(`${url}/v1/databases/s/collections/m/query?ids=${ids}&limit=10000${cursor === "" ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { points: Array<{ fields: { v: { numberValue: number } } }>; next_cursor: string };
    for (const p of body.points) seen.add(p.fields.v.numberValue);
    cursor = body.next_cursor;
  } while (cursor !== "");
  return seen.size;
}

async function settled(nodes: ServedNode[], factor: number): Promise<boolean> {
  const view = nodes[0]!.node.sync.view!;
  const members = nodes.map((n) => n.id).filter((id) => view.isMember(id));
  for (const g of view.allGroups()) {
    if (g.joining_nodes.length > 0 || g.leaving_nodes.length > 0) return false;
    const want = desiredNodes(g.group_id, members, factor, (id) => view.placementOf(id)).sort();
    if (groupNodes(g).sort().join() !== want.join()) return false;
  }
  // Every node holds data of exactly the groups that name it.
  for (const n of nodes) {
    const held = new Set(view.allGroups().filter((g) => groupNodes(g).includes(n.id)).map((g) => g.group_id));
    if (n.node.engine.groups().some((g) => !held.has(g))) return false;
  }
  return true;
}

/**
 * Every group's replicas hold the same windows with the same checksums. A write in flight while a
 * move was verified reaches the promoted node by its after-promotion comparison (5 s after the
 * promotion, AFTER_PROMOTE_VERIFY_MS_MIN): replicas must be identical by then.
 */
async function identicalReplicas(nodes: ServedNode[]): Promise<void> {
  const view = nodes[0]!.node.sync.view!;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const sumsOf = async (g: { group_id: number } & Parameters<typeof groupNodes>[0]) => {
    const sums = [];
    for (const id of groupNodes(g)) {
      const e = byId.get(id)!.node.engine;
      const parts = [];
      for (const w of e.windowsOf(g.group_id)) parts.push(`${w}:${(await e.windowChecksum(g.group_id, w)).sha256Hex}`);
      sums.push(parts.join(","));
    }
    return sums;
  };
  await until("replicas identical", async () => {
    for (const g of view.allGroups()) if (new Set(await sumsOf(g)).size !== 1) return undefined;
    return true;
  }, 15_000, 200).catch(() => {});
  for (const g of view.allGroups()) {
    const sums = [];
    for (const id of groupNodes(g)) {
      const e = byId.get(id)!.node.engine;
      const ws = e.windowsOf(g.group_id);
      const parts = [];
      for (const w of ws) parts.push(`${w}:${(await e.windowChecksum(g.group_id, w)).sha256Hex}`);
      sums.push(parts.join(","));
    }
    expect(new Set(sums).size).toBe(1);
    expect(sums[0]!.length).toBeGreaterThan(0);
  }
}

describe("cluster membership by moves", () => {
  test("3 → 4 nodes under writes: the new node gets its rendezvous share; givers delete their copy; replicas identical; every point readable", async () => {
    const metadata = new MemoryMetadataStore(systemClock);
    const nodes = [await start(metadata, "m1"), await start(metadata, "m2"), await start(metadata, "m3")];
    const url = await routerOn(metadata);
    let written = await write(url, 0, 6_000);
    for (const n of nodes) await n.node.engine.flush();
    nodes.push(await start(metadata, "m4"));
    // Writes go on while the moves run.
    const load = (async () => {
      for (let k = 0; k < 10; k++) written += await write(url, 6_000 + k * 300, 300);
    })();
    await load;
    await until("placement is the desired one over 4 nodes", async () => ((await settled(nodes, 3)) ? true : undefined), 60_000, 100);
    const m4 = nodes[3]!;
    expect(m4.node.sync.mover!.stats.movesFinished).toBeGreaterThan(0);
    expect(m4.node.engine.groups().length).toBe(nodes[0]!.node.sync.view!.allGroups().filter((g) => groupNodes(g).includes("m4")).length);
    expect(nodes.slice(0, 3).reduce((n, x) => n + x.node.sync.mover!.stats.groupsDropped, 0)).toBeGreaterThan(0);
    await identicalReplicas(nodes);
    expect(await countAll(url)).toBe(written);
  }, 120_000);
});

describe("operator membership changes (AdminService)", () => {
  test("decommission empties a node; refusals say why; replace puts a new node exactly in a dead node's place; status reports it all", async () => {
    const metadata = new MemoryMetadataStore(systemClock);
    const nodes = [await start(metadata, "d1"), await start(metadata, "d2"), await start(metadata, "d3"), await start(metadata, "d4")];
    const url = await routerOn(metadata);
    let written = await write(url, 0, 4_000);
    const adm = admin(nodes[0]!.url);
    await until("groups placed on 4 nodes", async () => ((await settled(nodes, 3)) ? true : undefined), 30_000, 100);

    // Decommission d4: its groups move to d1..d3, then its data dir holds no group data.
    const r = await adm.decommissionNode({ nodeId: "d4" });
    expect(r.state).toBe("decommissioning");
    expect(r.message).toContain("d4 is decommissioning");
    written += await write(url, 4_000, 1_000);
    await until("d4 holds nothing", async () => {
      const s = await adm.getClusterStatus({});
      const d4 = s.nodes.find((n) => n.nodeId === "d4")!;
      return d4.state === "decommissioned" && d4.groups === 0 && nodes[3]!.node.engine.groups().length === 0 && (await settled(nodes.slice(0, 3), 3)) ? true : undefined;
    }, 60_000, 100);
    await identicalReplicas(nodes.slice(0, 3));
    expect(await countAll(url)).toBe(written);

    // Refusals, each with its reason.
    const refused = async (call: Promise<unknown>, code: Code, text: string) => {
      const e = await call.then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(ConnectError);
      expect((e as ConnectError).code).toBe(code);
      expect((e as ConnectError).rawMessage).toContain(text);
    };
    await refused(adm.decommissionNode({ nodeId: "d3" }), Code.FailedPrecondition, "would leave 2 member node(s) (d1, d2), fewer than replication.factor 3");
    await refused(adm.decommissionNode({ nodeId: "nope" }), Code.NotFound, `node "nope" is not known to the cluster`);
    await refused(adm.decommissionNode({ nodeId: "d4" }), Code.FailedPrecondition, "d4: it is decommissioned");
    await refused(adm.removeNode({ nodeId: "d1" }), Code.FailedPrecondition, "cannot remove d1: it is registered");
    await refused(adm.replaceNode({ nodeId: "d2", withNodeId: "d4" }), Code.FailedPrecondition, "cannot replace d2: it is registered");

    // d2 dies for good; d5 replaces it and gets exactly d2's groups.
    const d2Groups = nodes[0]!.node.sync.view!.allGroups().filter((g) => groupNodes(g).includes("d2")).map((g) => g.group_id);
    await nodes[1]!.stop();
    const d5 = await start(metadata, "d5");
    await until("d2 seen down", async () => (nodes[0]!.node.sync.view!.node("d2") === undefined ? true : undefined), 30_000, 100);
    await refused(adm.replaceNode({ nodeId: "d2", withNodeId: "d4" }), Code.FailedPrecondition, "cannot use as a replacement d4: it is decommissioned");
    await refused(adm.replaceNode({ nodeId: "d2", withNodeId: "d9" }), Code.FailedPrecondition, "d9 is not registered");
    const rep = await adm.replaceNode({ nodeId: "d2", withNodeId: "d5" });
    expect(rep.message).toContain("d5 takes d2's place");
    await refused(adm.replaceNode({ nodeId: "d2", withNodeId: "d5" }), Code.FailedPrecondition, "it was removed (replaced by d5)");
    written += await write(url, 5_000, 1_000);
    const live = [nodes[0]!, nodes[2]!, d5];
    await until("d5 holds d2's groups", async () => ((await settled(live, 3)) ? true : undefined), 60_000, 100);
    const d5Groups = nodes[0]!.node.sync.view!.allGroups().filter((g) => groupNodes(g).includes("d5")).map((g) => g.group_id);
    expect(d5Groups).toEqual(d2Groups);
    await identicalReplicas(live);
    expect(await countAll(url)).toBe(written);
    const s = await adm.getClusterStatus({});
    expect(s.underReplicated).toEqual([]);
    expect(s.moves).toEqual([]);
    expect(s.nodes.find((n) => n.nodeId === "d2")!.state).toBe("removed");
    expect(s.nodes.find((n) => n.nodeId === "d5")!.placementId).toBe("d2");
    expect(s.planner).not.toBe("");
  }, 180_000);
});

describe("cluster.move_bytes_per_sec", () => {
  test("a fill never runs ahead of its cap (streams are paced as they arrive, not only between calls)", async () => {
    const metadata = new MemoryMetadataStore(systemClock);
    const flags = { "replication.factor": "1", "cluster.plan_interval": "1h" };
    const a = await start(metadata, "cap-a", flags);
    const b = await start(metadata, "cap-b", flags);
    await until("views loaded", async () => (a.node.sync.view?.loaded === true && b.node.sync.view?.loaded === true && b.node.sync.antiEntropy !== undefined ? true : undefined));
    // 4 days × 2 000 points, all of one group.
    const mine: StoredPoint[] = [];
    const target = storedFromPoint({ database: "cap", collection: "m", id: "dev-0", timeNs: DAY0, insertedAtNs: 1n, fields: [] }, 32).group;
    for (let i = 0; mine.length < 8_000; i++) {
      const day = mine.length % 4;
      const fields: Array<[string, { kind: "number"; value: number }]> = [["v", { kind: "number", value: i }], ["w", { kind: "number", value: i / 7 }]];
      const s = storedFromPoint({ database: "cap", collection: "m", id: `dev-${i % 997}`, timeNs: DAY0 + BigInt(day) * NS_PER_DAY + BigInt(i) * NS_PER_SECOND / 8n, insertedAtNs: 1n, fields }, 32);
      if (s.group === target) mine.push(s);
    }
    const group = target;
    await a.node.engine.write(mine);
    await a.node.engine.flush();
    const capBytesPerSec = 25_000;
    const t0 = performance.now();
    const recs = await b.node.sync.antiEntropy!.fillFrom(group, "cap-a", { bytesPerSecMax: capBytesPerSec, onWindow: () => {} });
    const secs = (performance.now() - t0) / 1000;
    expect(recs.every((r) => r.result === "repaired")).toBe(true);
    const bytes = recs.reduce((n, r) => n + r.bytesReceived + r.bytesSent, 0);
    expect(bytes).toBeGreaterThan(3 * capBytesPerSec);
    // The bucket holds one second's bytes: the rest cannot take less than its share of time.
    expect(secs).toBeGreaterThanOrEqual(((bytes - capBytesPerSec) / capBytesPerSec) * 0.95);
    let held = 0;
    for (const w of b.node.engine.windowsOf(group)) held += (await b.node.engine.windowChecksum(group, w)).pointCount;
    expect(held).toBe(mine.length);
  }, 60_000);
});
