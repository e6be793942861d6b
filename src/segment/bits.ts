// Bit-level writer and reader for the columnar segment codecs (Gorilla floats, presence bitmaps), and
// varints over JavaScript numbers up to 2^53 (time offsets and deltas). 64-bit values travel as
// (hi, lo) pairs of unsigned 32-bit numbers, so no BigInt is touched per value.

import { SoltixError } from "../base/errors.ts";

const TWO32 = 4294967296;

export class BitWriter {
  private bytes: Uint8Array;
  private length = 0;
  private acc = 0;
  private accBits = 0;

  constructor(initialBytes = 256) {
    this.bytes = new Uint8Array(initialBytes);
  }

  private push(b: number): void {
    if (this.length === this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2);
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes[this.length++] = b;
  }

  /** Writes the low `n` bits of `v` (0 ≤ n ≤ 32), most significant first. */
  bits(v: number, n: number): void {
    for (let left = n; left > 0; ) {
      const take = Math.min(left, 8 - this.accBits);
      const chunk = (v >>> (left - take)) & ((1 << take) - 1);
      this.acc = (this.acc << take) | chunk;
      this.accBits += take;
      left -= take;
      if (this.accBits === 8) {
        this.push(this.acc);
        this.acc = 0;
        this.accBits = 0;
      }
    }
  }

  bit(b: boolean | number): void {
    this.bits(b ? 1 : 0, 1);
  }

  /** Writes the low `n` bits (0 ≤ n ≤ 64) of the 64-bit value (hi, lo). */
  bits64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.bits(hi, n - 32);
      this.bits(lo, 32);
    } else this.bits(lo, n);
  }

  /** The bytes written, the last one padded with zero bits. */
  finish(): Uint8Array {
    if (this.accBits > 0) {
      this.push(this.acc << (8 - this.accBits));
      this.acc = 0;
      this.accBits = 0;
    }
    return this.bytes.slice(0, this.length);
  }
}

export class BitReader {
  private pos = 0;
  private bitPos = 0;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {}

  /** Reads `n` bits (0 ≤ n ≤ 32) as an unsigned number. */
  bits(n: number): number {
    let v = 0;
    for (let left = n; left > 0; ) {
      if (this.pos >= this.bytes.length) throw new SoltixError("data_loss", `${this.what}: bit stream ends early`);
      const avail = 8 - this.bitPos;
      const take = Math.min(left, avail);
      const chunk = (this.bytes[this.pos]! >>> (avail - take)) & ((1 << take) - 1);
      v = v * (1 << take) + chunk;
      this.bitPos += take;
      left -= take;
      if (this.bitPos === 8) {
        this.bitPos = 0;
        this.pos++;
      }
    }
    return v >>> 0;
  }

  bit(): boolean {
    return this.bits(1) === 1;
  }
}

/** Leading zero bits of the 64-bit value (hi, lo). */
export function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** Trailing zero bits of the 64-bit value (hi, lo). */
export function ctz64(hi: number, lo: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

/** (hi, lo) >>> n for 0 ≤ n < 64, as (hi, lo). */
export function shr64(hi: number, lo: number, n: number): [number, number] {
  if (n === 0) return [hi, lo];
  if (n >= 32) return [0, hi >>> (n - 32)];
  return [hi >>> n, ((lo >>> n) | (hi << (32 - n))) >>> 0];
}

/** (hi, lo) << n for 0 ≤ n < 64, as (hi, lo). */
export function shl64(hi: number, lo: number, n: number): [number, number] {
  if (n === 0) return [hi, lo];
  if (n >= 32) return [(lo << (n - 32)) >>> 0, 0];
  return [((hi << n) | (lo >>> (32 - n))) >>> 0, (lo << n) >>> 0];
}

/** Largest |value| a signed delta may have to be written as a zig-zag varint (2^51: exact after doubling). */
export const DELTA_ABS_MAX = 2 ** 51;

/** Unsigned varint of a non-negative integer number below 2^53. */
export function writeUvarint(out: number[] | { u8(b: number): void }, v: number): void {
  const put = Array.isArray(out) ? (b: number) => void out.push(b) : (b: number) => out.u8(b);
  while (v >= 0x80) {
    put((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  put(v);
}

export function zigzag(v: number): number {
  if (v >= -1073741824 && v < 1073741824) return ((v << 1) ^ (v >> 31)) >>> 0; // the common small case, in int32 ops
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

export function unzigzag(v: number): number {
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
}

/** A reader of varints and raw bytes over one block's payload, failing as data_loss past its end. */
export class VarReader {
  pos: number;
  constructor(readonly bytes: Uint8Array, start: number, readonly end: number, private readonly what: string) {
    this.pos = start;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new SoltixError("data_loss", `${this.what}: block ends early`);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  uvarint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new SoltixError("data_loss", `${this.what}: varint too long`);
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
  }

  /** Bytes [pos, pos + n) as a view, advancing. */
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

export { TWO32 };
