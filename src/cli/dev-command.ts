// `soltix dev [--nodes 3] [--dir DIR] [--port 8080]`: a whole local cluster in one process — a router
// and N storage nodes sharing the embedded metadata store, writes delivered directly (no etcd, no
// NATS). Prints the endpoints and curl lines, then runs until Ctrl-C.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { invalidArgument } from "../base/errors.ts";
import type { Platform } from "../ports/platform.ts";
import { startLocalCluster } from "../app/local-cluster.ts";
import type { ParsedArgs } from "./args.ts";
import { onSignals, processLogger } from "./node-command.ts";

const NODES_MAX = 16;

export async function runDev(args: ParsedArgs, platform: Platform): Promise<void> {
  const nodesText = args.flags.get("nodes") ?? "3";
  const n = Number(nodesText);
  if (!Number.isInteger(n) || n < 1 || n > NODES_MAX) throw invalidArgument("--nodes", `${JSON.stringify(nodesText)} must be an integer in [1, ${NODES_MAX}]`);
  const portText = args.flags.get("port") ?? "8080";
  const routerPort = Number(portText);
  if (!Number.isInteger(routerPort) || routerPort < 0 || routerPort > 65535) throw invalidArgument("--port", `${JSON.stringify(portText)} must be a port number (0 = any free port)`);
  const dir = args.flags.get("dir") ?? mkdtempSync(join(tmpdir(), "soltix-dev-"));
  const level = args.flags.get("log.level") ?? "warn";
  if (!["debug", "info", "warn", "error"].includes(level)) throw invalidArgument("--log.level", `${JSON.stringify(level)} must be one of debug, info, warn, error`);
  const logger = processLogger(platform, level as "warn", { dev: true });
  // dev acknowledges a write only once every replica stored it, so what you read back is everywhere.
  const factor = Math.min(3, n);
  const cluster = await startLocalCluster(
    { nodes: n, dir, routerPort, logLevel: level, factor, minReplicasForWrite: factor, strategy: "sync" },
    { platform, logger },
  );
  const routerUrl = cluster.routerUrl;
  const nodes = cluster.nodes;
  process.stdout.write(`${JSON.stringify({ event: "dev-ready", router: routerUrl, router_grpc: cluster.routerGrpc ?? null, nodes: nodes.map(({ id, url, grpc }) => ({ id, url, grpc: grpc ?? null })), dir })}\n`);
  process.stdout.write(`
soltix dev: router ${routerUrl}${cluster.routerGrpc === undefined ? "" : ` (gRPC ${cluster.routerGrpc})`}, ${n} storage node(s), replication factor ${factor} (a write is acknowledged once all ${factor} stored it), data in ${dir}
${nodes.map((x) => `  ${x.id.padEnd(11)} ${x.url}${x.grpc === undefined ? "" : `  (gRPC ${x.grpc})`}`).join("\n")}

Write through the router (Soltix API), then compare the replicas:
  curl -sS ${routerUrl}/v1/databases/demo/collections/sensors/write -d '{"id":"dev-1","time":"2024-11-24T00:00:00Z","temp":21.5}'
  curl -sS '${routerUrl}/v1/databases/demo/collections/sensors/query?ids=dev-1'
${nodes.map((x) => `  curl -sS -H 'Content-Type: application/json' ${x.url}/soltix.v1.SyncService/GetChecksum -d '{"groupId":132,"windowStart":"1732406400000000000"}'`).join("\n")}

Ctrl-C stops the cluster.
`);
  onSignals(logger, () => cluster.close());
}
