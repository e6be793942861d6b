// Startup sync and anti-entropy between real nodes in one process (shared embedded metadata,
// real sockets): a restarted node catches up and its groups go syncing → active; divergence planted
// on one replica is found and repaired by the narrowed descent; an empty replica with startup sync off
// is restored by the full-resync fallback; an unreachable replica is recorded as partial.

import { afterAll, describe, expect, test } from "bun:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { loadConfig } from "../../src/config/config.ts";
import { startRouter, type Router } from "../../src/app/router.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { AdminService } from "../../src/gen/soltix/v1/admin_pb.ts";
import { SyncService } from "../../src/gen/soltix/v1/sync_pb.ts";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { tempDir } from "../support/engine.ts";
import { postJson } from "../support/binary.ts";
import { until } from "../support/wait.ts";
import { startServedNode, type ServedNode } from "../support/served-node.ts";
import type { WatchEvent } from "../../src/ports/metadata.ts";

const tmp = tempDir("sync");
const DAY = 20_400n * NS_PER_DAY;
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

type Running = ServedNode;

const startStorage = (metadata: MemoryMetadataStore, id: string, extra: Record<string, string> = {}): Promise<Running> => startServedNode(metadata, id, tmp.dir, extra, closers);

async function startRouterOn(metadata: MemoryMetadataStore, minReplicas = 1): Promise<{ url: string; router: Router }> {
  const config = loadConfig({ flags: new Map([["server.port", "0"], ["replication.min_replicas_for_write", String(minReplicas)], ["replication.strategy", "sync"]]) });
  const router = await startRouter(config, { platform: systemPlatform(), logger: silentLogger, metadata });
  const served = serveWithBun(router.app.fetch, "127.0.0.1", 0);
  closers.push(async () => {
    await served.stop();
    await router.close();
  });
  return { url: `http://127.0.0.1:${served.port}`, router };
}

const admin = (url: string) => createClient(AdminService, createConnectTransport({ baseUrl: url }));
const sync = (url: string) => createClient(SyncService, createConnectTransport({ baseUrl: url }));

async function writeThroughRouter(url: string, from: number, to: number, ids: string[]): Promise<void> {
  for (let b = from; b < to; b += 500) {
    const points = [];
    for (let i = b; i < Math.min(to, b + 500); i++) points.push({ id: ids[i % ids.length], time: String(DAY + BigInt(i) * 7n * NS_PER_SECOND), v: i });
    const r = await postJson(`${url}/v1/databases/s/collections/m/write/batch`, { points });
    expect(r.status).toBe(200);
  }
}

async function rootsOf(url: string, group: number) {
  return (await sync(url).getMerkleRoots({ groupId: group, windows: [] })).roots.map((r) => `${r.windowStart}:${Buffer.from(r.root!.digest).toString("hex")}:${r.root!.count}`);
}

