// A compacted window keeps its Merkle summary in the summary log beside its segments: after a restart
// the window's root (and the root's children) come from it without decoding a point; a later write, a
// torn or foreign record, or a re-verification make the engine build the tree from the points again
// (and keep a fresh summary). Sidecars of older data dirs move into the log; the log is copied when
// it is mostly dead records. Golden bytes pin the summary and the log record format.

import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { openEngine, stored, tempDir } from "../support/engine.ts";
import { shapeFor } from "../../src/merkle/shape.ts";
import { WindowTree } from "../../src/merkle/tree.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { toHex } from "../../src/base/sha256.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { decodeSummary, encodeSummary } from "../../src/engine/window-summary.ts";
import { Sketch, encodeSymbols } from "../../src/merkle/riblt.ts";
import { SUMMARY_LOG_MAGIC, SUMMARY_LOG_RE, WindowSummaries, parseSummaryLog, summaryLogRecord } from "../../src/engine/window-summaries.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import type { Point } from "../../src/model/point.ts";

const WS = 20_620n * NS_PER_DAY;
const SHAPE = shapeFor(16, 32);

const points = (n: number, v: number): Point[] =>
  Array.from({ length: n }, (_, i) => ({ database: "db", collection: "c", id: `dev-${i % 7}`, timeNs: WS + BigInt(i) * NS_PER_SECOND, insertedAtNs: BigInt(10 + v), fields: [["v", { kind: "number", value: i + v }]] as Point["fields"] }));

