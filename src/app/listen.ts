// Serving a composed app on the configured address: the one step launchNode and launchRouter share.
// A server that cannot listen closes what was started and fails naming the address; stop() is once.

import { SoltixError, errorMessage } from "../base/errors.ts";
import type { NodeConfig } from "../config/config.ts";
import type { Platform } from "../ports/platform.ts";
import type { AppFetch, GrpcSpec } from "../ports/serve.ts";

export interface Listening {
  readonly port: number;
  /** The gRPC (HTTP/2) port; undefined = off (server.grpc_port) or no HTTP/2 server on this platform. */
  readonly grpcPort: number | undefined;
  /** Stops the server, then closes what it served (once). */
  stop(): Promise<void>;
}

export async function listen(config: NodeConfig, platform: Platform, app: { fetch: AppFetch; grpc?: GrpcSpec | undefined }, tls: { cert: string; key: string } | undefined, close: () => Promise<void>): Promise<Listening> {
  let served: { port: number; stop(): Promise<void> };
  try {
    served = platform.serve(app.fetch, config.server.host, config.server.port, tls);
  } catch (e) {
    return close().then(() => {
      throw new SoltixError("unavailable", `cannot listen on ${config.server.host}:${config.server.port}: ${errorMessage(e)}`);
    });
  }
  let grpc: { port: number; stop(): Promise<void> } | undefined;
  const wantGrpc = config.server.grpcPort;
  if (wantGrpc !== undefined && app.grpc !== undefined && platform.serveGrpc !== undefined) {
    try {
      grpc = await platform.serveGrpc(app.grpc, config.server.host, wantGrpc, tls);
    } catch (e) {
      await served.stop();
      await close();
      throw new SoltixError("unavailable", `cannot listen for gRPC on ${config.server.host}:${wantGrpc}: ${errorMessage(e)} (set server.grpc_port to a free port, or off)`);
    }
  }
  let stopping: Promise<void> | undefined;
  return {
    port: served.port,
    grpcPort: grpc?.port,
    stop: () => (stopping ??= Promise.all([served.stop(), grpc?.stop()]).then(close)),
  };
}
