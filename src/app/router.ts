// Composition root of a router: metadata (etcd or a shared embedded store) → cluster view → delivery
// (direct RPC or NATS JetStream) → write router → HTTP app.

import type { Hono } from "hono";
import type { NodeConfig } from "../config/config.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import { VersionStamper, type Clock } from "../ports/clock.ts";
import { ClusterView } from "../cluster/view.ts";
import { createHttpApp } from "../rpc/http-app.ts";
import { RouterService } from "../gen/soltix/v1/router_pb.ts";
import { DirectDelivery, type Delivery } from "../router/delivery.ts";
import { WriteRouter } from "../router/write-router.ts";
import { mountRouterRoutes, routerService, type RouterContext } from "../router/http.ts";
import { openMetadata, SOLTIX_VERSION } from "./node.ts";
import { ROUTER_WRITE_PATH, fastRouterWrite } from "../router/fast-route.ts";
import { isFastUnary } from "../rpc/fast-unary.ts";
import { FAST_LIMITS } from "./node.ts";
import { loadSecurity } from "./security.ts";
import { nodeFileSystem } from "../adapters/node-fs.ts";
import type { FileSystem } from "../ports/fs.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { PemSet } from "../base/pem.ts";

export interface RouterDeps {
  clock: Clock;
  logger: Logger;
  metadata?: MetadataStore;
  delivery?: Delivery;
  /** Where the token and TLS files are read from (default: the real file system). */
  fs?: FileSystem;
  /** How to reach nodes; default: HTTP(S) with the configured token and trust. */
  net?: PeerNet;
}

export interface Router {
  readonly app: Hono;
  readonly view: ClusterView;
  readonly writer: WriteRouter;
  /** Certificate and key (PEM) the runtime serves HTTPS with, when configured. */
  readonly serverTls: { cert: string; key: string } | undefined;
  close(): Promise<void>;
}

export async function startRouter(config: NodeConfig, deps: RouterDeps): Promise<Router> {
  const security = await loadSecurity(config, deps.fs ?? nodeFileSystem, deps.clock);
  const net = deps.net ?? security.net;
  const metadata = deps.metadata ?? openMetadata(config, security.etcdTls);
  const view = await ClusterView.open(metadata, deps.logger);
  const delivery = deps.delivery ?? (await openDelivery(config, deps.logger, net, security.queueTls));
  const policy = {
    factor: config.replication.factor,
    strategy: config.replication.strategy,
    minReplicasForWrite: config.replication.minReplicasForWrite,
    totalGroups: config.coordinator.totalGroups,
    queue: config.queue.type,
  };
  const writer = new WriteRouter(view, delivery, policy, deps.logger);
  const stamper = new VersionStamper(deps.clock);
  const ctx: RouterContext = { view, writer, stamp: () => stamper.next(), policy, logger: deps.logger, net };
  const app = createHttpApp({
    logger: deps.logger,
    guard: security.guard,
    services: (r) => r.service(RouterService, routerService(ctx)),
    fastPaths: {
      [ROUTER_WRITE_PATH]: (req) =>
        isFastUnary(req) ? fastRouterWrite(req, writer, ctx.stamp, policy.totalGroups, deps.logger, FAST_LIMITS) : undefined,
    },
    routes: (a) => {
      mountRouterRoutes(a, ctx);
      a.get("/healthz", (c) => c.json({ status: "ok", role: "router", id: config.node.id, version: SOLTIX_VERSION, stats: writer.stats }));
      a.get("/readyz", async (c) => {
        const problems: string[] = [];
        if (!view.loaded) problems.push(view.lastError ?? "cluster metadata not loaded");
        else {
          try {
            await metadata.get("/soltix/ping");
          } catch (e) {
            problems.push(e instanceof Error ? e.message : String(e));
          }
        }
        const q = delivery.problem();
        if (q !== undefined) problems.push(q);
        if (view.activeNodes().length === 0) problems.push("no storage nodes registered");
        return c.json({ ready: problems.length === 0, nodes: view.activeNodes().map((n) => n.id), problems }, problems.length === 0 ? 200 : 503);
      });
    },
  });
  return {
    app,
    view,
    writer,
    serverTls: security.serverTls,
    async close() {
      await delivery.close();
      await view.close();
      if (deps.metadata === undefined) await metadata.close();
    },
  };
}

async function openDelivery(config: NodeConfig, logger: Logger, net: PeerNet, queueTls: PemSet | undefined): Promise<Delivery> {
  if (config.queue.type === "direct") return new DirectDelivery(net);
  const { NatsDelivery } = await import("../queue/nats-delivery.ts");
  return NatsDelivery.connect(config.queue.url, config.node.id, logger, queueTls);
}
