// Segment files: the immutable, sorted points of one (group, UTC day window). Written as version 2
// (columnar, compressed); version 1 files (data dirs of earlier releases) are read as they are.
//
// Version 2 — one columnar block per series (device), in key order (segment/series-block.ts):
//   header (48 B) := "SXSEG002" | u32 group | u32 count | u64 window_start | u64 min_time | u64 max_time
//                    | u32 body_bytes | u32 crc32c(header bytes 0..44)
//   body          := u32 series_count | series_count × (u32 payload_bytes | u32 crc32c(payload) | payload)
//   footer (40 B) := sha256(PointV1 encodings of every point, in key order) (32)
//                    | u32 crc32c(body ‖ sha256) | "SXSF"
//
// Version 1 — the canonical encodings themselves:
//   header (48 B) := "SXSEG001" | … as above, with u32 data_bytes
//   data          := count × PointV1, concatenated in key order (one version per key)
//   offsets       := count × u32 (start of each encoding inside data)
//   footer (40 B) := sha256(data) (32) | u32 crc32c(offsets) | "SXSF"
//
// Either way the footer's SHA-256 is over the canonical encodings in key order — exactly the flat
// window checksum when the segment is the window's only source — and a decoded V2 segment is checked
// against it, so the codec itself is verified on every read. A V2 file's checksum can be read without
// decoding (segmentDigest): its CRC covers the body and the digest. Decoding verifies every checksum
// before anything is trusted; a mismatch is data_loss.

import { ByteWriter, rangesEqual } from "../base/bytes.ts";
import { crc32c } from "../base/crc32c.ts";
import { SoltixError } from "../base/errors.ts";
import { assert } from "../base/assert.ts";
import { createSha256, toHex } from "../base/sha256.ts";
import { hex8, type PointRecord } from "../model/point.ts";
import { SERIES_OFFSET, keyOfEncoding, seriesEnd, timeOfEncoding } from "../model/encoding.ts";
import { decodeSeriesBlock, encodeSeriesBlock, type DecodedBlock } from "./series-block.ts";

export const SEGMENT_MAGIC_V1 = "SXSEG001";
export const SEGMENT_MAGIC_V2 = "SXSEG002";
export const SEGMENT_FOOTER_MAGIC = "SXSF";
export const SEGMENT_HEADER_BYTES = 48;
export const SEGMENT_FOOTER_BYTES = 40;
/** Each version-2 series block's header: u32 payload bytes | u32 crc32c(payload). */
export const BLOCK_HEADER_BYTES = 8;
const DATA_BYTES_MAX = 0xffffffff;

