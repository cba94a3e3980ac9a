/**
 * Values read from Redis, kept in memory until a change notice drops them, or `maxAgeMs` passes (a safety net
 * for notices lost while Redis restarts). Misses are not cached, so a new value is seen at once; a read that
 * raced a notice is not cached either. Keeps the proxy's hot path off Redis.
 */
export class NoticedCache<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();
  /** Bumped by every notice: a read begun before one must not cache what it read. */
  private generation = 0;

  constructor(
    private readonly load: (key: string) => Promise<V | undefined>,
    private readonly options: { maxAgeMs: number; maxEntries: number },
  ) {}

  /** A change notice for `key`. */
  drop(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  /** A change notice for every value `changed` picks (one notice may name what many keys hold). */
  dropWhere(changed: (value: V) => boolean): void {
    this.generation++;
    for (const [key, { value }] of this.entries) if (changed(value)) this.entries.delete(key);
  }

  /** The value if it is in memory and fresh, without reading: for a caller that can go on at once. */
  peek(key: string): V | undefined {
    const cached = this.entries.get(key);
    return cached && Date.now() - cached.at < this.options.maxAgeMs ? cached.value : undefined;
  }

  async get(key: string): Promise<V | undefined> {
    const cached = this.peek(key);
    if (cached !== undefined) return cached;
    const generation = this.generation;
    const value = await this.load(key);
    this.entries.delete(key);
    if (value === undefined || generation !== this.generation) return value;
    // Oldest first out: a Map iterates in insertion order, and every store re-inserts.
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, at: Date.now() });
    return value;
  }
}
