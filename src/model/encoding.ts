// Canonical point encoding, version 1. Every checksum and Merkle hash is over these bytes, so they
// must be deterministic: fields sorted by name, floats by IEEE-754 bits, minimal varints, and the
// decoder rejects anything that would not re-encode to the same bytes.
//
//   PointV1 := u8 version=1
//              u64 inserted_at   (big-endian, >= 0)   first, so LWW is "byte-lexicographically larger wins"
//              u64 time          (big-endian, >= 0)
//              str database, str collection, str id   (str = uvarint byte length + UTF-8)
//              uvarint field_count
//              field_count × { str name, u8 tag, value }   names strictly increasing
//   tag 1 number: f64 big-endian | 2 string: str | 3 bool: u8 0/1 | 4 int: i64 big-endian
//
// The encoding is self-delimiting, so a sequence of encodings can be concatenated without framing.

import { ByteReader, ByteWriter, ByteRangeError } from "../base/bytes.ts";
import { SoltixError } from "../base/errors.ts";
import type { FieldValue, Point, PointRecord } from "./point.ts";
import { pointKey } from "./point.ts";

export const ENCODING_VERSION_V1 = 1;
const TAG_NUMBER = 1;
const TAG_STRING = 2;
const TAG_BOOL = 3;
const TAG_INT = 4;

/** Offset of inserted_at inside a V1 encoding. */
export const INSERTED_AT_OFFSET = 1;
/** Offset of the point's time inside a V1 encoding. */
export const TIME_OFFSET = 9;

function compareNames(a: readonly [string, FieldValue], b: readonly [string, FieldValue]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

const scratch = new ByteWriter(4096);

/** Encodes into `w` (appending). Fields must have distinct names (validate first). */
export function encodePointInto(w: ByteWriter, p: Point): void {
  w.u8(ENCODING_VERSION_V1);
  w.u64(p.insertedAtNs);
  w.u64(p.timeNs);
  w.str(p.database);
  w.str(p.collection);
  w.str(p.id);
  let fields = p.fields;
  for (let i = 1; i < fields.length; i++) {
    if (fields[i - 1]![0] >= fields[i]![0]) {
      fields = [...fields].sort(compareNames);
      break;
    }
  }
  w.uvarint(fields.length);
  for (const [name, v] of fields) {
    w.str(name);
    switch (v.kind) {
      case "number":
        w.u8(TAG_NUMBER);
        w.f64(v.value);
        break;
      case "string":
        w.u8(TAG_STRING);
        w.str(v.value);
        break;
      case "bool":
        w.u8(TAG_BOOL);
        w.u8(v.value ? 1 : 0);
        break;
      case "int":
        w.u8(TAG_INT);
        w.i64(v.value);
        break;
    }
  }
}

export function encodePoint(p: Point): Uint8Array {
  scratch.reset();
  encodePointInto(scratch, p);
  return scratch.toBytes();
}

export function recordOf(p: Point): PointRecord {
  return { key: pointKey(p.database, p.collection, p.id, p.timeNs), enc: encodePoint(p) };
}

function corrupt(message: string): SoltixError {
  return new SoltixError("data_loss", `invalid point encoding: ${message}`);
}

/** Decodes one encoding starting at `r.pos`, leaving `r.pos` after it. */
export function readPoint(r: ByteReader): Point {
  try {
    const version = r.u8();
    if (version !== ENCODING_VERSION_V1) throw corrupt(`unknown version ${version}`);
    const insertedAtNs = r.u64();
    const timeNs = r.u64();
    const database = r.str();
    const collection = r.str();
    const id = r.str();
    const n = r.uvarint();
    const fields: Array<readonly [string, FieldValue]> = [];
    let prev: string | undefined;
    for (let i = 0; i < n; i++) {
      const name = r.str();
      if (prev !== undefined && !(prev < name)) throw corrupt(`field names not strictly increasing at "${name}"`);
      prev = name;
      const tag = r.u8();
      let v: FieldValue;
      if (tag === TAG_NUMBER) v = { kind: "number", value: r.f64() };
      else if (tag === TAG_STRING) v = { kind: "string", value: r.str() };
      else if (tag === TAG_BOOL) {
        const b = r.u8();
        if (b > 1) throw corrupt(`bool byte ${b}`);
        v = { kind: "bool", value: b === 1 };
      } else if (tag === TAG_INT) v = { kind: "int", value: r.i64() };
      else throw corrupt(`unknown field tag ${tag}`);
      fields.push([name, v]);
    }
    return { database, collection, id, timeNs, insertedAtNs, fields };
  } catch (e) {
    if (e instanceof ByteRangeError) throw corrupt(e.message);
    throw e;
  }
}

/** Decodes exactly one encoding; trailing bytes are an error. */
export function decodePoint(enc: Uint8Array): Point {
  const r = new ByteReader(enc);
  const p = readPoint(r);
  if (r.remaining() !== 0) throw corrupt(`${r.remaining()} trailing bytes`);
  return p;
}

/** Where the series bytes (database, collection, id: three length-prefixed strings) start in an encoding. */
export const SERIES_OFFSET = 17; // version (1) + inserted_at (8) + time (8)

/** End of the series bytes that start at `seriesStart` (reads only the three varint lengths). */
export function seriesEnd(bytes: Uint8Array, seriesStart: number): number {
  let p = seriesStart;
  for (let k = 0; k < 3; k++) {
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[p++]!;
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    p += len;
  }
  return p;
}

/** Length of the encoding that starts at `start` (parses it). */
export function encodingLength(bytes: Uint8Array, start: number, end = bytes.length): number {
  const r = new ByteReader(bytes, start, end);
  readPoint(r);
  return r.pos - start;
}

/** Sort key of an encoding, reading only its prefix. */
export function keyOfEncoding(enc: Uint8Array, start = 0): string {
  const r = new ByteReader(enc, start);
  try {
    r.u8();
    r.u64();
    const timeNs = r.u64();
    return pointKey(r.str(), r.str(), r.str(), timeNs);
  } catch (e) {
    if (e instanceof ByteRangeError) throw corrupt(e.message);
    throw e;
  }
}

export function timeOfEncoding(enc: Uint8Array, start = 0): bigint {
  return new DataView(enc.buffer, enc.byteOffset + start + 9, 8).getBigUint64(0, false);
}

export function insertedAtOfEncoding(enc: Uint8Array): bigint {
  return new DataView(enc.buffer, enc.byteOffset + INSERTED_AT_OFFSET, 8).getBigUint64(0, false);
}
