// Decoding the router's ingest formats (DESIGN §12): field values decoded per second on one core, from
// new unique data every run (1 000 devices × 10 float fields + 2 tags, sensor-like random walks, one
// line per device and second), in requests of --body-lines lines as Telegraf sends them (its default
// batch is 1 000 metrics) — Influx line protocol into checked core points, with the JSON API's decoder
// on the same kind of points in the same run for comparison. Goal: ≥ 5 M field values/s per core.
//
//   node_modules/.bin/bun scripts/bench/ingest-formats.ts [--lines 200000] [--body-lines 5000] [--runs 5]

import { parseLineProtocol } from "../../src/router/line-protocol.ts";
import { pointsFromBatchJson, parseJsonExact } from "../../src/router/points.ts";
import { pointsFromRemoteWrite } from "../../src/router/remote-write.ts";
import { WriteRequestSchema } from "../../src/gen/prometheus/remote_pb.ts";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { compress, uncompress } from "snappyjs";
import { decodeWriteRequest } from "../../src/router/remote-write-decode.ts";
import { median, round } from "./common.ts";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}
const LINES = Number(arg("lines", "200000"));
const BODY_LINES = Number(arg("body-lines", "5000"));
const RUNS = Number(arg("runs", "5"));
const DEVICES = 1000;
const FIELDS = 10;

let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const walk = new Float64Array(DEVICES * FIELDS).map(() => 100 + Math.round(rnd() * 2000) / 10);
let second = 1_732_406_400 + Math.floor(Date.now() / 1000) % 100_000;

/** Fresh lines every call (time moves on, values walk): nothing recycled between runs. */
function makeBody(lines: number): { lp: string; json: string } {
  const lp: string[] = [];
  const json: string[] = [];
  for (let i = 0; i < lines; i++) {
    const d = i % DEVICES;
    if (d === 0) second++;
    let f = "";
    const o: Record<string, unknown> = { id: `device-${d}`, time: `${second}000000000`, site: `site-${d % 7}`, rack: `r${d % 13}` };
    for (let j = 0; j < FIELDS; j++) {
      const w = d * FIELDS + j;
      walk[w] = Math.round((walk[w]! + (rnd() - 0.5) * 2) * 10) / 10;
      f += `${j === 0 ? "" : ","}f${j}=${walk[w]}`;
      o[`f${j}`] = walk[w];
    }
    lp.push(`metrics,id=device-${d},site=site-${d % 7},rack=r${d % 13} ${f} ${second}000000000`);
    json.push(JSON.stringify(o));
  }
  return { lp: lp.join("\n"), json: `{"points":[${json.join(",")}]}` };
}

