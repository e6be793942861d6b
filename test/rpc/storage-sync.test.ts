import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { SyncService } from "../../src/gen/soltix/v1/sync_pb.ts";
import { PointSchema, FieldValueSchema, type Point } from "../../src/gen/soltix/v1/point_pb.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { startTestNode, type TestNode } from "../support/node.ts";

const DAY = 20_000n * NS_PER_DAY;

function pt(id: string, t: bigint, v: number, insertedAt = 0n): Point {
  return create(PointSchema, {
    database: "db",
    collection: "sensors",
    id,
    time: t,
    insertedAt,
    fields: { v: create(FieldValueSchema, { value: { case: "numberValue", value: v } }) },
  });
}

let n: TestNode;
beforeAll(async () => {
  n = await startTestNode();
});
afterAll(async () => n.close());

describe("StorageService + SyncService", () => {
  test("Write then Query pages through everything with a cursor, in key order per group", async () => {
    const storage = n.client(StorageService, true);
    const points: Point[] = [];
    for (let d = 0; d < 5; d++) for (let i = 0; i < 120; i++) points.push(pt(`dev-${d}`, DAY + BigInt(i) * 600n * NS_PER_SECOND, d * 1000 + i));
    expect((await storage.write({ points })).accepted).toBe(600);
    const seen: Point[] = [];
    let cursor = "";
    let pages = 0;
    do {
      const res = await storage.query({ database: "db", collection: "sensors", limit: 70, cursor });
      expect(res.points.length).toBeLessThanOrEqual(70);
      seen.push(...res.points);
      cursor = res.nextCursor;
      pages++;
    } while (cursor !== "");
    expect(seen.length).toBe(600);
    expect(pages).toBeGreaterThanOrEqual(9);
    expect(new Set(seen.map((p) => `${p.id}/${p.time}`)).size).toBe(600);
    // A time-bounded query for one device
    const one = await storage.query({ database: "db", collection: "sensors", ids: ["dev-3"], startTime: DAY + 3600n * NS_PER_SECOND, endTime: DAY + 7200n * NS_PER_SECOND });
    expect(one.points.map((p) => Number((p.time - DAY) / NS_PER_SECOND))).toEqual([3600, 4200, 4800, 5400, 6000, 6600]);
    expect(one.points.every((p) => p.insertedAt > 0n)).toBe(true);
  });

  test("a newer inserted_at replaces a point; an older one does not", async () => {
    const storage = n.client(StorageService);
    const t = DAY + 5n;
    await storage.write({ points: [pt("lww", t, 1, 100n)] });
    await storage.write({ points: [pt("lww", t, 2, 50n)] });
    let r = await storage.query({ database: "db", collection: "sensors", ids: ["lww"] });
    expect(r.points.map((p) => p.fields.v?.value.value)).toEqual([1]);
    await storage.write({ points: [pt("lww", t, 3, 200n)] });
    r = await storage.query({ database: "db", collection: "sensors", ids: ["lww"] });
    expect(r.points.map((p) => p.fields.v?.value.value)).toEqual([3]);
  });

  test("StreamPoints streams a group in batches and resumes from any cursor without gaps or repeats", async () => {
    const sync = n.client(SyncService);
    const storage = n.client(StorageService);
    const g = groupOf("db", "sensors", "dev-0", 256);
    const points: Point[] = [];
    for (let d = 0; d < 3; d++) for (let i = 0; i < 50; i++) points.push(pt("dev-0", DAY + BigInt(d) * NS_PER_DAY + BigInt(i), i));
    await storage.write({ points });
    await n.node.engine.flush();
    const all: string[] = [];
    const cursors: string[] = [];
    for await (const msg of sync.streamPoints({ groupId: g, batchSize: 40 })) {
      expect(msg.points.length).toBeLessThanOrEqual(40);
      for (const p of msg.points) all.push(`${p.id}/${p.time}`);
      cursors.push(msg.cursor);
    }
    expect(new Set(all).size).toBe(all.length);
    // 120 points from the first test + 150 here, one key (DAY + 0) written by both.
    expect(all.filter((k) => k.startsWith("dev-0/")).length).toBe(120 + 150 - 1);
    // Resume from the 3rd batch's cursor: exactly the remainder.
    const rest: string[] = [];
    for await (const msg of sync.streamPoints({ groupId: g, batchSize: 40, cursor: cursors[2]! })) for (const p of msg.points) rest.push(`${p.id}/${p.time}`);
    expect(rest).toEqual(all.slice(all.length - rest.length));
    expect(rest.length).toBe(all.length - 3 * 40);
    const last = await sync.getLastTimestamp({ groupId: g });
    expect(last.timestamp).toBe(DAY + 2n * NS_PER_DAY + 49n);
  });

  test("FetchWindow: the binary fast path and the Connect handler (JSON) send the same file and the same errors", async () => {
    const storage = n.client(StorageService);
    const g = groupOf("db", "sensors", "dev-fw", 256);
    const w = DAY + 5n * NS_PER_DAY;
    await storage.write({ points: Array.from({ length: 300 }, (_, i) => pt("dev-fw", w + BigInt(i) * NS_PER_SECOND, i * 0.25)) });
    await n.node.engine.flush();
    const fetchAll = async (binary: boolean, req: { groupId: number; windowStart: bigint; bytesMax?: bigint }) => {
      const chunks: Uint8Array[] = [];
      let total = -1n;
      let count = -1;
      for await (const m of n.client(SyncService, binary).fetchWindow(req)) {
        if (total < 0n) {
          total = m.totalBytes;
          count = m.pointCount;
        }
        chunks.push(m.chunk);
      }
      return { bytes: Buffer.concat(chunks), total, count };
    };
    const fast = await fetchAll(true, { groupId: g, windowStart: w });
    const slow = await fetchAll(false, { groupId: g, windowStart: w });
    const want = await n.node.engine.windowSegment(g, w);
    expect(fast.count).toBe(300);
    expect(Number(fast.total)).toBe(fast.bytes.length);
    expect(fast.bytes.equals(Buffer.from(want!.bytes))).toBe(true);
    expect(slow).toEqual(fast);
    // A window holding nothing: one empty message on both paths.
    for (const binary of [true, false]) expect(await fetchAll(binary, { groupId: g, windowStart: w + NS_PER_DAY })).toEqual({ bytes: Buffer.alloc(0), total: 0n, count: 0 });
    const errorOf = (binary: boolean, req: { groupId: number; windowStart: bigint; bytesMax?: bigint }) => fetchAll(binary, req).then(() => "no error", (e: Error) => e.message);
    for (const binary of [true, false]) {
      expect(await errorOf(binary, { groupId: 256, windowStart: w })).toMatch(/invalid_argument.*group_id.*256/);
      expect(await errorOf(binary, { groupId: g, windowStart: w + 1n })).toMatch(/invalid_argument.*window_start/);
      expect(await errorOf(binary, { groupId: g, windowStart: w, bytesMax: 100n })).toMatch(/resource_exhausted.*limit 100/);
    }
  });

  test("GetChecksum is the same before and after flush/compaction, and over JSON", async () => {
    const sync = n.client(SyncService);
    const g = groupOf("db", "sensors", "dev-1", 256);
    const before = await sync.getChecksum({ groupId: g, windowStart: DAY });
    await n.node.engine.flush();
    await n.node.engine.compactAll();
    const after = await sync.getChecksum({ groupId: g, windowStart: DAY });
    expect(after).toEqual(before);
    expect(before.pointCount).toBeGreaterThan(0n);
    const viaJson = await n.post("/soltix.v1.SyncService/GetChecksum", { groupId: g, windowStart: String(DAY) });
    expect(viaJson.json).toEqual({ sha256: before.sha256, pointCount: String(before.pointCount) });
    const empty = await sync.getChecksum({ groupId: g, windowStart: DAY + 100n * NS_PER_DAY });
    expect(empty).toMatchObject({ sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", pointCount: 0n });
  });
});
