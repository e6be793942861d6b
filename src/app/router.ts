// Composition root of a router: metadata (etcd or a shared embedded store) → cluster view → delivery
// (direct RPC with hints, or NATS JetStream) → write router, reader → HTTP app. `launchRouter` is the
// one way a router process starts (the binary and the simulator both call it).

import type { Hono } from "hono";
import type { NodeConfig } from "../config/config.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import type { Platform } from "../ports/platform.ts";
import { VersionStamper, isoNow } from "../ports/clock.ts";
import { DatabaseRegistry } from "../cluster/databases.ts";
import { FieldTypes } from "../cluster/field-types.ts";
import { routerMetrics } from "./router-metrics.ts";
import { routerStatusJson } from "./status.ts";
import { STATUS_PAGE_HTML } from "./status-page.ts";
import { METRICS_CONTENT_TYPE } from "../metrics/registry.ts";
import { ClusterView } from "../cluster/view.ts";
import { createHttpApp, type HttpAppOptions } from "../rpc/http-app.ts";
import { grpcSpec } from "../rpc/grpc.ts";
import type { GrpcSpec } from "../ports/serve.ts";
import { RouterService } from "../gen/soltix/v1/router_pb.ts";
import { DirectDelivery, type Delivery } from "../router/delivery.ts";
import { WriteRouter } from "../router/write-router.ts";
import { Reader } from "../router/reads.ts";
import { mountRouterRoutes, routerService, type RouterContext } from "../router/http.ts";
import { SOLTIX_VERSION, FAST_LIMITS } from "./node.ts";
import { ROUTER_WRITE_PATH, fastRouterWrite } from "../router/fast-route.ts";
import { isFastUnary } from "../rpc/fast-unary.ts";
import { loadSecurity } from "./security.ts";
import { listen } from "./listen.ts";
import { errorMessage } from "../base/errors.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { PemSet } from "../base/pem.ts";

export interface RouterDeps {
  platform: Platform;
  logger: Logger;
  /** A metadata store shared with other components of this process (not closed by the router). */
  metadata?: MetadataStore;
  /** The write transport, when not the configured one (the simulator's queue). */
  delivery?: Delivery;
}

export interface Router {
  readonly app: Hono;
  /** The same service over gRPC (served on server.grpc_port by platforms with HTTP/2). */
  readonly grpc: GrpcSpec;
  readonly view: ClusterView;
  readonly writer: WriteRouter;
  readonly reader: Reader;
  /** Certificate and key (PEM) the runtime serves HTTPS with, when configured. */
  readonly serverTls: { cert: string; key: string } | undefined;
  close(): Promise<void>;
}