/** Two nodes (factor 2) behind a router that sees both, and the group of one device. */
async function twoReplicasOfOneDevice(id: string, nodeIds: [string, string], extra: Record<string, string> = {}) {
  const metadata = new MemoryMetadataStore(systemClock);
  const nodes = [await startStorage(metadata, nodeIds[0], extra), await startStorage(metadata, nodeIds[1], extra)];
  const { url } = await startRouterOn(metadata, 2);
  await until("router sees 2 nodes", async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
  return { metadata, id, group: groupOf("s", "m", id, 256), nodes, url };
}

describe("startup sync", () => {
  test("a restarted node catches up from its replicas; its groups go syncing → active", async () => {
    const metadata = new MemoryMetadataStore(systemClock);
    const ids = ["a-1", "a-2", "a-3"];
    const nodes = [await startStorage(metadata, "n1"), await startStorage(metadata, "n2"), await startStorage(metadata, "n3")];
    const { url } = await startRouterOn(metadata, 2);
    await until("router sees 3 nodes", async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
    await writeThroughRouter(url, 0, 3000, ids);
    await nodes[2]!.stop();
    await writeThroughRouter(url, 3000, 6000, ids);
    const events: WatchEvent[] = [];
    await metadata.watchPrefix("/soltix/groups/", (e) => events.push(e));
    const n3 = await startStorage(metadata, "n3");
    const groups = [...new Set(ids.map((id) => groupOf("s", "m", id, 256)))];
    const status = await until("startup sync done", async () => {
      const st = await admin(n3.url).getStatus({});
      const mine = st.groups.filter((g) => groups.includes(g.groupId));
      // The group's state is the cluster view's (an etcd watch), which follows the CAS a moment later.
      return mine.length === groups.length && mine.every((g) => g.sync?.state === "done" && g.state === "active") ? st : undefined;
    });
    for (const g of groups) {
      expect(await rootsOf(n3.url, g)).toEqual(await rootsOf(nodes[0]!.url, g));
      const gs = status.groups.find((x) => x.groupId === g)!;
      expect(gs.state).toBe("active");
      expect(Number(gs.sync!.points)).toBeGreaterThan(0);
      const states = events.filter((e) => e.key === `/soltix/groups/${g}` && e.type === "put").map((e) => (e.type === "put" ? JSON.parse(e.value).state : ""));
      expect(states).toEqual(["syncing", "active"]);
    }
  });
});

describe("anti-entropy", () => {
  test("with sketches: the same divergence is settled by the sketch in one round trip; a replica holding extra points gets them", async () => {
    const { id, group, nodes, url } = await twoReplicasOfOneDevice("k-1", ["k1", "k2"], { "storage.sync.anti_entropy.sketch": "true" });
    await writeThroughRouter(url, 0, 4000, [id]);
    const direct = (n: number) => createClient(StorageService, createConnectTransport({ baseUrl: nodes[n]!.url }));
    const mk = (sec: bigint, v: number, ins: bigint) => ({ database: "s", collection: "m", id, time: DAY + sec * NS_PER_SECOND, insertedAt: ins, fields: { v: { value: { case: "numberValue" as const, value: v } } } });
    await direct(0).write({ points: [mk(1n, 1, 1n), mk(2n, 2, 1n), mk(3n, 3, 1n), mk(7n, -1, 8_000_000_000_000_000_000n), mk(14n, -2, 8_000_000_000_000_000_000n)] });
    const res = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    const rec = res.records.find((r) => r.windowStart === DAY)!;
    expect(rec).toMatchObject({ peer: "k1", result: "repaired", path: "sketch" });
    expect(Number(rec.pointsDiffering)).toBe(5);
    expect(Number(rec.pointsRepaired)).toBe(5);
    expect(rec.roundTrips).toBe(1);
    expect(Number(rec.bytesSent) + Number(rec.bytesReceived)).toBeLessThan(2_000);
    expect(await rootsOf(nodes[1]!.url, group)).toEqual(await rootsOf(nodes[0]!.url, group));
    // The other way: k2 holds points k1 lacks; k2 runs, finds them in the decoded difference and gives them (a second round trip).
    await direct(1).write({ points: [mk(20n, 20, 1n), mk(22n, 22, 1n)] });
    const back = (await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true })).records.find((r) => r.windowStart === DAY)!;
    expect(back).toMatchObject({ peer: "k1", result: "repaired", path: "sketch" });
    expect(Number(back.pointsDiffering)).toBe(2);
    expect(back.roundTrips).toBe(2);
    expect(await rootsOf(nodes[1]!.url, group)).toEqual(await rootsOf(nodes[0]!.url, group));
    const again = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    expect(again.records.map((r) => [r.result, r.path])).toEqual(again.records.map(() => ["in_sync", "roots"]));
  });

  test("divergence on one replica is narrowed and repaired (descent); an empty replica is restored whole (fallback); unreachable → partial", async () => {
    const { metadata, id, group, nodes, url } = await twoReplicasOfOneDevice("b-1", ["m1", "m2"], { "storage.sync.anti_entropy.sketch": "false" });
    await writeThroughRouter(url, 0, 4000, [id]);
    // Plant divergence on m1 only: 3 extra points and 2 newer versions, written straight to its storage.
    const direct = createClient(StorageService, createConnectTransport({ baseUrl: nodes[0]!.url }));
    const mk = (sec: bigint, v: number, ins: bigint) => ({ database: "s", collection: "m", id, time: DAY + sec * NS_PER_SECOND, insertedAt: ins, fields: { v: { value: { case: "numberValue" as const, value: v } } } });
    await direct.write({ points: [mk(1n, 1, 1n), mk(2n, 2, 1n), mk(3n, 3, 1n), mk(7n, -1, 8_000_000_000_000_000_000n), mk(14n, -2, 8_000_000_000_000_000_000n)] });
    expect(await rootsOf(nodes[0]!.url, group)).not.toEqual(await rootsOf(nodes[1]!.url, group));
    const res = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    const rec = res.records.find((r) => r.windowStart === DAY)!;
    expect(rec).toMatchObject({ peer: "m1", result: "repaired", path: "descent" });
    expect(Number(rec.pointsDiffering)).toBe(5);
    expect(Number(rec.pointsRepaired)).toBe(5);
    expect(rec.roundTrips).toBeGreaterThanOrEqual(2);
    expect(Number(rec.bytesReceived)).toBeLessThan(20_000);
    expect(await rootsOf(nodes[1]!.url, group)).toEqual(await rootsOf(nodes[0]!.url, group));
    // A second run finds nothing and reads no points: one round trip, in_sync.
    const again = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    expect(again.records.map((r) => [r.result, r.path])).toEqual(again.records.map(() => ["in_sync", "roots"]));

    // An empty replica with startup sync off joins the group: anti-entropy restores it via the fallback.
    const m3 = await startStorage(metadata, "m3", { "storage.sync.startup_sync": "false" });
    await until("m3 sees the group", async () => ((await admin(m3.url).getStatus({})).nodeId === "m3" ? true : undefined));
    const { updateGroup } = await import("../../src/cluster/groups.ts");
    await updateGroup(metadata, group, (g) => ({ ...g, replica_nodes: [...g.replica_nodes, "m3"] }), new Date().toISOString());
    await until("m3 holds the group", async () => ((await admin(m3.url).triggerAntiEntropy({ groupId: group, wait: true })).records.length > 0 ? true : undefined));
    const restored = await admin(m3.url).getStatus({});
    const last = restored.groups.find((g) => g.groupId === group)!.lastAntiEntropy;
    expect(last.some((r) => r.path === "full_resync" && r.result === "repaired" && /differ by 100%/.test(r.reason))).toBe(true);
    expect(await rootsOf(m3.url, group)).toEqual(await rootsOf(nodes[0]!.url, group));

    // m2 goes away: m3's next run records it as partial and still completes against m1.
    await nodes[1]!.stop();
    const partial = await admin(m3.url).triggerAntiEntropy({ groupId: group, wait: true });
    expect(partial.records.filter((r) => r.peer === "m2").every((r) => r.result === "partial" && r.reason.includes("m2"))).toBe(true);
    expect(partial.records.some((r) => r.peer === "m2" && r.result === "partial")).toBe(true);
    expect(partial.records.filter((r) => r.peer === "m1").every((r) => r.result === "in_sync")).toBe(true);
  });
});

