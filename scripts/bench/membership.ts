// Group moves, node to node, against a plain copy of the same data in the same run.
//
// Nodes are the binary's composition (launchNode) in this process, on real sockets and real files
// (fsync), each with its Bun worker pool for the codec tasks as in the binary, sharing an embedded
// metadata store. Every node shares this machine's cores: cpu_cores_busy says how many were used. Every run writes new, unique points
// (--devices devices × --days days × --per-day points each, 10 float fields) to the nodes that hold
// the groups, flushed to segments; then:
//   copy     — the baseline: every window of every group the joiner will take, pulled whole by
//              StreamPoints (sync/pull-stream.ts over binary pages) into a fresh engine, flushed.
//   move ×1  — a new node joins with cluster.max_concurrent_moves 1: wall time until placement is
//              the desired one (fill, verify with every replica, promote, the leaver's drop).
//   move ×N  — the same with N = --streams concurrent moves, on new data.
//   partial  — a window the joiner already holds 80 % of: bytes its fill receives vs the window's
//              full stream.
//   grow     — 3 → 4 nodes at replication factor 3 with --grow-days (30) days on every node: wall
//              time until the 4th holds its share and the others dropped what they gave up.
// A move's fill gets each window it lacks as one segment file (SyncService.FetchWindow), so the wire
// carries compressed columns, not points; the copy baseline streams points as a plain resync does.
// MB/s counts canonical point bytes (the encodings the nodes store); every point the moved groups
// held is read back on the joiner (its window point counts must equal the source's). Before a move
// the sources' window summaries are computed, as anti-entropy leaves them in a running cluster
// (source_summaries_seconds: what a source's first comparison of freshly loaded windows costs).
//
//   node_modules/.bin/bun scripts/bench/membership.ts [--devices 200] [--days 7] [--per-day 48] [--streams 4] [--grow-days 30]
//     [--runs copy,move1,moven,partial,grow]

import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { httpPeerNet } from "../../src/adapters/peer-net.ts";
import { systemRng } from "../../src/adapters/system-rng.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
import { Engine, type StoredPoint } from "../../src/engine/engine.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { pullStream } from "../../src/sync/pull-stream.ts";
import { pointPagesClient } from "../../src/sync/point-pages.ts";
import { storedFromPoint } from "../../src/rpc/convert.ts";
import { groupNodes } from "../../src/cluster/records.ts";
import { desiredNodes } from "../../src/cluster/planner.ts";
import { shapeFor } from "../../src/merkle/shape.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { tempDir } from "../../test/support/engine.ts";
import { startServedNode, type ServedNode } from "../../test/support/served-node.ts";
import { round } from "./common.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const DEVICES = Number(arg("devices", "200"));
const DAYS = Number(arg("days", "7"));
const PER_DAY = Number(arg("per-day", "48"));
const STREAMS = Number(arg("streams", "4"));
const GROW_DAYS = Number(arg("grow-days", "30"));
const GROUPS = 32;
const WORKERS = { workers: true };
const DAY0 = 20_250n * NS_PER_DAY;

const tmp = tempDir("bench-membership");
const closers: Array<() => Promise<void>> = [];

/** Writes new unique points of database `db` to every node given, flushed; returns canonical bytes per group. */
async function load(db: string, nodes: ServedNode[], days = DAYS): Promise<Map<number, { bytes: number; points: number }>> {
  const per = new Map<number, { bytes: number; points: number }>();
  for (let day = 0; day < days; day++) {
    const batch: StoredPoint[] = [];
    for (let d = 0; d < DEVICES; d++) {
      for (let k = 0; k < PER_DAY; k++) {
        const fields: Array<[string, { kind: "number"; value: number }]> = [];
        for (let f = 0; f < 10; f++) fields.push([`f${f}`, { kind: "number", value: Math.round(((d * 7 + k * 13 + f) % 1000) * 10 + day) / 10 }]);
        const s = storedFromPoint({ database: db, collection: "m", id: `dev-${d}`, timeNs: DAY0 + BigInt(day) * NS_PER_DAY + BigInt(k) * 1800n * NS_PER_SECOND + BigInt(d), insertedAtNs: 1n, fields }, GROUPS);
        batch.push(s);
        const g = per.get(s.group) ?? { bytes: 0, points: 0 };
        g.bytes += s.enc.length;
        g.points++;
        per.set(s.group, g);
      }
    }
    for (const n of nodes) for (let i = 0; i < batch.length; i += 10_000) await n.node.engine.write(batch.slice(i, i + 10_000));
  }
  for (const n of nodes) await n.node.engine.flush();
  return per;
}

