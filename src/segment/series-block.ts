// One series' points of a window as a columnar block (SegmentV2), and back to the exact canonical
// encodings (PointV1) they came from — byte for byte, so checksums and Merkle hashes never depend on
// the layout. Times are offsets from the window start, delta-of-delta coded; inserted_at and int
// fields are zig-zag deltas or deltas of deltas (raw 8 bytes when a delta is too large); floats are
// scaled decimal integers when every value is exactly m / 10^k (sensor readings), else Gorilla XOR
// streams of their IEEE-754 bits; strings are raw; bools and presence are bitmaps. Typed arrays
// throughout, no per-value objects.
//
//   block     := series (3 × str, as in PointV1) | uvarint n | times | versions | uvarint fields | fields
//   times     := uvarint off0 [| uvarint off1 − off0 | (n − 2) × zigzag varint delta-of-delta]
//   versions  := words: u8 mode (0 delta | 2 delta of delta | 1 raw) | u32 hi | u32 lo |
//                (n − 1) × (zigzag varint | u32 hi u32 lo)   (the cheapest mode that is exact)
//   field     := str name | u8 flags (1 = in every point, 2 = one type) | [presence bitmap] |
//                (u8 tag | count × u8 tag) | per tag present, in order number, string, bool, int:
//                uvarint stream bytes | stream
//   number stream := u8 1 (decimal) | u8 k | u8 mode (0 delta | 2 delta of delta) | zigzag varint m0 |
//                    (count − 1) × zigzag varint          when every value is exactly m / 10^k
//                  | u8 2 (decimal, packed) | u8 k | u8 mode | zigzag varint m0 | u8 width (≤ 32) |
//                    (count − 1) × zigzag in `width` bits, MSB first, zero-padded to a byte
//                                                         the same, when that is smaller
//                  | u8 0 (Gorilla) | 64 raw bits, then per value: 0 = same | 10 + meaningful bits in
//                    the previous window | 11 + 5-bit leading + 6-bit length − 1 + meaningful bits
//   string stream := count × str;  bool stream := bitmap;  int stream := words (signed)

import { SoltixError } from "../base/errors.ts";
import { ByteWriter, u32At, uvarintLength } from "../base/bytes.ts";
import { BitReader, BitWriter, DELTA_ABS_MAX, TWO32, VarReader, clz64, ctz64, shl64, shr64, unzigzag, zigzag } from "./bits.ts";

const TAG_NUMBER = 1;
const TAG_STRING = 2;
const TAG_BOOL = 3;
const TAG_INT = 4;
const TAGS = [TAG_NUMBER, TAG_STRING, TAG_BOOL, TAG_INT] as const;

const FLAG_ALL_PRESENT = 1;
const FLAG_ONE_TYPE = 2;
const MODE_DELTA = 0;
const MODE_RAW = 1;
const MODE_DELTA2 = 2;
const NUMBERS_GORILLA = 0;
const NUMBERS_DECIMAL = 1;
const NUMBERS_DECIMAL_PACKED = 2;
const WINDOW_NS = 86_400_000_000_000;

const utf8 = new TextDecoder("utf-8", { fatal: false });

// ---- 64-bit words ------------------------------------------------------------------------------

/** Δ of word i (vs i − 1) as an exact number, or NaN when too large to difference exactly. */
function wordDelta(his: Uint32Array, los: Uint32Array, i: number, signed: boolean): number {
  const dhi = signed ? (his[i]! | 0) - (his[i - 1]! | 0) : his[i]! - his[i - 1]!;
  if (dhi >= 2 ** 18 || dhi <= -(2 ** 18)) return NaN;
  const d = dhi * TWO32 + (los[i]! - los[i - 1]!);
  return Math.abs(d) < DELTA_ABS_MAX ? d : NaN;
}

