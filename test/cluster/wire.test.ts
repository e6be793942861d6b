import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromBinary } from "@bufbuild/protobuf";
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
