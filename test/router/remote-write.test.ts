// Prometheus remote_write 1.0 into the router (router/remote-write.ts): label sets as device ids
// (sorted, escaped, shortened with a hash past the id limit), recording-rule names, staleness markers
// skipped, bad bodies named; then a real Prometheus (Debian's 2.42) remote-writes its own metrics into
// a router (3 nodes in one process) and they are read back through the Soltix API.

import { afterAll, describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { decodeWriteRequest, WireError, type DecodedSeries } from "../../src/router/remote-write-decode.ts";
import { compress } from "snappyjs";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { collectionOfMetric, deviceIdOfLabels, pointsFromRemoteWrite } from "../../src/router/remote-write.ts";
import { WriteRequestSchema } from "../../src/gen/prometheus/remote_pb.ts";
import { validateId } from "../../src/model/validate.ts";
import { tempDir } from "../support/engine.ts";
import { startPrometheus } from "../support/servers.ts";
import { until } from "../support/wait.ts";

function body(series: Array<{ labels: Record<string, string>; samples: Array<[number, number]> }>): Uint8Array {
  const req = create(WriteRequestSchema, {
    timeseries: series.map((s) => ({ labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })), samples: s.samples.map(([value, timestamp]) => ({ value, timestamp: BigInt(timestamp) })) })),
  });
  return compress(toBinary(WriteRequestSchema, req));
}

/** The library's decoding of a WriteRequest, in the direct reader's shape. */
function viaLibrary(bytes: Uint8Array): DecodedSeries[] {
  return fromBinary(WriteRequestSchema, bytes).timeseries.map((ts) => ({
    labels: ts.labels.map((l) => ({ name: l.name, value: l.value })),
    values: ts.samples.map((x) => x.value),
    timestampsMs: ts.samples.map((x) => Number(x.timestamp)),
  }));
}

const labelArb = fc.record({ name: fc.string({ unit: "grapheme", maxLength: 12 }), value: fc.string({ unit: "grapheme", maxLength: 20 }) });
const requestArb = fc.record({
  timeseries: fc.array(
    fc.record({
      labels: fc.array(labelArb, { maxLength: 5 }),
      samples: fc.array(fc.record({ value: fc.double(), timestamp: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) }), { maxLength: 6 }),
      exemplars: fc.array(fc.record({ labels: fc.array(labelArb, { maxLength: 2 }), value: fc.double(), timestamp: fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }) }), { maxLength: 2 }),
    }),
    { maxLength: 6 },
  ),
  metadata: fc.array(fc.record({ type: fc.integer({ min: 0, max: 7 }), metricFamilyName: fc.string({ maxLength: 8 }), help: fc.string({ maxLength: 8 }), unit: fc.string({ maxLength: 4 }) }), { maxLength: 2 }),
});