/** Writes n words: the first raw, then the cheapest exact of deltas, deltas of deltas, or raw. */
function writeWords(w: ByteWriter, his: Uint32Array, los: Uint32Array, n: number, signed: boolean): void {
  let len1 = 0;
  let len2 = 0;
  let exact = true;
  let prev = 0;
  for (let i = 1; i < n && exact; i++) {
    const d = wordDelta(his, los, i, signed);
    if (Number.isNaN(d)) exact = false;
    else {
      len1 += uvarintLength(zigzag(d));
      const dd = i === 1 ? d : d - prev;
      if (Math.abs(dd) >= DELTA_ABS_MAX) len2 = Infinity;
      else len2 += uvarintLength(zigzag(dd));
      prev = d;
    }
  }
  const mode = !exact ? MODE_RAW : len1 <= len2 ? MODE_DELTA : MODE_DELTA2;
  w.u8(mode);
  if (n === 0) return;
  w.u32(his[0]!);
  w.u32(los[0]!);
  prev = 0;
  for (let i = 1; i < n; i++) {
    if (mode === MODE_RAW) {
      w.u32(his[i]!);
      w.u32(los[i]!);
      continue;
    }
    const d = wordDelta(his, los, i, signed);
    w.uvarint53(zigzag(mode === MODE_DELTA || i === 1 ? d : d - prev));
    prev = d;
  }
}

function readWords(r: VarReader, n: number, signed: boolean, his: Uint32Array, los: Uint32Array): void {
  const mode = r.u8();
  if (mode !== MODE_DELTA && mode !== MODE_DELTA2 && mode !== MODE_RAW) throw new SoltixError("data_loss", `segment block: unknown word mode ${mode}`);
  if (n === 0) return;
  his[0] = r.u32();
  los[0] = r.u32();
  let prevDelta = 0;
  for (let i = 1; i < n; i++) {
    if (mode === MODE_RAW) {
      his[i] = r.u32();
      los[i] = r.u32();
      continue;
    }
    const x = unzigzag(r.uvarint());
    const d = mode === MODE_DELTA || i === 1 ? x : prevDelta + x;
    if (!(Math.abs(d) < DELTA_ABS_MAX)) throw new SoltixError("data_loss", "segment block: delta out of range");
    prevDelta = d;
    // Exact: lo + d stays below 2^52; its carry moves the high word.
    const t = los[i - 1]! + d;
    const carry = Math.floor(t / TWO32);
    his[i] = ((signed ? his[i - 1]! | 0 : his[i - 1]!) + carry) >>> 0;
    los[i] = (t - carry * TWO32) >>> 0;
  }
}

// ---- floats ------------------------------------------------------------------------------------

/** Decimal digits up to which a float column may be stored as scaled integers. */
const DECIMAL_DIGITS_MAX = 15;
const POW10 = Array.from({ length: DECIMAL_DIGITS_MAX + 1 }, (_, k) => 10 ** k);
const f64 = new DataView(new ArrayBuffer(8));

function valueOf(hi: number, lo: number): number {
  f64.setUint32(0, hi);
  f64.setUint32(4, lo);
  return f64.getFloat64(0);
}

/** Does m / 10^k have exactly the bits (hi, lo)? */
function exactAt(m: number, k: number, hi: number, lo: number): boolean {
  f64.setFloat64(0, m / POW10[k]!);
  return f64.getUint32(0) === hi && f64.getUint32(4) === lo;
}

/**
 * The scaled integers m (value = m / 10^k exactly, bit for bit) of a float column and their k, when
 * every value is such a decimal (what sensors and rounded readings produce); undefined otherwise —
 * -0, NaN, infinities and values needing more than 15 digits fall back to Gorilla.
 */
function decimals(his: Uint32Array, los: Uint32Array, n: number): { k: number; ms: Float64Array } | undefined {
  const ms = new Float64Array(n);
  let k = 0;
  let rescale = false;
  for (let i = 0; i < n; i++) {
    const hi = his[i]!;
    const lo = los[i]!;
    f64.setUint32(0, hi);
    f64.setUint32(4, lo);
    const v = f64.getFloat64(0);
    if (!Number.isFinite(v) || (v === 0 && hi !== 0)) return undefined; // an integer m cannot carry -0
    for (;;) {
      const m = Math.round(v * POW10[k]!);
      if (!Number.isSafeInteger(m)) return undefined;
      f64.setFloat64(0, m / POW10[k]!);
      if (f64.getUint32(0) === hi && f64.getUint32(4) === lo) {
        ms[i] = m;
        break;
      }
      if (++k > DECIMAL_DIGITS_MAX) return undefined;
      if (i > 0) rescale = true;
    }
  }
  if (rescale) {
    // k rose along the way: the earlier values at the final k.
    for (let i = 0; i < n; i++) {
      const m = Math.round(valueOf(his[i]!, los[i]!) * POW10[k]!);
      if (!Number.isSafeInteger(m) || !exactAt(m, k, his[i]!, los[i]!)) return undefined;
      ms[i] = m;
    }
  }
  return { k, ms };
}