/**
 * Every window's Merkle summary computed on the nodes given, as a running cluster's anti-entropy
 * passes leave them (the bench loads its days in minutes; a source's first comparison of a window
 * summarises it). Returns the seconds it took (reported apart from the move).
 */
async function summarise(nodes: ServedNode[]): Promise<number> {
  const t0 = performance.now();
  for (const n of nodes) {
    const e = n.node.engine;
    const ae = n.node.config.storage.sync.antiEntropy;
    const shape = shapeFor(ae.fanout, ae.leafPointsMax);
    for (const g of e.groups()) for (const w of e.windowsOf(g)) await e.windowRoot(g, w, shape);
  }
  return round((performance.now() - t0) / 1000, 2);
}

/** Every moved group's points counted on the node that took it (must equal what was written); the canonical bytes and points moved. */
async function readBack(label: string, to: ServedNode, moved: number[], per: Map<number, { bytes: number; points: number }>): Promise<{ bytes: number; points: number }> {
  let bytes = 0;
  let points = 0;
  for (const g of moved) {
    bytes += per.get(g)?.bytes ?? 0;
    points += per.get(g)?.points ?? 0;
    let held = 0;
    for (const w of to.node.engine.windowsOf(g)) held += (await to.node.engine.windowChecksum(g, w)).pointCount;
    if (held !== (per.get(g)?.points ?? 0)) throw new Error(`${label}: group ${g} holds ${held} points on ${to.id}, ${per.get(g)?.points} written`);
  }
  return { bytes, points };
}

const FLAGS = (moves: number, factor = 1) => ({ "coordinator.total_groups": String(GROUPS), "replication.factor": String(factor), "cluster.plan_interval": "100ms", "cluster.max_concurrent_moves": String(moves), "storage.sync.startup_sync": "false" });

/** One cluster: a source node holding every group (factor 1), then a joiner; the time until placement settles. */
async function moveRun(label: string, moves: number) {
  const metadata = new MemoryMetadataStore(systemClock);
  const src = await startServedNode(metadata, `${label}-src`, tmp.dir, FLAGS(moves), closers, WORKERS);
  await waitFor(() => src.node.sync.view?.loaded === true);
  const view = src.node.sync.view!;
  for (let g = 0; g < GROUPS; g++) await view.group(g, 1);
  const per = await load(label, [src]);
  const summarySecs = await summarise([src]);
  const dst = await startServedNode(metadata, `${label}-dst`, tmp.dir, FLAGS(moves), closers, WORKERS);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const members = [src.id, dst.id];
  await waitFor(() => view.allGroups().every((g) => g.joining_nodes.length === 0 && groupNodes(g).join() === desiredNodes(g.group_id, members, 1).join()) && src.node.engine.groups().every((g) => groupNodes(view.cachedGroup(g)!).includes(src.id)), 600_000);
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  const moved = view.allGroups().filter((g) => groupNodes(g).includes(dst.id)).map((g) => g.group_id);
  const { bytes, points } = await readBack(label, dst, moved, per);
  const mv = dst.node.sync.mover!.stats;
  await dst.stop();
  await src.stop();
  return { label, max_concurrent_moves: moves, source_summaries_seconds: summarySecs, groups_moved: moved.length, points, canonical_mb: round(bytes / 1e6, 1), seconds: round(secs, 2), mb_per_sec: round(bytes / 1e6 / secs, 1), points_per_sec: Math.round(points / secs), wire_mb_received: round(mv.bytesReceived / 1e6, 1),
    cpu_seconds: cpu, cpu_cores_busy: round(cpu / secs, 2), move_fill_seconds: round(mv.fillMs / 1000, 2), move_verify_seconds: round(mv.verifyMs / 1000, 2) };
}

