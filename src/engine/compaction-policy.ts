// Which segments of one (group, day) window to merge, so that compaction's cost follows new data.
//
// Size-tiered: a segment's tier is floor(log_ratio(points / tierBasePoints)); when `ratio` segments
// share a tier they are merged into one of the next tier. A point is therefore rewritten about once
// per tier it climbs (log_ratio(window / flush) times), never once per flush as the day grows, and a
// window holds at most (ratio - 1) segments per tier. Two more rules:
//   - a window the latest flush did not touch (yesterday's, or a backfilled day gone quiet) is merged
//     whole, once, so a settled window is one segment with its Merkle summary beside it;
//   - a window never holds more than `segmentsMax` segments (reads merge every segment): past that
//     the smallest are merged.
// Segments are merged under LWW by version, so any subset may be merged in any order.

export interface CompactionSettings {
  /** Segments of one tier merged together; a tier holds ratio× the points of the one below. */
  readonly ratio: number;
  /** Tier 0 holds fewer than ratio · tierBasePoints points. */
  readonly tierBasePoints: number;
  /** Segments one window may hold at most. */
  readonly segmentsMax: number;
}

// A merge of `ratio` segments of tier k >= 1 always lands in tier k + 1 or above (each holds at least
// base·ratio^k points), so a point is rewritten at most once per tier; only tier 0 can merge into
// itself, which a small base keeps cheap (a tier-0 merge rewrites fewer than ratio² · base points).
export const DEFAULT_COMPACTION: CompactionSettings = { ratio: 4, tierBasePoints: 64, segmentsMax: 24 };

export interface SegmentStat {
  readonly seq: number;
  readonly points: number;
}

export function tierOf(points: number, s: CompactionSettings): number {
  let tier = 0;
  let cap = s.tierBasePoints * s.ratio;
  while (points >= cap) {
    tier++;
    cap *= s.ratio;
  }
  return tier;
}

/**
 * The seqs of the segments to merge into one now, or undefined when the window is fine as it is.
 * Called again after each merge (a merge can complete the tier above).
 */
export function pickCompaction(segs: readonly SegmentStat[], quiet: boolean, s: CompactionSettings): number[] | undefined {
  if (segs.length < 2) return undefined;
  if (quiet) return segs.map((x) => x.seq);
  const byTier = new Map<number, SegmentStat[]>();
  for (const x of segs) {
    const t = tierOf(x.points, s);
    let list = byTier.get(t);
    if (list === undefined) byTier.set(t, (list = []));
    list.push(x);
  }
  const tiers = [...byTier.keys()].sort((a, b) => a - b);
  for (const t of tiers) {
    const list = byTier.get(t)!;
    if (list.length >= s.ratio) return list.map((x) => x.seq);
  }
  if (segs.length > s.segmentsMax) {
    const smallest = [...segs].sort((a, b) => a.points - b.points || a.seq - b.seq);
    return smallest.slice(0, segs.length - s.segmentsMax + 1).map((x) => x.seq);
  }
  return undefined;
}
