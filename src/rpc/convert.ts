// Wire ⇄ core conversions for points (xFromY / xToY). Conversion validates: a Point that leaves this
// file toward the engine has passed every field check.

import { create } from "@bufbuild/protobuf";
import { invalidArgument } from "../base/errors.ts";
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
