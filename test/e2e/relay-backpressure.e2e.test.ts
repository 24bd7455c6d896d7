/**
 * The relay holds back while the workers are behind (src/ingest/relay.ts, `RELAY_MAX_QUEUED`; hazard H31): it asks
 * Temporal how many workflow tasks wait in the stays' task queue, hands over no more than the limit leaves room for,
 * and leaves the rest stored and undispatched in PostgreSQL until a worker takes the waiting tasks. Nothing is lost
 * and nothing waits on the hospital: every message is ACKed at once, and every stay is recorded once a worker runs.
 * When Temporal cannot give the figure, the relay does not hold back.
 */
import type { Client } from '@temporalio/client';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from '../../src/ingest/relay.js';
import { eventually } from '../support/fixtures.js';
import { newSpell, registerHospital, sendHl7, spellMessage } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

const services: TestService[] = [];
const relays: Relay[] = [];
const sqls: postgres.Sql[] = [];

afterAll(async () => {
  for (const r of relays) await r.stop();
  for (const s of sqls) await s.end();
  // workers first, then the API roles whose databases they share
  for (const s of services.reverse()) await s.stop();
});

async function service(opts: Parameters<typeof startTestService>[0]) {
  const svc = await startTestService(opts);
  services.push(svc);
  return svc;
}

/** The messages in a test's database (its own): stored, handed to Temporal, and their stays recorded. */
async function counter(svc: TestService) {
  const sql = postgres(svc.db.url, { max: 1, onnotice: () => undefined });
  sqls.push(sql);
  return async () =>
    (
      await sql<{ stored: number; dispatched: number; recorded: number }[]>`
        select count(*)::int as stored,
               count(*) filter (where m.dispatched_at is not null)::int as dispatched,
               count(*) filter (where a.status = 'no-care-package')::int as recorded
        from inbound_messages m left join admissions a on a.id = m.admission_id`
    )[0]!;
}

/** Twelve A01s of people who are nobody's client, each ACKed AA as soon as it is stored. */
async function sendTwelve(svc: TestService) {
  const hospital = await registerHospital(svc, 'RX1');
  for (let i = 0; i < 12; i++) {
    const { ack } = await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', newSpell()));
    expect(ack.code).toBe('AA');
  }
}

describe('the relay holds back while no worker takes the stays', () => {
  it('hands over RELAY_MAX_QUEUED stays, keeps the rest stored and undispatched, and sends them once a worker runs', async () => {
    // the API role alone (the relay, no worker): a worker fleet that is down, or far behind
    const api = await service({ roles: ['api'], env: { RELAY_MAX_QUEUED: '3', RELAY_POLL_MS: '100' } });
    const counts = await counter(api);
    await sendTwelve(api);

    // three handed over (Temporal's backlog reached the limit); the relay then holds, asking again every 500 ms
    await eventually(async () => (await counts()).dispatched >= 3, 20_000, 'three handed over');
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await counts()).toEqual({ stored: 12, dispatched: 3, recorded: 0 });

    // a worker starts: it takes the waiting tasks, the relay hands over the rest, and every stay is recorded
    await service({ roles: ['worker'], db: api.db, taskQueue: api.taskQueue });
    await eventually(
      async () => {
        const c = await counts();
        return c.dispatched === 12 && c.recorded === 12;
      },
      60_000,
      'all twelve handed over and recorded',
    );
  });

  it('does not hold back when Temporal cannot say how many tasks wait: it hands everything over and says so once', async () => {
    const api = await service({ roles: ['api'], env: { RELAY_POLL_MS: '100' } });
    await api.relay!.stop();
    const counts = await counter(api);
    // Temporal's figure is refused (an older server, or a permission the relay's credentials lack)
    const real = api.temporal.client;
    const refusing = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'workflowService') {
          return new Proxy(target.workflowService, {
            get(ws, name, r) {
              if (name === 'describeTaskQueue') return () => Promise.reject(new Error('PermissionDenied'));
              return Reflect.get(ws, name, r) as unknown;
            },
          });
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Client;
    const lines: { msg?: string; err?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string; err?: string }) },
    );
    relays.push(
      startRelay({
        db: api.database,
        temporal: refusing,
        taskQueue: api.taskQueue,
        logger,
        lingerSeconds: 5,
        pollMs: 100,
        maxQueued: 3,
      }),
    );
    await sendTwelve(api);

    await eventually(async () => (await counts()).dispatched === 12, 20_000, 'all twelve handed over');
    const warned = lines.filter((l) => l.msg?.includes("cannot read the task queue's backlog"));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.err).toBe('PermissionDenied');
  });
});
