// Data lifecycle benchmark (issue 13). Three parts (--parts retention,deletes,tombstones; all by default):
// - deletes (scripts/bench/lifecycle-deletes.ts): delete throughput — points covered per second —
//   beside InfluxDB and VictoriaMetrics fed the same points in the same run, every point read back;
// - tombstones (scripts/bench/lifecycle-tombstones.ts): what tombstones cost anti-entropy, live and
//   after their purge;
// - retention (below): an engine on real files (fsync) holding
// --days days × --devices devices of unique points (10 float fields, --per-day points per device and
// day, random walks: nothing recycled), flushed and compacted like a node's; then storage.retention
// expires the older half of the days. Reports the disk reclaimed, the sweep's time (whole windows
// unlinked unread; windows shared with a database that keeps its data rewritten), every surviving
// point read back (counts per window) and none of the expired, and the ingest cost of the retention
// check (the same new points written with retention on vs off, in the same run).
//
//   node_modules/.bin/bun scripts/bench/lifecycle.ts [--parts retention,deletes,tombstones] [--devices 1000] [--days 14] [--per-day 48] [--groups 32]
//       [--delete-days 7] [--range-deletes 100] [--targets soltix,influxdb,victoriametrics] [--ae-devices 200] [--ae-deletes 200]

import { readdirSync, statSync } from "node:fs";
import { openEngine, tempDir } from "../../test/support/engine.ts";
import { Engine, type StoredPoint } from "../../src/engine/engine.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_MS, windowStartNs } from "../../src/base/time.ts";
import type { Point } from "../../src/model/point.ts";
import { median, round } from "./common.ts";
import { deletesBench } from "./lifecycle-deletes.ts";
import { tombstonesAeBench } from "./lifecycle-tombstones.ts";
import type { TargetName } from "./ingest-targets.ts";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}
const DEVICES = Number(arg("devices", "1000"));
const DAYS = Number(arg("days", "14"));
const PER_DAY = Number(arg("per-day", "48"));
const GROUPS = Number(arg("groups", "32"));
const NOW = windowStartNs(BigInt(Date.now()) * NS_PER_MS) + NS_PER_DAY / 2n;
const FIRST_DAY = windowStartNs(NOW) - BigInt(DAYS - 1) * NS_PER_DAY;

let walk = 0;
function pointsOfDay(day: number, db: string, devices: number): StoredPoint[] {
  const out: StoredPoint[] = [];
  for (let d = 0; d < devices; d++) {
    for (let k = 0; k < PER_DAY; k++) {
      const fields: Array<readonly [string, { kind: "number"; value: number }]> = [];
      for (let f = 0; f < 10; f++) fields.push([`f${f}`, { kind: "number", value: (walk += Math.random() - 0.5) }]);
      const p: Point = {
        database: db, collection: "metrics", id: `device-${d}`,
        timeNs: FIRST_DAY + BigInt(day) * NS_PER_DAY + BigInt(k) * (NS_PER_DAY / BigInt(PER_DAY)) + BigInt(d),
        insertedAtNs: NOW + BigInt(out.length), fields,
      };
      const r = recordOf(p);
      out.push({ group: groupOf(db, "metrics", p.id, GROUPS), key: r.key, enc: r.enc });
    }
  }
  return out;
}

function diskBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(`${dir}/segments`)) n += statSync(`${dir}/segments/${f}`).size;
  return n;
}

async function fill(e: Engine, db: string, devices: number): Promise<{ points: number; canonicalBytes: number }> {
  let points = 0, canonicalBytes = 0;
  for (let day = 0; day < DAYS; day++) {
    const pts = pointsOfDay(day, db, devices);
    for (let i = 0; i < pts.length; i += 10_000) await e.write(pts.slice(i, i + 10_000));
    points += pts.length;
    for (const p of pts) canonicalBytes += p.enc.length;
    await e.flush();
  }
  await e.compactAll();
  return { points, canonicalBytes };
}

async function countsByDay(e: Engine): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const g of e.groups()) for (const ws of e.windowsOf(g)) {
    const day = Number((ws - FIRST_DAY) / NS_PER_DAY);
    out.set(day, (out.get(day) ?? 0) + (await e.windowChecksum(g, ws)).pointCount);
  }
  return out;
}

const RETENTION_NS = BigInt(Math.floor(DAYS / 2)) * NS_PER_DAY;
const expiredDay = (day: number) => FIRST_DAY + BigInt(day + 1) * NS_PER_DAY <= NOW - RETENTION_NS;

