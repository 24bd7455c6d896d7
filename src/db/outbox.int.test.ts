/**
 * The relay's outbox statements (src/db/outbox.ts) on the real PostgreSQL: a claim is committed with its lease when
 * it returns and holds no lock; leased rows are not claimed again until the lease expires; concurrent claims never
 * share a row; marking and releasing; the fan-out links.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { openDatabase, type Database } from './client.js';
import { claimBatch, linkFanOutStays, markDispatched, recordFailures } from './outbox.js';

let db: TestDatabase;
let pool: Database;
let other: Database;

beforeAll(async () => {
  db = await createTestDatabase(inject('postgresUrl'));
  pool = openDatabase(db.url, { max: 4 });
  other = openDatabase(db.url, { max: 1 });
});
afterAll(async () => {
  await pool?.close();
  await other?.close();
  await db?.drop();
});
beforeEach(async () => {
  await pool.sql`truncate stay_links, inbound_messages, admissions cascade`;
});

let seq = 0;
/** An accepted message (its own stay when `visit` is given); returns its id. */
async function message(
  opts: { visit?: string; nhs?: string; kind?: string; status?: 'accepted' | 'rejected'; dispatched?: boolean } = {},
): Promise<string> {
  seq++;
  const nhs = opts.nhs ?? '9995260182';
  let admissionId: string | null = null;
  if (opts.visit) {
    const [a] = await pool.sql<{ id: string }[]>`
      insert into admissions (hospital_ods, visit_number, workflow_id)
      values ('RX1', ${opts.visit}, ${`admission-RX1-${opts.visit}`})
      on conflict (hospital_ods, visit_number) do update set updated_at = now()
      returning id`;
    admissionId = a!.id;
  }
  const parsed = {
    kind: opts.kind ?? 'admit',
    hospitalOds: 'RX1',
    processingId: 'P',
    patient: { nhsNumber: nhs, nhsNumberValid: true },
  };
  const [m] = await pool.sql<{ id: string }[]>`
    insert into inbound_messages (transport, hospital_ods, message_control_id, content_hash, raw, parsed, status,
      ack_code, http_status, admission_id, dispatched_at)
    values ('http', 'RX1', ${`C${seq}`}, ${`h${seq}`}, 'MSH|…', ${pool.sql.json(parsed)}, ${opts.status ?? 'accepted'},
      'AA', 200, ${admissionId}, ${opts.dispatched ? new Date() : null})
    returning id::text`;
  return m!.id;
}

async function state(id: string) {
  const [r] = await other.sql<
    { leased: boolean; dispatched: boolean; attempts: number; error: string | null; lease_until: Date | null }[]
  >`
    select lease_until > now() as leased, dispatched_at is not null as dispatched, dispatch_attempts as attempts,
      last_dispatch_error as error, lease_until
    from inbound_messages where id = ${id}`;
  return r!;
}

const ids = (claim: { rows: { id: bigint }[] }) => claim.rows.map((r) => String(r.id));

describe('claimBatch', () => {
  it('claims accepted undispatched rows in id order, up to the limit, with their stay, committed and unlocked', async () => {
    const a = await message({ visit: 'V1' });
    const b = await message({ visit: 'V2' });
    await message({ visit: 'V3', status: 'rejected' });
    await message({ visit: 'V4', dispatched: true });
    const c = await message(); // no stay of its own
    const d = await message({ visit: 'V1' });

    const claim = await claimBatch(pool, { limit: 3, leaseMs: 30_000 });
    expect(ids(claim)).toEqual([a, b, c]);
    expect(claim.rows[0]).toMatchObject({ hospital_ods: 'RX1', visit_number: 'V1', workflow_id: 'admission-RX1-V1' });
    expect(claim.rows[0]!.parsed.kind).toBe('admit');
    expect(claim.rows[2]).toMatchObject({ admission_id: null, workflow_id: null });
    expect(claim.lease).toMatch(/^\d{4}-\d\d-\d\d /);

    // another connection sees the lease, about 30 s from now, and can lock the rows at once: nothing is held
    for (const id of [a, b, c]) {
      const s = await state(id);
      expect(s.leased).toBe(true);
      expect(s.dispatched).toBe(false);
    }
    const [left] = await other.sql<{ secs: number }[]>`
      select extract(epoch from lease_until - now())::float8 as secs from inbound_messages where id = ${a}`;
    expect(left!.secs).toBeGreaterThan(25);
    expect(left!.secs).toBeLessThanOrEqual(30);
    await other.sql.begin(async (tx) => {
      const locked = await tx`select id from inbound_messages where id in (${a}, ${b}, ${c}) for update nowait`;
      expect(locked).toHaveLength(3);
    });

    // leased rows are not claimed again: the next claim takes what is left
    expect(ids(await claimBatch(pool, { limit: 10, leaseMs: 30_000 }))).toEqual([d]);
    expect(ids(await claimBatch(pool, { limit: 10, leaseMs: 30_000 }))).toEqual([]);
  });

  it('claims a row again once its lease has expired, under a new lease', async () => {
    const a = await message({ visit: 'V1' });
    const first = await claimBatch(pool, { limit: 10, leaseMs: 300 });
    expect(ids(first)).toEqual([a]);
    expect(ids(await claimBatch(pool, { limit: 10, leaseMs: 300 }))).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    const again = await claimBatch(pool, { limit: 10, leaseMs: 30_000 });
    expect(ids(again)).toEqual([a]);
    expect(again.lease).not.toBe(first.lease);
  });

  it('concurrent claims never share a row', async () => {
    const all: string[] = [];
    for (let i = 0; i < 40; i++) all.push(await message({ visit: `V${i}` }));
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimBatch(pool, { limit: 7, leaseMs: 30_000 })));
    const got = claims.flatMap(ids);
    expect(new Set(got).size).toBe(got.length);
    expect(got.length).toBeLessThanOrEqual(40);
    const rest = await claimBatch(pool, { limit: 100, leaseMs: 30_000 });
    expect([...got, ...ids(rest)].sort()).toEqual([...all].sort());
  });
});

