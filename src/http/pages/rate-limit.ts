/**
 * A small in-memory sliding-window-log rate limiter: a key may make at most `max` requests in any `windowMs`.
 * One process's memory only: behind several API processes each has its own budget, which is fine for slowing
 * down token guessing and link-scanner storms (tokens are ≥128 bits; this is not what keeps them secret).
 */
export interface SlidingWindowLimiter {
  /** Records a hit for every key if all of them are under their limit; else records nothing. */
  hit(
    keys: readonly { key: string; max: number }[],
    nowMs: number,
  ): { allowed: true } | { allowed: false; retryAfterS: number };
  /** Number of keys currently held (for tests). */
  size(): number;
}

/** Keys held at most; beyond it, keys whose window has passed are dropped, then the least recently created. */
const DEFAULT_MAX_KEYS = 50_000;

export function createSlidingWindowLimiter(windowMs: number, maxKeys = DEFAULT_MAX_KEYS): SlidingWindowLimiter {
  if (!(windowMs > 0)) throw new Error('rate limit windowMs must be > 0');
  /** Per key, hit times in ascending order, all within the window. */
  const hits = new Map<string, number[]>();

  const live = (key: string, nowMs: number): number[] => {
    const times = hits.get(key);
    if (!times) return [];
    let drop = 0;
    while (drop < times.length && (times[drop] ?? 0) <= nowMs - windowMs) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) hits.delete(key);
    return times;
  };

  const evict = (nowMs: number): void => {
    for (const key of [...hits.keys()]) live(key, nowMs);
    for (const key of hits.keys()) {
      if (hits.size <= maxKeys) break;
      hits.delete(key);
    }
  };

  return {
    hit(keys, nowMs) {
      let retryAfterMs = 0;
      for (const { key, max } of keys) {
        const times = live(key, nowMs);
        if (times.length >= max) {
          // The request is allowed again once enough of the oldest hits have left the window.
          const freeing = times[times.length - max] ?? nowMs;
          retryAfterMs = Math.max(retryAfterMs, freeing + windowMs - nowMs);
        }
      }
      if (retryAfterMs > 0) return { allowed: false, retryAfterS: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
      for (const { key } of keys) {
        const times = hits.get(key);
        if (times) times.push(nowMs);
        else hits.set(key, [nowMs]);
      }
      if (hits.size > maxKeys) evict(nowMs);
      return { allowed: true };
    },
    size: () => hits.size,
  };
}
