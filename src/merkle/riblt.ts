// Rateless invertible Bloom lookup table (Yang, Gilad, Alizadeh, "Practical Rateless Set
// Reconciliation", SIGCOMM 2024) over 48-bit item ids: a set's coded symbols form an endless stream,
// and any prefix of the difference of two sets' streams decodes (peels) to their symmetric difference
// once the prefix is about 1.35–2 symbols per differing item — no estimate of the difference needed.
//
// An item (id = hi:lo, a u16 and a u32) is added to symbol 0 and to a pseudo-random increasing sequence of
// later symbols, symbol i taking it with probability about 1/(1 + i/2): a prefix of L symbols holds
// each item about 2·ln(L/2)+1 times. The sequence is a function of the id alone (integer hashing, and
// IEEE-754 sqrt, division and ceil, exact in every JavaScript runtime), so replicas agree on it.
//
// A symbol is (sum = XOR of ids, check = XOR of checkOf(id) (24 bits), count = items added − removed). The
// difference of two streams (a − b) holds the ids in only one set; a symbol is pure when its count is
// ±1 and its check is checkOf(its sum): that id is peeled (removed from every symbol of the prefix it
// maps to), which makes more symbols pure. Decoding succeeds when the whole prefix reaches zero.
//
// Wire format (SKETCH_FORMAT_VERSION 1): symbols in order, each SKETCH_SYMBOL_BYTES =
//   u16 sum.hi | u32 sum.lo | u24 check | u8 (count mod 256)      (big-endian)
// The count travels mod 256: purity is tested on count ≡ ±1 together with the 24-bit check. Ids need
// only differ between the items of a difference (common items cancel whatever their ids), and an id
// names a point among a window's (≤ 2^24) points with a 2^-24 chance of a stray match (one extra
// point sent, harmless under LWW); a false purity (2^-24 a test) makes a decode fail, not lie — the
// rest of the prefix no longer peels to zero.

/** Bumped whenever an id's mapping, the check or the symbol bytes change: replicas must agree. */
export const SKETCH_FORMAT_VERSION = 1;
export const SKETCH_SYMBOL_BYTES = 10;
/** Bits of an id's high part (the low part is a full u32): 48-bit ids. */
export const ID_HI_MASK = 0xffff;
const CHECK_MASK = 0xffffff;

/** fmix32 of MurmurHash3: a bijective avalanche of a u32. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 24-bit check of an id (independent of the id's mapping seed). */
export function checkOf(hi: number, lo: number): number {
  return fmix32((fmix32(lo ^ 0x3c6ef372) ^ Math.imul(hi, 0x9e3779b1) ^ 0xa54ff53a) >>> 0) & CHECK_MASK;
}

/** Indices written by indicesOf (grown to the longest prefix asked for: an id takes at most every index). */
let indexScratch = new Int32Array(256);

/**
 * The symbols an id maps to below `limit`, in increasing order: 0 first, then each next one from a
 * splitmix-style stream seeded by the id. Written to the first n places of `indexScratch` (valid
 * until the next call); returns n.
 */
function indicesOf(hi: number, lo: number, limit: number): number {
  if (indexScratch.length < limit) indexScratch = new Int32Array(limit);
  const at = indexScratch;
  if (limit <= 0) return 0;
  at[0] = 0;
  let n = 1;
  let state = fmix32(((hi & ID_HI_MASK) ^ Math.imul(lo, 0x27d4eb2f)) >>> 0) | 0;
  let last = 0;
  for (;;) {
    state = (state + 0x9e3779b9) | 0;
    const r = fmix32(state);
    // u in (0, 1]: the gap after `last` makes P(index i taken) ≈ 1 / (1 + i/2).
    const u = (r + 1) / 4294967296;
    const gap = Math.ceil((last + 1.5) * (1 / Math.sqrt(u) - 1));
    last += gap < 1 ? 1 : gap;
    if (last >= limit) return n;
    at[n++] = last;
  }
}

/** `visit` called with each symbol an id maps to below `limit`, in increasing order (see indicesOf). */
export function forEachIndex(hi: number, lo: number, limit: number, visit: (i: number) => void): void {
  const n = indicesOf(hi, lo, limit);
  const at = indexScratch.slice(0, n); // visit may map another id
  for (let k = 0; k < n; k++) visit(at[k]!);
}

