// Paged StorageService.Query returns exactly the unpaged result, whatever the page size: random
// devices spread over many groups and days, every limit from 1 up, and limits chosen so that pages
// end exactly on a group or window boundary (where devices used to be dropped).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { create } from "@bufbuild/protobuf";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { PointSchema, FieldValueSchema, type Point } from "../../src/gen/soltix/v1/point_pb.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND, windowStartNs } from "../../src/base/time.ts";
import { startTestNode, type TestNode } from "../support/node.ts";

const GROUPS = 16;
const DAY = 20_000n * NS_PER_DAY;

function pt(coll: string, id: string, t: bigint): Point {
  return create(PointSchema, { database: "db", collection: coll, id, time: t, fields: { v: create(FieldValueSchema, { value: { case: "numberValue", value: Number(t % 1000n) } }) } });
}

let n: TestNode;
beforeAll(async () => {
  n = await startTestNode({ "coordinator.total_groups": String(GROUPS) });
});
afterAll(async () => n.close());

const key = (p: Point) => `${p.collection}/${p.id}/${p.time}`;

async function pageAll(coll: string, limit: number, ids: string[] = []): Promise<string[]> {
  const storage = n.client(StorageService, true);
  const out: string[] = [];
  let cursor = "";
  for (let pages = 0; ; pages++) {
    if (pages > 100_000) throw new Error("paging does not end");
    const res = await storage.query({ database: "db", collection: coll, ids, limit, cursor });
    expect(res.points.length).toBeLessThanOrEqual(limit);
    out.push(...res.points.map(key));
    cursor = res.nextCursor;
    if (cursor === "") return out;
  }
}

describe("Query paging", () => {
  test("paging with any limit returns exactly the unpaged result (property)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,5}$/), { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(39), fc.nat(2), fc.nat(50)), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        async (devices, rows, limit, byIds) => {
          const coll = `c${run++}`;
          const points = rows.map(([d, day, s]) => pt(coll, devices[d % devices.length]!, DAY + BigInt(day) * NS_PER_DAY + BigInt(s) * 60n * NS_PER_SECOND));
          const storage = n.client(StorageService, true);
          await storage.write({ points });
          const ids = byIds ? devices.slice(0, Math.ceil(devices.length / 2)) : [];
          const unpaged = (await storage.query({ database: "db", collection: coll, ids, limit: 10_000 })).points.map(key);
          const expected = new Set(points.filter((p) => ids.length === 0 || ids.includes(p.id)).map(key));
          expect(new Set(unpaged)).toEqual(expected);
          expect(unpaged.length).toBe(expected.size);
          expect(await pageAll(coll, limit, ids)).toEqual(unpaged);
          // Pages that end exactly where a group or a window ends: every prefix length of the
          // unpaged order that is such a boundary.
          const boundaries = new Set<number>();
          const unit = (k: string) => {
            const [c, id, t] = k.split("/");
            return `${groupOf("db", c!, id!, GROUPS)}:${windowStartNs(BigInt(t!))}`;
          };
          for (let i = 1; i < unpaged.length; i++) if (unit(unpaged[i]!) !== unit(unpaged[i - 1]!)) boundaries.add(i);
          for (const b of [...boundaries].slice(0, 3)) expect(await pageAll(coll, b, ids)).toEqual(unpaged);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("the issue's shape: 120 devices over many groups, every page size returns all 30 000 points", async () => {
    const storage = n.client(StorageService, true);
    const points: Point[] = [];
    for (let d = 0; d < 120; d++) for (let i = 0; i < 250; i++) points.push(pt("big", `dev-${d}`, DAY + BigInt(i) * 60n * NS_PER_SECOND));
    for (let i = 0; i < points.length; i += 10_000) await storage.write({ points: points.slice(i, i + 10_000) });
    for (const limit of [1000, 5000, 7000]) {
      const got = await pageAll("big", limit);
      expect(got.length).toBe(30_000);
      expect(new Set(got).size).toBe(30_000);
    }
  });
});
