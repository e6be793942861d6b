// Database records (DESIGN §11): `/soltix/databases/<name>` → {name, retention, created_at, updated_at}.
// Written by the router's create and update calls (create-if-absent, then compare-and-swap); every
// node watches them (ClusterView) to apply each database's retention. Databases still come into
// being on first write: the router then creates their record (DatabaseRegistry), with the nodes'
// storage.retention, so every database written to is listed, and a delete can tell an unknown one.

import { SoltixError, invalidArgument } from "../base/errors.ts";
import { parseDurationMs } from "../base/time.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import { databaseKey } from "./keys.ts";

/** Longest retention a database may have (100 years). */
export const RETENTION_MS_MAX = 100 * 365 * 86_400_000;

/** Shortest retention (as InfluxDB's): data expires in whole day windows anyway. */
export const RETENTION_MS_MIN = 3_600_000;

/** Compare-and-swap attempts before an update gives up. */
const CAS_ATTEMPTS_MAX = 16;

export interface DatabaseRecord {
  name: string;
  /** A duration ("7d", "12h"), "0" = forever, "" = the node's storage.retention. */
  retention: string;
  created_at: string;
  updated_at: string;
}

/** Parses a retention as given by a user: "" (the default), "0" (forever) or a duration; throws naming `field`. */
export function parseRetentionMs(field: string, text: unknown): number | undefined {
  if (text === undefined || text === null || text === "") return undefined;
  if (typeof text !== "string") throw invalidArgument(field, `${JSON.stringify(text)} must be a duration string like "7d", "12h" or "0" (forever)`);
  const ms = parseDurationMs(text);
  if (ms === undefined) throw invalidArgument(field, `${JSON.stringify(text)} is not a duration: use a number and a unit (ms, s, m, h, d, w), e.g. "30d", or "0" for forever`);
  if (ms > RETENTION_MS_MAX) throw invalidArgument(field, `${JSON.stringify(text)} is longer than the limit of 100 years`);
  if (ms !== 0 && ms < RETENTION_MS_MIN) throw invalidArgument(field, `${JSON.stringify(text)} is shorter than the minimum of 1h (or "0" for forever)`);
  return ms;
}

export function parseDatabaseRecord(text: string): DatabaseRecord {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SoltixError("data_loss", `metadata database record is malformed (not JSON): ${text.slice(0, 200)}`);
  }
  if (typeof o.name !== "string" || o.name === "") throw new SoltixError("data_loss", `metadata database record is malformed (name): ${text.slice(0, 200)}`);
  const retention = typeof o.retention === "string" ? o.retention : "";
  if (retention !== "" && parseDurationMs(retention) === undefined) throw new SoltixError("data_loss", `metadata database record ${o.name}: retention ${JSON.stringify(retention)} is not a duration`);
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
  return { name: o.name, retention, created_at: str("created_at"), updated_at: str("updated_at") };
}

export async function getDatabase(store: MetadataStore, name: string): Promise<DatabaseRecord | undefined> {
  const kv = await store.get(databaseKey(name));
  return kv === undefined ? undefined : parseDatabaseRecord(kv.value);
}

/**
 * Creates the database's record, or sets its retention when `retention` is given (undefined keeps
 * what is there). Returns the record stored and whether it was created now.
 */
export async function putDatabase(store: MetadataStore, name: string, retention: string | undefined, nowIso: string): Promise<{ record: DatabaseRecord; created: boolean }> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS_MAX; attempt++) {
    const cur = await store.get(databaseKey(name));
    if (cur === undefined) {
      const record: DatabaseRecord = { name, retention: retention ?? "", created_at: nowIso, updated_at: nowIso };
      if (await store.create(databaseKey(name), JSON.stringify(record))) return { record, created: true };
      continue;
    }
    const old = parseDatabaseRecord(cur.value);
    if (retention === undefined || retention === old.retention) return { record: old, created: false };
    const record: DatabaseRecord = { ...old, retention, updated_at: nowIso };
    if (await store.compareAndSwap(databaseKey(name), JSON.stringify(record), cur.modRevision)) return { record, created: false };
  }
  throw new SoltixError("unavailable", `database ${name}: ${CAS_ATTEMPTS_MAX} compare-and-swap conflicts in a row`);
}

/** Removes a database's record (a database drop); true when there was one. */
export async function removeDatabase(store: MetadataStore, name: string): Promise<boolean> {
  const cur = await store.get(databaseKey(name));
  if (cur === undefined) return false;
  await store.compareAndDelete(databaseKey(name), cur.modRevision);
  return true;
}

/**
 * A router's record of the databases written to: the first write of a database creates its record
 * (create-if-absent, once per router while the watch has not shown it yet). A failure is logged, not
 * the write's: the write path does not depend on it.
 */
export class DatabaseRegistry {
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly store: MetadataStore,
    private readonly known: (name: string) => boolean,
    private readonly nowIso: () => string,
    private readonly logger: Logger,
  ) {}

  async ensure(names: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const name of names) {
      if (this.known(name)) continue;
      let p = this.pending.get(name);
      if (p === undefined) {
        p = putDatabase(this.store, name, undefined, this.nowIso()).then(
          () => {},
          (e: unknown) => this.logger.log("warn", "router: cannot record a new database (its writes go on)", { database: name, error: e instanceof Error ? e.message : String(e) }),
        ).finally(() => this.pending.delete(name));
        this.pending.set(name, p);
      }
      waits.push(p);
    }
    await Promise.all(waits);
  }
}