function writeNumbers(w: ByteWriter, his: Uint32Array, los: Uint32Array, n: number): void {
  const dec = decimals(his, los, n);
  if (dec !== undefined) {
    const { k, ms } = dec;
    let len1 = 0;
    let len2 = 0;
    let max1 = 0;
    let max2 = 0;
    let ok = Math.abs(ms[0]!) < DELTA_ABS_MAX;
    let prev = 0;
    for (let i = 1; i < n && ok; i++) {
      const d = ms[i]! - ms[i - 1]!;
      const dd = i === 1 ? d : d - prev;
      prev = d;
      if (Math.abs(d) >= DELTA_ABS_MAX || Math.abs(dd) >= DELTA_ABS_MAX) ok = false;
      else {
        const z1 = zigzag(d);
        const z2 = zigzag(dd);
        len1 += uvarintLength(z1);
        len2 += uvarintLength(z2);
        if (z1 > max1) max1 = z1;
        if (z2 > max2) max2 = z2;
      }
    }
    if (ok) {
      const mode = len1 <= len2 ? MODE_DELTA : MODE_DELTA2;
      // Bit-packed when every zig-zag value fits a width that beats the varints (a random walk of
      // readings: 4–6 bits a value instead of a byte).
      const zmax = mode === MODE_DELTA ? max1 : max2;
      const width = zmax < TWO32 ? 32 - Math.clz32(zmax) : 33;
      const packed = width <= 32 && 1 + Math.ceil(((n - 1) * width) / 8) < (mode === MODE_DELTA ? len1 : len2);
      w.u8(packed ? NUMBERS_DECIMAL_PACKED : NUMBERS_DECIMAL);
      w.u8(k);
      w.u8(mode);
      w.uvarint53(zigzag(ms[0]!));
      const bits = packed ? new BitWriter(Math.ceil(((n - 1) * width) / 8) + 1) : undefined;
      if (packed) w.u8(width);
      prev = 0;
      for (let i = 1; i < n; i++) {
        const d = ms[i]! - ms[i - 1]!;
        const z = zigzag(mode === MODE_DELTA || i === 1 ? d : d - prev);
        if (bits !== undefined) bits.bits(z, width);
        else w.uvarint53(z);
        prev = d;
      }
      if (bits !== undefined) w.bytes(bits.finish());
      return;
    }
  }
  w.u8(NUMBERS_GORILLA);
  w.bytes(writeGorilla(his, los, n));
}

function readNumbers(stream: Uint8Array, n: number, his: Uint32Array, los: Uint32Array): void {
  if (stream.length === 0) throw new SoltixError("data_loss", "segment block: empty number stream");
  const kind = stream[0]!;
  if (kind === NUMBERS_GORILLA) return readGorilla(stream.subarray(1), n, his, los);
  if (kind !== NUMBERS_DECIMAL && kind !== NUMBERS_DECIMAL_PACKED) throw new SoltixError("data_loss", `segment block: unknown number encoding ${kind}`);
  const r = new VarReader(stream, 1, stream.length, "segment decimal stream");
  const k = r.u8();
  const mode = r.u8();
  if (k > DECIMAL_DIGITS_MAX || (mode !== MODE_DELTA && mode !== MODE_DELTA2)) throw new SoltixError("data_loss", "segment block: bad decimal stream header");
  const scale = POW10[k]!;
  let m = unzigzag(r.uvarint());
  let bits: BitReader | undefined;
  let width = 0;
  if (kind === NUMBERS_DECIMAL_PACKED) {
    width = r.u8();
    if (width > 32 || stream.length - r.pos !== Math.ceil(((n - 1) * width) / 8)) throw new SoltixError("data_loss", "segment block: bad packed decimal stream");
    bits = new BitReader(r.take(stream.length - r.pos), "segment packed decimal stream");
  }
  let prevDelta = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      const x = unzigzag(bits !== undefined ? bits.bits(width) : r.uvarint());
      const d = mode === MODE_DELTA || i === 1 ? x : prevDelta + x;
      prevDelta = d;
      m += d;
    }
    if (!Number.isSafeInteger(m)) throw new SoltixError("data_loss", "segment block: decimal out of range");
    f64.setFloat64(0, m / scale);
    his[i] = f64.getUint32(0);
    los[i] = f64.getUint32(4);
  }
  if (r.pos !== stream.length) throw new SoltixError("data_loss", "segment block: bytes left in a decimal stream");
}

