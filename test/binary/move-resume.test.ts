// A move killed halfway, on the compiled binaries with a real etcd: node "a" holds a group's 24 day
// windows (replication.factor 1); a second node joins and the planner moves the group to it, with
// cluster.move_bytes_per_sec low enough that the fill takes seconds. The joining node is kill -9'ed
// after some windows, restarted, and its next attempt finds those windows already held (compared by
// root, not fetched again); then the source is kill -9'ed mid-fill and restarted, and the attempt after
// that again skips what was done. The move finishes: the group is the joiner's alone, the source
// drops its copy, and every acknowledged point is read back through the router.

import { describe, expect, test } from "bun:test";
import { postJson, readAllThroughRouter, type RunningBinary } from "../support/binary.ts";
import { etcdFixture } from "../support/etcd-fixture.ts";
import { until } from "../support/wait.ts";
import { desiredNodes } from "../../src/cluster/planner.ts";
import { groupOf } from "../../src/model/group.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";

const fx = etcdFixture("bin-move-resume");
const pool = fx.pool;
const tmp = { dir: fx.dir };

const DAY0 = 20_320n * NS_PER_DAY;
const DAYS = 24;
const DEVICES = 40;
const PER_DAY = 60;
const GROUPS = 2;

const common = () => ["--etcd.endpoints", fx.etcd().url, "--replication.factor", "1", "--coordinator.total_groups", String(GROUPS)];
const nodeArgs = (id: string) => [
  "node", "--node.id", id, "--storage.data_dir", `${tmp.dir}/${id}`, "--server.port", "0", ...common(),
  "--cluster.plan_interval", "300ms", "--cluster.move_bytes_per_sec", "3000", "--cluster.dead_node_timeout", "0",
  "--storage.sync.anti_entropy.settle", "0s", "--log.level", "info",
];

interface Move { groupId?: number; join: string; phase: string; windowsDone?: number; windowsTotal?: number; windowsSkipped?: number; attempts?: number; bytes?: string; error?: string }
const moves = async (via: RunningBinary): Promise<Move[]> =>
  (((await postJson(`${via.url}/soltix.v1.AdminService/GetClusterStatus`, {}).catch(() => ({ json: {} }))).json as { moves?: Move[] }).moves ?? []);

