// Decoded segments by path, within a byte budget (least recently used out), and each segment's
// verified flat checksum — from its footer when the points need not be decoded. A file that fails
// to read or verify is handed to `onCorrupt` (the engine quarantines it) and reads as absent.

import { errorMessage } from "../base/errors.ts";
import type { FileSystem } from "../ports/fs.ts";
import { decodeSegment, readSeriesDirectory, segmentDigest, type SegmentView, type SeriesDirectory } from "../segment/format.ts";
import { ByteLru } from "./byte-lru.ts";
import { segmentFileName, type SegmentRef } from "./segment-refs.ts";

/** Share of the cache's bytes for series directories (range reads); the rest holds decoded segments. */
const DIRECTORY_SHARE = 0.1;

export class SegmentCache {
  private readonly views: ByteLru<string, SegmentView>;
  private readonly directories: ByteLru<string, SeriesDirectory | "v1">;

  constructor(
    private readonly fs: FileSystem,
    bytesMax: number,
    private readonly onCorrupt: (ref: SegmentRef, name: string, reason: string) => Promise<void>,
    /** Counts a decode of a segment's points (a comparison of identical replicas should cause none). */
    private readonly onDecode: () => void,
  ) {
    this.views = new ByteLru(bytesMax * (1 - DIRECTORY_SHARE));
    this.directories = new ByteLru(bytesMax * DIRECTORY_SHARE);
  }

  get bytes(): number {
    return this.views.bytes + this.directories.bytes;
  }

  /** A segment already decoded whole, if it is held (no read). */
  held(ref: SegmentRef): SegmentView | undefined {
    return this.views.get(ref.path);
  }

  /**
   * A segment's series directory (its compressed file image and where each series block is), for
   * reads of a key range; undefined for a version-1 file or a corrupt one (quarantined).
   */
  async directory(ref: SegmentRef): Promise<SeriesDirectory | undefined> {
    const hit = this.directories.get(ref.path);
    if (hit !== undefined) return hit === "v1" ? undefined : hit;
    let v1 = false;
    const dir = await this.readVerified(ref, (bytes, name) => {
      const d = readSeriesDirectory(bytes, name);
      v1 = d === undefined;
      return d;
    });
    if (dir !== undefined) this.directories.set(ref.path, dir, 64 + dir.prefixes.length * 112);
    else if (v1) this.directories.set(ref.path, "v1", 64);
    return dir;
  }

  /** Hands a segment found corrupt during a range read to the engine (quarantine). */
  corrupt(ref: SegmentRef, reason: string): Promise<void> {
    this.drop(ref.path);
    return this.onCorrupt(ref, segmentFileName(ref), reason);
  }

  /** Loads and verifies a segment; a corrupt one is quarantined and undefined is returned. */
  async load(ref: SegmentRef): Promise<SegmentView | undefined> {
    const hit = this.views.get(ref.path);
    if (hit !== undefined) return hit;
    const view = await this.readVerified(ref, decodeSegment);
    if (view === undefined) return undefined;
    this.onDecode();
    ref.digest = { sha256Hex: view.sha256Hex, count: view.count };
    this.views.set(ref.path, view, view.memoryBytes());
    return view;
  }

  /** A segment's flat checksum and count, verified, without decoding its points when it can. */
  async checksum(ref: SegmentRef): Promise<{ sha256Hex: string; count: number } | undefined> {
    if (ref.digest !== undefined) return ref.digest;
    const cached = this.views.peek(ref.path);
    if (cached !== undefined) return { sha256Hex: cached.sha256Hex, count: cached.count };
    const d = await this.readVerified(ref, segmentDigest);
    if (d !== undefined) ref.digest = d;
    return d;
  }

  drop(path: string): void {
    this.views.delete(path);
    this.directories.delete(path);
  }

  clear(): void {
    this.views.clear();
    this.directories.clear();
  }

  /** Reads a segment file and applies `decode`; a corrupt one goes to onCorrupt (undefined). */
  private async readVerified<T>(ref: SegmentRef, decode: (bytes: Uint8Array, name: string) => T): Promise<T | undefined> {
    const name = segmentFileName(ref);
    try {
      return decode(await this.fs.readFile(ref.path), name);
    } catch (e) {
      await this.onCorrupt(ref, name, errorMessage(e));
      return undefined;
    }
  }
}
