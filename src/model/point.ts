// The point as the core sees it: plain values, bigint nanoseconds, fields as a name → value list.
// Conversion from/to wire shapes lives in rpc/ and router/; validation in model/validate.ts.

export type FieldValue =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "int"; readonly value: bigint };

export interface Point {
  readonly database: string;
  readonly collection: string;
  readonly id: string;
  readonly timeNs: bigint;
  /** LWW version; persisted everywhere. */
  readonly insertedAtNs: bigint;
  readonly fields: ReadonlyArray<readonly [string, FieldValue]>;
}

/** A stored point: its sort key and its canonical encoding (which carries everything else). */
export interface PointRecord {
  readonly key: string;
  readonly enc: Uint8Array;
}

const TIME_HEX_DIGITS = 16;

/**
 * Sort key of (database, collection, id, time): the strings separated by NUL (validated names hold
 * no control characters) and the time as 16 hex digits, so JavaScript string order (UTF-16 code
 * units) is the tuple order. Every replica uses this order for checksums and streams.
 */
/** Eight hex digits of a u32: a key's time suffix is hex8(high word) + hex8(low word). */
export function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

export function pointKey(database: string, collection: string, id: string, timeNs: bigint): string {
  return `${database}\u0000${collection}\u0000${id}\u0000${timeNs.toString(16).padStart(TIME_HEX_DIGITS, "0")}`;
}

export interface KeyParts {
  database: string;
  collection: string;
  id: string;
  timeNs: bigint;
}

export function keyParts(key: string): KeyParts {
  const a = key.indexOf("\u0000");
  const b = key.indexOf("\u0000", a + 1);
  const c = key.lastIndexOf("\u0000");
  return {
    database: key.slice(0, a),
    collection: key.slice(a + 1, b),
    id: key.slice(b + 1, c),
    timeNs: BigInt(`0x${key.slice(c + 1)}`),
  };
}

/** Key prefix of every point of one series (device). */
export function seriesPrefix(database: string, collection: string, id: string): string {
  return `${database}\u0000${collection}\u0000${id}\u0000`;
}
