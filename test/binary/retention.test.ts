// Retention on the compiled binaries with a real etcd (DESIGN §11): three nodes (factor 3) and a
// router; a database created with its retention honoured and shown; points written over 12 days;
// one node stopped; the database's retention shortened through the router → the old windows vanish
// from the running nodes' data dirs; the stopped node restarts → its old windows vanish too, and
// neither its startup sync nor anti-entropy (the operator's repair) brings them back anywhere; every
// point inside the retention is still readable; bad retentions are refused naming the field and
// change nothing.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { cli, postJson, readAllThroughRouter, startBinary, type RunningBinary } from "../support/binary.ts";
import { startEtcd, type RunningServer } from "../support/servers.ts";
import { tempDir } from "../support/engine.ts";
import { until } from "../support/wait.ts";
import { windowSums } from "../support/checksums.ts";
import { NS_PER_DAY, nsToIso, windowStartNs } from "../../src/base/time.ts";
import { groupOf } from "../../src/model/group.ts";

const tmp = tempDir("bin-retention");
let etcd: RunningServer;
const procs: RunningBinary[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const p of procs) await p.kill9().catch(() => {});
  await etcd?.stop();
  tmp.cleanup();
});

const DB = "life";
const COLL = "meters";
const IDS = Array.from({ length: 12 }, (_, i) => `m-${i}`);
const DAYS = 12;
const GROUPS = 8;

async function start(args: string[]): Promise<RunningBinary> {
  const b = await startBinary(args);
  procs.push(b);
  return b;
}

/** Day numbers of the segment files in a node's data dir. */
function daysOnDisk(id: string): Set<number> {
  const files = readdirSync(`${tmp.dir}/${id}/segments`).filter((f) => f.endsWith(".seg"));
  return new Set(files.map((f) => Number(/-d(\d+)-/.exec(f)![1])));
}

