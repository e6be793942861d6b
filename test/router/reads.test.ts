// The router's read path against three real nodes (direct delivery): every consistency level returns
// the same points, paged with any limit exactly like unpaged; RFC 3339 and integer-ns times agree;
// quorum/all merge diverged replicas by LWW and write the winner back (read repair); all refuses when
// a replica is down; bad parameters are named.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config/config.ts";
import { launchRouter } from "../../src/app/router.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { NS_PER_DAY, NS_PER_SECOND, nsToIso } from "../../src/base/time.ts";
import { postJson } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { startServedNode, type ServedNode } from "../support/served-node.ts";
import { until } from "../support/wait.ts";

const tmp = tempDir("router-reads");
const closers: Array<() => Promise<void>> = [];
const DAY = 20_480n * NS_PER_DAY;
let nodes: ServedNode[] = [];
let routerUrl = "";
const DEVICES = Array.from({ length: 9 }, (_, i) => `r-${i}`);

beforeAll(async () => {
  const metadata = new MemoryMetadataStore(systemClock);
  for (const id of ["q1", "q2", "q3"]) nodes.push(await startServedNode(metadata, id, tmp.dir, { "replication.factor": "3" }, closers));
  const config = loadConfig({ flags: new Map([["server.port", "0"], ["replication.factor", "3"], ["replication.min_replicas_for_write", "3"], ["replication.strategy", "sync"]]) });
  const r = await launchRouter(config, { platform: systemPlatform(serveWithBun), logger: silentLogger, metadata });
  closers.push(() => r.stop());
  routerUrl = `http://127.0.0.1:${r.port}`;
  await until("router sees 3 nodes", async () => {
    const b = (await (await fetch(`${routerUrl}/readyz`)).json()) as { nodes: string[] };
    return b.nodes.length === 3 ? true : undefined;
  });
  const points = [];
  for (let d = 0; d < DEVICES.length; d++) for (let i = 0; i < 150; i++) points.push({ id: DEVICES[d], time: String(DAY + BigInt(i % 3) * NS_PER_DAY + BigInt(i) * 60n * NS_PER_SECOND), v: d * 1000 + i });
  expect((await postJson(`${routerUrl}/v1/databases/rd/collections/m/write/batch`, { points })).status).toBe(200);
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

type Q = { points: Array<{ id: string; time: string; insertedAt: string; fields: { v: { numberValue: number } } }>; next_cursor: string; served_by: Record<string, string>; read_repaired: number; consistency: string };

async function query(params: string): Promise<{ status: number; body: Q & { code?: string; message?: string } }> {
  const res = await fetch(`${routerUrl}/v1/databases/rd/collections/m/query?${params}`);
  return { status: res.status, body: (await res.json()) as Q & { code?: string; message?: string } };
}

async function all(params: string, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor = "";
  for (let pages = 0; pages < 10_000; pages++) {
    const r = await query(`${params}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status).toBe(200);
    expect(r.body.points.length).toBeLessThanOrEqual(limit);
    out.push(...r.body.points.map((p) => `${p.id}@${p.time}=${p.fields.v.numberValue}`));
    cursor = r.body.next_cursor;
    if (cursor === "") return out;
  }
  throw new Error("paging does not end");
}

describe("router reads", () => {
  test("one, quorum and all agree; paging with any limit equals the unpaged answer", async () => {
    const ids = `ids=${DEVICES.join(",")}`;
    const unpaged = await all(`${ids}&consistency=one`, 10_000);
    expect(unpaged.length).toBe(DEVICES.length * 150);
    expect(new Set(unpaged).size).toBe(unpaged.length);
    for (const consistency of ["one", "quorum", "all"]) {
      for (const limit of [1, 7, 149, 150, 151, 1000]) expect(await all(`${ids}&consistency=${consistency}`, limit)).toEqual(unpaged);
    }
  }, 60_000);

  test("RFC 3339 and integer-nanosecond bounds select the same points", async () => {
    const from = DAY + NS_PER_DAY + 30n * 60n * NS_PER_SECOND;
    const to = DAY + 2n * NS_PER_DAY;
    const a = await all(`ids=${DEVICES.join(",")}&start_time=${from}&end_time=${to}`, 500);
    const b = await all(`ids=${DEVICES.join(",")}&start_time=${encodeURIComponent(nsToIso(from))}&end_time=${encodeURIComponent(nsToIso(to))}`, 500);
    expect(b).toEqual(a);
    expect(a.length).toBeGreaterThan(0);
    for (const p of a) {
      const t = BigInt(p.split("@")[1]!.split("=")[0]!);
      expect(t >= from && t < to).toBe(true);
    }
  });

  test("quorum and all merge diverged replicas by LWW and write the winner back (read repair)", async () => {
    const dev = "r-repair";
    const t = (i: number) => String(DAY + BigInt(i) * NS_PER_SECOND);
    const pt = (i: number, v: number, insertedAt: number) => ({ database: "rd", collection: "m", id: dev, time: t(i), insertedAt: String(insertedAt), fields: { v: { numberValue: v } } });
    // The group exists (one point through the router, on every replica); then q1 holds versions 10 of
    // points 0..9, q2 newer versions 20 of 0..4, q3 none of them.
    expect((await postJson(`${routerUrl}/v1/databases/rd/collections/m/write`, { id: dev, time: t(100), v: -1 })).status).toBe(200);
    expect((await postJson(`${nodes[0]!.url}/soltix.v1.StorageService/Write`, { points: Array.from({ length: 10 }, (_, i) => pt(i, i, 10)) })).status).toBe(200);
    expect((await postJson(`${nodes[1]!.url}/soltix.v1.StorageService/Write`, { points: Array.from({ length: 5 }, (_, i) => pt(i, 100 + i, 20)) })).status).toBe(200);
    const want = [...Array.from({ length: 10 }, (_, i) => (i < 5 ? 100 + i : i)), -1];
    const r = await query(`ids=${dev}&consistency=all`);
    expect(r.status).toBe(200);
    expect(r.body.points.map((p) => p.fields.v.numberValue)).toEqual(want);
    expect(r.body.read_repaired).toBe(5 + 5 + 10); // q1: 5 older; q2: 5 missing; q3: 10 missing
    // Every replica now answers the winners on its own.
    for (const n of nodes) {
      const own = await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: "rd", collection: "m", ids: [dev] });
      expect(own.json.points.map((p: { fields: { v: { numberValue: number } } }) => p.fields.v.numberValue)).toEqual(want);
    }
    const again = await query(`ids=${dev}&consistency=quorum`);
    expect(again.body.read_repaired).toBe(0);
  });

  test("a delete one replica missed: quorum and all leave out what another replica's tombstone deletes, and repair the delete there", async () => {
    const dev = "r-del";
    const t = (i: number) => String(DAY + BigInt(i) * NS_PER_SECOND);
    // On every replica: points 0..5 (version 10).
    const pts = Array.from({ length: 6 }, (_, i) => ({ id: dev, time: t(i), v: i }));
    expect((await postJson(`${routerUrl}/v1/databases/rd/collections/m/write/batch`, { points: pts })).status).toBe(200);
    await until("every replica holds the points", async () => {
      for (const n of nodes) if ((await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: "rd", collection: "m", ids: [dev] })).json.points?.length !== 6) return undefined;
      return true;
    });
    // q1 alone takes a delete of points 0..2 (q2, q3 missed it).
    const d = await postJson(`${nodes[0]!.url}/soltix.v1.StorageService/Delete`, { database: "rd", collection: "m", ids: [dev], startTime: t(0), endTime: t(3) });
    expect(d.status).toBe(200);
    expect(d.json.tombstones).toBe(1);
    const r = await query(`ids=${dev}&consistency=all`);
    expect(r.status).toBe(200);
    expect(r.body.points.map((p) => p.fields.v.numberValue)).toEqual([3, 4, 5]);
    // The delete reached the replicas that lacked it: each answers alone without the deleted points.
    for (const n of nodes) {
      const own = await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: "rd", collection: "m", ids: [dev] });
      expect(own.json.points.map((p: { fields: { v: { numberValue: number } } }) => p.fields.v.numberValue)).toEqual([3, 4, 5]);
      expect(own.json.tombstones.length).toBe(1);
    }
  });

  test("bad parameters are named; all refuses while a replica is down, quorum still answers", async () => {
    const bad = async (params: string, status: number, re: RegExp) => {
      const r = await query(params);
      expect(r.status).toBe(status);
      expect(r.body.message).toMatch(re);
    };
    await bad("ids=r-0&consistency=some", 400, /consistency: "some" must be one of one, quorum, all/);
    await bad("ids=r-0&start_time=yesterday", 400, /start_time: "yesterday" is neither RFC 3339/);
    await bad("ids=r-0&start_time=10&end_time=5", 400, /end_time: 5 must be after start_time 10/);
    await bad("ids=r-0&limit=100000", 413, /limit: 100000, limit 10000/);
    await bad("ids=r-0&cursor=@@", 400, /cursor: not a cursor returned by this router/);
    await bad("ids=", 400, /ids: give one or more device ids/);
    await nodes[2]!.stop();
    await until("router sees q3 down", async () => {
      const b = (await (await fetch(`${routerUrl}/readyz`)).json()) as { nodes_down: Array<{ id: string }> };
      return b.nodes_down.some((d) => d.id === "q3") ? true : undefined;
    });
    await bad(`ids=${DEVICES.join(",")}&consistency=all`, 503, /read\.consistency all needs 3 of 3 replicas, 2 answered/);
    const q = await query(`ids=${DEVICES.join(",")}&consistency=quorum&limit=10000`);
    expect(q.status).toBe(200);
    expect(q.body.points.length).toBe(DEVICES.length * 150);
    // The node that is down is listed by its peers.
    const st = await postJson(`${nodes[0]!.url}/soltix.v1.AdminService/GetStatus`, {});
    expect(st.json.peersDown.map((p: { nodeId: string }) => p.nodeId)).toEqual(["q3"]);
    expect(st.json.registration).toBe("registered");
  });
});
