// The ingest fast path must accept, reject and encode exactly like the generic path
// (protobuf-es fromBinary → pointFromProto → validatePoint → encodePoint).

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { SoltixError } from "../../src/base/errors.ts";
import { storedFromWriteRequestBinary } from "../../src/rpc/write-fast.ts";
import { storedFromWireBatch } from "../../src/rpc/storage-service.ts";
import { pointToProto } from "../../src/rpc/convert.ts";
import type { NodeContext } from "../../src/rpc/context.ts";
import { pointArb } from "../support/arb.ts";
import { decodePoint, encodePoint, recordOf } from "../../src/model/encoding.ts";
import { validatePoint } from "../../src/model/validate.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";

function stampers() {
  let a = 1_000n;
  let b = 1_000n;
  return { generic: () => a++, fast: () => b++ };
}

function generic(bytes: Uint8Array, stamp: () => bigint) {
  const req = fromBinary(WriteRequestSchema, bytes);
  return storedFromWireBatch(req.points, { stamper: { batch: () => stamp }, totalGroups: 256 } as unknown as NodeContext);
}

type Outcome = { ok: true; value: unknown } | { ok: false; kind: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, kind: e instanceof SoltixError ? e.kind : `non-typed ${String(e)}` };
  }
}

const requestArb = fc
  .array(fc.tuple(pointArb(), fc.boolean()), { minLength: 1, maxLength: 30 })
  .map((ps) => toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: ps.map(([p, stampHere]) => pointToProto(stampHere ? { ...p, insertedAtNs: 0n } : p)) })));

describe("binary Write fast path", () => {
  test("valid requests: identical stored points (group, key, canonical bytes, stamps)", () => {
    fc.assert(
      fc.property(requestArb, (bytes) => {
        const s = stampers();
        expect(storedFromWriteRequestBinary(bytes, s.fast, 256)).toEqual(generic(bytes, s.generic));
      }),
      { numRuns: 400 },
    );
  });

  // The two decoders differ on some malformed wire bytes (protobuf-es reads a known field with a wrong
  // wire type; it rejects some tags the spec allows as unknown fields). What must hold: no crash, typed
  // errors, identical results when both accept, and whatever the fast path accepts is a valid,
  // canonical point.
  test("mutated bytes: no crash, typed errors, same result when both accept, only valid canonical points stored", () => {
    fc.assert(
      fc.property(requestArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (bytes, edits, cut) => {
        const b = bytes.slice(0, Math.max(1, bytes.length - (cut % 4)));
        for (const [at, v] of edits) b[at % b.length] = v;
        const s = stampers();
        const fast = outcome(() => storedFromWriteRequestBinary(b, s.fast, 256));
        const gen = outcome(() => generic(b, s.generic));
        if (!fast.ok) expect(["invalid_argument", "resource_exhausted"]).toContain(fast.kind);
        if (fast.ok && gen.ok) expect(fast.value).toEqual(gen.value);
        if (fast.ok) {
          (fast.value as StoredPoint[]).forEach((p, i) => {
            const back = decodePoint(p.enc);
            validatePoint(`points[${i}]`, back);
            expect(encodePoint(back)).toEqual(p.enc);
            expect(recordOf(back).key).toBe(p.key);
          });
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("limits and field errors match the generic path's messages", () => {
    const mk = (points: unknown[]) => toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: points as never }));
    const base = { database: "db", collection: "c", id: "d", time: 5n, fields: { v: { value: { case: "numberValue", value: 1 } } } };
    const cases = [
      mk([]),
      mk(Array.from({ length: 10_001 }, () => base)),
      mk([{ ...base, id: "../x" }]),
      mk([{ ...base, time: -1n }]),
      mk([{ ...base, fields: { v: { value: { case: "numberValue", value: NaN } } } }]),
      mk([{ ...base, fields: { v: { value: { case: undefined } } } }]),
      mk([base, { ...base, database: "" }]),
    ];
    for (const bytes of cases) {
      const fastErr = outcome(() => storedFromWriteRequestBinary(bytes, () => 1n, 256));
      let genMsg = "";
      let fastMsg = "";
      try {
        generic(bytes, () => 1n);
      } catch (e) {
        genMsg = (e as Error).message;
      }
      try {
        storedFromWriteRequestBinary(bytes, () => 1n, 256);
      } catch (e) {
        fastMsg = (e as Error).message;
      }
      expect(fastErr.ok).toBe(false);
      expect(fastMsg).toBe(genMsg);
    }
  });
});
