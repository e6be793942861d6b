// Shared bench helpers: timing, medians, a started binary, synthetic points.

import { create } from "@bufbuild/protobuf";
import { FieldValueSchema, PointSchema, type Point } from "../../src/gen/soltix/v1/point_pb.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";

export const BENCH_DAY = 20_200n * NS_PER_DAY;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** n wire points of `fields` number fields, devices spread over groups, times inside one day. */
export function wirePoints(n: number, offset: number, fields = 10, devices = 1000): Point[] {
  const out: Point[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    const f: Record<string, ReturnType<typeof create<typeof FieldValueSchema>>> = {};
    for (let j = 0; j < fields; j++) f[`f${j}`] = create(FieldValueSchema, { value: { case: "numberValue", value: k * 0.5 + j } });
    out[i] = create(PointSchema, {
      database: "bench",
      collection: "metrics",
      id: `device-${k % devices}`,
      time: BENCH_DAY + BigInt(Math.floor(k / devices)) * 1_000_000_000n,
      fields: f,
    });
  }
  return out;
}
