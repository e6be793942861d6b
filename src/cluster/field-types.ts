// Field types per collection (DESIGN §12): a field keeps the type its first write gave it within a
// (database, collection); a write that changes it is refused, as InfluxDB does ("field type
// conflict"). Kept in the metadata store at `/soltix/fields/<database>/<collection>` →
// {database, collection, fields: {name: float|int|string|bool}, updated_at}, shared by every router:
// each caches the records (list + watch), checks a batch against them, and adds the batch's new fields
// by compare-and-swap before the batch is routed — two routers adding one field with two types race on
// the CAS, and the loser's write is refused. Dropping a collection or a database forgets its types.

import { SoltixError, invalidArgument } from "../base/errors.ts";
import type { Logger } from "../ports/logger.ts";
import type { MetadataStore, WatchEvent } from "../ports/metadata.ts";
import { sleep, type Clock } from "../ports/clock.ts";

export type FieldKind = "float" | "int" | "string" | "bool";
export const FIELD_KINDS: readonly FieldKind[] = ["float", "int", "string", "bool"];
export const FIELDS_PREFIX = "/soltix/fields/";
/** Longest wait between attempts to load the cache. */
const LOAD_RETRY_MS_MAX = 5_000;
/** Compare-and-swap attempts before adding fields gives up. */
const CAS_ATTEMPTS_MAX = 16;

export function fieldTypesKey(database: string, collection: string): string {
  return `${FIELDS_PREFIX}${database}/${collection}`;
}

/** The field types a batch brings: per (database, collection) — "db\0coll" — per field name. */
export type BatchFieldTypes = Map<string, Map<string, FieldKind>>;

/**
 * Adds a field's type to a batch's; a field with two types within the batch is refused (`at` names
 * the point).
 */
export function noteFieldType(into: BatchFieldTypes, database: string, collection: string, name: string, kind: FieldKind, at: string): void {
  const k = `${database}\u0000${collection}`;
  let m = into.get(k);
  if (m === undefined) into.set(k, (m = new Map()));
  const prev = m.get(name);
  if (prev === undefined) m.set(name, kind);
  else if (prev !== kind) throw conflict(at, name, collection, kind, prev, "in an earlier point of the same batch");
}

function conflict(at: string, name: string, collection: string, kind: FieldKind, was: FieldKind, where = "already"): SoltixError {
  return invalidArgument(`${at}.fields[${JSON.stringify(name)}]`, `field type conflict: input field ${JSON.stringify(name)} on collection ${JSON.stringify(collection)} is type ${kind}, ${where === "already" ? "already exists as" : `${where} it is`} type ${was}`);
}

interface FieldRecord {
  database: string;
  collection: string;
  fields: Record<string, FieldKind>;
  updated_at: string;
}

