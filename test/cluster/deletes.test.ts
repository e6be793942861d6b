// Deletes through the router (DESIGN §11) on router + 3 nodes in one process (direct delivery,
// embedded metadata, real sockets): DELETE …/points by ids and time range, a collection drop and a
// database drop reach every replica — the deleted points are gone from every node's reads, the
// replicas' checksums are equal, the others are all there, and a late write older than a delete stays
// deleted while a newer one is kept. Bad input is refused with the field and the value, and deletes
// nothing: inverted ranges, unknown databases, ids that are paths, a node's Delete without a database.

import { systemPlatform } from "../../src/adapters/platform.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND, windowStartNs } from "../../src/base/time.ts";
import { tempDir } from "../support/engine.ts";
import { postJson } from "../support/binary.ts";
import { until } from "../support/wait.ts";
import { windowSums } from "../support/checksums.ts";

const tmp = tempDir("deletes");
let cluster: LocalCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  tmp.cleanup();
});

const DAY = 20_060n * NS_PER_DAY;
const HOUR = 3600n * NS_PER_SECOND;

async function del(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: "DELETE" });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Every (id, time) each node holds of a collection (node Query, every device), as sorted strings. */
async function held(c: LocalCluster, db: string, coll: string, ids: string[]): Promise<string[][]> {
  const out: string[][] = [];
  for (const n of c.nodes) {
    const keys: string[] = [];
    let cursor = "";
    do {
      const r = await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: db, collection: coll, ids, startTime: "0", endTime: "0", limit: 10000, cursor });
      expect(r.status).toBe(200);
      for (const p of (r.json.points ?? []) as Array<{ id: string; time: string }>) keys.push(`${p.id}@${p.time}`);
      cursor = (r.json.nextCursor as string | undefined) ?? "";
    } while (cursor !== "");
    out.push(keys.sort());
  }
  return out;
}