describe("retention on the compiled binaries", () => {
  test("a shortened retention drops old windows on every node, also on one that was down, and nothing brings them back", async () => {
    const ids = [1, 2, 3].map((i) => `ret-${i}`);
    const common = ["--etcd.endpoints", etcd.url, "--coordinator.total_groups", String(GROUPS)];
    const nodeArgs = (i: number) => ["node", "--node.id", ids[i]!, "--storage.data_dir", `${tmp.dir}/${ids[i]}`, "--server.port", "0", ...common];
    const nodes: RunningBinary[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await start(nodeArgs(i)));
    const router = await start(["router", "--node.id", "ret-router", "--server.port", "0", ...common, "--replication.strategy", "sync", "--replication.min_replicas_for_write", "3"]);
    await until("router ready with 3 nodes", async () => {
      const r = await fetch(`${router.url}/readyz`);
      return r.status === 200 && ((await r.json()) as { nodes: string[] }).nodes.length === 3 ? true : undefined;
    });

    // Bad retentions: refused, naming the field and the value; nothing created.
    for (const [retention, words] of [["forever", "not a duration"], ["30m", "minimum of 1h"], [7, "duration string"], ["-3d", "not a duration"]] as const) {
      const r = await postJson(`${router.url}/v1/databases`, { name: DB, retention });
      expect(r.status).toBe(400);
      expect(r.json.message).toContain("retention");
      expect(r.json.message).toContain(words);
    }
    expect((await fetch(`${router.url}/v1/databases/${DB}`)).status).toBe(404);
    // Created with its retention honoured (forever), shown by GET.
    const made = await postJson(`${router.url}/v1/databases`, { name: DB, retention: "0" });
    expect(made.status).toBe(200);
    expect(made.json).toMatchObject({ name: DB, retention: "0", created: true });
    expect(await (await fetch(`${router.url}/v1/databases/${DB}`)).json()).toMatchObject({ name: DB, retention: "0" });

    // 12 days of points ending today.
    const today = windowStartNs(BigInt(Date.now()) * 1_000_000n);
    const points: Array<{ id: string; time: string; v: number }> = [];
    for (let d = 0; d < DAYS; d++) for (const id of IDS) for (let k = 0; k < 3; k++) points.push({ id, time: nsToIso(today - BigInt(DAYS - 1 - d) * NS_PER_DAY + BigInt(k) * 3_600_000_000_000n), v: d * 100 + k });
    const w = await postJson(`${router.url}/v1/databases/${DB}/collections/${COLL}/write/batch`, { points });
    expect(w.status).toBe(200);
    const all = await readAllThroughRouter(router.url, DB, COLL, IDS);
    expect(all.size).toBe(points.length);
    const windows = new Set(points.map((p) => `${groupOf(DB, COLL, p.id, GROUPS)}:${windowStartNs(BigInt(Date.parse(p.time)) * 1_000_000n)}`));
    const sums = await windowSums(nodes, windows);
    expect(sums[1]).toBe(sums[0]!);
    expect(sums[2]).toBe(sums[0]!);

    // Node 3 stops (clean: its memory is flushed to segments); the retention becomes 5 days.
    await nodes[2]!.stop();
    const firstDay = Number(today / NS_PER_DAY) - (DAYS - 1);
    expect(daysOnDisk(ids[2]!).has(firstDay)).toBe(true);
    const changed = await (await fetch(`${router.url}/v1/databases/${DB}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ retention: "5d" }) })).json();
    expect(changed).toMatchObject({ name: DB, retention: "5d", created: false });
    // A window expires once it ends 5 days ago: today and the 4 days before it... and the day whose end is within 5 days.
    const horizon = BigInt(Date.now()) * 1_000_000n - 5n * NS_PER_DAY;
    const live = (day: number) => BigInt(day + 1) * NS_PER_DAY > horizon;
    const oldDays = Array.from({ length: DAYS }, (_, i) => firstDay + i).filter((d) => !live(d));
    expect(oldDays.length).toBeGreaterThanOrEqual(6);
    for (const i of [0, 1]) {
      await until(`node ${ids[i]} dropped the expired windows`, async () => (oldDays.every((d) => !daysOnDisk(ids[i]!).has(d)) ? true : undefined), 30_000);
    }
    // Node 3 still has them on disk — until it starts.
    expect(oldDays.some((d) => daysOnDisk(ids[2]!).has(d))).toBe(true);
    nodes[2] = await start(nodeArgs(2));
    await until("node 3 ready", async () => ((await fetch(`${nodes[2]!.url}/readyz`)).status === 200 ? true : undefined));
    await until("node 3 dropped the expired windows at start", async () => (oldDays.every((d) => !daysOnDisk(ids[2]!).has(d)) ? true : undefined), 30_000);
    for (const i of [0, 1, 2]) expect(oldDays.filter((d) => daysOnDisk(ids[i]!).has(d))).toEqual([]);
    // Anti-entropy between all of them (the operator's repair, every group): nothing comes back.
    for (const n of nodes) {
      for (let g = 0; g < GROUPS; g++) {
        const r = cli(["repair", "--node", n.url.replace("http://", ""), "--group", String(g)]);
        expect(r.code).toBe(0);
      }
    }
    for (const i of [0, 1, 2]) expect(oldDays.filter((d) => daysOnDisk(ids[i]!).has(d))).toEqual([]);
    // Every point inside the retention is still there, on every replica alike; none outside is read.
    const kept = points.filter((p) => live(Number(windowStartNs(BigInt(Date.parse(p.time)) * 1_000_000n) / NS_PER_DAY)));
    const read = await readAllThroughRouter(router.url, DB, COLL, IDS);
    expect(read.size).toBe(kept.length);
    const liveWindows = [...windows].filter((x) => live(Number(BigInt(x.split(":")[1]!) / NS_PER_DAY)));
    const after = await windowSums(nodes, liveWindows);
    expect(after[1]).toBe(after[0]!);
    expect(after[2]).toBe(after[0]!);
    // A late write into an expired window is not stored.
    const late = await postJson(`${router.url}/v1/databases/${DB}/collections/${COLL}/write`, { id: IDS[0], time: nsToIso(BigInt(oldDays[0]!) * NS_PER_DAY + 1000n), v: 1 });
    expect(late.status).toBe(200);
    expect((await readAllThroughRouter(router.url, DB, COLL, IDS)).size).toBe(kept.length);
  }, 240_000);
});
