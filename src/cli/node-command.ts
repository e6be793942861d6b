// `soltix node --config FILE`: loads config (file < env < flags), launches the storage node (the
// same launchNode the simulator uses), and shuts down cleanly on SIGINT/SIGTERM.

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { loadConfig, type NodeConfig } from "../config/config.ts";
import { jsonLogger, type Logger } from "../ports/logger.ts";
import type { Platform } from "../ports/platform.ts";
import { launchNode } from "../app/node.ts";
import type { ParsedArgs } from "./args.ts";

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

/** The process's logger: JSON lines on stderr, stamped by the platform's clock. */
export function processLogger(platform: Platform, level: NodeConfig["log"]["level"], base: Record<string, unknown>): Logger {
  return jsonLogger((line) => process.stderr.write(`${line}\n`), level, base, platform.clock);
}

export async function runNode(args: ParsedArgs, env: Record<string, string | undefined>, platform: Platform): Promise<void> {
  const config = configFromArgs(args, env);
  const logger = processLogger(platform, config.log.level, { node: config.node.id });
  const running = await launchNode(config, { platform, logger });
  logger.log("info", "node: listening", { host: config.server.host, port: running.port, data_dir: config.storage.dataDir });
  // A machine-readable line on stdout so scripts can learn the port (port 0 = any free port).
  process.stdout.write(`${JSON.stringify({ event: "listening", node_id: config.node.id, host: config.server.host, port: running.port, grpc_port: running.grpcPort ?? null })}\n`);
  onSignals(logger, () => running.stop());
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
