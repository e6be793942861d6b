// Segment file format, version 1: the immutable, sorted points of one (group, UTC day window).
//
//   header (48 B) := "SXSEG001" | u32 group | u32 count | u64 window_start | u64 min_time | u64 max_time
//                    | u32 data_bytes | u32 crc32c(header bytes 0..44)
//   data          := count × PointV1, concatenated in key order (one version per key)
//   offsets       := count × u32 (start of each encoding inside data)
//   footer (40 B) := sha256(data) (32) | u32 crc32c(offsets) | "SXSF"
//
// sha256(data) is exactly the flat window checksum when this segment is the window's only source.
// Decoding verifies every checksum before anything is trusted; a mismatch is data_loss.

import { ByteWriter, rangesEqual } from "../base/bytes.ts";
import { crc32c } from "../base/crc32c.ts";
import { SoltixError } from "../base/errors.ts";
import { assert } from "../base/assert.ts";
import { createSha256, toHex } from "../base/sha256.ts";
import { hex8, type PointRecord } from "../model/point.ts";
import { SERIES_OFFSET, keyOfEncoding, seriesEnd, timeOfEncoding } from "../model/encoding.ts";

export const SEGMENT_MAGIC_V1 = "SXSEG001";
export const SEGMENT_FOOTER_MAGIC = "SXSF";
export const SEGMENT_HEADER_BYTES = 48;
export const SEGMENT_FOOTER_BYTES = 40;
const DATA_BYTES_MAX = 0xffffffff;

export interface SegmentMeta {
  group: number;
  count: number;
  windowStartNs: bigint;
  minTimeNs: bigint;
  maxTimeNs: bigint;
  dataBytes: number;
}

/** A decoded, verified segment held in memory. Keys are derived lazily (they cost memory). */
export class SegmentView {
  private keyCache: string[] | undefined;
  constructor(
    readonly meta: SegmentMeta,
    readonly data: Uint8Array,
    readonly offsets: Uint32Array,
    readonly sha256Hex: string,
  ) {}

  get count(): number {
    return this.meta.count;
  }

  enc(i: number): Uint8Array {
    const start = this.offsets[i]!;
    const end = i + 1 < this.offsets.length ? this.offsets[i + 1]! : this.data.length;
    return this.data.subarray(start, end);
  }

  keys(): string[] {
    if (this.keyCache === undefined) this.keyCache = segmentKeys(this.data, this.offsets);
    return this.keyCache;
  }

  /** The segment as a record table (encodings in place, no copy). */
  table(): { count: number; buf: Uint8Array; starts: Uint32Array; ends: Uint32Array; key: (i: number) => string } {
    const ends = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) ends[i] = i + 1 < this.count ? this.offsets[i + 1]! : this.data.length;
    return { count: this.count, buf: this.data, starts: this.offsets, ends, key: (i) => this.keys()[i]! };
  }

  /** Approximate memory held (bytes), for the cache budget. */
  memoryBytes(): number {
    return this.data.length + this.offsets.length * 4 + (this.keyCache === undefined ? 0 : this.count * 96);
  }
}

/**
 * Sort keys of every record. Records are sorted, so neighbours usually share (database, collection,
 * id): the series bytes are compared with the previous record's and its decoded prefix reused.
 */
function segmentKeys(data: Uint8Array, offsets: Uint32Array): string[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const keys = new Array<string>(offsets.length);
  let prevStart = 0;
  let prevLen = -1;
  let prevPrefix = "";
  for (let i = 0; i < offsets.length; i++) {
    const off = offsets[i]!;
    const seriesStart = off + SERIES_OFFSET;
    const seriesLen = seriesEnd(data, seriesStart) - seriesStart;
    if (seriesLen !== prevLen || !rangesEqual(data, seriesStart, prevStart, seriesLen)) {
      const full = keyOfEncoding(data, off);
      prevPrefix = full.slice(0, full.length - 16);
      prevStart = seriesStart;
      prevLen = seriesLen;
    }
    keys[i] = prevPrefix + hex8(view.getUint32(off + 9, false)) + hex8(view.getUint32(off + 13, false));
  }
  return keys;
}

