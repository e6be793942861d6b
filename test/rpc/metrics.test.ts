// Prometheus metrics (DESIGN §12) on router + 3 nodes in one process (direct delivery, real sockets):
// after writes, a delete, reads and an anti-entropy run, every /metrics page passes the real parser
// (`promtool check metrics`, Debian's prometheus) and holds the counters of what happened — ingest,
// WAL fsync and flush histograms, memory by budget, anti-entropy, tombstones, HTTP by route and code.

import { systemPlatform } from "../../src/adapters/platform.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";
import { tempDir } from "../support/engine.ts";
import { postJson } from "../support/binary.ts";
import { promtoolCheck } from "../support/servers.ts";
import { MetricsRegistry } from "../../src/metrics/registry.ts";

const tmp = tempDir("metrics");
let cluster: LocalCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  tmp.cleanup();
});

/** The value of one sample of a page ("name{labels}" exactly as rendered), or undefined. */
function sample(page: string, series: string): number | undefined {
  const line = page.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Prometheus metrics", () => {
  test("every node's and the router's /metrics passes promtool and counts what happened", async () => {
    cluster = await startLocalCluster({ nodes: 3, dir: tmp.dir, routerPort: 0 }, { platform: systemPlatform(serveWithBun), logger: silentLogger });
    const c = cluster;
    const day = 20_100n * NS_PER_DAY;
    const points = Array.from({ length: 50 }, (_, i) => ({ id: `m-${i % 5}`, time: String(day + BigInt(i) * 1_000_000_000n), v: i }));
    expect((await postJson(`${c.routerUrl}/v1/databases/mx/collections/c/write/batch`, { points })).status).toBe(200);
    expect((await postJson(`${c.routerUrl}/v1/databases/mx/collections/c/write/batch`, { points: [{ id: "../x", time: "1", v: 1 }] })).status).toBe(400);
    const bad = await postJson(`${c.nodes[0]!.url}/soltix.v1.StorageService/Write`, { points: [{ database: "mx", collection: "c", id: "a/b", time: "1", fields: { v: { numberValue: 1 } } }] });
    expect(bad.status).toBe(400);
    expect((await fetch(`${c.routerUrl}/v1/databases/mx/collections/c/points?ids=m-1`, { method: "DELETE" })).status).toBe(200);
    expect((await fetch(`${c.routerUrl}/v1/databases/mx/collections/c/query?ids=m-2`)).status).toBe(200);
    await c.nodes[0]!.node.engine.flush();
    for (const g of c.nodes[0]!.node.sync.syncer!.heldGroups()) await c.nodes[0]!.node.sync.antiEntropy!.runGroup(g);

    const pages = [await (await fetch(`${c.routerUrl}/metrics`)).text(), ...(await Promise.all(c.nodes.map(async (n) => (await fetch(`${n.url}/metrics`)).text())))];
    for (const page of pages) {
      const check = promtoolCheck(page);
      expect({ code: check.code, out: check.out }).toEqual({ code: 0, out: "" });
      expect(page).toContain("# TYPE soltix_build_info gauge");
      expect(page).toContain("soltix_http_request_duration_seconds_bucket{");
    }
    const [router, node1] = [pages[0]!, pages[1]!];
    expect(sample(router, "soltix_router_points_total")).toBe(50);
    expect(sample(router, "soltix_router_deletes_total")).toBe(1);
    expect(sample(router, 'soltix_http_requests_total{code="400",route="/v1/databases/:db/collections/:coll/write/batch"}')).toBe(1);
    expect(sample(router, 'soltix_http_requests_total{code="200",route="/v1/databases/:db/collections/:coll/query"}')).toBe(1);
    expect(sample(node1, "soltix_ingest_points_total")).toBe(50);
    expect(sample(node1, "soltix_ingest_batches_total")).toBeGreaterThanOrEqual(1);
    expect(sample(node1, 'soltix_ingest_rejected_total{reason="invalid_argument"}')).toBe(1);
    expect(sample(node1, "soltix_wal_fsync_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(sample(node1, "soltix_flush_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(sample(node1, "soltix_flushes_total")).toBeGreaterThanOrEqual(1);
    expect(sample(node1, 'soltix_memory_budget_bytes{budget="memstore"}')).toBeGreaterThan(0);
    expect(sample(node1, "soltix_points_deleted_total")).toBe(10);
    expect(sample(node1, "soltix_tombstones")).toBeGreaterThanOrEqual(1);
    expect(sample(node1, "soltix_anti_entropy_runs_total")).toBeGreaterThanOrEqual(1);
    expect(node1).toMatch(/soltix_anti_entropy_windows_total\{path="roots",result="in_sync"\} [1-9]/);
    expect(node1).toMatch(/soltix_anti_entropy_last_verified_age_seconds\{group="\d+"\} /);
    expect(node1).toMatch(/soltix_startup_sync_progress_ratio\{group="\d+"\} 1/);
    expect(sample(node1, 'soltix_http_requests_total{code="400",route="/soltix.v1.StorageService/Write"}')).toBe(1);
  }, 60_000);

  test("the exposition: names, escaping, histograms; a registry refuses bad names and counters without _total", async () => {
    const r = new MetricsRegistry();
    r.counter("soltix_x_total", 'help with \\ and "quotes"\nand a newline').inc({ path: 'a"b\\c\nd' }, 2);
    r.histogram("soltix_y_seconds", "a histogram", [0.1, 1]).observe(0.5, { k: "v" });
    r.collect("soltix_z", "collected", "gauge", () => [{ value: NaN }]);
    r.collect("soltix_broken", "a collector that throws is left empty", "gauge", () => {
      throw new Error("no");
    });
    const text = await r.render();
    expect(text).toContain('# HELP soltix_x_total help with \\\\ and "quotes"\\nand a newline');
    expect(text).toContain('soltix_x_total{path="a\\"b\\\\c\\nd"} 2');
    expect(text).toContain('soltix_y_seconds_bucket{k="v",le="0.1"} 0');
    expect(text).toContain('soltix_y_seconds_bucket{k="v",le="1"} 1');
    expect(text).toContain('soltix_y_seconds_bucket{k="v",le="+Inf"} 1');
    expect(text).toContain("soltix_z NaN");
    expect(promtoolCheck(text).code).toBe(0);
    expect(() => r.counter("soltix_bad", "x")).toThrow(/_total/);
    expect(() => r.gauge("bad-name", "x")).toThrow(/not a Prometheus name/);
    expect(() => r.gauge("soltix_z", "x")).toThrow(/twice/);
  });
});
