// Hostile input against every Connect method of the node and the router and every router HTTP route:
// random and mutated JSON and protobuf, huge / negative / NaN / non-numeric values, deep nesting,
// hostile ids and names, oversized bodies, broken stream envelopes. Every answer must be a client
// error (or success): never a 5xx, never `internal`/`unknown`, always a message (they name the field
// or say the body is not a valid message); and the process stays within a memory bound. The number
// of inputs is printed.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compress } from "snappyjs";
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import { create, toBinary } from "@bufbuild/protobuf";
import { loadConfig } from "../../src/config/config.ts";
import { startNode, type StorageNode } from "../../src/app/node.ts";
import { startRouter, type Router } from "../../src/app/router.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { StorageService, WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { SyncService } from "../../src/gen/soltix/v1/sync_pb.ts";
import { AdminService } from "../../src/gen/soltix/v1/admin_pb.ts";
import { RouterService } from "../../src/gen/soltix/v1/router_pb.ts";
import { LIMITS } from "../../src/base/limits.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";

const tmp = tempDir("fuzz");
const closers: Array<() => Promise<void>> = [];
let node: StorageNode;
let router: Router;
let inputs = 0;

beforeAll(async () => {
  const metadata = new MemoryMetadataStore(systemClock);
  for (const id of ["f1", "f2"]) {
    const config = loadConfig({ flags: new Map(Object.entries({ "node.id": id, "server.port": "0", "storage.data_dir": `${tmp.dir}/${id}`, "storage.sync.anti_entropy.interval": "1h", "replication.factor": "2" })) });
    const n = await startNode(config, { platform: systemPlatform(), logger: silentLogger, metadata });
    const served = serveWithBun(n.app.fetch, "127.0.0.1", 0);
    n.joinCluster(`127.0.0.1:${served.port}`);
    closers.push(async () => {
      await served.stop();
      await n.close();
    });
    if (id === "f1") node = n;
  }
  router = await startRouter(loadConfig({ flags: new Map([["replication.factor", "2"]]) }), { platform: systemPlatform(), logger: silentLogger, metadata });
  closers.push(() => router.close());
  await until("router sees the nodes", async () => ((await router.app.fetch(new Request("http://r/readyz"))).status === 200 ? true : undefined));
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
  console.error(`fuzz: ${inputs} hostile inputs, 0 server errors`);
});

const CODES = new Set(["canceled", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "unavailable", "unauthenticated"]);
/** InfluxDB v2's error codes: the router's /api/v2/write answers in its shape. */
const INFLUX_V2_CODES = new Set(["invalid", "not found", "request too large", "unavailable", "unauthorized"]);

/** Sends one request and checks the answer is a clean success or client error. */
async function send(app: { fetch: (r: Request, env?: unknown) => Response | Promise<Response> }, path: string, body: string | Uint8Array | null, contentType: string, method = "POST"): Promise<void> {
  inputs++;
  const res = await app.fetch(new Request(`http://x${path}`, { method, headers: { "content-type": contentType, "connect-protocol-version": "1" }, body: method === "GET" || body === null ? null : typeof body === "string" ? body : new Uint8Array(body) }), { remoteAddress: "fuzzer" });
  const text = await res.text();
  const where = `${method} ${path} (${contentType}) → ${res.status} ${text.slice(0, 300)}`;
  expect(res.status < 500, where).toBe(true);
  if (res.status >= 400 && text.startsWith("{")) {
    const j = JSON.parse(text) as { code?: string; message?: string };
    expect((path.startsWith("/api/v2/write") ? INFLUX_V2_CODES : CODES).has(j.code ?? ""), where).toBe(true);
    expect((j.message ?? "").length > 0, where).toBe(true);
  }
  // A server stream answers 200 and ends with an end-stream message; its error must not be internal.
  if (res.status === 200 && contentType.includes("connect+")) expect(text.includes('"internal"') || text.includes('"unknown"'), where).toBe(false);
}

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(1e308, -1e308, -1, -0, 2 ** 64, -(2 ** 63), 0.5, "NaN", "Infinity", "-Infinity", "1e400", "-9223372036854775809", "18446744073709551616", "0x10", "", " ", null, true, [], {}),
  fc.constantFrom("../../etc/passwd", "a/b", "a\\b", "\u0000", "..", ".", "%2e%2e", "\ud800", "💥".repeat(300), "x".repeat(100_000), "<script>", "'; DROP TABLE", "\r\n"),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** JSON with the message's own field names (so validation runs deep), filled with hostile values. */
