// The compiled binary against a real etcd: registers /soltix/nodes/<id> on a lease once listening,
// survives etcd being down at startup (clear error, retries, /readyz false), and its key goes away
// with the lease after kill -9.

import { afterAll, describe, expect, test } from "bun:test";
import { startBinary } from "../support/binary.ts";
import { freePort, startEtcd, type RunningServer } from "../support/servers.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";
import { EtcdMetadataStore } from "../../src/adapters/etcd-metadata.ts";
import { parseNodeRecord } from "../../src/cluster/records.ts";

const tmp = tempDir("reg");
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  tmp.cleanup();
});


describe("node registration in etcd (compiled binary)", () => {
  test("registers after listening; the key dies with the lease after kill -9", async () => {
    const etcd = await startEtcd();
    servers.push(etcd);
    const node = await startBinary(["node", "--node.id", "reg-1", "--storage.data_dir", `${tmp.dir}/a`, "--server.port", "0", "--etcd.endpoints", etcd.url]);
    const store = new EtcdMetadataStore([etcd.url]);
    const kv = await until("registration", () => store.get("/soltix/nodes/reg-1"));
    const rec = parseNodeRecord(kv.value);
    expect(rec).toMatchObject({ id: "reg-1", address: `127.0.0.1:${node.port}`, status: "active" });
    const ready = await fetch(`${node.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, registered: true });
    await node.kill9();
    await until("lease expiry", async () => ((await store.get("/soltix/nodes/reg-1")) === undefined ? true : undefined), 20_000);
    await store.close();
  });

  test("etcd down at startup: node and router serve, /readyz says why, writes get unavailable; all recover once etcd is up", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const node = await startBinary(["node", "--node.id", "reg-2", "--storage.data_dir", `${tmp.dir}/b`, "--server.port", "0", "--etcd.endpoints", url]);
    const router = await startBinary(["router", "--server.port", "0", "--etcd.endpoints", url]);
    const routerNotReady = await fetch(`${router.url}/readyz`);
    expect(routerNotReady.status).toBe(503);
    expect(JSON.stringify(await routerNotReady.json())).toContain(`127.0.0.1:${port}`);
    const refused = await fetch(`${router.url}/v1/databases/d/collections/c/write`, { method: "POST", body: '{"id":"x","time":1,"v":1}' });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { code: string }).code).toBe("unavailable");
    const health = await fetch(`${node.url}/healthz`);
    expect(health.status).toBe(200);
    const notReady = await until("a registration error", async () => {
      const r = await fetch(`${node.url}/readyz`);
      const body = (await r.json()) as { error: string | null };
      return r.status === 503 && body.error !== null && body.error.includes("etcd") ? body : undefined;
    });
    expect(notReady.error).toContain(`127.0.0.1:${port}`);
    expect(node.stderr()).toContain("cannot register node; retrying");
    const etcd = await startEtcd(port);
    servers.push(etcd);
    await until("readiness after etcd started", async () => ((await fetch(`${node.url}/readyz`)).status === 200 ? true : undefined), 30_000);
    await until("router readiness after etcd started", async () => ((await fetch(`${router.url}/readyz`)).status === 200 ? true : undefined), 30_000);
    const accepted = await fetch(`${router.url}/v1/databases/d/collections/c/write`, { method: "POST", body: '{"id":"x","time":1,"v":1}' });
    expect(accepted.status).toBe(200);
    await router.kill9();
    const store = new EtcdMetadataStore([url]);
    expect(parseNodeRecord((await store.get("/soltix/nodes/reg-2"))!.value).id).toBe("reg-2");
    await store.close();
    expect(await node.stop()).toBe(0);
  });
});