/** A prefix of a set's (or a difference's) coded symbol stream. */
export class Sketch {
  readonly sumHi: Uint32Array;
  readonly sumLo: Uint32Array;
  readonly check: Uint32Array;
  readonly count: Int32Array;

  constructor(readonly length: number) {
    this.sumHi = new Uint32Array(length);
    this.sumLo = new Uint32Array(length);
    this.check = new Uint32Array(length);
    this.count = new Int32Array(length);
  }

  /** Adds (sign +1) or removes (−1) an id (hi < 2^16) in every symbol of the prefix it maps to. */
  apply(hi: number, lo: number, sign: 1 | -1): void {
    hi &= ID_HI_MASK;
    const c = checkOf(hi, lo);
    const { sumHi, sumLo, check, count } = this;
    const n = indicesOf(hi, lo, this.length);
    const at = indexScratch;
    for (let k = 0; k < n; k++) {
      const i = at[k]!;
      sumHi[i]! ^= hi;
      sumLo[i]! ^= lo;
      check[i]! ^= c;
      count[i]! += sign;
    }
  }

  add(hi: number, lo: number): void {
    this.apply(hi, lo, 1);
  }

  remove(hi: number, lo: number): void {
    this.apply(hi, lo, -1);
  }

  /** The first `length` symbols as a new sketch (a prefix of a stream is the stream of that length). */
  prefix(length: number): Sketch {
    const out = new Sketch(Math.min(length, this.length));
    out.sumHi.set(this.sumHi.subarray(0, out.length));
    out.sumLo.set(this.sumLo.subarray(0, out.length));
    out.check.set(this.check.subarray(0, out.length));
    out.count.set(this.count.subarray(0, out.length));
    return out;
  }

  copy(): Sketch {
    return this.prefix(this.length);
  }

  /** True when every symbol is empty (count taken mod 256, as on the wire). */
  isZero(): boolean {
    for (let i = 0; i < this.length; i++) {
      if (this.sumHi[i] !== 0 || this.sumLo[i] !== 0 || this.check[i] !== 0 || (this.count[i]! & 0xff) !== 0) return false;
    }
    return true;
  }

  /** this − other, symbol by symbol, over the shorter length. */
  minus(other: Sketch): Sketch {
    const n = Math.min(this.length, other.length);
    const out = new Sketch(n);
    for (let i = 0; i < n; i++) {
      out.sumHi[i] = this.sumHi[i]! ^ other.sumHi[i]!;
      out.sumLo[i] = this.sumLo[i]! ^ other.sumLo[i]!;
      out.check[i] = this.check[i]! ^ other.check[i]!;
      out.count[i] = this.count[i]! - other.count[i]!;
    }
    return out;
  }
}

/** A sketch of `length` symbols over ids given as parallel hi/lo arrays (the first `n` of them). */
export function sketchOfIds(hi: Uint32Array, lo: Uint32Array, n: number, length: number): Sketch {
  const s = new Sketch(length);
  for (let i = 0; i < n; i++) s.add(hi[i]!, lo[i]!);
  return s;
}

export function encodeSymbols(s: Sketch, from = 0, to = s.length): Uint8Array {
  const n = Math.max(0, Math.min(to, s.length) - from);
  const out = new Uint8Array(n * SKETCH_SYMBOL_BYTES);
  const v = new DataView(out.buffer);
  for (let k = 0; k < n; k++) {
    const i = from + k;
    const at = k * SKETCH_SYMBOL_BYTES;
    v.setUint16(at, s.sumHi[i]!, false);
    v.setUint32(at + 2, s.sumLo[i]!, false);
    const c = s.check[i]!;
    out[at + 6] = c >>> 16;
    out[at + 7] = (c >>> 8) & 0xff;
    out[at + 8] = c & 0xff;
    out[at + 9] = s.count[i]! & 0xff;
  }
  return out;
}

/** Symbols from their wire bytes; throws on a length that is not a whole number of symbols. */
export function decodeSymbols(bytes: Uint8Array, field: string, symbolsMax: number): Sketch {
  if (bytes.length % SKETCH_SYMBOL_BYTES !== 0) throw new RangeError(`${field}: ${bytes.length} bytes is not a whole number of ${SKETCH_SYMBOL_BYTES}-byte symbols`);
  const n = bytes.length / SKETCH_SYMBOL_BYTES;
  if (n > symbolsMax) throw new RangeError(`${field}: ${n} symbols, limit ${symbolsMax}`);
  const s = new Sketch(n);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    const at = i * SKETCH_SYMBOL_BYTES;
    s.sumHi[i] = v.getUint16(at, false);
    s.sumLo[i] = v.getUint32(at + 2, false);
    s.check[i] = (bytes[at + 6]! << 16) | (bytes[at + 7]! << 8) | bytes[at + 8]!;
    s.count[i] = bytes[at + 9]!;
  }
  return s;
}