describe("window summaries", () => {
  test("after a restart a compacted window's root comes from the summary log, no point decoded; writes, torn or foreign records and re-verification fall back to the points", async () => {
    const { dir, cleanup } = tempDir("summary");
    try {
      const all = stored([...points(3000, 0), ...points(1500, 1)]);
      const group = all[0]!.group;
      const inGroup = all.filter((p) => p.group === group);
      let engine = await openEngine(dir, { treeShape: SHAPE });
      await engine.write(stored(points(3000, 0)));
      await engine.flush();
      await engine.write(stored(points(1500, 1)));
      await engine.flush();
      await engine.compactAll();
      const logs = () => readdirSync(`${dir}/segments`).filter((n) => SUMMARY_LOG_RE.test(n));
      const segs = () => readdirSync(`${dir}/segments`).filter((n) => n.endsWith(".seg"));
      expect(logs().length).toBe(1);
      expect(readdirSync(`${dir}/segments`).filter((n) => n.endsWith(".sum"))).toEqual([]);
      await engine.close();
      const logPath = () => `${dir}/segments/${logs()[0]!}`;
      const records = () => parseSummaryLog(readFileSync(logPath()));
      // One record per compacted window (every window here has one segment).
      expect(records().map((r) => r.summary.segmentName).sort()).toEqual(segs().sort());
      const fresh = new WindowTree(SHAPE, WS, lwwMerge(inGroup));
      const want = { root: toHex(fresh.root().digest), count: fresh.root().count, children: fresh.children(0, 0).map((c) => toHex(c.digest)) };
      const rootOf = async () => {
        const r = await engine.windowRoot(group, WS, SHAPE);
        return { root: toHex(r.root.digest), count: r.root.count, children: r.children.map((c) => toHex(c.digest)) };
      };
      const ours = () => records().find((r) => r.summary.segmentName.startsWith(`g${group}-`))!;
      // 1. Restart: from the log, nothing decoded; the log moved to a new generation holding the same records.
      const firstLog = logs()[0];
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(0);
      expect(logs().length).toBe(1);
      expect(logs()[0]).not.toBe(firstLog);
      // Another shape has no summary: built from the points.
      expect((await engine.windowRoot(group, WS, shapeFor(8, 16))).root.count).toBe(want.count);
      expect(engine.statsSnapshot.segmentDecodes).toBe(1);
      await engine.close();
      const good = readFileSync(logPath()).slice(ours().offset, ours().offset + ours().length);
      // 2. A torn record is cut off (the points are read) and the summary kept again, so the next restart reads none.
      const tornImage = () => {
        const others = records().filter((r) => !r.summary.segmentName.startsWith(`g${group}-`));
        const img = readFileSync(logPath());
        return Buffer.concat([Buffer.from(SUMMARY_LOG_MAGIC), ...others.map((r) => Buffer.from(summaryLogRecord(img.subarray(r.offset, r.offset + r.length))))]);
      };
      writeFileSync(logPath(), Buffer.concat([tornImage(), Buffer.from(summaryLogRecord(good)).subarray(0, good.length - 5)]));
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(1);
      await engine.close();
      expect(Buffer.from(readFileSync(logPath()).subarray(ours().offset, ours().offset + ours().length)).equals(good)).toBe(true);
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(0);
      await engine.close();
      // 3. A record that names another segment (or the right one with another size) is ignored.
      const foreign = decodeSummary(good)!;
      writeFileSync(logPath(), Buffer.concat([tornImage(), Buffer.from(summaryLogRecord(encodeSummary({ ...foreign, segmentName: "g0-d1-s000000000001.seg" }))), Buffer.from(summaryLogRecord(encodeSummary({ ...foreign, segmentBytes: foreign.segmentBytes + 1 })))]));
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect(await rootOf()).toEqual(want);
      expect(engine.statsSnapshot.segmentDecodes).toBe(1);
      // 4. A late write: the root follows it (the summary no longer applies).
      const late = stored([{ database: "db", collection: "c", id: "dev-0", timeNs: WS + 5n, insertedAtNs: 99n, fields: [["v", { kind: "number", value: 1 }]] }]);
      expect(late[0]!.group).toBe(group);
      await engine.write(late);
      expect((await rootOf()).count).toBe(want.count + 1);
      // 5. Re-verification reads the points again.
      engine.dropReadCaches();
      const before = engine.statsSnapshot.segmentDecodes;
      await engine.windowRoot(group, WS, SHAPE);
      expect(engine.statsSnapshot.segmentDecodes).toBeGreaterThan(before);
      await engine.close();
    } finally {
      cleanup();
    }
  });

  test("a data dir with per-segment .sum sidecars (before the log): moved into the log at open, nothing decoded", async () => {
    const { dir, cleanup } = tempDir("summary-sidecar");
    try {
      let engine = await openEngine(dir, { treeShape: SHAPE });
      await engine.write(stored(points(2000, 0)));
      await engine.flush();
      await engine.write(stored(points(500, 1)));
      await engine.flush();
      await engine.compactAll();
      await engine.close();
      const group = stored(points(1, 0))[0]!.group;
      // Rewrite the dir as an earlier release left it: each summary in <segment>.sum, no log.
      const logName = readdirSync(`${dir}/segments`).find((n) => SUMMARY_LOG_RE.test(n))!;
      const img = readFileSync(`${dir}/segments/${logName}`);
      const recs = parseSummaryLog(img);
      expect(recs.length).toBeGreaterThan(0);
      for (const r of recs) writeFileSync(`${dir}/segments/${r.summary.segmentName}.sum`, img.subarray(r.offset, r.offset + r.length));
      rmSync(`${dir}/segments/${logName}`);
      engine = await openEngine(dir, { treeShape: SHAPE });
      expect((await engine.windowRoot(group, WS, SHAPE)).root.count).toBeGreaterThan(0);
      expect(engine.statsSnapshot.segmentDecodes).toBe(0);
      await engine.close();
      expect(readdirSync(`${dir}/segments`).filter((n) => n.endsWith(".sum"))).toEqual([]);
      const moved = parseSummaryLog(readFileSync(`${dir}/segments/${readdirSync(`${dir}/segments`).find((n) => SUMMARY_LOG_RE.test(n))!}`));
      expect(moved.map((r) => r.summary.segmentName).sort()).toEqual(recs.map((r) => r.summary.segmentName).sort());
    } finally {
      cleanup();
    }
  });

  test("the log is copied to a new generation when dead records outnumber the live ones", async () => {
    const { dir, cleanup } = tempDir("summary-log");
    try {
      const segDir = `${dir}/segments`;
      mkdirSync(segDir, { recursive: true });
      const sums = new WindowSummaries(nodeFileSystem, silentLogger, segDir, 1 << 20, 4);
      const refs = [0, 1].map((i) => ({ path: `${segDir}/g${i}-d20620-s00000000000${i + 1}.seg`, seq: i + 1, meta: { group: i, count: 1, windowStartNs: WS, minTimeNs: WS, maxTimeNs: WS, dataBytes: 10, fileBytes: 98 } }));
      await sums.load(refs, [], true);
      const summaryOf = (ref: (typeof refs)[0], b: number) =>
        encodeSummary({ shape: SHAPE, segmentName: ref.path.slice(segDir.length + 1), segmentBytes: 98, root: { count: b, leaf: true, digest: new Uint8Array(32).fill(b) }, children: [] });
      // 2 live, then 9 more versions of ref 0: dead 9 > live 2 + slack 4 → copied once.
      await sums.keep(refs[1]!, summaryOf(refs[1]!, 1));
      for (let b = 1; b <= 10; b++) await sums.keep(refs[0]!, summaryOf(refs[0]!, b));
      const names = readdirSync(segDir).filter((n) => SUMMARY_LOG_RE.test(n));
      expect(names).toEqual(["window-summaries-000002.log"]);
      const recs = parseSummaryLog(readFileSync(`${segDir}/${names[0]}`));
      expect(recs.length).toBeLessThan(11);
      // Whatever was copied, the latest record of each segment is the one read back.
      sums.clear();
      for (const r of refs) delete (r as { summary?: unknown }).summary;
      expect((await sums.of(refs[0]!, SHAPE))!.root.count).toBe(10);
      expect((await sums.of(refs[1]!, SHAPE))!.root.count).toBe(1);
      // A forgotten segment's summary is not read back.
      sums.forget(refs[1]!);
      await sums.close();
      const again = new WindowSummaries(nodeFileSystem, silentLogger, segDir, 1 << 20);
      await again.load(refs, readdirSync(segDir), true);
      expect((await again.of(refs[0]!, SHAPE))!.root.count).toBe(10);
      await again.close();
    } finally {
      cleanup();
    }
  });

  test("golden: a summary (format version 2, with the sketch prefix); version 1 still read", () => {
    const digest = (b: number) => new Uint8Array(32).fill(b);
    const sketch = new Sketch(3);
    sketch.add(1, 2);
    sketch.add(3, 4);
    const summary = {
      shape: SHAPE, segmentName: "g7-d20620-s000000000003.seg", segmentBytes: 12345,
      root: { count: 10, leaf: false, digest: digest(1) },
      children: [{ count: 4, leaf: true, digest: digest(2) }, { count: 6, leaf: true, digest: digest(3) }],
    };
    const bytes = encodeSummary({ ...summary, sketch });
    expect(Buffer.from(bytes).toString("hex")).toBe(GOLDEN_V2);
    const back = decodeSummary(bytes)!;
    expect(back.children.length).toBe(2);
    expect(encodeSymbols(back.sketch!)).toEqual(encodeSymbols(sketch));
    // Version 1 (no sketch): read as before, its sketch left to the tree.
    const v1 = decodeSummary(Buffer.from(GOLDEN_V1, "hex"))!;
    expect(v1.root.count).toBe(10);
    expect(v1.children.map((c) => c.count)).toEqual([4, 6]);
    expect(v1.sketch).toBeUndefined();
    // In the log: "SXSLOG01", then u32 BE length and the summary.
    const log = Buffer.concat([Buffer.from(SUMMARY_LOG_MAGIC), Buffer.from(summaryLogRecord(bytes))]);
    expect(log.toString("hex")).toBe(`5358534c4f473031${bytes.length.toString(16).padStart(8, "0")}${GOLDEN_V2}`);
    expect(parseSummaryLog(log).map((r) => [r.offset, r.length])).toEqual([[12, bytes.length]]);
    for (const at of [40, bytes.length - 3]) {
      const flipped = bytes.slice();
      flipped[at]! ^= 1;
      expect(decodeSummary(flipped)).toBeUndefined();
    }
  });
});

const GOLDEN_V2 =
  "535853554d3030324836b05310060020081b67372d6432303632302d733030303030303030303030332e73656700000000000030390000000a0001010101010101010101010101010101010101010101010101010101010101010200000004010202020202020202020202020202020202020202020202020202020202020202000000060103030303030303030303030303030303030303030303030303030303030303030003000200000006dcbc4e02000200000006dcbc4e02000100000002214cc001";
const GOLDEN_V1 =
  "535853554d303031c23939db10060020081b67372d6432303632302d733030303030303030303030332e73656700000000000030390000000a000101010101010101010101010101010101010101010101010101010101010101020000000401020202020202020202020202020202020202020202020202020202020202020200000006010303030303030303030303030303030303030303030303030303030303030303";