/**
 * 3 → 4 nodes at replication factor 3 with --grow-days days of --devices devices on every node: the
 * wall time from the 4th node's start until placement is the desired one over 4 nodes and every node
 * gave up the groups it no longer holds (moves at cluster.max_concurrent_moves --streams).
 */
async function growRun() {
  const metadata = new MemoryMetadataStore(systemClock);
  const old: ServedNode[] = [];
  for (const id of ["g1", "g2", "g3"]) old.push(await startServedNode(metadata, id, tmp.dir, FLAGS(STREAMS, 3), closers, WORKERS));
  await waitFor(() => old.every((n) => n.node.sync.view?.loaded === true));
  const view = old[0]!.node.sync.view!;
  for (let g = 0; g < GROUPS; g++) await view.group(g, 3);
  const tl = performance.now();
  const per = await load("grow", old, GROW_DAYS);
  const loadSecs = (performance.now() - tl) / 1000;
  const summarySecs = await summarise(old);
  const j = await startServedNode(metadata, "g4", tmp.dir, FLAGS(STREAMS, 3), closers, WORKERS);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const members = ["g1", "g2", "g3", "g4"];
  const all = [...old, j];
  await waitFor(() => view.allGroups().every((g) => g.joining_nodes.length === 0 && groupNodes(g).slice().sort().join() === desiredNodes(g.group_id, members, 3).slice().sort().join())
    && all.every((n) => n.node.engine.groups().every((g) => groupNodes(view.cachedGroup(g)!).includes(n.id))), 3_600_000);
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  const moved = view.allGroups().filter((g) => groupNodes(g).includes("g4")).map((g) => g.group_id);
  const { bytes, points } = await readBack("grow", j, moved, per);
  const total = [...per.values()].reduce((n, x) => n + x.bytes, 0);
  const mv = j.node.sync.mover!.stats;
  const ae = j.node.sync.antiEntropy!.stats;
  for (const n of all) await n.stop();
  return {
    label: "3 → 4 nodes, factor 3", days: GROW_DAYS, devices: DEVICES, max_concurrent_moves: STREAMS, on_disk_canonical_mb_per_node: round(total / 1e6, 1), load_seconds: round(loadSecs, 1), source_summaries_seconds: summarySecs,
    groups_moved: moved.length, windows_moved: mv.windowsFilled, points, canonical_mb: round(bytes / 1e6, 1), seconds: round(secs, 2), mb_per_sec: round(bytes / 1e6 / secs, 1),
    points_per_sec: Math.round(points / secs), wire_mb_received: round(mv.bytesReceived / 1e6, 1), window_files_installed: ae.windowFilesInstalled,
    cpu_seconds: cpu, cpu_cores_busy: round(cpu / secs, 2),
    // Summed over the moves (they overlap up to max_concurrent_moves at a time).
    move_fill_seconds: round(mv.fillMs / 1000, 2), move_verify_seconds: round(mv.verifyMs / 1000, 2),
  };
}

/** The baseline: the same kind of data, every window of `groups` pulled whole by StreamPoints into a fresh engine. */
async function copyRun() {
  const metadata = new MemoryMetadataStore(systemClock);
  const src = await startServedNode(metadata, "copy-src", tmp.dir, FLAGS(1), closers, WORKERS);
  await waitFor(() => src.node.sync.view?.loaded === true);
  for (let g = 0; g < GROUPS; g++) await src.node.sync.view!.group(g, 1);
  const per = await load("copy", [src]);
  const engine = await Engine.open({ dataDir: `${tmp.dir}/copy-sink`, nodeId: "sink", fs: nodeFileSystem, logger: silentLogger, totalGroups: GROUPS });
  const net = httpPeerNet({}, systemClock, systemRng);
  const address = src.url.replace("http://", "");
  const t0 = performance.now();
  let points = 0;
  for (let g = 0; g < GROUPS; g++) points += await pullStream(pointPagesClient(net, address, systemClock), { groupId: g, startTime: 0n, batchSize: 10_000 }, 600_000, engine, GROUPS, systemClock);
  await engine.flush();
  const secs = (performance.now() - t0) / 1000;
  const bytes = [...per.values()].reduce((n, x) => n + x.bytes, 0);
  const written = [...per.values()].reduce((n, x) => n + x.points, 0);
  if (points !== written) throw new Error(`copy: ${points} points pulled, ${written} written`);
  await engine.close();
  await src.stop();
  return { label: "copy (StreamPoints, whole windows)", groups: GROUPS, points, canonical_mb: round(bytes / 1e6, 1), seconds: round(secs, 2), mb_per_sec: round(bytes / 1e6 / secs, 1), points_per_sec: Math.round(points / secs) };
}