describe("the direct WriteRequest reader, held to @bufbuild/protobuf", () => {
  test("every message: the same series, labels, values (NaN, -0, ±Inf included) and timestamps", () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const bytes = toBinary(WriteRequestSchema, create(WriteRequestSchema, req));
        const mine = decodeWriteRequest(bytes);
        const lib = viaLibrary(bytes);
        expect(mine.length).toBe(lib.length);
        for (let i = 0; i < mine.length; i++) {
          expect(mine[i]!.labels).toEqual(lib[i]!.labels);
          expect(mine[i]!.values.length).toBe(lib[i]!.values.length);
          mine[i]!.values.forEach((v, j) => expect(Object.is(v, lib[i]!.values[j])).toBe(true));
          // Exact within ±2^53 (every valid millisecond time); beyond, the same sign (refused either way).
          mine[i]!.timestampsMs.forEach((t, j) => {
            const want = req.timeseries[i]!.samples[j]!.timestamp;
            if (want >= -(2n ** 53n) && want <= 2n ** 53n) expect(t).toBe(Number(want));
            else expect(Math.sign(t)).toBe(Math.sign(Number(want)));
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  test("damaged bytes (cut, flipped, random): a WireError or the library's answer, never a crash or a hang", () => {
    fc.assert(
      fc.property(requestArb, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (req, cut, at, xor, junk) => {
        const good = toBinary(WriteRequestSchema, create(WriteRequestSchema, req));
        const damaged = [good.subarray(0, good.length === 0 ? 0 : cut % good.length), Uint8Array.from(good, (b, i) => (good.length > 0 && i === at % good.length ? b ^ xor : b)), junk];
        for (const bytes of damaged) {
          let mine: DecodedSeries[] | undefined;
          try {
            mine = decodeWriteRequest(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(WireError);
          }
          let lib: DecodedSeries[] | undefined;
          try {
            lib = viaLibrary(bytes);
          } catch {
            lib = undefined;
          }
          if (mine !== undefined && lib !== undefined) {
            expect(mine.map((x) => x.labels)).toEqual(lib.map((x) => x.labels));
            expect(mine.map((x) => x.values.length)).toEqual(lib.map((x) => x.values.length));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("remote_write decoding", () => {
  test("label sets become ids; names become collections; staleness markers are skipped; bad bodies are named", () => {
    const STALE = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0]!;
    const r = pointsFromRemoteWrite(
      body([
        { labels: { __name__: "http_requests_total", job: "api", handler: "/v1/query", instance: "10.0.0.1:9100" }, samples: [[3, 1_700_000_000_000], [STALE, 1_700_000_015_000], [4, 1_700_000_030_000]] },
        { labels: { __name__: "job:rate:5m" }, samples: [[0.5, 1_700_000_000_000]] },
      ]),
      "prom",
      () => 9n,
    );
    expect(r.skipped).toBe(1);
    expect(r.points.map((p) => [p.collection, p.id, p.timeNs, p.fields[0]![1]])).toEqual([
      ["http_requests_total", "handler=%2Fv1%2Fquery;instance=10.0.0.1:9100;job=api", 1_700_000_000_000_000_000n, { kind: "number", value: 3 }],
      ["http_requests_total", "handler=%2Fv1%2Fquery;instance=10.0.0.1:9100;job=api", 1_700_000_030_000_000_000n, { kind: "number", value: 4 }],
      ["job.rate.5m", "_", 1_700_000_000_000_000_000n, { kind: "number", value: 0.5 }],
    ]);
    expect(collectionOfMetric("a:b")).toBe("a.b");
    // Sorted, escaped; a long set is shortened with a hash, still a valid id, different sets differ.
    expect(deviceIdOfLabels([{ name: "b", value: "x,y=z\\w;" }, { name: "a", value: "%" }])).toBe("a=%25;b=x%2Cy%3Dz%5Cw%3B");
    const long = (v: string) => deviceIdOfLabels([{ name: "path", value: v.repeat(300) }]);
    expect(() => validateId("id", long("a"))).not.toThrow();
    expect(long("a")).not.toBe(long("b"));
    expect(long("a")).toMatch(/~[0-9a-f]{16}$/);
    expect(() => pointsFromRemoteWrite(new Uint8Array([1, 2, 3]), "prom", () => 1n)).toThrow(/body: not a Snappy block/);
    expect(() => pointsFromRemoteWrite(body([{ labels: { job: "x" }, samples: [[1, 1]] }]), "prom", () => 1n)).toThrow(/timeseries\[0\]\.labels: has no __name__/);
    expect(() => pointsFromRemoteWrite(body([{ labels: { __name__: "m" }, samples: [[1, -5]] }]), "prom", () => 1n)).toThrow(/timestamp: -5 ms is outside/);
    expect(() => pointsFromRemoteWrite(body([{ labels: { __name__: "m" }, samples: [[1, 1]] }]), "a/b", () => 1n)).toThrow(/^db/);
  });
});

const tmp = tempDir("remote-write");
let cluster: LocalCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  tmp.cleanup();
});

describe("a real Prometheus remote-writes into the router", () => {
  test("its own metrics arrive and are read back through the Soltix API", async () => {
    cluster = await startLocalCluster({ nodes: 3, dir: tmp.dir, routerPort: 0 }, { platform: systemPlatform(serveWithBun), logger: silentLogger });
    const c = cluster;
    const routerPort = new URL(c.routerUrl).port;
    let selfPort = 0;
    const prom = await startPrometheus((port) => {
      selfPort = port;
      return [`127.0.0.1:${port}`];
    }, ["remote_write:", `  - url: http://127.0.0.1:${routerPort}/api/v1/write?db=prom`, "    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms }"].join("\n"));
    try {
      const id = `instance=127.0.0.1:${selfPort};job=soltix`;
      const points = await until("Prometheus' `up` of itself readable through the router", async () => {
        const r = await fetch(`${c.routerUrl}/v1/databases/prom/collections/up/query?ids=${encodeURIComponent(id)}`);
        if (r.status !== 200) return undefined;
        const b = (await r.json()) as { points: Array<{ id: string; fields: { value: { numberValue: number } } }> };
        return b.points.length > 0 ? b.points : undefined;
      }, 60_000);
      expect(points.every((p) => p.id === id && p.fields.value.numberValue === 1)).toBe(true);
      // A counter of its own, too: many series, every one a valid id.
      const r = await fetch(`${c.routerUrl}/v1/databases/prom/collections/prometheus_tsdb_head_series/query?ids=${encodeURIComponent(id)}`);
      expect(((await r.json()) as { points: unknown[] }).points.length).toBeGreaterThan(0);
      const m = await (await fetch(`${c.routerUrl}/metrics`)).text();
      expect(Number(/^soltix_router_points_total (\d+)/m.exec(m)?.[1])).toBeGreaterThan(100);
    } finally {
      await prom.stop();
    }
  }, 120_000);
});
