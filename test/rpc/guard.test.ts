// The server's front door: per-peer rate limit (token bucket per remote address) and the bearer token,
// in front of every route but the health checks; refusals in Connect's error shape.

import { systemRng } from "../../src/adapters/system-rng.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { guard, parseToken, PEERS_TRACKED_MAX } from "../../src/rpc/guard.ts";
import { httpPeerNet } from "../../src/adapters/peer-net.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";

function app(opts: Parameters<typeof guard>[0]) {
  const a = new Hono();
  a.use("*", guard(opts));
  a.all("*", (c) => c.text("ok"));
  return a;
}

const TOKEN = "s3cret-token-0123456789";
const call = (a: Hono, path: string, peer: string, auth?: string) =>
  a.fetch(new Request(`http://x${path}`, { method: "POST", headers: auth === undefined ? {} : { authorization: auth } }), { remoteAddress: peer });

describe("guard", () => {
  test("bearer token: missing or wrong → 401 unauthenticated naming the problem; health checks stay open", async () => {
    const a = app({ token: TOKEN, nowMs: () => performance.now() });
    for (const [auth, msg] of [[undefined, /missing Authorization/], ["Bearer nope", /wrong bearer token/], [`Bearer ${TOKEN}x`, /wrong/], [TOKEN, /wrong/], [`bearer ${TOKEN}`, /wrong/]] as const) {
      const res = await call(a, "/soltix.v1.StorageService/Write", "p", auth);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe("unauthenticated");
      expect(body.message).toMatch(msg);
    }
    expect((await call(a, "/soltix.v1.StorageService/Write", "p", `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await call(a, "/healthz", "p")).status).toBe(200);
    expect((await call(a, "/readyz", "p")).status).toBe(200);
    expect((await call(a, "/v1/databases/d/collections/c/write", "p")).status).toBe(401);
  });

  test("per-peer limit: a burst of one second's worth, then 429 resource_exhausted until tokens refill; peers independent", async () => {
    let now = 0;
    const a = app({ requestsPerSecPerPeer: 5, nowMs: () => now });
    for (let i = 0; i < 5; i++) expect((await call(a, "/x", "10.0.0.1")).status).toBe(200);
    const res = await call(a, "/x", "10.0.0.1");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ code: "resource_exhausted", message: "peer 10.0.0.1: over 5 requests/s (server.requests_per_sec_per_peer)" });
    expect((await call(a, "/x", "10.0.0.2")).status).toBe(200);
    now += 200; // one token back
    expect((await call(a, "/x", "10.0.0.1")).status).toBe(200);
    expect((await call(a, "/x", "10.0.0.1")).status).toBe(429);
    now += 10_000; // refills to the burst, not beyond
    for (let i = 0; i < 5; i++) expect((await call(a, "/x", "10.0.0.1")).status).toBe(200);
    expect((await call(a, "/x", "10.0.0.1")).status).toBe(429);
  });

  test("the limiter tracks a bounded number of peers", async () => {
    const a = app({ requestsPerSecPerPeer: 1, nowMs: () => 0 });
    expect((await call(a, "/x", "first")).status).toBe(200);
    expect((await call(a, "/x", "first")).status).toBe(429);
    for (let i = 0; i < PEERS_TRACKED_MAX; i++) await call(a, "/x", `p${i}`);
    // "first" was forgotten (least recently seen): it starts with a full bucket again.
    expect((await call(a, "/x", "first")).status).toBe(200);
  });

  test("token files: trimmed; too short, too long or with spaces → error naming auth.token_file", () => {
    expect(parseToken("/t", `  ${TOKEN}\n`)).toBe(TOKEN);
    for (const bad of ["", "short", "has a space in the token", "x".repeat(4097), "tab\tseparated-token-xx"]) {
      expect(() => parseToken("/t", bad)).toThrow(/\/t: the token must be 16\.\.4096 visible ASCII characters/);
    }
  });

  test("over a real socket: the limit keys on the peer's address; nodes' clients wait out a 429 and resend", async () => {
    const a = app({ requestsPerSecPerPeer: 4, token: TOKEN, nowMs: () => performance.now() });
    const served = serveWithBun(a.fetch, "127.0.0.1", 0);
    try {
      const url = `http://127.0.0.1:${served.port}/soltix.v1.SyncService/GetMerkleRoots`;
      // A plain client sees the limit.
      const plain = await Promise.all(Array.from({ length: 8 }, () => fetch(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "{}" })));
      expect(plain.filter((r) => r.status === 429).length).toBeGreaterThan(0);
      // A node's client (PeerNet) waits as told and gets through.
      await Bun.sleep(1_100);
      const net = httpPeerNet({ token: TOKEN }, systemClock, systemRng);
      const t0 = performance.now();
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await net.fetch(url, { method: "POST", body: new TextEncoder().encode("{}") })).status);
      expect(statuses).toEqual(Array(8).fill(200));
      expect(performance.now() - t0).toBeGreaterThan(400); // it did have to wait
    } finally {
      await served.stop();
    }
  }, 30_000);
});