export async function startRouter(config: NodeConfig, deps: RouterDeps): Promise<Router> {
  const { platform, logger } = deps;
  const { clock } = platform;
  const security = await loadSecurity(config, platform);
  const net = security.net;
  const metadata = deps.metadata ?? platform.openMetadata(config.etcd.endpoints, security.etcdTls);
  const view = await ClusterView.open(metadata, logger, clock);
  const delivery = deps.delivery ?? (await openDelivery(config, platform, logger, net, security.queueTls));
  const policy = {
    factor: config.replication.factor,
    strategy: config.replication.strategy,
    minReplicasForWrite: config.replication.minReplicasForWrite,
    totalGroups: config.coordinator.totalGroups,
    queue: config.queue.type,
    hintWindowMs: config.replication.hintWindowMs,
    hintBufferBytes: config.replication.hintBufferBytes,
  };
  const databases = new DatabaseRegistry(metadata, (name) => view.hasDatabase(name), () => isoNow(clock), logger);
  const fieldTypes = FieldTypes.open(metadata, logger, clock, () => isoNow(clock));
  const writer = new WriteRouter(view, delivery, policy, clock, platform.rng, logger, databases, fieldTypes);
  const reader = new Reader({ view, net, clock, logger, totalGroups: config.coordinator.totalGroups });
  const stamper = new VersionStamper(clock);
  const ctx: RouterContext = { view, writer, stamps: () => stamper.batch(), policy, logger, reader, readConsistency: config.read.consistency, metadata, nowIso: () => isoNow(clock), nowNs: () => clock.nowNs(), influxIdTag: config.ingest.influxIdTag, fieldTypes };
  const metrics = routerMetrics({ writer, view, version: SOLTIX_VERSION, id: config.node.id });
  const http: HttpAppOptions = {
    logger,
    clock,
    bodyReceiveMsMax: config.server.requestDeadlineMs,
    guard: security.guard,
    observeRequest: metrics.observeRequest,
    services: (r) => r.service(RouterService, routerService(ctx)),
  };
  const app = createHttpApp({
    ...http,
    fastPaths: {
      [ROUTER_WRITE_PATH]: (req) =>
        isFastUnary(req) ? fastRouterWrite(req, writer, ctx.stamps, policy.totalGroups, clock, logger, FAST_LIMITS) : undefined,
    },
    routes: (a) => {
      mountRouterRoutes(a, ctx);
      a.get("/metrics", async (c) => c.body(await metrics.registry.render(), 200, { "content-type": METRICS_CONTENT_TYPE }));
      a.get("/", (c) => c.html(STATUS_PAGE_HTML));
      a.get("/status", (c) => c.html(STATUS_PAGE_HTML));
      a.get("/api/status", async (c) => c.json(await routerStatusJson({ id: config.node.id, version: SOLTIX_VERSION, view, net, clock })));
      a.get("/healthz", (c) => c.json({ status: "ok", role: "router", id: config.node.id, version: SOLTIX_VERSION, stats: writer.stats }));
      // Ready = it can take writes. Nodes that are down do not make it unready (their writes are
      // kept for them); they are listed with what waits for each.
      a.get("/readyz", async (c) => {
        const problems: string[] = [];
        if (!view.loaded) problems.push(view.lastError ?? "cluster metadata not loaded");
        else {
          try {
            await metadata.get("/soltix/ping");
          } catch (e) {
            problems.push(errorMessage(e));
          }
        }
        const q = delivery.problem();
        if (q !== undefined) problems.push(q);
        if (view.activeNodes().length === 0) problems.push("no storage nodes registered");
        const nodesDown = await writer.downNodes();
        return c.json(
          { ready: problems.length === 0, nodes: view.activeNodes().map((n) => n.id), nodes_down: nodesDown, hints: writer.hints?.snapshot() ?? [], problems },
          problems.length === 0 ? 200 : 503,
        );
      });
    },
  });
  return {
    app,
    grpc: grpcSpec(http),
    view,
    writer,
    reader,
    serverTls: security.serverTls,
    async close() {
      writer.close();
      await fieldTypes.close();
      await delivery.close();
      await view.close();
      if (deps.metadata === undefined) await metadata.close();
    },
  };
}

async function openDelivery(config: NodeConfig, platform: Platform, logger: Logger, net: PeerNet, queueTls: PemSet | undefined): Promise<Delivery> {
  if (config.queue.type === "direct") return new DirectDelivery(net, platform.clock);
  const { NatsDelivery } = await import("../queue/nats-delivery.ts");
  return NatsDelivery.connect(config.queue.url, config.node.id, platform.clock, platform.rng, logger, queueTls);
}

export interface RunningRouter {
  readonly router: Router;
  readonly port: number;
  /** The gRPC port; undefined = off. */
  readonly grpcPort: number | undefined;
  stop(): Promise<void>;
}

/** A router process: start and serve. */
export async function launchRouter(config: NodeConfig, deps: RouterDeps): Promise<RunningRouter> {
  const router = await startRouter(config, deps);
  const served = await listen(config, deps.platform, { fetch: router.app.fetch, grpc: router.grpc }, router.serverTls, () => router.close());
  return { router, port: served.port, grpcPort: served.grpcPort, stop: served.stop };
}