function parseRecord(text: string): FieldRecord {
  let o: Partial<FieldRecord>;
  try {
    o = JSON.parse(text) as Partial<FieldRecord>;
  } catch {
    throw new SoltixError("data_loss", `field types record is not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof o.database !== "string" || typeof o.collection !== "string" || typeof o.fields !== "object" || o.fields === null) {
    throw new SoltixError("data_loss", `field types record is malformed: ${text.slice(0, 200)}`);
  }
  for (const [n, k] of Object.entries(o.fields)) if (!FIELD_KINDS.includes(k)) throw new SoltixError("data_loss", `field types record ${o.database}/${o.collection}: field ${JSON.stringify(n)} has type ${JSON.stringify(k)}`);
  return { database: o.database, collection: o.collection, fields: o.fields, updated_at: typeof o.updated_at === "string" ? o.updated_at : "" };
}

export class FieldTypes {
  /** "db\0coll" → the types known (the store's, as watched, plus what this router added). */
  private readonly known = new Map<string, Map<string, FieldKind>>();
  private stop: (() => Promise<void>) | undefined;
  private closed = false;

  private constructor(private readonly store: MetadataStore, private readonly logger: Logger, private readonly clock: Clock, private readonly nowIso: () => string) {}

  /**
   * Starts the cache (a watch, then the list) in the background, retrying while the store does not
   * answer: meanwhile each write's new fields are checked against the store itself (add()).
   */
  static open(store: MetadataStore, logger: Logger, clock: Clock, nowIso: () => string): FieldTypes {
    const f = new FieldTypes(store, logger, clock, nowIso);
    void f.load();
    return f;
  }

  private async load(): Promise<void> {
    for (let delayMs = 250; !this.closed; delayMs = Math.min(delayMs * 2, LOAD_RETRY_MS_MAX)) {
      try {
        this.stop = await this.store.watchPrefix(FIELDS_PREFIX, (e) => this.onEvent(e));
        for (const kv of await this.store.list(FIELDS_PREFIX)) this.onEvent({ type: "put", key: kv.key, value: kv.value, modRevision: kv.modRevision });
        if (this.closed) await this.stop();
        return;
      } catch (e) {
        this.logger.log("warn", "router: field types not loaded yet (each write reads them from the metadata store meanwhile)", { error: e instanceof Error ? e.message : String(e), retry_in_ms: delayMs });
        await this.stop?.().catch(() => {});
        this.stop = undefined;
        await sleep(this.clock, delayMs);
      }
    }
  }

  private onEvent(e: WatchEvent): void {
    const path = e.key.slice(FIELDS_PREFIX.length);
    const slash = path.indexOf("/");
    if (slash < 0) return;
    const k = `${path.slice(0, slash)}\u0000${path.slice(slash + 1)}`;
    if (e.type === "delete") {
      this.known.delete(k);
      return;
    }
    try {
      const r = parseRecord(e.value ?? "");
      this.known.set(k, new Map(Object.entries(r.fields)));
    } catch (err) {
      this.logger.log("error", "router: malformed field types record skipped", { key: e.key, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * Checks a batch's field types against each collection's and records the new ones (durably, before
   * the batch is routed); a conflict is refused naming the field, both types and the collection.
   */
  async check(batch: BatchFieldTypes): Promise<void> {
    for (const [k, types] of batch) {
      const sep = k.indexOf("\u0000");
      const database = k.slice(0, sep);
      const collection = k.slice(sep + 1);
      const known = this.known.get(k);
      let fresh = false;
      for (const [name, kind] of types) {
        const was = known?.get(name);
        if (was === undefined) fresh = true;
        else if (was !== kind) throw conflict("points", name, collection, kind, was);
      }
      if (fresh) await this.add(database, collection, types);
    }
  }

  /** Adds new fields to the stored record (create, or compare-and-swap), re-checking what another router stored meanwhile. */
  private async add(database: string, collection: string, types: ReadonlyMap<string, FieldKind>): Promise<void> {
    const key = fieldTypesKey(database, collection);
    for (let attempt = 0; attempt < CAS_ATTEMPTS_MAX; attempt++) {
      const cur = await this.store.get(key);
      const fields: Record<string, FieldKind> = cur === undefined ? {} : { ...parseRecord(cur.value).fields };
      let changed = false;
      for (const [name, kind] of types) {
        const was = fields[name];
        if (was === undefined) {
          fields[name] = kind;
          changed = true;
        } else if (was !== kind) throw conflict("points", name, collection, kind, was);
      }
      const k = `${database}\u0000${collection}`;
      if (!changed) {
        this.known.set(k, new Map(Object.entries(fields)));
        return;
      }
      const value = JSON.stringify({ database, collection, fields, updated_at: this.nowIso() } satisfies FieldRecord);
      const ok = cur === undefined ? await this.store.create(key, value) : await this.store.compareAndSwap(key, value, cur.modRevision);
      if (ok) {
        this.known.set(k, new Map(Object.entries(fields)));
        return;
      }
    }
    throw new SoltixError("unavailable", `field types of ${database}/${collection}: ${CAS_ATTEMPTS_MAX} compare-and-swap conflicts in a row`);
  }

  /** Forgets a collection's types (its drop), or every collection's of a database. */
  async forget(database: string, collection?: string): Promise<void> {
    const keys = collection === undefined ? (await this.store.list(`${FIELDS_PREFIX}${database}/`)).map((kv) => kv.key) : [fieldTypesKey(database, collection)];
    for (const key of keys) await this.store.delete(key);
    for (const k of [...this.known.keys()]) if (k.startsWith(`${database}\u0000`) && (collection === undefined || k === `${database}\u0000${collection}`)) this.known.delete(k);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop?.();
  }
}
