// The node and the router on Deno (`deno run -A src/main.ts …`, DESIGN §8) beside the compiled binary
// on Bun, with a real etcd: a Deno router writes to a Bun node and a Deno node (factor 2); the two
// replicas are made to differ (points written to each alone, a delete on one alone); anti-entropy —
// the operator's repair on each — makes them identical; reads through the Deno router see it all.

import { describe, expect, test } from "bun:test";
import { cli, denoCommand, postJson, type RunningBinary } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { windowSums } from "../support/checksums.ts";
import { until } from "../support/wait.ts";
import { NS_PER_DAY, windowStartNs } from "../../src/base/time.ts";
import { groupOf } from "../../src/model/group.ts";

const fx = etcdFixture("bin-deno");
const GROUPS = 4;

describe("a Bun node and a Deno node", () => {
  test("a router on Deno writes to both; anti-entropy repairs between them; replicas identical", async () => {
    const etcd = fx.etcd();
    const common = ["--etcd.endpoints", etcd.url, "--coordinator.total_groups", String(GROUPS), "--replication.factor", "2", "--storage.sync.anti_entropy.settle", "0s"];
    const bunNode = await fx.pool.start(["node", "--node.id", "on-bun", "--storage.data_dir", `${fx.dir}/on-bun`, "--server.port", "0", ...common]);
    const denoNode = await fx.pool.start(["node", "--node.id", "on-deno", "--storage.data_dir", `${fx.dir}/on-deno`, "--server.port", "0", ...common], denoCommand());
    const router = await fx.pool.start(["router", "--node.id", "deno-router", "--server.port", "0", ...common, "--replication.strategy", "sync", "--replication.min_replicas_for_write", "2"], denoCommand());
    await until("the Deno router sees both nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      return r.status === 200 && ((await r.json()) as { nodes: string[] }).nodes.length === 2 ? true : undefined;
    }, 60_000);
    const day = 20_400n * NS_PER_DAY;
    const ids = Array.from({ length: 8 }, (_, i) => `mix-${i}`);
    const points = ids.flatMap((id) => Array.from({ length: 20 }, (_, k) => ({ id, time: String(day + BigInt(k) * 3_600_000_000_000n), v: k })));
    expect((await postJson(`${router.url}/v1/databases/mix/collections/m/write/batch`, { points })).status).toBe(200);
    const windows = new Set(ids.flatMap((id) => [0n, 1n].map((d) => `${groupOf("mix", "m", id, GROUPS)}:${windowStartNs(day + d * NS_PER_DAY)}`)));
    const nodes: RunningBinary[] = [bunNode, denoNode];
    let sums = await windowSums(nodes, windows);
    expect(sums[1]).toBe(sums[0]!);
    // Divergence: points only on the Bun node, others only on the Deno node, a delete only on the Deno node.
    const only = (n: RunningBinary, id: string, k: number) =>
      postJson(`${n.url}/soltix.v1.StorageService/Write`, { points: [{ database: "mix", collection: "m", id, time: String(day + BigInt(k) * 60_000_000_000n + 1n), fields: { v: { numberValue: k } } }] });
    for (let k = 0; k < 5; k++) expect((await only(bunNode, "mix-1", k)).status).toBe(200);
    for (let k = 0; k < 5; k++) expect((await only(denoNode, "mix-2", k)).status).toBe(200);
    expect((await postJson(`${denoNode.url}/soltix.v1.StorageService/Delete`, { database: "mix", collection: "m", ids: ["mix-3"], startTime: String(day), endTime: String(day + 6n * 3_600_000_000_000n) })).status).toBe(200);
    sums = await windowSums(nodes, windows);
    expect(sums[1]).not.toBe(sums[0]!);
    // The operator's repair of every group on each node: each pulls what it lacks (tombstones first).
    for (const n of nodes) for (let g = 0; g < GROUPS; g++) expect(cli(["repair", "--node", n.url.replace("http://", ""), "--group", String(g)]).code).toBe(0);
    await until("replicas identical after anti-entropy", async () => {
      const s = await windowSums(nodes, windows);
      return s[0] === s[1] ? s : undefined;
    }, 30_000);
    // Through the Deno router: the points only one node had, none of the deleted ones.
    const q = await fetch(`${router.url}/v1/databases/mix/collections/m/query?ids=mix-1,mix-2,mix-3&consistency=all`);
    expect(q.status).toBe(200);
    const got = ((await q.json()) as { points: Array<{ id: string }> }).points;
    expect(got.filter((p) => p.id === "mix-1").length).toBe(25);
    expect(got.filter((p) => p.id === "mix-2").length).toBe(25);
    expect(got.filter((p) => p.id === "mix-3").length).toBe(14);
  }, 180_000);
});
