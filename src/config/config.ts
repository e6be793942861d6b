// Configuration: one table of keys (the Soltix YAML layout), each with a type, a default and a range.
// Sources, weakest first: defaults < YAML file < SOLTIX_* environment < --key.path flags. Anything
// unknown or out of range fails at startup with the key, the value and what is allowed.

import { SoltixError } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { MEMORY_ASSIGNABLE_FRACTION, MEMORY_BYTES_DEFAULT, MEMORY_BYTES_MIN, budgetUsed, memoryBudget, type MemoryBudget } from "../base/memory-budget.ts";
import { parseDurationMs } from "../base/time.ts";

type KeyType =
  | { t: "string"; nonEmpty?: boolean; re?: RegExp; reText?: string }
  | { t: "int"; min: number; max: number }
  | { t: "bool" }
  | { t: "duration"; minMs: number; maxMs: number }
  | { t: "enum"; values: readonly string[] }
  | { t: "list" };

type Value = string | number | boolean | string[];

interface KeySpec {
  readonly path: string;
  readonly type: KeyType;
  readonly def: Value;
  readonly help: string;
}

const DAY_MS = 86_400_000;

export const CONFIG_KEYS: readonly KeySpec[] = [
  { path: "node.id", type: { t: "string", nonEmpty: true, re: /^[A-Za-z0-9_.-]{1,64}$/, reText: "1-64 of [A-Za-z0-9_.-]" }, def: "storage-1", help: "node identity (etcd key, queue subject)" },
  { path: "node.address", type: { t: "string" }, def: "", help: "host:port peers and routers dial (default: server.host:server.port)" },
  { path: "server.host", type: { t: "string", nonEmpty: true }, def: "127.0.0.1", help: "listen address" },
  { path: "server.port", type: { t: "int", min: 0, max: 65535 }, def: 7001, help: "Connect-RPC + HTTP port (0 = any free port)" },
  { path: "server.grpc_port", type: { t: "string", re: /^(auto|off|[0-9]{1,5})$/, reText: "auto, off or a port number" }, def: "auto", help: "gRPC (HTTP/2) port: auto = server.port + 1000 (any free port when server.port is 0), off, or a port (0 = any free port)" },
  { path: "server.tls.cert_file", type: { t: "string" }, def: "", help: "PEM certificate: serve HTTPS (with server.tls.key_file)" },
  { path: "server.tls.key_file", type: { t: "string" }, def: "", help: "PEM private key for server.tls.cert_file" },
  { path: "server.request_deadline", type: { t: "duration", minMs: 1000, maxMs: 3_600_000 }, def: "30s", help: "a request with a body must be received and answered within this (slow bodies are cut off: 408)" },
  { path: "server.requests_per_sec_per_peer", type: { t: "int", min: 0, max: 1_000_000 }, def: 0, help: "requests/s allowed per remote address (0 = unlimited)" },
  { path: "storage.data_dir", type: { t: "string", nonEmpty: true }, def: "./data/storage-1", help: "WAL, segments, quarantine" },
  { path: "storage.memory_bytes_max", type: { t: "int", min: MEMORY_BYTES_MIN, max: 1024 ** 4 }, def: MEMORY_BYTES_DEFAULT, help: "memory the node's data may take (memory store and every cache, with room for the runtime): RSS stays under it" },
  { path: "storage.memstore_bytes_max", type: { t: "int", min: 0, max: 16 * 1024 ** 3 }, def: 0, help: "memory store size that starts a flush; writers wait at twice it (0 = 15 % of storage.memory_bytes_max)" },
  { path: "storage.worker_threads", type: { t: "int", min: 0, max: 256 }, def: 0, help: "threads that encode segments and run compaction merges off the request thread (0 = cores - 1, at least 1)" },
  { path: "storage.segment_cache_bytes_max", type: { t: "int", min: 0, max: 64 * 1024 ** 3 }, def: 0, help: "decoded segments kept in memory (0 = 8 % of storage.memory_bytes_max)" },
  { path: "storage.retention", type: { t: "duration", minMs: 0, maxMs: 100 * 365 * DAY_MS }, def: "0", help: "keep points this long (whole days: a window is dropped once it ends this long ago); a database's own retention overrides it; 0 = forever" },
  { path: "storage.tombstone_purge_delay", type: { t: "duration", minMs: 0, maxMs: 365 * DAY_MS }, def: "3h", help: "a delete's tombstone is purged once every replica holds it and it is this old (at least replication.hint_window: a write stamped before it may still arrive that late)" },
  { path: "storage.sync.enabled", type: { t: "bool" }, def: true, help: "replica sync on/off" },
  { path: "storage.sync.startup_sync", type: { t: "bool" }, def: true, help: "catch up from replicas at start" },
  { path: "storage.sync.startup_timeout", type: { t: "duration", minMs: 1000, maxMs: DAY_MS }, def: "5m", help: "startup sync time limit" },
  { path: "storage.sync.sync_batch_size", type: { t: "int", min: 1, max: LIMITS.pageSizeMax }, def: 1000, help: "points per sync batch" },
  { path: "storage.sync.max_concurrent_syncs", type: { t: "int", min: 1, max: 64 }, def: 5, help: "groups synced at once" },
  { path: "storage.sync.anti_entropy.enabled", type: { t: "bool" }, def: true, help: "periodic replica comparison" },
  { path: "storage.sync.anti_entropy.interval", type: { t: "duration", minMs: 1000, maxMs: 7 * DAY_MS }, def: "1h", help: "anti-entropy period" },
  { path: "storage.sync.anti_entropy.batch_size", type: { t: "int", min: 1, max: 1_000_000 }, def: 10000, help: "points per repair batch" },
  { path: "storage.sync.anti_entropy.horizon_days", type: { t: "int", min: 0, max: 100_000 }, def: 0, help: "check windows this many days back (0 = every window)" },
  { path: "storage.sync.anti_entropy.settle", type: { t: "duration", minMs: 0, maxMs: DAY_MS }, def: "10s", help: "versions younger than this are in flight, not divergence" },
  { path: "storage.sync.anti_entropy.full_resync_percent", type: { t: "int", min: 1, max: 100 }, def: 50, help: "resync a window whole when more than this % of it differs" },
  { path: "storage.sync.anti_entropy.reverify_every_runs", type: { t: "int", min: 0, max: 1_000_000 }, def: 24, help: "re-verify windows from disk every N runs (0 = never)" },
  { path: "storage.sync.anti_entropy.max_bytes_per_sec", type: { t: "int", min: 0, max: 10 * 1024 ** 3 }, def: 0, help: "bandwidth cap per anti-entropy session (0 = unlimited)" },
  { path: "storage.sync.anti_entropy.sketch", type: { t: "bool" }, def: true, help: "reconcile differing windows with rateless IBLT sketches before descending the Merkle tree" },
  { path: "storage.sync.anti_entropy.sketch_symbols", type: { t: "int", min: 0, max: 1024 }, def: 32, help: "sketch symbols sent with a lone window's root (10 B each; 0 = the replica answers its own, one more round trip)" },
  { path: "storage.sync.anti_entropy.fanout", type: { t: "int", min: 2, max: 64 }, def: 16, help: "Merkle tree fanout (a power of two; replicas must agree)" },
  { path: "storage.sync.anti_entropy.leaf_points_max", type: { t: "int", min: 1, max: 4096 }, def: 32, help: "points at most in a Merkle leaf" },
  { path: "replication.factor", type: { t: "int", min: 1, max: 16 }, def: 3, help: "replicas per group" },
  { path: "replication.strategy", type: { t: "enum", values: ["sync", "async"] }, def: "async", help: "when the router acknowledges" },
  { path: "replication.min_replicas_for_write", type: { t: "int", min: 1, max: 16 }, def: 1, help: "durable copies before a sync ack" },
  { path: "replication.hint_window", type: { t: "duration", minMs: 0, maxMs: 7 * DAY_MS }, def: "3h", help: "a down node keeps receiving writes (NATS stream / direct hints) this long (0 = never)" },
  { path: "replication.hint_buffer_bytes", type: { t: "int", min: 0, max: 64 * 1024 ** 3 }, def: 256 * 1024 * 1024, help: "direct delivery: bytes of hints a router keeps for down nodes" },
  { path: "cluster.max_concurrent_moves", type: { t: "int", min: 1, max: 1024 }, def: 4, help: "group moves (join, decommission, replace) the planner runs at once" },
  { path: "cluster.move_bytes_per_sec", type: { t: "int", min: 0, max: 10 * 1024 ** 3 }, def: 0, help: "bandwidth cap of each move's stream into a joining node (0 = unlimited)" },
  { path: "cluster.dead_node_timeout", type: { t: "duration", minMs: 0, maxMs: 365 * DAY_MS }, def: "30m", help: "a node unregistered this long is dead: its groups are re-placed (0 = never)" },
  { path: "cluster.auto_replace", type: { t: "bool" }, def: true, help: "replace dead nodes in their groups by themselves" },
  { path: "cluster.plan_interval", type: { t: "duration", minMs: 100, maxMs: DAY_MS }, def: "5s", help: "how often the cluster's planner compares placement with the desired one" },
  { path: "ingest.influx.id_tag", type: { t: "string", nonEmpty: true, re: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, reText: "a tag name: letters, digits, '_', '.', '-'" }, def: "id", help: "router: the Influx line-protocol tag that names the device (the other tags are kept as string fields)" },
  { path: "read.consistency", type: { t: "enum", values: ["one", "quorum", "all"] }, def: "one", help: "router reads: one replica, a majority (merged, read repair), or all" },
  { path: "coordinator.total_groups", type: { t: "int", min: 1, max: LIMITS.totalGroupsMax }, def: 256, help: "number of groups (fixed for a data dir)" },
  { path: "etcd.endpoints", type: { t: "list" }, def: [], help: "etcd URLs; empty = embedded metadata" },
  { path: "queue.type", type: { t: "enum", values: ["direct", "nats"] }, def: "direct", help: "write fan-out transport" },
  { path: "queue.url", type: { t: "string" }, def: "", help: "nats://host:port when queue.type is nats" },
  { path: "etcd.tls.ca_file", type: { t: "string" }, def: "", help: "PEM CA that signed etcd's certificate (https:// endpoints)" },
  { path: "etcd.tls.cert_file", type: { t: "string" }, def: "", help: "PEM client certificate for etcd (with etcd.tls.key_file)" },
  { path: "etcd.tls.key_file", type: { t: "string" }, def: "", help: "PEM client key for etcd" },
  { path: "queue.tls.ca_file", type: { t: "string" }, def: "", help: "PEM CA that signed nats-server's certificate (enables TLS)" },
  { path: "queue.tls.cert_file", type: { t: "string" }, def: "", help: "PEM client certificate for NATS (with queue.tls.key_file)" },
  { path: "queue.tls.key_file", type: { t: "string" }, def: "", help: "PEM client key for NATS" },
  { path: "tls.ca_file", type: { t: "string" }, def: "", help: "PEM CA trusted when calling nodes over HTTPS (default: system roots)" },
  { path: "auth.token_file", type: { t: "string" }, def: "", help: "bearer token file: every storage, sync, admin and router call must carry it" },
  { path: "log.level", type: { t: "enum", values: ["debug", "info", "warn", "error"] }, def: "info", help: "log verbosity" },
];

