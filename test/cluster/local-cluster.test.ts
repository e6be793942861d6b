// Router + 3 storage nodes in one process (direct delivery, embedded metadata), over real sockets.

import { systemPlatform } from "../../src/adapters/platform.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { groupOf } from "../../src/model/group.ts";
import { windowStartNs, NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { tempDir } from "../support/engine.ts";
import { postJson } from "../support/binary.ts";
import { until } from "../support/wait.ts";

const tmp = tempDir("local-cluster");
const clusters: LocalCluster[] = [];
afterAll(async () => {
  for (const c of clusters) await c.close();
  tmp.cleanup();
});

async function start(opts: Partial<Parameters<typeof startLocalCluster>[0]> = {}): Promise<LocalCluster> {
  const c = await startLocalCluster(
    { nodes: 3, dir: `${tmp.dir}/${clusters.length}`, routerPort: 0, ...opts },
    { platform: systemPlatform(serveWithBun), logger: silentLogger },
  );
  clusters.push(c);
  return c;
}

const DAY = 20_050n * NS_PER_DAY;

export async function checksums(urls: string[], windows: Iterable<string>): Promise<Array<Record<string, string>>> {
  const out: Array<Record<string, string>> = urls.map(() => ({}));
  for (const w of windows) {
    const [g, ws] = w.split(":");
    for (let i = 0; i < urls.length; i++) {
      const r = await postJson(`${urls[i]}/soltix.v1.SyncService/GetChecksum`, { groupId: Number(g), windowStart: ws });
      out[i]![w] = `${r.json.sha256}/${r.json.pointCount}`;
    }
  }
  return out;
}

describe("router → every replica (direct)", () => {
  test("writes through the Soltix HTTP API land on all 3 replicas: equal checksums per group and window", async () => {
    const c = await start();
    const windows = new Set<string>();
    const keys = new Set<string>();
    for (let b = 0; b < 10; b++) {
      const points = Array.from({ length: 300 }, (_, i) => {
        const id = `dev-${(b * 7 + i) % 40}`;
        const t = DAY + BigInt(i % 3) * NS_PER_DAY + BigInt(b * 1000 + i) * NS_PER_SECOND;
        windows.add(`${groupOf("metrics", "cpu", id, 256)}:${windowStartNs(t)}`);
        keys.add(`${id}/${t}`);
        return { id, time: t % 2n === 0n ? t.toString() : new Date(Number(t / 1_000_000n)).toISOString(), load: i / 10, host: `h${i % 5}`, up: i % 2 === 0 };
      });
      const r = await postJson(`${c.routerUrl}/v1/databases/metrics/collections/cpu/write/batch`, { points });
      expect(r.status).toBe(200);
      expect(r.json.accepted).toBe(300);
    }
    const urls = c.nodes.map((n) => n.url);
    // Deliveries beyond the acknowledgement finish in the background; give them a moment.
    const sums = await until("replicas equal", async () => {
      const s = await checksums(urls, windows);
      return JSON.stringify(s[0]) === JSON.stringify(s[1]) && JSON.stringify(s[1]) === JSON.stringify(s[2]) ? s : undefined;
    }, 20_000);
    expect(sums[1]).toEqual(sums[0]!);
    expect(sums[2]).toEqual(sums[0]!);
    const total = Object.values(sums[0]!).reduce((n, v) => n + Number(v.split("/")[1]), 0);
    expect(total).toBe(keys.size);
  });

  test("an acknowledgement means min_replicas_for_write nodes already hold the write durably", async () => {
    const c = await start({ minReplicasForWrite: 2, strategy: "sync" });
    const point = (i: number) => ({ id: "ack-dev", time: String(DAY + BigInt(i)), v: i });
    const holders = async (i: number) => {
      let n = 0;
      for (const node of c.nodes) {
        const r = await postJson(`${node.url}/soltix.v1.StorageService/Query`, { database: "m", collection: "c", ids: ["ack-dev"], startTime: String(DAY + BigInt(i)), endTime: String(DAY + BigInt(i) + 1n) });
        if (r.status === 200 && r.json.points?.length === 1) n++;
      }
      return n;
    };
    for (let i = 0; i < 20; i++) {
      const r = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write`, point(i));
      expect(r.status).toBe(200);
      expect(r.json.min_acks).toBeGreaterThanOrEqual(2);
      expect(await holders(i)).toBeGreaterThanOrEqual(2); // checked at once, no waiting
    }
    // One node down: 2 of 3 still acknowledge.
    await c.nodes[2]!.stop();
    const ok = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write`, point(100));
    expect(ok.status).toBe(200);
    // Two down: refused, and the error says why.
    await c.nodes[1]!.stop();
    const refused = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write`, point(101));
    expect(refused.status).toBe(503);
    expect(refused.json.code).toBe("unavailable");
    expect(refused.json.message).toMatch(/1 of 3 nodes acknowledged, 2 needed/);
  });

  test("bad points are refused whole with the field named; the query endpoint fails over to a replica", async () => {
    const c = await start();
    const bad = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write/batch`, { points: [{ id: "a", time: "2024-11-24T00:00:00Z", v: 1 }, { id: "../x", time: 5 }] });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/points\[1\]\.id/);
    const badTime = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write`, { id: "a", time: "2024-02-30T00:00:00Z" });
    expect(badTime.json.message).toMatch(/point\.time/);
    const nested = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write`, { id: "a", time: 1, x: { y: 1 } });
    expect(nested.json.message).toMatch(/point\.x: object is not a field value/);
    const exact = await postJson(`${c.routerUrl}/v1/databases/m/collections/c/write`, JSON.parse(`{"id":"exact","time":1732406400000000123,"v":1}`));
    expect(exact.status).toBe(200);
    // Raw text keeps the integer exact beyond 2^53.
    const raw = await fetch(`${c.routerUrl}/v1/databases/m/collections/c/write`, { method: "POST", body: '{"id":"exact2","time":1732406400000000123,"v":2}' });
    expect(raw.status).toBe(200);
    // The ack means 2 of 3 replicas hold it; a read at consistency "one" (the primary) sees it once the third has it too.
    const q1 = await until("exact2 readable at consistency one", async () => {
      const q = await (await fetch(`${c.routerUrl}/v1/databases/m/collections/c/query?ids=exact2`)).json();
      return q.points?.length === 1 ? q : undefined;
    }, 5_000);
    expect(q1.points[0].time).toBe("1732406400000000123");
    // Stop the primary of exact2's group: the query is served by a replica.
    const primary = q1.served_by.exact2 as string;
    await c.nodes.find((n) => n.id === primary)!.stop();
    const q2 = await (await fetch(`${c.routerUrl}/v1/databases/m/collections/c/query?ids=exact2`)).json();
    expect(q2.points[0].time).toBe("1732406400000000123");
    expect(q2.served_by.exact2).not.toBe(primary);
  });
});

