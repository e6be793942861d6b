// Compaction cost as a day fills up: the engine (real files, WAL fsync on every batch) ingests new,
// unique points — 1 000 devices × 10 float fields, one point per device per second, in batches of
// 10 000 — for --seconds of engine time per policy, with a 32 MiB memory store (a quarter of the
// default, so a minute holds as many flushes per window as a few hours on a node). Same data for both policies in the same run:
//   tiered  — today's policy (engine/compaction-policy.ts DEFAULT_COMPACTION)
//   whole   — the rule before it: more than 4 segments in a window → rewrite the whole window
//   tiered+workers — today's policy with encoding and merges on the worker pool (as the binary runs)
// Prints per-10 s throughput, write amplification ((WAL + segment bytes) / canonical bytes ingested),
// points rewritten per point, files per window, disk bytes per point; every point is read back.
//   node_modules/.bin/bun scripts/bench/compaction.ts [--seconds 60] [--memstore-mb 32]

import { readdirSync, statSync } from "node:fs";
import { openEngine, tempDir } from "../../test/support/engine.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { groupOf } from "../../src/model/group.ts";
import { DEFAULT_COMPACTION, type CompactionSettings } from "../../src/engine/compaction-policy.ts";
import { NS_PER_SECOND } from "../../src/base/time.ts";
import { BENCH_DAY, round } from "./common.ts";
import { bunWorkerPool } from "../../src/runtime/bun/workers.ts";
import type { Compute } from "../../src/ports/compute.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg("--seconds", 60);
const MEMSTORE_BYTES = arg("--memstore-mb", 32) * 1024 * 1024;
const DEVICES = 1000;
const BATCH = 10_000;
const GROUPS = 256;
const FIELDS = Array.from({ length: 10 }, (_, i) => `f${i}`);

/** The batch of points number `b`: seconds [b·10, b·10 + 10) of the day for every device — never repeated. */
function makeBatch(b: number): StoredPoint[] {
  const out: StoredPoint[] = new Array(BATCH);
  const perSecond = DEVICES;
  for (let i = 0; i < BATCH; i++) {
    const second = b * (BATCH / perSecond) + Math.floor(i / perSecond);
    const dev = i % perSecond;
    const p = {
      database: "bench", collection: "sensors", id: `dev-${String(dev).padStart(4, "0")}`,
      timeNs: BENCH_DAY + BigInt(second) * NS_PER_SECOND, insertedAtNs: 1_000_000n + BigInt(second),
      fields: FIELDS.map((f, k) => [f, { kind: "number", value: Math.round((20 + Math.sin(second / 600 + dev + k) * 5) * 100) / 100 }] as const),
    };
    out[i] = { ...recordOf(p), group: groupOf(p.database, p.collection, p.id, GROUPS) };
  }
  return out;
}

interface Result {
  policy: string;
  /** Process CPU (all threads, the point generator's included) per wall second. */
  coresUsed: number;
  points: number;
  pointsPerSec: number;
  per10sPointsPerSec: number[];
  lastThirdVsFirst: number;
  writeAmplification: number;
  segmentWritesPerPoint: number;
  rewritesPerPoint: number;
  flushes: number;
  compactions: number;
  filesPerWindowMax: number;
  diskBytesPerPoint: number;
  readBack: number;
}

async function run(policy: string, settings: CompactionSettings, compute?: Compute): Promise<Result> {
  const tmp = tempDir(`bench-compaction-${policy}`);
  const engine = await openEngine(tmp.dir, { totalGroups: GROUPS, memstoreBytesMax: MEMSTORE_BYTES, compaction: settings, ...(compute === undefined ? {} : { compute }) });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const segDir = `${tmp.dir}/segments`;
  const filesPerWindow = () => {
    const counts = new Map<string, number>();
    for (const n of readdirSync(segDir)) if (n.endsWith(".seg")) {
      const w = n.slice(0, n.lastIndexOf("-s"));
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    return Math.max(0, ...counts.values());
  };
  let nextMark = 10_000;
  let marked = 0;
  const per10s: number[] = [];
  let filesMax = 0;
  let b = 0;
  // Engine time only: generating the points (a client's work) is not counted; flushes and
  // compactions run on this thread between the writes' awaits, so they are.
  let engineMs = 0;
  let markEngineMs = 0;
  for (; engineMs < SECONDS * 1000; b++) {
    const batch = makeBatch(b);
    const t = performance.now();
    await engine.write(batch);
    engineMs += performance.now() - t;
    if (engineMs >= nextMark) {
      per10s.push(Math.round(((b + 1 - marked) * BATCH) / ((engineMs - markEngineMs) / 1000)));
      marked = b + 1;
      markEngineMs = engineMs;
      nextMark += 10_000;
      filesMax = Math.max(filesMax, filesPerWindow());
    }
  }
  const t = performance.now();
  await engine.flush();
  engineMs += performance.now() - t;
  filesMax = Math.max(filesMax, filesPerWindow());
  const s = engine.statsSnapshot;
  const cpu = process.cpuUsage(cpu0);
  const coresUsed = round((cpu.user + cpu.system) / 1000 / (performance.now() - wall0), 2);
  const points = b * BATCH;
  let disk = 0;
  for (const n of readdirSync(segDir)) disk += statSync(`${segDir}/${n}`).size;
  // Every acknowledged point read back.
  let readBack = 0;
  for (let g = 0; g < GROUPS; g++) for await (const _ of engine.scanWindow(g, BENCH_DAY)) readBack++;
  await engine.close();
  tmp.cleanup();
  const third = Math.max(1, Math.floor(per10s.length / 3));
  const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
  return {
    policy, coresUsed, points, pointsPerSec: Math.round(points / (engineMs / 1000)), per10sPointsPerSec: per10s,
    lastThirdVsFirst: round(avg(per10s.slice(-third)) / avg(per10s.slice(0, third)), 3),
    writeAmplification: round((s.walBytes + s.segmentBytesWritten) / s.ingestedBytes, 3),
    segmentWritesPerPoint: round(s.segmentBytesWritten / disk, 2),
    rewritesPerPoint: round(s.compactedPoints / points, 2),
    flushes: s.flushes, compactions: s.compactions, filesPerWindowMax: filesMax,
    diskBytesPerPoint: round(disk / points, 1), readBack,
  };
}

// --only tiered | workers: one run (for a profile). Each policy inline (one thread), then tiered on the
// binary's worker pool (one worker on two cores).
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const tiered = only === "workers" ? undefined : await run("tiered", DEFAULT_COMPACTION);
const whole = only !== undefined ? undefined : await run("whole", { ratio: 5, tierBasePoints: Number.MAX_SAFE_INTEGER, segmentsMax: 4 });
const pool = bunWorkerPool(new URL("../../src/worker.ts", import.meta.url), Math.max(1, navigator.hardwareConcurrency - 1));
const tieredWorkers = only === "tiered" ? undefined : await run("tiered+workers", DEFAULT_COMPACTION, pool);
await pool.close();
for (const r of [tiered, whole, tieredWorkers]) if (r !== undefined && r.readBack !== r.points) throw new Error(`${r.policy}: read back ${r.readBack} of ${r.points}`);
console.log(JSON.stringify({
  seconds: SECONDS, memstoreBytes: MEMSTORE_BYTES, tiered, whole, tieredWorkers,
  throughputTieredVsWhole: whole && tiered && round(tiered.pointsPerSec / whole.pointsPerSec, 3),
  throughputWorkersVsInline: tieredWorkers && tiered && round(tieredWorkers.pointsPerSec / tiered.pointsPerSec, 3),
}, null, 2));
