// Full-window resync and cold reads, as a replacing or restarted node sees them.
//
// Node A (the compiled binary, one group so the window is one (group, day)) is given --points unique
// points (scripts/bench/ingest-points.ts: 1 000 devices × 10 float fields), stopped cleanly (so they
// are in segments) and started again. Then, in the same run:
//   resync  — a fresh engine in this process (real files, fsync, a Bun worker for segment encoding)
//             pulls the whole window from A with the node's own code (sync/pull-stream.ts over a
//             sync/peers.ts client): StreamPoints → validate → WAL → memory store, then a flush. Each
//             path the node has is measured (`connect`: protobuf-es messages on both sides; `binary`:
//             the StreamPoints fast path and the raw stream client); the pulled window's checksum
//             must equal A's.
//   query   — one device's day (StorageService.Query, binary), cold: the first query after A starts
//             (median over restarts), beside the same query warm.
//
//   node_modules/.bin/bun scripts/bench/resync.ts [--points 1000000] [--restarts 5]

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Engine } from "../../src/engine/engine.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
import { httpPeerNet } from "../../src/adapters/peer-net.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemRng } from "../../src/adapters/system-rng.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { bunWorkerPool } from "../../src/runtime/bun/workers.ts";
import { pullStream } from "../../src/sync/pull-stream.ts";
import { pointPagesClient } from "../../src/sync/point-pages.ts";
import { syncClient } from "../../src/sync/peers.ts";
import { pointFromProto, storedFromPoint } from "../../src/rpc/convert.ts";
import { windowStartNs } from "../../src/base/time.ts";
import { GetChecksumRequestSchema, GetChecksumResponseSchema } from "../../src/gen/soltix/v1/sync_pb.ts";
import { QueryRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { startBinary, type RunningBinary } from "../../test/support/binary.ts";
import { tempDir } from "../../test/support/engine.ts";
import { median, round } from "./common.ts";
import { COLLECTION, DATABASE, DEVICES, PointStream, selfCheck } from "./ingest-points.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const POINTS = Math.ceil(arg("points", 1_000_000) / 10_000) * 10_000;
const RESTARTS = arg("restarts", 5);
const BATCH = 10_000;
selfCheck();

const tmp = tempDir("bench-resync");
const nodeArgs = ["node", "--storage.data_dir", `${tmp.dir}/a`, "--server.host", "127.0.0.1", "--server.port", "0", "--coordinator.total_groups", "1", "--log.level", "warn"];
const address = (n: RunningBinary) => `127.0.0.1:${n.port}`;

async function post(url: string, body: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/proto" }, body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${new TextDecoder().decode(bytes).slice(0, 300)}`);
  return bytes;
}

async function checksumOf(n: RunningBinary, ws: bigint): Promise<string> {
  const r = fromBinary(GetChecksumResponseSchema, await post(`${n.url}/soltix.v1.SyncService/GetChecksum`, toBinary(GetChecksumRequestSchema, create(GetChecksumRequestSchema, { groupId: 0, windowStart: ws }))));
  return `${r.pointCount}:${r.sha256}`;
}

/**
 * The node's pull before the binary stream (kept here as the comparison): a Connect client decodes
 * each page into protobuf-es messages, each point is converted, validated and encoded.
 */
async function pullWithConnect(client: ReturnType<typeof syncClient>, request: { groupId: number; startTime: bigint; endTime: bigint; batchSize: number }, engine: Engine): Promise<number> {
  let n = 0;
  for await (const msg of client.streamPoints(request, { timeoutMs: 600_000 })) {
    await engine.write(msg.points.map((p) => storedFromPoint(pointFromProto(`points[${n++}]`, p, () => systemClock.nowNs()), 1)));
  }
  return n;
}

const base = (BigInt(Date.now()) / 86_400_000n - 3n) * 86_400_000_000_000n; // a whole day, 3 days ago
const stream = new PointStream(base, 11);
let a = await startBinary(nodeArgs);
const results: Record<string, unknown> = {};
try {
  const w0 = performance.now();
  for (let i = 0; i < POINTS / BATCH; i++) await post(`${a.url}/soltix.v1.StorageService/Write`, stream.batch(BATCH).proto());
  const writeS = (performance.now() - w0) / 1000;
  if ((await a.stop()) !== 0) throw new Error(`node A exited uncleanly: ${a.stderr().slice(-500)}`);
  const ws = windowStartNs(base);
  const dayEnd = ws + 86_400_000_000_000n;

  // Cold query: the first query of one device's day after a start, then the same query warm.
  const queryBody = (d: number) => toBinary(QueryRequestSchema, create(QueryRequestSchema, { database: DATABASE, collection: COLLECTION, ids: [`device-${d}`], startTime: ws, endTime: dayEnd, limit: 10_000 }));
  const cold: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < RESTARTS; r++) {
    a = await startBinary(nodeArgs);
    const d = (r * 37) % DEVICES;
    const t0 = performance.now();
    const bytes = await post(`${a.url}/soltix.v1.StorageService/Query`, queryBody(d));
    cold.push(performance.now() - t0);
    if (bytes.length < (POINTS / DEVICES) * 100) throw new Error(`query of device-${d} returned ${bytes.length} bytes: too few points`);
    for (let k = 0; k < 5; k++) {
      const t1 = performance.now();
      await post(`${a.url}/soltix.v1.StorageService/Query`, queryBody(d));
      warm.push(performance.now() - t1);
    }
    if (r < RESTARTS - 1 && (await a.stop()) !== 0) throw new Error("node A exited uncleanly");
  }
  results.query_one_device_day = { points: POINTS / DEVICES, cold_ms_median: round(median(cold), 2), cold_ms: cold.map((x) => round(x, 1)), warm_ms_median: round(median(warm), 2), goal_cold_ms: 20 };

  // Resync: each path pulls the whole window into a fresh engine, then flushes it to segments.
  const want = await checksumOf(a, ws);
  const compute = bunWorkerPool(new URL("../../src/worker.ts", import.meta.url), 1);
  const net = httpPeerNet({}, systemClock, systemRng);
  for (const path of ["connect", "binary"] as const) {
    const dir = tempDir(`bench-resync-${path}`);
    const engine = await Engine.open({ dataDir: dir.dir, fs: nodeFileSystem, logger: silentLogger, totalGroups: 1, compute });
    try {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const request = { groupId: 0, startTime: ws, endTime: dayEnd, batchSize: 10_000 };
      const n = path === "connect"
        ? await pullWithConnect(syncClient(net, address(a), systemClock), request, engine)
        : await pullStream(pointPagesClient(net, address(a), systemClock), request, 600_000, engine, 1, systemClock);
      const pulledMs = performance.now() - t0;
      await engine.flush();
      const totalMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const got = await engine.windowChecksum(0, ws);
      const same = `${got.pointCount}:${got.sha256Hex}` === want;
      if (!same || n !== POINTS) throw new Error(`${path}: pulled ${n} points, checksum ${same ? "equal" : "differs"}`);
      results[`resync_${path}`] = {
        points: n,
        points_per_sec: Math.round(n / (pulledMs / 1000)),
        points_per_sec_incl_flush: Math.round(n / (totalMs / 1000)),
        puller_cores: round((cpu.user + cpu.system) / 1000 / totalMs, 2),
        checksum_equal: same,
      };
    } finally {
      await engine.close();
      dir.cleanup();
    }
  }
  await compute.close();
  const c = results.resync_connect as { points_per_sec: number };
  const b = results.resync_binary as { points_per_sec: number };
  results.binary_vs_connect = round(b.points_per_sec / c.points_per_sec, 2);
  results.goal_resync_points_per_sec = 1_000_000;
  console.log(JSON.stringify({ bench: "resync", points: POINTS, write_points_per_sec: Math.round(POINTS / writeS), ...results }, null, 2));
} finally {
  await a.kill9().catch(() => {});
  tmp.cleanup();
}
