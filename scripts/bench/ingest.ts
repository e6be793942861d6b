// Ingest benchmark, as a user choosing a time-series store would run it: unique points (1 000 devices ×
// 10 float fields, one point per device per second, sensor-like random walks; scripts/bench/
// ingest-points.ts), a fresh server per configuration, sustained for --seconds (60 by default),
// batches of 1 000 / 10 000 points over 1 / 4 / 8 connections, and every acknowledged point read back
// afterwards (count and f0 sum per device). Reports per-10 s throughput, last 20 s vs first 20 s, the
// server's cores (from /proc/<pid>/stat), peak RSS (VmHWM), request latency p50/p99, disk bytes per
// point once the server has flushed and stopped, and soltix's write amplification.
//
//   node_modules/.bin/bun scripts/bench/ingest.ts [--seconds 60] [--targets soltix,influxdb,victoriametrics]
//        [--configs 1000x1,1000x4,1000x8,10000x1,10000x4,10000x8] [--json out.json]
//
// scripts/bench/peers.sh installs InfluxDB and VictoriaMetrics from apt and runs all three targets.
// For digging into soltix: SOLTIX_BENCH_ARGS="--flag value ..." (extra node flags), SOLTIX_BENCH_MEMORY=1
// (print /healthz memory per sample), SOLTIX_BENCH_SAMPLE_MS (sample interval), SOLTIX_BENCH_LOG=path
// (the node's stderr), SOLTIX_BIN_CMD="bun --cpu-prof-md src/main.ts" (run the sources, profiled).

import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/support/engine.ts";
import { median, round } from "./common.ts";
import { DEVICES, PointStream, selfCheck } from "./ingest-points.ts";
import { startTarget, targetAvailable, type Target, type TargetName } from "./ingest-targets.ts";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}

const SECONDS = Number(arg("seconds", "60"));
const BUCKET_S = 10;
const TARGETS = arg("targets", "soltix").split(",") as TargetName[];
const CONFIGS = arg("configs", "1000x1,1000x4,1000x8,10000x1,10000x4,10000x8")
  .split(",")
  .map((c) => {
    const [batch, conns] = c.split("x").map(Number);
    if (!Number.isInteger(batch) || !Number.isInteger(conns) || batch! % DEVICES !== 0 || conns! < 1) throw new Error(`--configs: ${c} is not <batch multiple of ${DEVICES}>x<connections>`);
    return { batch: batch!, conns: conns! };
  });
const JSON_OUT = arg("json", "");
const CLK_TCK = 100;

for (const t of TARGETS) {
  if (!["soltix", "influxdb", "victoriametrics"].includes(t)) throw new Error(`--targets: unknown ${t}`);
  if (!targetAvailable(t)) throw new Error(`--targets: ${t} is not installed (run scripts/bench/peers.sh)`);
}
selfCheck();

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

function statusKiB(pid: number, key: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]);
}

function dirUsage(dir: string): { bytes: number; files: number } {
  let bytes = 0, files = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        bytes += statSync(p).size;
        files++;
      }
    }
  };
  walk(dir);
  return { bytes, files };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface RunResult {
  target: TargetName;
  batch: number;
  conns: number;
  points_per_sec: number;
  per_10s_points_per_sec: number[];
  last_20s_vs_first_20s: number;
  server_cores: number;
  client_cores: number;
  peak_rss_mib: number;
  rss_mib_per_10s: number[];
  latency_ms: { p50: number; p99: number; max: number };
  errors: number;
  acked_points: number;
  read_back: { points: number; ok: boolean; problem?: string; ms: number };
  disk: { bytes_per_point: number; files: number; bytes: number };
  engine?: { write_amplification: number; wal_bytes: number; segment_bytes_written: number; ingested_bytes: number; flushes: number; compute_threads: number };
}