const SPEC_BY_PATH = new Map(CONFIG_KEYS.map((k) => [k.path, k]));

export interface NodeConfig {
  node: { id: string; address: string };
  server: { host: string; port: number; /** gRPC port (0 = any free port); undefined = off. */ grpcPort: number | undefined; tls: { certFile: string; keyFile: string }; requestsPerSecPerPeer: number; requestDeadlineMs: number };
  storage: {
    dataDir: string;
    memoryBytesMax: number;
    /** The shares of memoryBytesMax (explicit memstore / segment cache settings in place of theirs). */
    memory: MemoryBudget;
    workerThreads: number;
    /** storage.retention (0 = forever). */
    retentionMs: number;
    /** storage.tombstone_purge_delay. */
    tombstonePurgeDelayMs: number;
    sync: {
      enabled: boolean;
      startupSync: boolean;
      startupTimeoutMs: number;
      syncBatchSize: number;
      maxConcurrentSyncs: number;
      antiEntropy: {
        enabled: boolean;
        intervalMs: number;
        batchSize: number;
        fanout: number;
        leafPointsMax: number;
        horizonDays: number;
        settleMs: number;
        fullResyncPercent: number;
        reverifyEveryRuns: number;
        bytesPerSecMax: number;
        sketch: boolean;
        sketchSymbols: number;
      };
    };
  };
  replication: { factor: number; strategy: "sync" | "async"; minReplicasForWrite: number; hintWindowMs: number; hintBufferBytes: number };
  read: { consistency: "one" | "quorum" | "all" };
  ingest: { influxIdTag: string };
  cluster: { maxConcurrentMoves: number; moveBytesPerSec: number; deadNodeTimeoutMs: number; autoReplace: boolean; planIntervalMs: number };
  coordinator: { totalGroups: number };
  etcd: { endpoints: string[]; tls: TlsFiles };
  queue: { type: "direct" | "nats"; url: string; tls: TlsFiles };
  /** Trust for HTTPS calls to nodes. */
  tls: { caFile: string };
  auth: { tokenFile: string };
  log: { level: "debug" | "info" | "warn" | "error" };
  /** Keys given by the file, the environment or a flag (not defaults): e.g. node.id must be given in a cluster. */
  given: ReadonlySet<string>;
}

