// fast-check arbitraries for points and batches, shared by the property tests.

import fc from "fast-check";
import type { FieldValue, Point } from "../../src/model/point.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

export const DAY0 = 20_000n * NS_PER_DAY; // 2024-10-04

const nameArb = fc.constantFrom("db", "demo", "metrics");
const collArb = fc.constantFrom("sensors", "cpu");
const idArb = fc.oneof(fc.constantFrom("dev-1", "dev-2", "dev-3", "ä-ünï", "🚀x"), fc.stringMatching(/^[a-z0-9]{1,6}$/));

export const fieldValueArb: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => ({ kind: "number" as const, value })),
  fc.string({ maxLength: 12 }).filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ud800-\udfff]/.test(s)).map((value) => ({ kind: "string" as const, value })),
  fc.boolean().map((value) => ({ kind: "bool" as const, value })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ kind: "int" as const, value })),
);

export const fieldsArb = fc
  .uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/), fieldValueArb), { maxLength: 6, selector: (t) => t[0] })
  .map((a) => a as Array<readonly [string, FieldValue]>);

/** Points within a few days and a small key space, so keys collide and LWW matters. */
export function pointArb(opts: { days?: number; timesPerDay?: number; dense?: boolean } = {}): fc.Arbitrary<Point> {
  const days = opts.days ?? 3;
  const slots = opts.timesPerDay ?? 20;
  const dense = opts.dense ?? false;
  return fc.record({
    database: dense ? fc.constant("db") : nameArb,
    collection: dense ? fc.constantFrom("cpu", "sensors") : collArb,
    id: dense ? fc.constantFrom("dev-1", "dev-2", "ä-ünï", "🚀x") : idArb,
    timeNs: fc.tuple(fc.integer({ min: 0, max: days - 1 }), fc.integer({ min: 0, max: slots - 1 })).map(
      ([d, s]) => DAY0 + BigInt(d) * NS_PER_DAY + BigInt(s) * (NS_PER_DAY / BigInt(slots)),
    ),
    insertedAtNs: fc.bigInt({ min: 1n, max: 50n }),
    fields: fieldsArb,
  });
}
