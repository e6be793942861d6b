// Sketch reconciliation between two real nodes (launchNode, real sockets, the router creating the
// groups), as a property over random replica pairs: n points over 1–3 days, then points only on
// one side, only on the other, newer versions on either, and sometimes a delete one replica holds.
// Whenever a window's record says the sketch settled it, the points it counts are exactly the naive
// difference of the two replicas' windows; after a run by each both replicas hold exactly the LWW union
// less what the delete covers, and their roots are equal.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { loadConfig } from "../../src/config/config.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { AdminService } from "../../src/gen/soltix/v1/admin_pb.ts";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { DEFAULT_SHAPE } from "../../src/merkle/shape.ts";
import { compareVersions } from "../../src/model/lww.ts";
import { insertedAtOfEncoding, timeOfEncoding } from "../../src/model/encoding.ts";
import { tempDir } from "../support/engine.ts";
import { postJson } from "../support/binary.ts";
import { startServedNode, startServedRouter, type ServedNode } from "../support/served-node.ts";

const tmp = tempDir("sketch");
const DAY = 20_450n * NS_PER_DAY;
const closers: Array<() => Promise<void>> = [];
let nodes: ServedNode[] = [];
let routerUrl = "";

beforeAll(async () => {
  const metadata = new MemoryMetadataStore(systemClock);
  const flags = { "storage.sync.anti_entropy.sketch": "true" };
  nodes = [await startServedNode(metadata, "s1", tmp.dir, flags, closers), await startServedNode(metadata, "s2", tmp.dir, flags, closers)];
  routerUrl = await routerOverTwo(metadata);
});

/** A router (factor 2, both replicas acknowledging) over the two nodes registered in `metadata`; its URL once it sees them. */
async function routerOverTwo(metadata: MemoryMetadataStore): Promise<string> {
  return (await startServedRouter(metadata, { "replication.min_replicas_for_write": "2", "replication.strategy": "sync" }, closers)).url;
}
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

const admin = (url: string) => createClient(AdminService, createConnectTransport({ baseUrl: url }));
const storage = (url: string) => createClient(StorageService, createConnectTransport({ baseUrl: url }));

/** A node's points of a group, window by window: key → encoding. */
async function heldBy(n: ServedNode, group: number): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const e = n.node.engine;
  for (const w of e.windowsOf(group)) for (const p of (await e.windowTree(group, w, DEFAULT_SHAPE)).points(0, 0)) out.set(p.key, p.enc);
  return out;
}

function windowOf(enc: Uint8Array): bigint {
  const t = timeOfEncoding(enc);
  return t - (t % NS_PER_DAY);
}

let caseNo = 0;
let settledBySketch = 0;
let records = 0;
/** Windows the sketch did not settle (too large, or did not peel): the descent took over, and said why. */
let descendedAfterSketch = 0;

