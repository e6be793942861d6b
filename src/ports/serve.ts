// Serving the app: the runtime adapter (runtime/bun, runtime/deno) listens and hands each request to
// the app with what only the runtime knows (the peer's address).

import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";

/** What the app receives with each request (Hono's `env`). */
export interface ServeEnv {
  remoteAddress?: string;
}

export type AppFetch = (req: Request, env: ServeEnv) => Response | Promise<Response>;

export interface Serve {
  (fetch: AppFetch, host: string, port: number, tls?: { cert: string; key: string }): { port: number; stop(): Promise<void> };
}

/**
 * gRPC over HTTP/2 (h2c, or TLS when given a certificate): the services, the router options, and the
 * front door (rate limit, token) and metrics the HTTP app has too. Built by rpc/grpc.ts, served by the
 * runtime's HTTP/2 server (adapters/grpc-serve.ts).
 */
export interface GrpcSpec {
  routes(router: ConnectRouter): void;
  options: ConnectRouterOptions;
  /** Every RPC path served (anything else is `unimplemented`, counted as route "unmatched"). */
  paths: ReadonlySet<string>;
  /** A refusal before the request is read, or undefined. */
  admit(peer: string, path: string, authorization: string | undefined): { code: "unauthenticated" | "resource_exhausted"; message: string } | undefined;
  observe?(route: string, status: number, seconds: number): void;
  nowMs(): number;
}

export interface ServeGrpc {
  (spec: GrpcSpec, host: string, port: number, tls?: { cert: string; key: string }): Promise<{ port: number; stop(): Promise<void> }>;
}