/** PEM files for a TLS client ("" = not set). */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The memory budget's shares, with explicit settings in place of theirs; refuses settings that do not fit. */
function resolveMemory(totalBytes: number, memstoreBytes: number, segmentCacheBytes: number): MemoryBudget {
  const b = memoryBudget(totalBytes);
  const MIN = 1024 * 1024;
  for (const [key, v] of [["storage.memstore_bytes_max", memstoreBytes], ["storage.segment_cache_bytes_max", segmentCacheBytes]] as const) {
    if (v !== 0 && v < MIN) throw configError(`${key} = ${v}: must be 0 (a share of storage.memory_bytes_max) or at least ${MIN} (1 MiB)`);
  }
  if (memstoreBytes !== 0) b.memstoreBytes = memstoreBytes;
  if (segmentCacheBytes !== 0) b.segmentCacheBytes = segmentCacheBytes;
  const used = budgetUsed(b);
  if (used > MEMORY_ASSIGNABLE_FRACTION * totalBytes) {
    throw configError(
      `storage.memory_bytes_max = ${totalBytes}: too small for the memory store (2 × ${b.memstoreBytes}) and caches (${b.segmentCacheBytes + b.treeCacheBytes + b.summaryCacheBytes}) = ${used} bytes; they may take at most ${MEMORY_ASSIGNABLE_FRACTION * 100} % of it — raise it or lower storage.memstore_bytes_max / storage.segment_cache_bytes_max`,
    );
  }
  return b;
}

