// The codec tasks on real Bun worker threads give the same bytes as inline; an engine flushing and
// compacting through the pool stores exactly what the inline engine stores (same segment files,
// same checksums); a corrupt segment found by a worker's merge is quarantined, the rest merged.

import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { bunWorkerPool } from "../../src/runtime/bun/workers.ts";
import { SUMMARY_LOG_RE, parseSummaryLog } from "../../src/engine/window-summaries.ts";
import { CODEC_TASKS, encodeWindow, mergeWindow, packEncodings, verifySegment, type MergeWindowResult, type VerifySegmentResult } from "../../src/engine/codec-tasks.ts";
import { engineChecksums, openEngine, oracleChecksums, stored, tempDir } from "../support/engine.ts";
import { shapeFor } from "../../src/merkle/shape.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import type { Point } from "../../src/model/point.ts";
import type { StoredPoint } from "../../src/engine/engine.ts";

const pool = bunWorkerPool(new URL("../../src/worker.ts", import.meta.url), 2);
afterAll(() => pool.close());

const DAY = 20_700n;
const SHAPE = shapeFor(16, 32);

function points(from: number, n: number, v: number): Point[] {
  return Array.from({ length: n }, (_, i) => ({
    database: "db", collection: "c", id: `dev-${(from + i) % 13}`,
    timeNs: DAY * NS_PER_DAY + BigInt(from + i) * NS_PER_SECOND, insertedAtNs: BigInt(100 + v),
    fields: [["t", { kind: "number", value: (from + i) * 0.5 + v }], ["s", { kind: "string", value: `x${i % 5}` }]] as Point["fields"],
  }));
}

