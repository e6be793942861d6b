// Deno adapter: serves the same web-standard fetch app with Deno.serve. The only place Deno.serve
// appears. Type-checked by `deno check`, not by tsc (Deno globals).

export interface Served {
  readonly port: number;
  stop(): Promise<void>;
}

export function serveWithDeno(fetch: (req: Request) => Response | Promise<Response>, host: string, port: number): Served {
  const server = Deno.serve({ hostname: host, port, onListen: () => {} }, fetch);
  const addr = server.addr as Deno.NetAddr;
  return {
    port: addr.port,
    async stop() {
      await server.shutdown();
    },
  };
}
