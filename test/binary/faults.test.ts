// Real-process faults on the compiled binary (2 replicas, a router, a real etcd): a flipped bit in a
// segment, a flipped bit in the WAL, a truncated WAL — each detected at restart or first read, never
// applied, never a crash loop, quarantined, and repaired from the replica (by the restart's startup
// sync, which compares every window, or by anti-entropy); and kill -9
// loops while a node is catching up by startup sync, after which it converges.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { cli, postJson, type RunningBinary } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { until } from "../support/wait.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";

const fx = etcdFixture("bin-faults");
const pool = fx.pool;

const DAY = 20_440n * NS_PER_DAY;
const ID = "dev-fault";
const GROUP = groupOf("f", "m", ID, 256);
const dataDir = (i: number) => `${fx.dir}/n${i}`;

/** `memstoreBytes`: 1 MiB makes segments quickly; the WAL steps use a large one, so no flush moves their records out of the WAL. */
function nodeArgs(i: number, memstoreBytes = 1024 * 1024): string[] {
  return ["node", "--node.id", `n${i}`, "--storage.data_dir", dataDir(i), "--server.port", "0", "--etcd.endpoints", fx.etcd().url, "--replication.factor", "2",
    "--storage.memstore_bytes_max", String(memstoreBytes), "--storage.sync.anti_entropy.settle", "0s", "--storage.sync.anti_entropy.interval", "1h", "--storage.sync.sync_batch_size", "200"];
}

const start = (args: string[]) => pool.start(args);

const addr = (n: RunningBinary) => `127.0.0.1:${n.port}`;

async function write(router: RunningBinary, from: number, to: number): Promise<void> {
  for (let b = from; b < to; b += 2000) {
    const points = [];
    for (let i = b; i < Math.min(to, b + 2000); i++) points.push({ id: ID, time: String(DAY + BigInt(i) * 3n * NS_PER_SECOND), v: i, note: "x".repeat(40) });
    const r = await postJson(`${router.url}/v1/databases/f/collections/m/write/batch`, { points });
    expect(r.status).toBe(200);
  }
}

function bytesUnder(dir: string): number {
  let n = 0;
  for (const sub of ["wal", "segments"]) {
    try {
      for (const f of readdirSync(`${dir}/${sub}`)) n += statSync(`${dir}/${sub}/${f}`).size;
    } catch {
      // not created yet
    }
  }
  return n;
}

function flipBit(path: string, at: number): void {
  const b = readFileSync(path);
  b[at] = b[at]! ^ 0x10;
  writeFileSync(path, b);
}

function newest(dir: string, re: RegExp): string {
  const names = readdirSync(dir).filter((n) => re.test(n)).sort();
  expect(names.length).toBeGreaterThan(0);
  return `${dir}/${names.at(-1)}`;
}

/**
 * Nothing corrupt was applied: the node logged the cut, and it holds no point the replica lacks and no
 * other version of one (at most it lacks points — startup sync may already have pulled them back).
 */
function onlyMissing(n1: RunningBinary, n2: RunningBinary): void {
  expect(n1.stderr()).toContain("wal: truncating invalid tail");
  const t = cli(["tree", "--nodes", `${addr(n1)},${addr(n2)}`, "--group", String(GROUP)]);
  if (t.code !== 0) expect(t.out).toMatch(/ 0 only on 127\.0\.0\.1:\d+, \d+ only on 127\.0\.0\.1:\d+, 0 in different versions/);
  else expect(t.out).toMatch(/equal/);
}

async function repairUntilEqual(n: RunningBinary, all: RunningBinary[], what: string): Promise<string> {
  return until(what, async () => {
    const r = cli(["repair", "--node", addr(n), "--group", String(GROUP)]);
    return cli(["checksum", "--nodes", all.map(addr).join(","), "--group", String(GROUP)]).code === 0 ? r.out : undefined;
  }, 30_000);
}

async function healthy(n: RunningBinary): Promise<void> {
  expect((await fetch(`${n.url}/healthz`)).status).toBe(200);
  await Bun.sleep(300);
  expect(n.proc.exitCode).toBeNull(); // still running: no crash loop
}

