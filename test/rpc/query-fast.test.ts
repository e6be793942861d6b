// Query's binary fast path against the generic one: the transcoded bytes decode (protobuf-es) to the
// same QueryResponse the Connect handler builds, for any point (every field kind, negative and huge
// ints, long and non-ASCII strings, time 0); and on a node, paging a collection through the binary
// fast path and through JSON returns the same points and cursors.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ByteWriter } from "../../src/base/bytes.ts";
import { encodePoint } from "../../src/model/encoding.ts";
import type { FieldValue, Point } from "../../src/model/point.ts";
import { appendNextCursor, appendPointFromEncoding } from "../../src/rpc/query-fast.ts";
import { pointToProtoFromEncoding } from "../../src/rpc/convert.ts";
import { QueryResponseSchema, StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { fieldValueArb, pointArb } from "../support/arb.ts";
import { startTestNode } from "../support/node.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

const longStringArb = fc.string({ minLength: 100, maxLength: 400 }).filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ud800-\udfff]/.test(s)).map((value) => ({ kind: "string" as const, value }));
const edgeArb: fc.Arbitrary<FieldValue> = fc.oneof(
  fieldValueArb,
  longStringArb,
  fc.constantFrom<FieldValue>({ kind: "int", value: -1n }, { kind: "int", value: -(2n ** 63n) }, { kind: "int", value: 2n ** 63n - 1n }, { kind: "int", value: 2n ** 35n }, { kind: "number", value: -0 }, { kind: "number", value: Number.MAX_VALUE }, { kind: "bool", value: false }),
);
const pointWithEdgesArb: fc.Arbitrary<Point> = fc.tuple(pointArb(), fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/), edgeArb), { maxLength: 8, selector: (t) => t[0] }), fc.boolean()).map(([p, fields, zeroTime]) => ({
  ...p,
  timeNs: zeroTime ? 0n : p.timeNs,
  fields: fields as Array<readonly [string, FieldValue]>,
}));

describe("Query fast path", () => {
  test("transcoded bytes decode to the message the generic path builds (property)", () => {
    fc.assert(
      fc.property(fc.array(pointWithEdgesArb, { maxLength: 5 }), fc.oneof(fc.constant(""), fc.string({ maxLength: 300 })), (points, cursor) => {
        const encs = points.map(encodePoint);
        const out = new ByteWriter(16);
        for (const e of encs) appendPointFromEncoding(out, e);
        appendNextCursor(out, cursor);
        const fast = fromBinary(QueryResponseSchema, out.toBytes());
        const generic = create(QueryResponseSchema, { points: encs.map(pointToProtoFromEncoding), nextCursor: cursor });
        expect(Buffer.from(toBinary(QueryResponseSchema, fast)).equals(Buffer.from(toBinary(QueryResponseSchema, generic)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test("a corrupt encoding is refused with data_loss, not transcoded", () => {
    const enc = encodePoint({ database: "d", collection: "c", id: "x", timeNs: 5n, insertedAtNs: 1n, fields: [["a", { kind: "number", value: 1 }]] });
    expect(() => appendPointFromEncoding(new ByteWriter(), enc.subarray(0, enc.length - 3))).toThrow(/invalid point encoding/);
    const badTag = enc.slice();
    badTag[enc.length - 9] = 9;
    expect(() => appendPointFromEncoding(new ByteWriter(), badTag)).toThrow(/unknown field tag 9/);
  });

  test("on a node: binary (fast path) and JSON pages of a collection are the same points and cursors", async () => {
    const n = await startTestNode();
    try {
      const day = 20_300n * NS_PER_DAY;
      const points = Array.from({ length: 900 }, (_, i) => ({ database: "q", collection: "m", id: `dev-${i % 37}`, time: String(day + BigInt(i) * 1_000_000_000n), fields: { v: { numberValue: i * 0.25 }, s: { stringValue: `s${i % 3}` }, k: { intValue: String(-i) } } }));
      expect((await n.post("/soltix.v1.StorageService/Write", { points })).status).toBe(200);
      const bin = n.client(StorageService, true);
      const json = n.client(StorageService, false);
      let cb = "", cj = "", pages = 0, seen = 0;
      do {
        const a = await bin.query({ database: "q", collection: "m", limit: 128, cursor: cb });
        const b = await json.query({ database: "q", collection: "m", limit: 128, cursor: cj });
        expect(toBinary(QueryResponseSchema, a)).toEqual(toBinary(QueryResponseSchema, b));
        cb = a.nextCursor;
        cj = b.nextCursor;
        seen += a.points.length;
        pages++;
      } while (cb !== "");
      expect(seen).toBe(900);
      expect(pages).toBe(Math.ceil(900 / 128));
      // bad input through the fast path: a clear Connect error, nothing served
      const bad = await n.node.app.fetch(new Request("http://node/soltix.v1.StorageService/Query", { method: "POST", headers: { "content-type": "application/proto" }, body: new Uint8Array([0x0a, 0x05, 0x71]) }));
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { message: string }).message).toMatch(/QueryRequest|request/);
    } finally {
      await n.close();
    }
  });
});
