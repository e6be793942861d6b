// The ingest hot path: a WriteRequest in protobuf binary → validated, stamped canonical encodings,
// without building protobuf-es or core Point objects. It accepts and rejects exactly what the generic
// path (fromBinary → pointFromProto → validatePoint → encodePoint) does, with the same field-named
// errors; a property test holds the two paths to identical bytes. Malformed bytes are
// invalid_argument, never a crash. It is stricter than protobuf-es in one way: a known field with the
// wrong wire type is an error here (protobuf-es reads it anyway).
//
// Wire shapes (proto/soltix/v1): WriteRequest { 1: repeated Point }, Point { 1 database, 2 collection,
// 3 id, 4 time (varint), 5 map<string, FieldValue> as entries { 1 key, 2 value }, 6 inserted_at },
// FieldValue { 1 number (fixed64), 2 string, 3 bool (varint), 4 int (varint) }.

import { ByteWriter, rangesEqual } from "../base/bytes.ts";
import { SoltixError, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { TIME_MAX_NS } from "../base/time.ts";
import { ENCODING_VERSION_V1 } from "../model/encoding.ts";
import { hex8 } from "../model/point.ts";
import { FNV32_OFFSET, fnv1a32Update } from "../model/group.ts";
import { validateId, validateInsertedAtNs, validateName, validatePoint, validateTimeNs } from "../model/validate.ts";
import type { StoredPoint } from "../engine/engine.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { errorMessage } from "../base/errors.ts";
import { tombstoneOfDelete, type Tombstone } from "../model/tombstone.ts";
import { DeleteRequestSchema, type DeleteRequest } from "../gen/soltix/v1/storage_pb.ts";
import { noteFieldType, type BatchFieldTypes, type FieldKind } from "../cluster/field-types.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TAG_NUMBER = 1;
const TAG_STRING = 2;
const TAG_BOOL = 3;
const TAG_INT = 4;
const TIME_MAX_HI = Number(TIME_MAX_NS >> 32n);
const TIME_MAX_LO = Number(TIME_MAX_NS & 0xffffffffn);

/** Thrown by Wire; the point loop turns it into invalid_argument naming the point. */
class MalformedWire extends Error {}

function malformed(_at: string, what: string): MalformedWire {
  return new MalformedWire(`malformed protobuf: ${what}`);
}

/** A cursor over protobuf wire bytes. Every read is bounds-checked against `end`. */
class Wire {
  pos: number;
  constructor(public b: Uint8Array, start: number, public end: number) {
    this.pos = start;
  }

  /** Points the cursor at a new range (cursors are reused: no allocation per point or field). */
  reset(b: Uint8Array, start: number, end: number): Wire {
    this.b = b;
    this.pos = start;
    this.end = end;
    return this;
  }

  varint32(at: string): number {
    let r = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) throw malformed(at, "truncated varint");
      const x = this.b[this.pos++]!;
      r |= (x & 0x7f) << shift;
      if (x < 0x80) return r >>> 0;
    }
    // Longer varints (negative int32 as 10 bytes): skip the rest, keep the low 32 bits.
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw malformed(at, "truncated varint");
      if (this.b[this.pos++]! < 0x80) return r >>> 0;
    }
    throw malformed(at, "varint longer than 10 bytes");
  }

  /** A 64-bit varint as [lo, hi] unsigned 32-bit halves. */
  varint64(at: string, out: Uint32Array): void {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(at, "truncated varint");
      const x = this.b[this.pos++]!;
      const bits = x & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (x < 0x80) {
        out[0] = lo >>> 0;
        out[1] = hi >>> 0;
        return;
      }
      shift += 7;
    }
    throw malformed(at, "varint longer than 10 bytes");
  }

  lengthDelimited(at: string): number {
    const n = this.varint32(at);
    if (n > this.end - this.pos) throw malformed(at, `length ${n} runs past the end of the message`);
    return n;
  }

  skip(wireType: number, at: string): void {
    switch (wireType) {
      case 0:
        this.varint32(at);
        return;
      case 1:
        if (this.end - this.pos < 8) throw malformed(at, "truncated fixed64");
        this.pos += 8;
        return;
      case 2: {
        // Read the length first: `this.pos += f()` would add to the position from before the length.
        const n = this.lengthDelimited(at);
        this.pos += n;
        return;
      }
      case 5:
        if (this.end - this.pos < 4) throw malformed(at, "truncated fixed32");
        this.pos += 4;
        return;
      default:
        throw malformed(at, `unsupported wire type ${wireType}`);
    }
  }
}