async function runOne(name: TargetName, batch: number, conns: number): Promise<RunResult> {
  const tmp = tempDir(`ingest-${name}`);
  const target: Target = await startTarget(name, tmp.dir);
  try {
    // Simulated time ends before now (peers refuse far-future points): 6 h back covers 21 600 s × 1 000 devices.
    const base = (BigInt(Date.now()) / 1000n - 6n * 3600n) * 1_000_000_000n;
    const stream = new PointStream(base, 42);
    const expectedCount = new Float64Array(DEVICES);
    const expectedSum = new Float64Array(DEVICES);
    const bucketPoints: number[] = [];
    const rssMiB: number[] = [];
    const latencies: number[] = [];
    let acked = 0, errors = 0, lastError = "";
    const cpu0 = cpuTicks(target.pid);
    const clientCpu0 = process.cpuUsage();
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    const memory: unknown[] = [];
    const sampler = setInterval(() => {
      rssMiB.push(round(statusKiB(target.pid, "VmRSS") / 1024, 0));
      if (name === "soltix" && process.env.SOLTIX_BENCH_MEMORY === "1") void soltixMemory(target).then((m) => memory.push(m));
    }, Number(process.env.SOLTIX_BENCH_SAMPLE_MS ?? BUCKET_S * 1000));
    const worker = async () => {
      while (performance.now() < deadline) {
        const b = stream.batch(batch);
        const t0 = performance.now();
        try {
          await target.write(b);
        } catch (e) {
          errors++;
          lastError = String(e);
          continue;
        }
        const t1 = performance.now();
        latencies.push(t1 - t0);
        acked += b.points;
        const k = Math.floor((t1 - started) / (BUCKET_S * 1000));
        bucketPoints[k] = (bucketPoints[k] ?? 0) + b.points;
        for (let d = 0; d < DEVICES; d++) {
          expectedCount[d]! += b.points / DEVICES;
          expectedSum[d] = expectedSum[d]! + b.f0SumByDevice[d]!;
        }
      }
    };
    await Promise.all(Array.from({ length: conns }, worker));
    const elapsedS = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (memory.length > 0) console.error(JSON.stringify(memory));
    const cores = (cpuTicks(target.pid) - cpu0) / CLK_TCK / elapsedS;
    const cu = process.cpuUsage(clientCpu0);
    const peakRssMiB = statusKiB(target.pid, "VmHWM") / 1024;
    let engine: RunResult["engine"];
    if (name === "soltix") engine = await soltixEngineStats(target);

    const r0 = performance.now();
    const end = stream.timeOf(stream.generated);
    const got = await target.readBack(base, end);
    const readMs = performance.now() - r0;
    let problem: string | undefined;
    for (let d = 0; d < DEVICES && problem === undefined; d++) {
      const want = expectedCount[d]!, have = got.countByDevice[d]!;
      if (errors === 0 ? have !== want : have < want) problem = `device-${d}: ${have} points read, ${want} acknowledged`;
      else if (errors === 0 && Math.abs(got.f0SumByDevice[d]! - expectedSum[d]!) > 1e-6 * Math.max(1, Math.abs(expectedSum[d]!))) problem = `device-${d}: f0 sum ${got.f0SumByDevice[d]} read, ${expectedSum[d]} written`;
    }
    await target.flushAndStop();
    const disk = dirUsage(target.dataDir);

    const full = Math.floor(elapsedS / BUCKET_S);
    const perBucket = Array.from({ length: full }, (_, i) => Math.round((bucketPoints[i] ?? 0) / BUCKET_S));
    const firstLast = (n: number, from: "first" | "last") => {
      const xs = from === "first" ? perBucket.slice(0, n) : perBucket.slice(-n);
      return xs.reduce((a, b) => a + b, 0);
    };
    const twenty = Math.max(1, Math.floor(20 / BUCKET_S));
    latencies.sort((a, b) => a - b);
    if (errors > 0) console.error(`${name} ${batch}x${conns}: ${errors} failed writes, last: ${lastError}`);
    return {
      target: name,
      batch,
      conns,
      points_per_sec: Math.round(acked / elapsedS),
      per_10s_points_per_sec: perBucket,
      last_20s_vs_first_20s: round(firstLast(twenty, "last") / Math.max(1, firstLast(twenty, "first")), 2),
      server_cores: round(cores, 2),
      client_cores: round((cu.user + cu.system) / 1e6 / elapsedS, 2),
      peak_rss_mib: round(peakRssMiB, 0),
      rss_mib_per_10s: rssMiB,
      latency_ms: { p50: round(quantile(latencies, 0.5), 1), p99: round(quantile(latencies, 0.99), 1), max: round(latencies.at(-1) ?? 0, 1) },
      errors,
      acked_points: acked,
      read_back: { points: got.points, ok: problem === undefined, ...(problem !== undefined ? { problem } : {}), ms: Math.round(readMs) },
      disk: { bytes_per_point: round(disk.bytes / Math.max(1, acked), 1), files: disk.files, bytes: disk.bytes },
      ...(engine !== undefined ? { engine } : {}),
    };
  } finally {
    await target.kill().catch(() => {});
    tmp.cleanup();
  }
}