describe("the router's log tells the operator", () => {
  test("a node that dies: one line; writes refused for want of replicas: one warning naming why, not one per write (at most one per 10 s, with the count)", async () => {
    const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
    const logger = { log: (level: string, msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields }) };
    const c = await startLocalCluster(
      { nodes: 2, dir: `${tmp.dir}/log`, routerPort: 0, factor: 2, minReplicasForWrite: 2, strategy: "sync" },
      { platform: systemPlatform(serveWithBun), logger },
    );
    clusters.push(c);
    const write = (i: number) => postJson(`${c.routerUrl}/v1/databases/l/collections/c/write`, { id: "d0", time: String(DAY + BigInt(i) * NS_PER_SECOND), v: i });
    expect((await write(0)).status).toBe(200);
    await c.nodes[1]!.stop();
    await until("the router saw the node go", async () => (lines.some((l) => l.msg === "cluster: node is down (its registration is gone)" && l.fields.node === "storage-2") ? true : undefined));
    for (let i = 1; i <= 5; i++) expect((await write(i)).status).toBe(503);
    const refused = lines.filter((l) => l.msg === "router: write refused (not enough replicas acknowledged)");
    expect(refused.length).toBe(1);
    expect(refused[0]!.level).toBe("warn");
    expect(String(refused[0]!.fields.reason)).toContain("1 of 2 nodes acknowledged, 2 needed");
    expect(String(refused[0]!.fields.reason)).toContain("storage-2");
  }, 30_000);
});