function toBigInt64(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

function isAscii(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

function decodeString(b: Uint8Array, start: number, end: number, at: string): string {
  if (isAscii(b, start, end)) {
    return end - start < 128 ? String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]) : utf8.decode(b.subarray(start, end));
  }
  try {
    return utf8.decode(b.subarray(start, end));
  } catch {
    throw invalidArgument(at, "invalid UTF-8");
  }
}

function sameBytes(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
  return e1 - s1 === e2 - s2 && rangesEqual(b, s1, s2, e1 - s1);
}

interface FieldEntry {
  name: string;
  nameStart: number;
  nameEnd: number;
  tag: number;
  /** number: 8 wire bytes at valueStart (little-endian); string: [valueStart, valueEnd); bool/int: lo/hi. */
  valueStart: number;
  valueEnd: number;
  lo: number;
  hi: number;
}

/** Per-request caches: points of one batch mostly share database, collection, id and field names. */
class Caches {
  // Start/end -1/-2 (length -1) never equal a real span, so the first point is always validated.
  dbS = -1; dbE = -2; db = "";
  collS = -1; collE = -2; coll = "";
  idS = -1; idE = -2; id = "";
  prefix = "";
  group = 0;
  hexHiOf = -1;
  hexHi = "";
  validFieldNames = new Set<string>();
  /** The field names and tags last noted for the batch's field types, and of which collection. */
  typesDb = "";
  typesColl = "";
  typesNames: string[] = [];
  typesTags: number[] = [];
}

const KIND_OF_TAG: Record<number, FieldKind> = { [TAG_NUMBER]: "float", [TAG_STRING]: "string", [TAG_BOOL]: "bool", [TAG_INT]: "int" };

const COLON = new Uint8Array([0x3a]);
const EMPTY = new Uint8Array(0);
const pointCursor = new Wire(EMPTY, 0, 0);
const entryCursor = new Wire(EMPTY, 0, 0);
const valueCursor = new Wire(EMPTY, 0, 0);
const w = new ByteWriter(1 << 16);
const u64 = new Uint32Array(2);

/**
 * Decodes, validates and stamps the points (field 1) of a binary message: a WriteRequest's, or a
 * StreamPoints page's (its field 2, the cursor, is skipped).
 */
export function storedFromWriteRequestBinary(bytes: Uint8Array, stamp: () => bigint, totalGroups: number): StoredPoint[] {
  return pointsFromSpans(bytes, pointSpans(bytes), stamp, totalGroups);
}

/**
 * Decodes a binary WriteRequest with its deletes (a node's Write: points, and the deletes a router
 * replicates): points validated and stamped as above, deletes checked and stamped (model/tombstone.ts).
 */
export function decodeWriteRequestBinary(bytes: Uint8Array, stamp: () => bigint, totalGroups: number): { points: StoredPoint[]; deletes: Tombstone[] } {
  const deleteSpans: number[] = [];
  const spans = pointSpans(bytes, deleteSpans);
  const deleteCount = deleteSpans.length / 2;
  if (deleteCount > LIMITS.deletesPerWriteMax) throw resourceExhausted("deletes", `${deleteCount} deletes in one request, limit ${LIMITS.deletesPerWriteMax}`);
  const deletes: Tombstone[] = [];
  for (let i = 0; i < deleteCount; i++) {
    let req: DeleteRequest;
    try {
      req = fromBinary(DeleteRequestSchema, bytes.subarray(deleteSpans[2 * i]!, deleteSpans[2 * i + 1]!));
    } catch (e) {
      throw invalidArgument(`deletes[${i}]`, `malformed protobuf: ${errorMessage(e)}`);
    }
    deletes.push(tombstoneOfDeleteRequest(`deletes[${i}]`, req, stamp));
  }
  const points = spans.length === 0 && deleteCount > 0 ? [] : pointsFromSpans(bytes, spans, stamp, totalGroups);
  return { points, deletes };
}

/** A DeleteRequest (wire) as a checked, stamped tombstone. */
export function tombstoneOfDeleteRequest(at: string, req: Pick<DeleteRequest, "database" | "collection" | "ids" | "startTime" | "endTime" | "insertedAt">, stamp: () => bigint): Tombstone {
  return tombstoneOfDelete(at, { database: req.database, collection: req.collection, ids: req.ids, startNs: req.startTime, endNs: req.endTime, insertedAtNs: req.insertedAt }, stamp);
}

