import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Point } from "../../src/model/point.ts";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { routedFromBinary } from "../../src/router/fast-route.ts";
import { WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { PointSchema } from "../../src/gen/soltix/v1/point_pb.ts";
import { writeRequestBody, writeRequestEntry } from "../../src/router/wire.ts";
import { pointToProto } from "../../src/rpc/convert.ts";
import { storedFromWriteRequestBinary } from "../../src/rpc/write-fast.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { pointArb } from "../support/arb.ts";

describe("router wire encoding", () => {
  test("hand-encoded WriteRequests decode (protobuf-es and the node's fast path) to the same points", () => {
    fc.assert(
      fc.property(fc.array(pointArb(), { minLength: 1, maxLength: 20 }), (ps) => {
        const body = writeRequestBody(ps.map(writeRequestEntry));
        const decoded = fromBinary(WriteRequestSchema, body);
        expect(decoded.points).toEqual(ps.map(pointToProto));
        const stored = storedFromWriteRequestBinary(body, () => 1n, 256);
        expect(stored.map((s) => s.enc)).toEqual(ps.map((p) => recordOf(p).enc));
      }),
      { numRuns: 300 },
    );
  });
});

/** A batch in which each field keeps one type per collection (the router refuses the others: field type conflicts). */
function typeConsistent(ps: readonly Point[]): boolean {
  const seen = new Map<string, string>();
  for (const p of ps) {
    for (const [name, v] of p.fields) {
      const k = `${p.database}\u0000${p.collection}\u0000${name}`;
      if ((seen.get(k) ?? v.kind) !== v.kind) return false;
      seen.set(k, v.kind);
    }
  }
  return true;
}

describe("router binary fast path", () => {
  test("forwarded entries (original bytes + stamped inserted_at) decode on the node to exactly the router's points", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(pointArb(), fc.boolean()), { minLength: 1, maxLength: 20 }).filter((ps) => typeConsistent(ps.map(([p]) => p))), (ps) => {
        const body = toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: ps.map(([p, stamp]) => pointToProto(stamp ? { ...p, insertedAtNs: 0n } : p)) }));
        let a = 10n;
        let b = 10n;
        const routed = routedFromBinary(body, () => a++, 256);
        const expected = storedFromWriteRequestBinary(body, () => b++, 256);
        const onNode = storedFromWriteRequestBinary(writeRequestBody(routed.map((r) => r.entry)), () => {
          throw new Error("the node must not stamp: the router did");
        }, 256);
        expect(onNode).toEqual(expected);
        expect(routed.map((r) => r.group)).toEqual(expected.map((e) => e.group));
      }),
      { numRuns: 300 },
    );
  });
});

describe("field types in the router's scan", () => {
  test("a field with two types in one batch is refused naming the point and both types; the types of a consistent batch are collected", () => {
    const p = (id: string, v: { kind: "number"; value: number } | { kind: "string"; value: string }) => ({ database: "db", collection: "c", id, timeNs: 5n, insertedAtNs: 7n, fields: [["t", v] as const] });
    const bad = writeRequestBody([writeRequestEntry(p("a", { kind: "number", value: 1 })), writeRequestEntry(p("b", { kind: "string", value: "x" }))]);
    expect(() => routedFromBinary(bad, () => 1n, 256)).toThrow('points[1].fields["t"]: field type conflict: input field "t" on collection "c" is type string, in an earlier point of the same batch it is type float');
    const good = writeRequestBody([writeRequestEntry(p("a", { kind: "number", value: 1 })), writeRequestEntry(p("b", { kind: "number", value: 2 }))]);
    expect(routedFromBinary(good, () => 1n, 256).fieldTypes).toEqual(new Map([["db\u0000c", new Map([["t", "float"]])]]));
  });
});

describe("router scan and the node's decoder agree at the encoded size limit", () => {
  test("points of 1 MiB ± a few bytes: accepted by both or refused by both with the same message", () => {
    const big = (n: number) => "x".repeat(n);
    // 16 string fields of 64 000 bytes, then one whose length puts the canonical encoding around
    // LIMITS.pointBytesMax (1 048 576 bytes).
    const base = Array.from({ length: 16 }, (_, j) => [`s${String(j).padStart(2, "0")}`, big(64_000)] as const);
    const probe = (lastLen: number) => {
      const p = { database: "db", collection: "c", id: "dev", timeNs: 5n, insertedAtNs: 7n, fields: [...base, ["z", big(lastLen)] as const].map(([k, v]) => [k, { kind: "string" as const, value: v }] as [string, { kind: "string"; value: string }]) };
      const body = writeRequestBody([writeRequestEntry(p)]);
      const outcome = (f: () => unknown) => {
        try {
          f();
          return "ok";
        } catch (e) {
          return String(e);
        }
      };
      return { node: outcome(() => storedFromWriteRequestBinary(body, () => 1n, 256)), router: outcome(() => routedFromBinary(body, () => 1n, 256)), body };
    };
    let accepted = 0, refused = 0;
    for (let last = 24_380; last <= 24_450; last++) {
      const r = probe(last);
      expect(r.router).toBe(r.node);
      if (r.node === "ok") accepted++;
      else {
        expect(r.node).toContain("limit 1048576");
        refused++;
      }
    }
    // The range straddles the limit.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

describe("unknown fields are skipped whole", () => {
  test("length-delimited unknown fields (top level and inside points) change nothing the decoders produce", () => {
    const frame = (field: number, body: Uint8Array): Uint8Array => {
      const out: number[] = [(field << 3) | 2];
      let n = body.length;
      while (n >= 0x80) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return new Uint8Array([...out, ...body]);
    };
    fc.assert(
      fc.property(fc.array(pointArb(), { minLength: 1, maxLength: 8 }).filter(typeConsistent), fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 7, max: 15 }), (ps, junk, field) => {
        const plain = writeRequestBody(ps.map(writeRequestEntry));
        // Each point's message gains an unknown field; the request gains one between points.
        const withUnknown = writeRequestBody(
          ps.flatMap((p) => {
            const msg = toBinary(PointSchema, pointToProto(p));
            return [frame(1, new Uint8Array([...msg, ...frame(field, junk)])), frame(field, junk)];
          }),
        );
        expect(storedFromWriteRequestBinary(withUnknown, () => 1n, 256)).toEqual(storedFromWriteRequestBinary(plain, () => 1n, 256));
        expect(routedFromBinary(withUnknown, () => 1n, 256).map((r) => r.group)).toEqual(routedFromBinary(plain, () => 1n, 256).map((r) => r.group));
      }),
      { numRuns: 200 },
    );
  });
});
