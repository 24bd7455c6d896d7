import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Applies drizzle-kit's SQL migrations in order, once each, under an advisory lock so that several
 * processes starting together do not race. Works on PostgreSQL and on the embedded PGlite.
 */
export async function migrate(sql: Sql): Promise<void> {
  await sql`create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())`;
  const files = readdirSync(migrationsDir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(727274)`;
    const done = new Set((await tx<{ name: string }[]>`select name from schema_migrations`).map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const text = readFileSync(migrationsDir + file, 'utf8');
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.trim()) await tx.unsafe(statement);
      }
      await tx`insert into schema_migrations (name) values (${file})`;
    }
  });
}
