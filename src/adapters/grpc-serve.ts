// gRPC over HTTP/2 with node:http2 (h2c, or TLS with ALPN h2 when given a certificate) and
// connect-node's adapter (gRPC protocol only: Connect and gRPC-Web stay on the HTTP/1.1 port). The
// spec's front door runs first: a refusal is a trailers-only gRPC answer with its status.

import { createSecureServer, createServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code } from "@connectrpc/connect";
import type { GrpcSpec } from "../ports/serve.ts";

const GRPC_CODES = { unauthenticated: Code.Unauthenticated, resource_exhausted: Code.ResourceExhausted } as const;

function trailersOnly(res: Http2ServerResponse, code: number, message: string): void {
  res.writeHead(200, { "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": encodeURIComponent(message) });
  res.end();
}

export function serveGrpc(spec: GrpcSpec, host: string, port: number, tls?: { cert: string; key: string }): Promise<{ port: number; stop(): Promise<void> }> {
  const handler = connectNodeAdapter({
    ...spec.options,
    routes: spec.routes,
    connect: false,
    grpcWeb: false,
    grpc: true,
    fallback: (req, res) => trailersOnly(res as Http2ServerResponse, Code.Unimplemented, `no RPC ${req.url ?? ""} (gRPC serves the soltix.v1 services)`),
  });
  const onRequest = (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const path = (req.url ?? "").split("?")[0]!;
    const t0 = spec.nowMs();
    const route = spec.paths.has(path) ? path : "unmatched";
    res.once("finish", () => spec.observe?.(route, res.statusCode, (spec.nowMs() - t0) / 1000));
    const refused = spec.admit(req.socket?.remoteAddress ?? "local", path, req.headers.authorization);
    if (refused !== undefined) return trailersOnly(res, GRPC_CODES[refused.code], refused.message);
    handler(req, res);
  };
  const server = tls === undefined ? createServer(onRequest) : createSecureServer({ cert: tls.cert, key: tls.key }, onRequest);
  const sessions = new Set<Http2Session>();
  server.on("session", (s: Http2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve({
        port: typeof address === "object" && address !== null ? address.port : port,
        stop: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sessions) s.destroy();
          }),
      });
    });
  });
}
