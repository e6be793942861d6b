// Wire ⇄ core conversions for points (xFromY / xToY). Conversion validates: a Point that leaves this
// file toward the engine has passed every field check.

import { create } from "@bufbuild/protobuf";
import { SoltixError, errorMessage, invalidArgument } from "../base/errors.ts";
import { bytesEqual } from "../base/bytes.ts";
import { NS_PER_DAY } from "../base/time.ts";
import { decodePoint, encodePoint } from "../model/encoding.ts";
import { groupOf } from "../model/group.ts";
import type { FieldValue, Point } from "../model/point.ts";
import { pointKey } from "../model/point.ts";
import { validatePoint } from "../model/validate.ts";
import type { StoredPoint } from "../engine/engine.ts";
import {
  FieldValueSchema,
  PointSchema,
  type FieldValue as PbFieldValue,
  type Point as PbPoint,
} from "../gen/soltix/v1/point_pb.ts";

function fieldValueFromProto(at: string, v: PbFieldValue): FieldValue {
  const c = v.value;
  switch (c.case) {
    case "numberValue":
      return { kind: "number", value: c.value };
    case "stringValue":
      return { kind: "string", value: c.value };
    case "boolValue":
      return { kind: "bool", value: c.value };
    case "intValue":
      return { kind: "int", value: c.value };
    default:
      throw invalidArgument(at, "no value set (one of numberValue, stringValue, boolValue, intValue)");
  }
}

/** A validated core Point from a wire Point; inserted_at 0 is stamped with `stamp()`. */
export function pointFromProto(at: string, p: PbPoint, stamp: () => bigint): Point {
  const fields: Array<readonly [string, FieldValue]> = [];
  for (const name of Object.keys(p.fields)) {
    fields.push([name, fieldValueFromProto(`${at}.fields[${JSON.stringify(name)}]`, p.fields[name]!)]);
  }
  const point: Point = {
    database: p.database,
    collection: p.collection,
    id: p.id,
    timeNs: p.time,
    insertedAtNs: p.insertedAt === 0n ? stamp() : p.insertedAt,
    fields,
  };
  validatePoint(at, point);
  return point;
}

/**
 * A replica's canonical encoding (a repair, a sketch exchange) as a point to store: valid, canonical,
 * of `group` (and of the window starting at `windowStart` when given), else `kind` naming the field —
 * data_loss when a peer's answer is bad, invalid_argument when a caller's request is.
 */
export function storedFromPeerEncoding(field: string, enc: Uint8Array, group: number, totalGroups: number, kind: "data_loss" | "invalid_argument", windowStart?: bigint): StoredPoint {
  const fail = (message: string) => new SoltixError(kind, `${field}: ${message}`, field);
  let p: Point;
  try {
    p = decodePoint(enc);
  } catch (e) {
    throw fail(`not a point encoding (${errorMessage(e)})`);
  }
  validatePoint(field, p);
  if (!bytesEqual(encodePoint(p), enc)) throw fail("not a canonical point encoding");
  const s = storedFromPoint(p, totalGroups);
  if (s.group !== group) throw fail(`a point of group ${s.group}, not of group ${group}`);
  if (windowStart !== undefined && (p.timeNs < windowStart || p.timeNs >= windowStart + NS_PER_DAY)) throw fail(`time ${p.timeNs} is outside the window starting at ${windowStart}`);
  return s;
}

export function storedFromPoint(p: Point, totalGroups: number): StoredPoint {
  return {
    group: groupOf(p.database, p.collection, p.id, totalGroups),
    key: pointKey(p.database, p.collection, p.id, p.timeNs),
    enc: encodePoint(p),
  };
}

function fieldValueToProto(v: FieldValue): PbFieldValue {
  switch (v.kind) {
    case "number":
      return create(FieldValueSchema, { value: { case: "numberValue", value: v.value } });
    case "string":
      return create(FieldValueSchema, { value: { case: "stringValue", value: v.value } });
    case "bool":
      return create(FieldValueSchema, { value: { case: "boolValue", value: v.value } });
    case "int":
      return create(FieldValueSchema, { value: { case: "intValue", value: v.value } });
  }
}

export function pointToProto(p: Point): PbPoint {
  const fields: Record<string, PbFieldValue> = {};
  for (const [name, v] of p.fields) fields[name] = fieldValueToProto(v);
  return create(PointSchema, {
    database: p.database,
    collection: p.collection,
    id: p.id,
    time: p.timeNs,
    insertedAt: p.insertedAtNs,
    fields,
  });
}

export function pointToProtoFromEncoding(enc: Uint8Array): PbPoint {
  return pointToProto(decodePoint(enc));
}
