/**
 * `migrate()` (src/db/client.ts): drizzle's migrator on the real PostgreSQL and on the embedded PGlite that
 * `npm start` uses, with processes starting together, and on databases the previous runner migrated.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { migrate, migrationsFolder, openDatabase, type Sql } from './client.js';
import { startEmbeddedPostgres } from './embedded.js';

const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as {
  entries: { tag: string; when: number }[];
};
const tags = journal.entries.map((e) => e.tag);

const dropAfter: string[] = [];
afterAll(async () => {
  const admin = openDatabase(inject('postgresUrl'), { max: 1 });
  for (const name of dropAfter) await admin.sql.unsafe(`drop database if exists ${name} with (force)`);
  await admin.close();
});

/** An empty database on the test run's PostgreSQL, dropped after the file. */
async function emptyDatabase(): Promise<string> {
  const name = `aa_migrate_${randomBytes(6).toString('hex')}`;
  const admin = openDatabase(inject('postgresUrl'), { max: 1 });
  await admin.sql.unsafe(`create database ${name}`);
  await admin.close();
  dropAfter.push(name);
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

async function recorded(sql: Sql): Promise<number[]> {
  const rows = await sql<{ created_at: string }[]>`select created_at from drizzle.__drizzle_migrations order by id`;
  return rows.map((r) => Number(r.created_at));
}

async function tables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables where table_schema = 'public' order by 1`;
  return rows.map((r) => r.name);
}

/** What the runner before drizzle's did: every statement of the file in one transaction, its name recorded. */
async function oldRunnerApply(sql: Sql, files: string[]): Promise<void> {
  await sql`create table schema_migrations (name text primary key, applied_at timestamptz not null default now())`;
  for (const file of files) {
    await sql.begin(async (tx) => {
      const text = readFileSync(join(migrationsFolder, file), 'utf8');
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.trim()) await tx.unsafe(statement);
      }
      await tx`insert into schema_migrations (name) values (${file})`;
    });
  }
}

describe('migrate on PostgreSQL', () => {
  it('applies every migration of the journal once, and a second run changes nothing', async () => {
    const db = openDatabase(await emptyDatabase(), { max: 2 });
    try {
      await migrate(db.sql);
      expect(await recorded(db.sql)).toEqual(journal.entries.map((e) => e.when));
      const before = await tables(db.sql);
      expect(before).toEqual(expect.arrayContaining(['inbound_messages', 'admissions', 'alerts']));
      await migrate(db.sql);
      expect(await recorded(db.sql)).toEqual(journal.entries.map((e) => e.when));
      expect(await tables(db.sql)).toEqual(before);
    } finally {
      await db.close();
    }
  });

  it('leaves the pool it is given parsing as before (timestamps as Date, jsonb as objects)', async () => {
    const db = openDatabase(await emptyDatabase());
    try {
      await migrate(db.sql);
      const [row] = await db.sql<{ at: unknown; doc: unknown }[]>`select now() as at, '{"a":1}'::jsonb as doc`;
      expect(row?.at).toBeInstanceOf(Date);
      expect(row?.doc).toEqual({ a: 1 });
    } finally {
      await db.close();
    }
  });

  it('five processes starting at once on a new database: each migration is applied once, none fails', async () => {
    const url = await emptyDatabase();
    const pools = Array.from({ length: 5 }, () => openDatabase(url, { max: 1 }));
    try {
      await Promise.all(pools.map((p) => migrate(p.sql)));
      expect(await recorded(pools[0]!.sql)).toEqual(journal.entries.map((e) => e.when));
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it('a database migrated by the previous runner is adopted: what it applied is not re-run, the rest is applied', async () => {
    const db = openDatabase(await emptyDatabase(), { max: 2 });
    try {
      const files = tags.map((t) => `${t}.sql`);
      await oldRunnerApply(db.sql, files.slice(0, -1));
      // re-running 0000_init.sql would fail (its CREATE TABLEs have no IF NOT EXISTS)
      await migrate(db.sql);
      expect(await recorded(db.sql)).toEqual(journal.entries.map((e) => e.when));
      const hashes = await db.sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations order by id`;
      expect(hashes.every((h) => /^[0-9a-f]{64}$/.test(h.hash))).toBe(true);
      // the previous runner's table is left as it was
      const old = await db.sql<{ name: string }[]>`select name from schema_migrations order by name`;
      expect(old.map((r) => r.name)).toEqual(files.slice(0, -1));
      await migrate(db.sql);
      expect(await recorded(db.sql)).toHaveLength(tags.length);
    } finally {
      await db.close();
    }
  });

  it('a database the previous runner fully migrated gets nothing applied', async () => {
    const db = openDatabase(await emptyDatabase(), { max: 2 });
    try {
      await oldRunnerApply(
        db.sql,
        tags.map((t) => `${t}.sql`),
      );
      const before = await tables(db.sql);
      await migrate(db.sql);
      expect(await recorded(db.sql)).toEqual(journal.entries.map((e) => e.when));
      expect(await tables(db.sql)).toEqual(before);
    } finally {
      await db.close();
    }
  });
});

describe('migrate on the embedded PGlite (npm start)', () => {
  // One process owns a PGlite data directory, and PGlite is one PostgreSQL session for all its socket connections,
  // so the advisory lock does not separate two of them (nor does it need to: the process migrates once at start).
  it('applies every migration, and a second start applies nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aa-pglite-'));
    const pg = await startEmbeddedPostgres(dir);
    try {
      const db = openDatabase(pg.url, { max: 2 });
      try {
        await migrate(db.sql);
        await migrate(db.sql);
        expect(await recorded(db.sql)).toEqual(journal.entries.map((e) => e.when));
        expect(await tables(db.sql)).toEqual(expect.arrayContaining(['inbound_messages', 'admissions', 'alerts']));
        const [row] = await db.sql<{ at: unknown }[]>`select now() as at`;
        expect(row?.at).toBeInstanceOf(Date);
      } finally {
        await db.close();
      }
    } finally {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adopts a PGlite database migrated by the previous runner', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aa-pglite-'));
    const pg = await startEmbeddedPostgres(dir);
    try {
      const db = openDatabase(pg.url, { max: 2 });
      try {
        await oldRunnerApply(
          db.sql,
          tags.map((t) => `${t}.sql`),
        );
        await migrate(db.sql);
        expect(await recorded(db.sql)).toEqual(journal.entries.map((e) => e.when));
      } finally {
        await db.close();
      }
    } finally {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
