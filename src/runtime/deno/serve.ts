// Deno adapter: serves the same web-standard fetch app with Deno.serve (HTTPS when given a
// certificate). The only place Deno.serve appears. Type-checked by `deno check`, not by tsc.

export interface Served {
  readonly port: number;
  stop(): Promise<void>;
}

export function serveWithDeno(
  appFetch: (req: Request, env: { remoteAddress?: string }) => Response | Promise<Response>,
  host: string,
  port: number,
  tls?: { cert: string; key: string },
): Served {
  const server = Deno.serve({ hostname: host, port, onListen: () => {}, ...(tls ?? {}) }, (req, info) =>
    appFetch(req, { remoteAddress: (info.remoteAddr as Deno.NetAddr).hostname }),
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    port: addr.port,
    async stop() {
      await server.shutdown();
    },
  };
}
