// The HTTP edge over real sockets (Bun.serve), node and router alike: an oversized body is 413 /
// resource_exhausted everywhere, never 429 and never with Retry-After (a client must not resend it);
// a body sent too slowly (slowloris) is cut off at server.request_deadline with 408 and its connection
// closed; pipelined requests are either answered in order or their connection is closed without a
// partial answer (Bun's HTTP server closes a connection when a request is pipelined behind an async
// response — oven-sh/bun#38128; documented in the README), and the server keeps serving.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { loadConfig } from "../../src/config/config.ts";
import { launchRouter } from "../../src/app/router.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { LIMITS } from "../../src/base/limits.ts";
import { tempDir } from "../support/engine.ts";
import { startServedNode } from "../support/served-node.ts";
import { until } from "../support/wait.ts";

const tmp = tempDir("http-limits");
const closers: Array<() => Promise<void>> = [];
const DEADLINE_MS = 1500;
let nodeUrl = "";
let routerUrl = "";

beforeAll(async () => {
  const metadata = new MemoryMetadataStore(systemClock);
  const n = await startServedNode(metadata, "h1", tmp.dir, { "replication.factor": "1", "server.request_deadline": `${DEADLINE_MS}ms` }, closers);
  nodeUrl = n.url;
  const config = loadConfig({ flags: new Map([["server.port", "0"], ["replication.factor", "1"], ["server.request_deadline", `${DEADLINE_MS}ms`]]) });
  const r = await launchRouter(config, { platform: systemPlatform(serveWithBun), logger: silentLogger, metadata });
  closers.push(() => r.stop());
  routerUrl = `http://127.0.0.1:${r.port}`;
  await until("router sees the node", async () => ((await fetch(`${routerUrl}/readyz`)).status === 200 ? true : undefined));
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
});

const port = (url: string) => Number(new URL(url).port);

/** Raw bytes to a server; what came back and whether the server closed the connection, within `ms`. */
function raw(url: string, send: (s: ReturnType<typeof connect>) => void, ms: number): Promise<{ out: string; closedAfterMs: number | undefined }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect(port(url), "127.0.0.1");
    let out = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      resolve({ out, closedAfterMs: closed ? performance.now() - t0 : undefined });
      s.destroy();
    };
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
    s.on("connect", () => send(s));
    setTimeout(() => finish(false), ms);
  });
}

const statuses = (out: string) => [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe("HTTP limits on node and router", () => {
  test("an oversized body is 413 resource_exhausted, without Retry-After, on every write path", async () => {
    const big = new Uint8Array(LIMITS.requestBytesMax + 1024).fill(0x20);
    const cases: Array<[string, string, string]> = [
      [nodeUrl, "/soltix.v1.StorageService/Write", "application/json"],
      [nodeUrl, "/soltix.v1.StorageService/Write", "application/proto"],
      [nodeUrl, "/soltix.v1.StorageService/Query", "application/json"],
      [nodeUrl, "/soltix.v1.SyncService/GetMerkleRoots", "application/proto"],
      [routerUrl, "/v1/databases/d/collections/c/write/batch", "application/json"],
      [routerUrl, "/v1/databases/d/collections/c/write", "application/json"],
      [routerUrl, "/soltix.v1.RouterService/Write", "application/proto"],
      [routerUrl, "/soltix.v1.RouterService/Write", "application/json"],
    ];
    for (const [base, path, type] of cases) {
      const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": type, "connect-protocol-version": "1" }, body: big });
      const body = (await res.json()) as { code: string; message: string };
      expect({ path, type, status: res.status, code: body.code, retryAfter: res.headers.get("retry-after") }).toEqual({ path, type, status: 413, code: "resource_exhausted", retryAfter: null });
      expect(body.message).toMatch(/limit|exceed|max/i);
    }
    // A batch over the point limit is a size limit too.
    const points = Array.from({ length: LIMITS.writeBatchPointsMax + 1 }, (_, i) => ({ id: "x", time: i + 1, v: 1 }));
    const res = await fetch(`${routerUrl}/v1/databases/d/collections/c/write/batch`, { method: "POST", body: JSON.stringify({ points }) });
    expect(res.status).toBe(413);
    expect(res.headers.get("retry-after")).toBeNull();
  });

  test("a body sent too slowly is cut off at server.request_deadline with 408 and a closed connection (50 at once)", async () => {
    for (const url of [nodeUrl, routerUrl]) {
      const path = url === nodeUrl ? "/soltix.v1.StorageService/Write" : "/v1/databases/d/collections/c/write";
      const slow = Array.from({ length: 50 }, () =>
        raw(url, (s) => {
          s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
          const iv = setInterval(() => (s.destroyed ? clearInterval(iv) : s.write(" ")), 200);
          s.on("close", () => clearInterval(iv));
        }, DEADLINE_MS + 5000),
      );
      for (const r of await Promise.all(slow)) {
        expect(statuses(r.out)).toEqual([408]);
        expect(r.out).toContain('"code":"deadline_exceeded"');
        expect(r.out).toContain(`within ${DEADLINE_MS} ms`);
        expect(r.closedAfterMs).toBeDefined();
        expect(r.closedAfterMs!).toBeLessThan(DEADLINE_MS + 3000);
      }
      // The server is unharmed.
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
  }, 60_000);

  test("pipelined requests: answered in order, or the connection closed without a partial answer; the server keeps serving", async () => {
    const get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const body = JSON.stringify({ points: [{ database: "d", collection: "c", id: "p", time: "1", fields: { v: { numberValue: 1 } } }] });
    const write = `POST /soltix.v1.StorageService/Write HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    // Synchronous answers pipeline fine.
    expect(statuses((await raw(nodeUrl, (s) => s.write(get + get + get), 2000)).out)).toEqual([200, 200, 200]);
    for (const burst of [write + get, write + write, get + write + get]) {
      const r = await raw(nodeUrl, (s) => s.write(burst), 3000);
      const got = statuses(r.out);
      const want = (burst.match(/HTTP\/1\.1\r\n/g) ?? []).length;
      // Either every request answered, in order — or the connection closed cleanly (no half answer).
      if (got.length !== want) {
        expect(r.closedAfterMs).toBeDefined();
        expect(r.out === "" || /\r\n\r\n/.test(r.out)).toBe(true);
      } else expect(got.every((s) => s === 200)).toBe(true);
      expect((await fetch(`${nodeUrl}/healthz`)).status).toBe(200);
    }
  });
});
