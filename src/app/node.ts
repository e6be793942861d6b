// Composition root of a storage node: config + one implementation of each port → engine, services,
// HTTP app. Runtime-neutral: the runtime adapter serves `app.fetch` and calls `close()` on signals.

import type { Hono } from "hono";
import { Engine } from "../engine/engine.ts";
import type { NodeConfig } from "../config/config.ts";
import type { FileSystem } from "../ports/fs.ts";
import { VersionStamper, type Clock } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";
import { createHttpApp } from "../rpc/http-app.ts";
import { storageService } from "../rpc/storage-service.ts";
import { syncService } from "../rpc/sync-service.ts";
import type { NodeContext } from "../rpc/context.ts";
import { WRITE_PATH, fastWrite, isFastWrite } from "../rpc/write-route.ts";
import { LIMITS } from "../base/limits.ts";
import { StorageService } from "../gen/soltix/v1/storage_pb.ts";
import { SyncService } from "../gen/soltix/v1/sync_pb.ts";

export const SOLTIX_VERSION = "0.1.0";

export interface NodeDeps {
  fs: FileSystem;
  clock: Clock;
  logger: Logger;
}

export interface StorageNode {
  readonly config: NodeConfig;
  readonly engine: Engine;
  readonly app: Hono;
  close(): Promise<void>;
}

export async function startNode(config: NodeConfig, deps: NodeDeps): Promise<StorageNode> {
  const engine = await Engine.open({
    dataDir: config.storage.dataDir,
    fs: deps.fs,
    logger: deps.logger,
    totalGroups: config.coordinator.totalGroups,
    memstoreBytesMax: config.storage.memstoreBytesMax,
    segmentCacheBytesMax: config.storage.segmentCacheBytesMax,
  });
  const ctx: NodeContext = {
    nodeId: config.node.id,
    engine,
    totalGroups: config.coordinator.totalGroups,
    stamper: new VersionStamper(deps.clock),
    clock: deps.clock,
    logger: deps.logger,
  };
  const startedAt = new Date().toISOString();
  const app = createHttpApp({
    logger: deps.logger,
    services: (router) => {
      router.service(StorageService, storageService(ctx));
      router.service(SyncService, syncService(ctx));
    },
    fastPaths: {
      [WRITE_PATH]: (req) => (isFastWrite(req) ? fastWrite(req, ctx, LIMITS.requestBytesMax, LIMITS.unaryDeadlineMs) : undefined),
    },
    routes: (a) => {
      a.get("/healthz", (c) =>
        c.json({ status: "ok", node_id: config.node.id, version: SOLTIX_VERSION, started_at: startedAt, engine: engine.statsSnapshot }),
      );
    },
  });
  return {
    config,
    engine,
    app,
    async close() {
      await engine.close();
    },
  };
}