const lpRates: number[] = [];
const jsonRates: number[] = [];
let checked = 0;
// Each format in its own runs, a full collection before each (one format's garbage is not the other's cost).
for (let r = 0; r < RUNS; r++) {
  const bodies: string[] = [];
  for (let i = 0; i < LINES; i += BODY_LINES) bodies.push(makeBody(Math.min(BODY_LINES, LINES - i)).lp);
  Bun.gc(true);
  const t0 = performance.now();
  let n = 0;
  for (const lp of bodies) {
    const points = parseLineProtocol(lp, { database: "bench", precisionNs: 1n, idTag: "id", nowNs: 0n, stamp: () => 1n });
    if (points[points.length - 1]!.fields.length !== FIELDS + 2) throw new Error("line protocol: wrong decode");
    n += points.length;
  }
  const ms = performance.now() - t0;
  if (n !== LINES) throw new Error("line protocol: wrong decode");
  checked += n;
  lpRates.push((LINES * (FIELDS + 2)) / (ms / 1000));
}
for (let r = 0; r < RUNS; r++) {
  // The JSON API in batches of 10 000 (its limit), the same kind of points.
  const { json } = makeBody(LINES);
  const parts: string[] = [];
  const all = (JSON.parse(json) as { points: unknown[] }).points;
  for (let i = 0; i < all.length; i += 10_000) parts.push(JSON.stringify({ points: all.slice(i, i + 10_000) }));
  Bun.gc(true);
  const t0 = performance.now();
  let n = 0;
  for (const part of parts) n += pointsFromBatchJson(parseJsonExact(part), "bench", "metrics", () => 1n).length;
  const ms = performance.now() - t0;
  if (n !== LINES) throw new Error("json: wrong decode");
  jsonRates.push((LINES * (FIELDS + 2)) / (ms / 1000));
}
// Prometheus remote_write: Snappy-compressed protobuf, 1 000 series (a metric per field, device labels)
// × samples, as Prometheus sends them (its default: up to 2 000 samples a request… here 10 per series).
const rwRates: number[] = [];
const directDecodeRates: number[] = [];
const libraryDecodeRates: number[] = [];
const SAMPLES_PER_SERIES = 10;
for (let r = 0; r < RUNS; r++) {
  const bodies: Uint8Array[] = [];
  let samples = 0;
  for (let done = 0; done < LINES * FIELDS; ) {
    const timeseries = [];
    for (let k = 0; k < 1000 && done < LINES * FIELDS; k++) {
      const d = k % DEVICES;
      const f = (r + k) % FIELDS;
      const ss = [];
      for (let j = 0; j < SAMPLES_PER_SERIES; j++) {
        second++;
        const w = d * FIELDS + f;
        walk[w] = Math.round((walk[w]! + (rnd() - 0.5) * 2) * 10) / 10;
        ss.push({ value: walk[w]!, timestamp: BigInt(second) * 1000n });
      }
      done += SAMPLES_PER_SERIES;
      samples += SAMPLES_PER_SERIES;
      timeseries.push({ labels: [{ name: "__name__", value: `metrics_f${f}` }, { name: "device", value: `device-${d}` }, { name: "site", value: `site-${d % 7}` }, { name: "job", value: "sensors" }], samples: ss });
    }
    bodies.push(compress(toBinary(WriteRequestSchema, create(WriteRequestSchema, { timeseries }))));
  }
  Bun.gc(true);
  const t0 = performance.now();
  let n = 0;
  for (const b of bodies) n += pointsFromRemoteWrite(b, "bench", () => 1n).points.length;
  const ms = performance.now() - t0;
  if (n !== samples) throw new Error("remote_write: wrong decode");
  rwRates.push(samples / (ms / 1000));
  // The protobuf decoding alone: the direct reader against @bufbuild/protobuf's fromBinary, same bodies.
  const raws = bodies.map((b) => uncompress(b));
  Bun.gc(true);
  let t1 = performance.now();
  let m = 0;
  for (const raw of raws) for (const ts of decodeWriteRequest(raw)) m += ts.values.length;
  directDecodeRates.push(m / ((performance.now() - t1) / 1000));
  Bun.gc(true);
  t1 = performance.now();
  let k = 0;
  for (const raw of raws) for (const ts of fromBinary(WriteRequestSchema, raw).timeseries) k += ts.samples.length;
  libraryDecodeRates.push(k / ((performance.now() - t1) / 1000));
  if (m !== samples || k !== samples) throw new Error("remote_write: decoders disagree");
}

console.log(JSON.stringify({
  lines_per_run: LINES, lines_per_request: BODY_LINES, runs: RUNS, field_values_per_line: FIELDS + 2, points_checked: checked,
  line_protocol_field_values_per_sec: Math.round(median(lpRates)),
  json_api_field_values_per_sec: Math.round(median(jsonRates)),
  line_protocol_vs_json: round(median(lpRates) / median(jsonRates), 2),
  remote_write_values_per_sec: Math.round(median(rwRates)),
  remote_write_protobuf_direct_samples_per_sec: Math.round(median(directDecodeRates)),
  remote_write_protobuf_library_samples_per_sec: Math.round(median(libraryDecodeRates)),
  remote_write_direct_vs_library: round(median(directDecodeRates) / median(libraryDecodeRates), 2),
  goal_field_values_per_sec: 5_000_000,
}, null, 2));
