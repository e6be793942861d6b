// kill -9 the compiled binary at random moments during ingest, restart it, and check that every
// acknowledged write survived and that the node ends with exactly the checksums of a node that was
// never crashed and received the same writes.

import { afterAll, describe, expect, test } from "bun:test";
import { startBinary, postJson, type RunningBinary } from "../support/binary.ts";
import { openEngine, tempDir } from "../support/engine.ts";
import { NS_PER_DAY, NS_PER_SECOND, windowStartNs } from "../../src/base/time.ts";
import { groupOf } from "../../src/model/group.ts";
import type { Point } from "../../src/model/point.ts";
import { storedFromPoint } from "../../src/rpc/convert.ts";

const CYCLES = 22;
const DAY = 20_100n * NS_PER_DAY;
const tmp = tempDir("crash");
afterAll(() => tmp.cleanup());

interface Batch {
  json: unknown;
  points: Point[];
}

let seed = 12345;
function rand(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
}

let nextInserted = 1_000n;
/** A batch of random keys (many overwrites), or with `unique` the next `size` keys never written before. */
let uniqueNext = 0;
function makeBatch(size: number, unique = false): Batch {
  const points: Point[] = [];
  for (let i = 0; i < size; i++) {
    const u = unique ? uniqueNext++ : 0;
    const id = unique ? `bulk-${u % 50}` : `dev-${rand(12)}`;
    const timeNs = unique ? DAY + BigInt(Math.floor(u / 50)) * NS_PER_SECOND : DAY + BigInt(rand(2)) * NS_PER_DAY + BigInt(rand(3600)) * NS_PER_SECOND;
    points.push({ database: "crash", collection: "m", id, timeNs, insertedAtNs: nextInserted++, fields: [["v", { kind: "number", value: rand(1_000_000) / 7 }], ["n", { kind: "int", value: BigInt(rand(100)) }]] });
  }
  return {
    points,
    json: {
      points: points.map((p) => ({
        database: p.database,
        collection: p.collection,
        id: p.id,
        time: p.timeNs.toString(),
        insertedAt: p.insertedAtNs.toString(),
        fields: { v: { numberValue: (p.fields[0]![1] as { value: number }).value }, n: { intValue: String((p.fields[1]![1] as { value: bigint }).value) } },
      })),
    },
  };
}

async function writeUntilKilled(node: RunningBinary, acked: Batch[], unacked: Batch[], killAfterMs: number): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  let killed = false;
  // The random delay starts at the cycle's first acknowledgement, so every cycle kills a node that
  // has acknowledged writes (a slow machine must not turn cycles into no-ops).
  let firstAck: () => void = () => {};
  const acknowledged = new Promise<void>((r) => (firstAck = r));
  const killer = (async () => {
    await Promise.race([acknowledged, Bun.sleep(10_000)]);
    await Bun.sleep(killAfterMs);
    killed = true;
    await node.kill9();
  })();
  while (!killed && Date.now() - started < killAfterMs + 12_000) {
    const b = makeBatch(20 + rand(200));
    const p = postJson(`${node.url}/soltix.v1.StorageService/Write`, b.json).then(
      (r) => {
        if (r.status === 200 && r.json.accepted === b.points.length) {
          acked.push(b);
          firstAck();
        } else unacked.push(b);
      },
      () => {
        unacked.push(b);
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await killer;
  await Promise.all(inFlight);
}

/** Every stored point's version, paging through Query with its cursor. */
async function queryAll(url: string): Promise<Map<string, bigint>> {
  const have = new Map<string, bigint>();
  let cursor = "";
  do {
    const r = await postJson(`${url}/soltix.v1.StorageService/Query`, { database: "crash", collection: "m", limit: 10000, cursor });
    expect(r.status).toBe(200);
    for (const p of r.json.points as Array<{ id: string; time: string; insertedAt: string }>) have.set(`${p.id}/${p.time}`, BigInt(p.insertedAt));
    cursor = r.json.nextCursor ?? "";
  } while (cursor !== "");
  return have;
}

describe("crash safety of the compiled binary", () => {
  test(`${CYCLES} kill -9 cycles during ingest lose no acknowledged write`, async () => {
    const dataDir = `${tmp.dir}/node`;
    const args = ["node", "--storage.data_dir", dataDir, "--server.port", "0", "--storage.memstore_bytes_max", String(2 * 1024 * 1024)];
    const acked: Batch[] = [];
    const unacked: Batch[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const node = await startBinary(args);
      const before = acked.length;
      await writeUntilKilled(node, acked, unacked, 30 + rand(250));
      expect(acked.length).toBeGreaterThan(before); // every cycle killed a node holding acknowledged writes
      // Restart and check every acknowledged point is there, with its exact version.
      const check = await startBinary(args);
      const have = await queryAll(check.url);
      for (const b of acked.slice(before)) {
        for (const p of b.points) {
          const v = have.get(`${p.id}/${p.timeNs}`);
          expect(v).toBeDefined();
          // Present with this version or a newer one (a later batch may overwrite the key).
          expect(v! >= p.insertedAtNs).toBe(true);
        }
      }
      await check.kill9();
    }
    expect(acked.length).toBeGreaterThanOrEqual(CYCLES);

    // Re-send the unacknowledged batches (clients retry), then compare with a never-crashed node.
    const node = await startBinary(args);
    for (const b of unacked) {
      const r = await postJson(`${node.url}/soltix.v1.StorageService/Write`, b.json);
      expect(r.status).toBe(200);
    }
    // More than the 2 MiB memory store holds, so this process flushes too (on its worker thread).
    for (let i = 0; i < 60; i++) {
      const b = makeBatch(500, true);
      const r = await postJson(`${node.url}/soltix.v1.StorageService/Write`, b.json);
      expect(r.status).toBe(200);
      acked.push(b);
    }
    const reference = await openEngine(`${tmp.dir}/reference`, { totalGroups: 256 });
    const all = [...acked, ...unacked];
    for (const b of all) await reference.write(b.points.map((p) => storedFromPoint(p, 256)));
    const windows = new Set<string>();
    for (const b of all) for (const p of b.points) windows.add(`${groupOf(p.database, p.collection, p.id, 256)}:${windowStartNs(p.timeNs)}`);
    for (const w of windows) {
      const [g, ws] = w.split(":");
      const got = await postJson(`${node.url}/soltix.v1.SyncService/GetChecksum`, { groupId: Number(g), windowStart: ws });
      const want = await reference.windowChecksum(Number(g), BigInt(ws!));
      expect(got.json).toEqual({ sha256: want.sha256Hex, pointCount: String(want.pointCount) });
    }
    await reference.close();
    const health = await (await fetch(`${node.url}/healthz`)).json();
    expect(health.engine.computeThreads).toBeGreaterThanOrEqual(1);
    expect(health.engine.computeTasks).toBeGreaterThan(0);
    expect(health.engine.flushes).toBeGreaterThan(0);
    expect(await node.stop()).toBe(0);
  });
});