/** Encodes sorted, key-unique records of one window. */
export function encodeSegment(group: number, windowStartNs: bigint, records: readonly PointRecord[]): Uint8Array {
  let dataBytes = 0;
  let minTime = -1n;
  let maxTime = -1n;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (i > 0) assert(records[i - 1]!.key < r.key, "segment records must be sorted and unique by key");
    dataBytes += r.enc.length;
    const t = timeOfEncoding(r.enc);
    if (minTime < 0n || t < minTime) minTime = t;
    if (t > maxTime) maxTime = t;
  }
  assert(dataBytes <= DATA_BYTES_MAX, `segment data ${dataBytes} bytes exceeds ${DATA_BYTES_MAX}`);
  const w = new ByteWriter(SEGMENT_HEADER_BYTES + dataBytes + records.length * 4 + SEGMENT_FOOTER_BYTES);
  for (let i = 0; i < 8; i++) w.u8(SEGMENT_MAGIC_V1.charCodeAt(i));
  w.u32(group);
  w.u32(records.length);
  w.u64(windowStartNs);
  w.u64(minTime < 0n ? 0n : minTime);
  w.u64(maxTime < 0n ? 0n : maxTime);
  w.u32(dataBytes);
  w.u32(crc32c(w.view_(), 0, 44));
  const dataStart = w.length;
  const hasher = createSha256();
  for (const r of records) w.bytes(r.enc);
  hasher.update(w.view_().subarray(dataStart));
  const offsetsStart = w.length;
  let at = 0;
  for (const r of records) {
    w.u32(at);
    at += r.enc.length;
  }
  const offsetsCrc = crc32c(w.view_(), offsetsStart, w.length);
  w.bytes(hasher.digest());
  w.u32(offsetsCrc);
  for (let i = 0; i < 4; i++) w.u8(SEGMENT_FOOTER_MAGIC.charCodeAt(i));
  return w.toBytes();
}

function corrupt(what: string, message: string): SoltixError {
  return new SoltixError("data_loss", `segment ${what}: ${message}`);
}

/** Decodes and verifies only the header (cheap: used at startup to index segments). */
export function decodeSegmentHeader(bytes: Uint8Array, what: string): SegmentMeta {
  if (bytes.length < SEGMENT_HEADER_BYTES) throw corrupt(what, `header is ${bytes.length} bytes, need ${SEGMENT_HEADER_BYTES}`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== SEGMENT_MAGIC_V1.charCodeAt(i)) throw corrupt(what, "bad magic (not a SegmentV1 file)");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  if (crc32c(bytes, 0, 44) !== v.getUint32(44, false)) throw corrupt(what, "header CRC mismatch");
  return {
    group: v.getUint32(8, false),
    count: v.getUint32(12, false),
    windowStartNs: v.getBigUint64(16, false),
    minTimeNs: v.getBigUint64(24, false),
    maxTimeNs: v.getBigUint64(32, false),
    dataBytes: v.getUint32(40, false),
  };
}

/** Decodes and fully verifies a segment file image. */
export function decodeSegment(bytes: Uint8Array, what: string): SegmentView {
  const meta = decodeSegmentHeader(bytes, what);
  const expected = SEGMENT_HEADER_BYTES + meta.dataBytes + meta.count * 4 + SEGMENT_FOOTER_BYTES;
  if (bytes.length !== expected) throw corrupt(what, `file is ${bytes.length} bytes, header says ${expected}`);
  const footerAt = bytes.length - SEGMENT_FOOTER_BYTES;
  for (let i = 0; i < 4; i++) {
    if (bytes[footerAt + 36 + i] !== SEGMENT_FOOTER_MAGIC.charCodeAt(i)) throw corrupt(what, "bad footer magic");
  }
  const dataStart = SEGMENT_HEADER_BYTES;
  const offsetsStart = dataStart + meta.dataBytes;
  const fv = new DataView(bytes.buffer, bytes.byteOffset + footerAt, SEGMENT_FOOTER_BYTES);
  if (crc32c(bytes, offsetsStart, footerAt) !== fv.getUint32(32, false)) throw corrupt(what, "offsets CRC mismatch");
  const data = bytes.subarray(dataStart, offsetsStart);
  const digest = createSha256().update(data).digest();
  const stored = bytes.subarray(footerAt, footerAt + 32);
  for (let i = 0; i < 32; i++) if (digest[i] !== stored[i]) throw corrupt(what, "data SHA-256 mismatch");
  const offsets = new Uint32Array(meta.count);
  const ov = new DataView(bytes.buffer, bytes.byteOffset + offsetsStart, meta.count * 4);
  let prev = -1;
  for (let i = 0; i < meta.count; i++) {
    const o = ov.getUint32(i * 4, false);
    if (o <= prev && i > 0) throw corrupt(what, `offset ${i} not increasing`);
    if (o >= meta.dataBytes) throw corrupt(what, `offset ${i} past data end`);
    offsets[i] = o;
    prev = o;
  }
  if (meta.count > 0 && offsets[0] !== 0) throw corrupt(what, "first offset is not 0");
  return new SegmentView(meta, data, offsets, toHex(digest));
}