/** Gorilla XOR stream of 64-bit float bit patterns. */
function writeGorilla(his: Uint32Array, los: Uint32Array, n: number): Uint8Array {
  const w = new BitWriter(n * 2 + 16);
  if (n === 0) return w.finish();
  w.bits(his[0]!, 32);
  w.bits(los[0]!, 32);
  let prevLeading = -1;
  let prevTrailing = 0;
  for (let i = 1; i < n; i++) {
    const xh = (his[i]! ^ his[i - 1]!) >>> 0;
    const xl = (los[i]! ^ los[i - 1]!) >>> 0;
    if (xh === 0 && xl === 0) {
      w.bit(0);
      continue;
    }
    w.bit(1);
    let leading = clz64(xh, xl);
    const trailing = ctz64(xh, xl);
    if (leading > 31) leading = 31;
    if (prevLeading >= 0 && leading >= prevLeading && trailing >= prevTrailing) {
      w.bit(0);
      const [mh, ml] = shr64(xh, xl, prevTrailing);
      w.bits64(mh, ml, 64 - prevLeading - prevTrailing);
    } else {
      w.bit(1);
      const len = 64 - leading - trailing;
      w.bits(leading, 5);
      w.bits(len - 1, 6);
      const [mh, ml] = shr64(xh, xl, trailing);
      w.bits64(mh, ml, len);
      prevLeading = leading;
      prevTrailing = trailing;
    }
  }
  return w.finish();
}

function readGorilla(stream: Uint8Array, n: number, his: Uint32Array, los: Uint32Array): void {
  if (n === 0) return;
  const r = new BitReader(stream, "segment block number stream");
  his[0] = r.bits(32);
  los[0] = r.bits(32);
  let leading = 0;
  let trailing = 0;
  for (let i = 1; i < n; i++) {
    if (!r.bit()) {
      his[i] = his[i - 1]!;
      los[i] = los[i - 1]!;
      continue;
    }
    if (r.bit()) {
      leading = r.bits(5);
      const len = r.bits(6) + 1;
      trailing = 64 - leading - len;
      if (trailing < 0) throw new SoltixError("data_loss", "segment block: bad Gorilla window");
    }
    const m = 64 - leading - trailing;
    const mh = m > 32 ? r.bits(m - 32) : 0;
    const ml = m > 32 ? r.bits(32) : r.bits(m);
    const [xh, xl] = shl64(mh, ml, trailing);
    his[i] = (his[i - 1]! ^ xh) >>> 0;
    los[i] = (los[i - 1]! ^ xl) >>> 0;
  }
}

// ---- bitmaps -----------------------------------------------------------------------------------

function writeBitmap(w: ByteWriter, bits: Uint8Array, n: number): void {
  for (let i = 0; i < n; i += 8) {
    let b = 0;
    for (let j = 0; j < 8; j++) b = (b << 1) | (i + j < n && bits[i + j] !== 0 ? 1 : 0);
    w.u8(b);
  }
}

function readBitmap(bytes: Uint8Array, n: number, out: Uint8Array): void {
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3]! >> (7 - (i & 7))) & 1;
}

// ---- encode ------------------------------------------------------------------------------------

/** One field name's column while encoding: where each present value sits in its point's encoding. */
class EncColumn {
  readonly present: Uint8Array;
  count = 0;
  readonly tags: Uint8Array;
  readonly enc: Int32Array; // which point
  readonly at: Int32Array; // value start (after the tag)
  readonly end: Int32Array;
  constructor(readonly key: string, readonly name: Uint8Array, n: number) {
    this.present = new Uint8Array(n);
    this.tags = new Uint8Array(n);
    this.enc = new Int32Array(n);
    this.at = new Int32Array(n);
    this.end = new Int32Array(n);
  }
}

const scratch = new ByteWriter(64 * 1024);

/**
 * Appends the block payload of one series' canonical encodings (same database, collection and id;
 * strictly increasing times inside the window that starts at (wsHi, wsLo)) to `w`.
 */
