// End-to-end cluster benchmark on the compiled binaries: points/s through the router to 3 replicas
// (replication factor 3) over NATS JetStream and in direct mode, and replication lag (router
// acknowledgement → the point visible on every live replica), p50/p99 — healthy, and with one node
// down for the whole run (killed, past its lease: its writes go to its stream / the router's hints),
// in the same run, with the down/healthy ratios.
// After the flat-out run, half its rate is sent paced for half as long, with lag sampled meanwhile
// (the goal: p99 lag < 100 ms at half the load).
// Throughput is measured with unique points (1 000 devices × 10 fields, scripts/bench/ingest-points.ts),
// never recycled, and every acknowledged point is read back from every live replica afterwards.
// No peer runs beside it: the peers on apt (InfluxDB 1.6 OSS, single-node VictoriaMetrics) do not
// replicate; the comparisons in the run are one node down vs healthy, and JetStream vs direct.
//   node_modules/.bin/bun scripts/bench/cluster.ts [--seconds 30] [--samples 200] [--batch 10000] [--conns 4]
//        [--nats-only|--direct-only]

import { readFileSync } from "node:fs";
import { NS_PER_DAY } from "../../src/base/time.ts";
import { startBinary, postJson, type RunningBinary } from "../../test/support/binary.ts";
import { startEtcd, startNats } from "../../test/support/servers.ts";
import { tempDir } from "../../test/support/engine.ts";
import { until } from "../../test/support/wait.ts";
import { round, BENCH_DAY } from "./common.ts";
import { DEVICES, PointStream, selfCheck, type Batch } from "./ingest-points.ts";
import { soltixReadBack } from "./ingest-targets.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg("seconds", 30);
selfCheck();
const SAMPLES = arg("samples", 200);
const BATCH = arg("batch", 10_000);
const CONNS = arg("conns", 4);

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in 1/100 s
}

