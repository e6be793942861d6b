// A router and N storage nodes in one process sharing the embedded metadata store, writes delivered
// directly: what `soltix dev` runs, and what in-process cluster tests start.

import { join } from "node:path";
import { loadConfig } from "../config/config.ts";
import type { Logger } from "../ports/logger.ts";
import type { Platform } from "../ports/platform.ts";
import { launchNode, type StorageNode } from "./node.ts";
import { launchRouter, type Router } from "./router.ts";

export interface LocalClusterOptions {
  nodes: number;
  dir: string;
  /** Router port; 0 = any free port for everything, else nodes use 7001, 7002, ... */
  routerPort: number;
  factor?: number;
  minReplicasForWrite?: number;
  strategy?: "sync" | "async";
  logLevel?: string;
  /** More config keys for every node and the router (tests, benches). */
  flags?: Record<string, string>;
}

export interface LocalNode {
  id: string;
  url: string;
  /** host:port of its gRPC (HTTP/2) server; undefined = none. */
  grpc: string | undefined;
  node: StorageNode;
  stop(): Promise<void>;
}

export interface LocalCluster {
  routerUrl: string;
  /** host:port of the router's gRPC (HTTP/2) server; undefined = none. */
  routerGrpc: string | undefined;
  router: Router;
  nodes: LocalNode[];
  close(): Promise<void>;
}

export async function startLocalCluster(o: LocalClusterOptions, deps: { platform: Platform; logger: Logger }): Promise<LocalCluster> {
  const factor = o.factor ?? Math.min(3, o.nodes);
  const level = o.logLevel ?? "warn";
  // One embedded store shared by every component (no etcd endpoints: in process).
  const metadata = deps.platform.openMetadata([], undefined);
  const nodes: LocalNode[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const id = `storage-${i}`;
    const port = o.routerPort === 0 ? 0 : 7000 + i;
    const config = loadConfig({
      flags: new Map([
        ["node.id", id],
        ["server.port", String(port)],
        ["storage.data_dir", join(o.dir, id)],
        ["replication.factor", String(factor)],
        ["log.level", level],
        ...Object.entries(o.flags ?? {}),
      ]),
    });
    const running = await launchNode(config, { platform: deps.platform, logger: deps.logger, metadata });
    nodes.push({ id, url: `http://${running.address}`, grpc: running.grpcPort === undefined ? undefined : `${config.server.host}:${running.grpcPort}`, node: running.node, stop: () => running.stop() });
  }
  const routerConfig = loadConfig({
    flags: new Map([
      ["node.id", "router-1"],
      ["server.port", String(o.routerPort)],
      ["replication.factor", String(factor)],
      ["replication.min_replicas_for_write", String(o.minReplicasForWrite ?? 1)],
      ["replication.strategy", o.strategy ?? "async"],
      ["log.level", level],
      ...Object.entries(o.flags ?? {}),
    ]),
  });
  const router = await launchRouter(routerConfig, { platform: deps.platform, logger: deps.logger, metadata });
  return {
    routerUrl: `http://${routerConfig.server.host}:${router.port}`,
    routerGrpc: router.grpcPort === undefined ? undefined : `${routerConfig.server.host}:${router.grpcPort}`,
    router: router.router,
    nodes,
    async close() {
      await router.stop();
      for (const x of nodes) await x.stop();
      await metadata.close();
    },
  };
}
