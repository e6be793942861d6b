// Decoded segments by path, within a byte budget (least recently used out), series directories for
// range reads, and each segment's verified flat checksum — from its footer when the points need not
// be decoded. A file that fails
// to read or verify is handed to `onCorrupt` (the engine quarantines it) and reads as absent.

import { SoltixError, errorMessage } from "../base/errors.ts";
import type { FileSystem } from "../ports/fs.ts";
import { BLOCK_HEADER_BYTES, SegmentView, blocksInRange, decodeDirectoryBlocks, decodeSegment, readSeriesDirectory, segmentDigest, type SeriesDirectory } from "../segment/format.ts";
import { ByteLru } from "./byte-lru.ts";
import { segmentFileName, type SegmentRef } from "./segment-refs.ts";

/** Shares of the cache's bytes for series directories and for blocks decoded by range reads; the rest holds decoded segments. */
const DIRECTORY_SHARE = 0.1;
const RANGE_SHARE = 0.2;
/** Memory of one point's sort key (a string built when a read walks the points; an estimate). */
const KEY_BYTES = 96;
/** Memory of one series of a held directory (its key prefix and four numbers; an estimate). */
const DIRECTORY_BYTES_PER_SERIES = 112;
/** A key range touching more than 1/RANGE_READ_SHARE_MAX of a segment's series decodes it whole (and caches it). */
const RANGE_READ_SHARE_MAX = 4;

export class SegmentCache {
  private readonly views: ByteLru<string, SegmentView>;
  private readonly directories: ByteLru<string, SeriesDirectory | "v1">;
  /** Blocks decoded by range reads, by `<path>#<first block>:<end block>`. */
  private readonly ranges: ByteLru<string, SegmentView>;

  constructor(
    private readonly fs: FileSystem,
    bytesMax: number,
    private readonly onCorrupt: (ref: SegmentRef, name: string, reason: string) => Promise<void>,
    /** Counts a decode of a segment's points (a comparison of identical replicas should cause none). */
    private readonly onDecode: () => void,
    /** Counts a range read (some series blocks of a segment read and decoded). */
    private readonly onRangeRead: () => void = () => {},
  ) {
    this.views = new ByteLru(bytesMax * (1 - DIRECTORY_SHARE - RANGE_SHARE));
    this.directories = new ByteLru(bytesMax * DIRECTORY_SHARE);
    this.ranges = new ByteLru(bytesMax * RANGE_SHARE);
  }

  get bytes(): number {
    return this.views.bytes + this.directories.bytes + this.ranges.bytes;
  }

  /**
   * The points of a segment whose keys can fall in [fromKey, toKey) (a Query of some devices): a
   * segment held decoded is used as it is; otherwise its series directory (built once from the file,
   * then cached) names the blocks the range touches, and only those are read (one ranged read, or
   * from the image just read for the directory) and decoded, each checked against its CRC. A range
   * over more than 1/RANGE_READ_SHARE_MAX of the series, or a version-1 file, decodes whole (cached).
   * Undefined when nothing can be in range or the file is corrupt (quarantined).
   */
  async range(ref: SegmentRef, fromKey: string, toKey: string): Promise<SegmentView | undefined> {
    const held = this.views.get(ref.path);
    if (held !== undefined) return held;
    const name = segmentFileName(ref);
    let image: Uint8Array | undefined;
    let dir = this.directories.get(ref.path);
    if (dir === undefined) {
      try {
        image = await this.fs.readFile(ref.path);
        dir = readSeriesDirectory(image, name) ?? "v1";
      } catch (e) {
        await this.onCorrupt(ref, name, errorMessage(e));
        return undefined;
      }
      this.directories.set(ref.path, dir, dir === "v1" ? 64 : 64 + dir.prefixes.length * DIRECTORY_BYTES_PER_SERIES);
    }
    if (dir === "v1") return this.load(ref, image);
    const [first, end] = blocksInRange(dir, fromKey, toKey);
    if (first === end) return undefined;
    if ((end - first) * RANGE_READ_SHARE_MAX > dir.prefixes.length) return this.load(ref, image);
    // The same blocks read again (a dashboard refreshing a device): decoded once, held in their share.
    const rangeKey = `${ref.path}#${first}:${end}`;
    const hit = this.ranges.get(rangeKey);
    if (hit !== undefined) return hit;
    // Block headers (BLOCK_HEADER_BYTES) precede each payload; the payloads of [first, end) are contiguous.
    const at = dir.starts[first]! - BLOCK_HEADER_BYTES;
    const length = dir.ends[end - 1]! - at;
    try {
      const bytes = image?.subarray(at, at + length) ?? (await this.fs.readRange(ref.path, at, length));
      const { data, starts } = decodeDirectoryBlocks(dir, first, end, bytes, at, name);
      this.onRangeRead();
      const view = new SegmentView({ ...dir.meta, count: starts.length, dataBytes: data.length }, data, starts, "");
      // Counted with the sort keys a read builds for it.
      this.ranges.set(rangeKey, view, view.memoryBytes() + view.count * KEY_BYTES);
      return view;
    } catch (e) {
      // A block that fails its CRC or decode: the file is quarantined (sync brings the data back).
      if (!(e instanceof SoltixError && e.kind === "data_loss")) throw e;
      this.drop(ref.path);
      await this.onCorrupt(ref, name, errorMessage(e));
      return undefined;
    }
  }

  /** Loads and verifies a segment (from `image` when its bytes were just read); a corrupt one is quarantined and undefined is returned. */
  async load(ref: SegmentRef, image?: Uint8Array): Promise<SegmentView | undefined> {
    const hit = this.views.get(ref.path);
    if (hit !== undefined) return hit;
    const view = await this.readVerified(ref, decodeSegment, image);
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
    for (const k of [...this.ranges.keys()]) if (k.startsWith(`${path}#`)) this.ranges.delete(k);
  }

  clear(): void {
    this.views.clear();
    this.directories.clear();
    this.ranges.clear();
  }

  /** Reads a segment file and applies `decode`; a corrupt one goes to onCorrupt (undefined). */
  private async readVerified<T>(ref: SegmentRef, decode: (bytes: Uint8Array, name: string) => T, image?: Uint8Array): Promise<T | undefined> {
    const name = segmentFileName(ref);
    try {
      return decode(image ?? (await this.fs.readFile(ref.path)), name);
    } catch (e) {
      await this.onCorrupt(ref, name, errorMessage(e));
      return undefined;
    }
  }
}
