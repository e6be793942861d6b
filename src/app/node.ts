// Composition root of a storage node: config + one implementation of each port (a Platform) →
// engine, services, HTTP app, registration, startup sync, anti-entropy, queue consumer.
// `launchNode` is the one way a node process starts — the binary's `soltix node` and the simulator
// both call it — so what the simulator checks is the wiring the binary runs.

import type { Hono } from "hono";
import { Engine } from "../engine/engine.ts";
import type { NodeConfig } from "../config/config.ts";
import { VersionStamper, isoNow, raceDeadline, sleep, withDeadline, type Clock, type Timer } from "../ports/clock.ts";
import { unwritableCode } from "../ports/fs.ts";
import { randomToken } from "../ports/rng.ts";
import type { Logger } from "../ports/logger.ts";
import type { DirLock, Platform } from "../ports/platform.ts";
import { createHttpApp, type HttpAppOptions } from "../rpc/http-app.ts";
import { grpcSpec } from "../rpc/grpc.ts";
import type { GrpcSpec } from "../ports/serve.ts";
import { storageService } from "../rpc/storage-service.ts";
import { syncService } from "../rpc/sync-service.ts";
import type { NodeContext } from "../rpc/context.ts";
import type { DeleteTarget } from "../rpc/deletes.ts";
import { WRITE_PATH, fastWrite } from "../rpc/write-route.ts";
import { QUERY_PATH, fastQuery } from "../rpc/query-route.ts";
import { STREAM_POINTS_PATH, fastStreamPoints } from "../rpc/stream-points-route.ts";
import { FETCH_WINDOW_PATH, fastFetchWindow } from "../rpc/fetch-window-route.ts";
import { isBinaryStream } from "../rpc/fast-stream.ts";
import { isFastUnary } from "../rpc/fast-unary.ts";
import { LIMITS } from "../base/limits.ts";
import { SoltixError, errorMessage, invalidArgument } from "../base/errors.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import { NodeRegistration, type HolderProbe } from "../cluster/registration.ts";
import { ClusterView } from "../cluster/view.ts";
import { shapeFor } from "../merkle/shape.ts";
import { adminService, type SyncRuntime } from "../sync/admin-service.ts";
import { AdminService } from "../gen/soltix/v1/admin_pb.ts";
import { GroupSyncer } from "../sync/startup-sync.ts";
import { AntiEntropy } from "../sync/anti-entropy.ts";
import { GroupMover } from "../sync/group-mover.ts";
import { RetentionLoop } from "../sync/retention-loop.ts";
import { nodeMetrics } from "./node-metrics.ts";
import { nodeStatusJson } from "./status.ts";
import { STATUS_PAGE_HTML } from "./status-page.ts";
import { METRICS_CONTENT_TYPE } from "../metrics/registry.ts";
import { TombstonePurger } from "../sync/tombstone-purge.ts";
import { ClusterPlanner } from "../cluster/planner-loop.ts";
import { NatsConsumer } from "../queue/nats-consumer.ts";
import { groupNodes, parseGroupRecord, writeNodes, type NodeRecord } from "../cluster/records.ts";
import { GROUPS_PREFIX } from "../cluster/keys.ts";
import { StorageService } from "../gen/soltix/v1/storage_pb.ts";
import { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import { loadSecurity } from "./security.ts";
import { listen } from "./listen.ts";

export const SOLTIX_VERSION = "0.1.0";

/** Limits of the hand-decoded binary write paths: the same as every Connect call's. */
export const FAST_LIMITS = { requestBytesMax: LIMITS.requestBytesMax, deadlineMs: LIMITS.unaryDeadlineMs };

/** How often a read-only node (full or read-only disk) tries to take writes again. */
const WRITE_RETRY_MS = 5_000;

/** A promoted node compares with every replica again at least this long after promotion (in-flight queued writes). */
const AFTER_PROMOTE_VERIFY_MS_MIN = 5_000;

/** How long a probe of the process holding our node id may take. */
const HOLDER_PROBE_TIMEOUT_MS = 2_000;

export interface NodeDeps {
  platform: Platform;
  logger: Logger;
  /** A metadata store shared with other components of this process (not closed by the node). */
  metadata?: MetadataStore;
  /** Messages waiting in this node's write queue when it is not NATS (the simulator's queue); none: 0. */
  queueBacklog?: () => Promise<number>;
}

export interface StorageNode {
  readonly config: NodeConfig;
  readonly engine: Engine;
  /** What a queued write batch is applied to (its points and deletes): the queue consumer's, and the simulator's. */
  readonly ingest: DeleteTarget;
  readonly app: Hono;
  /** The same services over gRPC (served on server.grpc_port by platforms with HTTP/2). */
  readonly grpc: GrpcSpec;
  readonly metadata: MetadataStore;
  /** Random per process start; in the node record and /healthz (tells two claimants of one id apart). */
  readonly instance: string;
  /** Startup sync, anti-entropy and the cluster view, once joined. */
  readonly sync: SyncRuntime;
  /** Certificate and key (PEM) the runtime serves HTTPS with, when configured. */
  readonly serverTls: { cert: string; key: string } | undefined;
  /**
   * Registers the node (call once the server listens, with the address peers dial) and starts
   * startup sync, anti-entropy and the queue consumer in the background. Resolves once registered
   * (or once the metadata store proved unreachable: it keeps trying); rejects when a live process
   * holds this node id.
   */
  joinCluster(address: string): Promise<void>;
  close(): Promise<void>;
}

/** Checks a config that only a node needs (a router has its own id rules). */
function checkNodeConfig(config: NodeConfig): void {
  if (config.etcd.endpoints.length > 0 && !config.given.has("node.id")) {
    throw invalidArgument(
      "node.id",
      "must be set when etcd.endpoints is (a cluster): every node needs its own id; the default would collide with another node's (set --node.id, SOLTIX_NODE_ID or node.id in the file)",
    );
  }
}

export async function startNode(config: NodeConfig, deps: NodeDeps): Promise<StorageNode> {
  const { platform, logger } = deps;
  const { clock } = platform;
  checkNodeConfig(config);
  // Credentials first: a bad token or certificate file stops the node before it opens its data.
  const security = await loadSecurity(config, platform);
  const net = security.net;
  // The data dir's lock. A disk that cannot be written (full, read-only) cannot hold it either: the
  // node then starts read-only and takes the lock, and writes, once the disk can be written.
  let lock: DirLock | undefined;
  let lockProblem: string | undefined;
  const takeLock = async () => {
    try {
      await platform.fs.mkdirp(config.storage.dataDir);
      lock = await platform.lockDataDir(config.storage.dataDir);
      lockProblem = undefined;
    } catch (e) {
      if (unwritableCode(e) === undefined) throw e;
      lockProblem = `cannot lock storage.data_dir ${config.storage.dataDir}: ${errorMessage(e)}`;
    }
  };
  await takeLock();
  let engine: Engine;
  // Metrics first: the engine's timing hooks come from them; everything else is read at a scrape.
  let engineOpen: Engine | undefined;
  const rt: SyncRuntime = {};
  let registration: NodeRegistration | undefined;
  let consumer: NatsConsumer | undefined;
  const metrics = nodeMetrics({
    config, engine: () => engineOpen, rt, clock, version: SOLTIX_VERSION,
    queue: () => consumer,
    ...(platform.residentBytes === undefined ? {} : { residentBytes: () => platform.residentBytes!() }),
    registered: () => registration?.status.registered ?? false,
  });
  const compute = platform.computePool?.(config.storage.workerThreads);
  try {
    engine = await Engine.open({
      ...(compute === undefined ? {} : { compute }),
      dataDir: config.storage.dataDir,
      nodeId: config.node.id,
      ...(lockProblem === undefined ? {} : { readOnlyBecause: lockProblem }),
      fs: platform.fs,
      logger,
      totalGroups: config.coordinator.totalGroups,
      memstoreBytesMax: config.storage.memory.memstoreBytes,
      segmentCacheBytesMax: config.storage.memory.segmentCacheBytes,
      treeCacheBytesMax: config.storage.memory.treeCacheBytes,
      summaryCacheBytesMax: config.storage.memory.summaryCacheBytes,
      ...(platform.collectGarbage === undefined ? {} : { releasedMemory: platform.collectGarbage }),
      ...(platform.residentBytes === undefined ? {} : { residentBytes: platform.residentBytes, memoryBytesMax: config.storage.memoryBytesMax }),
      treeShape: shapeFor(config.storage.sync.antiEntropy.fanout, config.storage.sync.antiEntropy.leafPointsMax),
      sketch: config.storage.sync.antiEntropy.sketch,
      timing: metrics.engineTiming,
    });
    engineOpen = engine;
  } catch (e) {
    await compute?.close();
    await lock?.release();
    throw e;
  }
  // Retention first: nothing expired is served or compared, also right after a restart.
  const retention = new RetentionLoop(engine, config.storage.retentionMs, clock, logger);
  await retention.sweep();
  if (engine.writeProblem() !== undefined) logger.log("error", "node: starting read-only (reads and repair streams are served)", { error: engine.writeProblem() });
  // Read-only (full or read-only disk, at start or later): look again now and then, and take writes
  // again by itself once the disk can be written.
  let writeRetry: Timer | undefined;
  let closingEngine = false;
  const retryWrites = () => {
    writeRetry = clock.setTimer(WRITE_RETRY_MS, async () => {
      if (closingEngine) return;
      try {
        if (engine.writeProblem() !== undefined) {
          if (lock === undefined) await takeLock();
          if (lock !== undefined && (await engine.resumeWrites())) logger.log("info", "node: the disk can be written again; taking writes");
        }
      } catch (e) {
        logger.log("error", "node: cannot take writes again", { error: errorMessage(e) });
      }
      retryWrites();
    });
  };
  retryWrites();
  const instance = randomToken(platform.rng, 16);
  let joined = false;
  const ctx: NodeContext = {
    nodeId: config.node.id,
    engine,
    totalGroups: config.coordinator.totalGroups,
    stamper: new VersionStamper(clock),
    clock,
    logger,
    treeShape: shapeFor(config.storage.sync.antiEntropy.fanout, config.storage.sync.antiEntropy.leafPointsMax),
    ingestRejected: metrics.ingestRejected,
    // Deletes of every device are placed in each group this node holds or joins (from the cluster
    // view) and each it holds data of; before the view is loaded, in every group.
    heldGroups: () => {
      const v = rt.view;
      if (v === undefined || !v.loaded) return Array.from({ length: config.coordinator.totalGroups }, (_, g) => g);
      const out = new Set(engine.groups());
      for (const g of v.allGroups()) if (writeNodes(g).includes(config.node.id)) out.add(g.group_id);
      return out;
    },
    // A node in a cluster serves a group's reads only once it caught up with its replicas since it started.
    readRefusal: (group) => {
      if (!joined) return undefined;
      if (rt.view?.cachedGroup(group)?.joining_nodes.includes(config.node.id) === true) return `group ${group} is moving to node ${config.node.id} (joining: not verified yet)`;
      if (rt.syncer === undefined) return `node ${config.node.id} is starting (cluster metadata not loaded, startup sync not begun)`;
      return rt.syncer.isCatchingUp(group) ? `group ${group} is catching up on node ${config.node.id} (startup sync not finished)` : undefined;
    },
  };
  const startedAt = isoNow(clock);
  const metadata = deps.metadata ?? platform.openMetadata(config.etcd.endpoints, security.etcdTls);
  let closing = false;
  consumer = config.queue.type === "nats" ? new NatsConsumer(config.queue.url, config.node.id, ctx, () => ctx.stamper.next(), clock, logger, security.queueTls) : undefined;
  const registrationText = () => {
    if (registration === undefined) return "not registered yet (server not listening)";
    return registration.status.registered ? "registered" : `not registered: ${registration.status.lastError ?? "registering"}`;
  };
  rt.registration = registrationText;
  const http: HttpAppOptions = {
    logger,
    clock,
    bodyReceiveMsMax: config.server.requestDeadlineMs,
    guard: security.guard,
    observeRequest: metrics.observeRequest,
    services: (router) => {
      router.service(StorageService, storageService(ctx));
      router.service(SyncService, syncService(ctx));
      router.service(AdminService, adminService(ctx, rt, { factor: config.replication.factor, store: metadata }));
    },
  };
  const app = createHttpApp({
    ...http,
    fastPaths: {
      [WRITE_PATH]: (req) => (isFastUnary(req) ? fastWrite(req, ctx, FAST_LIMITS) : undefined),
      [QUERY_PATH]: (req) => (isFastUnary(req) ? fastQuery(req, ctx, FAST_LIMITS) : undefined),
      [STREAM_POINTS_PATH]: (req) => (isBinaryStream(req) ? fastStreamPoints(req, ctx, FAST_LIMITS.requestBytesMax) : undefined),
      [FETCH_WINDOW_PATH]: (req) => (isBinaryStream(req) ? fastFetchWindow(req, ctx, FAST_LIMITS.requestBytesMax) : undefined),
    },
    routes: (a) => {
      a.get("/metrics", async (c) => c.body(await metrics.registry.render(), 200, { "content-type": METRICS_CONTENT_TYPE }));
      a.get("/", (c) => c.html(STATUS_PAGE_HTML));
      a.get("/status", (c) => c.html(STATUS_PAGE_HTML));
      a.get("/api/status", (c) => c.json(nodeStatusJson({ nodeId: config.node.id, version: SOLTIX_VERSION, engine, rt, clock })));
      a.get("/healthz", (c) =>
        c.json({
          status: "ok",
          node_id: config.node.id,
          instance,
          version: SOLTIX_VERSION,
          started_at: startedAt,
          engine: engine.statsSnapshot,
          ...(platform.memoryUsage === undefined ? {} : { memory: platform.memoryUsage() }),
          groups_assigned: rt.view?.allGroups().filter((g) => groupNodes(g).includes(config.node.id)).length ?? 0,
        }),
      );
      // Ready = registered in the metadata store (so it was reachable) and, with NATS, consuming.
      a.get("/readyz", (c) => {
        const registered = registration?.status.registered ?? false;
        const queueProblem = consumer?.problem();
        const writeProblem = engine.writeProblem();
        const ready = registered && queueProblem === undefined && writeProblem === undefined;
        const catchingUp = rt.syncer === undefined ? [] : [...(rt.syncer.heldGroups() ?? [])].filter((g) => rt.syncer!.isCatchingUp(g));
        const body = {
          ready,
          node_id: config.node.id,
          metadata: config.etcd.endpoints.length > 0 ? `etcd ${config.etcd.endpoints.join(",")}` : "embedded",
          registered,
          queue: config.queue.type === "nats" ? { url: config.queue.url, connected: consumer?.link.connected ?? false, problem: queueProblem ?? null, ...consumer?.stats } : "direct",
          groups_catching_up: catchingUp.length,
          error: writeProblem ?? (registered ? queueProblem ?? null : registrationText()),
        };
        return c.json(body, ready ? 200 : 503);
      });
    },
  });
  // Is the process named by a node record alive and really that process (same id, same instance)?
  const probe: HolderProbe = async (holder) => {
    try {
      const res = await withDeadline(clock, HOLDER_PROBE_TIMEOUT_MS, (signal) => net.fetch(net.url(holder.address, "/healthz"), { signal }));
      const body = (await res.json()) as { node_id?: unknown; instance?: unknown };
      if (body.instance === instance) return "gone"; // its address is ours now: that process is gone
      return body.node_id === holder.id && (holder.instance === "" || body.instance === holder.instance) ? "alive" : "gone";
    } catch (e) {
      // Nothing listens where it registered: it is gone (a paused or cut-off process still holds its port).
      return (e as { code?: unknown }).code === "ECONNREFUSED" ? "gone" : "no answer";
    }
  };
  return {
    config,
    engine,
    ingest: ctx,
    app,
    grpc: grpcSpec(http),
    metadata,
    instance,
    sync: rt,
    serverTls: security.serverTls,
    joinCluster(address) {
      if (registration !== undefined) return Promise.resolve();
      joined = true;
      const record = (): NodeRecord => ({ id: config.node.id, address, status: "active", version: SOLTIX_VERSION, updated_at: isoNow(clock), instance });
      // Another live process holds this id: it is the node now; this one stops taking its queue.
      const yieldId = () => void consumer?.close().catch(() => {});
      registration = new NodeRegistration(metadata, record, clock, logger, probe, yieldId);
      // Once this process holds the id, and before its queue or a move can bring anything: copies of
      // groups the records no longer give this node (it was replaced while down) are dropped now. They
      // may hold versions deleted meanwhile whose tombstones every replica has purged since — a later
      // move back here must start from nothing.
      const first = registration.start().then(() => dropGroupsGivenUp(metadata, engine, config.node.id, clock, logger));
      // The queue consumer starts only once this process holds the node id: a second process with
      // the same id must never take the first one's messages.
      first.then(
        () => {
          if (!closing) consumer?.start();
        },
        () => {},
      );
      // The node's watch-driven view of nodes and group assignments, then startup sync and the
      // anti-entropy loop. The queue consumer is subscribed alongside, so nothing published during
      // the sync is missed; its backlog applies concurrently (LWW makes the order irrelevant).
      void ClusterView.open(metadata, logger, clock).then(async (v) => {
        rt.view = v;
        while (!v.loaded && !closing) await sleep(clock, 100);
        if (closing) return;
        // Each database's own retention, from its record, before anything is compared.
        retention.start(v);
        await retention.sweep();
        const s = config.storage.sync;
        rt.antiEntropy = new AntiEntropy(config.node.id, engine, v, {
          shape: ctx.treeShape,
          totalGroups: config.coordinator.totalGroups,
          horizonDays: s.antiEntropy.horizonDays,
          settleMs: s.antiEntropy.settleMs,
          fullResyncShare: s.antiEntropy.fullResyncPercent / 100,
          sketch: s.antiEntropy.sketch,
          sketchSymbols: s.antiEntropy.sketchSymbols,
          batchSize: s.antiEntropy.batchSize,
          reverifyEveryRuns: s.antiEntropy.reverifyEveryRuns,
          bytesPerSecMax: s.antiEntropy.bytesPerSecMax,
          net,
        }, clock, platform.rng, logger);
        const ae = rt.antiEntropy;
        // Deletes: tombstones purged once every replica holds them (repair-gated).
        const purger = new TombstonePurger(config.node.id, engine, v, ae, { delayMs: config.storage.tombstonePurgeDelayMs }, {
          catchingUp: (g) => rt.syncer?.isCatchingUp(g) ?? true,
          queueBacklog: () => (consumer !== undefined ? consumer.backlog() : (deps.queueBacklog?.() ?? Promise.resolve(0))),
        }, clock, logger);
        rt.purger = purger;
        ae.onRoundDone = () => purger.sweep();
        rt.syncer = new GroupSyncer(config.node.id, engine, v, metadata, {
          batchSize: s.syncBatchSize, maxConcurrent: s.maxConcurrentSyncs, timeoutMs: s.startupTimeoutMs, totalGroups: config.coordinator.totalGroups, net,
        }, (group, peer) => ae.verifyWith(group, peer), clock, platform.rng, logger);
        // Membership: the planner (one leader per cluster) and this node's side of group moves.
        const c = config.cluster;
        const planner = new ClusterPlanner(config.node.id, metadata, v, {
          factor: config.replication.factor, maxConcurrentMoves: c.maxConcurrentMoves, deadNodeTimeoutMs: c.deadNodeTimeoutMs, autoReplace: c.autoReplace, intervalMs: c.planIntervalMs,
        }, clock, logger);
        rt.planner = planner;
        rt.mover = new GroupMover(config.node.id, engine, v, metadata, ae, {
          moveBytesPerSec: c.moveBytesPerSec, maxConcurrent: c.maxConcurrentMoves, checkIntervalMs: c.planIntervalMs, dropGraceMs: 2 * c.planIntervalMs,
          afterPromoteVerifyMs: Math.max(AFTER_PROMOTE_VERIFY_MS_MIN, s.antiEntropy.settleMs),
        }, clock, platform.rng, logger, () => planner.input().dead);
        if (s.enabled && s.startupSync) await rt.syncer.syncAll();
        if (closing) return;
        rt.planner.start();
        rt.mover.start();
        if (s.enabled && s.antiEntropy.enabled && !closing) rt.antiEntropy.start(s.antiEntropy.intervalMs, () => rt.syncer?.heldGroups() ?? []);
        if (!closing) purger.start();
      });
      return first;
    },
    async close() {
      closing = true;
      closingEngine = true;
      rt.syncer?.stop();
      rt.antiEntropy?.stop();
      rt.purger?.stop();
      rt.mover?.stop();
      await rt.planner?.stop();
      await retention.stop();
      await consumer?.close().catch(() => {});
      await rt.view?.close();
      await registration?.stop();
      writeRetry?.cancel();
      await engine.close();
      await compute?.close();
      await lock?.release();
      if (deps.metadata === undefined) await metadata.close(); // a shared store (tests, soltix dev) is its owner's to close
    },
  };
}

export interface RunningNode {
  readonly node: StorageNode;
  /** The port it listens on (the real one when server.port is 0). */
  readonly port: number;
  /** The gRPC port; undefined = off. */
  readonly grpcPort: number | undefined;
  /** host:port peers dial. */
  readonly address: string;
  stop(): Promise<void>;
}

/**
 * A node process: start, serve, join the cluster. Fails (and leaves nothing running or locked) when
 * a live process already holds this node id.
 */
export async function launchNode(config: NodeConfig, deps: NodeDeps): Promise<RunningNode> {
  const node = await startNode(config, deps);
  const served = await listen(config, deps.platform, { fetch: node.app.fetch, grpc: node.grpc }, node.serverTls, () => node.close());
  // Register only now that the server listens: a node.address given (or derived from a fixed port) as
  // it is; else (port 0) the host with the real port.
  const address = config.node.address !== "" ? config.node.address : `${config.server.host}:${served.port}`;
  try {
    await node.joinCluster(address);
  } catch (e) {
    await served.stop();
    throw new SoltixError("failed_precondition", errorMessage(e));
  }
  return { node, port: served.port, grpcPort: served.grpcPort, address, stop: served.stop };
}

/** How long the start-up look at the group records may take (it is skipped, logged, past it). */
const GIVEN_UP_LOOK_MS = 5_000;

/**
 * Drops this node's copy of every group whose record (read now) names it neither as a replica nor as
 * joining while another node holds it. Best effort: an unreachable store leaves the copies to the
 * mover's janitor (which drops them after its grace).
 */
async function dropGroupsGivenUp(store: MetadataStore, engine: Engine, nodeId: string, clock: Clock, logger: Logger): Promise<void> {
  const held = new Set(engine.groups());
  if (held.size === 0) return;
  let records;
  try {
    records = await raceDeadline(clock, GIVEN_UP_LOOK_MS, store.list(GROUPS_PREFIX), () => new Error(`no answer in ${GIVEN_UP_LOOK_MS} ms`));
  } catch (e) {
    logger.log("warn", "node: cannot read the group records at start (copies given up meanwhile are dropped later)", { error: errorMessage(e) });
    return;
  }
  for (const kv of records) {
    let r;
    try {
      r = parseGroupRecord(kv.value);
    } catch {
      continue;
    }
    if (!held.has(r.group_id) || writeNodes(r).includes(nodeId) || !groupNodes(r).some((id) => id !== nodeId)) continue;
    const segments = await engine.dropGroup(r.group_id);
    logger.log("info", "node: copy of a group given up while this node was away dropped", { group: r.group_id, segments, now_on: groupNodes(r) });
  }
}
