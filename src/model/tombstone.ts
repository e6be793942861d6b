// Deletes (DESIGN §11): a delete is a range tombstone with an inserted_at. It covers the points of one
// database — one collection or all of them, some devices or all — whose time is in [start, end) and
// whose version is not newer than its own: a tombstone beats older versions and loses to newer writes,
// and on equal inserted_at the tombstone wins (a delete stamped with a write's own stamp removes it).
// Tombstones are canonical data like points: every replica holds the same bytes for one delete.
//
//   TombstoneV1 := u8 kind = 0x81
//                  u64 inserted_at, u64 start_time, u64 end_time (exclusive)   big-endian
//                  str database, str collection ("" = every collection: a database drop)
//                  uvarint id_count, id_count × str id   (strictly increasing; 0 ids = every device)
//   (str = uvarint byte length + UTF-8, as in the point encoding)
//
// A node keeps tombstones per group (engine/tombstones.ts): a delete of some devices becomes one
// tombstone per group holding the devices of that group; a delete of every device one per group the
// node holds, all with the same bytes.

import { ByteRangeError, ByteReader, ByteWriter } from "../base/bytes.ts";
import { SoltixError, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { TIME_MAX_NS } from "../base/time.ts";
import { groupOf } from "./group.ts";
import { validateId, validateInsertedAtNs, validateName } from "./validate.ts";

export const TOMBSTONE_KIND_V1 = 0x81;

export interface Tombstone {
  readonly database: string;
  /** "" = every collection of the database. */
  readonly collection: string;
  /** Sorted, distinct; empty = every device. */
  readonly ids: readonly string[];
  /** Inclusive. */
  readonly startNs: bigint;
  /** Exclusive; TIME_MAX_NS = no upper bound. */
  readonly endNs: bigint;
  readonly insertedAtNs: bigint;
}

function corrupt(message: string): SoltixError {
  return new SoltixError("data_loss", `invalid tombstone encoding: ${message}`);
}

export function encodeTombstone(t: Tombstone): Uint8Array {
  const w = new ByteWriter(64 + t.ids.length * 16);
  w.u8(TOMBSTONE_KIND_V1);
  w.u64(t.insertedAtNs);
  w.u64(t.startNs);
  w.u64(t.endNs);
  w.str(t.database);
  w.str(t.collection);
  w.uvarint(t.ids.length);
  for (const id of t.ids) w.str(id);
  return w.toBytes();
}

/** Decodes exactly one encoding, refusing anything that would not re-encode to the same bytes. */
export function decodeTombstone(enc: Uint8Array): Tombstone {
  const r = new ByteReader(enc);
  try {
    const kind = r.u8();
    if (kind !== TOMBSTONE_KIND_V1) throw corrupt(`unknown kind ${kind}`);
    const insertedAtNs = r.u64();
    const startNs = r.u64();
    const endNs = r.u64();
    const database = r.str();
    const collection = r.str();
    const n = r.uvarint();
    if (n > r.remaining()) throw corrupt(`${n} ids in ${r.remaining()} bytes`);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = r.str();
      if (i > 0 && !(ids[i - 1]! < id)) throw corrupt(`ids not strictly increasing at ${JSON.stringify(id)}`);
      ids.push(id);
    }
    if (r.remaining() !== 0) throw corrupt(`${r.remaining()} trailing bytes`);
    if (!(startNs < endNs) || endNs > TIME_MAX_NS) throw corrupt(`range [${startNs}, ${endNs})`);
    if (database.length === 0) throw corrupt("empty database");
    return { database, collection, ids, startNs, endNs, insertedAtNs };
  } catch (e) {
    if (e instanceof ByteRangeError) throw corrupt(e.message);
    throw e;
  }
}

/** A delete as a client asks for it, before stamping (inserted_at 0 = stamp it). */
export interface DeleteSpec {
  database: string;
  /** "" = every collection (a database drop). */
  collection: string;
  ids: readonly string[];
  /** Inclusive; 0 = from the beginning. */
  startNs: bigint;
  /** Exclusive; 0 = no upper bound. */
  endNs: bigint;
  insertedAtNs: bigint;
}

/**
 * Checks a delete and gives its tombstone (ids sorted and made distinct, end 0 → no bound). `at` names
 * the request in errors. Names and ids are checked as a point's are: never a path.
 */