describe("sketch reconciliation (real nodes)", () => {
  test("a settled sketch counts exactly the naive difference; afterwards both replicas hold the LWW union less the delete", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 1500 }),
          days: fc.integer({ min: 1, max: 3 }),
          onlyA: fc.integer({ min: 0, max: 40 }),
          onlyB: fc.integer({ min: 0, max: 40 }),
          newerA: fc.integer({ min: 0, max: 12 }),
          newerB: fc.integer({ min: 0, max: 12 }),
          deleteOnA: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async (c) => {
          const id = `dev-${caseNo++}`;
          const group = groupOf("s", "m", id, 256);
          let seed = c.seed;
          const rnd = (m: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % m;
          const span = Number(BigInt(c.days) * 86_400n);
          const time = (sec: number) => String(DAY + BigInt(sec) * NS_PER_SECOND);
          // The common part, through the router (both replicas, the router's stamp).
          const secs = new Set<number>();
          while (secs.size < c.n) secs.add(rnd(span));
          const common = [...secs];
          for (let i = 0; i < common.length; i += 500) {
            const r = await postJson(`${routerUrl}/v1/databases/s/collections/m/write/batch`, { points: common.slice(i, i + 500).map((s, k) => ({ id, time: time(s), v: i + k })) });
            expect(r.status).toBe(200);
          }
          const mk = (sec: number, v: number, ins: bigint) => ({ database: "s", collection: "m", id, time: BigInt(time(sec)), insertedAt: ins, fields: { v: { value: { case: "numberValue" as const, value: v } } } });
          const fresh = () => {
            let s = rnd(span);
            while (secs.has(s)) s = rnd(span);
            secs.add(s);
            return s;
          };
          const future = 8_000_000_000_000_000_000n;
          const plantA = [...Array.from({ length: c.onlyA }, () => mk(fresh(), 1, 5n)), ...Array.from({ length: Math.min(c.newerA, common.length) }, (_, k) => mk(common[k]!, -1, future + BigInt(k)))];
          const plantB = [...Array.from({ length: c.onlyB }, () => mk(fresh(), 2, 5n)), ...Array.from({ length: Math.min(c.newerB, common.length) }, (_, k) => mk(common[common.length - 1 - k]!, -2, future + 100n + BigInt(k)))];
          if (plantA.length > 0) await storage(nodes[0]!.url).write({ points: plantA });
          if (plantB.length > 0) await storage(nodes[1]!.url).write({ points: plantB });
          // A delete only A holds: the middle third of the first day, stamped now.
          const del = { start: DAY + 28_800n * NS_PER_SECOND, end: DAY + 57_600n * NS_PER_SECOND, at: BigInt(Date.now()) * 1_000_000n };
          if (c.deleteOnA) await storage(nodes[0]!.url).delete({ database: "s", collection: "m", ids: [id], startTime: del.start, endTime: del.end, insertedAt: del.at });

          const a = await heldBy(nodes[0]!, group);
          const b = await heldBy(nodes[1]!, group);
          // The naive oracle: per window, keys whose versions differ or that one side lacks (before the
          // delete reaches B); and the LWW union less what the delete covers.
          const covered = (key: string, enc: Uint8Array) => c.deleteOnA && timeOfEncoding(enc) >= del.start && timeOfEncoding(enc) < del.end && insertedAtOfEncoding(enc) <= del.at && key.length > 0;
          const differing = new Map<bigint, number>();
          const union = new Map<string, Uint8Array>();
          for (const key of new Set([...a.keys(), ...b.keys()])) {
            const ea = a.get(key);
            const eb = b.get(key);
            const w = windowOf((ea ?? eb)!);
            const winner = ea === undefined ? eb! : eb === undefined ? ea : compareVersions(ea, eb) >= 0 ? ea : eb;
            if (!covered(key, winner)) union.set(key, winner);
            // After B takes the delete, its covered points no longer count as differing.
            const ebLive = eb !== undefined && !covered(key, eb) ? eb : undefined;
            if (ea === undefined && ebLive === undefined) continue;
            if (ea === undefined || ebLive === undefined || Buffer.compare(Buffer.from(ea), Buffer.from(ebLive)) !== 0) differing.set(w, (differing.get(w) ?? 0) + 1);
          }

          const res = await admin(nodes[1]!.url).triggerAntiEntropy({ groupId: group, wait: true });
          for (const r of res.records) {
            records++;
            expect(r.result === "in_sync" || r.result === "repaired").toBe(true);
            if (r.path === "descent" && /sketch/.test(r.reason)) descendedAfterSketch++;
            if (r.path === "sketch") {
              settledBySketch++;
              expect(Number(r.pointsDiffering)).toBe(differing.get(r.windowStart) ?? 0);
            }
          }
          // A window the other replica no longer holds at all (all its points deleted there) is not
          // answered for: that replica's own run takes it, as with the descent.
          const back = await admin(nodes[0]!.url).triggerAntiEntropy({ groupId: group, wait: true });
          for (const r of back.records) expect(r.result === "in_sync" || r.result === "repaired").toBe(true);
          const a2 = await heldBy(nodes[0]!, group);
          const b2 = await heldBy(nodes[1]!, group);
          expect([...b2.keys()].sort()).toEqual([...union.keys()].sort());
          for (const [k, enc] of union) {
            expect(b2.get(k)).toEqual(enc);
            expect(a2.get(k)).toEqual(enc);
          }
          expect(a2.size).toBe(union.size);
          for (const w of new Set([...nodes[0]!.node.engine.windowsOf(group), ...nodes[1]!.node.engine.windowsOf(group)])) {
            const ra = await nodes[0]!.node.engine.windowRoot(group, w, DEFAULT_SHAPE);
            const rb = await nodes[1]!.node.engine.windowRoot(group, w, DEFAULT_SHAPE);
            expect(ra.root).toEqual(rb.root);
          }
        },
      ),
      { numRuns: 60 },
    );
    console.error(`sketch: ${settledBySketch} of ${records} window records; descent after the sketch: ${descendedAfterSketch}`);
    expect(descendedAfterSketch).toBeGreaterThan(0);
    // The sketch path did the work in most comparisons that differed.
    expect(settledBySketch).toBeGreaterThan(records / 4);
  }, 120_000);

  test("bad sketch input is invalid_argument naming the field, and stores nothing", async () => {
    const { SyncService } = await import("../../src/gen/soltix/v1/sync_pb.ts");
    const { encodePoint } = await import("../../src/model/encoding.ts");
    const sync = createClient(SyncService, createConnectTransport({ baseUrl: nodes[0]!.url }));
    const id = "bad-input";
    const group = groupOf("s", "m", id, 256);
    const err = async (p: Promise<unknown>) => String(await p.then(() => "no error", (e: unknown) => e));
    expect(await err(sync.getMerkleRoots({ groupId: group, sketchFormat: 1, mine: [{ windowStart: DAY, root: new Uint8Array(8), count: 5n, sketch: new Uint8Array(14) }] }))).toBe("no error");
    // The window is not held here: nothing to answer for. Hold it, then send a torn sketch.
    await storage(nodes[0]!.url).write({ points: [{ database: "s", collection: "m", id, time: DAY + NS_PER_SECOND, insertedAt: 7n, fields: { v: { value: { case: "numberValue" as const, value: 1 } } } }] });
    const torn = await err(sync.getMerkleRoots({ groupId: group, sketchFormat: 1, mine: [{ windowStart: DAY, root: new Uint8Array(8), count: 5n, sketch: new Uint8Array(14) }] }));
    expect(torn).toContain("invalid_argument");
    expect(torn).toContain("mine[0].sketch: 14 bytes is not a whole number of 10-byte symbols");
    const many = await err(sync.getMerkleRoots({ groupId: group, sketchFormat: 1, mine: [{ windowStart: DAY, root: new Uint8Array(8), count: 5n, sketch: new Uint8Array(10 * 16_385) }] }));
    expect(many).toContain("16385 symbols, limit 16384");
    // ExchangePoints: ids of a bad length, too many points, a point of another group or outside the window.
    expect(await err(sync.exchangePoints({ groupId: group, windowStart: DAY, want: new Uint8Array(9) }))).toContain("want: 9 bytes is not a whole number of 6-byte ids");
    const pt = (pid: string, t: bigint) => encodePoint({ database: "s", collection: "m", id: pid, timeNs: t, insertedAtNs: 9n, fields: [["v", { kind: "number", value: 2 }]] });
    let other = "x-0";
    for (let k = 1; groupOf("s", "m", other, 256) === group; k++) other = `x-${k}`;
    const before = (await heldBy(nodes[0]!, group)).size;
    const wrongGroup = await err(sync.exchangePoints({ groupId: group, windowStart: DAY, give: [pt(id, DAY + 2n * NS_PER_SECOND), pt(other, DAY + 3n * NS_PER_SECOND)] }));
    expect(wrongGroup).toContain("invalid_argument");
    expect(wrongGroup).toContain(`give[1]: a point of group ${groupOf("s", "m", other, 256)}, not of group ${group}`);
    const outside = await err(sync.exchangePoints({ groupId: group, windowStart: DAY, give: [pt(id, DAY + NS_PER_DAY)] }));
    expect(outside).toContain("give[0]: time");
    expect(outside).toContain("is outside the window");
    expect(await err(sync.exchangePoints({ groupId: group, windowStart: DAY, give: [new Uint8Array([1, 2, 3])] }))).toContain("give[0]: not a point encoding");
    expect(await err(sync.exchangePoints({ groupId: group, windowStart: DAY + 1n }))).toContain("window_start");
    // Nothing of a refused call was stored.
    expect((await heldBy(nodes[0]!, group)).size).toBe(before);
    // A good call: one point given, the held one wanted back by its id.
    const { itemIdOf, packIds } = await import("../../src/merkle/riblt.ts");
    const held = [...(await heldBy(nodes[0]!, group)).values()][0]!;
    const ids = new Uint32Array(2);
    itemIdOf(held, 0, held.length, ids, 0);
    const ok = await sync.exchangePoints({ groupId: group, windowStart: DAY, want: packIds([[ids[0]!, ids[1]!]]), give: [pt(id, DAY + 2n * NS_PER_SECOND)] });
    expect(ok.points).toEqual([held]);
    expect(ok.stored).toBe(1);
    expect((await heldBy(nodes[0]!, group)).size).toBe(before + 1);
  });
});