/** A window the joiner holds 80 % of: what its fill receives vs the full window stream. */
async function partialRun() {
  const metadata = new MemoryMetadataStore(systemClock);
  const a = await startServedNode(metadata, "part-a", tmp.dir, { ...FLAGS(1), "cluster.plan_interval": "1h" }, closers, WORKERS);
  const b = await startServedNode(metadata, "part-b", tmp.dir, { ...FLAGS(1), "cluster.plan_interval": "1h" }, closers, WORKERS);
  await waitFor(() => a.node.sync.view?.loaded === true && b.node.sync.view?.loaded === true && b.node.sync.antiEntropy !== undefined);
  await load("partial", [a]);
  const group = a.node.engine.groups()[0]!;
  const w = a.node.engine.windowsOf(group)[0]!;
  // b gets 80 % of the window's points (every fifth left out).
  const pts: StoredPoint[] = [];
  let i = 0;
  for await (const r of a.node.engine.scanWindow(group, w)) if (i++ % 5 !== 0) pts.push({ group, key: r.key, enc: r.enc });
  await b.node.engine.write(pts);
  await b.node.engine.flush();
  const counter = { sent: 0, received: 0 };
  const sink = await Engine.open({ dataDir: `${tmp.dir}/part-sink`, nodeId: "ps", fs: nodeFileSystem, logger: silentLogger, totalGroups: GROUPS });
  const full = await pullStream(pointPagesClient(httpPeerNet({}, systemClock, systemRng), a.url.replace("http://", ""), systemClock, counter), { groupId: group, startTime: w, endTime: w + NS_PER_DAY, batchSize: 10_000 }, 60_000, sink, GROUPS, systemClock);
  await sink.close();
  const recs = await b.node.sync.antiEntropy!.fillFrom(group, "part-a", { bytesPerSecMax: 0, onWindow: () => {} });
  const rec = recs.find((r) => r.windowStartNs === w)!;
  const after = (await b.node.engine.windowChecksum(group, w)).sha256Hex === (await a.node.engine.windowChecksum(group, w)).sha256Hex;
  if (!after) throw new Error("partial: the window differs after the fill");
  await a.stop();
  await b.stop();
  return { window_points: full, joiner_held_share: 0.8, full_stream_bytes_received: counter.received, fill_bytes_received: rec.bytesReceived, fill_path: rec.path, ratio: round(rec.bytesReceived / counter.received, 3) };
}

/** CPU seconds this process (every node, its workers) used since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return round((d.user + d.system) / 1e6, 2);
}

async function waitFor(f: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

// --runs picks some of the runs (to profile one): copy,move1,moven,partial,grow.
const RUNS = new Set(arg("runs", "copy,move1,moven,partial,grow").split(","));
try {
  const copy = RUNS.has("copy") ? await copyRun() : undefined;
  const one = RUNS.has("move1") ? await moveRun("move1", 1) : undefined;
  const many = RUNS.has("moven") ? await moveRun(`move${STREAMS}`, STREAMS) : undefined;
  const partial = RUNS.has("partial") ? await partialRun() : undefined;
  const grow = GROW_DAYS > 0 && RUNS.has("grow") ? await growRun() : undefined;
  const vs = (m: { mb_per_sec: number } | undefined) => (m === undefined || copy === undefined ? undefined : round(m.mb_per_sec / copy.mb_per_sec, 2));
  console.log(JSON.stringify({
    bench: "membership", devices: DEVICES, days: DAYS, per_day: PER_DAY, groups: GROUPS,
    copy, move_one_stream: one, move_concurrent: many,
    move_vs_copy_mb_per_sec: { one_stream: vs(one), concurrent: vs(many) },
    partial_window: partial,
    grow,
  }, null, 2));
} finally {
  for (const c of closers.reverse()) await c().catch(() => {});
  tmp.cleanup();
}
process.exit(0);