describe("faults on the compiled binary", () => {
  test("corrupt segment, corrupt and truncated WAL: detected, quarantined, repaired from the replica; kill -9 during sync converges", async () => {
    const nodes = [await start(nodeArgs(1)), await start(nodeArgs(2))];
    const router = await start(["router", "--server.port", "0", "--etcd.endpoints", fx.etcd().url, "--replication.factor", "2", "--replication.min_replicas_for_write", "2", "--replication.strategy", "sync"]);
    await until("router ready with 2 nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      return r.status === 200 && ((await r.json()) as { nodes: string[] }).nodes.length === 2 ? true : undefined;
    });
    await write(router, 0, 16_000);
    await until("n1 flushed a segment", async () => (readdirSync(`${dataDir(1)}/segments`).some((n) => n.endsWith(".seg")) ? true : undefined));

    // 1. A flipped bit in a segment: found when the segment is read, quarantined, repaired.
    expect(await nodes[0]!.stop()).toBe(0);
    const seg = newest(`${dataDir(1)}/segments`, /\.seg$/);
    flipBit(seg, Math.floor(statSync(seg).size / 2));
    nodes[0] = await start(nodeArgs(1));
    await healthy(nodes[0]!);
    const out1 = await repairUntilEqual(nodes[0]!, nodes, "segment repaired");
    // Repaired by the restart's own startup sync (its Merkle comparison of every window reads the
    // segment, quarantines it and pulls what it held), or at the latest by the operator's repair.
    if (!/repaired via (sketch|descent|full_resync)/.test(out1)) {
      await until("the startup sync's repair logged", async () => (nodes[0]!.stderr().includes("sync: windows repaired before serving") ? true : undefined), 10_000);
    }
    expect(readdirSync(`${dataDir(1)}/quarantine`).some((n) => n.startsWith(seg.split("/").pop()!))).toBe(true);
    const health = (await (await fetch(`${nodes[0]!.url}/healthz`)).json()) as { engine: { quarantined: number } };
    expect(health.engine.quarantined).toBeGreaterThanOrEqual(1);

    // 1b. A truncated segment (half of it gone): the same.
    expect(await nodes[0]!.stop()).toBe(0);
    const segs = readdirSync(`${dataDir(1)}/segments`).filter((n) => n.endsWith(".seg"));
    expect(segs.length).toBeGreaterThan(0);
    const seg2 = `${dataDir(1)}/segments/${segs.sort().at(-1)}`;
    truncateSync(seg2, Math.floor(statSync(seg2).size / 2));
    nodes[0] = await start(nodeArgs(1, 64 * 1024 * 1024));
    await healthy(nodes[0]!);
    await repairUntilEqual(nodes[0]!, nodes, "truncated segment repaired");
    expect(readdirSync(`${dataDir(1)}/quarantine`).some((n) => n.startsWith(seg2.split("/").pop()!))).toBe(true);

    // 2. A flipped bit inside the WAL of a killed node: the bad record and what follows it are not
    // applied (n1 then only lacks points), the cut bytes are quarantined, the replica fills the gap.
    await write(router, 16_000, 17_000);
    await nodes[0]!.kill9();
    const wal = newest(`${dataDir(1)}/wal`, /^wal-\d+\.log$/);
    expect(statSync(wal).size).toBeGreaterThan(1000);
    flipBit(wal, Math.floor(statSync(wal).size / 2));
    nodes[0] = await start(nodeArgs(1, 64 * 1024 * 1024));
    await healthy(nodes[0]!);
    onlyMissing(nodes[0]!, nodes[1]!);
    expect(readdirSync(`${dataDir(1)}/quarantine`).some((n) => n.startsWith(wal.split("/").pop()!))).toBe(true);
    await repairUntilEqual(nodes[0]!, nodes, "WAL bit flip repaired");

    // 3. A truncated WAL (a torn write): the partial record is dropped, the replica fills the gap.
    await write(router, 17_000, 17_500);
    await nodes[0]!.kill9();
    const wal2 = newest(`${dataDir(1)}/wal`, /^wal-\d+\.log$/);
    truncateSync(wal2, statSync(wal2).size - 7);
    nodes[0] = await start(nodeArgs(1, 64 * 1024 * 1024));
    await healthy(nodes[0]!);
    onlyMissing(nodes[0]!, nodes[1]!);
    await repairUntilEqual(nodes[0]!, nodes, "truncated WAL repaired");

    // 4. n2 loses its disk and is killed -9 again and again while startup sync pulls from n1.
    await nodes[1]!.kill9();
    rmSync(dataDir(2), { recursive: true, force: true });
    // Each cycle is killed once the sync has brought a further 100 kB (of ~0.86 MB: WAL plus compressed
    // segments — windows the verify finds missing arrive as segment files): mid-sync, and
    // every restart keeps what the previous ones made durable.
    const pulled: number[] = [];
    for (let cycle = 1; cycle <= 5; cycle++) {
      nodes[1] = await start(nodeArgs(2));
      await until(`sync cycle ${cycle} past ${cycle * 100} kB`, async () => (bytesUnder(dataDir(2)) > cycle * 100_000 ? true : undefined), 30_000, 5);
      await nodes[1]!.kill9();
      pulled.push(bytesUnder(dataDir(2)));
    }
    console.error(`kill -9 during startup sync: bytes on disk after each kill ${pulled.join(", ")}`);
    nodes[1] = await start(nodeArgs(2));
    await healthy(nodes[1]!);
    await until("n2 caught up after the kill -9 loop", async () => (cli(["checksum", "--nodes", nodes.map(addr).join(","), "--group", String(GROUP)]).code === 0 ? true : undefined), 60_000);
    // Every kill came before the sync was done.
    expect(pulled.at(-1)!).toBeLessThan(bytesUnder(dataDir(2)));
  }, 240_000);
});