function skeletonArb(msg: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const entries = msg.fields.map((f) => {
    let v: fc.Arbitrary<unknown> = hostileValue;
    if (f.fieldKind === "message" && depth < 2) v = fc.oneof(hostileValue, skeletonArb(f.message, depth + 1));
    if (f.fieldKind === "list" && f.listKind === "message" && depth < 2) v = fc.oneof(hostileValue, fc.array(skeletonArb(f.message, depth + 1), { maxLength: 3 }));
    if (f.fieldKind === "map") v = fc.oneof(hostileValue, fc.dictionary(fc.string({ maxLength: 8 }), f.mapKind === "message" && depth < 2 ? skeletonArb(f.message, depth + 1) : hostileValue, { maxKeys: 3 }));
    return [f.jsonName, fc.option(v, { nil: undefined })] as const;
  });
  return fc.record(Object.fromEntries(entries)).map((o) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)));
}

const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
const deepObj = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

function envelope(payload: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

const validWrite = toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: [{ database: "db", collection: "c", id: "d1", time: 1_732_406_400_000_000_000n, fields: { v: { value: { case: "numberValue", value: 1 } } } }] }));

async function fuzzService(app: { fetch: (r: Request, env?: unknown) => Response | Promise<Response> }, service: DescService, runs: number): Promise<void> {
  for (const m of service.methods) {
    const path = `/${service.typeName}/${m.name}`;
    const streaming = m.methodKind === "server_streaming";
    const enc = new TextEncoder();
    const json = async (text: string) => (streaming ? send(app, path, envelope(enc.encode(text)), "application/connect+json") : send(app, path, text, "application/json"));
    const proto = async (bytes: Uint8Array) => (streaming ? send(app, path, envelope(bytes), "application/connect+proto") : send(app, path, bytes, "application/proto"));
    await fc.assert(fc.asyncProperty(skeletonArb(m.input), async (o) => json(JSON.stringify(o))), { numRuns: runs, seed: 7 });
    await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (v) => json(JSON.stringify(v))), { numRuns: Math.ceil(runs / 3), seed: 8 });
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), proto), { numRuns: runs, seed: 9 });
    // Bit flips and truncations of a valid WriteRequest (a real message shape on every method).
    await fc.assert(
      fc.asyncProperty(fc.nat(validWrite.length * 8 - 1), fc.nat(validWrite.length), async (bit, cut) => {
        const b = validWrite.slice(0, Math.max(1, cut));
        const i = bit >> 3;
        if (i < b.length) b[i]! ^= 1 << (bit & 7);
        await proto(b);
      }),
      { numRuns: Math.ceil(runs / 3), seed: 10 },
    );
    for (const text of ["", "{", "null", "[]", '"x"', "1e999", deep(1_000_000), deepObj(200_000), '{"__proto__":{"x":1}}', "\u0000", "{}".repeat(1000)]) await json(text);
    if (streaming) {
      for (const raw of [new Uint8Array([0, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0, 0, 0, 0, 10, 1]), new Uint8Array([2, 0, 0, 0, 0]), new Uint8Array([1, 0, 0, 0, 3, 1, 2, 3])]) {
        await send(app, path, raw, "application/connect+proto");
      }
    }
    // Declared too large: refused before reading.
    inputs++;
    const big = await app.fetch(new Request(`http://x${path}`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(LIMITS.requestBytesMax + 1) }, body: "{}" }));
    expect(big.status, `${path} oversized`).toBeLessThan(500);
  }
}

