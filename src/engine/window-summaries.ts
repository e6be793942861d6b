// The window summaries the engine holds: each compacted window's Merkle summary (format in
// window-summary.ts), stored in one append-only log beside the segments so that a restart reads one
// file, not one per window. Held within a byte budget, least recently used first out; an evicted
// summary is read back from its place in the log when a comparison needs it.
//
//   segments/window-summaries-<generation, 6 digits>.log
//     log    := "SXSLOG01" | record*
//     record := u32 BE summary_bytes | summary (SXSUM001, CRC-checked on its own)
//
// The later record of a segment wins. At every open the live records (those naming a segment that
// is present, with its size) are copied to a new generation, which then takes the appends, and the
// older generations are removed; the log is copied again when dead records outnumber live ones.
// Derived data: written without fsync (a torn tail is cut off at the first bad record; a missing
// summary is rebuilt from the points). Summaries of data dirs from before the log (`<segment>.sum`
// sidecars) are moved into it at open.

import { concatBytes } from "../base/bytes.ts";
import { errorMessage } from "../base/errors.ts";
import type { AppendFile, FileSystem } from "../ports/fs.ts";
import type { Logger } from "../ports/logger.ts";
import type { WindowTree } from "../merkle/tree.ts";
import { shapeKey, type TreeShape } from "../merkle/shape.ts";
import { ByteLru } from "./byte-lru.ts";
import { segmentFileName, type SegmentRef } from "./segment-refs.ts";
import { SUMMARY_SUFFIX, decodeSummary, encodeSummary, summaryOfTree, type WindowSummary } from "./window-summary.ts";

/** Memory of one node of a held summary (an estimate, for the budget). */
const SUMMARY_NODE_BYTES = 112;
export const SUMMARY_LOG_MAGIC = "SXSLOG01";
export const SUMMARY_LOG_RE = /^window-summaries-(\d{6})\.log$/;
/** A summary record longer than this is not one (a torn or foreign length). */
const SUMMARY_RECORD_BYTES_MAX = 64 * 1024;
/** The log is copied to a new generation when its dead records exceed the live ones by this many. */
const DEAD_RECORDS_SLACK = 1024;

export function summaryLogName(generation: number): string {
  return `window-summaries-${String(generation).padStart(6, "0")}.log`;
}

/** One record of a summary log (its length prefix and the summary bytes). */
export function summaryLogRecord(summary: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + summary.length);
  new DataView(out.buffer).setUint32(0, summary.length, false);
  out.set(summary, 4);
  return out;
}

/** The summaries of a log image, in order, each with its place; stops at the first bad record. */
export function parseSummaryLog(bytes: Uint8Array): Array<{ summary: WindowSummary; offset: number; length: number }> {
  const out: Array<{ summary: WindowSummary; offset: number; length: number }> = [];
  if (bytes.length < SUMMARY_LOG_MAGIC.length) return out;
  for (let i = 0; i < SUMMARY_LOG_MAGIC.length; i++) if (bytes[i] !== SUMMARY_LOG_MAGIC.charCodeAt(i)) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = SUMMARY_LOG_MAGIC.length;
  while (at + 4 <= bytes.length) {
    const length = view.getUint32(at, false);
    if (length > SUMMARY_RECORD_BYTES_MAX || at + 4 + length > bytes.length) break;
    const summary = decodeSummary(bytes.subarray(at + 4, at + 4 + length));
    if (summary === undefined) break;
    out.push({ summary, offset: at + 4, length });
    at += 4 + length;
  }
  return out;
}

interface LogPlace {
  offset: number;
  length: number;
}

export class WindowSummaries {
  /** Segments whose summary is held in `ref.summary` (eviction clears it). */
  private readonly held: ByteLru<SegmentRef, true>;
  /** Where each live segment's latest summary is in the current log generation. */
  private readonly places = new Map<SegmentRef, LogPlace>();
  private log: { path: string; file: AppendFile; bytes: number; generation: number; records: number } | undefined;
  /** Appends and copies, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  /** Segments replaced, quarantined or removed: their summaries are dead. */
  private readonly forgotten = new WeakSet<SegmentRef>();

