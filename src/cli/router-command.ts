// `soltix router --config FILE`: the write/read front. Same config keys as a node (storage.* unused);
// its port defaults to 8080.

import { launchRouter } from "../app/router.ts";
import type { Platform } from "../ports/platform.ts";
import type { ParsedArgs } from "./args.ts";
import { configFromArgs, onSignals, processLogger } from "./node-command.ts";

export const ROUTER_DEFAULTS = new Map([
  ["node.id", "router-1"],
  ["server.port", "8080"],
]);

export async function runRouter(args: ParsedArgs, env: Record<string, string | undefined>, platform: Platform): Promise<void> {
  const config = configFromArgs(args, env, ROUTER_DEFAULTS);
  const logger = processLogger(platform, config.log.level, { router: config.node.id });
  const running = await launchRouter(config, { platform, logger });
  logger.log("info", "router: listening", { host: config.server.host, port: running.port, queue: config.queue.type });
  process.stdout.write(`${JSON.stringify({ event: "listening", role: "router", id: config.node.id, host: config.server.host, port: running.port, grpc_port: running.grpcPort ?? null })}\n`);
  onSignals(logger, () => running.stop());
}
