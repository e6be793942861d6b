// Deletes in the engine (DESIGN §11; model/tombstone.ts, engine/tombstones.ts). Against a naive oracle
// — a point version survives iff no tombstone covers it (same database, collection or all, device or
// all, time in [start, end), inserted_at ≤ the tombstone's), and each key shows the LWW winner of the
// survivors — for random writes, deletes (some devices, a collection, a database), flushes and
// compactions in any order: every window's checksum equals the oracle's (points, then the window's
// tombstones), before and after a restart; re-writing every point, or installing a replica's window
// files that still hold deleted versions, brings nothing back. Plus the tombstone encoding and file
// formats (golden bytes), a damaged file quarantined, purge markers.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync, writeFileSync } from "node:fs";
import { DAY0, pointArb } from "../support/arb.ts";
import { TEST_GROUPS, engineChecksums, openEngine, stored, tempDir } from "../support/engine.ts";
import { hashRecords, type StoredPoint } from "../../src/engine/engine.ts";
import { decodePoint, timeOfEncoding } from "../../src/model/encoding.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { NS_PER_DAY, TIME_MAX_NS, windowStartNs } from "../../src/base/time.ts";
import { compareBytes } from "../../src/base/bytes.ts";
import { decodeTombstone, encodeTombstone, tombstoneDeletes, tombstoneOfDelete, tombstonesByGroup, type Tombstone } from "../../src/model/tombstone.ts";
import { TOMBSTONE_FILE, encodeTombstoneFile, parseTombstoneFile, tombstoneId } from "../../src/engine/tombstones.ts";
import { fromHex, toHex } from "../../src/base/sha256.ts";
import { crc32c } from "../../src/base/crc32c.ts";
import { refuseBelowPurgeFloor } from "../../src/rpc/deletes.ts";

const DAYS = 4;
const ALL_GROUPS = Array.from({ length: TEST_GROUPS }, (_, g) => g);
const idsArb = fc.subarray(["dev-1", "dev-2", "ä-ünï", "🚀x"], { minLength: 0, maxLength: 3 });
const tombstoneArb: fc.Arbitrary<Tombstone> = fc
  .record({
    database: fc.constant("db"),
    collection: fc.constantFrom("cpu", "sensors", ""),
    ids: idsArb,
    startDay: fc.integer({ min: 0, max: DAYS }),
    startFrac: fc.integer({ min: 0, max: 3 }),
    len: fc.integer({ min: 1, max: 8 }),
    insertedAtNs: fc.bigInt({ min: 1n, max: 50n }),
  })
  .map((r) => {
    const startNs = DAY0 + BigInt(r.startDay - 1) * NS_PER_DAY + (BigInt(r.startFrac) * NS_PER_DAY) / 4n;
    const ids = r.collection === "" ? [] : r.ids;
    return tombstoneOfDelete("delete", { database: r.database, collection: r.collection, ids, startNs, endNs: startNs + (BigInt(r.len) * NS_PER_DAY) / 4n, insertedAtNs: r.insertedAtNs }, () => 1n);
  });

type Op = { kind: "write"; points: StoredPoint[] } | { kind: "delete"; t: Tombstone } | { kind: "flush" } | { kind: "compact" };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.array(pointArb({ days: DAYS, timesPerDay: 8, dense: true }), { minLength: 1, maxLength: 8 }).map((ps) => ({ kind: "write" as const, points: stored(ps) })) },
  { weight: 2, arbitrary: tombstoneArb.map((t) => ({ kind: "delete" as const, t })) },
  { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "compact" as const }) },
);

/** The oracle's checksum of every window: LWW of the surviving versions, then the window's tombstones. */
function oracle(points: readonly StoredPoint[], tombs: readonly Tombstone[], windows: Iterable<string>) {
  const survivors = points.filter((p) => !tombs.some((t) => tombstoneDeletes(t, decodePoint(p.enc))));
  const out = new Map<string, ReturnType<typeof hashRecords>>();
  for (const id of windows) {
    const [g, w] = id.split(":");
    const ws = BigInt(w!);
    const here = lwwMerge(survivors.filter((p) => p.group === Number(g) && windowStartNs(timeOfEncoding(p.enc)) === ws));
    const ts = tombs.flatMap((t) => [...tombstonesByGroup(t, TEST_GROUPS, ALL_GROUPS)].filter(([tg, x]) => tg === Number(g) && x.startNs < ws + NS_PER_DAY && ws < x.endNs).map(([, x]) => encodeTombstone(x)));
    out.set(id, hashRecords(here, ts.sort(compareBytes)));
  }
  return out;
}

