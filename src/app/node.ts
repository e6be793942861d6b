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
import { WRITE_PATH, fastWrite } from "../rpc/write-route.ts";
import { isFastUnary } from "../rpc/fast-unary.ts";
import { LIMITS } from "../base/limits.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import { EtcdMetadataStore } from "../adapters/etcd-metadata.ts";
import { MemoryMetadataStore } from "../adapters/memory-metadata.ts";
import { NodeRegistration } from "../cluster/registration.ts";
import { ClusterView } from "../cluster/view.ts";
import { shapeFor } from "../merkle/shape.ts";
import { adminService, type SyncRuntime } from "../rpc/admin-service.ts";
import { AdminService } from "../gen/soltix/v1/admin_pb.ts";
import { GroupSyncer } from "../sync/startup-sync.ts";
import { AntiEntropy } from "../sync/anti-entropy.ts";
import { NatsConsumer } from "../queue/nats-consumer.ts";
import type { NodeRecord } from "../cluster/records.ts";
import { StorageService } from "../gen/soltix/v1/storage_pb.ts";
import { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { loadSecurity } from "./security.ts";
import type { PemSet } from "../base/pem.ts";

export const SOLTIX_VERSION = "0.1.0";

/** Limits of the hand-decoded binary write paths: the same as every Connect call's. */
export const FAST_LIMITS = { requestBytesMax: LIMITS.requestBytesMax, deadlineMs: LIMITS.unaryDeadlineMs };

export interface NodeDeps {
  fs: FileSystem;
  clock: Clock;
  logger: Logger;
  /** How to reach peers; default: HTTP(S) with the configured token and trust (the simulator passes its network). */
  net?: PeerNet;
}

export interface StorageNode {
  readonly config: NodeConfig;
  readonly engine: Engine;
  readonly app: Hono;
  readonly metadata: MetadataStore;
  /** Certificate and key (PEM) the runtime serves HTTPS with, when configured. */
  readonly serverTls: { cert: string; key: string } | undefined;
  /** Registers the node (call once the server listens, with the address peers dial); runs in the background. */
  joinCluster(address: string): void;
  close(): Promise<void>;
}

/** The configured metadata backend: etcd when endpoints are set, else embedded (one machine). */
export function openMetadata(config: NodeConfig, tls?: PemSet): MetadataStore {
  return config.etcd.endpoints.length > 0 ? new EtcdMetadataStore(config.etcd.endpoints, tls) : new MemoryMetadataStore();
}

export async function startNode(config: NodeConfig, deps: NodeDeps & { metadata?: MetadataStore }): Promise<StorageNode> {
  // Credentials first: a bad token or certificate file stops the node before it opens its data.
  const security = await loadSecurity(config, deps.fs, deps.clock);
  const net = deps.net ?? security.net;
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
    treeShape: shapeFor(config.storage.sync.antiEntropy.fanout, config.storage.sync.antiEntropy.leafPointsMax),
  };
  const startedAt = new Date().toISOString();
  const metadata = deps.metadata ?? openMetadata(config, security.etcdTls);
  let registration: NodeRegistration | undefined;
  const rt: SyncRuntime = {};
  let closing = false;
  const consumer =
    config.queue.type === "nats"
      ? new NatsConsumer(config.queue.url, config.node.id, engine, () => ctx.stamper.next(), config.coordinator.totalGroups, deps.logger, security.queueTls)
      : undefined;
  const app = createHttpApp({
    logger: deps.logger,
    guard: security.guard,
    services: (router) => {
      router.service(StorageService, storageService(ctx));
      router.service(SyncService, syncService(ctx));
      router.service(AdminService, adminService(ctx, rt));
    },
    fastPaths: {
      [WRITE_PATH]: (req) => (isFastUnary(req) ? fastWrite(req, ctx, FAST_LIMITS) : undefined),
    },
    routes: (a) => {
      a.get("/healthz", (c) =>
        c.json({
          status: "ok",
          node_id: config.node.id,
          version: SOLTIX_VERSION,
          started_at: startedAt,
          engine: engine.statsSnapshot,
          groups_assigned: rt.view?.allGroups().filter((g) => g.primary_node === config.node.id || g.replica_nodes.includes(config.node.id)).length ?? 0,
        }),
      );
      // Ready = registered in the metadata store (so it was reachable) and, with NATS, consuming.
      a.get("/readyz", (c) => {
        const registered = registration?.status.registered ?? false;
        const queueProblem = consumer?.problem();
        const writeProblem = engine.writeProblem();
        const ready = registered && queueProblem === undefined && writeProblem === undefined;
        const body = {
          ready,
          node_id: config.node.id,
          metadata: config.etcd.endpoints.length > 0 ? `etcd ${config.etcd.endpoints.join(",")}` : "embedded",
          registered,
          queue: config.queue.type === "nats" ? { url: config.queue.url, connected: consumer?.link.connected ?? false, problem: queueProblem ?? null, ...consumer?.stats } : "direct",
          error: writeProblem ?? (registration === undefined ? "not registered yet (server not listening)" : registration.status.lastError ?? queueProblem ?? null),
        };
        return c.json(body, ready ? 200 : 503);
      });
    },
  });
  return {
    config,
    engine,
    app,
    metadata,
    serverTls: security.serverTls,
    joinCluster(address) {
      if (registration !== undefined) return;
      const record = (): NodeRecord => ({ id: config.node.id, address, status: "active", version: SOLTIX_VERSION, updated_at: new Date().toISOString() });
      registration = new NodeRegistration(metadata, record, deps.logger);
      void registration.start();
      // The node's watch-driven view of nodes and group assignments, then startup sync and the
      // anti-entropy loop. The queue consumer above is already subscribed, so nothing published
      // during the sync is missed; its backlog applies alongside (LWW makes the order irrelevant).
      void ClusterView.open(metadata, deps.logger).then(async (v) => {
        rt.view = v;
        while (!v.loaded && !closing) await new Promise((r) => setTimeout(r, 100));
        if (closing) return;
        const s = config.storage.sync;
        rt.syncer = new GroupSyncer(config.node.id, engine, v, metadata, {
          batchSize: s.syncBatchSize, maxConcurrent: s.maxConcurrentSyncs, timeoutMs: s.startupTimeoutMs, totalGroups: config.coordinator.totalGroups, net,
        }, deps.clock, deps.logger);
        rt.antiEntropy = new AntiEntropy(config.node.id, engine, v, {
          shape: ctx.treeShape,
          totalGroups: config.coordinator.totalGroups,
          horizonDays: s.antiEntropy.horizonDays,
          settleMs: s.antiEntropy.settleMs,
          fullResyncShare: s.antiEntropy.fullResyncPercent / 100,
          batchSize: s.antiEntropy.batchSize,
          reverifyEveryRuns: s.antiEntropy.reverifyEveryRuns,
          bytesPerSecMax: s.antiEntropy.bytesPerSecMax,
          net,
        }, deps.clock, deps.logger);
        if (s.enabled && s.startupSync) await rt.syncer.syncAll();
        if (s.enabled && s.antiEntropy.enabled && !closing) rt.antiEntropy.start(s.antiEntropy.intervalMs, () => rt.syncer?.heldGroups() ?? []);
      });
      consumer?.start();
    },
    async close() {
      closing = true;
      rt.syncer?.stop();
      rt.antiEntropy?.stop();
      await consumer?.close().catch(() => {});
      await rt.view?.close();
      await registration?.stop();
      await engine.close();
      if (deps.metadata === undefined) await metadata.close(); // a shared store (tests, soltix dev) is its owner's to close
    },
  };
}