/** One batch through the router (RouterWriteRequest has WriteRequest's layout). */
async function routerWrite(url: string, b: Batch): Promise<void> {
  const res = await fetch(`${url}/soltix.v1.RouterService/Write`, { method: "POST", headers: { "content-type": "application/proto" }, body: b.proto() });
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`router write: HTTP ${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}


/** Writes one point through the router and times ack → visible on every replica (ms). */
async function lagSample(routerUrl: string, nodes: RunningBinary[], collection: string, s: number): Promise<number> {
  const id = `lag-${s}`;
  const w = await postJson(`${routerUrl}/v1/databases/bench/collections/${collection}/write`, { id, time: (BENCH_DAY + BigInt(s)).toString(), v: s });
  if (w.status !== 200) throw new Error(`write failed: ${JSON.stringify(w.json)}`);
  const acked = performance.now();
  const seen = nodes.map(() => false);
  while (!seen.every(Boolean)) {
    await Promise.all(
      nodes.map(async (n, i) => {
        if (seen[i]) return;
        const r = await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: "bench", collection, ids: [id] });
        if (r.json.points?.length === 1) seen[i] = true;
      }),
    );
    if (performance.now() - acked > 120_000) throw new Error("lag sample timed out (a replica is over 2 min behind)");
  }
  return performance.now() - acked;
}

async function scenario(queue: "nats" | "direct", oneDown: boolean) {
  const tmp = tempDir(`bench-cluster-${queue}`);
  const etcd = await startEtcd();
  const nats = queue === "nats" ? await startNats() : undefined;
  const q = nats === undefined ? ["--queue.type", "direct"] : ["--queue.type", "nats", "--queue.url", nats.url];
  const common = ["--etcd.endpoints", etcd.url, "--replication.factor", "3", "--log.level", "error", ...q];
  const procs: RunningBinary[] = [];
  try {
    const nodes: RunningBinary[] = [];
    for (let i = 1; i <= 3; i++) {
      const n = await startBinary(["node", "--node.id", `storage-${i}`, "--storage.data_dir", `${tmp.dir}/s${i}`, "--server.port", "0", ...common]);
      nodes.push(n);
      procs.push(n);
    }
    const router = await startBinary(["router", "--server.port", "0", ...common]);
    procs.push(router);
    await until("cluster ready", async () => ((await fetch(`${router.url}/readyz`)).status === 200 && (await Promise.all(nodes.map((n) => fetch(`${n.url}/readyz`)))).every((r) => r.status === 200) ? true : undefined));
    // Groups are placed on all three before the one node goes down (a warm-up batch a day earlier,
    // outside the range read back).
    const base = BENCH_DAY;
    await routerWrite(router.url, new PointStream(base - NS_PER_DAY, 99).batch(DEVICES));
    if (oneDown) {
      await nodes[2]!.kill9();
      nodes.pop();
      await until("router sees the node down", async () => {
        const b = (await (await fetch(`${router.url}/readyz`)).json()) as { nodes_down: Array<{ id: string }> };
        return b.nodes_down.some((d) => d.id === "storage-3") ? true : undefined;
      }, 30_000, 200);
    }

    // Throughput: RouterService.Write (binary Connect), unique points (scripts/bench/ingest-points.ts),
    // batches of BATCH points, CONNS at once; every acknowledged point is read back from every live
    // replica afterwards.
    const stream = new PointStream(base, 42);
    const routerCpu0 = cpuTicks(router.proc.pid);
    const nodeCpu0 = nodes.map((n) => cpuTicks(n.proc.pid));
    let points = 0, errors = 0, lastError = "";
    const latencies: number[] = [];
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    const lagsUnderLoad: number[] = [];
    await Promise.all([
      ...Array.from({ length: CONNS }, async () => {
        while (performance.now() < deadline) {
          const b = stream.batch(BATCH);
          const w0 = performance.now();
          try {
            await routerWrite(router.url, b);
          } catch (e) {
            errors++;
            lastError = String(e);
            continue;
          }
          latencies.push(performance.now() - w0);
          points += b.points;
        }
      }),
      (async () => {
        for (let s = 0; performance.now() < deadline; s++) {
          lagsUnderLoad.push(await lagSample(router.url, nodes, `load${queue}`, s));
          await Bun.sleep(20);
        }
      })(),
    ]);
    const loadS = (performance.now() - t0) / 1000;
    const ackedPerSec = points / loadS;
    const routerCores = (cpuTicks(router.proc.pid) - routerCpu0) / 100 / loadS;
    const nodeCores = nodes.map((n, i) => round((cpuTicks(n.proc.pid) - nodeCpu0[i]!) / 100 / loadS, 2));
    if (errors > 0) console.error(`${queue}: ${errors} failed writes, last: ${lastError}`);
    // Wait until every replica applied everything (the queue may still be draining): the last
    // device's count on every replica.
    const drained = async () => {
      const end = stream.timeOf(stream.generated);
      const perDevice = stream.generated / DEVICES;
      await until("replicas drained", async () => {
        const r = await Promise.all(nodes.map(async (n) => (await soltixReadBack(n.url, base, end, [`device-${DEVICES - 1}`])).points));
        return r.every((x) => x >= perDevice) ? true : undefined;
      }, 300_000, 100);
    };
    const drainStart = performance.now();
    await drained();
    const drainMs = performance.now() - drainStart;

    // Half the load just measured — of the rate the replicas kept up with (acknowledged points over
    // the run plus its drain: with JetStream async the router acknowledges on the stream's PubAck,
    // faster than nodes apply) — paced (a batch every BATCH / rate seconds, at most CONNS in flight),
    // for half as long: the replication lag a cluster with headroom shows.
    const halfRate = points / ((loadS * 1000 + drainMs) / 1000) / 2;
    const lagsAtHalf: number[] = [];
    let pacedPoints = 0;
    const p0 = performance.now();
    const pacedUntil = p0 + (SECONDS / 2) * 1000;
    await Promise.all([
      (async () => {
        const inFlight = new Set<Promise<void>>();
        for (let k = 0; performance.now() < pacedUntil; k++) {
          const dueMs = p0 + (k * BATCH * 1000) / halfRate;
          if (dueMs > performance.now()) await Bun.sleep(dueMs - performance.now());
          while (inFlight.size >= CONNS) await Promise.race(inFlight);
          const b = stream.batch(BATCH);
          const w: Promise<void> = routerWrite(router.url, b).then(
            () => {
              pacedPoints += b.points;
            },
            (e: unknown) => {
              errors++;
              lastError = String(e);
            },
          ).finally(() => inFlight.delete(w));
          inFlight.add(w);
        }
        await Promise.all(inFlight);
      })(),
      (async () => {
        for (let s = 0; performance.now() < pacedUntil; s++) {
          lagsAtHalf.push(await lagSample(router.url, nodes, `half${queue}`, s));
          await Bun.sleep(20);
        }
      })(),
    ]);
    const pacedPerSec = pacedPoints / ((performance.now() - p0) / 1000);
    await drained();

    const end = stream.timeOf(stream.generated);
    const perDevice = stream.generated / DEVICES;
    const acked = points + pacedPoints;
    const readBack = [];
    for (const n of nodes) {
      const got = await soltixReadBack(n.url, base, end);
      let problem: string | undefined;
      // Failed writes may still have landed; then only fewer-than-acknowledged is a loss.
      for (let d = 0; d < DEVICES && problem === undefined; d++) if (errors === 0 ? got.countByDevice[d] !== perDevice : got.countByDevice[d]! < perDevice) problem = `device-${d}: ${got.countByDevice[d]} points, ${perDevice} written`;
      readBack.push({ node: n.url, points: got.points, ok: problem === undefined && (errors > 0 || got.points === acked), ...(problem !== undefined ? { problem } : {}) });
    }
    latencies.sort((a, b) => a - b);

    // Lag at rest: one point per sample, then poll every replica until it is visible.
    const lags: number[] = [];
    for (let s = 0; s < SAMPLES; s++) lags.push(await lagSample(router.url, nodes, `lag${queue}`, s));
    // Each node's queue consumer counters (applied, redelivered: a message unacked past ack_wait).
    const nodeQueues = await Promise.all(nodes.map(async (n) => ((await (await fetch(`${n.url}/readyz`)).json()) as { queue: unknown }).queue));
    const readyz = (await (await fetch(`${router.url}/readyz`)).json()) as { nodes_down: Array<{ id: string; hints_pending: number }>; hints: Array<{ node: string; pending: number; bytes: number; dropped: number }> };
    return {
      queue,
      live_replicas: nodes.length,
      down_node_backlog: oneDown ? { hints_pending: readyz.nodes_down.find((d) => d.id === "storage-3")?.hints_pending ?? -1, hint_buffer: readyz.hints } : undefined,
      batch_points: BATCH,
      connections: CONNS,
      acked_points_per_sec: Math.round(ackedPerSec),
      write_latency_ms_p50: round(pct(latencies, 50), 1),
      write_latency_ms_p99: round(pct(latencies, 99), 1),
      errors,
      read_back: readBack,
      router_cores: round(routerCores, 2),
      node_queues: nodeQueues,
      node_cores: nodeCores,
      replicated_points_per_sec_incl_drain: Math.round(points / ((loadS * 1000 + drainMs) / 1000)),
      drain_after_load_ms: round(drainMs),
      lag_at_rest_ms_p50: round(pct(lags, 50), 2),
      lag_at_rest_ms_p99: round(pct(lags, 99), 2),
      lag_at_rest_samples: SAMPLES,
      lag_under_load_ms_p50: round(pct(lagsUnderLoad, 50), 2),
      lag_under_load_ms_p99: round(pct(lagsUnderLoad, 99), 2),
      lag_under_load_samples: lagsUnderLoad.length,
      half_load_points_per_sec: Math.round(pacedPerSec),
      lag_at_half_load_ms_p50: round(pct(lagsAtHalf, 50), 2),
      lag_at_half_load_ms_p99: round(pct(lagsAtHalf, 99), 2),
      lag_at_half_load_samples: lagsAtHalf.length,
      goal_points_per_sec: 100_000,
      soltix_claims_points_per_sec: 10_000,
      goal_lag_ms_p99_at_half_load: 100,
    };
  } finally {
    // SIGTERM first (a profiled run, SOLTIX_BIN_CMD="bun --cpu-prof-md src/main.ts", writes its profile
    // on a clean exit), then SIGKILL whatever is left after 10 s.
    await Promise.all(procs.map((p) => Promise.race([p.stop(), Bun.sleep(10_000)]).catch(() => {})));
    for (const p of procs) await p.kill9().catch(() => {});
    await nats?.stop();
    await etcd.stop();
    tmp.cleanup();
  }
}

const only = process.argv.includes("--direct-only") ? ["direct" as const] : process.argv.includes("--nats-only") ? ["nats" as const] : (["nats", "direct"] as const);
const results = [];
for (const q of only) {
  const healthy = await scenario(q, false);
  const down = await scenario(q, true);
  results.push({
    queue: q,
    healthy,
    one_node_down: down,
    down_vs_healthy: {
      acked_points_per_sec: round(down.acked_points_per_sec / healthy.acked_points_per_sec, 2),
      lag_at_rest_ms_p99: round(down.lag_at_rest_ms_p99 / healthy.lag_at_rest_ms_p99, 2),
      lag_under_load_ms_p99: round(down.lag_under_load_ms_p99 / healthy.lag_under_load_ms_p99, 2),
    },
  });
}
console.log(JSON.stringify({ bench: "cluster", replication_factor: 3, seconds: SECONDS, results }, null, 2));
