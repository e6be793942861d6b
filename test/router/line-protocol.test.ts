// Influx line protocol (router/line-protocol.ts, router/influx-http.ts). Against an oracle encoder
// (InfluxDB's escaping rules written out): random points with hostile names, tags and string values
// round-trip exactly; every field type; precision; comments and CRLF; a bad line is named with its
// number and text and nothing of the request is written; random bytes never crash. Then the real
// `influx` CLI (Debian's influxdb-client) writes through INSERT into a router (3 nodes, one process),
// and gzip and the v2 endpoint, all read back through the Soltix API.

import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { parseLineProtocol } from "../../src/router/line-protocol.ts";
import { SoltixError } from "../../src/base/errors.ts";
import type { FieldValue, Point } from "../../src/model/point.ts";
import { tempDir } from "../support/engine.ts";

const OPTS = { database: "db", precisionNs: 1n, idTag: "id", nowNs: 123n, stamp: () => 7n };

const escKey = (s: string) => s.replace(/([,= \\])/g, "\\$1");
const escMeasurement = (s: string) => s.replace(/([, \\])/g, "\\$1");
const escString = (s: string) => s.replace(/(["\\])/g, "\\$1");

function encodeValue(v: FieldValue): string {
  switch (v.kind) {
    case "number": return Object.is(v.value, -0) ? "-0.0" : Number.isInteger(v.value) ? `${v.value}.0` : String(v.value);
    case "int": return `${v.value}i`;
    case "bool": return v.value ? "true" : "f";
    case "string": return `"${escString(v.value)}"`;
  }
}

/** The oracle: a point as a line (tags: the id and the string fields named tag_*). */
function encodeLine(p: Point, tagNames: ReadonlySet<string>): string {
  const tags = [`id=${escKey(p.id)}`, ...p.fields.filter(([n]) => tagNames.has(n)).map(([n, v]) => `${escKey(n)}=${escKey((v as { value: string }).value)}`)];
  const fields = p.fields.filter(([n]) => !tagNames.has(n)).map(([n, v]) => `${escKey(n)}=${encodeValue(v)}`);
  return `${escMeasurement(p.collection)},${tags.join(",")} ${fields.join(",")} ${p.timeNs}`;
}

const nameArb = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}$/);
const hostile = fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom("a", "b", " ", ",", "=", "\\", '"', "é", "x", "🚀") }).filter((s) => !s.endsWith("\\") && s.trim() === s && !/\\/.test(s));
const fieldArb: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }).map((value) => ({ kind: "number" as const, value })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ kind: "int" as const, value })),
  fc.boolean().map((value) => ({ kind: "bool" as const, value })),
  fc.string({ maxLength: 12, unit: fc.constantFrom("a", " ", ",", "=", "\\", '"', "é", "\t") }).map((value) => ({ kind: "string" as const, value })),
);

