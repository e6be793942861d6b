// Full-window resync and cold reads, as a replacing or restarted node sees them, beside the peers.
//
// Every target is given the same --points unique points (scripts/bench/ingest-points.ts: 1 000
// devices × 10 float fields, one point per device per second, all in one UTC day), stopped cleanly
// (so they are on disk) and started again. In the same run:
//   query   — one device's day, every field (soltix: StorageService.Query in binary; InfluxDB:
//             SELECT *; VictoriaMetrics: /api/v1/export of the device's series), cold — the first
//             query after a start, median over --restarts starts, a different device each time —
//             and warm. soltix runs twice: as configured by default (256 groups: a window holds a few
//             devices) and with one group (one window of every point: the segment to search is big).
//             Every answer must hold the device's points.
//   resync  — a fresh engine in this process (real files, fsync, a Bun worker for segment encoding)
//             pulls the one-group node's window with the node's own code (sync/pull-stream.ts over
//             sync/point-pages.ts: binary pages), then flushes; beside it the Connect-object pull the
//             node used before (protobuf-es on the client). The pulled window's checksum must equal
//             the source's. (The peers have no replica resync to compare with.)
//
//   node_modules/.bin/bun scripts/bench/resync.ts [--points 1000000] [--restarts 5] [--targets soltix,influxdb,victoriametrics]

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
import { NS_PER_DAY, windowStartNs } from "../../src/base/time.ts";
import { GetChecksumRequestSchema, GetChecksumResponseSchema } from "../../src/gen/soltix/v1/sync_pb.ts";
import { tempDir } from "../../test/support/engine.ts";
import { median, round } from "./common.ts";
import { DEVICES, PointStream, selfCheck } from "./ingest-points.ts";
import { startTarget, targetAvailable, type Target, type TargetName } from "./ingest-targets.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const POINTS = Math.ceil(Number(arg("points", "1000000")) / 10_000) * 10_000;
const RESTARTS = Number(arg("restarts", "5"));
const TARGETS = arg("targets", "soltix,influxdb,victoriametrics").split(",").filter((t) => t === "soltix" || targetAvailable(t as TargetName)) as TargetName[];
const BATCH = 10_000;
const SEED = 11;
selfCheck();

// A whole UTC day, 3 days ago (the peers refuse far-future points); POINTS / DEVICES seconds of it.
const base = (BigInt(Date.now()) / 86_400_000n - 3n) * NS_PER_DAY;
const ws = windowStartNs(base);
const dayEnd = ws + NS_PER_DAY;
const perDevice = POINTS / DEVICES;

interface Setup {
  label: string;
  name: TargetName;
  soltixArgs: string[];
}
const setups: Setup[] = TARGETS.flatMap((name): Setup[] =>
  name === "soltix"
    ? [
        { label: "soltix", name, soltixArgs: [] },
        { label: "soltix_one_group", name, soltixArgs: ["--coordinator.total_groups", "1"] },
      ]
    : [{ label: name, name, soltixArgs: [] }],
);

const tmp = tempDir("bench-resync");
const results: Record<string, unknown> = {};
let oneGroup: Target | undefined;
try {
  const query: Record<string, unknown> = {};
  for (const s of setups) {
    const dir = `${tmp.dir}/${s.label}`;
    let t = await startTarget(s.name, dir, s.soltixArgs);
    const stream = new PointStream(base, SEED);
    const w0 = performance.now();
    for (let i = 0; i < POINTS / BATCH; i++) await t.write(stream.batch(BATCH));
    const writeS = (performance.now() - w0) / 1000;
    await t.flushAndStop();
    const cold: number[] = [];
    const warm: number[] = [];
    for (let r = 0; r < RESTARTS; r++) {
      t = await startTarget(s.name, dir, s.soltixArgs);
      const d = (r * 37) % DEVICES;
      const t0 = performance.now();
      const n = await t.queryDevice(d, ws, dayEnd);
      cold.push(performance.now() - t0);
      if (n !== perDevice) throw new Error(`${s.label}: device-${d} returned ${n} points, ${perDevice} written`);
      for (let k = 0; k < 5; k++) {
        const t1 = performance.now();
        await t.queryDevice(d, ws, dayEnd);
        warm.push(performance.now() - t1);
      }
      if (s.label === "soltix_one_group" && r === RESTARTS - 1) oneGroup = t;
      else await t.flushAndStop();
    }
    query[s.label] = { write_points_per_sec: Math.round(POINTS / writeS), cold_ms_median: round(median(cold), 2), cold_ms: cold.map((x) => round(x, 1)), warm_ms_median: round(median(warm), 2) };
    console.error(`${s.label}: one device's day cold ${round(median(cold), 1)} ms, warm ${round(median(warm), 1)} ms`);
  }
  results.query_one_device_day = { points_per_device: perDevice, fields: 10, ...query, goal_cold_ms: 20 };

  // Resync: each path pulls the one-group node's whole window into a fresh engine, then flushes it.
  if (oneGroup !== undefined) {
    const a = oneGroup;
    const address = a.url.replace(/^http:\/\//, "");
    const sum = fromBinary(GetChecksumResponseSchema, new Uint8Array(await (await fetch(`${a.url}/soltix.v1.SyncService/GetChecksum`, { method: "POST", headers: { "content-type": "application/proto" }, body: toBinary(GetChecksumRequestSchema, create(GetChecksumRequestSchema, { groupId: 0, windowStart: ws })) })).arrayBuffer()));
    const want = `${sum.pointCount}:${sum.sha256}`;
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
          ? await pullWithConnect(syncClient(net, address), request, engine)
          : await pullStream(pointPagesClient(net, address, systemClock), request, 600_000, engine, 1, systemClock);
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
    results.resync_binary_vs_connect = round(b.points_per_sec / c.points_per_sec, 2);
    results.goal_resync_points_per_sec = 1_000_000;
  }
  console.log(JSON.stringify({ bench: "resync", points: POINTS, devices: DEVICES, ...results }, null, 2));
} finally {
  await oneGroup?.kill().catch(() => {});
  tmp.cleanup();
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
