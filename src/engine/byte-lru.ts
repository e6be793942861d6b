// A least-recently-used map bounded by bytes: every cache of the engine (decoded segments, trees,
// window summaries) is one, so their sum fits the memory budget whatever the node holds.

export class ByteLru<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private held = 0;

  /** `onEvict` runs for an entry pushed out by the budget (not for delete or clear). */
  constructor(
    private readonly bytesMax: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {}

  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, made the most recently used. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** The value, without touching its recency. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Stores a value of `bytes`; evicts the least recently used others until the sum fits (the new one always stays). */
  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    this.map.set(key, { value, bytes });
    this.held += bytes;
    for (const [k, e] of this.map) {
      if (this.held <= this.bytesMax || k === key) break;
      this.map.delete(k);
      this.held -= e.bytes;
      this.onEvict?.(k, e.value);
    }
  }

  delete(key: K): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.map.delete(key);
    this.held -= e.bytes;
    return true;
  }

  clear(): void {
    this.map.clear();
    this.held = 0;
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }
}