describe("anti-entropy over many windows", () => {
  for (const sketch of [false, true]) test(`identical replicas are checked with one digest of every window; one differing window among many is found and repaired (${sketch ? "sketch" : "descent"})`, async () => {
    const { windowsDigest } = await import("../../src/merkle/windows-digest.ts");
    const { id, group, nodes, url } = await twoReplicasOfOneDevice(sketch ? "w-2" : "w-1", sketch ? ["e1", "e2"] : ["d1", "d2"], { "storage.sync.anti_entropy.sketch": String(sketch) });
    // Six days, 200 points each.
    for (let day = 0n; day < 6n; day++) {
      const points = Array.from({ length: 200 }, (_, i) => ({ id, time: String(DAY + day * NS_PER_DAY + BigInt(i) * 60n * NS_PER_SECOND), v: i }));
      const r = await postJson(`${url}/v1/databases/s/collections/m/write/batch`, { points });
      expect(r.status).toBe(200);
    }
    const windows = Array.from({ length: 6 }, (_, d) => DAY + BigInt(d) * NS_PER_DAY);
    const clean = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    expect(clean.records.map((r) => [r.windowStart, r.result, r.path])).toEqual(windows.map((w) => [w, "in_sync", "roots"]));
    // One round trip for the whole group, a few hundred bytes whatever the number of windows.
    expect(clean.records.reduce((s, r) => s + r.roundTrips, 0)).toBe(1);
    expect(clean.records.reduce((s, r) => s + Number(r.bytesSent) + Number(r.bytesReceived), 0)).toBeLessThan(300);

    // The RPC itself: the peer's digest of the same windows, a window left out by from_window, a bad digest.
    const roots = (await sync(nodes[0]!.url).getMerkleRoots({ groupId: group })).roots.map((r) => ({ windowStart: r.windowStart, root: { digest: r.root!.digest, count: Number(r.root!.count), leaf: r.root!.leaf } }));
    expect(roots.map((r) => r.windowStart)).toEqual(windows);
    const equal = await sync(nodes[1]!.url).getMerkleRoots({ groupId: group, windowsDigest: windowsDigest(roots) });
    expect(equal.windowsEqual).toBe(true);
    expect(equal.roots).toEqual([]);
    expect((await sync(nodes[1]!.url).getMerkleRoots({ groupId: group, windowsDigest: windowsDigest(roots), fromWindow: windows[1]! })).windowsEqual).toBe(false);
    expect((await sync(nodes[1]!.url).getMerkleRoots({ groupId: group, windowsDigest: windowsDigest(roots.slice(1)), fromWindow: windows[1]! })).windowsEqual).toBe(true);
    const bad = await sync(nodes[1]!.url).getMerkleRoots({ groupId: group, windowsDigest: new Uint8Array(5) }).catch((e: unknown) => e);
    expect(String(bad)).toContain("windows_digest");
    expect(String(bad)).toContain("5 bytes, expected 32");

    // Divergence in the fourth day on d1 only: the digest differs, the roots name the window, the descent repairs it.
    const direct = createClient(StorageService, createConnectTransport({ baseUrl: nodes[0]!.url }));
    await direct.write({ points: [{ database: "s", collection: "m", id, time: windows[3]! + 30n * NS_PER_SECOND, insertedAt: 1n, fields: { v: { value: { case: "numberValue" as const, value: -5 } } } }] });
    const res = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    expect(res.records.map((r) => r.result)).toEqual(["in_sync", "in_sync", "in_sync", "repaired", "in_sync", "in_sync"]);
    const rec = res.records[3]!;
    expect(rec).toMatchObject({ path: sketch ? "sketch" : "descent" });
    expect(Number(rec.pointsRepaired)).toBe(1);
    // Digest, roots, then the descent: the first record carries the two shared round trips. With
    // sketches the roots answer carries the replica's symbols for the differing window, peeled here,
    // and one ExchangePoints fetches the point.
    expect(res.records[0]!.roundTrips).toBe(2);
    if (sketch) expect(rec.roundTrips).toBe(1);
    else expect(rec.roundTrips).toBeGreaterThanOrEqual(1);
    expect(await rootsOf(nodes[1]!.url, group)).toEqual(await rootsOf(nodes[0]!.url, group));
    const again = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
    expect(again.records.reduce((s, r) => s + r.roundTrips, 0)).toBe(1);
  });
});

