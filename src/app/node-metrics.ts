// A storage node's Prometheus metrics (DESIGN §12; the list is in the README): most are read from the
// components' own counters when a scrape comes; durations (WAL fsync, flush, HTTP requests) and
// refusals are recorded as they happen through the hooks this returns.

import type { Engine } from "../engine/engine.ts";
import type { NodeConfig } from "../config/config.ts";
import type { Clock } from "../ports/clock.ts";
import { MetricsRegistry, type Sample } from "../metrics/registry.ts";
import type { SyncRuntime } from "../sync/admin-service.ts";
import { groupNodes } from "../cluster/records.ts";

export interface NodeMetricsDeps {
  config: NodeConfig;
  /** The engine, once open (the metrics exist before it: its timing hooks come from here). */
  engine: () => Engine | undefined;
  rt: SyncRuntime;
  clock: Clock;
  version: string;
  /** The NATS consumer's counters and backlog, when the node has one. */
  queue: () => { stats: { applied: number; points: number; redelivered: number; rejected: number }; backlog(): Promise<number> } | undefined;
  residentBytes?: () => number;
  registered: () => boolean;
}

export interface NodeMetrics {
  registry: MetricsRegistry;
  observeRequest: (route: string, status: number, seconds: number) => void;
  ingestRejected: (reason: string) => void;
  engineTiming: { nowMs: () => number; walFsyncMs: (ms: number) => void; flushMs: (ms: number) => void };
}