function configError(message: string): SoltixError {
  return new SoltixError("invalid_argument", `config: ${message}`);
}

export function envName(path: string): string {
  return `SOLTIX_${path.replace(/\./g, "_").toUpperCase()}`;
}

/** Coerces a raw value (YAML value, or string from env/flags) to the key's type, with range checks. */
function coerce(spec: KeySpec, raw: unknown, source: string): Value {
  const where = `${spec.path} (from ${source})`;
  const shown = JSON.stringify(raw);
  const ty = spec.type;
  switch (ty.t) {
    case "string": {
      if (typeof raw !== "string" && typeof raw !== "number") throw configError(`${where} = ${shown}: must be a string`);
      const s = String(raw);
      if (ty.nonEmpty === true && s === "") throw configError(`${where}: must not be empty`);
      if (ty.re !== undefined && s !== "" && !ty.re.test(s)) throw configError(`${where} = ${shown}: must be ${ty.reText ?? ty.re.source}`);
      return s;
    }
    case "int": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (!Number.isSafeInteger(n)) throw configError(`${where} = ${shown}: must be an integer in [${ty.min}, ${ty.max}]`);
      if (n < ty.min || n > ty.max) throw configError(`${where} = ${n}: out of range [${ty.min}, ${ty.max}]`);
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw configError(`${where} = ${shown}: must be true or false`);
    }
    case "duration": {
      const ms = typeof raw === "string" ? parseDurationMs(raw) : undefined;
      if (ms === undefined) throw configError(`${where} = ${shown}: must be a duration like 500ms, 30s, 5m, 1h, 7d`);
      if (ms < ty.minMs || ms > ty.maxMs) throw configError(`${where} = ${shown}: out of range [${ty.minMs} ms, ${ty.maxMs} ms]`);
      return raw as string;
    }
    case "enum": {
      if (typeof raw !== "string" || !ty.values.includes(raw)) throw configError(`${where} = ${shown}: must be one of ${ty.values.join(", ")}`);
      return raw;
    }
    case "list": {
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return raw as string[];
      if (typeof raw === "string") return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      throw configError(`${where} = ${shown}: must be a list of strings`);
    }
  }
}