describe("line protocol", () => {
  test("round trip against the oracle encoder: hostile ids, tag values, field names and strings, every type", () => {
    fc.assert(
      fc.property(
        nameArb,
        fc.uniqueArray(fc.tuple(hostile.filter((s) => s !== "id"), fieldArb), { minLength: 1, maxLength: 6, selector: (t) => t[0] }),
        fc.uniqueArray(fc.tuple(fc.stringMatching(/^tag_[a-z]{1,4}$/), hostile), { maxLength: 3, selector: (t) => t[0] }),
        hostile,
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        (collection, fields, tags, id, timeNs) => {
          const tagNames = new Set(tags.map(([n]) => n));
          const fs = fields.filter(([n]) => !tagNames.has(n));
          if (fs.length === 0) return;
          const p: Point = { database: "db", collection, id, timeNs, insertedAtNs: 7n, fields: [...fs, ...tags.map(([n, v]) => [n, { kind: "string" as const, value: v }] as const)] };
          const line = encodeLine(p, tagNames);
          const [got] = parseLineProtocol(`${line}\n`, OPTS);
          const sorted = (x: Point) => ({ ...x, fields: [...x.fields].sort((a, b) => (a[0] < b[0] ? -1 : 1)) });
          expect(sorted(got!)).toEqual(sorted(p));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("types, precision, comments, CRLF, missing timestamps, escapes", () => {
    const body = [
      "# a comment",
      "",
      "cpu,id=a,host=h1 f=1,i=-2i,u=3u,s=\"x \\\"q\\\" \\\\ y\",b=t,B=FALSE,e=1e3 1700000000",
      "cpu,id=b\\ c,k\\=1=v\\,2 f=.5\r",
      "   mem,id=z free=1i",
    ].join("\n");
    const pts = parseLineProtocol(body, { ...OPTS, precisionNs: 1_000_000_000n });
    expect(pts.map((p) => [p.collection, p.id, p.timeNs])).toEqual([["cpu", "a", 1_700_000_000_000_000_000n], ["cpu", "b c", 123n], ["mem", "z", 123n]]);
    expect(Object.fromEntries(pts[0]!.fields)).toEqual({
      host: { kind: "string", value: "h1" }, f: { kind: "number", value: 1 }, i: { kind: "int", value: -2n }, u: { kind: "int", value: 3n },
      s: { kind: "string", value: 'x "q" \\ y' }, b: { kind: "bool", value: true }, B: { kind: "bool", value: false }, e: { kind: "number", value: 1000 },
    });
    expect(Object.fromEntries(pts[1]!.fields)).toEqual({ "k=1": { kind: "string", value: "v,2" }, f: { kind: "number", value: 0.5 } });
  });

  test("a bad line is named (number, what, the text) and nothing of the request is returned", () => {
    const bad: Array<[string, RegExp]> = [
      ["cpu,id=a f=1\ncpu,host=h f=1", /line 2: no tag "id"/],
      ["cpu,id=a f=0x10", /line 1: field "f": "0x10" is not a float/],
      ["cpu,id=a f=Infinity", /is not a float, integer/],
      ["cpu,id=a f=9223372036854775808i", /does not fit int64/],
      ["cpu,id=a f=-1u", /negative/],
      ["cpu,id=a f=\"open", /unterminated string/],
      ["cpu,id=a", /expected a space before the fields/],
      ["cpu,id=a f=1,f=2", /"f" is given twice/],
      ["cpu,id=a f=1 12ab", /timestamp "12ab" is not an integer/],
      ["cpu,id=a f=1 -5", /outside/],
      ["c/u,id=a f=1", /line 1\.collection/],
      ["cpu,id=../x f=1", /line 1\.id/],
      ["# only a comment", /no line to write/],
    ];
    for (const [body, re] of bad) {
      let err: unknown;
      try {
        parseLineProtocol(body, OPTS);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SoltixError);
      expect((err as SoltixError).kind).toBe("invalid_argument");
      expect((err as Error).message).toMatch(re);
    }
  });

  test("random bytes: points or a named invalid_argument, never anything else", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: fc.constantFrom("c", "p", "u", ",", "=", " ", "\\", '"', "i", "1", "2", ".", "e", "-", "\n", "#", "t", "d", "id", "\r", "u") }), (body) => {
        try {
          parseLineProtocol(body, OPTS);
        } catch (e) {
          expect(e).toBeInstanceOf(SoltixError);
          expect(["invalid_argument", "resource_exhausted"]).toContain((e as SoltixError).kind);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

const tmp = tempDir("influx");
let cluster: LocalCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  tmp.cleanup();
});

async function readBack(routerUrl: string, db: string, coll: string, ids: string[]): Promise<Array<{ id: string; time: string; fields: Record<string, unknown> }>> {
  const r = await fetch(`${routerUrl}/v1/databases/${db}/collections/${coll}/query?ids=${ids.map(encodeURIComponent).join(",")}`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { points: Array<{ id: string; time: string; fields: Record<string, unknown> }> }).points;
}

describe("Influx endpoints on the router", () => {
  test("the influx CLI writes with INSERT; gzip and /api/v2/write; all read back through the Soltix API; errors named, nothing written", async () => {
    cluster = await startLocalCluster({ nodes: 3, dir: tmp.dir, routerPort: 0 }, { platform: systemPlatform(serveWithBun), logger: silentLogger });
    const c = cluster;
    const port = new URL(c.routerUrl).port;
    // Not spawnSync: the cluster answering it runs in this process.
    const cli = async (args: string[]) => {
      const r = Bun.spawn(["influx", "-host", "127.0.0.1", "-port", port, ...args], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text()]);
      return { code: await r.exited, out: out + err };
    };
    const ok = await cli(["-database", "plant", "-precision", "s", "-execute", "INSERT sensors,id=dev-1,site=a temp=21.5,count=3i,ok=t,note=\"door open\" 1732406400"]);
    expect(ok.out).not.toContain("ERR");
    const got = await readBack(c.routerUrl, "plant", "sensors", ["dev-1"]);
    expect(got.map((p) => [p.id, p.time])).toEqual([["dev-1", "1732406400000000000"]]);
    expect(got[0]!.fields).toEqual({ temp: { numberValue: 21.5 }, count: { intValue: "3" }, ok: { boolValue: true }, note: { stringValue: "door open" }, site: { stringValue: "a" } });
    // The CLI exits 0 even when the server refuses: its output says ERR and names the line.
    const refused = await cli(["-database", "plant", "-execute", "INSERT sensors,site=a temp=1"]);
    expect(refused.out).toContain("ERR");
    expect(refused.out).toContain('no tag \\"id\\"');
    // gzip, v2, precision ms.
    const body = gzipSync(new TextEncoder().encode("sensors,id=dev-2 temp=1 1732406400000\nsensors,id=dev-2 temp=2 1732406460000\n"));
    const v2 = await fetch(`${c.routerUrl}/api/v2/write?bucket=plant&precision=ms`, { method: "POST", headers: { "content-encoding": "gzip" }, body });
    expect(v2.status).toBe(204);
    expect((await readBack(c.routerUrl, "plant", "sensors", ["dev-2"])).map((p) => p.time)).toEqual(["1732406400000000000", "1732406460000000000"]);
    // All or nothing: a request whose third line is bad stores none of its lines.
    const bad = await fetch(`${c.routerUrl}/write?db=plant`, { method: "POST", body: "sensors,id=dev-3 t=1 1\nsensors,id=dev-3 t=2 2\nsensors,id=dev-3 t=oops 3\n" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^line 3: field "t": "oops" is not a float/);
    expect(await readBack(c.routerUrl, "plant", "sensors", ["dev-3"])).toEqual([]);
    expect((await fetch(`${c.routerUrl}/write?db=plant`, { method: "POST", headers: { "content-encoding": "gzip" }, body: "not gzip" })).status).toBe(400);
    expect((await fetch(`${c.routerUrl}/write`, { method: "POST", body: "sensors,id=x t=1" })).status).toBe(400);
    expect((await fetch(`${c.routerUrl}/api/v2/write?bucket=plant&precision=h`, { method: "POST", body: "sensors,id=x t=1" })).status).toBe(400);
    const ping = await fetch(`${c.routerUrl}/ping`);
    expect(ping.status).toBe(204);
    expect(ping.headers.get("x-influxdb-version")).toContain("soltix");
  }, 60_000);
});
