// Serving the app: the runtime adapter (runtime/bun, runtime/deno) listens and hands each request to
// the app with what only the runtime knows (the peer's address).

/** What the app receives with each request (Hono's `env`). */
export interface ServeEnv {
  remoteAddress?: string;
}

export type AppFetch = (req: Request, env: ServeEnv) => Response | Promise<Response>;

export interface Serve {
  (fetch: AppFetch, host: string, port: number, tls?: { cert: string; key: string }): { port: number; stop(): Promise<void> };
}
