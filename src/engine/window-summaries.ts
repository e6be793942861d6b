// The window summaries the engine holds: each compacted window's Merkle summary, read from the .sum
// sidecar beside its segment (format in window-summary.ts) or kept when a merge or a tree produced
// one. Held within a byte budget, least recently used first out; an evicted summary is read from its
// sidecar again when a comparison needs it. Derived data: written without fsync (a torn or stale one
// is refused by its segment name and size, and rebuilt).

import { errorMessage } from "../base/errors.ts";
import type { FileSystem } from "../ports/fs.ts";
import type { Logger } from "../ports/logger.ts";
import type { WindowTree } from "../merkle/tree.ts";
import { shapeKey, type TreeShape } from "../merkle/shape.ts";
import { ByteLru } from "./byte-lru.ts";
import { segmentFileName, type SegmentRef } from "./segment-refs.ts";
import { SUMMARY_SUFFIX, decodeSummary, encodeSummary, summaryOfTree, type WindowSummary } from "./window-summary.ts";

/** Memory of one node of a held summary (an estimate, for the budget). */
const SUMMARY_NODE_BYTES = 112;

export class WindowSummaries {
  /** Segments whose summary is held in `ref.summary` (eviction clears it). */
  private readonly held: ByteLru<SegmentRef, true>;

  constructor(
    private readonly fs: FileSystem,
    private readonly logger: Logger,
    bytesMax: number,
  ) {
    this.held = new ByteLru(bytesMax, (ref) => {
      delete ref.summary;
    });
  }

  get bytes(): number {
    return this.held.bytes;
  }

  /** The usable summary of a compacted window's segment for `shape`, read from its sidecar (again after eviction). */
  async of(ref: SegmentRef, shape: TreeShape): Promise<WindowSummary | undefined> {
    if (ref.summary === undefined) {
      const name = segmentFileName(ref);
      let s: WindowSummary | undefined;
      try {
        s = decodeSummary(await this.fs.readFile(`${ref.path}${SUMMARY_SUFFIX}`));
      } catch {
        s = undefined; // none yet
      }
      const size = await this.fs.size(ref.path).catch(() => -1);
      this.hold(ref, s !== undefined && s.segmentName === name && s.segmentBytes === size ? s : null);
    }
    const s = ref.summary;
    return s !== null && s !== undefined && shapeKey(s.shape) === shapeKey(shape) ? s : undefined;
  }

  /** Keeps a compacted window's summary computed from its tree. */
  async write(ref: SegmentRef, tree: WindowTree, shape: TreeShape): Promise<void> {
    await this.keep(ref, encodeSummary(summaryOfTree(tree, shape, segmentFileName(ref), await this.fs.size(ref.path))));
  }

  /** Keeps an encoded summary beside its segment (a failure is logged: the summary is rebuilt when needed). */
  async keep(ref: SegmentRef, bytes: Uint8Array): Promise<void> {
    try {
      const tmp = `${ref.path}${SUMMARY_SUFFIX}.tmp`;
      const f = await this.fs.create(tmp);
      try {
        await f.append(bytes);
      } finally {
        await f.close();
      }
      await this.fs.rename(tmp, `${ref.path}${SUMMARY_SUFFIX}`);
      this.hold(ref, decodeSummary(bytes) ?? null);
    } catch (e) {
      this.logger.log("warn", "engine: cannot keep a window summary (it is rebuilt when needed)", { segment: segmentFileName(ref), error: errorMessage(e) });
    }
  }

  /** A segment replaced by a merge: its summary is no longer held. */
  forget(ref: SegmentRef): void {
    this.held.delete(ref);
  }

  /** Forgets every held summary (the caller marks the refs to be re-verified). */
  clear(): void {
    this.held.clear();
  }

  private hold(ref: SegmentRef, s: WindowSummary | null): void {
    ref.summary = s;
    if (s !== null) this.held.set(ref, true, SUMMARY_NODE_BYTES * (1 + s.children.length));
  }
}