/**
 * Pass 1: the [start, end) of every point's message, so limits are checked before any work; the
 * spans of deletes (field 2) go to `deletes` (a router's request has none: the field is skipped).
 */
function pointSpans(bytes: Uint8Array, deletes?: number[]): number[] {
  const top = new Wire(bytes, 0, bytes.length);
  const spans: number[] = [];
  try {
    countPoints(top, spans, deletes);
  } catch (e) {
    if (e instanceof MalformedWire) throw invalidArgument("WriteRequest", e.message);
    throw e;
  }
  return spans;
}

function countPoints(top: Wire, spans: number[], deletes: number[] | undefined): void {
  while (top.pos < top.end) {
    const key = top.varint32("points");
    const field = key >>> 3;
    const wt = key & 7;
    if ((field === 1 || (field === 2 && deletes !== undefined)) && wt === 2) {
      const n = top.lengthDelimited(field === 1 ? "points" : "deletes");
      (field === 1 ? spans : deletes!).push(top.pos, top.pos + n);
      top.pos += n;
    } else if (field === 0) throw malformed("WriteRequest", "field number 0");
    else top.skip(wt, "WriteRequest");
  }
}

/** What the router needs of each point of a WriteRequest: its message span, group and inserted_at. */
export interface RouteScan {
  count: number;
  /** [start, end) of each point's message in the request bytes. */
  spans: number[];
  groups: Uint32Array;
  /** inserted_at (stamped when the point had none) as unsigned 32-bit halves. */
  insertedAtHi: Uint32Array;
  insertedAtLo: Uint32Array;
  /** The databases the points name. */
  databases: Set<string>;
  /** The points' field types per (database, collection) (a field with two types in the batch is refused). */
  fieldTypes: BatchFieldTypes;
}

/**
 * The router's scan of a binary WriteRequest: the same validation and stamping as
 * storedFromWriteRequestBinary (same errors, the encoded size limit included), without building
 * canonical encodings or sort keys the router would throw away.
 */
export function scanWriteRequestForRouting(bytes: Uint8Array, stamp: () => bigint, totalGroups: number): RouteScan {
  const spans = pointSpans(bytes);
  const count = spans.length / 2;
  const route: RouteScan = { count, spans, groups: new Uint32Array(count), insertedAtHi: new Uint32Array(count), insertedAtLo: new Uint32Array(count), databases: new Set(), fieldTypes: new Map() };
  pointsFromSpans(bytes, spans, stamp, totalGroups, route);
  return route;
}

function pointsFromSpans(bytes: Uint8Array, spans: number[], stamp: () => bigint, totalGroups: number, route?: RouteScan): StoredPoint[] {
  const count = spans.length / 2;
  if (count === 0) throw invalidArgument("points", "must hold at least one point");
  if (count > LIMITS.writeBatchPointsMax) throw resourceExhausted("points", `${count} points in one batch, limit ${LIMITS.writeBatchPointsMax}`);

  const out = new Array<StoredPoint>(route === undefined ? count : 0);
  const c = new Caches();
  const entries: FieldEntry[] = [];
  const pool: FieldEntry[] = [];
  for (let i = 0; i < count; i++) {
    try {
      const p = decodePoint(bytes, spans[2 * i]!, spans[2 * i + 1]!, i, c, entries, pool, stamp, totalGroups, route);
      if (p !== undefined) out[i] = p;
    } catch (e) {
      if (e instanceof MalformedWire) throw invalidArgument(`points[${i}]`, e.message);
      throw e;
    }
  }
  return out;
}

function uvarintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** The canonical encoding's length (model/encoding.ts V1), without writing it. */
function canonicalLength(dbLen: number, collLen: number, idLen: number, fields: FieldEntry[]): number {
  let n = 1 + 16 + uvarintBytes(dbLen) + dbLen + uvarintBytes(collLen) + collLen + uvarintBytes(idLen) + idLen + uvarintBytes(fields.length);
  for (const f of fields) {
    const nameLen = f.nameEnd - f.nameStart;
    n += uvarintBytes(nameLen) + nameLen + 1;
    if (f.tag === TAG_NUMBER || f.tag === TAG_INT) n += 8;
    else if (f.tag === TAG_STRING) n += uvarintBytes(f.valueEnd - f.valueStart) + (f.valueEnd - f.valueStart);
    else n += 1;
  }
  return n;
}

