// Ingest benchmark: points/s into one node (the compiled binary, fsync on) through StorageService.Write
// with the binary Connect protocol, batches of 1 000 and 10 000 points of 10 fields, a few requests in
// flight. In the same run, a profile of where a node spends its time per point (in-process): the
// generic path (protobuf-es decode, then validate + canonical encode) vs the binary fast path
// (rpc/write-fast.ts, what the node uses for application/proto), and WAL append + fsync + memory apply.
//   node_modules/.bin/bun scripts/bench/ingest.ts [--seconds 8]

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { toBinary, fromBinary, create } from "@bufbuild/protobuf";
import { StorageService, WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { startBinary } from "../../test/support/binary.ts";
import { openEngine, tempDir } from "../../test/support/engine.ts";
import { storedFromWireBatch } from "../../src/rpc/storage-service.ts";
import { storedFromWriteRequestBinary } from "../../src/rpc/write-fast.ts";
import { VersionStamper } from "../../src/ports/clock.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { round, wirePoints } from "./common.ts";

const seconds = Number(process.argv[process.argv.indexOf("--seconds") + 1] ?? 8) || 8;
const IN_FLIGHT = 4;

async function runAgainstBinary(batch: number): Promise<{ pointsPerSec: number; batches: number }> {
  const tmp = tempDir("bench-ingest");
  const node = await startBinary(["node", "--storage.data_dir", `${tmp.dir}/data`, "--server.port", "0", "--log.level", "warn"]);
  try {
    const client = createClient(StorageService, createConnectTransport({ baseUrl: node.url, useBinaryFormat: true }));
    // Pre-encode requests so the client's cost is not in the figure.
    const bodies = Array.from({ length: 8 }, (_, i) => create(WriteRequestSchema, { points: wirePoints(batch, i * batch) }));
    await client.write(bodies[0]!);
    let points = 0;
    let batches = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const worker = async (w: number) => {
      let i = w;
      while (performance.now() < deadline) {
        const r = await client.write(bodies[i++ % bodies.length]!);
        points += r.accepted;
        batches++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)));
    const elapsed = (performance.now() - started) / 1000;
    return { pointsPerSec: Math.round(points / elapsed), batches };
  } finally {
    await node.kill9();
    tmp.cleanup();
  }
}

async function profileInProcess(batch: number): Promise<Record<string, number>> {
  const tmp = tempDir("bench-profile");
  const engine = await openEngine(`${tmp.dir}/data`, { totalGroups: 256 });
  const ctx = { stamper: new VersionStamper(systemClock), totalGroups: 256 } as Parameters<typeof storedFromWireBatch>[1];
  const bytes = toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: wirePoints(batch, 0) }));
  const rounds = Math.max(3, Math.round(200_000 / batch));
  let decodeMs = 0, encodeMs = 0, fastMs = 0, storeMs = 0;
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const req = fromBinary(WriteRequestSchema, bytes);
    decodeMs += performance.now() - t;
    t = performance.now();
    storedFromWireBatch(req.points, ctx);
    encodeMs += performance.now() - t;
    t = performance.now();
    const stored = storedFromWriteRequestBinary(bytes, () => ctx.stamper.next(), 256);
    fastMs += performance.now() - t;
    t = performance.now();
    await engine.write(stored);
    storeMs += performance.now() - t;
  }
  await engine.close();
  tmp.cleanup();
  const per = (ms: number) => round((ms * 1000) / (rounds * batch), 2);
  return {
    generic_protobuf_es_decode_us_per_point: per(decodeMs),
    generic_validate_encode_us_per_point: per(encodeMs),
    fast_path_decode_validate_encode_us_per_point: per(fastMs),
    wal_fsync_apply_us_per_point: per(storeMs),
    request_bytes_per_point: round(bytes.length / batch, 1),
  };
}

const results = [];
for (const batch of [1_000, 10_000]) {
  const r = await runAgainstBinary(batch);
  const profile = await profileInProcess(batch);
  results.push({ batch_points: batch, fields_per_point: 10, in_flight: IN_FLIGHT, points_per_sec: r.pointsPerSec, goal_points_per_sec: 200_000, vs_goal: round(r.pointsPerSec / 200_000, 2), vs_soltix_published_20k: round(r.pointsPerSec / 20_000, 1), profile_in_process: profile });
}
console.log(JSON.stringify({ bench: "ingest", seconds_per_case: seconds, results }, null, 2));
