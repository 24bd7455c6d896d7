/**
 * Rate limits shared by every API process (`rate_limits`): fixed-window counters, one row per key, counted with one
 * atomic upsert each, on PostgreSQL's clock (so replicas with skewed clocks agree). Keys are namespaced by their
 * user (`auth-fail:<ip>`, `ack-ip:<ip>`, `ack-token:<sha256>`); never put a secret in a key.
 */
import type { Db } from './client.js';

/** A key's counter after one more hit. */
export interface WindowCount {
  /** hits in the current window, this one included */
  hits: number;
  /** seconds until the current window ends (at least 1) */
  retryAfterS: number;
}

/**
 * Counts one hit for `key` in its fixed window of `windowMs`: a window that has ended starts again at 1.
 * Atomic: concurrent hits from any process are all counted.
 */
export async function hit(db: Db, key: string, windowMs: number): Promise<WindowCount> {
  const windowS = windowMs / 1000;
  const [row] = await db.sql<{ hits: number; retryAfterS: number }[]>`
    insert into rate_limits as r (key, window_start, hits)
    values (${key}, now(), 1)
    on conflict (key) do update set
      window_start = case when r.window_start <= now() - make_interval(secs => ${windowS}) then now() else r.window_start end,
      hits = case when r.window_start <= now() - make_interval(secs => ${windowS}) then 1 else r.hits + 1 end
    returning r.hits as "hits",
      greatest(1, ceil(extract(epoch from (r.window_start + make_interval(secs => ${windowS}) - now()))))::int as "retryAfterS"`;
  return { hits: row!.hits, retryAfterS: row!.retryAfterS };
}

/**
 * Counts one failure for `key` in its fixed window of `windowMs`; the `max`th failure within one window blocks the key
 * for `blockMs` (see {@link blockedFor}). Returns the failures counted in the window.
 */
export async function recordFailure(
  db: Db,
  key: string,
  limits: { windowMs: number; max: number; blockMs: number },
): Promise<number> {
  const windowS = limits.windowMs / 1000;
  const blockS = limits.blockMs / 1000;
  const [row] = await db.sql<{ hits: number }[]>`
    insert into rate_limits as r (key, window_start, hits, blocked_until)
    values (${key}, now(), 1, case when 1 >= ${limits.max} then now() + make_interval(secs => ${blockS}) end)
    on conflict (key) do update set
      window_start = case when r.window_start <= now() - make_interval(secs => ${windowS}) then now() else r.window_start end,
      hits = case when r.window_start <= now() - make_interval(secs => ${windowS}) then 1 else r.hits + 1 end,
      blocked_until = case
        when (case when r.window_start <= now() - make_interval(secs => ${windowS}) then 1 else r.hits + 1 end) >= ${limits.max}
          then now() + make_interval(secs => ${blockS})
        else r.blocked_until end
    returning r.hits as "hits"`;
  return row?.hits ?? 0;
}

/** Seconds `key` stays blocked (at least 1), or undefined when it is not blocked. */
export async function blockedFor(db: Db, key: string): Promise<number | undefined> {
  const [row] = await db.sql<{ retryAfterS: number }[]>`
    select greatest(1, ceil(extract(epoch from (blocked_until - now()))))::int as "retryAfterS"
    from rate_limits where key = ${key} and blocked_until > now()`;
  return row?.retryAfterS;
}

/** Deletes counters whose window and block both ended more than `olderThanMs` ago (housekeeping). */
export async function prune(db: Db, olderThanMs: number): Promise<number> {
  const rows = await db.sql`
    delete from rate_limits
    where window_start < now() - make_interval(secs => ${olderThanMs / 1000})
      and (blocked_until is null or blocked_until < now() - make_interval(secs => ${olderThanMs / 1000}))`;
  return rows.count;
}