describe('markDispatched and recordFailures', () => {
  it('a marked row is dispatched, its lease released, one attempt counted, and never claimed again', async () => {
    const a = await message({ visit: 'V1' });
    await claimBatch(pool, { limit: 10, leaseMs: 30_000 });
    await markDispatched(pool, [a]);
    await markDispatched(pool, [a]); // a second mark changes nothing
    expect(await state(a)).toMatchObject({ dispatched: true, attempts: 1, lease_until: null });
    expect(ids(await claimBatch(pool, { limit: 10, leaseMs: 1 }))).toEqual([]);
  });

  it('a mark after the lease expired and the row was claimed again still marks it (its signal went out)', async () => {
    const a = await message({ visit: 'V1' });
    await claimBatch(pool, { limit: 10, leaseMs: 100 });
    await new Promise((r) => setTimeout(r, 200));
    await claimBatch(pool, { limit: 10, leaseMs: 30_000 });
    await markDispatched(pool, [a]);
    expect(await state(a)).toMatchObject({ dispatched: true, attempts: 1 });
  });

  it('failed rows count an attempt and keep the error, untried rows are only released; both claimable at once', async () => {
    const a = await message({ visit: 'V1' });
    const b = await message({ visit: 'V1' });
    const claim = await claimBatch(pool, { limit: 10, leaseMs: 30_000 });
    await recordFailures(pool, claim.lease!, [{ id: a, error: 'deadline exceeded' }], [b]);
    expect(await state(a)).toMatchObject({
      dispatched: false,
      attempts: 1,
      error: 'deadline exceeded',
      lease_until: null,
    });
    expect(await state(b)).toMatchObject({ dispatched: false, attempts: 0, error: null, lease_until: null });
    expect(ids(await claimBatch(pool, { limit: 10, leaseMs: 30_000 }))).toEqual([a, b]);
  });

  it('a claim whose lease expired and whose rows were claimed again releases nothing', async () => {
    const a = await message({ visit: 'V1' });
    const stale = await claimBatch(pool, { limit: 10, leaseMs: 100 });
    await new Promise((r) => setTimeout(r, 200));
    const current = await claimBatch(pool, { limit: 10, leaseMs: 30_000 });
    await recordFailures(pool, stale.lease!, [{ id: a, error: 'late' }]);
    expect(await state(a)).toMatchObject({ leased: true, attempts: 0, error: null });
    await recordFailures(pool, current.lease!, [], [a]);
    expect(await state(a)).toMatchObject({ lease_until: null, attempts: 0 });
  });
});

describe('linkFanOutStays', () => {
  it('links and returns the patient’s other open stays at the hospital, once, and not the message’s own', async () => {
    await message({ visit: 'V1', nhs: '9995260182' });
    await message({ visit: 'V2', nhs: '9995260182' });
    await message({ visit: 'V3', nhs: '9991590838' }); // someone else
    await pool.sql`update admissions set status = 'discharged' where visit_number = 'V2'`;
    await message({ visit: 'V4', nhs: '9995260182' });
    const identity = await message({ visit: 'V4', nhs: '9995260182', kind: 'identity' });
    const [own] = await pool.sql<{ id: string }[]>`select id from admissions where visit_number = 'V4'`;

    const call = () =>
      linkFanOutStays(pool, { id: identity, hospitalOds: 'RX1', admissionId: own!.id }, ['9995260182']);
    const stays = await call();
    expect(stays.map((s) => s.visit_number)).toEqual(['V1']);
    expect(stays[0]).toMatchObject({ hospital_ods: 'RX1', workflow_id: 'admission-RX1-V1' });
    expect(await call()).toHaveLength(1); // again: the same stay, one link
    const links = await other.sql`select admission_id from stay_links where message_id = ${identity}`;
    expect(links.map((l) => l.admission_id)).toEqual([stays[0]!.admission_id]);
    expect(await linkFanOutStays(pool, { id: identity, hospitalOds: 'RX1', admissionId: own!.id }, [])).toEqual([]);
  });
});
