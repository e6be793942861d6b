// Serving a composed app on the configured address: the one step launchNode and launchRouter share.
// A server that cannot listen closes what was started and fails naming the address; stop() is once.

import { SoltixError, errorMessage } from "../base/errors.ts";
import type { NodeConfig } from "../config/config.ts";
import type { Platform } from "../ports/platform.ts";
import type { AppFetch } from "../ports/serve.ts";

export interface Listening {
  readonly port: number;
  /** Stops the server, then closes what it served (once). */
  stop(): Promise<void>;
}

export function listen(config: NodeConfig, platform: Platform, app: { fetch: AppFetch }, tls: { cert: string; key: string } | undefined, close: () => Promise<void>): Promise<Listening> {
  let served: { port: number; stop(): Promise<void> };
  try {
    served = platform.serve(app.fetch, config.server.host, config.server.port, tls);
  } catch (e) {
    return close().then(() => {
      throw new SoltixError("unavailable", `cannot listen on ${config.server.host}:${config.server.port}: ${errorMessage(e)}`);
    });
  }
  let stopping: Promise<void> | undefined;
  return Promise.resolve({
    port: served.port,
    stop: () => (stopping ??= served.stop().then(close)),
  });
}