test("the default of storage.sync.anti_entropy.sketch_symbols is the benchmarked SKETCH_FIRST_SYMBOLS", async () => {
  const { SKETCH_FIRST_SYMBOLS } = await import("../../src/sync/anti-entropy.ts");
  expect(loadConfig({ flags: new Map() }).storage.sync.antiEntropy.sketchSymbols).toBe(SKETCH_FIRST_SYMBOLS);
  expect(() => loadConfig({ flags: new Map([["storage.sync.anti_entropy.sketch_symbols", "2000"]]) })).toThrow("storage.sync.anti_entropy.sketch_symbols");
});

describe("a sketch answer that lies", () => {
  test("a decode to no difference descends at once; a wrong difference is trusted once, then the descent takes over; the replicas converge", async () => {
    const { GetMerkleRootsResponseSchema } = await import("../../src/gen/soltix/v1/sync_pb.ts");
    const { fromBinary, toBinary } = await import("@bufbuild/protobuf");
    const metadata = new MemoryMetadataStore(systemClock);
    // l1 is reached through a proxy that rewrites its GetMerkleRoots answers: every sketch answer
    // becomes "decoded" — with no difference (lie A), or with only a point the caller already holds (lie B).
    let target = "";
    let lie: "none" | "empty" | "stale" = "none";
    let stalePoint: Uint8Array | undefined;
    let lies = 0;
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        const headers = new Headers(req.headers);
        for (const h of ["host", "content-length", "connection", "accept-encoding"]) headers.delete(h);
        const res = await fetch(`${target}${url.pathname}${url.search}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? null : await req.arrayBuffer() });
        if (!url.pathname.endsWith("/GetMerkleRoots") || lie === "none" || res.status !== 200 || !(res.headers.get("content-type") ?? "").includes("proto")) return res;
        const msg = fromBinary(GetMerkleRootsResponseSchema, new Uint8Array(await res.arrayBuffer()));
        for (const r of msg.roots) {
          if (r.sketch === undefined) continue;
          lies++;
          r.sketch = { ...r.sketch, decoded: true, points: lie === "stale" && stalePoint !== undefined ? [stalePoint] : [], missing: new Uint8Array(0), lacking: new Uint8Array(0), symbols: new Uint8Array(0) };
          r.firstLevel = undefined;
        }
        return new Response(toBinary(GetMerkleRootsResponseSchema, msg), { status: 200, headers: { "content-type": res.headers.get("content-type")! } });
      },
    });
    closers.push(async () => void proxy.stop(true));
    const flags = { "storage.sync.anti_entropy.sketch": "true" };
    const l1 = await startServedNode(metadata, "l1", tmp.dir, { ...flags, "node.address": `127.0.0.1:${proxy.port}` }, closers);
    target = l1.directUrl;
    const l2 = await startServedNode(metadata, "l2", tmp.dir, flags, closers);
    const url = await routerOverTwo(metadata);
    const id = "liar-1";
    const group = groupOf("s", "m", id, 256);
    const r = await postJson(`${url}/v1/databases/s/collections/m/write/batch`, { points: Array.from({ length: 300 }, (_, i) => ({ id, time: String(DAY + BigInt(i) * 60n * NS_PER_SECOND), v: i })) });
    expect(r.status).toBe(200);
    const mk = (sec: number) => ({ database: "s", collection: "m", id, time: DAY + BigInt(sec) * NS_PER_SECOND, insertedAt: 5n, fields: { v: { value: { case: "numberValue" as const, value: sec } } } });
    const rootsEqual = async () => {
      const a = await l1.node.engine.windowRoot(group, DAY, DEFAULT_SHAPE);
      const b = await l2.node.engine.windowRoot(group, DAY, DEFAULT_SHAPE);
      return Buffer.from(a.root.digest).equals(Buffer.from(b.root.digest));
    };

    // Lie A: l1 holds 3 points l2 lacks; its answer says "no difference". l2 descends at once.
    await storage(l1.directUrl).write({ points: [mk(7), mk(8), mk(9)] });
    lie = "empty";
    const a = (await admin(l2.url).triggerAntiEntropy({ groupId: group, wait: true })).records.find((x) => x.windowStart === DAY)!;
    expect(lies).toBeGreaterThan(0);
    expect(a).toMatchObject({ result: "repaired", path: "descent" });
    expect(a.reason).toContain("the sketch decoded to no difference, yet the roots differ");
    expect(Number(a.pointsRepaired)).toBe(3);
    expect(await rootsEqual()).toBe(true);

    // Lie B: l1 holds 2 more points; its answer names only a point l2 already holds. Trusted once
    // (nothing changes), then both roots are as that repair left them: the descent takes over.
    await storage(l1.directUrl).write({ points: [mk(11), mk(12)] });
    stalePoint = [...(await heldBy(l2, group)).values()][0]!;
    lie = "stale";
    const b1 = (await admin(l2.url).triggerAntiEntropy({ groupId: group, wait: true })).records.find((x) => x.windowStart === DAY)!;
    expect(b1.path).toBe("sketch");
    expect(await rootsEqual()).toBe(false);
    const b2 = (await admin(l2.url).triggerAntiEntropy({ groupId: group, wait: true })).records.find((x) => x.windowStart === DAY)!;
    expect(b2).toMatchObject({ result: "repaired", path: "descent" });
    expect(b2.reason).toContain("both roots are as a sketch repair left them");
    expect(Number(b2.pointsRepaired)).toBe(2);
    expect(await rootsEqual()).toBe(true);
  }, 60_000);
});
