/**
 * The relay holds back while the workers are behind (src/ingest/relay.ts, `RELAY_MAX_QUEUED`): it asks Temporal how
 * many workflow tasks wait in the stays' task queue, hands over no more than the limit leaves room for, and leaves
 * the rest stored and undispatched in PostgreSQL until a worker takes the waiting tasks. Nothing is lost and nothing
 * waits on the hospital: every message is ACKed at once, and every stay is recorded once a worker runs.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { newSpell, registerHospital, sendHl7, spellMessage } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

let api: TestService;
let worker: TestService | undefined;
let direct: postgres.Sql;

beforeAll(async () => {
  // the API role alone (the relay, no worker): a worker fleet that is down, or far behind
  api = await startTestService({ roles: ['api'], env: { RELAY_MAX_QUEUED: '3', RELAY_POLL_MS: '100' } });
  direct = postgres(api.db.url, { max: 1, onnotice: () => undefined });
});
afterAll(async () => {
  await worker?.stop();
  await direct?.end();
  await api?.stop();
});

/** the messages in this test's database (its own): stored, handed to Temporal, and their stays recorded */
const counts = async () =>
  (
    await direct<{ stored: number; dispatched: number; recorded: number }[]>`
      select count(*)::int as stored,
             count(*) filter (where m.dispatched_at is not null)::int as dispatched,
             count(*) filter (where a.status = 'no-care-package')::int as recorded
      from inbound_messages m left join admissions a on a.id = m.admission_id`
  )[0]!;

describe('the relay holds back while no worker takes the stays', () => {
  it('hands over RELAY_MAX_QUEUED stays, keeps the rest stored and undispatched, and sends them once a worker runs', async () => {
    const hospital = await registerHospital(api, 'RX1');
    const spells = Array.from({ length: 12 }, () => newSpell());
    for (const s of spells) {
      const { ack } = await sendHl7(api, hospital.apiKey, spellMessage('a01-admit.hl7', s));
      expect(ack.code).toBe('AA');
    }
    // three handed over (Temporal's backlog reached the limit); the relay then holds, polling every 100 ms
    await eventually(async () => (await counts()).dispatched >= 3, 20_000, 'three handed over');
    await new Promise((r) => setTimeout(r, 2_000));
    const held = await counts();
    expect(held.stored).toBe(12);
    expect(held.dispatched).toBe(3);
    expect(held.recorded).toBe(0);

    // a worker starts: it takes the waiting tasks, the relay hands over the rest, and every stay is recorded
    worker = await startTestService({ roles: ['worker'], db: api.db, taskQueue: api.taskQueue });
    await eventually(
      async () => {
        const c = await counts();
        return c.dispatched === 12 && c.recorded === 12;
      },
      60_000,
      'all twelve handed over and recorded',
    );
  });
});
