// A TLS cluster: etcd and nats-server speak TLS only, nodes and the router serve HTTPS, and a bearer
// token is required. Writes go router → JetStream (TLS) → both replicas; nodes register in etcd over
// TLS; everything is read back over HTTPS. Plain HTTP to a TLS port, or HTTPS without trusting the
// CA, is refused.

import { systemRng } from "../../src/adapters/system-rng.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { loadConfig } from "../../src/config/config.ts";
import { startNode } from "../../src/app/node.ts";
import { startRouter } from "../../src/app/router.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { httpPeerNet } from "../../src/adapters/peer-net.ts";
import { SyncService } from "../../src/gen/soltix/v1/sync_pb.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { tempDir } from "../support/engine.ts";
import { startEtcd, startNats, TEST_TLS } from "../support/servers.ts";
import { until } from "../support/wait.ts";

const tmp = tempDir("tls");
const DAY = 20_430n * NS_PER_DAY;
const TOKEN = "tls-cluster-token-93be01c4d2";
writeFileSync(`${tmp.dir}/token`, TOKEN);
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

describe("TLS everywhere", () => {
  test("HTTPS nodes and router, etcd and NATS over TLS, token required; no plain or untrusted connections", async () => {
    const etcd = await startEtcd(undefined, true);
    closers.push(() => etcd.stop());
    const nats = await startNats(undefined, true);
    closers.push(() => nats.stop());
    const common = {
      "etcd.endpoints": etcd.url.replace("127.0.0.1", "localhost"), // a TLS server name must be a host name, not an IP
      "etcd.tls.ca_file": TEST_TLS.caFile,
      "queue.type": "nats",
      "queue.url": nats.url,
      "queue.tls.ca_file": TEST_TLS.caFile,
      "server.tls.cert_file": TEST_TLS.certFile,
      "server.tls.key_file": TEST_TLS.keyFile,
      "tls.ca_file": TEST_TLS.caFile,
      "auth.token_file": `${tmp.dir}/token`,
      "server.port": "0",
      "replication.factor": "2",
    };
    const nodeUrls: string[] = [];
    for (const id of ["t1", "t2"]) {
      const config = loadConfig({ flags: new Map(Object.entries({ ...common, "node.id": id, "storage.data_dir": `${tmp.dir}/${id}` })) });
      const node = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
      const served = serveWithBun(node.app.fetch, "127.0.0.1", 0, node.serverTls);
      node.joinCluster(`127.0.0.1:${served.port}`);
      closers.push(async () => {
        await served.stop();
        await node.close();
      });
      nodeUrls.push(`https://127.0.0.1:${served.port}`);
    }
    const rconfig = loadConfig({ flags: new Map(Object.entries({ ...common, "node.id": "tr", "replication.min_replicas_for_write": "2", "replication.strategy": "sync" })) });
    const router = await startRouter(rconfig, { platform: systemPlatform(), logger: silentLogger });
    const served = serveWithBun(router.app.fetch, "127.0.0.1", 0, router.serverTls);
    closers.push(async () => {
      await served.stop();
      await router.close();
    });
    const rurl = `https://127.0.0.1:${served.port}`;
    const ca = readFileSync(TEST_TLS.caFile, "utf8");
    const net = httpPeerNet({ token: TOKEN, https: true, caPem: ca }, systemClock, systemRng);
    await until("router ready over TLS (etcd view, NATS)", async () => ((await net.fetch(`${rurl}/readyz`)).status === 200 ? true : undefined), 20_000);

    const points = Array.from({ length: 300 }, (_, i) => ({ id: `x-${i % 3}`, time: String(DAY + BigInt(i) * NS_PER_SECOND), v: i }));
    const w = await net.fetch(`${rurl}/v1/databases/s/collections/m/write/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ points }) });
    expect(w.status).toBe(200);
    const groups = [...new Set(["x-0", "x-1", "x-2"].map((id) => groupOf("s", "m", id, 256)))];
    const sums = async (url: string) => {
      const c = createClient(SyncService, createConnectTransport({ baseUrl: url, fetch: net.fetch }));
      return Promise.all(groups.map(async (g) => (await c.getChecksum({ groupId: g, windowStart: DAY })).pointCount));
    };
    const counts = await Promise.all(nodeUrls.map(sums));
    expect(counts[0]!.reduce((a, b) => a + b, 0n)).toBe(300n);
    expect(counts[1]).toEqual(counts[0]!);

    // Refused: plain HTTP on a TLS port, HTTPS without trusting the CA, HTTPS without the token.
    const port = nodeUrls[0]!.split(":").pop();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status)).rejects.toThrow();
    await expect(fetch(`${nodeUrls[0]}/healthz`)).rejects.toThrow(/certificate|self.signed|issuer|verify/i);
    expect((await httpPeerNet({ https: true, caPem: ca }, systemClock, systemRng).fetch(`${nodeUrls[0]}/soltix.v1.SyncService/GetChecksum`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
  }, 60_000);
});
