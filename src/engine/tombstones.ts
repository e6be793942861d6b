// The tombstones a node holds, per group (DESIGN §11; model/tombstone.ts): live ones delete the points
// they cover and keep older versions from coming back; purged ones are remembered for a while as
// markers (their id and purge time), so a replica that still holds one learns it was purged instead
// of handing it back. Persisted as one file, rewritten whole (temp → fsync → rename → fsync dir) for
// every change, so a crash leaves the old or the new state, never a mix:
//
//   tombstones.dat := "SXTOMB02" | u32 record_count | record* | u32 crc32c(everything before it)
//   record         := u32 group | u8 state | u64 purged_at_ns | uvarint length | bytes
//     state 1: live, not yet applied to the segments (a restart applies it again) — bytes: TombstoneV1
//     state 2: live, applied                                                      — bytes: TombstoneV1
//     state 3: purged marker                                                      — bytes: the 16-byte id
//     state 4: purge floor (version 2): purged_at_ns holds the newest inserted_at of a tombstone
//              purged in the group                                                — bytes: none
// Version 1 files ("SXTOMB01": states 1–3) are read as they are; every rewrite writes version 2.
//
// The purge floor: once a tombstone is purged nothing here remembers what it covered, so a fresh write
// stamped before it (a writer whose clock lags by more than storage.tombstone_purge_delay) could bring
// its points back; fresh writes stamped before the floor are refused (rpc/deletes.ts).
//
// A tombstone's id is the first 16 bytes of the SHA-256 of its encoding. Adds are group-committed:
// concurrent deletes share one rewrite, and a tombstone takes effect (filters writes) only once the
// file holding it is durable, in the same synchronous step as the caller's `activate`.

import { ByteReader, ByteWriter, compareBytes, concatBytes } from "../base/bytes.ts";
import { crc32c } from "../base/crc32c.ts";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { fromHex, sha256, toHex } from "../base/sha256.ts";
import { NS_PER_DAY } from "../base/time.ts";
import { CompiledTombstone, decodeTombstone } from "../model/tombstone.ts";
import { writeFileDurable, type FileSystem } from "../ports/fs.ts";
import type { Logger } from "../ports/logger.ts";

export const TOMBSTONE_FILE = "tombstones.dat";
export const TOMBSTONE_FILE_MAGIC = "SXTOMB02";
const TOMBSTONE_FILE_MAGIC_V1 = "SXTOMB01";
const STATE_LIVE = 1;
const STATE_APPLIED = 2;
const STATE_PURGED = 3;
const STATE_FLOOR = 4;
export const TOMBSTONE_ID_BYTES = 16;
/** Purge markers are kept this long after the purge (a replica still holding the tombstone learns of it meanwhile). */
export const PURGE_MARKER_KEEP_NS = 24n * 3600n * 1_000_000_000n;
/** Purge markers kept per group at most (the oldest go first). */
export const PURGE_MARKERS_PER_GROUP_MAX = 10_000;

const NONE: readonly CompiledTombstone[] = [];
/** Window lists held per group before they are all dropped. */
const WINDOW_LISTS_PER_GROUP_MAX = 4096;

export function tombstoneId(enc: Uint8Array): string {
  return toHex(sha256(enc).subarray(0, TOMBSTONE_ID_BYTES));
}

export interface HeldTombstone {
  readonly group: number;
  readonly id: string;
  readonly c: CompiledTombstone;
  applied: boolean;
}

interface GroupTombstones {
  live: Map<string, HeldTombstone>;
  /** Live tombstones as a list (rebuilt on change), for the write path's per-window check. */
  list: CompiledTombstone[];
  /** SHA-256 over the live encodings in byte order; empty when none (rebuilt on change). */
  digest: Uint8Array | undefined;
  /** Purged ids → purge time (ns). */
  purged: Map<string, bigint>;
  /** The newest inserted_at of a tombstone purged here (0 = none): fresh writes stamped before it are refused. */
  floorNs: bigint;
  /** The list's tombstones touching each window asked for (the write path asks per point). */
  byWindow: Map<bigint, readonly CompiledTombstone[]>;
}

