// Randomness as the core sees it: jitter, backoff spread and instance ids all draw from an Rng, so a
// simulator seed replays them exactly. The system one lives in adapters/; the simulator seeds its own.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}

/** `ms` spread uniformly by ± `share` (0.1 = ± 10 %). */
export function jittered(rng: Rng, ms: number, share: number): number {
  return ms * (1 - share + 2 * share * rng.next());
}

/** A short random token of base-36 characters (process instance ids, subjects). */
export function randomToken(rng: Rng, chars = 12): string {
  let s = "";
  while (s.length < chars) s += Math.floor(rng.next() * 36).toString(36);
  return s;
}
