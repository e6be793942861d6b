// One contract, two implementations: the embedded store and a real etcd must behave the same for
// everything the cluster layer relies on (create-if-absent, CAS, watches, leases, group races).

import { systemClock } from "../../src/adapters/system-clock.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MetadataStore, WatchEvent } from "../../src/ports/metadata.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { EtcdMetadataStore } from "../../src/adapters/etcd-metadata.ts";
import { ensureGroup, getGroup, setGroupState } from "../../src/cluster/groups.ts";
import { startEtcd, type RunningServer } from "../support/servers.ts";

let etcd: RunningServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => etcd?.stop());

let ns = 0;
// The embedded store is one per process: every component of that process shares the instance.
const embedded = new MemoryMetadataStore(systemClock);
const backends: Array<[string, () => MetadataStore]> = [
  ["embedded", () => embedded],
  ["etcd", () => new EtcdMetadataStore([etcd.url])],
];

for (const [name, make] of backends) {
  describe(`metadata contract: ${name}`, () => {
    test("create-if-absent and compare-and-swap", async () => {
      const s = make();
      const k = `/t${++ns}/a`;
      expect(await s.create(k, "1")).toBe(true);
      expect(await s.create(k, "2")).toBe(false);
      const kv = (await s.get(k))!;
      expect(kv.value).toBe("1");
      expect(await s.compareAndSwap(k, "3", kv.modRevision)).toBe(true);
      expect(await s.compareAndSwap(k, "4", kv.modRevision)).toBe(false);
      expect((await s.get(k))!.value).toBe("3");
      expect(await s.compareAndSwap(`/t${ns}/missing`, "x", 1n)).toBe(false);
      await s.put(`/t${ns}/b`, "b");
      expect((await s.list(`/t${ns}/`)).map((x) => [x.key, x.value])).toEqual([[`/t${ns}/a`, "3"], [`/t${ns}/b`, "b"]]);
      await s.delete(`/t${ns}/b`);
      expect(await s.get(`/t${ns}/b`)).toBeUndefined();
      await s.close();
    });

    test("watches see puts and deletes under the prefix only", async () => {
      const s = make();
      const p = `/w${++ns}/`;
      const seen: WatchEvent[] = [];
      const stop = await s.watchPrefix(p, (e) => seen.push(e));
      await s.put(`${p}x`, "1");
      await s.put(`/other${ns}`, "1");
      await s.delete(`${p}x`);
      const deadline = Date.now() + 5000;
      while (seen.length < 2 && Date.now() < deadline) await Bun.sleep(10);
      expect(seen.map((e) => [e.type, e.key])).toEqual([["put", `${p}x`], ["delete", `${p}x`]]);
      await stop();
      await s.close();
    });

    test("a revoked lease takes its keys with it", async () => {
      const s = make();
      const k = `/l${++ns}/node`;
      const lease = await s.grantLease(5);
      await lease.put(k, "up");
      expect((await s.get(k))?.value).toBe("up");
      await lease.revoke();
      expect(await s.get(k)).toBeUndefined();
      await s.close();
    });

    test("routers racing to create the same group end with a single assignment", async () => {
      const stores = Array.from({ length: 6 }, () => make());
      const group = 1000 + ++ns;
      const nodeSets = [["n1", "n2", "n3"], ["n3", "n2", "n1"], ["n1", "n2", "n3", "n4"], ["n2", "n4", "n5"], ["n1", "n5"], ["n6", "n1", "n2"]];
      const results = await Promise.all(stores.map((s, i) => ensureGroup(s, group, nodeSets[i]!, 3, new Date().toISOString())));
      for (const r of results) expect(r).toEqual(results[0]!);
      const stored = await getGroup(stores[0]!, group);
      expect(stored!.record).toEqual(results[0]!);
      expect(stored!.record.epoch).toBe(1);
      // State changes are CAS'd and bump the epoch, concurrently too.
      await Promise.all(stores.map((s, i) => setGroupState(s, group, i % 2 === 0 ? "syncing" : "active", new Date().toISOString())));
      const after = (await getGroup(stores[0]!, group))!.record;
      expect(after.epoch).toBeGreaterThan(1);
      expect(after.epoch).toBeLessThanOrEqual(1 + stores.length);
      await Promise.all(stores.map((s) => s.close()));
    });
  });
}

describe("etcd unreachable", () => {
  test("calls fail with unavailable naming the endpoint, no crash", async () => {
    const s = new EtcdMetadataStore(["http://127.0.0.1:1"]);
    await expect(s.get("/x")).rejects.toThrow(/unavailable|etcd get failed.*127\.0\.0\.1:1/);
    await s.close();
  }, 30_000);
});