async function soltixMemory(target: Target): Promise<Record<string, number>> {
  const h = (await (await fetch(`${target.url}/healthz`)).json()) as { engine: Record<string, number>; memory?: Record<string, number> };
  const mib = (x: number | undefined) => round((x ?? 0) / 2 ** 20, 0);
  return { rss: mib(h.memory?.rssBytes), heap: mib(h.memory?.heapUsedBytes), external: mib(h.memory?.externalBytes), memstore: mib(h.engine.memstoreBytes), segmentCache: mib(h.engine.segmentCacheBytes) };
}

async function soltixEngineStats(target: Target): Promise<RunResult["engine"]> {
  const s = ((await (await fetch(`${target.url}/healthz`)).json()) as { engine: Record<string, number> }).engine;
  const written = (s.walBytes ?? 0) + (s.segmentBytesWritten ?? 0);
  return {
    write_amplification: round(written / Math.max(1, s.ingestedBytes ?? 0), 2),
    wal_bytes: s.walBytes ?? 0,
    segment_bytes_written: s.segmentBytesWritten ?? 0,
    ingested_bytes: s.ingestedBytes ?? 0,
    flushes: s.flushes ?? 0,
    compute_threads: s.computeThreads ?? 0,
  };
}

const results: RunResult[] = [];
for (const { batch, conns } of CONFIGS) {
  for (const t of TARGETS) {
    const r = await runOne(t, batch, conns);
    results.push(r);
    console.error(`${t} ${batch}x${conns}: ${r.points_per_sec} pts/s, per 10 s ${r.per_10s_points_per_sec.join(" ")}, cores ${r.server_cores}, RSS ${r.peak_rss_mib} MiB, p99 ${r.latency_ms.p99} ms, ${r.disk.bytes_per_point} B/pt, read back ${r.read_back.ok ? "ok" : r.read_back.problem}`);
  }
}

// The side-by-side table (markdown), ratios against each peer measured in this run.
const header = ["batch × conns", ...TARGETS.map((t) => `${t} pts/s`), ...TARGETS.filter((t) => t !== "soltix").map((t) => `soltix / ${t}`), ...TARGETS.map((t) => `${t} last20/first20 · cores · RSS MiB · p50/p99 ms · B/pt · read back`)];
const rows = CONFIGS.map(({ batch, conns }) => {
  const of = (t: TargetName) => results.find((r) => r.target === t && r.batch === batch && r.conns === conns)!;
  const soltix = results.find((r) => r.target === "soltix" && r.batch === batch && r.conns === conns);
  return [
    `${batch} × ${conns}`,
    ...TARGETS.map((t) => String(of(t).points_per_sec)),
    ...TARGETS.filter((t) => t !== "soltix").map((t) => (soltix === undefined ? "-" : String(round(soltix.points_per_sec / Math.max(1, of(t).points_per_sec), 2)))),
    ...TARGETS.map((t) => {
      const r = of(t);
      return `${r.last_20s_vs_first_20s} · ${r.server_cores} · ${r.peak_rss_mib} · ${r.latency_ms.p50}/${r.latency_ms.p99} · ${r.disk.bytes_per_point} · ${r.read_back.ok ? "ok" : "FAIL"}`;
    }),
  ];
});
console.log(`| ${header.join(" | ")} |\n| ${header.map(() => "---").join(" | ")} |\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}`);
const summary = { bench: "ingest", seconds_per_run: SECONDS, median_soltix_points_per_sec: median(results.filter((r) => r.target === "soltix").map((r) => r.points_per_sec)), results };
if (JSON_OUT !== "") writeFileSync(JSON_OUT, JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary));
if (results.some((r) => !r.read_back.ok)) process.exitCode = 1;
