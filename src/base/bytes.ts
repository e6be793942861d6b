// Byte codecs shared by every on-disk and canonical format: a growable writer and a bounds-checked
// reader. Multi-byte integers are big-endian unless the name says otherwise. A reader never reads past
// its end: it throws a ByteRangeError the caller turns into a typed corruption error.

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class ByteRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ByteRangeError";
  }
}

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.length = 0;
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  u32le(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, false);
    this.length += 4;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, v, false);
    this.length += 8;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, v, false);
    this.length += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, false);
    this.length += 8;
  }

  uvarint(v: number): void {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.length++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.length++] = v;
  }

  /** Unsigned varint of a non-negative integer below 2^53 (uvarint() handles 32 bits only). */
  uvarint53(v: number): void {
    this.ensure(8);
    if (v < 0x80000000) {
      while (v >= 0x80) {
        this.buf[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.length++] = v;
      return;
    }
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  /** Ensures room for `n` more bytes and returns the buffer and the write position (for bulk writes). */
  reserve(n: number): { buf: Uint8Array; at: number } {
    this.ensure(n);
    return { buf: this.buf, at: this.length };
  }

  /** Appends src[start, end) without creating a view (views cost more than short copies). */
  copyFrom(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n > 64) this.buf.set(src.subarray(start, end), this.length);
    else {
      const buf = this.buf;
      let at = this.length;
      for (let i = start; i < end; i++) buf[at++] = src[i]!;
    }
    this.length += n;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** uvarint byte length, then UTF-8. ASCII is copied directly (the common case for names and ids). */
  str(s: string): void {
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      this.uvarint(n);
      this.ensure(n);
      const buf = this.buf;
      let at = this.length;
      for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
      this.length = at;
      return;
    }
    const encoded = utf8Encoder.encode(s);
    this.uvarint(encoded.length);
    this.bytes(encoded);
  }

  /** A view of the bytes written so far (valid until the next write). */
  view_(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export class ByteReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new ByteRangeError(`need ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u32le(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, false);
    this.pos += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, false);
    this.pos += 8;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /** Minimal-length uvarint up to 2^32-1; non-minimal encodings are rejected (canonical formats). */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      if (i === 4 && b > 0x0f) throw new ByteRangeError(`uvarint overflows 32 bits at offset ${this.pos - 1}`);
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw new ByteRangeError(`non-minimal uvarint at offset ${this.pos - 1}`);
        return result;
      }
      shift += 7;
    }
    throw new ByteRangeError(`uvarint longer than 5 bytes at offset ${this.pos}`);
  }

  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  str(): string {
    const n = this.uvarint();
    const b = this.take(n);
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (b[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return n < 64 ? String.fromCharCode(...b) : latin1(b);
    try {
      return utf8Decoder.decode(b);
    } catch {
      throw new ByteRangeError(`invalid UTF-8 in string at offset ${this.pos - n}`);
    }
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte-lexicographic comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Do bytes [a, a+len) and [b, b+len) of one buffer match? */
export function rangesEqual(buf: Uint8Array, a: number, b: number, len: number): boolean {
  for (let i = len - 1; i >= 0; i--) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The big-endian u32 at b[p..p+4) (no view: cheaper than a DataView on hot paths). */
export function u32At(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** Bytes of the unsigned varint of a non-negative integer below 2^53. */
export function uvarintLength(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 5;
  for (v = Math.floor(v / 0x800000000); v > 0; v = Math.floor(v / 0x80)) n++;
  return n;
}