/** Flattens a parsed YAML document into path → value, rejecting unknown keys. */
function flattenYaml(doc: unknown, file: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (obj: unknown, prefix: string): void => {
    if (obj === null || obj === undefined) return;
    if (typeof obj !== "object" || Array.isArray(obj)) throw configError(`${file}: ${prefix || "document"} must be a mapping`);
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      const path = prefix === "" ? k : `${prefix}.${k}`;
      if (SPEC_BY_PATH.has(path)) out.set(path, v);
      else if (CONFIG_KEYS.some((s) => s.path.startsWith(`${path}.`))) walk(v, path);
      else throw configError(`${file}: unknown key ${path}`);
    }
  };
  walk(doc, "");
  return out;
}

export interface ConfigSources {
  /** Parsed YAML document (already read and parsed), and its file name for messages. */
  yaml?: { doc: unknown; file: string };
  env?: Record<string, string | undefined>;
  /** --key.path value pairs. */
  flags?: Map<string, string>;
  /** Role-specific defaults (e.g. the router's port), applied before the file. */
  defaults?: Map<string, string>;
}

export function loadConfig(src: ConfigSources): NodeConfig {
  const values = new Map<string, Value>();
  const given = new Set<string>();
  for (const spec of CONFIG_KEYS) values.set(spec.path, spec.def);
  for (const [path, raw] of src.defaults ?? []) values.set(path, coerce(SPEC_BY_PATH.get(path)!, raw, "role default"));
  if (src.yaml !== undefined) {
    for (const [path, raw] of flattenYaml(src.yaml.doc, src.yaml.file)) {
      values.set(path, coerce(SPEC_BY_PATH.get(path)!, raw, src.yaml.file));
      given.add(path);
    }
  }
  for (const spec of CONFIG_KEYS) {
    const v = src.env?.[envName(spec.path)];
    if (v !== undefined) {
      values.set(spec.path, coerce(spec, v, envName(spec.path)));
      given.add(spec.path);
    }
  }
  for (const [path, raw] of src.flags ?? []) {
    const spec = SPEC_BY_PATH.get(path);
    if (spec === undefined) throw configError(`unknown flag --${path}`);
    values.set(path, coerce(spec, raw, `--${path}`));
    given.add(path);
  }
  const s = (p: string) => values.get(p) as string;
  const n = (p: string) => values.get(p) as number;
  const b = (p: string) => values.get(p) as boolean;
  const tlsFiles = (prefix: string): TlsFiles => ({ caFile: s(`${prefix}.ca_file`), certFile: s(`${prefix}.cert_file`), keyFile: s(`${prefix}.key_file`) });
  const d = (p: string) => parseDurationMs(values.get(p) as string)!;
  const cfg: NodeConfig = {
    node: { id: s("node.id"), address: s("node.address") },
    server: {
      host: s("server.host"),
      port: n("server.port"),
      grpcPort: grpcPortOf(s("server.grpc_port"), n("server.port")),
      tls: { certFile: s("server.tls.cert_file"), keyFile: s("server.tls.key_file") },
      requestsPerSecPerPeer: n("server.requests_per_sec_per_peer"),
      requestDeadlineMs: d("server.request_deadline"),
    },
    storage: {
      dataDir: s("storage.data_dir"),
      memoryBytesMax: n("storage.memory_bytes_max"),
      memory: resolveMemory(n("storage.memory_bytes_max"), n("storage.memstore_bytes_max"), n("storage.segment_cache_bytes_max")),
      workerThreads: n("storage.worker_threads"),
      retentionMs: d("storage.retention"),
      tombstonePurgeDelayMs: d("storage.tombstone_purge_delay"),
      sync: {
        enabled: b("storage.sync.enabled"),
        startupSync: b("storage.sync.startup_sync"),
        startupTimeoutMs: d("storage.sync.startup_timeout"),
        syncBatchSize: n("storage.sync.sync_batch_size"),
        maxConcurrentSyncs: n("storage.sync.max_concurrent_syncs"),
        antiEntropy: {
          enabled: b("storage.sync.anti_entropy.enabled"),
          intervalMs: d("storage.sync.anti_entropy.interval"),
          batchSize: n("storage.sync.anti_entropy.batch_size"),
          fanout: n("storage.sync.anti_entropy.fanout"),
          leafPointsMax: n("storage.sync.anti_entropy.leaf_points_max"),
          horizonDays: n("storage.sync.anti_entropy.horizon_days"),
          settleMs: d("storage.sync.anti_entropy.settle"),
          fullResyncPercent: n("storage.sync.anti_entropy.full_resync_percent"),
          reverifyEveryRuns: n("storage.sync.anti_entropy.reverify_every_runs"),
          bytesPerSecMax: n("storage.sync.anti_entropy.max_bytes_per_sec"),
          sketch: b("storage.sync.anti_entropy.sketch"),
          sketchSymbols: n("storage.sync.anti_entropy.sketch_symbols"),
        },
      },
    },
    replication: {
      factor: n("replication.factor"),
      strategy: s("replication.strategy") as "sync" | "async",
      minReplicasForWrite: n("replication.min_replicas_for_write"),
      hintWindowMs: d("replication.hint_window"),
      hintBufferBytes: n("replication.hint_buffer_bytes"),
    },
    read: { consistency: s("read.consistency") as NodeConfig["read"]["consistency"] },
    ingest: { influxIdTag: s("ingest.influx.id_tag") },
    cluster: {
      maxConcurrentMoves: n("cluster.max_concurrent_moves"),
      moveBytesPerSec: n("cluster.move_bytes_per_sec"),
      deadNodeTimeoutMs: d("cluster.dead_node_timeout"),
      autoReplace: b("cluster.auto_replace"),
      planIntervalMs: d("cluster.plan_interval"),
    },
    coordinator: { totalGroups: n("coordinator.total_groups") },
    etcd: { endpoints: values.get("etcd.endpoints") as string[], tls: tlsFiles("etcd.tls") },
    queue: { type: s("queue.type") as "direct" | "nats", url: s("queue.url"), tls: tlsFiles("queue.tls") },
    tls: { caFile: s("tls.ca_file") },
    auth: { tokenFile: s("auth.token_file") },
    log: { level: s("log.level") as NodeConfig["log"]["level"] },
    given,
  };
  if (cfg.replication.minReplicasForWrite > cfg.replication.factor) {
    throw configError(
      `replication.min_replicas_for_write = ${cfg.replication.minReplicasForWrite}: must be at most replication.factor (${cfg.replication.factor})`,
    );
  }
  if (cfg.storage.tombstonePurgeDelayMs < cfg.replication.hintWindowMs) {
    throw configError(
      `storage.tombstone_purge_delay = ${values.get("storage.tombstone_purge_delay")}: must be at least replication.hint_window (${values.get("replication.hint_window")}): a write stamped before a delete may be delivered that late (a hint, a down node's queue), and must still meet its tombstone`,
    );
  }
  if (cfg.queue.type === "nats" && cfg.queue.url === "") throw configError("queue.url must be set when queue.type is nats");
  for (const [prefix, cert, key] of [
    ["server.tls", cfg.server.tls.certFile, cfg.server.tls.keyFile],
    ["etcd.tls", cfg.etcd.tls.certFile, cfg.etcd.tls.keyFile],
    ["queue.tls", cfg.queue.tls.certFile, cfg.queue.tls.keyFile],
  ] as const) {
    if ((cert === "") !== (key === "")) throw configError(`${prefix}.cert_file and ${prefix}.key_file must be set together`);
  }
  const f = cfg.storage.sync.antiEntropy.fanout;
  if ((f & (f - 1)) !== 0) throw configError(`storage.sync.anti_entropy.fanout = ${f}: must be a power of two (2, 4, 8, 16, 32, 64)`);
  // On port 0 the port is known only once the server listens: launchNode registers host:port then.
  if (cfg.node.address === "" && cfg.server.port !== 0) cfg.node.address = `${cfg.server.host}:${cfg.server.port}`;
  return cfg;
}

