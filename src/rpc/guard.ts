// The server's front door, before any body is read: a per-peer request rate limit, then the bearer
// token (when auth.token_file is set). Health endpoints stay open (they reveal no data). Refusals
// answer in the Connect error shape so Connect clients see `resource_exhausted` / `unauthenticated`,
// and curl sees a JSON body naming what is wrong.

import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { invalidArgument } from "../base/errors.ts";
import type { ServeEnv } from "../ports/serve.ts";

/** Paths served without a token. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/** Distinct peers tracked by the rate limiter; the least recently seen are forgotten first. */
export const PEERS_TRACKED_MAX = 10_000;

export interface GuardOptions {
  /** Required bearer token; undefined = no authentication. */
  token?: string | undefined;
  /** Requests per second per remote address (a token bucket holding one second's worth); 0 = unlimited. */
  requestsPerSecPerPeer?: number;
  /** Monotonic ms (the node's clock). */
  nowMs: () => number;
}

const utf8 = new TextEncoder();

function refuse(status: 401 | 429, code: string, message: string, headers: Record<string, string>): Response {
  return new Response(JSON.stringify({ code, message }), { status, headers: { "content-type": "application/json", ...headers } });
}

/** Does the guard check anything (a token, or a rate limit)? */
export function guardChecks(o: GuardOptions): boolean {
  return o.token !== undefined || (o.requestsPerSecPerPeer ?? 0) > 0;
}

/** A request refused at the door: its HTTP status, Connect code and the reason. */
export interface Refusal {
  status: 401 | 429;
  code: "unauthenticated" | "resource_exhausted";
  message: string;
  headers: Record<string, string>;
}

/** The checks alone (any transport): given the peer, the path and the Authorization header, a refusal or undefined. */
export function admission(o: GuardOptions): (peer: string, path: string, authorization: string | undefined) => Refusal | undefined {
  const want = o.token === undefined ? undefined : utf8.encode(`Bearer ${o.token}`);
  const rate = o.requestsPerSecPerPeer ?? 0;
  const now = o.nowMs;
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  return (peer, path, authorization) => {
    if (rate > 0) {
      const t = now();
      let b = buckets.get(peer);
      if (b === undefined) {
        b = { tokens: rate, atMs: t };
        if (buckets.size >= PEERS_TRACKED_MAX) buckets.delete(buckets.keys().next().value!);
      } else buckets.delete(peer); // re-inserted below: the map stays in least-recently-seen order
      buckets.set(peer, b);
      b.tokens = Math.min(rate, b.tokens + ((t - b.atMs) / 1000) * rate);
      b.atMs = t;
      if (b.tokens < 1) {
        return { status: 429, code: "resource_exhausted", message: `peer ${peer}: over ${rate} requests/s (server.requests_per_sec_per_peer)`, headers: { "retry-after": "1" } };
      }
      b.tokens -= 1;
    }
    if (want !== undefined && !OPEN_PATHS.has(path)) {
      const got = utf8.encode(authorization ?? "");
      if (got.length === 0) return { status: 401, code: "unauthenticated", message: "missing Authorization: Bearer <token> (this server has auth.token_file set)", headers: { "www-authenticate": "Bearer" } };
      if (got.length !== want.length || !timingSafeEqual(got, want)) return { status: 401, code: "unauthenticated", message: "wrong bearer token", headers: { "www-authenticate": "Bearer" } };
    }
    return undefined;
  };
}

export function guard(o: GuardOptions): MiddlewareHandler {
  const admit = admission(o);
  return async (c, next) => {
    const r = admit((c.env as ServeEnv | undefined)?.remoteAddress ?? "local", c.req.path, c.req.header("authorization"));
    if (r !== undefined) return refuse(r.status, r.code, r.message, r.headers);
    await next();
  };
}

/** Token limits: long enough to resist guessing, short enough for a header. */
export const TOKEN_CHARS_MIN = 16;
export const TOKEN_CHARS_MAX = 4096;

/** The token in a token file's text (surrounding whitespace trimmed), or why it is unusable (naming `field`). */
export function parseToken(path: string, text: string, field = "auth.token_file"): string {
  const s = text.trim();
  if (s.length < TOKEN_CHARS_MIN || s.length > TOKEN_CHARS_MAX || !/^[\x21-\x7e]+$/.test(s)) {
    throw invalidArgument(field, `${path}: the token must be ${TOKEN_CHARS_MIN}..${TOKEN_CHARS_MAX} visible ASCII characters without spaces (found ${s.length} characters)`);
  }
  return s;
}