export function encodeSeriesBlock(encs: readonly Uint8Array[], wsHi: number, wsLo: number, w: ByteWriter): void {
  const n = encs.length;
  const first = encs[0]!;
  let p = 17;
  for (let k = 0; k < 3; k++) {
    let len = 0;
    let mul = 1;
    for (;;) {
      const x = first[p++]!;
      len += (x & 0x7f) * mul;
      if (x < 0x80) break;
      mul *= 0x80;
    }
    p += len;
  }
  const seriesEnd = p;
  w.copyFrom(first, 17, seriesEnd);
  w.uvarint53(n);
  const offs = new Float64Array(n);
  const insHi = new Uint32Array(n);
  const insLo = new Uint32Array(n);
  const cols: EncColumn[] = [];
  const byKey = new Map<string, number>();
  let prevOrder: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = encs[i]!;
    insHi[i] = u32At(e, 1);
    insLo[i] = u32At(e, 5);
    offs[i] = (u32At(e, 9) - wsHi) * TWO32 + (u32At(e, 13) - wsLo);
    let q = seriesEnd;
    let count = 0;
    for (let mul = 1; ; mul *= 0x80) {
      const x = e[q++]!;
      count += (x & 0x7f) * mul;
      if (x < 0x80) break;
    }
    const order = new Array<number>(count);
    for (let f = 0; f < count; f++) {
      const nameStart = q;
      let nlen = 0;
      for (let mul = 1; ; mul *= 0x80) {
        const x = e[q++]!;
        nlen += (x & 0x7f) * mul;
        if (x < 0x80) break;
      }
      const nameEnd = q + nlen;
      q = nameEnd;
      // Usually the same field at the same place as in the previous point: compare bytes first.
      let c = prevOrder[f];
      let hit = false;
      if (c !== undefined) {
        const nm = cols[c]!.name;
        if (nm.length === nameEnd - nameStart) {
          hit = true;
          for (let j = 0; j < nm.length; j++) if (nm[j] !== e[nameStart + j]) {
            hit = false;
            break;
          }
        }
      }
      if (!hit) {
        const key = utf8.decode(e.subarray(nameStart + (nameEnd - nameStart - nlen), nameEnd));
        c = byKey.get(key);
        if (c === undefined) {
          c = cols.length;
          cols.push(new EncColumn(key, e.slice(nameStart, nameEnd), n));
          byKey.set(key, c);
        }
      }
      order[f] = c!;
      const col = cols[c!]!;
      const tag = e[q++]!;
      const start = q;
      if (tag === TAG_NUMBER || tag === TAG_INT) q += 8;
      else if (tag === TAG_BOOL) q += 1;
      else if (tag === TAG_STRING) {
        let slen = 0;
        for (let mul = 1; ; mul *= 0x80) {
          const x = e[q++]!;
          slen += (x & 0x7f) * mul;
          if (x < 0x80) break;
        }
        q += slen;
      } else throw new SoltixError("internal", `segment encoder: unknown field tag ${tag}`);
      const k = col.count++;
      col.present[i] = 1;
      col.tags[k] = tag;
      col.enc[k] = i;
      col.at[k] = start; // a string's length prefix included
      col.end[k] = q;
    }
    prevOrder = order;
  }
  // Times.
  w.uvarint53(offs[0]!);
  if (n > 1) w.uvarint53(offs[1]! - offs[0]!);
  for (let i = 2; i < n; i++) w.uvarint53(zigzag(offs[i]! - 2 * offs[i - 1]! + offs[i - 2]!));
  writeWords(w, insHi, insLo, n, false);
  // Fields, in canonical (name) order.
  cols.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  w.uvarint53(cols.length);
  for (const col of cols) {
    w.bytes(col.name);
    const all = col.count === n;
    let oneType = true;
    for (let k = 1; k < col.count && oneType; k++) oneType = col.tags[k] === col.tags[0];
    w.u8((all ? FLAG_ALL_PRESENT : 0) | (oneType ? FLAG_ONE_TYPE : 0));
    if (!all) writeBitmap(w, col.present, n);
    if (oneType) w.u8(col.tags[0]!);
    else w.bytes(col.tags.subarray(0, col.count));
    for (const tag of TAGS) {
      let m = 0;
      for (let k = 0; k < col.count; k++) if (col.tags[k] === tag) m++;
      if (m === 0) continue;
      scratch.reset();
      if (tag === TAG_NUMBER || tag === TAG_INT) {
        const his = new Uint32Array(m);
        const los = new Uint32Array(m);
        for (let k = 0, j = 0; k < col.count; k++) {
          if (col.tags[k] !== tag) continue;
          const e = encs[col.enc[k]!]!;
          his[j] = u32At(e, col.at[k]!);
          los[j++] = u32At(e, col.at[k]! + 4);
        }
        if (tag === TAG_NUMBER) writeNumbers(scratch, his, los, m);
        else writeWords(scratch, his, los, m, true);
      } else if (tag === TAG_BOOL) {
        const bits = new Uint8Array(m);
        for (let k = 0, j = 0; k < col.count; k++) if (col.tags[k] === tag) bits[j++] = encs[col.enc[k]!]![col.at[k]!]!;
        writeBitmap(scratch, bits, m);
      } else {
        for (let k = 0; k < col.count; k++) if (col.tags[k] === tag) scratch.copyFrom(encs[col.enc[k]!]!, col.at[k]!, col.end[k]!);
      }
      w.uvarint53(scratch.length);
      w.bytes(scratch.view_());
    }
  }
}

