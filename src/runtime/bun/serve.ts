// Bun adapter: serves a web-standard fetch app with Bun.serve. The only place Bun.serve appears.

export interface Served {
  readonly port: number;
  stop(): Promise<void>;
}

export function serveWithBun(fetch: (req: Request) => Response | Promise<Response>, host: string, port: number): Served {
  const server = Bun.serve({ hostname: host, port, fetch, idleTimeout: 120, maxRequestBodySize: 256 * 1024 * 1024 });
  return {
    port: server.port ?? port,
    async stop() {
      await server.stop(true);
    },
  };
}
