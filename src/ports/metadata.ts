// Cluster metadata as the node and router need it: a small transactional key-value store with
// compare-and-swap, prefix watches and leases — exactly the subset of etcd we use. Implementations:
// adapters/etcd-metadata.ts (a real etcd) and adapters/memory-metadata.ts (embedded, one machine).

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the last change of this key; the CAS token. */
  readonly modRevision: bigint;
}

export type WatchEvent = { type: "put"; key: string; value: string; modRevision: bigint } | { type: "delete"; key: string };

export interface Lease {
  readonly id: string;
  /** Puts a key that disappears when the lease ends. */
  put(key: string, value: string): Promise<void>;
  /** Creates a key under this lease only if it does not exist; false when it did (held by someone). */
  create(key: string, value: string): Promise<boolean>;
  /** Called once if keep-alive fails and the lease is gone (its keys were deleted). */
  onLost(cb: (reason: string) => void): void;
  revoke(): Promise<void>;
}

export interface MetadataStore {
  get(key: string): Promise<KeyValue | undefined>;
  list(prefix: string): Promise<KeyValue[]>;
  /** Creates the key only if it does not exist; false when it did. */
  create(key: string, value: string): Promise<boolean>;
  /** Replaces the value only if the key's modRevision is still `expected`; false otherwise. */
  compareAndSwap(key: string, value: string, expected: bigint): Promise<boolean>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Deletes the key only if its modRevision is still `expected`; false otherwise. */
  compareAndDelete(key: string, expected: bigint): Promise<boolean>;
  /** Streams changes under a prefix until the returned function is called. */
  watchPrefix(prefix: string, onEvent: (e: WatchEvent) => void): Promise<() => Promise<void>>;
  grantLease(ttlSeconds: number): Promise<Lease>;
  close(): Promise<void>;
}
