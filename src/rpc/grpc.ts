// The gRPC side of the same services (DESIGN §12): what an HTTP/2 server needs to answer plain gRPC
// clients — the services as registered for the HTTP app, the same router options (interceptors,
// limits, deadlines), the same front door (rate limit, bearer token) and the same request metrics.
// Bun.serve speaks no h2c, so gRPC has its own port (server.grpc_port); see adapters/grpc-serve.ts.

import { createConnectRouter } from "@connectrpc/connect";
import type { GrpcSpec } from "../ports/serve.ts";
import { connectRouterOptions, type HttpAppOptions } from "./http-app.ts";
import { admission } from "./guard.ts";

export function grpcSpec(opts: HttpAppOptions): GrpcSpec {
  const options = connectRouterOptions(opts);
  const probe = createConnectRouter(options);
  opts.services(probe);
  const admit = admission(opts.guard ?? { nowMs: () => opts.clock.monotonicMs() });
  return {
    routes: opts.services,
    options,
    paths: new Set(probe.handlers.map((h) => h.requestPath)),
    admit: (peer, path, authorization) => {
      const r = admit(peer, path, authorization);
      return r === undefined ? undefined : { code: r.code, message: r.message };
    },
    ...(opts.observeRequest === undefined ? {} : { observe: opts.observeRequest }),
    nowMs: () => opts.clock.monotonicMs(),
  };
}
