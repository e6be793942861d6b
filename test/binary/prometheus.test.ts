// A real Prometheus (Debian's 2.42) scrapes a cluster of compiled binaries (3 nodes with etcd, a
// router): a PromQL query over its HTTP API returns each node's ingest counter, equal to the points
// written (factor 3: every node stored every point), and the router's.

import { describe, expect, test } from "bun:test";
import { postJson, type RunningBinary } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { startPrometheus } from "../support/servers.ts";
import { until } from "../support/wait.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const fx = etcdFixture("bin-prometheus");

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;

async function promql(base: string, query: string): Promise<Vector> {
  const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await r.json()) as { status: string; data?: { result: Vector }; error?: string };
  if (body.status !== "success") throw new Error(`PromQL ${query}: ${body.error}`);
  return body.data!.result;
}

describe("Prometheus scrapes the compiled binaries", () => {
  test("3 nodes and a router: PromQL returns every node's ingest counter", async () => {
    const etcd = fx.etcd();
    const nodes: RunningBinary[] = [];
    for (let i = 1; i <= 3; i++) nodes.push(await fx.pool.start(["node", "--node.id", `pm-${i}`, "--storage.data_dir", `${fx.dir}/pm-${i}`, "--server.port", "0", "--etcd.endpoints", etcd.url]));
    const router = await fx.pool.start(["router", "--node.id", "pm-router", "--server.port", "0", "--etcd.endpoints", etcd.url, "--replication.strategy", "sync", "--replication.min_replicas_for_write", "3"]);
    await until("router ready with 3 nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      return r.status === 200 && ((await r.json()) as { nodes: string[] }).nodes.length === 3 ? true : undefined;
    });
    const day = 20_300n * NS_PER_DAY;
    const points = Array.from({ length: 300 }, (_, i) => ({ id: `p-${i % 20}`, time: String(day + BigInt(i) * 1_000_000_000n), v: i }));
    expect((await postJson(`${router.url}/v1/databases/prom/collections/c/write/batch`, { points })).status).toBe(200);
    const prom = await startPrometheus([...nodes, router].map((n) => `127.0.0.1:${n.port}`));
    try {
      const result = await until("Prometheus scraped every node's ingest counter", async () => {
        const v = await promql(prom.url, "soltix_ingest_points_total");
        return v.length === 3 && v.every((s) => Number(s.value[1]) === points.length) ? v : undefined;
      }, 30_000);
      expect(result.map((s) => s.metric.instance).sort()).toEqual(nodes.map((n) => `127.0.0.1:${n.port}`).sort());
      const sum = await promql(prom.url, "sum(soltix_ingest_points_total)");
      expect(Number(sum[0]!.value[1])).toBe(3 * points.length);
      // Prometheus scrapes each target at its own offset within the interval: the router's may come later.
      const routed = await until("Prometheus scraped the router", async () => {
        const v = await promql(prom.url, "soltix_router_points_total");
        return v.length > 0 ? v : undefined;
      }, 30_000);
      expect(routed.map((s) => Number(s.value[1]))).toEqual([points.length]);
      const up = await promql(prom.url, "up");
      expect(up.length).toBe(4);
      expect(up.every((s) => s.value[1] === "1")).toBe(true);
    } finally {
      await prom.stop();
    }
  }, 120_000);
});