function placed(t: Tombstone) {
  return [...tombstonesByGroup(t, TEST_GROUPS, ALL_GROUPS)].map(([group, tombstone]) => ({ group, tombstone }));
}

describe("engine deletes", () => {
  test("checksums equal the oracle's after any mix of writes, deletes, flushes and compactions; a restart, re-written points and a replica's window files bring nothing back", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const { dir, cleanup } = tempDir("tombstones");
        try {
          let e = await openEngine(dir, { compaction: { ratio: 2, tierBasePoints: 4, segmentsMax: 3 } });
          const points: StoredPoint[] = [];
          const tombs: Tombstone[] = [];
          for (const op of ops) {
            if (op.kind === "write") {
              await e.write(op.points);
              points.push(...op.points);
            } else if (op.kind === "delete") {
              await e.addTombstones(placed(op.t));
              tombs.push(op.t);
            } else if (op.kind === "flush") await e.flush();
            else await e.compactAll();
          }
          const windows = new Set(points.map((p) => `${p.group}:${windowStartNs(timeOfEncoding(p.enc))}`));
          const expected = oracle(points, tombs, windows);
          const check = async () => expect(await engineChecksums(e, windows)).toEqual(expected);
          await check();
          await e.close();
          e = await openEngine(dir);
          await check();
          // Every point written again (a redelivery, a hint, a read repair): the deleted stay deleted.
          await e.write(points);
          await check();
          // A replica that never saw the deletes ships its window files: installed, nothing comes back.
          const { dir: d2, cleanup: c2 } = tempDir("tombstones-src");
          try {
            const src = await openEngine(d2);
            await src.write(points);
            await src.flush();
            for (const id of windows) {
              const [g, w] = id.split(":");
              const file = await src.windowSegment(Number(g), BigInt(w!));
              if (file !== undefined) await e.installSegment(Number(g), BigInt(w!), file.bytes);
            }
            await src.close();
          } finally {
            c2();
          }
          await check();
          await e.close();
        } finally {
          cleanup();
        }
      }),
      { numRuns: 60 },
    );
  }, 300_000);

  test("a delete of some devices rewrites only windows holding them; a purge stops filtering and a marker keeps the purged tombstone from being added again", async () => {
    const { dir, cleanup } = tempDir("tombstones-purge");
    try {
      const e = await openEngine(dir);
      const mk = (id: string, day: number, ins: bigint, offNs = 5n) => stored([{ database: "db", collection: "cpu", id, timeNs: DAY0 + BigInt(day) * NS_PER_DAY + offNs, insertedAtNs: ins, fields: [["v", { kind: "number", value: day }]] }])[0]!;
      await e.write([mk("a", 0, 10n), mk("a", 1, 10n), mk("b", 0, 10n)]);
      await e.flush();
      // A point only in the WAL and memory when the delete comes.
      await e.write([mk("a", 0, 12n, 99n)]);
      const t = tombstoneOfDelete("d", { database: "db", collection: "cpu", ids: ["a"], startNs: DAY0, endNs: DAY0 + NS_PER_DAY, insertedAtNs: 20n }, () => 0n);
      const items = placed(t);
      expect(await e.addTombstones(items)).toBe(1);
      expect(await e.addTombstones(items)).toBe(0);
      expect(e.statsSnapshot.pointsDeleted).toBe(2);
      expect(e.statsSnapshot.windowsRewrittenForDeletes).toBe(1);
      const g = items[0]!.group;
      const id = tombstoneId(encodeTombstone(items[0]!.tombstone));
      // An older write of the deleted point is refused; a newer one is kept.
      await e.write([mk("a", 0, 15n)]);
      expect(e.statsSnapshot.deletedPointsDropped).toBe(1);
      await e.write([mk("a", 0, 25n)]);
      const rows = async () => {
        const out: string[] = [];
        for (const ws of e.windowsOf(g)) for await (const r of e.scanWindow(g, ws)) out.push(`${r.key.split("\u0000")[2]}@${windowStartNs(timeOfEncoding(r.enc)) === DAY0 ? 0 : 1}`);
        return out.sort();
      };
      expect((await rows()).filter((r) => r.startsWith("a"))).toEqual(["a@0", "a@1"]);
      expect(e.purgeFloorNs(g)).toBe(0n);
      expect(await e.purgeTombstones(g, [id], 1000n)).toBe(1);
      expect(e.tombstoneCount()).toBe(0);
      expect(e.tombstonePurged(g, id)).toBe(true);
      expect(await e.addTombstones(items)).toBe(0);
      // The purge floor: a fresh write stamped at or before the purged delete is refused (it could be
      // one the delete covered: nothing remembers what it covered now); a newer one is not.
      expect(e.purgeFloorNs(g)).toBe(20n);
      for (const ins of [15n, 20n]) expect(() => refuseBelowPurgeFloor([mk("a", 0, ins)], e)).toThrow(/points\[0\]\.inserted_at: .* not newer than a delete already purged .*storage\.tombstone_purge_delay/);
      expect(() => refuseBelowPurgeFloor([mk("a", 0, 21n)], e)).not.toThrow();
      const elsewhere = ["b", "c", "d", "e", "f", "g", "h"].map((x) => mk(x, 0, 5n)).find((p) => p.group !== g)!;
      expect(() => refuseBelowPurgeFloor([elsewhere], e)).not.toThrow(); // another group: no floor there
      // A crash now (no close, no flush): the WAL still held the deleted version's original write
      // before the purge; the replay must not bring it back.
      const again = await openEngine(dir);
      expect(again.tombstoneCount()).toBe(0);
      expect(again.tombstonePurged(g, id)).toBe(true);
      expect(again.purgeFloorNs(g)).toBe(20n);
      const keys: string[] = [];
      for (const ws of again.windowsOf(g)) for await (const r of again.scanWindow(g, ws)) keys.push(`${r.key.split("\u0000")[2]}:${toHex(r.enc.subarray(1, 9))}:${timeOfEncoding(r.enc) - DAY0}`);
      const hex = (n: bigint) => n.toString(16).padStart(16, "0");
      expect(keys.filter((k) => k.startsWith("a:")).sort()).toEqual([`a:${hex(25n)}:5`, `a:${hex(10n)}:${NS_PER_DAY + 5n}`].sort());
      await again.close();
      await e.close().catch(() => {});
    } finally {
      cleanup();
    }
  });

  test("a damaged tombstone file is quarantined and named; the engine opens", async () => {
    const { dir, cleanup } = tempDir("tombstones-bad");
    try {
      const e = await openEngine(dir);
      await e.addTombstones(placed(tombstoneOfDelete("d", { database: "db", collection: "cpu", ids: [], startNs: DAY0, endNs: 0n, insertedAtNs: 5n }, () => 0n)));
      await e.close();
      writeFileSync(`${dir}/${TOMBSTONE_FILE}`, "SXTOMB01garbage-garbage");
      const again = await openEngine(dir);
      expect(again.recovery.problems.some((p) => p.includes(TOMBSTONE_FILE))).toBe(true);
      expect(readdirSync(`${dir}/quarantine`)).toContain(TOMBSTONE_FILE);
      await again.close();
    } finally {
      cleanup();
    }
  });
});