/** Decodes, validates and stamps one point: its stored form, or (routing) its group and inserted_at into `route`. */
function decodePoint(
  bytes: Uint8Array, start: number, end: number, i: number, c: Caches, entries: FieldEntry[], pool: FieldEntry[],
  stamp: () => bigint, totalGroups: number, route: RouteScan | undefined,
): StoredPoint | undefined {
  {
    const at = `points[${i}]`;
    const r = pointCursor.reset(bytes, start, end);
    let dbS = 0, dbE = 0, collS = 0, collE = 0, idS = 0, idE = 0;
    let tLo = 0, tHi = 0, insLo = 0, insHi = 0;
    entries.length = 0;
    while (r.pos < r.end) {
      const key = r.varint32("");
      const field = key >>> 3;
      const wt = key & 7;
      if (field >= 1 && field <= 3 && wt === 2) {
        const n = r.lengthDelimited("");
        if (field === 1) (dbS = r.pos), (dbE = r.pos + n);
        else if (field === 2) (collS = r.pos), (collE = r.pos + n);
        else (idS = r.pos), (idE = r.pos + n);
        r.pos += n;
      } else if ((field === 4 || field === 6) && wt === 0) {
        r.varint64("", u64);
        if (field === 4) (tLo = u64[0]!), (tHi = u64[1]!);
        else (insLo = u64[0]!), (insHi = u64[1]!);
      } else if (field === 5 && wt === 2) {
        const n = r.lengthDelimited("");
        parseEntry(bytes, r.pos, r.pos + n, entries, pool);
        r.pos += n;
      } else if (field === 0) throw malformed("", "field number 0");
      else r.skip(wt, "");
    }

    // Series: decode and validate only when it differs from the previous point's.
    let seriesChanged = false;
    if (!sameBytes(bytes, dbS, dbE, c.dbS, c.dbE)) {
      c.db = decodeString(bytes, dbS, dbE, `${at}.database`);
      validateName(`${at}.database`, c.db);
      (c.dbS = dbS), (c.dbE = dbE), (seriesChanged = true);
      route?.databases.add(c.db);
    }
    if (!sameBytes(bytes, collS, collE, c.collS, c.collE)) {
      c.coll = decodeString(bytes, collS, collE, `${at}.collection`);
      validateName(`${at}.collection`, c.coll);
      (c.collS = collS), (c.collE = collE), (seriesChanged = true);
    }
    if (!sameBytes(bytes, idS, idE, c.idS, c.idE)) {
      c.id = decodeString(bytes, idS, idE, `${at}.id`);
      validateId(`${at}.id`, c.id);
      (c.idS = idS), (c.idE = idE), (seriesChanged = true);
    }
    if (seriesChanged) {
      if (route === undefined) c.prefix = `${c.db}\u0000${c.coll}\u0000${c.id}\u0000`;
      let h = fnv1a32Update(FNV32_OFFSET, bytes, dbS, dbE);
      h = fnv1a32Update(h, COLON, 0, 1);
      h = fnv1a32Update(h, bytes, collS, collE);
      h = fnv1a32Update(h, COLON, 0, 1);
      c.group = (fnv1a32Update(h, bytes, idS, idE) >>> 0) % totalGroups;
    }

    // Times: range checks on the 64-bit halves (hi as signed catches negatives).
    if ((tHi | 0) < 0 || tHi > TIME_MAX_HI || (tHi === TIME_MAX_HI && tLo >= TIME_MAX_LO)) validateTimeNs(`${at}.time`, toBigInt64(tLo, tHi));
    if (insLo === 0 && insHi === 0) {
      const s = stamp();
      insLo = Number(s & 0xffffffffn);
      insHi = Number(s >> 32n);
    } else if ((insHi | 0) < 0 || insHi > TIME_MAX_HI || (insHi === TIME_MAX_HI && insLo >= TIME_MAX_LO)) {
      validateInsertedAtNs(`${at}.inserted_at`, toBigInt64(insLo, insHi));
    }

    // Fields: last entry of a name wins (protobuf map semantics), then sorted by name.
    const fields = dedupeAndSort(entries);
    if (fields.length > LIMITS.fieldsPerPointMax) throw invalidArgument(`${at}.fields`, `${fields.length} fields, limit ${LIMITS.fieldsPerPointMax}`);
    for (const f of fields) validateEntry(bytes, f, at, c.validFieldNames);

    if (route !== undefined) {
      // Field types: noted unless the point has exactly the previous point's collection, names and tags.
      let same = !seriesChanged || (c.typesDb === c.db && c.typesColl === c.coll);
      same &&= c.typesNames.length === fields.length;
      for (let k = 0; same && k < fields.length; k++) same = c.typesNames[k] === fields[k]!.name && c.typesTags[k] === fields[k]!.tag;
      if (!same) {
        for (const f of fields) noteFieldType(route.fieldTypes, c.db, c.coll, f.name, KIND_OF_TAG[f.tag]!, at);
        c.typesDb = c.db;
        c.typesColl = c.coll;
        c.typesNames = fields.map((f) => f.name);
        c.typesTags = fields.map((f) => f.tag);
      }
      const n = canonicalLength(dbE - dbS, collE - collS, idE - idS, fields);
      if (n > LIMITS.pointBytesMax) throw invalidArgument(at, `encoded point is ${n} bytes, limit ${LIMITS.pointBytesMax}`);
      route.groups[i] = c.group;
      route.insertedAtHi[i] = insHi;
      route.insertedAtLo[i] = insLo;
      return undefined;
    }

    // Canonical encoding V1 (see model/encoding.ts), written straight from the wire bytes.
    w.reset();
    w.u8(ENCODING_VERSION_V1);
    w.u32(insHi);
    w.u32(insLo);
    w.u32(tHi);
    w.u32(tLo);
    w.uvarint(dbE - dbS);
    w.copyFrom(bytes, dbS, dbE);
    w.uvarint(collE - collS);
    w.copyFrom(bytes, collS, collE);
    w.uvarint(idE - idS);
    w.copyFrom(bytes, idS, idE);
    w.uvarint(fields.length);
    for (const f of fields) {
      w.uvarint(f.nameEnd - f.nameStart);
      w.copyFrom(bytes, f.nameStart, f.nameEnd);
      w.u8(f.tag);
      if (f.tag === TAG_NUMBER) {
        for (let k = 7; k >= 0; k--) w.u8(bytes[f.valueStart + k]!);
      } else if (f.tag === TAG_STRING) {
        w.uvarint(f.valueEnd - f.valueStart);
        w.copyFrom(bytes, f.valueStart, f.valueEnd);
      } else if (f.tag === TAG_BOOL) {
        w.u8(f.lo !== 0 || f.hi !== 0 ? 1 : 0);
      } else {
        w.u32(f.hi);
        w.u32(f.lo);
      }
    }
    if (w.length > LIMITS.pointBytesMax) throw invalidArgument(at, `encoded point is ${w.length} bytes, limit ${LIMITS.pointBytesMax}`);
    if (c.hexHiOf !== tHi) (c.hexHi = hex8(tHi)), (c.hexHiOf = tHi);
    return { group: c.group, key: c.prefix + c.hexHi + hex8(tLo), enc: w.toBytes() };
  }
}

