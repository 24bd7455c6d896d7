/**
 * The pool as the data-access modules use it (src/db/client.ts): drizzle's query builder and postgres.js tagged
 * templates over the same connections, each reading and writing JSON, timestamps and dates as the other does.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { openDatabase, transaction, type Database } from './client.js';
import * as hospitals from './hospitals.js';
import * as providers from './providers.js';
import { clients, hospitals as hospitalsTable } from './schema.js';

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase(inject('postgresUrl'));
  db = openDatabase(testDb.url, { max: 3 });
});
afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

const map = { dischargeMethod: { '4': 'died' as const }, dischargeDestination: { '19': 'home' as const } };

describe('drizzle and tagged templates on one pool', () => {
  it('jsonb written by either is stored as the object it is (never as a JSON string) and read back as one', async () => {
    const viaOrm = await hospitals.register(db, { odsCode: 'JS1', name: 'x', keyHash: 'h-js1' });
    await hospitals.setCodeMap(db, viaOrm!.id, map);
    const [viaSql] = await db.sql<{ id: string }[]>`
      insert into hospitals (ods_code, name, code_map) values ('JS2', 'y', ${db.sql.json(map)}) returning id`;

    const stored = await db.sql<{ ods_code: string; type: string; code_map: unknown }[]>`
      select ods_code, jsonb_typeof(code_map) as type, code_map from hospitals order by ods_code`;
    expect(stored).toEqual([
      { ods_code: 'JS1', type: 'object', code_map: map },
      { ods_code: 'JS2', type: 'object', code_map: map },
    ]);
    expect((await hospitals.getCodeMap(db, viaSql!.id))?.codeMap).toEqual(map);
  });

  it('timestamps are Date objects to both, before and after drizzle is used; a date column reads YYYY-MM-DD', async () => {
    const provider = await providers.register(db, { odsCode: 'TS1', name: 'p', keyHash: 'h-ts1' });
    const { id } = await providers.upsertClient(db, provider!.id, '9434765919', { dateOfBirth: '1941-03-12' });
    const client = await providers.getClient(db, id);
    expect(client).toMatchObject({ dateOfBirth: '1941-03-12', familyName: null });
    expect(client!.createdAt).toBeInstanceOf(Date);

    const [raw] = await db.sql<{ created_at: unknown; dob: unknown }[]>`
      select created_at, date_of_birth as dob from clients where id = ${id}`;
    expect(raw!.created_at).toBeInstanceOf(Date);
    expect((raw!.created_at as Date).getTime()).toBe(client!.createdAt.getTime());
    expect(raw!.dob).toBeInstanceOf(Date);
  });

  it('an upsert says whether it created the row', async () => {
    const provider = await providers.register(db, { odsCode: 'UP1', name: 'p', keyHash: 'h-up1' });
    const first = await providers.upsertClient(db, provider!.id, '9434765870', { dateOfBirth: '1950-01-01' });
    const again = await providers.upsertClient(db, provider!.id, '9434765870', {
      dateOfBirth: '1950-01-02',
      familyName: 'Smith',
    });
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    expect(await providers.getClient(db, first.id)).toMatchObject({ dateOfBirth: '1950-01-02', familyName: 'Smith' });
  });

  it("a failed drizzle query throws PostgreSQL's own error, which does not quote the values (no patient data in logs)", async () => {
    const provider = await providers.register(db, { odsCode: 'ER1', name: 'p', keyHash: 'h-er1' });
    const row = { providerId: provider!.id, nhsNumber: '9434765846', dateOfBirth: '1960-06-06' };
    await db.orm.insert(clients).values(row);
    const err = await db.orm
      .insert(clients)
      .values(row)
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.constructor.name).toBe('PostgresError');
    expect(err?.message).toMatch(/clients_provider_nhs_uq/);
    expect(err?.message).not.toContain('9434765846');
  });

  it("drizzle's queries are prepared once per connection, as tagged templates are (one round trip after the first)", async () => {
    const single = openDatabase(testDb.url, { max: 1 });
    try {
      const id = '00000000-0000-4000-8000-000000000000';
      expect(await providers.exists(single, id)).toBe(false);
      expect(await providers.exists(single, id)).toBe(false);
      const prepared = await single.sql<{ n: number }[]>`
        select count(*)::int as n from pg_prepared_statements where statement like 'select "id" from "providers" where%'`;
      expect(prepared[0]?.n).toBe(1);
    } finally {
      await single.close();
    }
  });

  it('a transaction holds tagged templates and drizzle queries alike: all are rolled back together', async () => {
    const failed = await transaction(db, async (tx) => {
      await tx.sql`insert into hospitals (ods_code, name) values ('TX1', 'x')`;
      await tx.orm.insert(hospitalsTable).values({ odsCode: 'TX2', name: 'y' });
      // a savepoint inside it commits with it
      await transaction(tx, (inner) => inner.orm.insert(hospitalsTable).values({ odsCode: 'TX3', name: 'z' }));
      expect(await tx.orm.select().from(hospitalsTable).where(eq(hospitalsTable.odsCode, 'TX3'))).toHaveLength(1);
      throw new Error('roll back');
    }).catch((e: Error) => e.message);
    expect(failed).toBe('roll back');
    const left = await db.sql`select 1 from hospitals where ods_code in ('TX1', 'TX2', 'TX3')`;
    expect(left).toHaveLength(0);

    await transaction(db, async (tx) => {
      await tx.sql`insert into hospitals (ods_code, name) values ('TX4', 'x')`;
      await tx.orm.insert(hospitalsTable).values({ odsCode: 'TX5', name: 'y' });
    });
    expect(await db.sql`select 1 from hospitals where ods_code in ('TX4', 'TX5')`).toHaveLength(2);
  });
});
