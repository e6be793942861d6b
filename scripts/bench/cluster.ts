// End-to-end cluster benchmark on the compiled binaries: points/s through the router to 3 replicas
// (replication factor 3) over NATS JetStream and in direct mode, and replication lag (router
// acknowledgement → the point visible on every live replica), p50/p99 — healthy, and with one node
// down for the whole run (killed, past its lease: its writes go to its stream / the router's hints),
// in the same run, with the down/healthy ratios.
//   node_modules/.bin/bun scripts/bench/cluster.ts [--seconds 8] [--samples 200] [--nats-only|--direct-only]

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { create } from "@bufbuild/protobuf";
import { RouterService, RouterWriteRequestSchema } from "../../src/gen/soltix/v1/router_pb.ts";
import { startBinary, postJson, type RunningBinary } from "../../test/support/binary.ts";
import { startEtcd, startNats } from "../../test/support/servers.ts";
import { tempDir } from "../../test/support/engine.ts";
import { until } from "../../test/support/wait.ts";
import { round, wirePoints, BENCH_DAY } from "./common.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg("seconds", 8);
const SAMPLES = arg("samples", 200);
const BATCH = 5_000;
const IN_FLIGHT = 4;

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
    if (performance.now() - acked > 10_000) throw new Error("lag sample timed out");
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
    // Groups are placed on all three before the one node goes down.
    const warm = createClient(RouterService, createConnectTransport({ baseUrl: router.url, useBinaryFormat: true }));
    await warm.write(create(RouterWriteRequestSchema, { points: wirePoints(2000, 0, 1, 2000).map((p) => ({ ...p, database: "bench", collection: `c${queue}` })) }));
    if (oneDown) {
      await nodes[2]!.kill9();
      nodes.pop();
      await until("router sees the node down", async () => {
        const b = (await (await fetch(`${router.url}/readyz`)).json()) as { nodes_down: Array<{ id: string }> };
        return b.nodes_down.some((d) => d.id === "storage-3") ? true : undefined;
      }, 30_000, 200);
    }

    // Throughput: RouterService.Write (binary Connect), batches of BATCH points, IN_FLIGHT at once.
    const client = createClient(RouterService, createConnectTransport({ baseUrl: router.url, useBinaryFormat: true }));
    const bodies = Array.from({ length: 6 }, (_, i) => create(RouterWriteRequestSchema, { points: wirePoints(BATCH, i * BATCH, 10, 2000).map((p) => ({ ...p, database: "bench", collection: `c${queue}` })) }));
    await client.write(bodies[0]!);
    let points = 0;
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    const lagsUnderLoad: number[] = [];
    await Promise.all([
      ...Array.from({ length: IN_FLIGHT }, async (_, w) => {
        let i = w;
        while (performance.now() < deadline) points += (await client.write(bodies[i++ % bodies.length]!)).accepted;
      }),
      (async () => {
        for (let s = 0; performance.now() < deadline; s++) {
          lagsUnderLoad.push(await lagSample(router.url, nodes, `load${queue}`, s));
          await Bun.sleep(20);
        }
      })(),
    ]);
    const ackedPerSec = points / ((performance.now() - t0) / 1000);
    // Wait until every replica applied everything (the queue may still be draining).
    const drainStart = performance.now();
    await until("replicas drained", async () => {
      const r = await Promise.all(nodes.map(async (n) => (await postJson(`${n.url}/soltix.v1.StorageService/Query`, { database: "bench", collection: `c${queue}`, ids: ["device-1999"], limit: 10000 })).json.points?.length ?? 0));
      return r.every((x: number) => x === r[0]) ? true : undefined;
    }, 120_000);
    const drainMs = performance.now() - drainStart;

    // Lag at rest: one point per sample, then poll every replica until it is visible.
    const lags: number[] = [];
    for (let s = 0; s < SAMPLES; s++) lags.push(await lagSample(router.url, nodes, `lag${queue}`, s));
    const readyz = (await (await fetch(`${router.url}/readyz`)).json()) as { nodes_down: Array<{ id: string; hints_pending: number }>; hints: Array<{ node: string; pending: number; bytes: number; dropped: number }> };
    return {
      queue,
      live_replicas: nodes.length,
      down_node_backlog: oneDown ? { hints_pending: readyz.nodes_down.find((d) => d.id === "storage-3")?.hints_pending ?? -1, hint_buffer: readyz.hints } : undefined,
      batch_points: BATCH,
      in_flight: IN_FLIGHT,
      acked_points_per_sec: Math.round(ackedPerSec),
      replicated_points_per_sec_incl_drain: Math.round(points / ((SECONDS * 1000 + drainMs) / 1000)),
      drain_after_load_ms: round(drainMs),
      lag_at_rest_ms_p50: round(pct(lags, 50), 2),
      lag_at_rest_ms_p99: round(pct(lags, 99), 2),
      lag_at_rest_samples: SAMPLES,
      lag_under_load_ms_p50: round(pct(lagsUnderLoad, 50), 2),
      lag_under_load_ms_p99: round(pct(lagsUnderLoad, 99), 2),
      lag_under_load_samples: lagsUnderLoad.length,
      goal_points_per_sec: 100_000,
      soltix_claims_points_per_sec: 10_000,
      goal_lag_ms_p99: 100,
    };
  } finally {
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
