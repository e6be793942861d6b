// A cluster with auth.token_file set: every storage, sync, admin and router call needs the bearer
// token (401 / unauthenticated otherwise, health checks open), and the nodes and the router send it to
// each other — router → node writes and queries, node → node startup sync and anti-entropy.

import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { loadConfig } from "../../src/config/config.ts";
import { startRouter } from "../../src/app/router.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { AdminService } from "../../src/gen/soltix/v1/admin_pb.ts";
import { SyncService } from "../../src/gen/soltix/v1/sync_pb.ts";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { RouterService } from "../../src/gen/soltix/v1/router_pb.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";
import { startServedNode } from "../support/served-node.ts";

const tmp = tempDir("auth");
const DAY = 20_420n * NS_PER_DAY;
const TOKEN = "cluster-token-4f9a2c7e11d05b38";
const tokenFile = `${tmp.dir}/token`;
writeFileSync(tokenFile, `${TOKEN}\n`);
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

const startStorage = (metadata: MemoryMetadataStore, id: string) => startServedNode(metadata, id, tmp.dir, { "auth.token_file": tokenFile }, closers);

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const transport = (url: string, token?: string) => createConnectTransport({ baseUrl: url, interceptors: token === undefined ? [] : [bearer(token)] });
const post = (url: string, body: unknown, token?: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body) });

async function code(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof ConnectError ? e.code : Code.Unknown;
  }
}

describe("auth.token_file", () => {
  test("every call needs the token; nodes and router send it to each other", async () => {
    const metadata = new MemoryMetadataStore(systemClock);
    const nodes = [await startStorage(metadata, "a1"), await startStorage(metadata, "a2"), await startStorage(metadata, "a3")];
    const rconfig = loadConfig({ flags: new Map([["server.port", "0"], ["replication.min_replicas_for_write", "3"], ["replication.strategy", "sync"], ["auth.token_file", tokenFile]]) });
    const router = await startRouter(rconfig, { platform: systemPlatform(), logger: silentLogger, metadata });
    const served = serveWithBun(router.app.fetch, "127.0.0.1", 0);
    closers.push(async () => {
      await served.stop();
      await router.close();
    });
    const rurl = `http://127.0.0.1:${served.port}`;
    await until("router ready", async () => ((await fetch(`${rurl}/readyz`)).status === 200 ? true : undefined));
    expect((await fetch(`${nodes[0]!.url}/healthz`)).status).toBe(200);

    // Without the token (or with another one): refused everywhere, before any work.
    const writeUrl = `${rurl}/v1/databases/s/collections/m/write/batch`;
    const points = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => ({ id: `d-${(from + k) % 4}`, time: String(DAY + BigInt(from + k) * NS_PER_SECOND), v: from + k }));
    for (const t of [undefined, "wrong-token-wrong-token"]) {
      const res = await post(writeUrl, { points: points(0, 10) }, t);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
      const n = nodes[0]!.url;
      expect(await code(createClient(AdminService, transport(n, t)).getStatus({}))).toBe(Code.Unauthenticated);
      expect(await code(createClient(SyncService, transport(n, t)).getMerkleRoots({ groupId: 0 }))).toBe(Code.Unauthenticated);
      expect(await code(createClient(StorageService, transport(n, t)).query({ database: "s", collection: "m", ids: ["d-0"], startTime: DAY, endTime: DAY + NS_PER_DAY }))).toBe(Code.Unauthenticated);
      expect(await code(createClient(RouterService, transport(rurl, t)).write({ points: [] }))).toBe(Code.Unauthenticated);
    }
    const before = await createClient(AdminService, transport(nodes[0]!.url, TOKEN)).getStatus({});
    expect(before.groups.length).toBe(0); // nothing was written by the refused calls

    // With it: the router delivers to every replica and queries them (router → node carries the token).
    expect((await post(writeUrl, { points: points(0, 400) }, TOKEN)).status).toBe(200);
    const q = await fetch(`${rurl}/v1/databases/s/collections/m/query?ids=d-1&start_time=${DAY}&end_time=${DAY + NS_PER_DAY}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(q.status).toBe(200);
    expect(((await q.json()) as { points: unknown[] }).points.length).toBe(100);
    expect((await fetch(`${rurl}/v1/databases/s/collections/m/query?ids=d-1`)).status).toBe(401);
    // Node → node: a replica that missed writes catches up by startup sync, and anti-entropy compares.
    await nodes[2]!.stop();
    const rconfig2 = loadConfig({ flags: new Map([["server.port", "0"], ["replication.min_replicas_for_write", "2"], ["replication.strategy", "sync"], ["auth.token_file", tokenFile]]) });
    const router2 = await startRouter(rconfig2, { platform: systemPlatform(), logger: silentLogger, metadata });
    const served2 = serveWithBun(router2.app.fetch, "127.0.0.1", 0);
    closers.push(async () => {
      await served2.stop();
      await router2.close();
    });
    expect((await post(`http://127.0.0.1:${served2.port}/v1/databases/s/collections/m/write/batch`, { points: points(400, 800) }, TOKEN)).status).toBe(200);
    const back = await startStorage(metadata, "a3");
    const groups = [...new Set(["d-0", "d-1", "d-2", "d-3"].map((id) => groupOf("s", "m", id, 256)))];
    const roots = async (url: string, g: number) => (await createClient(SyncService, transport(url, TOKEN)).getMerkleRoots({ groupId: g })).roots.map((r) => `${r.windowStart}:${r.root?.count}:${Buffer.from(r.root?.digest ?? []).toString("hex")}`);
    await until("startup sync over authenticated calls", async () => {
      for (const g of groups) if ((await roots(back.url, g)).join() !== (await roots(nodes[0]!.url, g)).join()) return undefined;
      return true;
    });
    // Anti-entropy from a1 reaches both peers (once a1's view has the restarted a3 again).
    const ae = await until("anti-entropy compares with both peers", async () => {
      const res = await createClient(AdminService, transport(nodes[0]!.url, TOKEN)).triggerAntiEntropy({ groupId: groups[0]!, wait: true });
      return res.records.length > 0 && res.records.every((r) => r.result === "in_sync") ? res : undefined;
    });
    expect(new Set(ae.records.map((r) => r.peer))).toEqual(new Set(["a2", "a3"]));
  });
});