export interface SegmentMeta {
  group: number;
  count: number;
  windowStartNs: bigint;
  minTimeNs: bigint;
  maxTimeNs: bigint;
  dataBytes: number;
  /** The file's size as its header gives it (the decoders check it against the file). */
  fileBytes: number;
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

/** Encodes sorted, key-unique records of one window as version 1 (kept for tests of old data dirs). */
export function encodeSegmentV1(group: number, windowStartNs: bigint, records: readonly PointRecord[]): Uint8Array {
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

/** Encodes sorted, key-unique records of one window (version 2: a columnar block per series). */
export function encodeSegment(group: number, windowStartNs: bigint, records: readonly PointRecord[]): Uint8Array {
  return encodeSegmentOrdered(group, windowStartNs, records.map((r) => r.enc));
}

/**
 * Encodes one window's canonical encodings given in key order (series, then time), unique by key —
 * checked without building keys: times rise strictly within a series run, and the series prefix
 * (built once per run) rises from run to run. Series prefixes end in NUL, which no name holds, so
 * prefix order is key order.
 */
export function encodeSegmentOrdered(group: number, windowStartNs: bigint, encs: readonly Uint8Array[]): Uint8Array {
  let minTime = -1n;
  let maxTime = -1n;
  const hasher = createSha256();
  const wsHi = Number(windowStartNs >> 32n);
  const wsLo = Number(windowStartNs & 0xffffffffn);
  const w = new ByteWriter(SEGMENT_HEADER_BYTES + 64 + encs.length * 24);
  for (let i = 0; i < SEGMENT_HEADER_BYTES; i++) w.u8(0); // filled in below
  const bodyStart = w.length;
  w.u32(0); // series count, filled in below
  let series = 0;
  let run: Uint8Array[] = [];
  let runSeriesEnd = 0;
  const flushRun = () => {
    if (run.length === 0) return;
    const lenAt = w.length;
    w.u32(0);
    w.u32(0);
    const start = w.length;
    encodeSeriesBlock(run, wsHi, wsLo, w);
    const { buf } = w.reserve(0);
    const len = w.length - start;
    new DataView(buf.buffer, buf.byteOffset).setUint32(lenAt, len, false);
    new DataView(buf.buffer, buf.byteOffset).setUint32(lenAt + 4, crc32c(buf, start, start + len), false);
    series++;
    run = [];
  };
  // Times as window offsets in numbers (exact below 2^53), the digest over batched bytes.
  let minOff = Infinity;
  let maxOff = -1;
  const hashBuf = new Uint8Array(1 << 20);
  let hashUsed = 0;
  let runPrefix = "";
  let prevOff = -1;
  for (let i = 0; i < encs.length; i++) {
    const e = encs[i]!;
    const off = ((((e[9]! << 24) | (e[10]! << 16) | (e[11]! << 8) | e[12]!) >>> 0) - wsHi) * 4294967296 + ((((e[13]! << 24) | (e[14]! << 16) | (e[15]! << 8) | e[16]!) >>> 0) - wsLo);
    assert(off >= 0 && off < 86_400_000_000_000, "segment records must lie inside their window");
    if (off < minOff) minOff = off;
    if (off > maxOff) maxOff = off;
    if (hashUsed + e.length > hashBuf.length) {
      hasher.update(hashBuf.subarray(0, hashUsed));
      hashUsed = 0;
    }
    if (e.length > hashBuf.length) hasher.update(e);
    else {
      hashBuf.set(e, hashUsed);
      hashUsed += e.length;
    }
    const end = seriesEnd(e, SERIES_OFFSET);
    const first = run[0];
    if (first === undefined || end !== runSeriesEnd || !sameRange(first, e, SERIES_OFFSET, end)) {
      flushRun();
      runSeriesEnd = end;
      const key = keyOfEncoding(e);
      const prefix = key.slice(0, key.length - 16);
      assert(first === undefined || runPrefix < prefix, "segment records must be sorted and unique by key");
      runPrefix = prefix;
    } else {
      assert(off > prevOff, "segment records must be sorted and unique by key");
    }
    prevOff = off;
    run.push(e);
  }
  flushRun();
  if (hashUsed > 0) hasher.update(hashBuf.subarray(0, hashUsed));
  if (encs.length > 0) {
    minTime = windowStartNs + BigInt(minOff);
    maxTime = windowStartNs + BigInt(maxOff);
  }
  const bodyBytes = w.length - bodyStart;
  assert(bodyBytes <= DATA_BYTES_MAX, `segment body ${bodyBytes} bytes exceeds ${DATA_BYTES_MAX}`);
  const { buf } = w.reserve(0);
  const dv = new DataView(buf.buffer, buf.byteOffset);
  dv.setUint32(bodyStart, series, false);
  for (let i = 0; i < 8; i++) buf[i] = SEGMENT_MAGIC_V2.charCodeAt(i);
  dv.setUint32(8, group, false);
  dv.setUint32(12, encs.length, false);
  dv.setBigUint64(16, windowStartNs, false);
  dv.setBigUint64(24, minTime < 0n ? 0n : minTime, false);
  dv.setBigUint64(32, maxTime < 0n ? 0n : maxTime, false);
  dv.setUint32(40, bodyBytes, false);
  dv.setUint32(44, crc32c(buf, 0, 44), false);
  const digest = hasher.digest();
  const bodyCrc = crc32c(digest, 0, 32, crc32c(buf, bodyStart, bodyStart + bodyBytes));
  w.bytes(digest);
  w.u32(bodyCrc);
  for (let i = 0; i < 4; i++) w.u8(SEGMENT_FOOTER_MAGIC.charCodeAt(i));
  return w.toBytes();
}

function sameRange(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}

function corrupt(what: string, message: string): SoltixError {
  return new SoltixError("data_loss", `segment ${what}: ${message}`);
}

/** The format version a segment file image starts with (1 or 2); data_loss for anything else. */
function versionOf(bytes: Uint8Array, what: string): 1 | 2 {
  for (const [magic, v] of [[SEGMENT_MAGIC_V1, 1], [SEGMENT_MAGIC_V2, 2]] as const) {
    let ok = bytes.length >= 8;
    for (let i = 0; i < 8 && ok; i++) ok = bytes[i] === magic.charCodeAt(i);
    if (ok) return v;
  }
  throw corrupt(what, "bad magic (not a segment file of version 1 or 2)");
}

/** Decodes and verifies only the header (cheap: used at startup to index segments). */
export function decodeSegmentHeader(bytes: Uint8Array, what: string): SegmentMeta {
  if (bytes.length < SEGMENT_HEADER_BYTES) throw corrupt(what, `header is ${bytes.length} bytes, need ${SEGMENT_HEADER_BYTES}`);
  const version = versionOf(bytes, what);
  const v = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  if (crc32c(bytes, 0, 44) !== v.getUint32(44, false)) throw corrupt(what, "header CRC mismatch");
  const count = v.getUint32(12, false);
  const dataBytes = v.getUint32(40, false);
  return {
    group: v.getUint32(8, false),
    count,
    windowStartNs: v.getBigUint64(16, false),
    minTimeNs: v.getBigUint64(24, false),
    maxTimeNs: v.getBigUint64(32, false),
    dataBytes,
    fileBytes: SEGMENT_HEADER_BYTES + dataBytes + (version === 1 ? count * 4 : 0) + SEGMENT_FOOTER_BYTES,
  };
}

/** Decodes and fully verifies a segment file image (either version). */
export function decodeSegment(bytes: Uint8Array, what: string): SegmentView {
  const meta = decodeSegmentHeader(bytes, what);
  return versionOf(bytes, what) === 2 ? decodeV2(bytes, meta, what) : decodeV1(bytes, meta, what);
}

function checkFooter(bytes: Uint8Array, what: string): number {
  const footerAt = bytes.length - SEGMENT_FOOTER_BYTES;
  for (let i = 0; i < 4; i++) {
    if (bytes[footerAt + 36 + i] !== SEGMENT_FOOTER_MAGIC.charCodeAt(i)) throw corrupt(what, "bad footer magic");
  }
  return footerAt;
}

function checkDigest(bytes: Uint8Array, footerAt: number, data: Uint8Array, what: string): Uint8Array {
  const digest = createSha256().update(data).digest();
  const stored = bytes.subarray(footerAt, footerAt + 32);
  for (let i = 0; i < 32; i++) if (digest[i] !== stored[i]) throw corrupt(what, "data SHA-256 mismatch");
  return digest;
}

function decodeV2(bytes: Uint8Array, meta: SegmentMeta, what: string): SegmentView {
  const expected = meta.fileBytes;
  if (bytes.length !== expected) throw corrupt(what, `file is ${bytes.length} bytes, header says ${expected}`);
  const footerAt = checkFooter(bytes, what);
  const bodyStart = SEGMENT_HEADER_BYTES;
  const fv = new DataView(bytes.buffer, bytes.byteOffset + footerAt, SEGMENT_FOOTER_BYTES);
  if (crc32c(bytes, footerAt, footerAt + 32, crc32c(bytes, bodyStart, footerAt)) !== fv.getUint32(32, false)) throw corrupt(what, "body CRC mismatch");
  const bv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const seriesCount = bv.getUint32(bodyStart, false);
  const wsHi = Number(meta.windowStartNs >> 32n);
  const wsLo = Number(meta.windowStartNs & 0xffffffffn);
  const blocks: DecodedBlock[] = [];
  let points = 0;
  let size = 0;
  let p = bodyStart + 4;
  for (let s = 0; s < seriesCount; s++) {
    if (p + 8 > footerAt) throw corrupt(what, `series block ${s} header past the body`);
    const len = bv.getUint32(p, false);
    const crc = bv.getUint32(p + 4, false);
    const start = p + 8;
    if (start + len > footerAt) throw corrupt(what, `series block ${s} past the body`);
    if (crc32c(bytes, start, start + len) !== crc) throw corrupt(what, `series block ${s} CRC mismatch`);
    const b = decodeSeriesBlock(bytes, start, start + len, wsHi, wsLo);
    blocks.push(b);
    points += b.points;
    size += b.bytes;
    p = start + len;
  }
  if (p !== footerAt) throw corrupt(what, `${footerAt - p} bytes after the last series block`);
  if (points !== meta.count) throw corrupt(what, `${points} points decoded, header says ${meta.count}`);
  const { data, starts } = writeBlocks(blocks, size, points, what);
  const digest = checkDigest(bytes, footerAt, data, what);
  return new SegmentView(meta, data, starts, toHex(digest));
}

/**
 * The flat checksum (SHA-256 hex) and point count of a segment file image, verified, without
 * decoding its points when it can: a version-2 file's CRC covers its body and digest. A version-1
 * file is hashed (its data is the canonical encodings).
 */
export function segmentDigest(bytes: Uint8Array, what: string): { sha256Hex: string; count: number } {
  const meta = decodeSegmentHeader(bytes, what);
  if (versionOf(bytes, what) === 1) {
    const v = decodeV1(bytes, meta, what);
    return { sha256Hex: v.sha256Hex, count: v.count };
  }
  const expected = meta.fileBytes;
  if (bytes.length !== expected) throw corrupt(what, `file is ${bytes.length} bytes, header says ${expected}`);
  const footerAt = checkFooter(bytes, what);
  const fv = new DataView(bytes.buffer, bytes.byteOffset + footerAt, SEGMENT_FOOTER_BYTES);
  if (crc32c(bytes, footerAt, footerAt + 32, crc32c(bytes, SEGMENT_HEADER_BYTES, footerAt)) !== fv.getUint32(32, false)) throw corrupt(what, "body CRC mismatch");
  return { sha256Hex: toHex(bytes.subarray(footerAt, footerAt + 32)), count: meta.count };
}

function decodeV1(bytes: Uint8Array, meta: SegmentMeta, what: string): SegmentView {
  const expected = meta.fileBytes;
  if (bytes.length !== expected) throw corrupt(what, `file is ${bytes.length} bytes, header says ${expected}`);
  const footerAt = checkFooter(bytes, what);
  const dataStart = SEGMENT_HEADER_BYTES;
  const offsetsStart = dataStart + meta.dataBytes;
  const fv = new DataView(bytes.buffer, bytes.byteOffset + footerAt, SEGMENT_FOOTER_BYTES);
  if (crc32c(bytes, offsetsStart, footerAt) !== fv.getUint32(32, false)) throw corrupt(what, "offsets CRC mismatch");
  const data = bytes.subarray(dataStart, offsetsStart);
  const digest = checkDigest(bytes, footerAt, data, what);
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

/**
 * A version-2 segment's series blocks, found without decoding them: each block's sort-key prefix
 * (`database\0collection\0id\0`), place in the file, CRC and first point index. A range read
 * reads and decodes only the blocks it touches (decodeDirectoryBlocks), each checked against its own
 * CRC; the whole-file checksums are left to full reads. Header CRC, block bounds, series order and
 * point counts are checked when the directory is built.
 */
export interface SeriesDirectory {
  readonly meta: SegmentMeta;
  readonly prefixes: readonly string[];
  /** File offsets of each block's payload [start, end). */
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly crcs: Uint32Array;
  /** firstPoint[b] = index of block b's first point; firstPoint[blocks] = count. */
  readonly firstPoint: Uint32Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function uvarintAt(bytes: Uint8Array, at: number, end: number, what: string): [number, number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    if (at >= end || shift > 28) throw corrupt(what, "malformed varint in a series block");
    const c = bytes[at++]!;
    v += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) return [v, at];
  }
}

/** The series directory of a version-2 file image; undefined for version 1 (read it whole). */
export function readSeriesDirectory(bytes: Uint8Array, what: string): SeriesDirectory | undefined {
  const meta = decodeSegmentHeader(bytes, what);
  if (versionOf(bytes, what) !== 2) return undefined;
  const expected = meta.fileBytes;
  if (bytes.length !== expected) throw corrupt(what, `file is ${bytes.length} bytes, header says ${expected}`);
  const footerAt = checkFooter(bytes, what);
  const bv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const seriesCount = bv.getUint32(SEGMENT_HEADER_BYTES, false);
  if (seriesCount > meta.count) throw corrupt(what, `${seriesCount} series blocks for ${meta.count} points`);
  const prefixes = new Array<string>(seriesCount);
  const starts = new Uint32Array(seriesCount);
  const ends = new Uint32Array(seriesCount);
  const crcs = new Uint32Array(seriesCount);
  const firstPoint = new Uint32Array(seriesCount + 1);
  let p = SEGMENT_HEADER_BYTES + 4;
  let points = 0;
  for (let s = 0; s < seriesCount; s++) {
    if (p + 8 > footerAt) throw corrupt(what, `series block ${s} header past the body`);
    const len = bv.getUint32(p, false);
    const start = p + 8;
    const end = start + len;
    if (end > footerAt) throw corrupt(what, `series block ${s} past the body`);
    let at = start;
    const parts: string[] = [];
    for (let k = 0; k < 3; k++) {
      const [n, next] = uvarintAt(bytes, at, end, what);
      if (next + n > end) throw corrupt(what, `series block ${s}: name past the block`);
      try {
        parts.push(utf8.decode(bytes.subarray(next, next + n)));
      } catch {
        throw corrupt(what, `series block ${s}: invalid UTF-8 in its series`);
      }
      at = next + n;
    }
    const [n] = uvarintAt(bytes, at, end, what);
    if (n === 0) throw corrupt(what, `series block ${s}: no points`);
    prefixes[s] = `${parts[0]}\u0000${parts[1]}\u0000${parts[2]}\u0000`;
    if (s > 0 && !(prefixes[s - 1]! < prefixes[s]!)) throw corrupt(what, `series block ${s} out of order`);
    starts[s] = start;
    ends[s] = end;
    crcs[s] = bv.getUint32(p + 4, false);
    firstPoint[s] = points;
    points += n;
    p = end;
  }
  if (p !== footerAt) throw corrupt(what, `${footerAt - p} bytes after the last series block`);
  if (points !== meta.count) throw corrupt(what, `${points} points in the series blocks, header says ${meta.count}`);
  firstPoint[seriesCount] = points;
  return { meta, prefixes, starts, ends, crcs, firstPoint };
}

/** Blocks [first, end) whose keys can fall in [fromKey, toKey): every key of block b is in [prefix_b, prefix_b + U+FFFF). */
export function blocksInRange(dir: SeriesDirectory, fromKey: string, toKey: string): [number, number] {
  const n = dir.prefixes.length;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (`${dir.prefixes[mid]!}\uffff` <= fromKey) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < n && dir.prefixes[end]! < toKey) end++;
  return [lo, end];
}

/**
 * Blocks [first, end) as canonical encodings in key order, from `image` (the file's bytes from
 * offset `imageAt` on, covering those blocks), each checked against its CRC.
 */
export function decodeDirectoryBlocks(dir: SeriesDirectory, first: number, end: number, image: Uint8Array, imageAt: number, what: string): { data: Uint8Array; starts: Uint32Array } {
  const ws = dir.meta.windowStartNs;
  const wsHi = Number(ws >> 32n);
  const wsLo = Number(ws & 0xffffffffn);
  const blocks: DecodedBlock[] = [];
  let size = 0;
  for (let b = first; b < end; b++) {
    const start = dir.starts[b]! - imageAt;
    const stop = dir.ends[b]! - imageAt;
    if (start < 0 || stop > image.length) throw corrupt(what, `series block ${b} outside the bytes read`);
    if (crc32c(image, start, stop) !== dir.crcs[b]) throw corrupt(what, `series block ${b} CRC mismatch`);
    const block = decodeSeriesBlock(image, start, stop, wsHi, wsLo);
    if (block.points !== dir.firstPoint[b + 1]! - dir.firstPoint[b]!) throw corrupt(what, `series block ${b}: point count changed`);
    blocks.push(block);
    size += block.bytes;
  }
  return writeBlocks(blocks, size, dir.firstPoint[end]! - dir.firstPoint[first]!, what);
}

/** Decoded blocks written out as canonical encodings, one after another (`size` bytes, `points` starts). */
function writeBlocks(blocks: readonly DecodedBlock[], size: number, points: number, what: string): { data: Uint8Array; starts: Uint32Array } {
  const data = new Uint8Array(size);
  const starts = new Uint32Array(points);
  let at = 0;
  let first = 0;
  for (const b of blocks) {
    at = b.write(data, at, starts, first);
    first += b.points;
  }
  if (at !== size) throw corrupt(what, "decoded size mismatch");
  return { data, starts };
}
