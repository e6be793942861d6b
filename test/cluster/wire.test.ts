import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { routedFromBinary } from "../../src/router/fast-route.ts";
import { WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
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

describe("router binary fast path", () => {
  test("forwarded entries (original bytes + stamped inserted_at) decode on the node to exactly the router's points", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(pointArb(), fc.boolean()), { minLength: 1, maxLength: 20 }), (ps) => {
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
