// Startup sync and anti-entropy on the compiled binaries with a real etcd (direct delivery, so a node
// that was down gets nothing from a queue: only sync can catch it up). Also drives the operator
// commands (soltix status / checksum / tree / repair) as an operator would.

import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { cli, postJson, type RunningBinary } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { until } from "../support/wait.ts";
import { EtcdMetadataStore } from "../../src/adapters/etcd-metadata.ts";
import type { WatchEvent } from "../../src/ports/metadata.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";

const fx = etcdFixture("bin-sync");
const pool = fx.pool;

const DAY = 20_420n * NS_PER_DAY;
const ID = "dev-sync";
const GROUP = groupOf("plant", "s", ID, 256);

function nodeArgs(i: number, extra: string[] = []): string[] {
  return ["node", "--node.id", `n${i}`, "--storage.data_dir", `${fx.dir}/n${i}`, "--server.port", "0", "--etcd.endpoints", fx.etcd().url,
    "--replication.factor", "3", "--storage.sync.anti_entropy.settle", "0s", ...extra];
}

const start = (args: string[]) => pool.start(args);

async function write(router: RunningBinary, from: number, to: number): Promise<void> {
  const points = [];
  for (let i = from; i < to; i++) points.push({ id: ID, time: String(DAY + BigInt(i) * 11n * NS_PER_SECOND), v: i });
  const r = await postJson(`${router.url}/v1/databases/plant/collections/s/write/batch`, { points });
  expect(r.status).toBe(200);
}

describe("sync on compiled binaries with etcd", () => {
  test("restart catches up (syncing → active in etcd); planted divergence is repaired by the sketch in one round trip; an empty disk is restored by the fallback", async () => {
    const nodes = [await start(nodeArgs(1)), await start(nodeArgs(2)), await start(nodeArgs(3))];
    const router = await start(["router", "--server.port", "0", "--etcd.endpoints", fx.etcd().url, "--replication.factor", "3", "--replication.min_replicas_for_write", "2", "--replication.strategy", "sync"]);
    await until("router ready with 3 nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      return r.status === 200 && ((await r.json()) as { nodes: string[] }).nodes.length === 3 ? true : undefined;
    });
    await write(router, 0, 2000);
    const addr = (n: RunningBinary) => `127.0.0.1:${n.port}`;

    // 1. n3 down, writes go on, n3 restarts and catches up by startup sync.
    await nodes[2]!.stop();
    await write(router, 2000, 4000);
    const store = new EtcdMetadataStore([fx.etcd().url]);
    const events: WatchEvent[] = [];
    const stopWatch = await store.watchPrefix(`/soltix/groups/${GROUP}`, (e) => events.push(e));
    nodes[2] = await start(nodeArgs(3));
    await until("n3 caught up", async () => (cli(["checksum", "--nodes", nodes.map(addr).join(","), "--group", String(GROUP)]).code === 0 ? true : undefined), 30_000);
    await until("syncing → active seen in etcd", async () => {
      const states = events.filter((e) => e.type === "put").map((e) => (e.type === "put" ? (JSON.parse(e.value) as { state: string }).state : ""));
      return states.includes("syncing") && states.at(-1) === "active" ? true : undefined;
    });
    await stopWatch();
    const status = cli(["status", "--node", addr(nodes[2]!)]);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`${GROUP}\\s+active\\s+serving\\s+4000`));
    expect(status.out).toMatch(/done \d+ pts/);

    // 2. Divergence planted on n1 only: anti-entropy on n2 takes it by the sketch (the replica peels
    // the difference and answers the 3 points with its roots) and repairs it; n3 lacked them too:
    // n2 gives them to it (a second round trip).
    const planted = [1, 2, 3].map((k) => ({ database: "plant", collection: "s", id: ID, time: String(DAY + BigInt(k)), insertedAt: "5", fields: { v: { numberValue: k } } }));
    expect((await postJson(`http://${addr(nodes[0]!)}/soltix.v1.StorageService/Write`, { points: planted })).status).toBe(200);
    const tree = cli(["tree", "--nodes", `${addr(nodes[0]!)},${addr(nodes[1]!)}`, "--group", String(GROUP)]);
    expect(tree.code).toBe(3);
    expect(tree.out).toMatch(/3 only on 127\.0\.0\.1:\d+, 0 only on/);
    const repair = cli(["repair", "--node", addr(nodes[1]!), "--group", String(GROUP)]);
    expect(repair.out).toMatch(/peer n1\s+repaired via sketch\s+3 repaired \/ 3 differing, 1 round trips/);
    expect(repair.out).toMatch(/peer n3\s+repaired via sketch\s+3 repaired \/ 3 differing, 2 round trips/);
    expect(repair.out).not.toMatch(/full_resync/);
    expect(cli(["tree", "--nodes", `${addr(nodes[0]!)},${addr(nodes[1]!)}`, "--group", String(GROUP)]).code).toBe(0);

    // 3. n3 loses its disk and comes back with startup sync off: anti-entropy restores it whole.
    await nodes[2]!.kill9();
    rmSync(`${fx.dir}/n3`, { recursive: true, force: true });
    nodes[2] = await start(nodeArgs(3, ["--storage.sync.startup_sync", "false"]));
    await until("n3 registered again", async () => ((await fetch(`${nodes[2]!.url}/readyz`)).status === 200 ? true : undefined));
    const restore = await until("n3 restored by anti-entropy", async () => {
      const r = cli(["repair", "--node", addr(nodes[2]!), "--group", String(GROUP)]);
      return /full_resync/.test(r.out) ? r : undefined;
    });
    expect(restore.out).toMatch(/repaired via full_resync/);
    expect(restore.out).toMatch(/point counts differ by 100%/);
    expect(cli(["checksum", "--nodes", nodes.map(addr).join(","), "--group", String(GROUP)]).code).toBe(0);
    await store.close();
  });
});