function parseEntry(b: Uint8Array, start: number, end: number, entries: FieldEntry[], pool: FieldEntry[]): void {
  const r = entryCursor.reset(b, start, end);
  let nameStart = start, nameEnd = start;
  let vStart = -1, vEnd = -1;
  while (r.pos < r.end) {
    const key = r.varint32("");
    const field = key >>> 3;
    const wt = key & 7;
    if (field === 1 && wt === 2) {
      const n = r.lengthDelimited("");
      (nameStart = r.pos), (nameEnd = r.pos + n);
      r.pos += n;
    } else if (field === 2 && wt === 2) {
      const n = r.lengthDelimited("");
      (vStart = r.pos), (vEnd = r.pos + n);
      r.pos += n;
    } else if (field === 0) throw malformed("", "field number 0");
    else r.skip(wt, "");
  }
  // Entries are pooled by position. Points of a batch usually carry the same field names in the same
  // order, so the pooled entry still holds the previous point's decoded name for these bytes.
  const j = entries.length;
  let e = pool[j];
  if (e === undefined) {
    e = { name: "", nameStart: 0, nameEnd: -1, tag: 0, valueStart: 0, valueEnd: 0, lo: 0, hi: 0 };
    pool[j] = e;
  }
  if (!sameBytes(b, nameStart, nameEnd, e.nameStart, e.nameEnd)) {
    try {
      e.name = decodeString(b, nameStart, nameEnd, "fields");
    } catch {
      throw malformed("", "invalid UTF-8 in a field name");
    }
  }
  e.nameStart = nameStart;
  e.nameEnd = nameEnd;
  e.tag = 0;
  e.valueStart = 0;
  e.valueEnd = 0;
  e.lo = 0;
  e.hi = 0;
  if (vStart >= 0) {
    // FieldValue: the last oneof member on the wire wins.
    const v = valueCursor.reset(b, vStart, vEnd);
    while (v.pos < v.end) {
      const key = v.varint32("");
      const field = key >>> 3;
      const wt = key & 7;
      if (field === 1 && wt === 1) {
        if (v.end - v.pos < 8) throw malformed("", "truncated double");
        (e.tag = TAG_NUMBER), (e.valueStart = v.pos);
        v.pos += 8;
      } else if (field === 2 && wt === 2) {
        const n = v.lengthDelimited("");
        (e.tag = TAG_STRING), (e.valueStart = v.pos), (e.valueEnd = v.pos + n);
        v.pos += n;
      } else if ((field === 3 || field === 4) && wt === 0) {
        v.varint64("", u64);
        (e.tag = field === 3 ? TAG_BOOL : TAG_INT), (e.lo = u64[0]!), (e.hi = u64[1]!);
      } else if (field === 0) throw malformed("", "field number 0");
      else v.skip(wt, "");
    }
  }
  entries.push(e);
}

