// A router and N storage nodes in one process sharing the embedded metadata store, writes delivered
// directly: what `soltix dev` runs, and what in-process cluster tests start.

import { join } from "node:path";
import { loadConfig } from "../config/config.ts";
import type { Logger } from "../ports/logger.ts";
import type { FileSystem } from "../ports/fs.ts";
import type { Clock } from "../ports/clock.ts";
import { MemoryMetadataStore } from "../adapters/memory-metadata.ts";
import { startNode, type StorageNode } from "./node.ts";
import { startRouter, type Router } from "./router.ts";

import type { Serve } from "../ports/serve.ts";

export interface LocalClusterOptions {
  nodes: number;
  dir: string;
  /** Router port; 0 = any free port for everything, else nodes use 7001, 7002, ... */
  routerPort: number;
  factor?: number;
  minReplicasForWrite?: number;
  strategy?: "sync" | "async";
  logLevel?: string;
}

export interface LocalNode {
  id: string;
  url: string;
  node: StorageNode;
  stop(): Promise<void>;
}

export interface LocalCluster {
  routerUrl: string;
  router: Router;
  nodes: LocalNode[];
  close(): Promise<void>;
}

export async function startLocalCluster(o: LocalClusterOptions, deps: { fs: FileSystem; clock: Clock; logger: Logger; serve: Serve }): Promise<LocalCluster> {
  const factor = o.factor ?? Math.min(3, o.nodes);
  const level = o.logLevel ?? "warn";
  const metadata = new MemoryMetadataStore();
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
      ]),
    });
    const node = await startNode(config, { fs: deps.fs, clock: deps.clock, logger: deps.logger, metadata });
    const served = deps.serve(node.app.fetch, config.server.host, port);
    node.joinCluster(`${config.server.host}:${served.port}`);
    let stopped = false;
    nodes.push({
      id,
      url: `http://${config.server.host}:${served.port}`,
      node,
      async stop() {
        if (stopped) return;
        stopped = true;
        await served.stop();
        await node.close();
      },
    });
  }
  const routerConfig = loadConfig({
    flags: new Map([
      ["node.id", "router-1"],
      ["server.port", String(o.routerPort)],
      ["replication.factor", String(factor)],
      ["replication.min_replicas_for_write", String(o.minReplicasForWrite ?? 1)],
      ["replication.strategy", o.strategy ?? "async"],
      ["log.level", level],
    ]),
  });
  const router = await startRouter(routerConfig, { clock: deps.clock, logger: deps.logger, metadata });
  const servedRouter = deps.serve(router.app.fetch, routerConfig.server.host, o.routerPort);
  return {
    routerUrl: `http://${routerConfig.server.host}:${servedRouter.port}`,
    router,
    nodes,
    async close() {
      await servedRouter.stop();
      await router.close();
      for (const x of nodes) await x.stop();
      await metadata.close();
    },
  };
}
