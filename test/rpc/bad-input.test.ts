import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { create, toBinary } from "@bufbuild/protobuf";
import { startTestNode, type TestNode } from "../support/node.ts";
import { WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { LIMITS } from "../../src/base/limits.ts";

const W = "/soltix.v1.StorageService/Write";
const okPoint = { database: "db", collection: "c", id: "dev-1", time: "1732406400000000000", fields: { v: { numberValue: 1 } } };

let n: TestNode;
beforeAll(async () => {
  n = await startTestNode();
});
afterAll(async () => n.close());

async function expectError(path: string, body: unknown, code: string, mentions: RegExp): Promise<void> {
  const r = await n.post(path, body);
  expect(r.json.code).toBe(code);
  expect(r.json.message).toMatch(mentions);
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
}

describe("bad input gets a clear error naming the field, and nothing is stored", () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ["malformed JSON", '{"points": [', "invalid_argument", /JSON/],
    ["not an object", "[1,2]", "invalid_argument", /WriteRequest/],
    ["unknown top-level field", { points: [okPoint], extra: 1 }, "invalid_argument", /extra/],
    ["unknown point field", { points: [{ ...okPoint, colour: "red" }] }, "invalid_argument", /colour/],
    ["wrong type for time", { points: [{ ...okPoint, time: "yesterday" }] }, "invalid_argument", /time/],
    ["fractional time", { points: [{ ...okPoint, time: 1.5 }] }, "invalid_argument", /time/],
    ["time beyond int64", { points: [{ ...okPoint, time: "99999999999999999999" }] }, "invalid_argument", /time/],
    ["negative time", { points: [{ ...okPoint, time: "-1" }] }, "invalid_argument", /points\[0\]\.time/],
    ["time after 2255", { points: [{ ...okPoint, time: "9000000000000000000" }] }, "invalid_argument", /points\[0\]\.time/],
    ["empty id", { points: [{ ...okPoint, id: "" }] }, "invalid_argument", /points\[0\]\.id: must not be empty/],
    ["path-like id", { points: [okPoint, { ...okPoint, id: "../x" }] }, "invalid_argument", /points\[1\]\.id/],
    ["backslash id", { points: [{ ...okPoint, id: "a\\b" }] }, "invalid_argument", /points\[0\]\.id/],
    ["dot-dot id", { points: [{ ...okPoint, id: ".." }] }, "invalid_argument", /points\[0\]\.id/],
    ["control char id", { points: [{ ...okPoint, id: "a\u0000b" }] }, "invalid_argument", /points\[0\]\.id/],
    ["too long id", { points: [{ ...okPoint, id: "x".repeat(257) }] }, "invalid_argument", /points\[0\]\.id: .*257 bytes, limit 256/],
    ["path-like database", { points: [{ ...okPoint, database: "../etc" }] }, "invalid_argument", /points\[0\]\.database/],
    ["empty collection", { points: [{ ...okPoint, collection: "" }] }, "invalid_argument", /points\[0\]\.collection/],
    ["field without value", { points: [{ ...okPoint, fields: { v: {} } }] }, "invalid_argument", /points\[0\]\.fields\["v"\]/],
    ["NaN number", { points: [{ ...okPoint, fields: { v: { numberValue: "NaN" } } }] }, "invalid_argument", /finite/],
    ["empty batch", { points: [] }, "invalid_argument", /points: must hold at least one point/],
    ["oversized batch", { points: Array.from({ length: 10_001 }, (_, i) => ({ ...okPoint, time: String(i) })) }, "resource_exhausted", /points: 10001 points .* limit 10000/],
  ];
  for (const [name, body, code, re] of cases) {
    test(name, async () => expectError(W, body, code, re));
  }

  test("query and sync inputs are checked too", async () => {
    await expectError("/soltix.v1.StorageService/Query", { database: "db", collection: "c", limit: 20000 }, "resource_exhausted", /limit: 20000, limit 10000/);
    await expectError("/soltix.v1.StorageService/Query", { database: "db", collection: "c", cursor: "garbage!" }, "invalid_argument", /cursor/);
    await expectError("/soltix.v1.StorageService/Query", { database: "db", collection: "c", ids: ["../x"] }, "invalid_argument", /ids\[0\]/);
    await expectError("/soltix.v1.SyncService/GetChecksum", { groupId: 7, windowStart: "12345" }, "invalid_argument", /window_start/);
    await expectError("/soltix.v1.SyncService/GetChecksum", { groupId: 9999, windowStart: "0" }, "invalid_argument", /group_id: 9999/);
    await expectError("/soltix.v1.SyncService/GetLastTimestamp", { groupId: -1 }, "invalid_argument", /group/i);
  });

  test("the node keeps serving, stored nothing from bad requests, and wrote only inside its data dir", async () => {
    const ok = await n.post(W, { points: [okPoint] });
    expect(ok.json).toEqual({ accepted: 1 });
    const q = await n.post("/soltix.v1.StorageService/Query", { database: "db", collection: "c" });
    expect(q.json.points.length).toBe(1);
    expect(readdirSync(n.dir)).toEqual(["data"]);
    expect(readdirSync(`${n.dir}/data`).sort()).toEqual(["LOCK", "quarantine", "segments", "soltix-data.json", "wal"]);
  });

  test("binary (application/proto) Writes get the same codes: malformed bytes, bad fields, oversized bodies", async () => {
    const send = async (body: Uint8Array, headers: Record<string, string> = {}) => {
      const res = await n.node.app.fetch(new Request(`http://node${W}`, { method: "POST", headers: { "content-type": "application/proto", ...headers }, body: new Uint8Array(body) }));
      return { status: res.status, json: (await res.json()) as { code: string; message: string } };
    };
    const garbage = await send(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect(garbage.status).toBe(400);
    expect(garbage.json.code).toBe("invalid_argument");
    expect(garbage.json.message).toMatch(/malformed protobuf/);
    const bad = toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: [{ database: "db", collection: "c", id: "../x", time: 1n, fields: {} }] as never }));
    const r = await send(bad);
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/points\[0\]\.id/);
    const huge = await send(new Uint8Array(8), { "content-length": String(LIMITS.requestBytesMax + 1) });
    expect(huge.json.code).toBe("resource_exhausted");
    expect(huge.json.message).toMatch(/limit/);
    const empty = await send(new Uint8Array(0));
    expect(empty.json).toEqual({ code: "invalid_argument", message: "points: must hold at least one point" });
  });

  test("unknown routes are 404 with a JSON error", async () => {
    const r = await n.node.app.fetch(new Request("http://node/nope"));
    expect(r.status).toBe(404);
  });
});