export function nodeMetrics(d: NodeMetricsDeps): NodeMetrics {
  const r = new MetricsRegistry();
  const e = () => {
    const engine = d.engine();
    if (engine === undefined) throw new Error("engine not open");
    return engine.statsSnapshot;
  };
  const one = (value: number): Sample[] => [{ value }];
  r.gauge("soltix_build_info", "Always 1: the version and runtime of this process").set(1, { version: d.version, role: "node", node_id: d.config.node.id });
  r.collect("soltix_registered", "1 when this node holds its registration in the metadata store", "gauge", () => one(d.registered() ? 1 : 0));
  // Ingest.
  r.collect("soltix_ingest_points_total", "Points stored through the write path (clients, queue, sync pulls, repairs)", "counter", () => one(e().ingestedPoints));
  r.collect("soltix_ingest_bytes_total", "Canonical bytes of the points stored through the write path", "counter", () => one(e().ingestedBytes));
  r.collect("soltix_ingest_batches_total", "Write batches stored (each one WAL record)", "counter", () => one(e().ingestedBatches));
  const rejected = r.counter("soltix_ingest_rejected_total", "Writes and deletes refused, by error kind (invalid_argument, resource_exhausted, unavailable, ...)");
  r.collect("soltix_ingest_dropped_points_total", "Points not stored on purpose: already expired by retention, or deleted by a tombstone", "counter", () => [
    { labels: { reason: "expired" }, value: e().expiredPointsDropped },
    { labels: { reason: "deleted" }, value: e().deletedPointsDropped },
  ]);
  // WAL, flushes, segments, compaction.
  const walFsync = r.histogram("soltix_wal_fsync_duration_seconds", "One WAL group commit: the write and its fsync");
  r.collect("soltix_wal_fsyncs_total", "WAL group commits (fsyncs)", "counter", () => one(e().walFsyncs));
  r.collect("soltix_wal_bytes_total", "Bytes appended to the WAL", "counter", () => one(e().walBytes));
  const flush = r.histogram("soltix_flush_duration_seconds", "One flush of the memory store into segments", [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  r.collect("soltix_flushes_total", "Flushes of the memory store", "counter", () => one(e().flushes));
  r.collect("soltix_compactions_total", "Segment merges", "counter", () => one(e().compactions));
  r.collect("soltix_compacted_points_total", "Points written by segment merges", "counter", () => one(e().compactedPoints));
  r.collect("soltix_segments", "Segment files", "gauge", () => one(e().segments));
  r.collect("soltix_segment_bytes_written_total", "Bytes of segment files written (flushes, merges, rewrites, installed window files)", "counter", () => one(e().segmentBytesWritten));
  r.collect("soltix_segments_quarantined_total", "Corrupt segment files moved to quarantine", "counter", () => one(e().quarantined));
  // Memory by budget.
  const budgets = d.config.storage.memory;
  r.collect("soltix_memory_used_bytes", "Bytes held, by budget", "gauge", () => [
    { labels: { budget: "memstore" }, value: e().memstoreBytes },
    { labels: { budget: "segment_cache" }, value: e().segmentCacheBytes },
    { labels: { budget: "tree_cache" }, value: e().treeCacheBytes },
    { labels: { budget: "summary_cache" }, value: e().summaryCacheBytes },
  ]);
  r.collect("soltix_memory_limit_bytes", "storage.memory_bytes_max", "gauge", () => one(d.config.storage.memoryBytesMax));
  if (d.residentBytes !== undefined) r.collect("soltix_process_resident_bytes", "Resident memory of the process", "gauge", () => one(d.residentBytes!()));
  r.collect("soltix_memory_budget_bytes", "Byte budget of the memory store and of each cache (their shares of storage.memory_bytes_max)", "gauge", () => [
    { labels: { budget: "memstore" }, value: budgets.memstoreBytes },
    { labels: { budget: "segment_cache" }, value: budgets.segmentCacheBytes },
    { labels: { budget: "tree_cache" }, value: budgets.treeCacheBytes },
    { labels: { budget: "summary_cache" }, value: budgets.summaryCacheBytes },
  ]);
  // Anti-entropy.
  const ae = () => d.rt.antiEntropy;
  r.collect("soltix_anti_entropy_runs_total", "Anti-entropy runs of a group (with every replica)", "counter", () => one(ae()?.stats.runs ?? 0));
  r.collect("soltix_anti_entropy_windows_total", "Windows compared by anti-entropy runs, by result and path", "counter", () =>
    [...(ae()?.windowsByOutcome ?? new Map<string, number>())].map(([k, value]) => {
      const [result, path] = k.split("/");
      return { labels: { result: result!, path: path! }, value };
    }),
  );
  r.collect("soltix_anti_entropy_bytes_total", "Bytes exchanged by anti-entropy runs", "counter", () => [
    { labels: { direction: "sent" }, value: ae()?.stats.bytesSent ?? 0 },
    { labels: { direction: "received" }, value: ae()?.stats.bytesReceived ?? 0 },
  ]);
  r.collect("soltix_anti_entropy_points_repaired_total", "Points pulled by anti-entropy runs", "counter", () => one(ae()?.stats.pointsRepaired ?? 0));
  r.collect("soltix_anti_entropy_last_verified_age_seconds", "Seconds since a run last compared every window of the group with every replica without a failure (groups never verified since the start are left out)", "gauge", () => {
    const a = ae();
    if (a === undefined) return [];
    const now = d.clock.monotonicMs();
    return [...a.lastVerifiedAtMs].sort((x, y) => x[0] - y[0]).map(([g, at]) => ({ labels: { group: String(g) }, value: (now - at) / 1000 }));
  });
  // Startup sync and moves, as 0–1 ratios.
  r.collect("soltix_startup_sync_progress_ratio", "Per group this node holds: 1 once caught up since its start; while catching up, points streamed of those expected", "gauge", () => {
    const s = d.rt.syncer;
    if (s === undefined) return [];
    return [...s.heldGroups()].sort((a, b) => a - b).map((g) => {
      const p = s.progress.get(g);
      const value = !s.isCatchingUp(g) ? 1 : p === undefined || p.expectedPoints <= 0 ? 0 : Math.min(1, p.points / p.expectedPoints);
      return { labels: { group: String(g) }, value };
    });
  });
  r.collect("soltix_groups", "Groups this node holds, by local state", "gauge", () => {
    const s = d.rt.syncer;
    if (s === undefined) return [];
    const held = [...s.heldGroups()];
    const catching = held.filter((g) => s.isCatchingUp(g)).length;
    return [{ labels: { state: "serving" }, value: held.length - catching }, { labels: { state: "catching_up" }, value: catching }];
  });
  r.collect("soltix_move_progress_ratio", "Group moves into this node: windows done of the group's windows", "gauge", () =>
    [...(d.rt.mover?.progress ?? new Map())].filter(([, p]) => p.phase !== "done").map(([g, p]) => ({
      labels: { group: String(g), phase: p.phase },
      value: p.windows_total > 0 ? p.windows_done / p.windows_total : 0,
    })),
  );
  // Deletes and retention.
  r.collect("soltix_tombstones", "Live tombstones (deletes not yet purged everywhere)", "gauge", () => one(e().tombstonesLive));
  r.collect("soltix_tombstones_purged_total", "Tombstones purged once every replica held them", "counter", () => one(e().tombstonesPurged));
  r.collect("soltix_points_deleted_total", "Points deleted by tombstones from memory and segments", "counter", () => one(e().pointsDeleted));
  r.collect("soltix_windows_expired_total", "Windows unlinked by retention", "counter", () => one(e().windowsExpired));
  // The write queue (NATS).
  r.collect("soltix_queue_lag_messages", "Messages of this node's NATS stream not yet applied and acknowledged (none with direct delivery)", "gauge", async () => {
    const q = d.queue();
    return q === undefined ? [] : one(await q.backlog());
  });
  r.collect("soltix_queue_messages_total", "NATS queue messages by outcome", "counter", () => {
    const q = d.queue();
    return q === undefined ? [] : [
      { labels: { outcome: "applied" }, value: q.stats.applied },
      { labels: { outcome: "rejected" }, value: q.stats.rejected },
      { labels: { outcome: "redelivered" }, value: q.stats.redelivered },
    ];
  });
  r.collect("soltix_groups_assigned", "Groups whose record names this node", "gauge", () => one(d.rt.view?.allGroups().filter((g) => groupNodes(g).includes(d.config.node.id)).length ?? 0));
  // HTTP.
  const requests = r.counter("soltix_http_requests_total", "HTTP requests answered, by route and status code");
  const durations = r.histogram("soltix_http_request_duration_seconds", "Time to answer an HTTP request (to the start of a streamed answer), by route");
  return {
    registry: r,
    observeRequest: (route, status, seconds) => {
      requests.inc({ route, code: String(status) });
      durations.observe(seconds, { route });
    },
    ingestRejected: (reason) => rejected.inc({ reason }),
    engineTiming: { nowMs: () => d.clock.monotonicMs(), walFsyncMs: (ms) => walFsync.observe(ms / 1000), flushMs: (ms) => flush.observe(ms / 1000) },
  };
}
