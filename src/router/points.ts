// The Soltix-compatible point format of the router's HTTP API: flat JSON objects with `id`, `time`
// (RFC 3339 with up to 9 fractional digits, or integer nanoseconds) and fields (number → float64,
// string, bool). Parsing keeps integer times exact (JSON.parse's source text), validates every
// field, and names the offending one.

import { invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { parseRfc3339Ns } from "../base/time.ts";
import type { FieldValue, Point } from "../model/point.ts";
import { validatePoint } from "../model/validate.ts";

/** Marks an integer whose exact source text JSON.parse preserved. */
class ExactInteger {
  constructor(readonly text: string) {}
}

/** JSON.parse that keeps integer literals beyond 2^53 exact (they become ExactInteger). */
export function parseJsonExact(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value: unknown, ctx?: { source?: string }) => {
      if (typeof value === "number" && ctx?.source !== undefined && /^-?\d+$/.test(ctx.source) && !Number.isSafeInteger(value)) {
        return new ExactInteger(ctx.source);
      }
      return value;
    });
  } catch (e) {
    throw invalidArgument("body", `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A point's time: RFC 3339, or an integer in `precisionNs` units (ns by default). */
function timeNs(at: string, v: unknown, precisionNs: bigint): bigint {
  if (typeof v === "string") {
    if (/^-?\d+$/.test(v)) return BigInt(v) * precisionNs;
    const ns = parseRfc3339Ns(v);
    if (ns === undefined) throw invalidArgument(`${at}.time`, `${JSON.stringify(v)} is neither RFC 3339 (e.g. 2024-11-24T00:00:00.123Z) nor integer nanoseconds`);
    return ns;
  }
  if (v instanceof ExactInteger) return BigInt(v.text) * precisionNs;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v) * precisionNs;
  if (v === undefined) throw invalidArgument(`${at}.time`, "is required");
  throw invalidArgument(`${at}.time`, `${JSON.stringify(v)} is not a time (RFC 3339 string or integer nanoseconds)`);
}

/** One flat Soltix point → a validated core Point (inserted_at stamped by `stamp`). */
export function pointFromSoltixJson(at: string, raw: unknown, database: string, collection: string, stamp: () => bigint, precisionNs = 1n): Point {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalidArgument(at, "must be a JSON object");
  const o = raw as Record<string, unknown>;
  if (typeof o.id !== "string") throw invalidArgument(`${at}.id`, o.id === undefined ? "is required" : "must be a string");
  const fields: Array<readonly [string, FieldValue]> = [];
  for (const [name, v] of Object.entries(o)) {
    if (name === "id" || name === "time") continue;
    const f = `${at}.${name}`;
    if (typeof v === "number") fields.push([name, { kind: "number", value: v }]);
    else if (v instanceof ExactInteger) fields.push([name, { kind: "number", value: Number(v.text) }]);
    else if (typeof v === "string") fields.push([name, { kind: "string", value: v }]);
    else if (typeof v === "boolean") fields.push([name, { kind: "bool", value: v }]);
    else throw invalidArgument(f, `${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v} is not a field value (number, string or bool)`);
  }
  const p: Point = { database, collection, id: o.id, timeNs: timeNs(at, o.time, precisionNs), insertedAtNs: stamp(), fields };
  validatePoint(at, p);
  return p;
}

export function pointsFromBatchJson(body: unknown, database: string, collection: string, stamp: () => bigint, precisionNs = 1n): Point[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidArgument("body", 'must be {"points": [...]}');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "points") throw invalidArgument(k, 'unknown field (the body is {"points": [...]})');
  if (!Array.isArray(o.points)) throw invalidArgument("points", "must be an array");
  if (o.points.length === 0) throw invalidArgument("points", "must hold at least one point");
  if (o.points.length > LIMITS.writeBatchPointsMax) throw resourceExhausted("points", `${o.points.length} points in one batch, limit ${LIMITS.writeBatchPointsMax}`);
  return o.points.map((p, i) => pointFromSoltixJson(`points[${i}]`, p, database, collection, stamp, precisionNs));
}
