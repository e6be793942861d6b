// The servers the ingest benchmark writes to, each started fresh per configuration on 127.0.0.1 with its
// data in a temp dir: soltix (the compiled binary, WAL fsynced before every ack, StorageService.Write
// in binary Connect), InfluxDB 1.x (apt, wal-fsync-delay 0 = fsync every write, line protocol) and
// VictoriaMetrics (apt, line protocol, no fsync per write). Each target writes a batch, reads every
// point back (count and f0 sum per device), flushes, and stops; the bench reads the process's CPU and
// peak RSS from /proc.

import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { create, toBinary } from "@bufbuild/protobuf";
import { QueryRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { startBinary } from "../../test/support/binary.ts";
import { freePort } from "../../test/support/servers.ts";
import { until } from "../../test/support/wait.ts";
import { COLLECTION, DATABASE, DEVICES, type Batch } from "./ingest-points.ts";

export type TargetName = "soltix" | "influxdb" | "victoriametrics";

export interface ReadBack {
  points: number;
  f0SumByDevice: Float64Array;
  countByDevice: Float64Array;
}

export interface Target {
  name: TargetName;
  pid: number;
  dataDir: string;
  /** The server's base URL (soltix: /healthz carries the engine's counters). */
  url: string;
  /** Resolves when the server acknowledged the batch; throws on any other answer. */
  write(batch: Batch): Promise<void>;
  /** Every point from `startNs` to `endNs` (exclusive), per device. */
  readBack(startNs: bigint, endNs: bigint): Promise<ReadBack>;
  /** One device's points from `startNs` to `endNs` (exclusive), every field, as a user's query would ask; returns the point count. */
  queryDevice(device: number, startNs: bigint, endNs: bigint): Promise<number>;
  /** Makes the server write its in-memory data to disk and stop, so its data dir can be measured. */
  flushAndStop(): Promise<void>;
  kill(): Promise<void>;
}

export function targetAvailable(name: TargetName): boolean {
  if (name === "soltix") return true;
  return existsSync(name === "influxdb" ? "/usr/bin/influxd" : "/usr/bin/victoria-metrics");
}

/** Starts a target on `dir` (its data survives a stop: start it again on the same dir). `soltixArgs`: extra node flags. */
export async function startTarget(name: TargetName, dir: string, soltixArgs: string[] = []): Promise<Target> {
  mkdirSync(dir, { recursive: true });
  if (name === "soltix") return startSoltix(dir, soltixArgs);
  if (name === "influxdb") return startInflux(dir);
  return startVictoria(dir);
}

async function startSoltix(dir: string, extraArgs: string[]): Promise<Target> {
  const dataDir = join(dir, "data");
  const node = await startBinary(["node", "--storage.data_dir", dataDir, "--server.host", "127.0.0.1", "--server.port", "0", "--log.level", "warn", ...extraArgs, ...(process.env.SOLTIX_BENCH_ARGS?.split(" ").filter((a) => a !== "") ?? [])]);
  const url = `${node.url}/soltix.v1.StorageService/Write`;
  return {
    name: "soltix",
    pid: node.proc.pid,
    dataDir,
    url: node.url,
    async write(batch) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/proto" }, body: batch.proto() });
      const body = await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`soltix write: HTTP ${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
    },
    readBack: (startNs, endNs) => soltixReadBack(node.url, startNs, endNs),
    queryDevice: async (d, startNs, endNs) => (await soltixReadBack(node.url, startNs, endNs, [DEVICE_IDS_BENCH[d]!])).points,
    async flushAndStop() {
      // A clean stop flushes the memory store into segments (nothing left to replay from the WAL).
      const code = await node.stop();
      if (process.env.SOLTIX_BENCH_LOG !== undefined) writeFileSync(process.env.SOLTIX_BENCH_LOG, node.stderr());
      if (code !== 0) throw new Error(`soltix exited ${code} on SIGTERM: ${node.stderr().slice(-500)}`);
    },
    kill: () => node.kill9(),
  };
}

/** Every point of the bench's collection on one soltix node (StorageService.Query in binary), per device. */
export async function soltixReadBack(nodeUrl: string, startNs: bigint, endNs: bigint, ids: string[] = []): Promise<ReadBack> {
  // Pages read with a minimal protobuf scanner (device id and f0 of each point): protobuf-es on
  // the client would cost more than the server's answer.
  const out = emptyReadBack();
  let cursor = "";
  for (;;) {
    const req = toBinary(QueryRequestSchema, create(QueryRequestSchema, { database: DATABASE, collection: COLLECTION, ids, startTime: startNs, endTime: endNs, limit: 10_000, cursor }));
    const res = await fetch(`${nodeUrl}/soltix.v1.StorageService/Query`, { method: "POST", headers: { "content-type": "application/proto" }, body: req });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`soltix query: HTTP ${res.status} ${new TextDecoder().decode(bytes).slice(0, 200)}`);
    cursor = scanQueryResponse(bytes, out);
    if (cursor === "") return out;
  }
}

function varint(b: Uint8Array, at: number): [number, number] {
  let v = 0, shift = 0;
  for (;;) {
    const c = b[at++]!;
    v += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) return [v, at];
    shift += 7;
  }
}

/** Adds each point of a QueryResponse to `out` (device from field 3, f0 from the fields map); returns next_cursor. */
function scanQueryResponse(b: Uint8Array, out: ReadBack): string {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const text = new TextDecoder();
  let at = 0, cursor = "";
  while (at < b.length) {
    const tag = b[at++]!;
    const [len, start] = varint(b, at);
    const end = start + len;
    if (tag === 0x12) cursor = text.decode(b.subarray(start, end));
    else if (tag === 0x0a) {
      let p = start, device = -1, f0 = NaN;
      while (p < end) {
        const t = b[p++]!;
        if ((t & 7) === 0) {
          p = varint(b, p)[1];
          continue;
        }
        const [l, s] = varint(b, p);
        if (t === 0x1a) device = deviceIndex(text.decode(b.subarray(s, s + l)));
        else if (t === 0x2a && b[s] === 0x0a && b[s + 1] === 2 && b[s + 2] === 0x66 && b[s + 3] === 0x30 && b[s + 6] === 0x09) f0 = dv.getFloat64(s + 7, true);
        p = s + l;
      }
      out.points++;
      out.countByDevice[device]!++;
      out.f0SumByDevice[device] = out.f0SumByDevice[device]! + f0;
    }
    at = end;
  }
  return cursor;
}

const DEVICE_IDS_BENCH = Array.from({ length: DEVICES }, (_, d) => `device-${d}`);

function emptyReadBack(): ReadBack {
  return { points: 0, f0SumByDevice: new Float64Array(DEVICES), countByDevice: new Float64Array(DEVICES) };
}

function deviceIndex(id: string): number {
  const d = Number(id.slice("device-".length));
  if (!Number.isInteger(d) || d < 0 || d >= DEVICES) throw new Error(`read back an unknown device ${JSON.stringify(id)}`);
  return d;
}

function spawnQuiet(cmd: string[]): Subprocess<"ignore", "ignore", "pipe"> {
  return Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
}

async function startInflux(dir: string): Promise<Target> {
  const [http, rpc] = [await freePort(), await freePort()];
  const dataDir = join(dir, "influx");
  const conf = join(dir, "influxdb.conf");
  writeFileSync(
    conf,
    [
      `reporting-enabled = false`,
      `bind-address = "127.0.0.1:${rpc}"`,
      `[meta]`,
      `  dir = "${dataDir}/meta"`,
      `[data]`,
      `  dir = "${dataDir}/data"`,
      `  wal-dir = "${dataDir}/wal"`,
      `  wal-fsync-delay = "0s"`,
      `  query-log-enabled = false`,
      `[monitor]`,
      `  store-enabled = false`,
      `[http]`,
      `  bind-address = "127.0.0.1:${http}"`,
      `  log-enabled = false`,
      `  max-body-size = 0`,
      `[logging]`,
      `  level = "warn"`,
      ``,
    ].join("\n"),
  );
  const proc = spawnQuiet(["/usr/bin/influxd", "-config", conf]);
  const base = `http://127.0.0.1:${http}`;
  await until("influxd to answer /ping", async () => ((await fetch(`${base}/ping`).catch(() => undefined))?.status === 204 ? true : undefined), 30_000, 100);
  const created = await fetch(`${base}/query`, { method: "POST", body: new URLSearchParams({ q: `CREATE DATABASE ${DATABASE}` }) });
  if (created.status !== 200) throw new Error(`influx CREATE DATABASE: HTTP ${created.status}`);
  return {
    name: "influxdb",
    pid: proc.pid,
    dataDir,
    url: base,
    async write(batch) {
      const res = await fetch(`${base}/write?db=${DATABASE}&precision=ns`, { method: "POST", body: batch.lineProtocol() });
      const text = await res.text();
      if (res.status !== 204) throw new Error(`influx write: HTTP ${res.status} ${text.slice(0, 200)}`);
    },
    async readBack(startNs, endNs) {
      const out = emptyReadBack();
      const q = `SELECT count(f0), sum(f0) FROM ${COLLECTION} WHERE time >= ${startNs} AND time < ${endNs} GROUP BY device`;
      const res = await fetch(`${base}/query?db=${DATABASE}&epoch=ns`, { method: "POST", body: new URLSearchParams({ q }) });
      const json = (await res.json()) as { results: Array<{ series?: Array<{ tags: { device: string }; values: Array<[number, number, number]> }> }> };
      for (const s of json.results[0]?.series ?? []) {
        const d = deviceIndex(s.tags.device);
        const [, count, sum] = s.values[0]!;
        out.points += count;
        out.countByDevice[d] = count;
        out.f0SumByDevice[d] = sum;
      }
      return out;
    },
    async queryDevice(d, startNs, endNs) {
      const q = `SELECT * FROM ${COLLECTION} WHERE device = 'device-${d}' AND time >= ${startNs} AND time < ${endNs}`;
      const res = await fetch(`${base}/query?db=${DATABASE}&epoch=ns`, { method: "POST", body: new URLSearchParams({ q }) });
      const json = (await res.json()) as { results: Array<{ series?: Array<{ values: unknown[][] }>; error?: string }> };
      if (res.status !== 200 || json.results[0]?.error !== undefined) throw new Error(`influx query: HTTP ${res.status} ${json.results[0]?.error ?? ""}`);
      return json.results[0]?.series?.[0]?.values.length ?? 0;
    },
    async flushAndStop() {
      proc.kill("SIGTERM"); // influxd closes its shards (snapshotting the cache) on SIGTERM
      await proc.exited;
    },
    async kill() {
      proc.kill(9);
      await proc.exited;
    },
  };
}

async function startVictoria(dir: string): Promise<Target> {
  const http = await freePort();
  const dataDir = join(dir, "vm");
  const proc = spawnQuiet(["/usr/bin/victoria-metrics", `-storageDataPath=${dataDir}`, `-httpListenAddr=127.0.0.1:${http}`, "-retentionPeriod=100y", "-loggerLevel=ERROR", "-search.disableCache"]);
  const base = `http://127.0.0.1:${http}`;
  await until("victoria-metrics to answer /health", async () => ((await fetch(`${base}/health`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, 100);
  return {
    name: "victoriametrics",
    pid: proc.pid,
    dataDir,
    url: base,
    async write(batch) {
      const res = await fetch(`${base}/write`, { method: "POST", body: batch.lineProtocol() });
      const text = await res.text();
      if (res.status !== 204) throw new Error(`victoria-metrics write: HTTP ${res.status} ${text.slice(0, 200)}`);
    },
    async readBack(startNs, endNs) {
      await fetch(`${base}/internal/force_flush`);
      const out = emptyReadBack();
      const endS = Number(endNs / 1_000_000_000n);
      const spanS = endS - Number(startNs / 1_000_000_000n);
      for (const [fn, into] of [["count_over_time", out.countByDevice], ["sum_over_time", out.f0SumByDevice]] as const) {
        // the range ends at endS - 1 (inclusive) to match [start, end)
        const q = `${fn}(${COLLECTION}_f0[${spanS}s])`;
        const res = await fetch(`${base}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: q, time: String(endS - 1), step: "1s" }) });
        const json = (await res.json()) as { data?: { result: Array<{ metric: { device: string }; value: [number, string] }> }; error?: string };
        if (json.data === undefined) throw new Error(`victoria-metrics query: ${json.error ?? res.status}`);
        for (const r of json.data.result) into[deviceIndex(r.metric.device)] = Number(r.value[1]);
      }
      for (const c of out.countByDevice) out.points += c;
      return out;
    },
    async queryDevice(d, startNs, endNs) {
      // Every field series of the device (metrics_f0 … metrics_f9), raw samples; points = samples of f0.
      const params = new URLSearchParams({ "match[]": `{device="device-${d}"}`, start: String(Number(startNs / 1_000_000n) / 1000), end: String((Number(endNs / 1_000_000n) - 1) / 1000) });
      const res = await fetch(`${base}/api/v1/export?${params}`);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`victoria-metrics export: HTTP ${res.status} ${text.slice(0, 200)}`);
      let points = 0;
      for (const line of text.split("\n")) {
        if (line === "") continue;
        const series = JSON.parse(line) as { metric: { __name__: string }; values: number[] };
        if (series.metric.__name__ === `${COLLECTION}_f0`) points += series.values.length;
      }
      return points;
    },
    async flushAndStop() {
      await fetch(`${base}/internal/force_flush`);
      proc.kill("SIGINT"); // vmstorage flushes its in-memory parts on a graceful stop
      await proc.exited;
    },
    async kill() {
      proc.kill(9);
      await proc.exited;
    },
  };
}