  constructor(
    private readonly fs: FileSystem,
    private readonly logger: Logger,
    private readonly segDir: string,
    bytesMax: number,
    private readonly deadRecordsSlack = DEAD_RECORDS_SLACK,
  ) {
    this.held = new ByteLru(bytesMax, (ref) => {
      delete ref.summary;
    });
  }

  get bytes(): number {
    return this.held.bytes;
  }

  /**
   * At open: reads every log generation and the old sidecars among `names` (the segment dir's
   * listing), keeps the summaries that name a present segment of its size, and starts a new log
   * generation holding just those. Without a writable disk the summaries are held, not stored.
   * Returns how many summaries were found.
   */
  async load(refs: readonly SegmentRef[], names: readonly string[], writable: boolean): Promise<number> {
    const byName = new Map(refs.map((r) => [segmentFileName(r), r]));
    const found = new Map<SegmentRef, { summary: WindowSummary; bytes: Uint8Array }>();
    const take = (summary: WindowSummary, bytes: Uint8Array) => {
      const ref = byName.get(summary.segmentName);
      if (ref !== undefined && summary.segmentBytes === ref.meta.fileBytes) found.set(ref, { summary, bytes });
    };
    const gens = names.flatMap((n) => {
      const m = SUMMARY_LOG_RE.exec(n);
      return m === null ? [] : [{ name: n, generation: Number(m[1]) }];
    }).sort((a, b) => a.generation - b.generation);
    for (const g of gens) {
      let image: Uint8Array;
      try {
        image = await this.fs.readFile(`${this.segDir}/${g.name}`);
      } catch {
        continue;
      }
      for (const r of parseSummaryLog(image)) take(r.summary, image.subarray(r.offset, r.offset + r.length));
    }
    const sidecars = names.filter((n) => n.endsWith(SUMMARY_SUFFIX));
    for (const n of sidecars) {
      const ref = byName.get(n.slice(0, -SUMMARY_SUFFIX.length));
      if (ref === undefined || found.has(ref)) continue;
      try {
        const bytes = await this.fs.readFile(`${this.segDir}/${n}`);
        const s = decodeSummary(bytes);
        if (s !== undefined) take(s, bytes);
      } catch {
        // unreadable: rebuilt from the points when needed
      }
    }
    for (const [ref, { summary }] of found) this.hold(ref, summary);
    if (!writable) return found.size;
    const generation = (gens.at(-1)?.generation ?? 0) + 1;
    try {
      await this.startGeneration(generation, new Map([...found].map(([ref, { bytes }]) => [ref, bytes])));
      for (const g of gens) await this.fs.remove(`${this.segDir}/${g.name}`).catch(() => {});
      for (const n of sidecars) await this.fs.remove(`${this.segDir}/${n}`).catch(() => {});
    } catch (e) {
      this.logger.log("warn", "engine: cannot write the window summary log (summaries are rebuilt when needed)", { error: errorMessage(e) });
    }
    return found.size;
  }

  private async startGeneration(generation: number, live: ReadonlyMap<SegmentRef, Uint8Array>): Promise<void> {
    const path = `${this.segDir}/${summaryLogName(generation)}`;
    const file = await this.fs.create(path);
    const parts: Uint8Array[] = [new TextEncoder().encode(SUMMARY_LOG_MAGIC)];
    let bytes = SUMMARY_LOG_MAGIC.length;
    const places = new Map<SegmentRef, LogPlace>();
    for (const [ref, summary] of live) {
      if (this.forgotten.has(ref)) continue;
      const rec = summaryLogRecord(summary);
      places.set(ref, { offset: bytes + 4, length: summary.length });
      parts.push(rec);
      bytes += rec.length;
    }
    const image = concatBytes(parts);
    try {
      await file.append(image);
    } catch (e) {
      // A full or read-only disk: no handle is left open (the summaries stay held, rebuilt when needed).
      await file.close().catch(() => {});
      await this.fs.remove(path).catch(() => {});
      throw e;
    }
    const old = this.log;
    this.log = { path, file, bytes, generation, records: places.size };
    this.places.clear();
    for (const [ref, p] of places) this.places.set(ref, p);
    if (old !== undefined) {
      await old.file.close().catch(() => {});
      await this.fs.remove(old.path).catch(() => {});
    }
  }