/** Polls the move of `group` to `join` through `via` until `ok` holds; returns that move. */
async function moveWhere(via: () => RunningBinary, group: number, join: string, what: string, ok: (m: Move) => boolean): Promise<Move> {
  let seen: Move[] = [];
  try {
    return await until(what, async () => {
      seen = await moves(via());
      return seen.find((m) => (m.groupId ?? 0) === group && m.join === join && ok(m));
    }, 120_000, 100);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; last moves seen: ${JSON.stringify(seen)}; log of ${via().port}: ${via().stderr().slice(-3000)}`);
  }
}

describe("a move killed halfway resumes (compiled binaries, etcd)", () => {
  test("joining node and source node each kill -9'ed mid-fill: the next attempt skips the finished windows", async () => {
    // A joiner id that takes exactly one of the two groups from "a".
    const joinId = ["b", "c", "d", "e", "f", "g", "h"].find((id) => [0, 1].filter((g) => desiredNodes(g, ["a", id], 1)[0] === id).length === 1)!;
    const group = [0, 1].find((g) => desiredNodes(g, ["a", joinId], 1)[0] === joinId)!;
    let a = await pool.start(nodeArgs("a"));
    const router = await pool.start(["router", "--server.port", "0", ...common(), "--replication.strategy", "sync"]);
    await until("router sees a", async () => (((await (await fetch(`${router.url}/readyz`)).json()) as { nodes: string[] }).nodes.length === 1 ? true : undefined));
    // 24 days of unique points, every one acknowledged.
    const acked = new Set<string>();
    for (let day = 0; day < DAYS; day++) {
      const points = [];
      for (let d = 0; d < DEVICES; d++) for (let k = 0; k < PER_DAY; k++) points.push({ id: `dev-${d}`, time: String(DAY0 + BigInt(day) * NS_PER_DAY + BigInt(k * 600 + d) * NS_PER_SECOND), v: day * 10_000 + d * 100 + k });
      const r = await postJson(`${router.url}/v1/databases/m/collections/c/write/batch`, { points });
      expect(r.status).toBe(200);
      for (const p of points) acked.add(`${p.id}/${p.time}`);
    }
    const inGroup = [...Array(DEVICES).keys()].filter((d) => groupOf("m", "c", `dev-${d}`, GROUPS) === group).length;
    expect(inGroup).toBeGreaterThan(0);

    // 1. The joiner fills some windows, then dies.
    let j = await pool.start(nodeArgs(joinId));
    const first = await moveWhere(() => a, group, joinId, "first attempt past 6 windows", (m) => m.phase === "fill" && (m.windowsDone ?? 0) >= 6);
    await j.kill9();
    const doneBeforeJoinerKill = first.windowsDone ?? 0;
    expect(first.windowsTotal).toBe(DAYS);

    // 2. Restarted, it resumes: the windows it finished cost their root only.
    j = await pool.start(nodeArgs(joinId));
    const second = await moveWhere(() => a, group, joinId, "second attempt past 16 windows", (m) => (m.attempts ?? 0) >= 2 && m.phase === "fill" && (m.windowsDone ?? 0) >= 16);
    expect(second.windowsSkipped ?? 0).toBeGreaterThanOrEqual(doneBeforeJoinerKill);

    // 3. The source dies mid-fill; the attempt fails; restarted, the next attempt skips what was done.
    await a.kill9();
    const doneBeforeSourceKill = second.windowsDone ?? 0;
    await moveWhere(() => j, group, joinId, "the attempt failed with the source gone", (m) => m.phase === "failed" && (m.error ?? "") !== "");
    a = await pool.start(nodeArgs("a"));
    await until("group moved to the joiner", async () => {
      const st = (await postJson(`${j.url}/soltix.v1.AdminService/GetStatus`, {})).json as { groups?: Array<{ groupId?: number; primaryNode: string; replicaNodes?: string[] }> };
      const g = (st.groups ?? []).find((x) => (x.groupId ?? 0) === group);
      return g !== undefined && g.primaryNode === joinId && (g.replicaNodes ?? []).length === 0 ? true : undefined;
    }, 120_000, 200);
    const joined = j.stderr().split("\n").filter((l) => l.includes('"move: group joined"')).map((l) => JSON.parse(l) as Record<string, number | string>);
    expect(joined.length).toBe(1);
    const last = joined[0]!;
    expect(Number(last.attempt)).toBeGreaterThanOrEqual(3);
    expect(Number(last.windows)).toBe(DAYS);
    expect(Number(last.windows_already_held)).toBeGreaterThanOrEqual(doneBeforeSourceKill);
    console.log(JSON.stringify({ done_before_joiner_kill: doneBeforeJoinerKill, skipped_on_resume: second.windowsSkipped, done_before_source_kill: doneBeforeSourceKill, final_attempt: last }));

    // The source drops its copy; every acknowledged point reads back through the router.
    await until("the source dropped the group", async () => {
      const st = (await postJson(`${a.url}/soltix.v1.AdminService/GetStatus`, {})).json as { groups?: Array<{ groupId?: number; primaryNode: string }> };
      return (st.groups ?? []).every((x) => (x.groupId ?? 0) !== group) ? true : undefined;
    }, 60_000, 200);
    await until("router sees both nodes", async () => (((await (await fetch(`${router.url}/readyz`)).json()) as { nodes: string[] }).nodes.length === 2 ? true : undefined));
    const seen = await readAllThroughRouter(router.url, "m", "c", Array.from({ length: DEVICES }, (_, i) => `dev-${i}`));
    expect([...acked].filter((k) => !seen.has(k)).length).toBe(0);
    expect(seen.size).toBe(acked.size);
  }, 300_000);
});
