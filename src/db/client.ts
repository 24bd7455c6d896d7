import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DrizzleQueryError } from 'drizzle-orm';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate as drizzleMigrate } from 'drizzle-orm/postgres-js/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import postgres from 'postgres';

import { schema } from './schema.js';

/** postgres.js's tagged template: the pool, or one transaction. Only `src/db/` writes SQL with it. */
export type Sql = postgres.Sql;

/** drizzle's query builder, typed from schema.ts. */
export type Orm = PostgresJsDatabase<typeof schema>;

/**
 * What every data-access module takes as its first argument: the pool, or one transaction ({@link transaction}),
 * as drizzle's query builder (`orm`, where it fits) and as postgres.js tagged templates (`sql`, where the builder
 * does not fit or speed matters, e.g. the one-statement ingest in messages.ts). Both go through the same connections.
 */
export interface Db {
  readonly sql: Sql;
  readonly orm: Orm;
}

/** The pool. */
export interface Database extends Db {
  close(): Promise<void>;
}

/**
 * JSON and jsonb parameters: a value is sent as its JSON text, and a string is taken to be JSON text already.
 * postgres.js's own serializer stringifies every value; drizzle's jsonb columns hand over `JSON.stringify(value)`,
 * which that would encode a second time (a jsonb string holding the object's text). Tagged templates pass objects
 * (`sql.json(object)`), drizzle strings, so each is stored as the object it is. Never pass `sql.json` a string.
 */
const jsonParameter = (x: unknown): string => (typeof x === 'string' ? x : JSON.stringify(x));

/**
 * The client drizzle is given: the pool's (or transaction's) `unsafe` (prepared), `begin` and `savepoint`, and parser and
 * serializer maps of its own. drizzle's postgres-js driver (0.45) overwrites entries of those maps on the client it
 * wraps (dates and times parsed and serialized as strings, JSON serialized as is), which must not happen to the
 * pool's: tagged templates read timestamps as Date objects. Its columns read either form (a timestamp column
 * accepts a Date, a `date` column in string mode turns one back into `YYYY-MM-DD`, jsonb accepts parsed JSON), so the
 * pool's parsers serve both; its jsonb parameters are strings, which {@link jsonParameter} sends as they are.
 */
function drizzleClient(sql: Sql): Sql {
  const s = sql as Sql & { savepoint?: unknown };
  return {
    options: { ...sql.options, parsers: {}, serializers: {} },
    // named prepared statements, as tagged templates get: postgres.js prepares each query once per connection and
    // then sends it in one round trip (drizzle asks for unnamed ones, which take a describe round trip every time)
    unsafe: (query: string, params?: unknown[], opts?: object) =>
      sql.unsafe(query, params as never, { ...opts, prepare: true }),
    ...(typeof s.begin === 'function' ? { begin: s.begin.bind(sql) } : {}),
    ...(typeof s.savepoint === 'function'
      ? { savepoint: (s.savepoint as (...a: unknown[]) => unknown).bind(sql) }
      : {}),
  } as unknown as Sql;
}

/**
 * drizzle (0.45) wraps a failed query's error in a DrizzleQueryError whose message quotes the query and its
 * parameters: NHS numbers and names would reach logs and Temporal's activity failures. Queries of this instance
 * throw the driver's own error (postgres.js's PostgresError, which does not quote values), as tagged templates do.
 */
function withDriverErrors(orm: Orm): Orm {
  type Prepared = { queryWithCache: (...a: unknown[]) => Promise<unknown> };
  const session = (orm as unknown as { session: { prepareQuery: (...a: unknown[]) => Prepared } }).session;
  const prepare = session.prepareQuery.bind(session);
  session.prepareQuery = (...args) => {
    const query = prepare(...args);
    const run = query.queryWithCache.bind(query);
    query.queryWithCache = (...a) =>
      run(...a).catch((err: unknown) => {
        throw err instanceof DrizzleQueryError && err.cause !== undefined ? err.cause : err;
      });
    return query;
  };
  return orm;
}

/** The pool or a transaction as a {@link Db}; drizzle's instance is made when first asked for. */
function dbOver(sql: Sql): Db {
  let orm: Orm | undefined;
  return {
    sql,
    get orm() {
      return (orm ??= withDriverErrors(drizzle(drizzleClient(sql), { schema })));
    },
  };
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
  sql.options.serializers[114] = jsonParameter;
  sql.options.serializers[3802] = jsonParameter;
  return Object.assign(dbOver(sql), { close: () => sql.end({ timeout: 5 }) });
}

/**
 * Runs `fn` in one transaction (a savepoint when `db` is one already): committed when it resolves, rolled back
 * when it throws. Tagged templates and drizzle's builder on `tx` share it.
 */
export async function transaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const s = db.sql as Sql & { savepoint?: Sql['begin'] };
  const run = (tx: postgres.TransactionSql) => fn(dbOver(tx as unknown as Sql));
  return (typeof s.begin === 'function' ? s.begin(run) : s.savepoint!(run)) as Promise<T>;
}

/** True when PostgreSQL answers (`/health/ready`). */
export function ping(db: Db): Promise<boolean> {
  return db.sql`select 1`.then(
    () => true,
    () => false,
  );
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
