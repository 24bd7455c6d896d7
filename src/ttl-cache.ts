/**
 * Answers of look-ups remembered for a while (e.g. a hospital's registration and code map, a hospital's API key):
 * one query less per message. At most `maxEntries` are held (all are forgotten when it is full).
 */
export interface TtlCache<K, V> {
  /**
   * The answer remembered for `key`, else `load(key)`'s, remembered for `ttlMs` when `keep(answer)` says so
   * (default: always) and nothing was forgotten while it loaded.
   */
  get(key: K, load: (key: K) => Promise<V>, keep?: (value: V) => boolean): Promise<V>;
  /** Forgets `key`; a look-up already running does not remember its answer either (it may be the old one). */
  forget(key: K): void;
}

export function createTtlCache<K, V>(opts: { ttlMs: number; maxEntries: number; now?: () => number }): TtlCache<K, V> {
  const now = opts.now ?? Date.now;
  const entries = new Map<K, { value: V; until: number }>();
  /** bumped by every forget: a look-up that started before it does not remember its answer */
  let epoch = 0;
  return {
    async get(key, load, keep = () => true) {
      const hit = entries.get(key);
      if (hit && hit.until > now()) return hit.value;
      const started = epoch;
      const value = await load(key);
      if (started === epoch && keep(value)) {
        if (entries.size >= opts.maxEntries) entries.clear();
        entries.set(key, { value, until: now() + opts.ttlMs });
      }
      return value;
    },
    forget(key) {
      epoch++;
      entries.delete(key);
    },
  };
}