async function run(label: string, mixed: boolean) {
  const { dir, cleanup } = tempDir("bench-lifecycle");
  try {
    const e = await openEngine(dir, { totalGroups: GROUPS, memstoreBytesMax: 256 * 1024 * 1024 });
    const main = await fill(e, "short", DEVICES);
    // "mixed": a second database that keeps its data forever shares every window (rewrites, not unlinks).
    const keep = mixed ? await fill(e, "keep", Math.max(1, DEVICES / 10)) : { points: 0, canonicalBytes: 0 };
    const before = diskBytes(dir);
    const policy = { defaultNs: 0n, byDatabase: new Map([["short", RETENTION_NS], ["keep", 0n]]) };
    e.setRetention(policy, NOW);
    const t0 = performance.now();
    const swept = await e.sweepExpired(NOW);
    const sweepMs = performance.now() - t0;
    const after = diskBytes(dir);
    // Read back: every surviving point, none expired.
    const counts = await countsByDay(e);
    let expectedLive = 0;
    for (let day = 0; day < DAYS; day++) {
      const want = (expiredDay(day) ? 0 : DEVICES * PER_DAY) + (mixed ? Math.max(1, DEVICES / 10) * PER_DAY : 0);
      expectedLive += want;
      if ((counts.get(day) ?? 0) !== want) throw new Error(`${label}: day ${day} holds ${counts.get(day) ?? 0} points, expected ${want}`);
    }
    await e.close();
    const expiredPoints = main.points + keep.points - expectedLive;
    return {
      label,
      points: main.points + keep.points,
      canonical_mb: round((main.canonicalBytes + keep.canonicalBytes) / 1e6),
      disk_mb_before: round(before / 1e6),
      disk_mb_after: round(after / 1e6),
      disk_reclaimed_share: round((before - after) / before, 3),
      windows_unlinked: swept.dropped,
      windows_rewritten: swept.rewritten,
      sweep_seconds: round(sweepMs / 1000, 3),
      expired_points_per_sec: Math.round(expiredPoints / (sweepMs / 1000)),
      surviving_points_read_back: expectedLive,
    };
  } finally {
    cleanup();
  }
}

/** The ingest cost of the retention check: new points into a fresh engine, retention on (some database expiring) vs off. */
async function ingestCost(): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = { off: [], on: [] };
  for (let rep = 0; rep < 3; rep++) {
    for (const mode of ["off", "on"] as const) {
      const { dir, cleanup } = tempDir("bench-lifecycle-ingest");
      try {
        const e = await openEngine(dir, { totalGroups: GROUPS, memstoreBytesMax: 256 * 1024 * 1024 });
        if (mode === "on") e.setRetention({ defaultNs: 0n, byDatabase: new Map([["other", NS_PER_DAY]]) }, NOW);
        const pts = pointsOfDay(DAYS - 1, "short", DEVICES);
        const t0 = performance.now();
        for (let i = 0; i < pts.length; i += 10_000) await e.write(pts.slice(i, i + 10_000));
        samples[mode]!.push(pts.length / ((performance.now() - t0) / 1000));
        await e.close();
      } finally {
        cleanup();
      }
    }
  }
  const off = median(samples.off!), on = median(samples.on!);
  return { points_per_sec_retention_off: Math.round(off), points_per_sec_retention_on: Math.round(on), on_vs_off: round(on / off, 3) };
}

const PARTS = arg("parts", "retention,deletes,tombstones").split(",");
const report: Record<string, unknown> = {};
if (PARTS.includes("deletes")) {
  report.deletes = await deletesBench({ days: Number(arg("delete-days", "7")), rangeDeletes: Number(arg("range-deletes", "100")), targets: arg("targets", "soltix,influxdb,victoriametrics").split(",") as TargetName[] });
}
if (PARTS.includes("tombstones")) report.tombstones_in_anti_entropy = await tombstonesAeBench({ devices: Number(arg("ae-devices", "200")), deletes: Number(arg("ae-deletes", "200")) });
if (PARTS.includes("retention")) {
  const whole = await run("one database expiring (windows unlinked)", false);
  const mixed = await run("a second database keeps its data (windows rewritten)", true);
  const ingest = await ingestCost();
  report.retention = { devices: DEVICES, days: DAYS, per_day: PER_DAY, groups: GROUPS, retention_days: Number(RETENTION_NS / NS_PER_DAY), whole, mixed, ingest };
}
console.log(JSON.stringify(report, null, 2));
