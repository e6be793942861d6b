// Calibrates the memory store's byte count against the heap: unique 10-field points (the ingest bench's
// workload) through the binary write path into a MemStore, then the heap, external and RSS growth per
// point after a full collection vs what the store counts. The count should be close to the heap.
//   node_modules/.bin/bun scripts/bench/memstore-memory.ts [--points 200000]

import { MemStore, windowId } from "../../src/memstore/memstore.ts";
import { storedFromWriteRequestBinary } from "../../src/rpc/write-fast.ts";
import { PointStream } from "./ingest-points.ts";
import { round } from "./common.ts";

const i = process.argv.indexOf("--points");
const POINTS = i >= 0 ? Number(process.argv[i + 1]) : 200_000;
const stream = new PointStream(1_780_000_000n * 1_000_000_000n, 3);
let version = 1n;
const store = new MemStore();
Bun.gc(true);
const before = process.memoryUsage();
for (let n = 0; n < POINTS; n += 1000) {
  for (const p of storedFromWriteRequestBinary(stream.batch(1000).proto(), () => version++, 256)) store.put(windowId(p.group, 0n), p.group, 0n, p.key, p.enc);
}
Bun.gc(true);
const after = process.memoryUsage();
const per = (x: number) => round(x / store.points, 0);
console.log(JSON.stringify({
  bench: "memstore-memory",
  points: store.points,
  counted_bytes_per_point: per(store.bytes),
  heap_bytes_per_point: per(after.heapUsed - before.heapUsed),
  external_bytes_per_point: per(after.external - before.external),
  rss_bytes_per_point: per(after.rss - before.rss),
  counted_vs_heap_plus_external: round(store.bytes / (after.heapUsed - before.heapUsed + after.external - before.external), 2),
}));