// ---- decode ------------------------------------------------------------------------------------

/** One decoded column: values of present points by ordinal, in PointV1 form. */
interface DecColumn {
  nameStart: number;
  nameEnd: number;
  /** undefined = present in every point. */
  present: Uint8Array | undefined;
  tags: Uint8Array;
  /** 8-byte values (numbers, ints) by ordinal. */
  hi: Uint32Array;
  lo: Uint32Array;
  /** Strings: [start, end) of the str (length prefix included) in the block bytes; bools: the byte in start. */
  start: Uint32Array;
  end: Uint32Array;
}

/** A block decoded into columns, ready to be written out as canonical encodings. */
export interface DecodedBlock {
  readonly points: number;
  /** Bytes its canonical encodings take. */
  readonly bytes: number;
  /** Writes the encodings at `at` of `out`, their starts at `starts[first…]`; returns the end. */
  write(out: Uint8Array, at: number, starts: Uint32Array, first: number): number;
}

/** Decodes the block payload [start, end) of `bytes` (the window starts at (wsHi, wsLo)). */
export function decodeSeriesBlock(bytes: Uint8Array, start: number, end: number, wsHi: number, wsLo: number): DecodedBlock {
  const r = new VarReader(bytes, start, end, "segment block");
  const seriesStart = r.pos;
  for (let k = 0; k < 3; k++) r.take(r.uvarint());
  const seriesEnd = r.pos;
  const n = r.uvarint();
  if (n === 0) throw new SoltixError("data_loss", "segment block: no points");
  if (n > end - start) throw new SoltixError("data_loss", `segment block: ${n} points in ${end - start} bytes`);
  const tHi = new Uint32Array(n);
  const tLo = new Uint32Array(n);
  let prev = 0;
  let prevDelta = 0;
  for (let i = 0; i < n; i++) {
    let off: number;
    if (i === 0) off = r.uvarint();
    else if (i === 1) off = prev + (prevDelta = r.uvarint());
    else {
      prevDelta += unzigzag(r.uvarint());
      off = prev + prevDelta;
    }
    if (!(off >= 0 && off < WINDOW_NS)) throw new SoltixError("data_loss", `segment block: time offset ${off} outside the window`);
    if (i > 0 && off <= prev) throw new SoltixError("data_loss", "segment block: times not increasing");
    prev = off;
    const offHi = Math.floor(off / TWO32);
    const lo = wsLo + (off - offHi * TWO32);
    tHi[i] = (wsHi + offHi + (lo >= TWO32 ? 1 : 0)) >>> 0;
    tLo[i] = lo >>> 0;
  }
  const insHi = new Uint32Array(n);
  const insLo = new Uint32Array(n);
  readWords(r, n, false, insHi, insLo);
  const fieldCount = r.uvarint();
  if (fieldCount > end - start) throw new SoltixError("data_loss", "segment block: field count past the block");
  const cols: DecColumn[] = [];
  const perPoint = new Uint32Array(n); // fields present per point
  for (let f = 0; f < fieldCount; f++) {
    const nameStart = r.pos;
    r.take(r.uvarint());
    const nameEnd = r.pos;
    const flags = r.u8();
    let present: Uint8Array | undefined;
    let count = n;
    if (!(flags & FLAG_ALL_PRESENT)) {
      present = new Uint8Array(n);
      readBitmap(r.take(Math.ceil(n / 8)), n, present);
      count = 0;
      for (let i = 0; i < n; i++) count += present[i]!;
    }
    for (let i = 0; i < n; i++) if (present === undefined || present[i] === 1) perPoint[i]!++;
    const tags = new Uint8Array(count);
    if (flags & FLAG_ONE_TYPE) tags.fill(r.u8());
    else tags.set(r.take(count));
    for (let k = 0; k < count; k++) {
      const t = tags[k]!;
      if (t !== TAG_NUMBER && t !== TAG_STRING && t !== TAG_BOOL && t !== TAG_INT) throw new SoltixError("data_loss", `segment block: unknown field tag ${t}`);
    }
    const col: DecColumn = { nameStart, nameEnd, present, tags, hi: new Uint32Array(count), lo: new Uint32Array(count), start: new Uint32Array(count), end: new Uint32Array(count) };
    for (const tag of TAGS) {
      let m = 0;
      for (let k = 0; k < count; k++) if (tags[k] === tag) m++;
      if (m === 0) continue;
      const len = r.uvarint();
      const streamStart = r.pos;
      const stream = r.take(len);
      if (tag === TAG_NUMBER || tag === TAG_INT) {
        const his = m === count ? col.hi : new Uint32Array(m);
        const los = m === count ? col.lo : new Uint32Array(m);
        if (tag === TAG_NUMBER) readNumbers(stream, m, his, los);
        else {
          const sr = new VarReader(bytes, streamStart, streamStart + len, "segment int stream");
          readWords(sr, m, true, his, los);
          if (sr.pos !== streamStart + len) throw new SoltixError("data_loss", "segment block: bytes left in an int stream");
        }
        if (m !== count) {
          for (let k = 0, j = 0; k < count; k++) {
            if (tags[k] !== tag) continue;
            col.hi[k] = his[j]!;
            col.lo[k] = los[j++]!;
          }
        }
      } else if (tag === TAG_BOOL) {
        if (len !== Math.ceil(m / 8)) throw new SoltixError("data_loss", "segment block: bool stream size");
        for (let k = 0, j = 0; k < count; k++) {
          if (tags[k] !== tag) continue;
          col.hi[k] = (stream[j >> 3]! >> (7 - (j & 7))) & 1;
          j++;
        }
      } else {
        const sr = new VarReader(bytes, streamStart, streamStart + len, "segment string stream");
        for (let k = 0; k < count; k++) {
          if (tags[k] !== tag) continue;
          col.start[k] = sr.pos;
          sr.take(sr.uvarint());
          col.end[k] = sr.pos;
        }
        if (sr.pos !== streamStart + len) throw new SoltixError("data_loss", "segment block: bytes left in a string stream");
      }
    }
    cols.push(col);
  }
  if (r.pos !== end) throw new SoltixError("data_loss", `segment block: ${end - r.pos} bytes left over`);
  // Exact output size.
  const seriesLen = seriesEnd - seriesStart;
  let size = 0;
  for (let i = 0; i < n; i++) size += 17 + seriesLen + uvarintLength(perPoint[i]!);
  for (const c of cols) {
    const nameLen = c.nameEnd - c.nameStart;
    for (let k = 0; k < c.tags.length; k++) {
      const t = c.tags[k]!;
      size += nameLen + 1 + (t === TAG_NUMBER || t === TAG_INT ? 8 : t === TAG_BOOL ? 1 : c.end[k]! - c.start[k]!);
    }
  }
  const writeFixed = (out: Uint8Array, at: number, starts: Uint32Array, first: number): number => {
    const tw = new ByteWriter(64 + seriesLen + cols.length * 16);
    for (let j = 0; j < 17; j++) tw.u8(0);
    tw.copyFrom(bytes, seriesStart, seriesEnd);
    tw.uvarint53(cols.length);
    const valueAt = new Int32Array(cols.length);
    for (let c = 0; c < cols.length; c++) {
      const col = cols[c]!;
      tw.copyFrom(bytes, col.nameStart, col.nameEnd);
      tw.u8(col.tags[0]!);
      valueAt[c] = tw.length;
      for (let j = 0; j < (col.tags[0] === TAG_BOOL ? 1 : 8); j++) tw.u8(0);
    }
    const template = tw.toBytes();
    template[0] = 1;
    const len = template.length;
    const nc = cols.length;
    const his = cols.map((c) => c.hi);
    const los = cols.map((c) => c.lo);
    const bools = cols.map((c) => c.tags[0] === TAG_BOOL);
    for (let i = 0; i < n; i++) {
      starts[first + i] = at;
      if (i === 0) out.set(template, at);
      else out.copyWithin(at, at - len, at); // the previous point: same names, tags and series
      const ih = insHi[i]!, il = insLo[i]!, th = tHi[i]!, tl = tLo[i]!;
      out[at + 1] = ih >>> 24; out[at + 2] = ih >>> 16; out[at + 3] = ih >>> 8; out[at + 4] = ih;
      out[at + 5] = il >>> 24; out[at + 6] = il >>> 16; out[at + 7] = il >>> 8; out[at + 8] = il;
      out[at + 9] = th >>> 24; out[at + 10] = th >>> 16; out[at + 11] = th >>> 8; out[at + 12] = th;
      out[at + 13] = tl >>> 24; out[at + 14] = tl >>> 16; out[at + 15] = tl >>> 8; out[at + 16] = tl;
      for (let c = 0; c < nc; c++) {
        const v = at + valueAt[c]!;
        const h = his[c]![i]!;
        if (bools[c]) {
          out[v] = h;
          continue;
        }
        const l = los[c]![i]!;
        out[v] = h >>> 24; out[v + 1] = h >>> 16; out[v + 2] = h >>> 8; out[v + 3] = h;
        out[v + 4] = l >>> 24; out[v + 5] = l >>> 16; out[v + 6] = l >>> 8; out[v + 7] = l;
      }
      at += len;
    }
    return at;
  };
  return {
    points: n,
    bytes: size,
    write(out, at, starts, first) {
      // The common shape — every field in every point, each of one fixed-size type — is one
      // template per point: copy it, then patch the version, the time and the values in place.
      if (cols.every((c) => c.present === undefined && c.tags.length > 0 && c.tags.every((t) => t === c.tags[0]) && c.tags[0] !== TAG_STRING)) {
        return writeFixed(out, at, starts, first);
      }
      const ord = new Uint32Array(cols.length);
      for (let i = 0; i < n; i++) {
        starts[first + i] = at;
        out[at++] = 1;
        const ih = insHi[i]!, il = insLo[i]!, th = tHi[i]!, tl = tLo[i]!;
        out[at++] = ih >>> 24; out[at++] = ih >>> 16; out[at++] = ih >>> 8; out[at++] = ih;
        out[at++] = il >>> 24; out[at++] = il >>> 16; out[at++] = il >>> 8; out[at++] = il;
        out[at++] = th >>> 24; out[at++] = th >>> 16; out[at++] = th >>> 8; out[at++] = th;
        out[at++] = tl >>> 24; out[at++] = tl >>> 16; out[at++] = tl >>> 8; out[at++] = tl;
        for (let j = seriesStart; j < seriesEnd; j++) out[at++] = bytes[j]!;
        let v = perPoint[i]!;
        while (v >= 0x80) {
          out[at++] = (v & 0x7f) | 0x80;
          v >>>= 7;
        }
        out[at++] = v;
        for (let c = 0; c < cols.length; c++) {
          const col = cols[c]!;
          if (col.present !== undefined && col.present[i] !== 1) continue;
          const k = ord[c]!++;
          for (let j = col.nameStart; j < col.nameEnd; j++) out[at++] = bytes[j]!;
          const t = col.tags[k]!;
          out[at++] = t;
          if (t === TAG_NUMBER || t === TAG_INT) {
            const h = col.hi[k]!, l = col.lo[k]!;
            out[at++] = h >>> 24; out[at++] = h >>> 16; out[at++] = h >>> 8; out[at++] = h;
            out[at++] = l >>> 24; out[at++] = l >>> 16; out[at++] = l >>> 8; out[at++] = l;
          } else if (t === TAG_BOOL) out[at++] = col.hi[k]!;
          else {
            const s = col.start[k]!, e = col.end[k]!;
            if (e - s > 64) {
              out.set(bytes.subarray(s, e), at);
              at += e - s;
            } else for (let j = s; j < e; j++) out[at++] = bytes[j]!;
          }
        }
      }
      return at;
    },
  };
}
