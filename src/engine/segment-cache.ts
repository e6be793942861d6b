// Decoded segments by path, within a byte budget (least recently used out), and each segment's
// verified flat checksum — from its footer when the points need not be decoded. A file that fails
// to read or verify is handed to `onCorrupt` (the engine quarantines it) and reads as absent.

import { errorMessage } from "../base/errors.ts";
import type { FileSystem } from "../ports/fs.ts";
import { decodeSegment, segmentDigest, type SegmentView } from "../segment/format.ts";
import { ByteLru } from "./byte-lru.ts";
import { segmentFileName, type SegmentRef } from "./segment-refs.ts";

export class SegmentCache {
  private readonly views: ByteLru<string, SegmentView>;

  constructor(
    private readonly fs: FileSystem,
    bytesMax: number,
    private readonly onCorrupt: (ref: SegmentRef, name: string, reason: string) => Promise<void>,
    /** Counts a decode of a segment's points (a comparison of identical replicas should cause none). */
    private readonly onDecode: () => void,
  ) {
    this.views = new ByteLru(bytesMax);
  }

  get bytes(): number {
    return this.views.bytes;
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
  }

  clear(): void {
    this.views.clear();
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
