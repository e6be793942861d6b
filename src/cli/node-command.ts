// `soltix node --config FILE`: loads config (file < env < flags), starts the storage node, serves it
// and shuts down cleanly on SIGINT/SIGTERM.

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { loadConfig, type NodeConfig } from "../config/config.ts";
import { jsonLogger, type Logger } from "../ports/logger.ts";
import { nodeFileSystem } from "../adapters/node-fs.ts";
import { systemClock } from "../adapters/system-clock.ts";
import { startNode } from "../app/node.ts";
import type { ParsedArgs } from "./args.ts";
import type { Serve } from "../ports/serve.ts";

export type { Serve } from "../ports/serve.ts";

export function configFromArgs(args: ParsedArgs, env: Record<string, string | undefined>, defaults?: Map<string, string>): NodeConfig {
  const flags = new Map(args.flags);
  const file = flags.get("config");
  flags.delete("config");
  let yaml: { doc: unknown; file: string } | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new SoltixError("invalid_argument", `config: cannot read --config ${file}: ${errorMessage(e)}`);
    }
    try {
      yaml = { doc: parseYaml(text), file };
    } catch (e) {
      throw new SoltixError("invalid_argument", `config: ${file} is not valid YAML: ${errorMessage(e)}`);
    }
  }
  return loadConfig({ ...(yaml === undefined ? {} : { yaml }), env, flags, ...(defaults === undefined ? {} : { defaults }) });
}

export async function runNode(args: ParsedArgs, env: Record<string, string | undefined>, serve: Serve): Promise<void> {
  const config = configFromArgs(args, env);
  const logger = jsonLogger((line) => process.stderr.write(`${line}\n`), config.log.level, { node: config.node.id });
  const node = await startNode(config, { fs: nodeFileSystem, clock: systemClock, logger });
  const served = serve(node.app.fetch, config.server.host, config.server.port, node.serverTls);
  // Register only now that the server listens; with port 0 the address carries the real port.
  node.joinCluster(config.server.port === 0 ? `${config.server.host}:${served.port}` : config.node.address);
  logger.log("info", "node: listening", { host: config.server.host, port: served.port, data_dir: config.storage.dataDir });
  // A machine-readable line on stdout so scripts can learn the port (port 0 = any free port).
  process.stdout.write(`${JSON.stringify({ event: "listening", node_id: config.node.id, host: config.server.host, port: served.port })}\n`);
  onSignals(logger, async () => {
    await served.stop();
    await node.close();
  });
}

/** Runs `shutdown` once on SIGINT/SIGTERM, then exits 0 (1 if shutdown failed). */
export function onSignals(logger: Logger, shutdown: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log("info", "stopping", { signal });
    shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.log("error", "shutdown failed", { error: errorMessage(e) });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}
