// The node's HTTP surface on one port: Connect handlers (Connect JSON/binary, gRPC-Web) mounted in a
// Hono app, plus /healthz. Web-standard Request → Response only: Bun.serve and Deno.serve adapters
// (runtime/) serve the same app.

import { Hono } from "hono";
import { createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { LIMITS } from "../base/limits.ts";
import type { Logger } from "../ports/logger.ts";
import { errorInterceptor, deadlineInterceptor } from "./errors.ts";
import { guard, type GuardOptions } from "./guard.ts";

export interface HttpAppOptions {
  logger: Logger;
  /** Registers services on the Connect router. */
  services: (router: ConnectRouter) => void;
  /** Extra plain-HTTP routes (health, readiness). */
  routes?: (app: Hono) => void;
  /** Handlers tried before the Connect router for a path; undefined = not theirs, fall through. */
  fastPaths?: Record<string, (req: Request) => Promise<Response> | undefined>;
  requestBytesMax?: number;
  unaryDeadlineMs?: number;
  /** Per-peer rate limit and bearer token, checked before anything else. */
  guard?: GuardOptions;
}

export function createHttpApp(opts: HttpAppOptions): Hono {
  const router = createConnectRouter({
    jsonOptions: { ignoreUnknownFields: false },
    readMaxBytes: opts.requestBytesMax ?? LIMITS.requestBytesMax,
    maxTimeoutMs: LIMITS.streamDeadlineMs,
    interceptors: [errorInterceptor(opts.logger), deadlineInterceptor(opts.unaryDeadlineMs ?? LIMITS.unaryDeadlineMs)],
  });
  opts.services(router);
  const app = new Hono();
  if (opts.guard !== undefined) app.use("*", guard(opts.guard));
  for (const handler of router.handlers) {
    const fetchHandler = createFetchHandler(handler);
    const fast = opts.fastPaths?.[handler.requestPath];
    app.all(handler.requestPath, (c) => (fast === undefined ? undefined : fast(c.req.raw)) ?? fetchHandler(c.req.raw));
  }
  opts.routes?.(app);
  app.notFound((c) => c.json({ code: "not_found", message: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    opts.logger.log("error", "http: unhandled error", { path: c.req.path, error: err.message });
    return c.json({ code: "internal", message: err.message }, 500);
  });
  return app;
}
