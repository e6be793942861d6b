// Bun adapter: serves a web-standard fetch app with Bun.serve (HTTPS when given a certificate). The
// only place Bun.serve appears. The app also gets the peer's address (for per-peer limits).

export interface Served {
  readonly port: number;
  stop(): Promise<void>;
}

/** What the app receives with each request (Hono's `env`). */
export interface ServeEnv {
  remoteAddress?: string;
}

export type AppFetch = (req: Request, env: ServeEnv) => Response | Promise<Response>;

export function serveWithBun(appFetch: AppFetch, host: string, port: number, tls?: { cert: string; key: string }): Served {
  const server = Bun.serve({
    hostname: host,
    port,
    fetch: (req, srv) => {
      const ip = srv.requestIP(req);
      return appFetch(req, ip === null ? {} : { remoteAddress: ip.address });
    },
    idleTimeout: 120,
    maxRequestBodySize: 256 * 1024 * 1024,
    ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
  });
  return {
    port: server.port ?? port,
    async stop() {
      await server.stop(true);
    },
  };
}