export class Tombstones {
  private readonly groups = new Map<number, GroupTombstones>();
  /** Adds waiting for the next rewrite, and the rewrite that will take them. */
  private pending: Array<{ held: HeldTombstone; resolve: () => void; reject: (e: unknown) => void }> = [];
  private queued: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private activate: (added: readonly HeldTombstone[]) => void = () => {};

  private constructor(private readonly fs: FileSystem, private readonly dataDir: string) {}

  /** Reads the file; a damaged one is quarantined (reported in `problem`) and the node starts with none. */
  static async load(fs: FileSystem, dataDir: string, quarantineDir: string, logger: Logger): Promise<{ store: Tombstones; problem?: string }> {
    const store = new Tombstones(fs, dataDir);
    const path = `${dataDir}/${TOMBSTONE_FILE}`;
    if (!(await fs.list(dataDir)).includes(TOMBSTONE_FILE)) return { store };
    try {
      const image = await fs.readFile(path);
      for (const r of parseTombstoneFile(image)) {
        if (r.state === STATE_PURGED) store.group(r.group).purged.set(toHex(r.bytes), r.purgedAtNs);
        else if (r.state === STATE_FLOOR) store.group(r.group).floorNs = r.purgedAtNs;
        else {
          const t = decodeTombstone(r.bytes);
          const id = tombstoneId(r.bytes);
          store.group(r.group).live.set(id, { group: r.group, id, c: new CompiledTombstone(t, r.bytes), applied: r.state === STATE_APPLIED });
        }
      }
      for (const g of store.groups.values()) store.changed(g);
      return { store };
    } catch (e) {
      const problem = `${TOMBSTONE_FILE} unreadable (${errorMessage(e)}): quarantined; tombstones come back from the replicas`;
      logger.log("error", `engine: ${problem}`);
      await fs.rename(path, `${quarantineDir}/${TOMBSTONE_FILE}`).catch(() => {});
      for (const g of store.groups.values()) g.live.clear();
      store.groups.clear();
      return { store, problem };
    }
  }

  /** Called, synchronously, as added tombstones take effect (the engine removes what they cover from memory). */
  onActivate(f: (added: readonly HeldTombstone[]) => void): void {
    this.activate = f;
  }

  private group(g: number): GroupTombstones {
    let s = this.groups.get(g);
    if (s === undefined) this.groups.set(g, (s = { live: new Map(), list: [], digest: undefined, purged: new Map(), floorNs: 0n, byWindow: new Map() }));
    return s;
  }

  private changed(s: GroupTombstones): void {
    s.list = [...s.live.values()].map((h) => h.c);
    s.digest = undefined;
    s.byWindow.clear();
  }

  /** Live tombstones of the group touching the window [ws, ws + 1 day) (a shared empty list when none). */
  forWindow(group: number, ws: bigint): readonly CompiledTombstone[] {
    const s = this.groups.get(group);
    if (s === undefined || s.list.length === 0) return NONE;
    let hit = s.byWindow.get(ws);
    if (hit === undefined) {
      let out: CompiledTombstone[] | undefined;
      for (const c of s.list) if (c.touches(ws, NS_PER_DAY)) (out ??= []).push(c);
      hit = out ?? NONE;
      // Bounded: the windows a group is written to at once are few (cleared with every change).
      if (s.byWindow.size >= WINDOW_LISTS_PER_GROUP_MAX) s.byWindow.clear();
      s.byWindow.set(ws, hit);
    }
    return hit;
  }

  live(group: number): HeldTombstone[] {
    return [...(this.groups.get(group)?.live.values() ?? [])];
  }

  liveCount(group?: number): number {
    if (group !== undefined) return this.groups.get(group)?.live.size ?? 0;
    let n = 0;
    for (const s of this.groups.values()) n += s.live.size;
    return n;
  }

  /** Groups holding live tombstones or purge markers. */
  groupIds(): number[] {
    return [...this.groups.keys()].filter((g) => this.groups.get(g)!.live.size > 0 || this.groups.get(g)!.purged.size > 0).sort((a, b) => a - b);
  }

  has(group: number, id: string): boolean {
    return this.groups.get(group)?.live.has(id) ?? false;
  }

  /** The group's purge floor: the newest inserted_at of a tombstone purged here; 0 = none. */
  floorNs(group: number): bigint {
    return this.groups.get(group)?.floorNs ?? 0n;
  }

