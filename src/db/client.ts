import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as drizzleMigrate } from 'drizzle-orm/postgres-js/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import postgres from 'postgres';

export type Sql = postgres.Sql;

/**
 * The pool. Queries are postgres.js tagged templates (parameters are always bound). The drizzle schema in
 * schema.ts is the single description of the tables and generates the migrations; drizzle's query builder is not
 * wrapped around this client, because it replaces postgres.js's JSON (de)serialisers on the client it wraps.
 */
export interface Database {
  sql: Sql;
  close(): Promise<void>;
}

/** Opens a pool. `max` connections; notices are dropped (they are not errors). */
export function openDatabase(url: string, opts: { max?: number } = {}): Database {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => undefined,
    connection: { application_name: 'admission-alerts', synchronous_commit: 'on' },
    // while PostgreSQL is down every message is answered AR at once; once it is back, reconnect within a second
    // (postgres.js's default backoff grows to 20 s across failed attempts, delaying recovery by as much)
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    connect_timeout: 10,
  });
  return { sql, close: () => sql.end({ timeout: 5 }) };
}

/** drizzle-kit's output: `<tag>.sql` files listed, in order, in `meta/_journal.json` (copied to dist/ by the build). */
export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url));

/** The advisory lock key the migrating process holds (the old runner's key, so old and new exclude each other). */
const MIGRATION_LOCK = 727274;

/**
 * Applies drizzle-kit's migrations with drizzle's migrator (applied ones recorded with their sha256 in
 * `drizzle.__drizzle_migrations`, as `drizzle-kit migrate` does), under a session-level advisory lock so that
 * several processes starting together apply each migration once. A database migrated by the runner this replaced
 * (file names in `schema_migrations`) is baselined first, so nothing is applied twice. Works on PostgreSQL and on
 * the embedded PGlite.
 */
export async function migrate(sql: Sql): Promise<void> {
  // A connection of its own (max 1, so the lock, the baseline and drizzle's transaction share one session), with
  // the pool's settings. Its own parser and serializer maps: drizzle's postgres-js driver replaces entries of those
  // on the client it is given (dates and JSON as strings), which must not happen to the pool's. postgres.js takes
  // parsed options as they are (its own `listen()` opens its connection the same way).
  const conn = postgres({
    ...sql.options,
    max: 1,
    onnotice: () => undefined,
    parsers: { ...sql.options.parsers },
    serializers: { ...sql.options.serializers },
    shared: { retries: 0, typeArrayMap: {} },
  } as unknown as postgres.Options<Record<string, postgres.PostgresType>>);
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await adoptOldRunnerHistory(conn);
      await drizzleMigrate(drizzle(conn), { migrationsFolder });
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => undefined);
    }
  } finally {
    await conn.end({ timeout: 5 });
  }
}

/**
 * The runner before drizzle's recorded each applied file's name in `schema_migrations`. When that table exists and
 * drizzle's does not yet hold anything, record the migrations it lists in drizzle's table (hash and journal time,
 * exactly as drizzle would have), so drizzle applies only the ones after them. `schema_migrations` is left as it was.
 */
async function adoptOldRunnerHistory(conn: Sql): Promise<void> {
  const [found] = await conn<{ old: boolean; adopted: boolean }[]>`
    select to_regclass('public.schema_migrations') is not null as old,
           to_regclass('drizzle.__drizzle_migrations') is not null as adopted`;
  if (!found?.old) return;
  if (found.adopted && (await conn`select 1 from drizzle.__drizzle_migrations limit 1`).length > 0) return;

  const applied = new Set((await conn<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name));
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as {
    entries: { tag: string; when: number }[];
  };
  const files = readMigrationFiles({ migrationsFolder }); // one per journal entry, in the same order
  const done = journal.entries.map((entry, i) => ({
    ...entry,
    file: files[i],
    applied: applied.has(`${entry.tag}.sql`),
  }));
  const prefix = done.findIndex((m) => !m.applied);
  const adopted = prefix === -1 ? done : done.slice(0, prefix);
  const gap = done.slice(adopted.length).find((m) => m.applied);
  if (gap) {
    throw new Error(
      `schema_migrations lists ${gap.tag}.sql but not ${done[prefix]?.tag}.sql before it: migrate by hand`,
    );
  }
  await conn.begin(async (tx) => {
    // the table exactly as drizzle's migrator creates it
    await tx`create schema if not exists drizzle`;
    await tx`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`;
    for (const m of adopted) {
      await tx`insert into drizzle.__drizzle_migrations (hash, created_at) values (${m.file!.hash}, ${m.when})`;
    }
  });
}
