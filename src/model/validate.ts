// Validation of every input field of a point. Names and ids are data, never paths: the storage layer
// only ever builds file names from group numbers and day numbers, and ids are refused when they look
// like paths anyway so no downstream tool is tempted. Errors name the field, the value and the limit.

import { invalidArgument } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { TIME_MAX_NS, TIME_MIN_NS } from "../base/time.ts";
import type { Point } from "./point.ts";

const utf8 = new TextEncoder();
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// Control characters (C0, DEL, C1), path separators, and lone surrogates are refused in ids.
const ID_FORBIDDEN_RE = /[\u0000-\u001f\u007f-\u009f/\\]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATE = "[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]";
const FIELD_NAME_FORBIDDEN_RE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f]|${LONE_SURROGATE}`);
// String values may hold tab, newline and carriage return.
const STRING_VALUE_FORBIDDEN_RE = new RegExp(`[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]|${LONE_SURROGATE}`);

function show(value: string): string {
  const s = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(s);
}

function byteLength(s: string): number {
  // Fast path: ASCII length equals byte length.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return utf8.encode(s).length;
  return s.length;
}

export function validateName(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "must not be empty");
  if (value.length > LIMITS.nameBytesMax) {
    throw invalidArgument(field, `${show(value)} is ${value.length} bytes, limit ${LIMITS.nameBytesMax}`);
  }
  if (!NAME_RE.test(value)) {
    throw invalidArgument(field, `${show(value)} may hold only letters, digits, '_', '.', '-' and must not start with '.' or '-'`);
  }
}

export function validateId(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "must not be empty");
  const n = byteLength(value);
  if (n > LIMITS.idBytesMax) throw invalidArgument(field, `${show(value)} is ${n} bytes, limit ${LIMITS.idBytesMax}`);
  if (ID_FORBIDDEN_RE.test(value) || value === "." || value === "..") {
    throw invalidArgument(field, `${show(value)} must not contain '/', '\\', control characters or lone surrogates, nor be '.' or '..'`);
  }
}

export function validateTimeNs(field: string, value: bigint): void {
  if (value < TIME_MIN_NS || value >= TIME_MAX_NS) {
    throw invalidArgument(field, `${value} ns is outside [${TIME_MIN_NS}, ${TIME_MAX_NS}) (1970-01-01 .. 2255-06-05 UTC)`);
  }
}

export function validateInsertedAtNs(field: string, value: bigint): void {
  if (value < 0n || value >= TIME_MAX_NS) {
    throw invalidArgument(field, `${value} ns is outside [0, ${TIME_MAX_NS})`);
  }
}

/** Validates a point; `at` is the field path of the point (e.g. `points[3]`). */
export function validatePoint(at: string, p: Point): void {
  validateName(`${at}.database`, p.database);
  validateName(`${at}.collection`, p.collection);
  validateId(`${at}.id`, p.id);
  validateTimeNs(`${at}.time`, p.timeNs);
  validateInsertedAtNs(`${at}.inserted_at`, p.insertedAtNs);
  if (p.fields.length > LIMITS.fieldsPerPointMax) {
    throw invalidArgument(`${at}.fields`, `${p.fields.length} fields, limit ${LIMITS.fieldsPerPointMax}`);
  }
  const seen = new Set<string>();
  for (const [name, v] of p.fields) {
    const f = `${at}.fields[${show(name)}]`;
    validateFieldName(at, name);
    if (seen.has(name)) throw invalidArgument(f, "duplicate field name");
    seen.add(name);
    switch (v.kind) {
      case "number":
        if (!Number.isFinite(v.value)) throw invalidArgument(f, `${v.value} is not a finite number`);
        break;
      case "string": {
        validateStringValue(f, v.value);
        break;
      }
      case "int":
        if (v.value < -(2n ** 63n) || v.value >= 2n ** 63n) throw invalidArgument(f, `${v.value} does not fit in int64`);
        break;
      case "bool":
        break;
    }
  }
}

/** A field name of the point at `at`: not empty, within its byte limit, no control characters. */
export function validateFieldName(at: string, name: string): void {
  const f = `${at}.fields[${show(name)}]`;
  if (name.length === 0) throw invalidArgument(`${at}.fields`, "a field name must not be empty");
  const nb = byteLength(name);
  if (nb > LIMITS.fieldNameBytesMax) throw invalidArgument(f, `name is ${nb} bytes, limit ${LIMITS.fieldNameBytesMax}`);
  if (FIELD_NAME_FORBIDDEN_RE.test(name)) throw invalidArgument(f, "name must not contain control characters or lone surrogates");
}

/** A string field value (`f` names the field): within its byte limit, no control characters but tab and newline. */
export function validateStringValue(f: string, value: string): void {
  const sb = byteLength(value);
  if (sb > LIMITS.stringValueBytesMax) throw invalidArgument(f, `string is ${sb} bytes, limit ${LIMITS.stringValueBytesMax}`);
  if (STRING_VALUE_FORBIDDEN_RE.test(value)) throw invalidArgument(f, "string must not contain control characters (other than tab/newline) or lone surrogates");
}
