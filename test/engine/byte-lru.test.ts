// The byte-bounded LRU behind every engine cache, against a naive model: the same keys survive, in the
// same recency order, the held bytes are their sum and never above the budget (but for one entry
// larger than it, which stays alone), and evictions are reported for the budget only.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ByteLru } from "../../src/engine/byte-lru.ts";

type Op = { op: "set"; key: number; bytes: number } | { op: "get"; key: number } | { op: "delete"; key: number } | { op: "clear" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key: fc.integer({ min: 0, max: 12 }), bytes: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ op: fc.constant("get" as const), key: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ op: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ op: fc.constant("clear" as const) }),
);

describe("ByteLru", () => {
  test("matches a naive recency list under any sequence of operations", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.array(opArb, { maxLength: 80 }), (budget, ops) => {
        const evicted: number[] = [];
        const lru = new ByteLru<number, string>(budget, (k) => evicted.push(k));
        let model: Array<{ key: number; bytes: number }> = []; // oldest first
        const modelEvicted: number[] = [];
        for (const o of ops) {
          if (o.op === "set") {
            lru.set(o.key, `v${o.key}`, o.bytes);
            model = model.filter((e) => e.key !== o.key);
            model.push({ key: o.key, bytes: o.bytes });
            while (model.reduce((n, e) => n + e.bytes, 0) > budget && model[0]!.key !== o.key) modelEvicted.push(model.shift()!.key);
          } else if (o.op === "get") {
            const hit = model.find((e) => e.key === o.key);
            expect(lru.get(o.key)).toBe(hit === undefined ? undefined : `v${o.key}`);
            if (hit !== undefined) model = [...model.filter((e) => e !== hit), hit];
          } else if (o.op === "delete") {
            expect(lru.delete(o.key)).toBe(model.some((e) => e.key === o.key));
            model = model.filter((e) => e.key !== o.key);
          } else {
            lru.clear();
            model = [];
          }
          const held = model.reduce((n, e) => n + e.bytes, 0);
          expect([...lru.keys()]).toEqual(model.map((e) => e.key));
          expect(lru.bytes).toBe(held);
          expect(held <= budget || model.length === 1).toBe(true);
        }
        expect(evicted).toEqual(modelEvicted);
      }),
      { numRuns: 300 },
    );
  });
});