/** server.grpc_port: auto = server.port + GRPC_PORT_OFFSET (0 with server.port 0), off = undefined. */
function grpcPortOf(text: string, port: number): number | undefined {
  if (text === "off") return undefined;
  if (text === "auto") {
    if (port === 0) return 0;
    if (port + GRPC_PORT_OFFSET > 65535) throw configError(`server.grpc_port = auto: server.port ${port} + ${GRPC_PORT_OFFSET} is past 65535 (set server.grpc_port to a port, or off)`);
    return port + GRPC_PORT_OFFSET;
  }
  const p = Number(text);
  if (p > 65535) throw configError(`server.grpc_port = ${text}: must be auto, off or a port from 0 to 65535`);
  if (p !== 0 && p === port) throw configError(`server.grpc_port = ${text}: must differ from server.port (gRPC needs its own HTTP/2 port)`);
  return p;
}

/** server.grpc_port auto: the gRPC port is the HTTP port plus this (nodes on 7001, 7002, … get 8001, 8002, …; a router on 8080 gets 9080). */
export const GRPC_PORT_OFFSET = 1000;

/**
 * Lines for --help: flag, env name, default, help — every key, or a role's (`skip`: prefixes of keys
 * the role does not use; `defaults`: the role's own defaults, e.g. the router's port).
 */
