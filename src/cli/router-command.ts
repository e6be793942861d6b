// `soltix router --config FILE`: the write/read front. Same config keys as a node (storage.* unused);
// its port defaults to 8080.

import { jsonLogger } from "../ports/logger.ts";
import { systemClock } from "../adapters/system-clock.ts";
import { startRouter } from "../app/router.ts";
import type { ParsedArgs } from "./args.ts";
import { configFromArgs, onSignals, type Serve } from "./node-command.ts";

export const ROUTER_DEFAULTS = new Map([
  ["node.id", "router-1"],
  ["server.port", "8080"],
]);

export async function runRouter(args: ParsedArgs, env: Record<string, string | undefined>, serve: Serve): Promise<void> {
  const config = configFromArgs(args, env, ROUTER_DEFAULTS);
  const logger = jsonLogger((line) => process.stderr.write(`${line}\n`), config.log.level, { router: config.node.id });
  const router = await startRouter(config, { clock: systemClock, logger });
  const served = serve(router.app.fetch, config.server.host, config.server.port, router.serverTls);
  logger.log("info", "router: listening", { host: config.server.host, port: served.port, queue: config.queue.type });
  process.stdout.write(`${JSON.stringify({ event: "listening", role: "router", id: config.node.id, host: config.server.host, port: served.port })}\n`);
  onSignals(logger, async () => {
    await served.stop();
    await router.close();
  });
}
