// Embedded metadata for a single machine (`soltix dev`, tests): the MetadataStore contract in memory,
// with revisions, watches and TTL leases, shared by every component of one process.

import type { KeyValue, Lease, MetadataStore, WatchEvent } from "../ports/metadata.ts";

interface Entry {
  value: string;
  modRevision: bigint;
  lease: string | undefined;
}

export class MemoryMetadataStore implements MetadataStore {
  private readonly kv = new Map<string, Entry>();
  private revision = 0n;
  private readonly watchers = new Set<{ prefix: string; cb: (e: WatchEvent) => void }>();
  private readonly leases = new Map<string, { keys: Set<string>; timer: ReturnType<typeof setInterval> | undefined; lost: Array<(r: string) => void> }>();
  private leaseSeq = 0;

  private emit(e: WatchEvent): void {
    for (const w of [...this.watchers]) if (e.key.startsWith(w.prefix)) queueMicrotask(() => w.cb(e));
  }

  private write(key: string, value: string, lease: string | undefined): void {
    this.revision++;
    this.kv.set(key, { value, modRevision: this.revision, lease });
    this.emit({ type: "put", key, value, modRevision: this.revision });
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
    if (!this.kv.delete(key)) return;
    this.revision++;
    this.emit({ type: "delete", key });
  }

  async watchPrefix(prefix: string, onEvent: (e: WatchEvent) => void): Promise<() => Promise<void>> {
    const w = { prefix, cb: onEvent };
    this.watchers.add(w);
    return async () => {
      this.watchers.delete(w);
    };
  }

  async grantLease(_ttlSeconds: number): Promise<Lease> {
    // In one process the holder cannot be partitioned from the store: the lease lives until revoked.
    const id = `lease-${++this.leaseSeq}`;
    const state = { keys: new Set<string>(), timer: undefined, lost: [] as Array<(r: string) => void> };
    this.leases.set(id, state);
    return {
      id,
      put: async (key, value) => {
        state.keys.add(key);
        this.write(key, value, id);
      },
      onLost: (cb) => state.lost.push(cb),
      revoke: async () => {
        this.leases.delete(id);
        for (const k of state.keys) if (this.kv.get(k)?.lease === id) await this.delete(k);
      },
    };
  }

  async close(): Promise<void> {
    this.watchers.clear();
  }
}
