// gRPC (DESIGN §12) with a real gRPC client — `buf curl --protocol grpc --http2-prior-knowledge` (npm
// @bufbuild/buf) — against the compiled binary's HTTP/2 port (server.grpc_port; Bun.serve speaks no
// h2c): Write, Query, GetChecksum, GetMerkleRoots and StreamPoints on a node and Write on the router
// answer exactly what the same calls answer over Connect JSON; bad input is invalid_argument naming the
// field, an unknown method unimplemented, and a node with auth.token_file and server.tls refuses a call
// without the token (unauthenticated) and serves it with the token, over TLS.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { connect } from "node:http2";
import { join } from "node:path";
import { postJson, startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { TEST_TLS } from "../support/servers.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const tmp = tempDir("grpc");
const BUF = join(import.meta.dir, "..", "..", "node_modules", ".bin", "buf");
const PROTO = join(import.meta.dir, "..", "..", "proto");
const TOKEN = "grpc-test-token-0123456789";
const DAY = 20_100n * NS_PER_DAY;

let dev: RunningBinary;
beforeAll(async () => {
  dev = await startBinary(["dev", "--nodes", "1", "--port", "0", "--dir", `${tmp.dir}/dev`]);
});
afterAll(async () => {
  await dev?.stop();
  tmp.cleanup();
});

/** buf curl over gRPC (HTTP/2 cleartext); JSON answers (one per message for a stream). */
function grpc(address: string, method: string, body: unknown, headers: string[] = [], tlsArgs: string[] = []): { code: number; out: unknown[]; err: string } {
  const target = address.startsWith("https://") ? `${address}/${method}` : `http://${address}/${method}`;
  const args = [BUF, "curl", "--schema", PROTO, "--protocol", "grpc", ...(tlsArgs.length > 0 ? tlsArgs : ["--http2-prior-knowledge"]), ...headers.flatMap((h) => ["-H", h]), "-d", JSON.stringify(body), target];
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const text = r.stdout.toString().trim();
  // A stream prints one JSON document per message, one after another.
  const out: unknown[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (text[i] === "}" && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return { code: r.exitCode ?? -1, out, err: r.stderr.toString() };
}

const points = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => ({ database: "g", collection: "c", id: `dev-${i % 3}`, time: String(DAY + BigInt((i + offset) * 60) * 1_000_000_000n), fields: { v: { numberValue: i + offset }, s: { stringValue: `x${i}` } } }));

describe("gRPC with buf curl (compiled binary)", () => {
  test("Write, Query, GetChecksum, GetMerkleRoots, StreamPoints on a node; Write on the router — the same answers as Connect", async () => {
    const ready = dev.ready as { router: string; router_grpc: string; nodes: Array<{ url: string; grpc: string }> };
    const node = ready.nodes[0]!;
    expect(node.grpc).toMatch(/^127\.0\.0\.1:\d+$/);

    const w = grpc(node.grpc, "soltix.v1.StorageService/Write", { points: points(30) });
    expect(w.err).toBe("");
    expect(w.code).toBe(0);
    expect(w.out).toEqual([{ accepted: 30 }]);
    const rw = grpc(ready.router_grpc, "soltix.v1.RouterService/Write", { points: points(30, 1000).map(({ database, collection, ...p }) => ({ ...p, database, collection })) });
    expect(rw.code).toBe(0);
    expect((rw.out[0] as { accepted: number }).accepted).toBe(30);

    // The same requests over Connect JSON answer the same (both print protobuf's canonical JSON).
    const group = groupOf("g", "c", "dev-0", 256);
    const sum = { groupId: group, windowStart: String(DAY) };
    for (const [method, body] of [
      ["soltix.v1.StorageService/Query", { database: "g", collection: "c", ids: ["dev-0", "dev-1", "dev-2"], limit: 1000 }],
      ["soltix.v1.SyncService/GetChecksum", sum],
      ["soltix.v1.SyncService/GetMerkleRoots", { groupId: group }],
    ] as const) {
      const g = grpc(node.grpc, method, body);
      expect(g.code).toBe(0);
      expect(g.out).toEqual([(await postJson(`${node.url}/${method}`, body)).json]);
    }
    expect((grpc(node.grpc, "soltix.v1.StorageService/Query", { database: "g", collection: "c", limit: 1000 }).out[0] as { points: unknown[] }).points.length).toBe(60);
    const checksum = grpc(node.grpc, "soltix.v1.SyncService/GetChecksum", sum).out[0] as { sha256: string; pointCount: string };
    expect(Number(checksum.pointCount)).toBeGreaterThan(0);
    const roots = grpc(node.grpc, "soltix.v1.SyncService/GetMerkleRoots", { groupId: group }).out[0] as { roots?: unknown[] };
    expect(roots.roots?.length ?? 0).toBeGreaterThan(0);

    // A server stream: every point of the group, over as many messages as the page size makes.
    const s = grpc(node.grpc, "soltix.v1.SyncService/StreamPoints", { groupId: group, batchSize: 7 });
    expect(s.code).toBe(0);
    const streamed = (s.out as Array<{ points?: unknown[] }>).reduce((n, m) => n + (m.points?.length ?? 0), 0);
    expect(streamed).toBe(Number(checksum.pointCount));
    expect(s.out.length).toBeGreaterThan(1);
  }, 60_000);

  test("bad input is invalid_argument naming the field; an unknown method is unimplemented", async () => {
    const node = (dev.ready as { nodes: Array<{ grpc: string }> }).nodes[0]!;
    const bad = grpc(node.grpc, "soltix.v1.StorageService/Write", { points: [{ database: "g", collection: "c", id: "", time: "1", fields: { v: { numberValue: 1 } } }] });
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("invalid_argument");
    expect(bad.err).toContain("points[0].id: must not be empty");
    // buf curl checks method names against the schema itself: a raw HTTP/2 gRPC call asks the server.
    const session = connect(`http://${node.grpc}`);
    try {
      const { status, grpcStatus, message } = await new Promise<{ status: number; grpcStatus: string; message: string }>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/soltix.v1.SyncService/NoSuchMethod", "content-type": "application/grpc", te: "trailers" });
        let status = 0;
        let headers: Record<string, unknown> = {};
        req.on("response", (h) => {
          status = Number(h[":status"]);
          headers = h;
        });
        req.on("trailers", (t) => (headers = { ...headers, ...t }));
        req.on("error", reject);
        req.on("data", () => {});
        req.on("end", () => resolve({ status, grpcStatus: String(headers["grpc-status"]), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) }));
        req.end(new Uint8Array(5));
      });
      expect(status).toBe(200);
      expect(grpcStatus).toBe("12"); // unimplemented
      expect(message).toContain("/soltix.v1.SyncService/NoSuchMethod");
    } finally {
      session.close();
    }
  });

  test("auth.token_file and server.tls: without the token unauthenticated, with it served, over TLS (h2)", async () => {
    writeFileSync(`${tmp.dir}/token`, TOKEN);
    const n = await startBinary(["node", "--node.id", "t1", "--storage.data_dir", `${tmp.dir}/t1`, "--server.port", "0", "--auth.token_file", `${tmp.dir}/token`, "--server.tls.cert_file", TEST_TLS.certFile, "--server.tls.key_file", TEST_TLS.keyFile]);
    try {
      const url = `https://127.0.0.1:${(n.ready as { grpc_port: number }).grpc_port}`;
      const body = { groupId: 1 };
      const no = grpc(url, "soltix.v1.SyncService/GetMerkleRoots", body, [], ["--cacert", TEST_TLS.caFile]);
      expect(no.code).not.toBe(0);
      expect(no.err).toContain("unauthenticated");
      expect(no.err).toContain("missing Authorization");
      const yes = grpc(url, "soltix.v1.SyncService/GetMerkleRoots", body, [`Authorization: Bearer ${TOKEN}`], ["--cacert", TEST_TLS.caFile]);
      expect(yes.err).toBe("");
      expect(yes.code).toBe(0);
      expect(yes.out).toEqual([{ shape: { fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: 8 } }]);
    } finally {
      await n.stop();
    }
  }, 60_000);
});