  wasPurged(group: number, id: string): boolean {
    return this.groups.get(group)?.purged.has(id) ?? false;
  }

  purgedIds(group: number): string[] {
    return [...(this.groups.get(group)?.purged.keys() ?? [])];
  }

  /** The group's live set as one digest (SHA-256 over the encodings in byte order); empty bytes when none. */
  digest(group: number): Uint8Array {
    const s = this.groups.get(group);
    if (s === undefined || s.live.size === 0) return new Uint8Array(0);
    if (s.digest === undefined) {
      const encs = s.list.map((c) => c.enc).sort(compareBytes);
      s.digest = sha256(concatBytes(encs));
    }
    return s.digest;
  }

  /**
   * Adds tombstones durably: resolves once a rewrite holding them is durable and they are in effect
   * (activated). Ones already live are skipped. Concurrent adds share one rewrite.
   */
  add(items: readonly HeldTombstone[]): Promise<void> {
    const fresh = items.filter((h) => !this.has(h.group, h.id) && !this.pending.some((p) => p.held.group === h.group && p.held.id === h.id));
    if (fresh.length === 0) return Promise.resolve();
    const done = fresh.map(
      (held) =>
        new Promise<void>((resolve, reject) => {
          this.pending.push({ held, resolve, reject });
        }),
    );
    void this.rewrite();
    return Promise.all(done).then(() => undefined);
  }

  /** Marks tombstones applied to the segments (persisted with the next rewrite; a crash before it re-applies them). */
  markApplied(items: readonly HeldTombstone[]): Promise<void> {
    for (const h of items) h.applied = true;
    return this.rewrite();
  }

  /** Purges live tombstones of a group (remembered as markers with the time); returns how many were live. */
  purge(group: number, ids: readonly string[], nowNs: bigint): number {
    const s = this.groups.get(group);
    if (s === undefined) return 0;
    let n = 0;
    for (const id of ids) {
      const h = s.live.get(id);
      if (h === undefined) continue;
      s.live.delete(id);
      s.purged.set(id, nowNs);
      if (h.c.t.insertedAtNs > s.floorNs) s.floorNs = h.c.t.insertedAtNs;
      n++;
    }
    if (n > 0) this.changed(s);
    return n;
  }

  /** Drops live tombstones for good, with no marker (wholly past the retention horizon; a group given up). */
  drop(group: number, ids?: readonly string[]): number {
    const s = this.groups.get(group);
    if (s === undefined) return 0;
    let n = 0;
    if (ids === undefined) {
      n = s.live.size;
      this.groups.delete(group);
      return n;
    }
    for (const id of ids) if (s.live.delete(id)) n++;
    if (n > 0) this.changed(s);
    return n;
  }

  /** Forgets markers older than PURGE_MARKER_KEEP_NS, and the oldest past the per-group bound; true when any went. */
  pruneMarkers(nowNs: bigint): boolean {
    let changed = false;
    for (const [g, s] of this.groups) {
      for (const [id, at] of s.purged) if (nowNs - at > PURGE_MARKER_KEEP_NS) (s.purged.delete(id), (changed = true));
      if (s.purged.size > PURGE_MARKERS_PER_GROUP_MAX) {
        const oldest = [...s.purged].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).slice(0, s.purged.size - PURGE_MARKERS_PER_GROUP_MAX);
        for (const [id] of oldest) s.purged.delete(id);
        changed = true;
      }
      if (s.live.size === 0 && s.purged.size === 0 && s.floorNs === 0n) this.groups.delete(g);
    }
    return changed;
  }

  /**
   * Writes the state (with every add waiting) as the new file. A rewrite asked for while one runs is
   * queued once and takes every change made until it starts.
   */
  rewrite(): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    const run = this.chain.then(async () => {
      this.queued = undefined;
      const taking = this.pending;
      this.pending = [];
      try {
        await writeFileDurable(this.fs, this.dataDir, TOMBSTONE_FILE, this.image(taking.map((p) => p.held)));
      } catch (e) {
        for (const p of taking) p.reject(e);
        throw e;
      }
      if (taking.length > 0) {
        const added: HeldTombstone[] = [];
        for (const p of taking) {
          const s = this.group(p.held.group);
          if (s.live.has(p.held.id)) continue;
          s.live.set(p.held.id, p.held);
          s.purged.delete(p.held.id);
          added.push(p.held);
        }
        for (const g of new Set(added.map((h) => h.group))) this.changed(this.group(g));
        this.activate(added);
      }
      for (const p of taking) p.resolve();
    });
    this.queued = run;
    this.chain = run.catch(() => {});
    return run;
  }

  /** Resolves when no rewrite is running or queued. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** The file image of the current state plus `extra` live tombstones. */
  image(extra: readonly HeldTombstone[] = []): Uint8Array {
    const records: TombstoneFileRecord[] = [];
    for (const [g, s] of [...this.groups].sort((a, b) => a[0] - b[0])) {
      for (const h of s.live.values()) records.push({ group: g, state: h.applied ? STATE_APPLIED : STATE_LIVE, purgedAtNs: 0n, bytes: h.c.enc });
      for (const [id, at] of s.purged) records.push({ group: g, state: STATE_PURGED, purgedAtNs: at, bytes: fromHex(id) });
      if (s.floorNs > 0n) records.push({ group: g, state: STATE_FLOOR, purgedAtNs: s.floorNs, bytes: new Uint8Array(0) });
    }
    for (const h of extra) records.push({ group: h.group, state: STATE_LIVE, purgedAtNs: 0n, bytes: h.c.enc });
    return encodeTombstoneFile(records);
  }
}