/** Ids of a decoded difference a − b: in a only (`onlyA`), in b only (`onlyB`), as hi/lo pairs. */
export interface Decoded {
  readonly ok: boolean;
  readonly onlyA: Array<[number, number]>;
  readonly onlyB: Array<[number, number]>;
}

/**
 * Peels a difference sketch (a − b; counts taken mod 256). `ok` only when the whole prefix peeled
 * to zero: the lists are then the symmetric difference (a false purity, 2^-24 a test, makes the rest fail to peel).
 * When not ok, the lists hold what peeled so far. The sketch is consumed.
 */
export function peel(diff: Sketch): Decoded {
  const { sumHi, sumLo, check, count } = diff;
  const L = diff.length;
  const onlyA: Array<[number, number]> = [];
  const onlyB: Array<[number, number]> = [];
  const pureSign = (i: number): 0 | 1 | -1 => {
    const c = count[i]! & 0xff;
    if (c !== 1 && c !== 0xff) return 0;
    if (check[i] !== checkOf(sumHi[i]!, sumLo[i]!)) return 0;
    return c === 1 ? 1 : -1;
  };
  const queue: number[] = [];
  for (let i = 0; i < L; i++) if (pureSign(i) !== 0) queue.push(i);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const i = queue.pop()!;
    const sign = pureSign(i);
    if (sign === 0) continue;
    const hi = sumHi[i]!;
    const lo = sumLo[i]!;
    const key = `${hi}:${lo}`;
    // An id peeled twice means a false purity: the decode is not to be trusted.
    if (seen.has(key)) return { ok: false, onlyA, onlyB };
    seen.add(key);
    (sign === 1 ? onlyA : onlyB).push([hi, lo]);
    const c = checkOf(hi, lo);
    forEachIndex(hi, lo, L, (j) => {
      sumHi[j]! ^= hi;
      sumLo[j]! ^= lo;
      check[j]! ^= c;
      count[j]! -= sign;
      if (pureSign(j) !== 0) queue.push(j);
    });
  }
  return { ok: diff.isZero(), onlyA, onlyB };
}

/**
 * A 48-bit id of a byte string (a point's canonical encoding: its key and version): two
 * MurmurHash3-style lanes with different seeds over 4-byte words, out[at] = the high 16 bits,
 * out[at + 1] = the low 32. Not cryptographic — ids only need to differ between the few items of a
 * difference; the Merkle roots still check the repaired window.
 */
export function itemIdOf(bytes: Uint8Array, start: number, end: number, out: Uint32Array, at: number): void {
  let h1 = 0x5bd1e995;
  let h2 = 0x1b873593 ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    h2 ^= Math.imul(k, 0x85ebca77);
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (Math.imul(h2, 9) + 0x7feb352d) | 0;
  }
  let k = 0;
  const rest = end - i;
  if (rest >= 3) k ^= bytes[i + 2]! << 16;
  if (rest >= 2) k ^= bytes[i + 1]! << 8;
  if (rest >= 1) {
    k ^= bytes[i]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h1 ^= k;
    h2 ^= Math.imul(k, 0x85ebca77);
  }
  h1 ^= end - start;
  const a = fmix32(h1 >>> 0);
  const b = fmix32((h2 ^ a) >>> 0);
  out[at] = fmix32((a ^ Math.imul(b, 0x9e3779b1)) >>> 0) & ID_HI_MASK;
  out[at + 1] = b;
}

/** Bytes of an id on the wire (big-endian u16 hi ‖ u32 lo). */
export const SKETCH_ID_BYTES = 6;

export function idKey(hi: number, lo: number): string {
  return `${hi}:${lo}`;
}

export function packIds(ids: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const out = new Uint8Array(ids.length * SKETCH_ID_BYTES);
  const v = new DataView(out.buffer);
  ids.forEach(([hi, lo], i) => {
    v.setUint16(i * SKETCH_ID_BYTES, hi & ID_HI_MASK, false);
    v.setUint32(i * SKETCH_ID_BYTES + 2, lo, false);
  });
  return out;
}