describe("anti-entropy fallback", () => {
  test("a peer that cannot serve a Merkle tree is resynced whole, and the record says why", async () => {
    const { ConnectError, Code } = await import("@connectrpc/connect");
    const { createHttpApp } = await import("../../src/rpc/http-app.ts");
    const { syncService } = await import("../../src/rpc/sync-service.ts");
    const { storageService } = await import("../../src/rpc/storage-service.ts");
    const { StorageService: Storage } = await import("../../src/gen/soltix/v1/storage_pb.ts");
    const { SyncService: Sync } = await import("../../src/gen/soltix/v1/sync_pb.ts");
    const { VersionStamper } = await import("../../src/ports/clock.ts");
    const { openEngine } = await import("../support/engine.ts");
    const { DEFAULT_SHAPE } = await import("../../src/merkle/shape.ts");
    const metadata = new MemoryMetadataStore(systemClock);
    const id = "legacy-1";
    const group = groupOf("s", "m", id, 256);
    // A "legacy" peer: a real engine and StreamPoints, but no Merkle RPCs (Unimplemented).
    const engine = await openEngine(`${tmp.dir}/legacy`, { totalGroups: 256 });
    const ctx = { nodeId: "legacy", engine, totalGroups: 256, stamper: new VersionStamper(systemClock), clock: systemClock, logger: silentLogger, treeShape: DEFAULT_SHAPE, readRefusal: () => undefined, heldGroups: () => engine.groups() };
    const real = syncService(ctx);
    const unimplemented = () => {
      throw new ConnectError("this replica has no Merkle tree", Code.Unimplemented);
    };
    const app = createHttpApp({
      logger: silentLogger,
      clock: systemClock,
      services: (r) => {
        r.service(Storage, storageService(ctx));
        r.service(Sync, { ...real, getMerkleRoots: unimplemented, getMerkleNodes: unimplemented, getLeafPoints: unimplemented });
      },
    });
    const served = serveWithBun(app.fetch, "127.0.0.1", 0);
    closers.push(async () => {
      await served.stop();
      await engine.close();
    });
    const legacyStorage = createClient(StorageService, createConnectTransport({ baseUrl: `http://127.0.0.1:${served.port}` }));
    await legacyStorage.write({ points: Array.from({ length: 50 }, (_, i) => ({ database: "s", collection: "m", id, time: DAY + BigInt(i) * NS_PER_SECOND, insertedAt: 7n, fields: { v: { value: { case: "numberValue" as const, value: i } } } })) });
    const lease = await metadata.grantLease(10);
    await lease.put("/soltix/nodes/legacy", JSON.stringify({ id: "legacy", address: `127.0.0.1:${served.port}`, status: "active", version: "old", updated_at: "" }));
    const fresh = await startStorage(metadata, "f1", { "storage.sync.startup_sync": "false" });
    await metadata.put(`/soltix/groups/${group}`, JSON.stringify({ group_id: group, primary_node: "legacy", replica_nodes: ["f1"], state: "active", epoch: 1, updated_at: "" }));
    const res = await until("f1 compared with the legacy peer", async () => {
      const r = await admin(fresh.url).triggerAntiEntropy({ groupId: group, wait: true });
      return r.records.length > 0 ? r : undefined;
    });
    const rec = res.records.find((r) => r.windowStart === DAY);
    expect(rec).toBeDefined();
    expect(rec).toMatchObject({ peer: "legacy", result: "repaired", path: "full_resync" });
    expect(rec!.reason).toMatch(/cannot serve a Merkle tree/);
    expect(Number(rec!.pointsRepaired)).toBe(50);
    expect((await sync(fresh.url).getChecksum({ groupId: group, windowStart: DAY })).pointCount).toBe(50n);
  });
});
