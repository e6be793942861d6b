// The status page in a real browser (DESIGN §12), on the compiled binaries with a real etcd: three
// nodes (replication.factor 2) hold some days of data and run anti-entropy; one is stopped (its
// registration goes: down) and a fourth joins with cluster.move_bytes_per_sec low enough that its
// moves take a while. Headless Chromium (apt chromium-headless-shell) loads the router's `/`, whose
// script reads `/api/status`; the DOM it draws shows the stopped node down, a move with a progress
// bar, and a heat map of anti-entropy results by (group × day); a screenshot is kept in
// test-artifacts/. The JSON endpoint is checked too, on the router and on a node (and against the
// README's example).

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { postJson } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { until } from "../support/wait.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import type { StatusJson, StatusSync } from "../../src/app/status.ts";

const fx = etcdFixture("bin-status-page");
const pool = fx.pool;

const CHROMIUM = ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"].find((p) => existsSync(p));
const DAYS = 5;
const DEVICES = 30;
const PER_DAY = 40;
const GROUPS = 4;
// Real time: anti-entropy compares only windows older than its settle time, so the days are the last ones.
const DAY0 = (BigInt(Date.now()) * 1_000_000n / NS_PER_DAY - BigInt(DAYS)) * NS_PER_DAY;

const common = () => ["--etcd.endpoints", fx.etcd().url, "--replication.factor", "2", "--coordinator.total_groups", String(GROUPS)];
const nodeArgs = (id: string) => [
  "node", "--node.id", id, "--storage.data_dir", `${fx.dir}/${id}`, "--server.port", "0", ...common(),
  "--cluster.plan_interval", "300ms", "--cluster.move_bytes_per_sec", "2000", "--cluster.dead_node_timeout", "0",
  "--storage.sync.anti_entropy.settle", "0s", "--storage.sync.anti_entropy.interval", "1s",
];