/** Ids from their wire bytes, as idKey strings; throws naming the field on a bad length or too many. */
export function unpackIds(bytes: Uint8Array, field: string, idsMax: number): Set<string> {
  if (bytes.length % SKETCH_ID_BYTES !== 0) throw new RangeError(`${field}: ${bytes.length} bytes is not a whole number of ${SKETCH_ID_BYTES}-byte ids`);
  const n = bytes.length / SKETCH_ID_BYTES;
  if (n > idsMax) throw new RangeError(`${field}: ${n} ids, limit ${idsMax}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add(idKey(v.getUint16(i * SKETCH_ID_BYTES, false), v.getUint32(i * SKETCH_ID_BYTES + 2, false)));
  return out;
}

/**
 * Differing items up to which a sketch is answered. Past it the descent is the better bet: a sketch
 * costs ~30 B a differing point wherever it is, the descent ~7 B a point when the difference is
 * clustered (an outage's gap) and ~250–600 B when it is scattered (scripts/bench/anti-entropy.ts).
 */
export const SKETCH_DIFF_MAX = 2_048;

/** A difference's size as a prefix of its symbols tells it: `atLeast` when no symbol was empty. */
export interface DifferenceEstimate {
  readonly d: number;
  readonly atLeast: boolean;
}

/**
 * Estimates how many items a difference holds from which of its symbols 1..L−1 are empty (before
 * peeling): symbol i is empty with probability (1 − 1/(1 + i/2))^d, so the d of highest likelihood
 * over a geometric grid is taken. With no empty symbol the prefix only bounds d from below (the d at
 * which that is as likely as not).
 */
export function estimateDifference(diff: Sketch): DifferenceEstimate {
  const empty: boolean[] = [];
  for (let i = 1; i < diff.length; i++) empty.push(diff.sumHi[i] === 0 && diff.sumLo[i] === 0 && diff.check[i] === 0 && (diff.count[i]! & 0xff) === 0);
  const logEmpty = (i: number, d: number) => d * Math.log(1 - 1 / (1 + i / 2));
  const ll = (d: number) => {
    let sum = 0;
    empty.forEach((e, k) => {
      const le = logEmpty(k + 1, d);
      sum += e ? le : Math.log(Math.max(1e-300, 1 - Math.exp(le)));
    });
    return sum;
  };
  if (!empty.includes(true)) {
    // P(no empty symbol | d) = Π (1 − (1 − q_i)^d): the smallest d where it reaches 1/2.
    for (let d = 1; d < 1 << 20; d = Math.ceil(d * 1.1)) if (ll(d) >= Math.log(0.5)) return { d, atLeast: true };
    return { d: 1 << 20, atLeast: true };
  }
  let best = 1;
  let bestLl = -Infinity;
  for (let d = 1; d <= 1 << 16; d = Math.max(d + 1, Math.ceil(d * 1.05))) {
    const v = ll(d);
    if (v > bestLl) {
      bestLl = v;
      best = d;
    }
  }
  return { d: best, atLeast: false };
}

/**
 * Symbols answered as a probe when the caller's symbols only bound the difference from below and the
 * counts say less (versions differing at equal counts): they peel up to ~170 differing items; beyond,
 * the descent goes on from the first level answered beside them.
 */
export const SKETCH_PROBE_SYMBOLS = 256;

/**
 * Symbols worth answering for a window whose point counts differ by `gap`, given what the caller's
 * symbols (if any) told of the difference: about 1.6 per differing item (the paper's 1.35–2, with room
 * for its spread) plus a margin; a probe of SKETCH_PROBE_SYMBOLS when its size is unknown (no empty
 * symbol, and the counts say less). Undefined when the difference looks larger than SKETCH_DIFF_MAX:
 * the descent pays less.
 */
export function symbolsFor(gap: number, estimate: DifferenceEstimate | undefined, symbolsMax: number): { length: number; probe: boolean } | undefined {
  let d: number;
  if (estimate === undefined) d = Math.max(gap, 8);
  else if (estimate.atLeast) {
    if (gap < estimate.d) return { length: Math.min(symbolsMax, SKETCH_PROBE_SYMBOLS), probe: true };
    d = gap;
  } else d = Math.max(gap, estimate.d);
  if (d > SKETCH_DIFF_MAX) return undefined;
  return { length: Math.min(symbolsMax, Math.ceil(1.6 * d) + 48), probe: false };
}
