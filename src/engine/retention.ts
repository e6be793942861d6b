// Retention (DESIGN §11): how long each database's points are kept, and which (group, day) windows
// that leaves expired. Pure: the caller passes the time.
//
// A database's retention is its own (the router's create call, /soltix/databases/<db>) or else the
// node's storage.retention; 0 keeps forever. Expiry is per whole window: the points of database d
// in window W are expired once W ends at or before now − retention(d), so every replica expires the
// same (group, day, database) triples — there is no per-point cut a clock could place differently.
//
// Clock skew: replicas' clocks differ, so around an expiry one replica may have dropped a window
// another still serves. Two rules keep expired data from coming back:
//   1. Ingest (writes, sync pulls, installed window files, read repair) drops points already expired
//      by the receiving node's own clock — a replica can never re-store what it expired.
//   2. Comparisons (anti-entropy, startup sync, moves) skip a window while any retention's expiry
//      is within EXPIRY_GUARD_NS of its end (RETENTION_CLOCK_SKEW_NS either side, plus a sweep
//      interval): replicas neither repair toward a copy that is about to vanish nor count the
//      difference between a swept and a not-yet-swept replica as divergence.

import { NS_PER_DAY, NS_PER_MS, windowStartNs } from "../base/time.ts";

/** Clock skew between replicas the retention rules allow for. */
export const RETENTION_CLOCK_SKEW_NS = 10n * 60n * 1_000_000_000n;
/** How often a node sweeps expired windows (and whenever a retention changes). */
export const RETENTION_SWEEP_INTERVAL_MS = 60_000;
/** Half-width of the band around an expiry in which comparisons skip a window. */
export const EXPIRY_GUARD_NS = RETENTION_CLOCK_SKEW_NS + BigInt(RETENTION_SWEEP_INTERVAL_MS) * NS_PER_MS;

export interface RetentionPolicy {
  /** storage.retention in ns; 0n = keep forever. */
  readonly defaultNs: bigint;
  /** Databases with their own retention (ns; 0n = forever, overriding the default). */
  readonly byDatabase: ReadonlyMap<string, bigint>;
}

export const KEEP_FOREVER: RetentionPolicy = { defaultNs: 0n, byDatabase: new Map() };

export function retentionOf(p: RetentionPolicy, database: string): bigint {
  return p.byDatabase.get(database) ?? p.defaultNs;
}

export function keepsEverything(p: RetentionPolicy): boolean {
  if (p.defaultNs > 0n) return false;
  for (const r of p.byDatabase.values()) if (r > 0n) return false;
  return true;
}

/**
 * Points of a database with this retention in a window starting before the returned time are
 * expired (0n: nothing is). A window [ws, ws + day) is expired when ws + day ≤ now − retention,
 * i.e. when ws < windowStart(now − retention).
 */
export function expiryCutoffNs(retentionNs: bigint, nowNs: bigint): bigint {
  if (retentionNs <= 0n || nowNs <= retentionNs) return 0n;
  return windowStartNs(nowNs - retentionNs);
}

/** The cutoffs of one moment: what ingest and the sweep check each point and window against. */
export class RetentionCutoffs {
  readonly defaultCutoffNs: bigint;
  private readonly byDb = new Map<string, bigint>();
  /** Every window starting before this is expired for every database (0n: none is). */
  readonly allExpiredBeforeNs: bigint;
  /** No window starting at or after this is expired for any database. */
  readonly noneExpiredFromNs: bigint;

  constructor(readonly policy: RetentionPolicy, readonly nowNs: bigint) {
    this.defaultCutoffNs = expiryCutoffNs(policy.defaultNs, nowNs);
    let all = this.defaultCutoffNs;
    let none = this.defaultCutoffNs;
    for (const [db, r] of policy.byDatabase) {
      const c = expiryCutoffNs(r, nowNs);
      this.byDb.set(db, c);
      if (c < all) all = c;
      if (c > none) none = c;
    }
    this.allExpiredBeforeNs = all;
    this.noneExpiredFromNs = none;
  }

  cutoffOf(database: string): bigint {
    return this.byDb.get(database) ?? this.defaultCutoffNs;
  }

  /** Are the points of `database` in the window starting at `ws` expired? */
  expired(database: string, ws: bigint): boolean {
    return ws < this.cutoffOf(database);
  }

  /** Which retentions have expired the window: the databases (of those with their own) and "*" for the default. */
  signatureOf(ws: bigint): string {
    const parts: string[] = [];
    for (const [db, c] of this.byDb) if (ws < c) parts.push(db);
    if (ws < this.defaultCutoffNs) parts.push("*");
    return parts.sort().join("\u0000");
  }

  /** True when a comparison must skip the window: an expiry of some retention is within the guard of its end. */
  inExpiryBand(ws: bigint): boolean {
    const end = ws + NS_PER_DAY;
    const near = (r: bigint) => r > 0n && end - (this.nowNs - r) < EXPIRY_GUARD_NS && (this.nowNs - r) - end < EXPIRY_GUARD_NS;
    if (near(this.policy.defaultNs)) return true;
    for (const r of this.policy.byDatabase.values()) if (near(r)) return true;
    return false;
  }

  /** True when comparisons should leave the window alone: expired for every database, or in a band. */
  skipsComparison(ws: bigint): boolean {
    return ws < this.allExpiredBeforeNs || this.inExpiryBand(ws);
  }
}
