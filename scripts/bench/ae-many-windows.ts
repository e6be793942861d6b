// Anti-entropy at volume ("many windows"): two identical replicas holding 30 days × 1 000 devices
// (7 680 group-day windows over 256 groups, 1.44 M points), real nodes over real sockets in this
// process. Measured in the same run, as process CPU: reading every window once from disk (the cost a
// comparison must stay far below), a warm anti-entropy pass over every group, and the first pass
// after both nodes restart — with the segment decodes each caused (the warm pass: the median of
// --warm-passes runs).
//   node_modules/.bin/bun scripts/bench/ae-many-windows.ts [--days 30] [--devices 1000] [--per-day 48] [--warm-passes 3]

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { create } from "@bufbuild/protobuf";
import { loadConfig } from "../../src/config/config.ts";
import { launchNode, type RunningNode } from "../../src/app/node.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { FieldValueSchema, PointSchema, type Point } from "../../src/gen/soltix/v1/point_pb.ts";
import { groupKey } from "../../src/cluster/keys.ts";
import { groupRecordJson } from "../../src/cluster/records.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";
import { tempDir } from "../../test/support/engine.ts";
import { round } from "./common.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

export async function manyWindows(o: { days: number; devices: number; perDay: number; warmPasses: number }) {
  const DAY0 = 20_700n * NS_PER_DAY;
  const tmp = tempDir("bench-ae-windows");
  const metadata = new MemoryMetadataStore(systemClock);
  const ids = ["aw-1", "aw-2"];
  for (let g = 0; g < 256; g++) {
    await metadata.put(groupKey(g), groupRecordJson({ group_id: g, primary_node: ids[0]!, replica_nodes: [ids[1]!], state: "active", epoch: 1, updated_at: "", syncing_nodes: [], joining_nodes: [], leaving_nodes: [] }));
  }
  const launch = (id: string) =>
    launchNode(
      loadConfig({
        flags: new Map([
          ["node.id", id], ["server.port", "0"], ["storage.data_dir", `${tmp.dir}/${id}`], ["replication.factor", "2"],
          ["storage.sync.startup_sync", "false"], ["storage.sync.anti_entropy.interval", "168h"], ["storage.sync.anti_entropy.settle", "0s"], ["log.level", "error"],
        ]),
      }),
      { platform: systemPlatform(serveWithBun), logger: silentLogger, metadata },
    );
  let nodes: RunningNode[] = [await launch(ids[0]!), await launch(ids[1]!)];
  const cpuMs = async (f: () => Promise<void>) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    const c = process.cpuUsage(c0);
    return { cpu_ms: round((c.user + c.system) / 1000), wall_ms: round(performance.now() - t0) };
  };
  try {
    // The same points on both replicas.
    const step = NS_PER_DAY / BigInt(o.perDay);
    let points = 0;
    for (const n of nodes) {
      const client = createClient(StorageService, createConnectTransport({ baseUrl: `http://${n.address}`, useBinaryFormat: true }));
      for (let day = 0; day < o.days; day++) {
        let batch: Point[] = [];
        for (let d = 0; d < o.devices; d++) {
          for (let i = 0; i < o.perDay; i++) {
            batch.push(create(PointSchema, {
              database: "bench", collection: "m", id: `device-${d}`, time: DAY0 + BigInt(day) * NS_PER_DAY + BigInt(i) * step, insertedAt: 1_000n + BigInt(day),
              fields: { temp: create(FieldValueSchema, { value: { case: "numberValue", value: Math.round((20 + ((d + i) % 50) / 10) * 10) / 10 } }) },
            }));
            if (batch.length === 10_000) {
              await client.write({ points: batch });
              if (n === nodes[0]) points += batch.length;
              batch = [];
            }
          }
        }
        if (batch.length > 0) {
          await client.write({ points: batch });
          if (n === nodes[0]) points += batch.length;
        }
      }
      await n.node.engine.flush();
      await n.node.engine.compactAll();
    }
    const groups = nodes[0]!.node.engine.groups();
    const windows = groups.reduce((s, g) => s + nodes[0]!.node.engine.windowsOf(g).length, 0);
    const decodes = () => nodes.reduce((s, n) => s + n.node.engine.statsSnapshot.segmentDecodes, 0);
    const aePass = async () => {
      const ae = nodes[0]!.node.sync.antiEntropy!;
      for (const g of groups) {
        const recs = await ae.runGroup(g);
        if (recs.some((r) => r.result !== "in_sync")) throw new Error(`group ${g} not in sync: ${JSON.stringify(recs[0])}`);
      }
    };
    const waitJoined = async () => {
      for (const n of nodes) while (n.node.sync.antiEntropy === undefined) await Bun.sleep(10);
    };
    await waitJoined();
    // 1. Reading every window once from disk (both replicas, as the comparison touches both).
    for (const n of nodes) n.node.engine.dropReadCaches();
    let d0 = decodes();
    // Every written point is read back here, on both replicas.
    const readBack = nodes.map(() => 0);
    const fullRead = await cpuMs(async () => {
      for (const [i, n] of nodes.entries()) for (const g of groups) for (const w of n.node.engine.windowsOf(g)) for await (const _ of n.node.engine.scanWindow(g, w)) readBack[i]!++;
    });
    if (readBack.some((c) => c !== points)) throw new Error(`read back ${readBack.join(" and ")} points, wrote ${points} to each replica`);
    const fullReadDecodes = decodes() - d0;
    // 2. A first pass (caches cold), then a warm one.
    for (const n of nodes) n.node.engine.dropReadCaches();
    await aePass();
    d0 = decodes();
    const warms = [];
    for (let i = 0; i < o.warmPasses; i++) warms.push(await cpuMs(aePass));
    const warm = warms.sort((a, b) => a.cpu_ms - b.cpu_ms)[warms.length >> 1]!;
    const warmDecodes = (decodes() - d0) / o.warmPasses;
    // 3. Both nodes restart; the first pass after that.
    for (const n of nodes) await n.stop();
    const t0 = performance.now();
    nodes = [await launch(ids[0]!), await launch(ids[1]!)];
    const restartMs = performance.now() - t0;
    await waitJoined();
    d0 = decodes();
    const afterRestart = await cpuMs(aePass);
    const afterRestartDecodes = decodes() - d0;
    return {
      case: "many windows: identical replicas",
      days: o.days,
      devices: o.devices,
      groups: groups.length,
      windows,
      points_per_replica: points,
      full_read_of_every_window: { ...fullRead, segment_decodes: fullReadDecodes, points_read_back_per_replica: readBack[0] },
      warm_pass: { ...warm, passes: o.warmPasses, segment_decodes: warmDecodes, vs_full_read_cpu: round(warm.cpu_ms / fullRead.cpu_ms, 3) },
      first_pass_after_restart: { ...afterRestart, segment_decodes: afterRestartDecodes, vs_full_read_cpu: round(afterRestart.cpu_ms / fullRead.cpu_ms, 3), restart_of_both_nodes_ms: round(restartMs) },
      goals: { warm_pass_vs_full_read_max: 0.05, first_pass_after_restart_vs_full_read_max: 0.2 },
    };
  } finally {
    for (const n of nodes) await n.stop().catch(() => {});
    await metadata.close();
    tmp.cleanup();
  }
}

if (import.meta.main) {
  console.log(JSON.stringify({ bench: "anti-entropy", ...(await manyWindows({ days: arg("days", 30), devices: arg("devices", 1000), perDay: arg("per-day", 48), warmPasses: arg("warm-passes", 3) })) }, null, 2));
}
