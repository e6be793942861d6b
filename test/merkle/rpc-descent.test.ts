// Two storage nodes with diverged data for a window: the descent over SyncService (GetMerkleRoots,
// GetMerkleNodes, GetLeafPoints) finds exactly the differing points, and pulling only those in both
// directions leaves both nodes with equal roots and checksums.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { SyncService } from "../../src/gen/soltix/v1/sync_pb.ts";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { PointSchema, FieldValueSchema } from "../../src/gen/soltix/v1/point_pb.ts";
import { diffTrees } from "../../src/merkle/diff.ts";
import { treeSource } from "../../src/merkle/memory-source.ts";
import { rpcTreeSource } from "../../src/sync/rpc-tree-source.ts";
import { DEFAULT_SHAPE } from "../../src/merkle/shape.ts";
import { groupOf } from "../../src/model/group.ts";
import { keyOfEncoding } from "../../src/model/encoding.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { startTestNode, type TestNode } from "../support/node.ts";

const WS = 20_310n * NS_PER_DAY;
let a: TestNode;
let b: TestNode;
beforeAll(async () => {
  a = await startTestNode();
  b = await startTestNode();
});
afterAll(async () => {
  await a.close();
  await b.close();
});

function pt(id: string, sec: number, v: number, ins: bigint) {
  return create(PointSchema, { database: "ae", collection: "m", id, time: WS + BigInt(sec) * NS_PER_SECOND, insertedAt: ins, fields: { v: create(FieldValueSchema, { value: { case: "numberValue", value: v } }) } });
}

describe("Merkle descent over SyncService", () => {
  test("narrows a mismatch to the differing points; pulling them both ways converges the nodes", async () => {
    const id = "dev-7";
    const group = groupOf("ae", "m", id, 256);
    const common = Array.from({ length: 5000 }, (_, i) => pt(id, i * 17, i, 100n));
    await a.client(StorageService, true).write({ points: common.slice(0, 5000) });
    await b.client(StorageService, true).write({ points: common.slice(0, 5000) });
    await a.node.engine.flush();
    // Divergence: a misses 3 points, b misses 5, 4 points have a newer version on b.
    await b.client(StorageService).write({ points: [pt(id, 86_000, 1, 100n), pt(id, 86_001, 2, 100n), pt(id, 86_002, 3, 100n)] });
    await a.client(StorageService).write({ points: [0, 1, 2, 3, 4].map((k) => pt(id, 40_002 + 17 * k, k, 100n)) });
    await b.client(StorageService).write({ points: [10, 2000, 3000, 4999].map((k) => pt(id, k * 17, -k, 200n)) });

    const sa = a.client(SyncService);
    const sb = b.client(SyncService);
    const rootsA = await sa.getMerkleRoots({ groupId: group, windows: [WS] });
    const rootsB = await sb.getMerkleRoots({ groupId: group, windows: [WS] });
    expect(rootsA.roots[0]!.root!.digest).not.toEqual(rootsB.roots[0]!.root!.digest);
    expect(rootsA.shape).toMatchObject({ fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: 8 });

    const localA = treeSource(await a.node.engine.windowTree(group, WS, DEFAULT_SHAPE));
    const found = await diffTrees(DEFAULT_SHAPE, localA, rpcTreeSource(sb, group, WS, DEFAULT_SHAPE));
    expect(found.onlyRemote.length).toBe(3);
    expect(found.onlyLocal.length).toBe(5);
    expect(found.differ.length).toBe(4);
    expect(found.roundTrips).toBeLessThanOrEqual(DEFAULT_SHAPE.depthMax + 1);
    // Pull into a: exactly the 7 points that differ.
    const pull = [...found.onlyRemote, ...found.differ].map((k) => found.remotePoints.get(k)!.enc);
    expect(pull.length).toBe(7);
    await a.node.engine.write(pull.map((enc) => ({ group, key: keyOfEncoding(enc), enc })));
    // And b pulls what it lacks from a.
    const back = await diffTrees(DEFAULT_SHAPE, treeSource(await b.node.engine.windowTree(group, WS, DEFAULT_SHAPE)), rpcTreeSource(sa, group, WS, DEFAULT_SHAPE));
    expect(back.onlyRemote.length).toBe(5);
    expect(back.differ.length).toBe(0);
    const pullB = back.onlyRemote.map((k) => back.remotePoints.get(k)!.enc);
    await b.node.engine.write(pullB.map((enc) => ({ group, key: keyOfEncoding(enc), enc })));

    const ra = await sa.getMerkleRoots({ groupId: group, windows: [] });
    const rb = await sb.getMerkleRoots({ groupId: group, windows: [] });
    expect(ra.roots).toEqual(rb.roots);
    expect(await sa.getChecksum({ groupId: group, windowStart: WS })).toEqual(await sb.getChecksum({ groupId: group, windowStart: WS }));
    expect(Number(ra.roots[0]!.root!.count)).toBe(5000 + 3 + 5);
  });

  test("bad Merkle requests are invalid_argument naming the field", async () => {
    const r1 = await a.post("/soltix.v1.SyncService/GetMerkleNodes", { groupId: 1, windowStart: String(WS), shape: { fanout: 3 }, nodes: [] });
    expect(r1.json.message).toMatch(/shape\.fanout: 3 must be a power of two/);
    const r2 = await a.post("/soltix.v1.SyncService/GetMerkleNodes", { groupId: 1, windowStart: String(WS), nodes: [{ depth: 1, index: 99 }] });
    expect(r2.json.message).toMatch(/nodes\[0\]\.index: 99 does not exist at depth 1/);
    const r3 = await a.post("/soltix.v1.SyncService/GetMerkleRoots", { groupId: 1, windows: ["5"] });
    expect(r3.json.message).toMatch(/windows\[0\]/);
  });
});