describe("deletes through the router", () => {
  test("by ids and time range, a collection drop, a database drop: gone from every replica, the rest kept, replicas equal; older late writes stay deleted", async () => {
    cluster = await startLocalCluster({ nodes: 3, dir: tmp.dir, routerPort: 0 }, { platform: systemPlatform(serveWithBun), logger: silentLogger });
    const c = cluster;
    const ids = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
    const expected = new Set<string>();
    const windows = new Set<string>();
    for (const coll of ["cpu", "mem"]) {
      const points = [];
      for (const id of ids) {
        for (let h = 0; h < 48; h++) {
          const t = DAY + BigInt(h) * HOUR;
          points.push({ id, time: t.toString(), v: h });
          if (coll === "cpu") expected.add(`${id}@${t}`);
          windows.add(`${groupOf("m", coll, id, 256)}:${windowStartNs(t)}`);
        }
      }
      const r = await postJson(`${c.routerUrl}/v1/databases/m/collections/${coll}/write/batch`, { points });
      expect(r.status).toBe(200);
    }
    // Delete dev-0 and dev-1 over the first day's second half and the next day's first hours.
    const start = DAY + 12n * HOUR;
    const end = DAY + 30n * HOUR;
    const r = await del(`${c.routerUrl}/v1/databases/m/collections/cpu/points?ids=dev-0,dev-1&start_time=${start}&end_time=${new Date(Number(end / 1_000_000n)).toISOString()}`);
    expect(r.status).toBe(200);
    expect(r.json.deleted).toBe(true);
    expect(r.json.groups).toBeGreaterThanOrEqual(1);
    for (const id of ["dev-0", "dev-1"]) for (let t = start; t < end; t += HOUR) expected.delete(`${id}@${t}`);
    const want = [...expected].sort();
    const urls = c.nodes.map((n) => n.url);
    await until("every replica holds exactly the survivors", async () => {
      const h = await held(c, "m", "cpu", ids);
      return h.every((x) => JSON.stringify(x) === JSON.stringify(want)) ? true : undefined;
    }, 20_000);
    const sums = await windowSums(c.nodes, windows);
    expect(sums[1]).toBe(sums[0]!);
    expect(sums[2]).toBe(sums[0]!);
    // A late write older than the delete (a redelivery, a backfill stamped before it) stays deleted;
    // a newer write of a deleted point is kept.
    const deletedAt = BigInt(r.json.inserted_at as string);
    const late = await postJson(`${c.routerUrl}/soltix.v1.RouterService/Write`, {
      points: [{ database: "m", collection: "cpu", id: "dev-0", time: String(start), fields: { v: { numberValue: -1 } }, insertedAt: String(deletedAt - 5n) }],
    });
    expect(late.status).toBe(200);
    const newer = await postJson(`${c.routerUrl}/v1/databases/m/collections/cpu/write/batch`, { points: [{ id: "dev-1", time: String(start), v: 7 }] });
    expect(newer.status).toBe(200);
    want.push(`dev-1@${start}`);
    want.sort();
    await until("late older write dropped, newer kept, on every replica", async () => {
      const h = await held(c, "m", "cpu", ids);
      return h.every((x) => JSON.stringify(x) === JSON.stringify(want)) ? true : undefined;
    }, 20_000);
    // The router's read sees the same.
    const q = await fetch(`${c.routerUrl}/v1/databases/m/collections/cpu/query?ids=dev-0&start_time=${start}&end_time=${end}`);
    expect(((await q.json()) as { points: unknown[] }).points).toEqual([]);

    // A collection drop: every device of mem, all time; cpu untouched.
    const drop = await del(`${c.routerUrl}/v1/databases/m/collections/mem`);
    expect(drop.status).toBe(200);
    await until("mem gone everywhere", async () => ((await held(c, "m", "mem", [])).every((x) => x.length === 0) ? true : undefined), 20_000);
    expect((await held(c, "m", "cpu", [])).every((x) => JSON.stringify(x) === JSON.stringify(want))).toBe(true);
    const status = await postJson(`${urls[0]}/soltix.v1.AdminService/GetStatus`, {});
    const tombstones = ((status.json.groups ?? []) as Array<{ tombstones?: number }>).reduce((n, g) => n + (g.tombstones ?? 0), 0);
    expect(tombstones).toBeGreaterThan(0);

    // A database drop removes its record too.
    const dropDb = await del(`${c.routerUrl}/v1/databases/m`);
    expect(dropDb.status).toBe(200);
    expect(dropDb.json.record_removed).toBe(true);
    await until("m gone everywhere", async () => ((await held(c, "m", "cpu", [])).every((x) => x.length === 0) ? true : undefined), 20_000);
  }, 120_000);

  test("bad deletes are refused with the field and the value, and delete nothing", async () => {
    const c = cluster!;
    const w = await postJson(`${c.routerUrl}/v1/databases/keep/collections/c/write/batch`, { points: [{ id: "a", time: String(DAY), v: 1 }, { id: "b", time: String(DAY + 1n), v: 2 }] });
    expect(w.status).toBe(200);
    const cases: Array<[string, number, RegExp]> = [
      [`/v1/databases/keep/collections/c/points?ids=a&start_time=${DAY + 10n}&end_time=${DAY}`, 400, /end_time: the range is empty or inverted/],
      [`/v1/databases/keep/collections/c/points?ids=a&start_time=${DAY}&end_time=${DAY}`, 400, /end_time/],
      [`/v1/databases/keep/collections/c/points?ids=..%2Fetc&end_time=${DAY + 5n}`, 400, /ids\[0\].*must not contain '\/'/],
      [`/v1/databases/keep/collections/c/points?ids=a&start_time=yesterday`, 400, /start_time: "yesterday" is neither RFC 3339/],
      [`/v1/databases/nope/collections/c/points?ids=a`, 404, /database "nope" does not exist/],
      [`/v1/databases/bad%2Fname/collections/c`, 400, /database/],
    ];
    for (const [path, status, message] of cases) {
      const r = await del(`${c.routerUrl}${path}`);
      expect({ path, status: r.status }).toEqual({ path, status });
      expect(String(r.json.message)).toMatch(message);
    }
    // A node's own Delete: the same checks (Connect JSON).
    const nodeUrl = c.nodes[0]!.url;
    const bad = await postJson(`${nodeUrl}/soltix.v1.StorageService/Delete`, { database: "", collection: "c" });
    expect(bad.status).toBe(400);
    expect(String(bad.json.message)).toMatch(/delete\.database: must not be empty/);
    const inverted = await postJson(`${nodeUrl}/soltix.v1.StorageService/Delete`, { database: "keep", collection: "c", startTime: "10", endTime: "5" });
    expect(inverted.status).toBe(400);
    // Nothing was deleted.
    const h = await held(c, "keep", "c", ["a", "b"]);
    await until("both points on every node", async () => ((await held(c, "keep", "c", ["a", "b"])).every((x) => x.length === 2) ? true : undefined), 10_000);
    expect(h.length).toBe(3);
  }, 60_000);
});
