// Lifecycle bench, deletes part: the same unique points (1 000 devices × 10 fields, one point per device
// every 30 min over --days days, sensor-like random walks) written to soltix (the compiled binary, one
// node), InfluxDB 1.6 and VictoriaMetrics 1.79 in the same run, then the same deletes sent to each:
//   A. ranges:  --range-deletes deletes of 10 random devices × 12 h each (sequential, each answered);
//   B. devices: 20 devices' whole history, one delete each;
//   C. drop:    the whole collection.
// After every step each target's data is read back (count and f0 sum per device over every day) and
// must equal the model's: the deleted points gone, every other point there. Reported per target and
// step: seconds, points covered per second, the data dir's bytes after the step.
// VictoriaMetrics deletes whole series only (no time range): step A is "n/a" for it.

import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DEVICES, PointStream } from "./ingest-points.ts";
import { startTarget, targetAvailable, type ReadBack, type Target, type TargetName } from "./ingest-targets.ts";
import { tempDir } from "../../test/support/engine.ts";
import { round } from "./common.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const STEP_NS = 30n * 60n * 1_000_000_000n;
const STEPS_PER_DAY = Number(NS_PER_DAY / STEP_NS);
const DEVICES_PER_RANGE_DELETE = 10;
const RANGE_STEPS = 24; // 12 h

