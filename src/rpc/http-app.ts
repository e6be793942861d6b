// The node's HTTP surface on one port: Connect handlers (Connect JSON/binary, gRPC-Web) mounted in a
// Hono app, plus /healthz. Web-standard Request → Response only: Bun.serve and Deno.serve adapters
// (runtime/) serve the same app.

import { Hono } from "hono";
import { createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { LIMITS } from "../base/limits.ts";
import { errorMessage } from "../base/errors.ts";
import type { Logger } from "../ports/logger.ts";
import { raceDeadline, type Clock } from "../ports/clock.ts";
import { errorInterceptor, deadlineInterceptor } from "./errors.ts";
import { guard, guardChecks, type GuardOptions } from "./guard.ts";

export interface HttpAppOptions {
  logger: Logger;
  /** Server-side deadlines run on it. */
  clock: Clock;
  /** Registers services on the Connect router. */
  services: (router: ConnectRouter) => void;
  /** Extra plain-HTTP routes (health, readiness). */
  routes?: (app: Hono) => void;
  /** Handlers tried before the Connect router for a path; undefined = not theirs, fall through. */
  fastPaths?: Record<string, (req: Request) => Promise<Response> | undefined>;
  requestBytesMax?: number;
  unaryDeadlineMs?: number;
  /** A request with a body must be received and answered within this long (a response that started streaming is not cut). */
  bodyReceiveMsMax?: number;
  /** Per-peer rate limit and bearer token, checked before anything else. */
  guard?: GuardOptions;
  /** Told of every answered request: its route pattern ("unmatched" for a 404 of no route), status and duration (metrics). */
  observeRequest?: (route: string, status: number, seconds: number) => void;
}

/** The Connect router's options, one set for every transport (HTTP/1.1 here, HTTP/2 gRPC in rpc/grpc.ts). */
export function connectRouterOptions(opts: Pick<HttpAppOptions, "logger" | "clock" | "requestBytesMax" | "unaryDeadlineMs">): ConnectRouterOptions {
  return {
    jsonOptions: { ignoreUnknownFields: false },
    readMaxBytes: opts.requestBytesMax ?? LIMITS.requestBytesMax,
    maxTimeoutMs: LIMITS.streamDeadlineMs,
    interceptors: [errorInterceptor(opts.logger), deadlineInterceptor(opts.clock, opts.unaryDeadlineMs ?? LIMITS.unaryDeadlineMs)],
  };
}

export function createHttpApp(opts: HttpAppOptions): Hono {
  const router = createConnectRouter(connectRouterOptions(opts));
  opts.services(router);
  const app = new Hono();
  const observe = opts.observeRequest;
  if (observe !== undefined) {
    app.use("*", async (c, next) => {
      const t0 = opts.clock.monotonicMs();
      await next();
      const route = c.req.routePath;
      observe(route === "/*" || route === "*" ? "unmatched" : route, c.res.status, (opts.clock.monotonicMs() - t0) / 1000);
    });
  }
  // Only when it has something to check: the ingest path pays nothing for an unused guard.
  if (opts.guard !== undefined && guardChecks(opts.guard)) app.use("*", guard(opts.guard));
  for (const handler of router.handlers) {
    const fetchHandler = createFetchHandler(handler);
    const fast = opts.fastPaths?.[handler.requestPath];
    const input = handler.method.input;
    const streaming = handler.method.methodKind === "server_streaming";
    const serve = async (req: Request): Promise<Response> => {
      const checked = streaming ? await checkStreamRequest(req, input, opts.requestBytesMax ?? LIMITS.requestBytesMax) : req;
      return checked instanceof Response ? checked : sizeLimitStatus(await clientParseError(await fetchHandler(checked)));
    };
    app.all(handler.requestPath, (c) => (fast === undefined ? undefined : fast(c.req.raw)) ?? serve(c.req.raw));
  }
  opts.routes?.(app);
  app.notFound((c) => c.json({ code: "not_found", message: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    opts.logger.log("error", "http: unhandled error", { path: c.req.path, error: err.message });
    return c.json({ code: "internal", message: err.message }, 500);
  });
  // A request with a body must be answered within the deadline — in particular its body must
  // arrive by then (a slowly sent body, slowloris, would otherwise hold its connection and its
  // handler forever): past it the request gets 408 and the connection is closed. A response that
  // started (a stream) is not cut. No per-request stream wrapping: the body is read natively.
  const bodyMs = opts.bodyReceiveMsMax ?? LIMITS.bodyReceiveMsMax;
  const honoFetch = app.fetch;
  app.fetch = async (req, env, ctx) => {
    if (req.body === null) return honoFetch(req, env, ctx);
    return raceDeadline(opts.clock, bodyMs, Promise.resolve(honoFetch(req, env, ctx)), () => new BodyTimeout()).catch((e: unknown) => {
      if (!(e instanceof BodyTimeout)) throw e;
      return new Response(JSON.stringify({ code: "deadline_exceeded", message: `request not received and answered within ${bodyMs} ms (a body sent too slowly is cut off; send it faster, or in smaller requests)` }), {
        status: 408,
        headers: { "content-type": "application/json", connection: "close" },
      });
    });
  };
  return app;
}

class BodyTimeout extends Error {}

/** connect-es answers its own size limits (readMaxBytes) with 429; a size limit is 413 here (rpc/errors.ts). */
async function sizeLimitStatus(res: Response): Promise<Response> {
  if (res.status !== 429) return res;
  return new Response(res.body, { status: 413, headers: res.headers });
}

/**
 * connect-es reports a request body that is not a valid protobuf message as `internal` (its parse runs
 * before any interceptor). It is the client's error: answer invalid_argument, naming the body.
 */
async function clientParseError(res: Response): Promise<Response> {
  if (res.status !== 500) return res;
  const body = (await res.clone().json().catch(() => undefined)) as { code?: string; message?: string } | undefined;
  if (body?.code !== "internal" || !/^parse (binary|json)/.test(body.message ?? "")) return res;
  return new Response(JSON.stringify({ code: "invalid_argument", message: `request body is not a valid message: ${body.message}` }), {
    status: 400,
    headers: { "content-type": "application/json" },
  });
}

/**
 * The same for a server stream's request (there connect-es answers 200 with an `internal` end-stream
 * message): a binary request message is parsed here first, and a bad one gets an invalid_argument
 * end-stream. Small: a stream's request is one message.
 */
async function checkStreamRequest(req: Request, input: DescMessage, bytesMax: number): Promise<Request | Response> {
  if (req.method !== "POST" || req.headers.get("content-type") !== "application/connect+proto") return req;
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > bytesMax) return req; // connect-es refuses it without reading
  const bytes = new Uint8Array(await req.arrayBuffer());
  const refuse = (why: string) => {
    const end = new TextEncoder().encode(JSON.stringify({ error: { code: "invalid_argument", message: `request body is not a valid message: ${why}` } }));
    const out = new Uint8Array(5 + end.length);
    out[0] = 2; // end-stream flag
    new DataView(out.buffer).setUint32(1, end.length);
    out.set(end, 5);
    return new Response(out, { status: 200, headers: { "content-type": "application/connect+proto" } });
  };
  if (req.headers.has("connect-content-encoding")) return new Request(req.url, { method: req.method, headers: req.headers, body: bytes });
  if (bytes.length < 5) return refuse(`${bytes.length} bytes is shorter than an envelope`);
  if (bytes[0] !== 0) return refuse(`envelope flags ${bytes[0]} (expected 0: one uncompressed message)`);
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  if (len !== bytes.length - 5) return refuse(`envelope says ${len} bytes, body holds ${bytes.length - 5}`);
  try {
    fromBinary(input, bytes.subarray(5));
  } catch (e) {
    return refuse(errorMessage(e));
  }
  return new Request(req.url, { method: req.method, headers: req.headers, body: bytes });
}