export interface TombstoneFileRecord {
  group: number;
  state: number;
  purgedAtNs: bigint;
  bytes: Uint8Array;
}

export function encodeTombstoneFile(records: readonly TombstoneFileRecord[]): Uint8Array {
  const w = new ByteWriter(64);
  for (let i = 0; i < TOMBSTONE_FILE_MAGIC.length; i++) w.u8(TOMBSTONE_FILE_MAGIC.charCodeAt(i));
  w.u32(records.length);
  for (const r of records) {
    w.u32(r.group);
    w.u8(r.state);
    w.u64(r.purgedAtNs);
    w.uvarint(r.bytes.length);
    w.bytes(r.bytes);
  }
  const body = w.toBytes();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body), false);
  return out;
}

/** Parses a tombstone file, checking its CRC before trusting anything. */
export function parseTombstoneFile(image: Uint8Array): TombstoneFileRecord[] {
  const bad = (why: string) => new SoltixError("data_loss", `${TOMBSTONE_FILE}: ${why}`);
  if (image.length < TOMBSTONE_FILE_MAGIC.length + 8) throw bad(`${image.length} bytes is too short`);
  const magic = String.fromCharCode(...image.subarray(0, TOMBSTONE_FILE_MAGIC.length));
  if (magic !== TOMBSTONE_FILE_MAGIC && magic !== TOMBSTONE_FILE_MAGIC_V1) throw bad("not a tombstone file (magic)");
  const maxState = magic === TOMBSTONE_FILE_MAGIC ? STATE_FLOOR : STATE_PURGED;
  const bodyEnd = image.length - 4;
  const stored = new DataView(image.buffer, image.byteOffset, image.length).getUint32(bodyEnd, false);
  if (crc32c(image, 0, bodyEnd) !== stored) throw bad("CRC mismatch");
  const r = new ByteReader(image, TOMBSTONE_FILE_MAGIC.length, bodyEnd);
  try {
    const n = r.u32();
    const out: TombstoneFileRecord[] = [];
    for (let i = 0; i < n; i++) {
      const group = r.u32();
      const state = r.u8();
      const purgedAtNs = r.u64();
      const len = r.uvarint();
      const bytes = r.take(len);
      if (state < STATE_LIVE || state > maxState) throw bad(`record ${i}: state ${state}`);
      if (state === STATE_PURGED && len !== TOMBSTONE_ID_BYTES) throw bad(`record ${i}: a marker of ${len} bytes`);
      if (state === STATE_FLOOR && len !== 0) throw bad(`record ${i}: a purge floor with ${len} bytes`);
      out.push({ group, state, purgedAtNs, bytes: bytes.slice() });
    }
    if (r.remaining() !== 0) throw bad(`${r.remaining()} trailing bytes`);
    return out;
  } catch (e) {
    if (e instanceof SoltixError) throw e;
    throw bad(errorMessage(e));
  }
}