  /** The usable summary of a compacted window's segment for `shape` (read back from the log after eviction). */
  async of(ref: SegmentRef, shape: TreeShape): Promise<WindowSummary | undefined> {
    if (ref.summary === undefined) {
      const place = this.places.get(ref);
      const log = this.log;
      let s: WindowSummary | undefined;
      if (place !== undefined && log !== undefined) {
        try {
          s = decodeSummary(await this.fs.readRange(log.path, place.offset, place.length));
        } catch {
          s = undefined;
        }
      }
      if (ref.summary === undefined) this.hold(ref, s !== undefined && s.segmentName === segmentFileName(ref) && s.segmentBytes === ref.meta.fileBytes ? s : null);
    }
    const s = ref.summary;
    return s !== null && s !== undefined && shapeKey(s.shape) === shapeKey(shape) ? s : undefined;
  }

  /** Keeps a compacted window's summary computed from its tree. */
  async write(ref: SegmentRef, tree: WindowTree, shape: TreeShape, withSketch = true): Promise<void> {
    await this.keep(ref, encodeSummary(summaryOfTree(tree, shape, segmentFileName(ref), ref.meta.fileBytes, withSketch)));
  }

  /** Keeps an encoded summary: held, and appended to the log (a failure is logged: the summary is rebuilt when needed). */
  keep(ref: SegmentRef, bytes: Uint8Array): Promise<void> {
    const s = decodeSummary(bytes);
    this.hold(ref, s ?? null);
    if (s === undefined) return Promise.resolve();
    const run = this.chain.then(async () => {
      const log = this.log;
      if (log === undefined || !this.isLive(ref)) return;
      try {
        const rec = summaryLogRecord(bytes);
        await log.file.append(rec);
        if (this.log !== log) return; // copied meanwhile: the copy holds it
        this.places.set(ref, { offset: log.bytes + 4, length: bytes.length });
        log.bytes += rec.length;
        log.records++;
        if (log.records - this.places.size > this.places.size + this.deadRecordsSlack) await this.copyLive();
      } catch (e) {
        // The log may end in a torn record now: stop appending to it (the next open starts a new one).
        if (this.log === log) {
          this.log = undefined;
          this.places.clear();
          await log.file.close().catch(() => {});
        }
        this.logger.log("warn", "engine: cannot keep a window summary (it is rebuilt when needed)", { segment: segmentFileName(ref), error: errorMessage(e) });
      }
    });
    this.chain = run;
    return run;
  }

  private isLive(ref: SegmentRef): boolean {
    return !this.forgotten.has(ref);
  }

  /** A new generation holding the live records only (read back from the current one). */
  private async copyLive(): Promise<void> {
    const log = this.log!;
    const image = await this.fs.readFile(log.path);
    const live = new Map<SegmentRef, Uint8Array>();
    for (const [ref, p] of this.places) live.set(ref, image.slice(p.offset, p.offset + p.length));
    await this.startGeneration(log.generation + 1, live);
  }

  /** A segment replaced by a merge, quarantined or removed: its summary is dead. */
  forget(ref: SegmentRef): void {
    this.forgotten.add(ref);
    this.held.delete(ref);
    this.places.delete(ref);
  }

  /** Forgets every held summary (the caller marks the refs to be re-verified). */
  clear(): void {
    this.held.clear();
  }

  /** Waits for appends in flight and closes the log. */
  async close(): Promise<void> {
    await this.chain;
    await this.log?.file.close().catch(() => {});
    this.log = undefined;
  }

  private hold(ref: SegmentRef, s: WindowSummary | null): void {
    ref.summary = s;
    if (s !== null) this.held.set(ref, true, SUMMARY_NODE_BYTES * (1 + s.children.length));
  }
}