export function tombstoneOfDelete(at: string, d: DeleteSpec, stamp: () => bigint): Tombstone {
  validateName(`${at}.database`, d.database);
  if (d.collection !== "") validateName(`${at}.collection`, d.collection);
  if (d.ids.length > LIMITS.deleteIdsMax) throw resourceExhausted(`${at}.ids`, `${d.ids.length} ids in one delete, limit ${LIMITS.deleteIdsMax}`);
  if (d.collection === "" && d.ids.length > 0) throw invalidArgument(`${at}.ids`, "a delete of every collection (a database drop) takes no ids");
  d.ids.forEach((id, i) => validateId(`${at}.ids[${i}]`, id));
  const endNs = d.endNs === 0n ? TIME_MAX_NS : d.endNs;
  if (d.startNs < 0n || d.startNs >= TIME_MAX_NS) throw invalidArgument(`${at}.start_time`, `${d.startNs} ns is outside [0, ${TIME_MAX_NS})`);
  if (endNs < 0n || endNs > TIME_MAX_NS) throw invalidArgument(`${at}.end_time`, `${d.endNs} ns is outside [0, ${TIME_MAX_NS}] (0 = no upper bound)`);
  if (!(d.startNs < endNs)) throw invalidArgument(`${at}.end_time`, `the range is empty or inverted: start_time ${d.startNs} ≥ end_time ${d.endNs} (end is exclusive)`);
  const insertedAtNs = d.insertedAtNs === 0n ? stamp() : d.insertedAtNs;
  validateInsertedAtNs(`${at}.inserted_at`, insertedAtNs);
  const ids = [...new Set(d.ids)].sort();
  return { database: d.database, collection: d.collection, ids, startNs: d.startNs, endNs, insertedAtNs };
}

/**
 * The tombstone of each group a delete touches: a delete of some devices, one per group of those
 * devices (holding only them); a delete of every device, the same tombstone in each of `allGroups`.
 */
export function tombstonesByGroup(t: Tombstone, totalGroups: number, allGroups: Iterable<number>): Map<number, Tombstone> {
  const out = new Map<number, Tombstone>();
  if (t.ids.length === 0) {
    for (const g of allGroups) out.set(g, t);
    return out;
  }
  if (t.collection === "") return out; // refused by tombstoneOfDelete; nothing to place
  const byGroup = new Map<number, string[]>();
  for (const id of t.ids) {
    const g = groupOf(t.database, t.collection, id, totalGroups);
    const list = byGroup.get(g);
    if (list === undefined) byGroup.set(g, [id]);
    else list.push(id);
  }
  for (const [g, ids] of byGroup) out.set(g, { ...t, ids });
  return out;
}

/**
 * A tombstone ready to test points against: by sort key (model/point.ts pointKey) and the version's
 * 8 big-endian inserted_at bytes, with no allocation per point.
 */
export class CompiledTombstone {
  readonly ids: ReadonlySet<string> | undefined;
  /** "db\0" or "db\0coll\0". */
  private readonly prefix: string;
  private readonly insHi: number;
  private readonly insLo: number;

  constructor(readonly t: Tombstone, readonly enc: Uint8Array) {
    this.ids = t.ids.length === 0 ? undefined : new Set(t.ids);
    this.prefix = t.collection === "" ? `${t.database}\u0000` : `${t.database}\u0000${t.collection}\u0000`;
    this.insHi = Number(t.insertedAtNs >> 32n);
    this.insLo = Number(t.insertedAtNs & 0xffffffffn);
  }

  /** Does the tombstone intersect the window [ws, ws + dayNs)? */
  touches(ws: bigint, dayNs: bigint): boolean {
    return this.t.startNs < ws + dayNs && ws < this.t.endNs;
  }

  /** Is the point with this sort key, time and canonical encoding (inserted_at at offset 1) deleted? */
  covers(key: string, timeNs: bigint, enc: Uint8Array): boolean {
    if (timeNs < this.t.startNs || timeNs >= this.t.endNs || !key.startsWith(this.prefix)) return false;
    if (this.ids !== undefined) {
      const idEnd = key.lastIndexOf("\u0000");
      if (!this.ids.has(key.slice(this.prefix.length, idEnd))) return false;
    }
    const hi = ((enc[1]! << 24) | (enc[2]! << 16) | (enc[3]! << 8) | enc[4]!) >>> 0;
    if (hi !== this.insHi) return hi < this.insHi;
    const lo = ((enc[5]! << 24) | (enc[6]! << 16) | (enc[7]! << 8) | enc[8]!) >>> 0;
    return lo <= this.insLo;
  }
}

/** The naive rule (the oracle of the tests): is this point deleted by this tombstone? */
export function tombstoneDeletes(t: Tombstone, p: { database: string; collection: string; id: string; timeNs: bigint; insertedAtNs: bigint }): boolean {
  return (
    p.database === t.database &&
    (t.collection === "" || p.collection === t.collection) &&
    (t.ids.length === 0 || t.ids.includes(p.id)) &&
    p.timeNs >= t.startNs &&
    p.timeNs < t.endNs &&
    p.insertedAtNs <= t.insertedAtNs
  );
}