describe("tombstone formats", () => {
  const t: Tombstone = { database: "db", collection: "cpu", ids: ["a", "b"], startNs: 1n, endNs: 2n, insertedAtNs: 3n };

  test("TombstoneV1 golden bytes; decoding refuses anything that would not re-encode the same", () => {
    const enc = encodeTombstone(t);
    expect(toHex(enc)).toBe("81" + "0000000000000003" + "0000000000000001" + "0000000000000002" + "026462" + "03637075" + "02" + "0161" + "0162");
    expect(decodeTombstone(enc)).toEqual(t);
    const swapped = encodeTombstone({ ...t, ids: ["b", "a"] });
    expect(() => decodeTombstone(swapped)).toThrow(/strictly increasing/);
    expect(() => decodeTombstone(encodeTombstone({ ...t, startNs: 2n }))).toThrow(/range/);
    expect(() => decodeTombstone(new Uint8Array([...enc, 0]))).toThrow(/trailing/);
    expect(() => decodeTombstone(enc.subarray(0, 10))).toThrow(/invalid tombstone/);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      try {
        expect(encodeTombstone(decodeTombstone(bytes))).toEqual(bytes);
      } catch (e) {
        expect(String(e)).toMatch(/invalid tombstone/);
      }
    }), { numRuns: 3000 });
  });

  test("tombstones.dat golden bytes (version 2, with a purge floor), CRC checked; version 1 files still read", () => {
    const enc = encodeTombstone(t);
    const image = encodeTombstoneFile([{ group: 7, state: 2, purgedAtNs: 0n, bytes: enc }, { group: 7, state: 3, purgedAtNs: 9n, bytes: new Uint8Array(16).fill(0xab) }, { group: 7, state: 4, purgedAtNs: 20n, bytes: new Uint8Array(0) }]);
    expect(toHex(image)).toBe(
      toHex(new TextEncoder().encode("SXTOMB02")) + "00000003" + "00000007" + "02" + "0000000000000000" + "25" + toHex(enc) + "00000007" + "03" + "0000000000000009" + "10" + "ab".repeat(16) + "00000007" + "04" + "0000000000000014" + "00" + toHex(image.subarray(image.length - 4)),
    );
    expect(parseTombstoneFile(image).map((r) => r.state)).toEqual([2, 3, 4]);
    const bad = image.slice();
    bad[20] = bad[20]! ^ 1;
    expect(() => parseTombstoneFile(bad)).toThrow(/CRC/);
    // A version 1 file (as written before the purge floor): states 1–3 read; a state 4 in it is refused.
    const v1 = (records: Uint8Array) => {
      const body = new Uint8Array([...new TextEncoder().encode("SXTOMB01"), ...records]);
      const out = new Uint8Array(body.length + 4);
      out.set(body);
      new DataView(out.buffer).setUint32(body.length, crc32c(body), false);
      return out;
    };
    const oldImage = v1(fromHex("00000002" + "00000007" + "02" + "0000000000000000" + "25" + toHex(enc) + "00000007" + "03" + "0000000000000009" + "10" + "ab".repeat(16)));
    expect(parseTombstoneFile(oldImage).map((r) => [r.group, r.state, r.purgedAtNs])).toEqual([[7, 2, 0n], [7, 3, 9n]]);
    expect(() => parseTombstoneFile(v1(fromHex("00000001" + "00000007" + "04" + "0000000000000014" + "00")))).toThrow(/record 0: state 4/);
  });

  test("a delete's checks name the field and the value; ids and ranges are refused before anything is stored", () => {
    const stamp = () => 7n;
    const base = { database: "db", collection: "cpu", ids: [] as string[], startNs: 0n, endNs: 0n, insertedAtNs: 0n };
    expect(tombstoneOfDelete("d", base, stamp)).toEqual({ database: "db", collection: "cpu", ids: [], startNs: 0n, endNs: TIME_MAX_NS, insertedAtNs: 7n });
    expect(() => tombstoneOfDelete("d", { ...base, startNs: 10n, endNs: 5n }, stamp)).toThrow(/d\.end_time: the range is empty or inverted: start_time 10 ≥ end_time 5/);
    expect(() => tombstoneOfDelete("d", { ...base, ids: ["../etc"] }, stamp)).toThrow(/d\.ids\[0\]/);
    expect(() => tombstoneOfDelete("d", { ...base, database: "a/b" }, stamp)).toThrow(/d\.database/);
    expect(() => tombstoneOfDelete("d", { ...base, collection: "", ids: ["x"] }, stamp)).toThrow(/database drop\) takes no ids/);
    expect(tombstoneOfDelete("d", { ...base, ids: ["b", "a", "b"] }, stamp).ids).toEqual(["a", "b"]);
  });
});