describe("hostile input", () => {
  const RUNS = 200;
  test("every node Connect method (StorageService, SyncService, AdminService)", async () => {
    const rss0 = process.memoryUsage().rss;
    for (const s of [StorageService, SyncService, AdminService]) await fuzzService(node.app, s, RUNS);
    Bun.gc(true);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(512 * 1024 * 1024);
  }, 600_000);

  test("the router's Connect method and HTTP routes, with hostile path names and query strings", async () => {
    await fuzzService(router.app, RouterService, RUNS);
    const names = ["db", "../x", "a%2Fb", "%00", "x".repeat(300), "💥", "a b", ".", "_", "UPPER", "a.b"];
    const r = router.app;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.constantFrom(...names), fc.oneof(skeletonArb(WriteRequestSchema.fields[0]!.message!), hostileValue, fc.record({ points: fc.array(fc.record({ id: hostileValue, time: hostileValue, v: hostileValue, fields: hostileValue }), { maxLength: 4 }) })), async (db, coll, body) => {
        const base = `/v1/databases/${encodeURIComponent(db)}/collections/${encodeURIComponent(coll)}`;
        await send(r, `${base}/write`, JSON.stringify(body), "application/json");
        await send(r, `${base}/write/batch`, JSON.stringify(body), "application/json");
        await send(r, "/v1/databases", JSON.stringify({ name: db }), "application/json");
        await send(r, `/v1/databases/${encodeURIComponent(db)}/collections`, JSON.stringify(body), "application/json");
      }),
      { numRuns: RUNS * 2, seed: 11 },
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom("ids", "start_time", "end_time", "limit", "x"), fc.oneof(fc.string(), fc.constantFrom("-1", "1e9", "NaN", "99999999999999999999999", ",,,", "a,".repeat(2000)))), async (q) => {
        await send(r, `/v1/databases/db/collections/c/query?${new URLSearchParams(q as Record<string, string>)}`, null, "application/json", "GET");
      }),
      { numRuns: RUNS * 2, seed: 12 },
    );
    for (const text of ["", "{", deep(1_000_000), deepObj(200_000), "[]", "null"]) await send(r, "/v1/databases/db/collections/c/write/batch", text, "application/json");
    // Deletes and the Influx endpoints: hostile query strings and line-protocol bodies.
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.dictionary(fc.constantFrom("ids", "start_time", "end_time", "db", "bucket", "precision", "x"), fc.oneof(fc.string(), fc.constantFrom("-1", "1e9", "NaN", "99999999999999999999999", ",,,", "../x", "h", "a,".repeat(2000)))), async (db, q) => {
        const qs = new URLSearchParams(q as Record<string, string>);
        await send(r, `/v1/databases/${encodeURIComponent(db)}/collections/c/points?${qs}`, null, "application/json", "DELETE");
        await send(r, `/v1/databases/${encodeURIComponent(db)}/collections/${encodeURIComponent(db)}`, null, "application/json", "DELETE");
        await send(r, `/write?${qs}`, "cpu,id=a v=1", "text/plain");
        await send(r, `/api/v2/write?${qs}`, "cpu,id=a v=1", "text/plain");
      }),
      { numRuns: RUNS, seed: 13 },
    );
    const lp = fc.string({ maxLength: 200, unit: fc.constantFrom("cpu", ",", "=", " ", "\\", '"', "id", "a", "1", "i", "u", "t", "\n", "#", "\r", "💥", "\u0000", "9".repeat(30), "e", ".", "-") });
    await fc.assert(
      fc.asyncProperty(lp, fc.constantFrom("ns", "s", "ms", "h"), async (body, precision) => {
        await send(r, `/write?db=fz&precision=${precision}`, body, "text/plain");
        await send(r, `/api/v2/write?bucket=fz&precision=${precision}`, body, "text/plain");
      }),
      { numRuns: RUNS * 2, seed: 14 },
    );
    // remote_write: random bytes, snappy of random bytes, a snappy header announcing a huge body.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, wrap) => {
        await send(r, "/api/v1/write?db=fz", wrap ? compress(bytes) : bytes, "application/x-protobuf");
      }),
      { numRuns: RUNS * 2, seed: 15 },
    );
    await send(r, "/api/v1/write?db=fz", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1, 2]), "application/x-protobuf");
    await send(r, "/api/v1/write?db=../x", compress(new Uint8Array(10)), "application/x-protobuf");
    for (const text of ["x".repeat(1_000_000), `${"cpu,id=a v=1\n".repeat(50_000)}`, "\u0000".repeat(1000)]) await send(r, "/write?db=fz", text, "text/plain");
  }, 600_000);
});
