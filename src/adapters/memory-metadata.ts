// Embedded metadata for a single machine (`soltix dev`, tests, the simulator): the MetadataStore
// contract in memory, with revisions, watches and TTL leases, shared by every component of one
// process. A lease lives while its holder keeps it alive, as with etcd: the holder's session renews
// it every third of its TTL on the holder's clock, and the store expires it on its own clock — so a
// holder whose timers stop (a paused process in the simulator) loses its keys after the TTL.

import type { KeyValue, Lease, MetadataStore, WatchEvent } from "../ports/metadata.ts";
import type { Clock, Timer } from "../ports/clock.ts";

interface Entry {
  value: string;
  modRevision: bigint;
  lease: string | undefined;
}

interface LeaseState {
  ttlMs: number;
  expiresAtMs: number;
  keys: Set<string>;
  lost: Array<(r: string) => void>;
  expiry: Timer | undefined;
}

export class MemoryMetadataStore implements MetadataStore {
  private readonly kv = new Map<string, Entry>();
  private revision = 0n;
  private readonly watchers = new Set<{ prefix: string; cb: (e: WatchEvent) => void }>();
  private readonly leases = new Map<string, LeaseState>();
  private leaseSeq = 0;
  /** This store's own session (the default view, kept alive on the store's clock). */
  private readonly own: MetadataStore;

  constructor(private readonly clock: Clock) {
    this.own = this.session(clock);
  }

  private emit(e: WatchEvent): void {
    for (const w of [...this.watchers]) if (e.key.startsWith(w.prefix)) w.cb(e);
  }

  private write(key: string, value: string, lease: string | undefined): void {
    this.revision++;
    const prev = this.kv.get(key);
    if (prev?.lease !== undefined && prev.lease !== lease) this.leases.get(prev.lease)?.keys.delete(key);
    this.kv.set(key, { value, modRevision: this.revision, lease });
    if (lease !== undefined) this.leases.get(lease)?.keys.add(key);
    this.emit({ type: "put", key, value, modRevision: this.revision });
  }

  private remove(key: string): void {
    if (!this.kv.delete(key)) return;
    this.revision++;
    this.emit({ type: "delete", key });
  }

  /** Ends a lease and deletes its keys; the holder learns it from its next keep-alive (on its own clock), as an etcd client does. */
  private expire(id: string): void {
    const l = this.leases.get(id);
    if (l === undefined) return;
    this.leases.delete(id);
    l.expiry?.cancel();
    for (const k of l.keys) if (this.kv.get(k)?.lease === id) this.remove(k);
  }

  private armExpiry(id: string): void {
    const l = this.leases.get(id);
    if (l === undefined) return;
    l.expiry = this.clock.setTimer(Math.max(1, l.expiresAtMs - this.clock.monotonicMs()), () => {
      if (this.clock.monotonicMs() >= l.expiresAtMs) this.expire(id);
      else this.armExpiry(id);
    });
  }

  /** A view of the store for one holder: its leases are kept alive by timers on `holderClock`. */
  session(holderClock: Clock): MetadataStore {
    const store = this;
    const mine = new Set<{ prefix: string; cb: (e: WatchEvent) => void }>();
    const kept = new Set<Timer>();
    return {
      get: (key) => store.get(key),
      list: (prefix) => store.list(prefix),
      create: (key, value) => store.create(key, value),
      compareAndSwap: (key, value, expected) => store.compareAndSwap(key, value, expected),
      put: (key, value) => store.put(key, value),
      delete: (key) => store.delete(key),
      compareAndDelete: (key, expected) => store.compareAndDelete(key, expected),
      async watchPrefix(prefix, onEvent) {
        // Events reach the holder through its clock: a holder whose timers are stopped (paused)
        // hears nothing until it runs again, in order.
        const w = { prefix, cb: (e: WatchEvent) => void holderClock.setTimer(0, () => mine.has(w) && onEvent(e)) };
        store.watchers.add(w);
        mine.add(w);
        return async () => {
          store.watchers.delete(w);
          mine.delete(w);
        };
      },
      async grantLease(ttlSeconds): Promise<Lease> {
        const id = `lease-${++store.leaseSeq}`;
        const ttlMs = ttlSeconds * 1000;
        const state: LeaseState = { ttlMs, expiresAtMs: store.clock.monotonicMs() + ttlMs, keys: new Set(), lost: [], expiry: undefined };
        store.leases.set(id, state);
        store.armExpiry(id);
        let keepAlive: Timer | undefined;
        let lostReported = false;
        const lost = (why: string) => {
          if (lostReported) return;
          lostReported = true;
          for (const cb of state.lost) cb(why);
        };
        const renew = () => {
          if (keepAlive !== undefined) kept.delete(keepAlive);
          if (!store.leases.has(id)) {
            lost(`lease ${id} not found (expired)`);
            return;
          }
          state.expiresAtMs = store.clock.monotonicMs() + ttlMs;
          keepAlive = holderClock.setTimer(ttlMs / 3, renew);
          kept.add(keepAlive);
        };
        keepAlive = holderClock.setTimer(ttlMs / 3, renew);
        kept.add(keepAlive);
        const alive = () => {
          if (!store.leases.has(id)) throw new Error(`lease ${id} not found (expired)`);
        };
        return {
          id,
          put: async (key, value) => {
            alive();
            store.write(key, value, id);
          },
          create: async (key, value) => {
            alive();
            if (store.kv.has(key)) return false;
            store.write(key, value, id);
            return true;
          },
          onLost: (cb) => void state.lost.push(cb),
          revoke: async () => {
            keepAlive?.cancel();
            if (keepAlive !== undefined) kept.delete(keepAlive);
            lostReported = true;
            store.expire(id);
          },
        };
      },
      async close() {
        for (const w of mine) store.watchers.delete(w);
        mine.clear();
        for (const t of kept) t.cancel();
        kept.clear();
      },
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const e = this.kv.get(key);
    return e === undefined ? undefined : { key, value: e.value, modRevision: e.modRevision };
  }

  async list(prefix: string): Promise<KeyValue[]> {
    return [...this.kv.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, e]) => ({ key, value: e.value, modRevision: e.modRevision }));
  }

  async create(key: string, value: string): Promise<boolean> {
    if (this.kv.has(key)) return false;
    this.write(key, value, undefined);
    return true;
  }

  async compareAndSwap(key: string, value: string, expected: bigint): Promise<boolean> {
    const e = this.kv.get(key);
    if (e === undefined || e.modRevision !== expected) return false;
    this.write(key, value, e.lease);
    return true;
  }

  async put(key: string, value: string): Promise<void> {
    this.write(key, value, undefined);
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  async compareAndDelete(key: string, expected: bigint): Promise<boolean> {
    if (this.kv.get(key)?.modRevision !== expected) return false;
    this.remove(key);
    return true;
  }

  watchPrefix(prefix: string, onEvent: (e: WatchEvent) => void): Promise<() => Promise<void>> {
    return this.own.watchPrefix(prefix, onEvent);
  }

  grantLease(ttlSeconds: number): Promise<Lease> {
    return this.own.grantLease(ttlSeconds);
  }

  /** Ends everything: watchers, leases and their timers (the whole store goes away). */
  async close(): Promise<void> {
    this.watchers.clear();
    for (const l of this.leases.values()) l.expiry?.cancel();
    await this.own.close();
  }
}