function dedupeAndSort(entries: FieldEntry[]): FieldEntry[] {
  let sorted = true;
  for (let i = 1; i < entries.length; i++) {
    if (!(entries[i - 1]!.name < entries[i]!.name)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return entries;
  const byName = new Map<string, FieldEntry>();
  for (const e of entries) byName.set(e.name, e);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Same checks as validatePoint's field loop (it is called for the error message on failure). */
function validateEntry(b: Uint8Array, f: FieldEntry, at: string, validNames: Set<string>): void {
  const fail = (value: { kind: "number"; value: number } | { kind: "string"; value: string } | { kind: "int"; value: bigint }) => {
    // Delegate to the generic validator so messages are identical; it throws.
    validatePoint(at, { database: "x", collection: "x", id: "x", timeNs: 0n, insertedAtNs: 0n, fields: [[f.name, value]] });
    throw new SoltixError("internal", `${at}: fast-path validation disagreed with the generic validator`);
  };
  if (f.tag === 0) throw invalidArgument(`${at}.fields[${JSON.stringify(f.name)}]`, "no value set (one of numberValue, stringValue, boolValue, intValue)");
  if (!validNames.has(f.name)) {
    validatePoint(at, { database: "x", collection: "x", id: "x", timeNs: 0n, insertedAtNs: 0n, fields: [[f.name, { kind: "bool", value: true }]] });
    if (validNames.size < 4096) validNames.add(f.name);
  }
  if (f.tag === TAG_NUMBER) {
    // NaN and ±Infinity have all exponent bits set (bytes 6..7 of the little-endian double).
    if ((b[f.valueStart + 7]! & 0x7f) === 0x7f && (b[f.valueStart + 6]! & 0xf0) === 0xf0) {
      fail({ kind: "number", value: new DataView(b.buffer, b.byteOffset + f.valueStart, 8).getFloat64(0, true) });
    }
  } else if (f.tag === TAG_STRING) {
    const n = f.valueEnd - f.valueStart;
    if (n > LIMITS.stringValueBytesMax || !isAscii(b, f.valueStart, f.valueEnd) || hasAsciiControl(b, f.valueStart, f.valueEnd)) {
      const s = decodeString(b, f.valueStart, f.valueEnd, `${at}.fields[${JSON.stringify(f.name)}]`);
      validatePoint(at, { database: "x", collection: "x", id: "x", timeNs: 0n, insertedAtNs: 0n, fields: [[f.name, { kind: "string", value: s }]] });
    }
  }
}

function hasAsciiControl(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const x = b[i]!;
    if ((x < 0x20 && x !== 0x09 && x !== 0x0a && x !== 0x0d) || x === 0x7f) return true;
  }
  return false;
}