export function configHelp(role: { skip?: readonly string[]; defaults?: ReadonlyMap<string, string> } = {}): string {
  return CONFIG_KEYS.filter((k) => !(role.skip ?? []).some((p) => k.path === p || k.path.startsWith(p)))
    .map((k) => `  --${k.path.padEnd(38)} ${envName(k.path).padEnd(42)} default ${JSON.stringify(roleDefault(k, role.defaults?.get(k.path)))}  ${k.help}`)
    .join("\n");
}

function roleDefault(k: KeySpec, text: string | undefined): Value {
  if (text === undefined) return k.def;
  return k.type.t === "int" ? Number(text) : text;
}

/** SOLTIX_* variables that are not config keys but are read by the CLI, the demo script or the test and benchmark harness. */
export const TOOL_ENV: ReadonlySet<string> = new Set(["SOLTIX_SERVER", "SOLTIX_DEMO_PORT", "SOLTIX_BIN_CMD"]);
const TOOL_ENV_PREFIX = "SOLTIX_BENCH_";

/**
 * One warning per SOLTIX_* variable in `env` that nothing reads (a typo would otherwise be silently
 * ignored), naming the closest known variable when one is near.
 */
export function unknownEnvWarnings(env: Record<string, string | undefined>): string[] {
  const known = [...CONFIG_KEYS.map((k) => envName(k.path)), ...TOOL_ENV];
  const out: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith("SOLTIX_") || known.includes(name) || name.startsWith(TOOL_ENV_PREFIX)) continue;
    let best = "";
    let bestDistance = Infinity;
    for (const k of known) {
      const d = editDistance(name, k);
      if (d < bestDistance) [best, bestDistance] = [k, d];
    }
    out.push(`${name} is not a soltix setting and is ignored${bestDistance <= 3 ? `; did you mean ${best}?` : " (settings: soltix node --help)"}`);
  }
  return out;
}

/** Levenshtein distance (short names: the plain table is enough). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}
