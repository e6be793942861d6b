// GetChecksum over a 1 000 000-point day window vs raw node:crypto SHA-256 over the same canonical
// bytes, in the same run. Cases: a compacted window read cold from disk (file read + full SHA-256
// verification), the same window cached, and a window split across segments and memory (LWW merge).
//   node_modules/.bin/bun scripts/bench/checksum.ts [--points 1000000]

import { createHash } from "node:crypto";
import { openEngine, tempDir } from "../../test/support/engine.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { groupOf } from "../../src/model/group.ts";
import { median, round, BENCH_DAY } from "./common.ts";

const argPoints = process.argv.indexOf("--points");
const N = argPoints > 0 ? Number(process.argv[argPoints + 1]) : 1_000_000;
const GROUPS = 1; // every device in one group: one window holds all N points
const DEVICES = 100;

function makePoints(): StoredPoint[] {
  const out: StoredPoint[] = new Array(N);
  const perDevice = Math.ceil(N / DEVICES);
  const stepNs = 86_400_000_000_000n / BigInt(perDevice);
  for (let i = 0; i < N; i++) {
    const id = `device-${String(i % DEVICES).padStart(3, "0")}`;
    const p = {
      database: "bench",
      collection: "metrics",
      id,
      timeNs: BENCH_DAY + BigInt(Math.floor(i / DEVICES)) * stepNs,
      insertedAtNs: 1_000_000n + BigInt(i),
      fields: [["temp", { kind: "number", value: i * 0.25 }], ["hum", { kind: "number", value: (i % 100) / 3 }], ["status", { kind: "int", value: BigInt(i % 7) }]] as const,
    };
    out[i] = { ...recordOf(p), group: groupOf(p.database, p.collection, p.id, GROUPS) };
  }
  return out;
}

function time(fn: () => unknown, reps: number): number {
  const xs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

async function timeAsync(fn: () => Promise<unknown>, reps: number): Promise<number> {
  const xs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

const tmp = tempDir("bench-checksum");
const points = makePoints();
const sorted = [...points].sort((a, b) => (a.key < b.key ? -1 : 1));
let bytes = 0;
for (const p of sorted) bytes += p.enc.length;
const canonical = new Uint8Array(bytes);
let at = 0;
for (const p of sorted) {
  canonical.set(p.enc, at);
  at += p.enc.length;
}
const rawMs = time(() => createHash("sha256").update(canonical).digest("hex"), 7);
const rawHex = createHash("sha256").update(canonical).digest("hex");

// Compacted window, one segment.
let engine = await openEngine(`${tmp.dir}/a`, { totalGroups: GROUPS, memstoreBytesMax: 2 * 1024 ** 3 });
for (let i = 0; i < N; i += 10_000) await engine.write(points.slice(i, i + 10_000));
await engine.flush();
await engine.compactAll();
await engine.close();
const coldMs = await timeAsync(async () => {
  const e = await openEngine(`${tmp.dir}/a`, { totalGroups: GROUPS });
  const t = performance.now();
  const c = await e.windowChecksum(0, BENCH_DAY);
  const ms = performance.now() - t;
  if (c.sha256Hex !== rawHex || c.pointCount !== N) throw new Error("checksum mismatch (cold)");
  await e.close();
  return ms;
}, 1);
// cold measured including reopen above; measure the call alone:
const coldCallMs: number[] = [];
for (let r = 0; r < 5; r++) {
  const e = await openEngine(`${tmp.dir}/a`, { totalGroups: GROUPS });
  const t = performance.now();
  await e.windowChecksum(0, BENCH_DAY);
  coldCallMs.push(performance.now() - t);
  await e.close();
}
engine = await openEngine(`${tmp.dir}/a`, { totalGroups: GROUPS });
await engine.windowChecksum(0, BENCH_DAY);
const cachedMs = await timeAsync(() => engine.windowChecksum(0, BENCH_DAY), 20);
await engine.close();

// Split window: half in two segments, a quarter in memory, overlapping keys rewritten (LWW merge path).
const split = await openEngine(`${tmp.dir}/b`, { totalGroups: GROUPS, memstoreBytesMax: 2 * 1024 ** 3, compaction: { ratio: 9, tierBasePoints: 2 ** 40, segmentsMax: 8 } });
const shuffled = [...points].sort((a, b) => (a.enc[a.enc.length - 1]! - b.enc[b.enc.length - 1]!) || (a.key < b.key ? -1 : 1));
const third = Math.floor(N / 3);
for (const [lo, hi] of [[0, third], [third, 2 * third]] as const) {
  for (let i = lo; i < hi; i += 10_000) await split.write(shuffled.slice(i, Math.min(hi, i + 10_000)));
  await split.flush();
}
for (let i = 2 * third; i < N; i += 10_000) await split.write(shuffled.slice(i, Math.min(N, i + 10_000)));
const mergeRuns: number[] = [];
for (let r = 0; r < 3; r++) {
  await split.write([shuffled[r]!]); // invalidates the cache without changing content
  const t = performance.now();
  const c = await split.windowChecksum(0, BENCH_DAY);
  mergeRuns.push(performance.now() - t);
  if (c.sha256Hex !== rawHex) throw new Error("checksum mismatch (merge)");
}
await split.close();
tmp.cleanup();

const cold = median(coldCallMs);
const merge = median(mergeRuns);
console.log(
  JSON.stringify(
    {
      bench: "checksum",
      points: N,
      canonical_bytes: bytes,
      raw_sha256_ms: round(rawMs),
      cases: {
        compacted_cold_from_disk: { ms: round(cold), vs_raw: round(cold / rawMs, 2) },
        cached: { ms: round(cachedMs, 3), vs_raw: round(cachedMs / rawMs, 4) },
        two_segments_plus_memory_lww_merge: { ms: round(merge), vs_raw: round(merge / rawMs, 2) },
      },
      goal_vs_raw_max: 3,
      reopen_plus_cold_ms: round(coldMs),
    },
    null,
    2,
  ),
);