/** Chromium's DOM of `url` after its scripts ran (virtual time lets the fetch and render finish). */
function dumpDom(url: string): string {
  const r = Bun.spawnSync([CHROMIUM!, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--virtual-time-budget=5000", "--dump-dom", url], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`chromium exited ${r.exitCode}: ${r.stderr.toString().slice(-2000)}`);
  const dom = r.stdout.toString();
  return dom.slice(0, dom.indexOf("<script")); // the drawn document, not the script's source
}

function heatCells(dom: string): Array<{ result: string; group: string; day: string }> {
  return [...dom.matchAll(/class="cell heat-cell ([a-z_]*)"[^>]*data-group="(\d+)" data-day="([\d-]+)"/g)].map((m) => ({ result: m[1]!, group: m[2]!, day: m[3]! }));
}

const status = async (url: string): Promise<StatusJson> => {
  const r = await fetch(`${url}/api/status`);
  expect(r.status).toBe(200);
  return (await r.json()) as StatusJson;
};

describe("status page (compiled binaries, etcd, headless Chromium)", () => {
  test("a stopped node shows down, a slow join shows its moves with progress, anti-entropy shows as a heat map", async () => {
    expect(CHROMIUM).toBeDefined(); // installed by scripts/install-servers.sh
    const a = await pool.start(nodeArgs("a"));
    const b = await pool.start(nodeArgs("b"));
    const c = await pool.start(nodeArgs("c"));
    const router = await pool.start(["router", "--server.port", "0", ...common(), "--replication.strategy", "sync"]);
    await until("router sees 3 nodes", async () => (((await (await fetch(`${router.url}/readyz`)).json()) as { nodes: string[] }).nodes.length === 3 ? true : undefined));
    for (let day = 0; day < DAYS; day++) {
      const points = [];
      for (let d = 0; d < DEVICES; d++) for (let k = 0; k < PER_DAY; k++) points.push({ id: `dev-${d}`, time: String(DAY0 + BigInt(day) * NS_PER_DAY + BigInt(k * 900 + d) * NS_PER_SECOND), v: day * 10_000 + d * 100 + k });
      expect((await postJson(`${router.url}/v1/databases/m/collections/c/write/batch`, { points })).status).toBe(200);
    }
    // Anti-entropy has compared every group's windows (each node reports its own results).
    await until("anti-entropy results for every group", async () => {
      const s = await status(router.url);
      const groups = new Set(s.windows.map((w) => w.group_id));
      return groups.size === GROUPS && s.windows.every((w) => w.result === "in_sync") ? true : undefined;
    }, 60_000, 200);

    // The page in a real browser: every (group × day) window compared and in sync.
    const html = await (await fetch(`${router.url}/`)).text();
    expect(html).toContain("<title>soltix status</title>");
    expect(await (await fetch(`${router.url}/status`)).text()).toBe(html);
    const before = heatCells(dumpDom(`${router.url}/`));
    expect(new Set(before.map((c) => c.group)).size).toBe(GROUPS);
    expect(new Set(before.map((c) => c.day)).size).toBe(DAYS);
    expect(before.filter((c) => c.result === "in_sync").length).toBe(GROUPS * DAYS);

    // A node's own status: its groups, each with replicas and state.
    const sa = await status(a.url);
    expect(sa.role).toBe("node");
    expect(sa.id).toBe("a");
    expect(sa.groups.length).toBeGreaterThan(0);
    for (const g of sa.groups) {
      expect(g.replicas).toContain("a");
      expect(g.state).toBe("serving");
    }
    expect(sa.windows.every((w) => w.node === "a")).toBe(true);

    // c stops (its registration is removed); d joins and its moves crawl.
    expect(await c.stop()).toBe(0);
    const d = await pool.start(nodeArgs("d"));
    const s = await until("c down and a move of d under way", async () => {
      const st = await status(router.url);
      const cDown = st.nodes.find((n) => n.id === "c")?.health === "down";
      const moving = st.moves.some((m) => m.join === "d" && m.phase === "fill" && m.windows_done > 0 && m.windows_done < m.windows_total);
      return cDown && moving ? st : undefined;
    }, 60_000, 100);
    expect(s.role).toBe("router");
    expect(s.errors).toEqual([]);
    expect(s.nodes.map((n) => `${n.id}:${n.health}`)).toEqual(["a:up", "b:up", "c:down", "d:up"]);
    expect(s.nodes.find((n) => n.id === "c")!.down_since).not.toBeNull();
    const move = s.moves.find((m) => m.join === "d" && m.phase === "fill")!;
    expect(move.progress).toBeGreaterThan(0);
    expect(move.progress).toBeLessThan(1);

    // The page draws the same.
    const dom = dumpDom(`${router.url}/`);
    expect(dom).toContain("soltix router");
    const rows = [...dom.matchAll(/class="node-row" data-node="([^"]+)" data-health="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(rows).toEqual(["a:up", "b:up", "c:down", "d:up"]);
    const bars = [...dom.matchAll(/class="move-row" data-group="(\d+)">.*?role="progressbar" aria-valuenow="(\d+)"/g)];
    expect(bars.length).toBeGreaterThan(0);
    // Every cell still has a result; a group of c's compared since c stopped shows failed (c unreachable).
    const after = heatCells(dom);
    expect(after.length).toBeGreaterThanOrEqual(GROUPS * DAYS);
    expect(after.every((c) => ["in_sync", "repaired", "partial", "failed"].includes(c.result))).toBe(true);
    expect(dom).not.toContain("cannot read /api/status");

    // The README's example of the JSON has the same keys as the real one.
    const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8").split("## Status page")[1]!;
    const example = JSON.parse(readme.split("```json")[1]!.split("```")[0]!) as Record<string, unknown>;
    const keys = (o: unknown) => Object.keys(o as object).sort();
    expect(keys(example)).toEqual(keys(s));
    for (const part of ["nodes", "groups", "moves", "windows"] as const) expect(keys((example[part] as unknown[])[0])).toEqual(keys(s[part][0]));
    const syncExample = { node: "a", group_id: 0, state: "", phase: "", points: 0, expected_points: 0, progress: 0, eta_seconds: 0 } satisfies StatusSync;
    expect(keys((example.syncs as unknown[])[0])).toEqual(keys(syncExample));

    // A screenshot of it, kept as a test artifact: test-artifacts/status-page.png (not in git).
    const shot = join(import.meta.dir, "..", "..", "test-artifacts", "status-page.png");
    mkdirSync(dirname(shot), { recursive: true });
    rmSync(shot, { force: true });
    Bun.spawnSync([CHROMIUM!, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--window-size=1200,1000", `--screenshot=${shot}`, `${router.url}/`], { timeout: 60_000 });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.log(`status page screenshot: ${shot}`);
    void d;
  }, 180_000);
});