/** PointStream with one point per device every 30 min (not every second): days of data in few points. */
class SpreadStream extends PointStream {
  override timeOf(k: number): bigint {
    return this.baseTimeNs + BigInt(Math.floor(k / DEVICES)) * STEP_NS;
  }
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

/** xorshift32, seeded: every target gets the same deletes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

interface RangeDelete {
  devices: number[];
  fromStep: number;
  toStep: number;
}

async function deleteOn(t: Target, devices: number[], startNs: bigint, endNs: bigint): Promise<void> {
  if (t.name === "soltix") {
    const res = await fetch(`${t.url}/soltix.v1.StorageService/Delete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ database: "bench", collection: "metrics", ids: devices.map((d) => `device-${d}`), startTime: String(startNs), endTime: String(endNs) }),
    });
    if (res.status !== 200) throw new Error(`soltix Delete: HTTP ${res.status} ${await res.text()}`);
    return;
  }
  if (t.name === "influxdb") {
    const where = devices.length === 0 ? "" : `(${devices.map((d) => `device='device-${d}'`).join(" OR ")})`;
    const time = endNs === 0n ? "" : `time >= ${startNs} AND time < ${endNs}`;
    const cond = [where, time].filter((x) => x !== "").join(" AND ");
    const q = devices.length === 0 && endNs === 0n ? "DROP MEASUREMENT metrics" : `DELETE FROM metrics WHERE ${cond}`;
    const res = await fetch(`${t.url}/query?db=bench`, { method: "POST", body: new URLSearchParams({ q }) });
    const body = (await res.json()) as { results?: Array<{ error?: string }> };
    if (res.status !== 200 || body.results?.[0]?.error !== undefined) throw new Error(`influx ${q}: HTTP ${res.status} ${body.results?.[0]?.error ?? ""}`);
    return;
  }
  // VictoriaMetrics: whole series only.
  const match = devices.length === 0 ? `{__name__=~"metrics_.*"}` : `{__name__=~"metrics_.*",device=~"${devices.map((d) => `device-${d}`).join("|")}"}`;
  const res = await fetch(`${t.url}/api/v1/admin/tsdb/delete_series?${new URLSearchParams({ "match[]": match })}`, { method: "POST" });
  if (res.status !== 204) throw new Error(`victoria-metrics delete_series: HTTP ${res.status} ${await res.text()}`);
}

function check(name: string, step: string, got: ReadBack, alive: Uint8Array[], stepsTotal: number): void {
  for (let d = 0; d < DEVICES; d++) {
    let want = 0;
    for (let s = 0; s < stepsTotal; s++) want += alive[d]![s]!;
    if (got.countByDevice[d] !== want) throw new Error(`${name} after ${step}: device-${d} holds ${got.countByDevice[d]} points, expected ${want}`);
  }
}

export interface DeleteBenchOptions {
  days: number;
  rangeDeletes: number;
  targets: TargetName[];
}

export async function deletesBench(o: DeleteBenchOptions): Promise<Record<string, unknown>> {
  const steps = o.days * STEPS_PER_DAY;
  const base = (BigInt(Date.now()) * 1_000_000n / NS_PER_DAY - BigInt(o.days)) * NS_PER_DAY;
  const r = rng(7);
  const ranges: RangeDelete[] = Array.from({ length: o.rangeDeletes }, () => {
    const devices = new Set<number>();
    while (devices.size < DEVICES_PER_RANGE_DELETE) devices.add(Math.floor(r() * DEVICES));
    const fromStep = Math.floor(r() * (steps - RANGE_STEPS));
    return { devices: [...devices], fromStep, toStep: fromStep + RANGE_STEPS };
  });
  const wholeDevices = new Set<number>();
  while (wholeDevices.size < 20) wholeDevices.add(Math.floor(r() * DEVICES));
  const out: Record<string, unknown> = { points: steps * DEVICES, days: o.days, devices: DEVICES, range_deletes: o.rangeDeletes };
  const skipped: string[] = [];
  for (const name of o.targets) {
    if (!targetAvailable(name)) {
      skipped.push(`${name} (not installed: bash scripts/bench/install-peers.sh)`);
      continue;
    }
    const { dir, cleanup } = tempDir(`bench-deletes-${name}`);
    let t: Target | undefined;
    try {
      t = await startTarget(name, dir);
      const stream = new SpreadStream(base, 11);
      const w0 = performance.now();
      for (let s = 0; s < steps; s += 10) await t.write(stream.batch(Math.min(10, steps - s) * DEVICES));
      const writeSeconds = (performance.now() - w0) / 1000;
      const alive = Array.from({ length: DEVICES }, () => new Uint8Array(steps).fill(1));
      const end = base + BigInt(steps) * STEP_NS;
      check(name, "writing", await t.readBack(base, end), alive, steps);
      const bytesWritten = dirBytes(t.dataDir);
      const result: Record<string, unknown> = { write_seconds: round(writeSeconds, 2), data_mb: round(bytesWritten / 1e6, 2) };
      const phase = async (label: string, work: () => Promise<number>) => {
        const p0 = performance.now();
        const covered = await work();
        const secs = (performance.now() - p0) / 1000;
        check(name, label, await t!.readBack(base, end), alive, steps);
        result[label] = { seconds: round(secs, 3), points_covered: covered, points_covered_per_sec: Math.round(covered / secs), data_mb_after: round(dirBytes(t!.dataDir) / 1e6, 2) };
      };
      if (name === "victoriametrics") result.ranges = "n/a: deletes whole series only";
      else {
        await phase("ranges", async () => {
          let covered = 0;
          for (const d of ranges) {
            await deleteOn(t!, d.devices, base + BigInt(d.fromStep) * STEP_NS, base + BigInt(d.toStep) * STEP_NS);
            for (const dev of d.devices) for (let s = d.fromStep; s < d.toStep; s++) (covered += alive[dev]![s]!), (alive[dev]![s] = 0);
          }
          return covered;
        });
      }
      await phase("devices", async () => {
        let covered = 0;
        for (const dev of wholeDevices) {
          await deleteOn(t!, [dev], 0n, 0n);
          for (let s = 0; s < steps; s++) (covered += alive[dev]![s]!), (alive[dev]![s] = 0);
        }
        return covered;
      });
      await phase("drop", async () => {
        await deleteOn(t!, [], 0n, 0n);
        let covered = 0;
        for (const a of alive) for (let s = 0; s < steps; s++) (covered += a[s]!), (a[s] = 0);
        return covered;
      });
      out[name] = result;
    } finally {
      await t?.kill().catch(() => {});
      cleanup();
    }
  }
  if (skipped.length > 0) out.skipped = skipped;
  return out;
}