describe("compute on Bun workers", () => {
  test("encodeWindow and mergeWindow: the worker's bytes equal the inline bytes", async () => {
    const sorted = stored(points(0, 2000, 0)).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)).map((p) => p.enc);
    const args = { group: 1, windowStartNs: DAY * NS_PER_DAY, packed: packEncodings(sorted) };
    const inline = encodeWindow(args);
    // out of key order (the memory store always sorts): refused, not written wrongly
    expect(() => encodeWindow({ ...args, packed: packEncodings([...sorted].reverse()) })).toThrow(/sorted and unique/);
    expect(() => encodeWindow({ ...args, packed: packEncodings([sorted[0]!, sorted[0]!]) })).toThrow(/sorted and unique/);
    const packed = packEncodings(sorted);
    const viaWorker = await pool.run<Uint8Array>("encodeWindow", { ...args, packed }, [packed.buffer as ArrayBuffer]);
    expect(Buffer.from(viaWorker).equals(Buffer.from(inline))).toBe(true);
    const second = encodeWindow({ ...args, packed: packEncodings(stored(points(1000, 2000, 1)).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)).map((p) => p.enc)) });
    const margs = { group: 1, windowStartNs: DAY * NS_PER_DAY, files: [inline, second], names: ["a.seg", "b.seg"], outName: "c.seg", shape: SHAPE };
    const m1 = mergeWindow(margs);
    const m2 = await pool.run<MergeWindowResult>("mergeWindow", margs);
    expect(m1.ok && m2.ok).toBe(true);
    if (m1.ok && m2.ok) {
      expect(Buffer.from(m2.bytes).equals(Buffer.from(m1.bytes))).toBe(true);
      expect(Buffer.from(m2.summary!).equals(Buffer.from(m1.summary!))).toBe(true);
      expect(m2.count).toBe(3000);
    }
    const bad = inline.slice();
    bad[bad.length - 50]! ^= 1;
    const m3 = await pool.run<MergeWindowResult>("mergeWindow", { ...margs, files: [bad, second] });
    expect(m3.ok).toBe(false);
    if (!m3.ok) expect(m3.bad.map((b) => b.index)).toEqual([0]);
    // (bun's expect().rejects does not settle on this promise; then() does)
    const err = await pool.run("noSuchTask", {}).then(() => "resolved", (e: Error) => e.message);
    expect(err).toMatch(/noSuchTask/);
    expect(Object.keys(CODEC_TASKS).sort()).toEqual(["encodeWindow", "mergeWindow", "verifySegment"]);
  });

  test("verifySegment: the worker's count, checksum and summary equal the inline ones and a merge's; a corrupt file is named, not summarised", async () => {
    const file = encodeWindow({ group: 1, windowStartNs: DAY * NS_PER_DAY, packed: packEncodings(stored(points(0, 1500, 2)).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)).map((p) => p.enc)) });
    const args = { bytes: file, what: "a replica's file", name: "g1-d20700-s000000000007.seg", shape: SHAPE };
    const inline = verifySegment(args);
    const viaWorker = await pool.run<VerifySegmentResult>("verifySegment", { ...args, bytes: file.slice() });
    // A whole-window merge of the same file alone gives the same summary (same name, same bytes).
    const merged = mergeWindow({ group: 1, windowStartNs: DAY * NS_PER_DAY, files: [file], names: ["x"], outName: args.name, shape: SHAPE });
    expect(inline.ok && viaWorker.ok && merged.ok).toBe(true);
    if (inline.ok && viaWorker.ok && merged.ok) {
      expect(viaWorker.count).toBe(inline.count);
      expect(inline.count).toBe(merged.count);
      expect(viaWorker.sha256Hex).toBe(inline.sha256Hex);
      expect(Buffer.from(viaWorker.summary!).equals(Buffer.from(inline.summary!))).toBe(true);
      expect(Buffer.from(inline.summary!).equals(Buffer.from(merged.summary!))).toBe(true);
      expect(Buffer.from(viaWorker.bytes).equals(Buffer.from(file))).toBe(true);
    }
    // Without a shape: verified, no summary.
    const { shape: _shape, ...unshaped } = args;
    const noShape = verifySegment(unshaped);
    expect(noShape.ok).toBe(true);
    expect(noShape.ok ? noShape.summary : "refused").toBeUndefined();
    const bad = file.slice();
    bad[bad.length - 60]! ^= 1;
    const r = await pool.run<VerifySegmentResult>("verifySegment", { ...args, bytes: bad });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/a replica's file/);
  });

  test("an engine on the pool stores the same files as an inline engine; a corrupt segment is quarantined at compaction", async () => {
    const a = tempDir("compute-inline");
    const b = tempDir("compute-pool");
    try {
      const settings = { compaction: { ratio: 3, tierBasePoints: 50, segmentsMax: 8 }, treeShape: SHAPE };
      const inline = await openEngine(a.dir, settings);
      const pooled = await openEngine(b.dir, { ...settings, compute: pool });
      const all: StoredPoint[] = [];
      for (let f = 0; f < 12; f++) {
        const batch = stored(points(f * 300, 400, f));
        all.push(...batch);
        for (const e of [inline, pooled]) {
          await e.write(batch);
          await e.flush();
        }
      }
      const names = (dir: string) => readdirSync(`${dir}/segments`).sort();
      expect(names(b.dir)).toEqual(names(a.dir));
      // Segments byte for byte; the summary log by its records (appended in the order merges finish).
      const records = (path: string) => parseSummaryLog(readFileSync(path)).map((r) => Buffer.from(readFileSync(path).subarray(r.offset, r.offset + r.length)).toString("hex")).sort();
      for (const n of names(a.dir)) {
        if (SUMMARY_LOG_RE.test(n)) expect(records(`${b.dir}/segments/${n}`)).toEqual(records(`${a.dir}/segments/${n}`));
        else expect(readFileSync(`${b.dir}/segments/${n}`).equals(readFileSync(`${a.dir}/segments/${n}`))).toBe(true);
      }
      const want = oracleChecksums(all);
      expect(await engineChecksums(pooled, want.keys())).toEqual(want);
      // Flip a bit in one segment of the pooled engine, then compact: that file is quarantined, the rest merged.
      const segs = names(b.dir).filter((n) => n.endsWith(".seg"));
      expect(segs.length).toBeGreaterThan(1);
      const victim = `${b.dir}/segments/${segs[0]}`;
      const bytes = readFileSync(victim);
      bytes[bytes.length - 60]! ^= 4;
      writeFileSync(victim, bytes);
      await pooled.compactAll();
      expect(readdirSync(`${b.dir}/quarantine`)).toContain(segs[0]!);
      expect(pooled.statsSnapshot.quarantined).toBe(1);
      // One segment per window (the groups of the 13 devices), the corrupt one's window merged from the rest.
      expect(names(b.dir).filter((n) => n.endsWith(".seg")).length).toBe(want.size);
      await inline.close();
      await pooled.close();
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });
});
