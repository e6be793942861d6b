// Query's binary fast path: canonical point encodings (model/encoding.ts) transcoded straight to the
// protobuf bytes of a QueryResponse — strings copied as UTF-8 bytes (both formats prefix them with a
// uvarint length), floats byte-swapped, integers re-varinted — with no Point objects, no string
// decoding and no protobuf-es on the way. The result decodes (protobuf-es) to exactly the message the
// generic path builds (a property test holds the two together).
//
//   QueryResponse := 1: repeated Point (length-delimited), 2: string next_cursor
//   Point := 1 database, 2 collection, 3 id (strings), 4 time (varint), 5 map<string, FieldValue>
//            entries {1 key, 2 FieldValue}, 6 inserted_at (varint)
//   FieldValue := oneof { 1 double (fixed64 LE), 2 string, 3 bool (varint), 4 int64 (varint) }

import { ByteWriter, u32At, uvarintLength } from "../base/bytes.ts";
import { SoltixError } from "../base/errors.ts";
import { ENCODING_VERSION_V1 } from "../model/encoding.ts";

function corrupt(message: string): SoltixError {
  return new SoltixError("data_loss", `invalid point encoding: ${message}`);
}

/** Length of a 64-bit varint of the unsigned value hi·2^32 + lo. */
function varint64Length(hi: number, lo: number): number {
  if (hi === 0) {
    let n = 1;
    while (lo >= 0x80) {
      lo >>>= 7;
      n++;
    }
    return n;
  }
  let n = 5; // the low 32 bits take 4 groups of 7 plus part of the 5th
  let h = hi >>> 3; // bits above the 35 the first five bytes carry
  while (h > 0) {
    h >>>= 7;
    n++;
  }
  return n;
}

function writeVarint64(w: ByteWriter, hi: number, lo: number): void {
  const { buf, at: start } = w.reserve(10);
  let at = start;
  while (hi !== 0 || lo >= 0x80) {
    buf[at++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[at++] = lo;
  w.length = at;
}

function readUvarint(b: Uint8Array, at: number): [value: number, next: number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    if (at >= b.length) throw corrupt("truncated varint");
    const c = b[at++]!;
    v += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) return [v, at];
    shift += 7;
    if (shift > 28) throw corrupt("varint too long");
  }
}


const body = new ByteWriter(4096);

/** Appends one Point (field 1 of QueryResponse, length-delimited) transcoded from a canonical encoding. */
export function appendPointFromEncoding(out: ByteWriter, enc: Uint8Array): void {
  if (enc.length < 17 || enc[0] !== ENCODING_VERSION_V1) throw corrupt(`unknown version ${enc[0]}`);
  body.reset();
  let at = 17;
  // database, collection, id: the same uvarint length + UTF-8 in both formats
  for (const tag of [0x0a, 0x12, 0x1a]) {
    const [n, start] = readUvarint(enc, at);
    if (start + n > enc.length) throw corrupt("string past the end");
    body.u8(tag);
    body.copyFrom(enc, at, start + n);
    at = start + n;
  }
  const tHi = u32At(enc, 9), tLo = u32At(enc, 13);
  if (tHi !== 0 || tLo !== 0) {
    body.u8(0x20);
    writeVarint64(body, tHi, tLo);
  }
  const [fieldCount, fieldsAt] = readUvarint(enc, at);
  at = fieldsAt;
  for (let i = 0; i < fieldCount; i++) {
    const [nameLen, nameStart] = readUvarint(enc, at);
    const nameEnd = nameStart + nameLen;
    if (nameEnd + 1 > enc.length) throw corrupt("field past the end");
    const tag = enc[nameEnd]!;
    let v = nameEnd + 1;
    let valueLen: number; // FieldValue message bytes
    let valueEnd: number;
    let kind: number;
    if (tag === 1) {
      valueLen = 9;
      valueEnd = v + 8;
      kind = 1;
    } else if (tag === 2) {
      const [sLen, sStart] = readUvarint(enc, v);
      valueEnd = sStart + sLen;
      valueLen = 1 + (sStart - v) + sLen;
      kind = 2;
    } else if (tag === 3) {
      valueLen = 2;
      valueEnd = v + 1;
      kind = 3;
    } else if (tag === 4) {
      valueLen = 1 + varint64Length(u32At(enc, v), u32At(enc, v + 4));
      valueEnd = v + 8;
      kind = 4;
    } else throw corrupt(`unknown field tag ${tag}`);
    if (valueEnd > enc.length) throw corrupt("field value past the end");
    // map entry: 1 key (string), 2 value (FieldValue)
    const entryLen = 1 + (nameStart - at) + nameLen + 1 + uvarintLength(valueLen) + valueLen;
    body.u8(0x2a);
    body.uvarint(entryLen);
    body.u8(0x0a);
    body.copyFrom(enc, at, nameEnd);
    body.u8(0x12);
    body.uvarint(valueLen);
    if (kind === 1) {
      body.u8(0x09);
      const { buf, at: o } = body.reserve(8);
      for (let k = 0; k < 8; k++) buf[o + k] = enc[v + 7 - k]!; // big-endian → little-endian
      body.length = o + 8;
    } else if (kind === 2) {
      body.u8(0x12);
      body.copyFrom(enc, v, valueEnd);
    } else if (kind === 3) {
      const b = enc[v]!;
      if (b > 1) throw corrupt(`bool byte ${b}`);
      body.u8(0x18);
      body.u8(b);
    } else {
      body.u8(0x20);
      writeVarint64(body, u32At(enc, v), u32At(enc, v + 4));
    }
    at = valueEnd;
  }
  if (at !== enc.length) throw corrupt(`${enc.length - at} trailing bytes`);
  const iHi = u32At(enc, 1), iLo = u32At(enc, 5);
  if (iHi !== 0 || iLo !== 0) {
    body.u8(0x30);
    writeVarint64(body, iHi, iLo);
  }
  out.u8(0x0a);
  out.uvarint(body.length);
  out.copyFrom(body.view_(), 0, body.length);
}

/** Appends QueryResponse.next_cursor (omitted when empty, as proto3 does). */
export function appendNextCursor(out: ByteWriter, cursor: string): void {
  if (cursor === "") return;
  out.u8(0x12);
  out.str(cursor);
}

/** QueryResponse.tombstones (field 3): one length-delimited entry per tombstone encoding. */
export function appendTombstones(out: ByteWriter, tombstones: readonly Uint8Array[]): void {
  for (const t of tombstones) {
    out.u8(0x1a);
    out.uvarint(t.length);
    out.bytes(t);
  }
}
