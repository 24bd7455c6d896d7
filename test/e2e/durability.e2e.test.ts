/**
 * Issue 3 item 5, durability: an AA is sent only after a durable COMMIT; Temporal being down delays alerts but
 * never stops the service accepting messages, and every alert arrives once Temporal is back; PostgreSQL being down
 * answers AR / 503 ("retry later") and never AA, and the same message is accepted once it is back; the relay
 * neither loses nor duplicates events when it fails in the middle of a batch (signalled, not yet marked: the rows
 * stay leased and are signalled again when the lease expires; test/e2e/relay-outbox.e2e.test.ts kills it there).
 *
 * Found while writing these: the worker's NativeConnection rides out a Temporal outage by itself (its polls are
 * retried; a worker kept RUNNING through 10 s and 80 s outages and picked up work after the restart), so the
 * service does not restart it; the client's gRPC channel needed its reconnect backoff capped (src/temporal/client.ts)
 * and postgres.js needed a patch (patches/postgres+3.4.7.patch) for a dropped connection not to hang or crash.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { startRelay, type Relay } from '../../src/ingest/relay.js';
import { parseAck } from '../../src/hl7/ack.js';
import { frame, MllpDeframer } from '../../src/hl7/mllp.js';
import { freePort, startDevServer, type DevServer } from '../../src/temporal/dev-server.js';
import { eventually } from '../support/fixtures.js';
import { startPgProxy, type TcpProxy } from '../support/pg-proxy.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  addContact,
  LOOPBACK_MLLP,
  newSpell,
  registerClient,
  registerHospital,
  registerProvider,
  sendHl7,
  setPolicy,
  spellMessage,
} from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

type Spell = ReturnType<typeof newSpell>;

/** One MLLP connection, stop and wait: send a frame, read its ACK. */
async function mllpConnect(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const deframer = new MllpDeframer();
  const acks: string[] = [];
  let waiter: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    for (const payload of deframer.push(chunk)) acks.push(payload.toString('utf8'));
    waiter?.();
  });
  return {
    async send(message: string, timeoutMs = 15_000) {
      socket.write(frame(message));
      const deadline = Date.now() + timeoutMs;
      while (acks.length === 0) {
        if (Date.now() > deadline || socket.destroyed) throw new Error('no MLLP ACK');
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 50);
        });
      }
      return parseAck(acks.shift()!);
    },
    close() {
      socket.destroy();
    },
  };
}

/** A provider whose one webhook contact hears every alert of the clients registered to it. */
async function providerWithWebhook(svc: TestService, hooks: WebhookReceiver, ods: string) {
  const provider = await registerProvider(svc, ods);
  const contact = await addContact(svc, provider, { name: 'Coordinator', webhookUrl: hooks.url(`/${ods}`) });
  hooks.setSecret(`/${ods}`, contact.webhookSecret!);
  await setPolicy(svc, provider, [{ contactIds: [contact.id], channels: ['webhook'], waitSeconds: 600 }]);
  return provider;
}

/** The admission webhooks received for each spell's patient, by NHS number. */
function admissionHooksBySpell(hooks: WebhookReceiver, path: string, spells: Spell[]): Map<string, number> {
  const counts = new Map(spells.map((s) => [s.nhs, 0]));
  for (const r of hooks.received(path)) {
    const body = r.body as { type?: string; patient?: { nhsNumber?: string } } | undefined;
    const nhs = body?.patient?.nhsNumber;
    if (body?.type === 'admission' && nhs !== undefined && counts.has(nhs)) counts.set(nhs, counts.get(nhs)! + 1);
  }
  return counts;
}

async function ready(svc: TestService) {
  const res = await svc.api('GET', '/health/ready');
  return { status: res.status, down: (res.body?.down ?? []) as string[] };
}

describe('the ACK is sent only after a durable COMMIT', () => {
  let svc: TestService;
  let hospital: Awaited<ReturnType<typeof registerHospital>>;
  let direct: postgres.Sql;

  beforeAll(async () => {
    svc = await startTestService();
    hospital = await registerHospital(svc, 'RX1', undefined, LOOPBACK_MLLP);
    direct = postgres(svc.db.url, { max: 2, onnotice: () => undefined });
  });
  afterAll(async () => {
    await direct?.end();
    await svc?.stop();
  });

  it('every connection of the service pool commits synchronously', async () => {
    // several at once, so the pool opens several connections
    const rows = await Promise.all(
      Array.from({ length: 6 }, () => svc.database.sql<{ synchronous_commit: string }[]>`show synchronous_commit`),
    );
    expect(rows.map((r) => r[0]?.synchronous_commit)).toEqual(Array(6).fill('on'));
    const [wal] = await direct<
      { wal_level: string; fsync: string }[]
    >`select current_setting('wal_level') as wal_level, current_setting('fsync') as fsync`;
    expect(wal?.fsync).toBe('on');
  });

  it('every AA, over HTTP and over MLLP, names a row that another connection already sees committed', async () => {
    const spells = Array.from({ length: 16 }, () => newSpell());
    const mllp = await mllpConnect(svc.mllpPort!);
    try {
      const check = async (spell: Spell, code: string) => {
        expect(code).toBe('AA');
        // straight after the ACK, from a connection of our own: the message is there, accepted
        const rows = await direct<{ status: string; parsed: unknown }[]>`
          select status, parsed from inbound_messages where hospital_ods = 'RX1' and message_control_id = ${`${spell.ids}000001`}`;
        expect(rows).toHaveLength(1);
        expect(rows[0]!.status).toBe('accepted');
        expect(rows[0]!.parsed).not.toBeNull();
      };
      await Promise.all([
        // 8 HTTP senders at once
        ...spells.slice(0, 8).map(async (spell) => {
          const res = await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
          expect(res.status).toBe(200);
          await check(spell, res.ack.code);
        }),
        // and one MLLP connection, stop and wait
        (async () => {
          for (const spell of spells.slice(8)) {
            const ack = await mllp.send(spellMessage('a01-admit.hl7', spell));
            await check(spell, ack.code);
          }
        })(),
      ]);
    } finally {
      mllp.close();
    }
  });
});

describe('while Temporal is down', () => {
  let dev: DevServer;
  let devOpts: Parameters<typeof startDevServer>[0];
  let dir: string;
  let svc: TestService;
  let hooks: WebhookReceiver;
  let hospital: Awaited<ReturnType<typeof registerHospital>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aa-durability-temporal-'));
    // a fixed port and a database file, so that a restarted server is the same cluster with the same history
    devOpts = { cliPath: inject('temporalCliPath'), port: await freePort(), dbFilename: join(dir, 'temporal.db') };
    [dev, hooks] = await Promise.all([startDevServer(devOpts), startWebhookReceiver()]);
    svc = await startTestService({ env: { TEMPORAL_ADDRESS: dev.address } });
    hospital = await registerHospital(svc, 'RX1', undefined, LOOPBACK_MLLP);
  });
  afterAll(async () => {
    await svc?.stop();
    await dev?.stop();
    await hooks?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the service keeps accepting (AA), and once Temporal is back every alert arrives exactly once', async () => {
    const provider = await providerWithWebhook(svc, hooks, 'VT201');
    const before = newSpell();
    const during = Array.from({ length: 5 }, () => newSpell());
    for (const s of [before, ...during]) await registerClient(svc, provider, s.nhs, { dateOfBirth: '1941-03-12' });

    // the path works before the outage (so the worker has polled and the relay has a channel)
    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', before))).ack.code).toBe('AA');
    await hooks.waitFor((r) => (r.body as any)?.patient?.nhsNumber === before.nhs, 20_000);

    await dev.stop();
    await eventually(
      async () => {
        const r = await ready(svc);
        return r.status === 503 && r.down.includes('temporal') && !r.down.includes('postgres');
      },
      15_000,
      '/health/ready 503 naming temporal only',
    );

    // over HTTP and MLLP: accepted, stored, acknowledged AA
    const mllp = await mllpConnect(svc.mllpPort!);
    try {
      for (const [i, spell] of during.entries()) {
        const message = spellMessage('a01-admit.hl7', spell);
        const code =
          i % 2 === 0 ? (await sendHl7(svc, hospital.apiKey, message)).ack.code : (await mllp.send(message)).code;
        expect(code, `message ${i}`).toBe('AA');
      }
    } finally {
      mllp.close();
    }
    // the relay tried, failed, and kept the events
    await eventually(
      async () => {
        const rows = await svc.database.sql<{ n: number }[]>`
        select count(*)::int as n from inbound_messages
        where status = 'accepted' and dispatched_at is null and last_dispatch_error is not null`;
        return rows[0]!.n > 0;
      },
      30_000,
      'the relay to record a failed hand-over',
    );
    const [waiting] = await svc.database.sql<{ n: number }[]>`
      select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`;
    expect(waiting!.n).toBe(during.length);
    expect([...admissionHooksBySpell(hooks, '/VT201', during).values()]).toEqual(during.map(() => 0));

    dev = await startDevServer(devOpts);
    for (const spell of during) {
      await hooks.waitFor(
        (r) => (r.body as any)?.type === 'admission' && (r.body as any)?.patient?.nhsNumber === spell.nhs,
        60_000,
      );
    }
    await eventually(async () => (await ready(svc)).status === 200, 20_000, '/health/ready 200 again');
    // nothing arrives twice (give a duplicate time to show up)
    await new Promise((r) => setTimeout(r, 1500));
    const counts = admissionHooksBySpell(hooks, '/VT201', [before, ...during]);
    expect([...counts.values()]).toEqual([before, ...during].map(() => 1));
    const [left] = await svc.database.sql<{ n: number }[]>`
      select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`;
    expect(left!.n).toBe(0);
  });
});

describe('while PostgreSQL is down', () => {
  let proxy: TcpProxy;
  let db: TestDatabase;
  let svc: TestService;
  let hooks: WebhookReceiver;
  let hospital: Awaited<ReturnType<typeof registerHospital>>;
  let provider: Awaited<ReturnType<typeof registerProvider>>;

  beforeAll(async () => {
    // migrations run directly; the service then reaches PostgreSQL only through the proxy
    [db, proxy, hooks] = await Promise.all([
      createTestDatabase(inject('postgresUrl')),
      startPgProxy(inject('postgresUrl')),
      startWebhookReceiver(),
    ]);
    svc = await startTestService({ db, env: { DATABASE_URL: proxy.url(db.url) } });
    hospital = await registerHospital(svc, 'RX1', undefined, LOOPBACK_MLLP);
    provider = await providerWithWebhook(svc, hooks, 'VP301');
  });
  afterAll(async () => {
    proxy?.up();
    await svc?.stop();
    await db?.drop();
    await proxy?.close();
    await hooks?.close();
  });

  it('answers AR (HTTP 503, ERR: retry later) over HTTP and MLLP, never AA, and accepts the same message once it is back', async () => {
    const viaHttp = newSpell();
    const viaMllp = newSpell();
    for (const s of [viaHttp, viaMllp]) await registerClient(svc, provider, s.nhs, { dateOfBirth: '1941-03-12' });
    const httpMessage = spellMessage('a01-admit.hl7', viaHttp);
    const mllpMessage = spellMessage('a01-admit.hl7', viaMllp);
    const mllp = await mllpConnect(svc.mllpPort!);

    proxy.down();
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await sendHl7(svc, hospital.apiKey, httpMessage);
        expect(res.status).toBe(503);
        expect(res.contentType).toMatch(/^x-application\/hl7-v2\+er7/);
        expect(res.ack.code).toBe('AR');
        expect(res.ack.controlId).toBe(`${viaHttp.ids}000001`);
        expect(res.ack.errors.join(' ')).toMatch(/retry later/i);

        const ack = await mllp.send(mllpMessage);
        expect(ack.code).toBe('AR');
        expect(ack.controlId).toBe(`${viaMllp.ids}000001`);
        expect(ack.errors.join(' ')).toMatch(/retry later/i);
      }
      const r = await ready(svc);
      expect(r.status).toBe(503);
      expect(r.down).toContain('postgres');
      expect(r.down).not.toContain('temporal');
    } finally {
      proxy.up();
    }

    // the sender retries the very same messages
    const res = await eventually(
      async () => {
        const x = await sendHl7(svc, hospital.apiKey, httpMessage);
        return x.status === 200 && x;
      },
      20_000,
      'HTTP accepted again',
    );
    expect(res.ack.code).toBe('AA');
    expect((await mllp.send(mllpMessage)).code).toBe('AA');
    mllp.close();
    expect((await ready(svc)).status).toBe(200);

    for (const spell of [viaHttp, viaMllp]) {
      await hooks.waitFor(
        (r) => (r.body as any)?.type === 'admission' && (r.body as any)?.patient?.nhsNumber === spell.nhs,
        20_000,
      );
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect([...admissionHooksBySpell(hooks, '/VP301', [viaHttp, viaMllp]).values()]).toEqual([1, 1]);
    const rows = await svc.database.sql<{ n: number }[]>`
      select count(*)::int as n from inbound_messages
      where message_control_id in (${`${viaHttp.ids}000001`}, ${`${viaMllp.ids}000001`})`;
    expect(rows[0]!.n).toBe(2);
  });

  it('the pool fails every query at once while PostgreSQL is down (none hangs) and works again once it is back', async () => {
    // the service's own pool settings; idle connections reset under it (patches/postgres+3.4.7.patch)
    const pool = openDatabase(proxy.url(db.url), { max: 4 });
    try {
      await Promise.all([1, 2, 3].map(() => pool.sql`select 1`));
      proxy.down();
      try {
        for (let i = 0; i < 8; i++) {
          const outcome = await Promise.race([
            pool.sql`select 1`.then(
              () => 'answered',
              () => 'failed',
            ),
            new Promise((r) => setTimeout(() => r('hung'), 5_000)),
          ]);
          expect(outcome, `query ${i}`).toBe('failed');
        }
      } finally {
        proxy.up();
      }
      const [row] = await pool.sql<{ one: number }[]>`select 1 as one`;
      expect(row?.one).toBe(1);
    } finally {
      // (a graceful end waits out its timeout for connections that died mid-query)
      await pool.sql.end({ timeout: 1 });
    }
  });

  it('a message whose transaction dies with its connection is answered AR, and its resend AA', async () => {
    const spell = newSpell();
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const message = spellMessage('a01-admit.hl7', spell);
    // every connection the service holds is cut while messages are in flight
    const inFlight = Array.from({ length: 8 }, (_, i) => {
      const s = i === 0 ? spell : newSpell();
      return sendHl7(svc, hospital.apiKey, i === 0 ? message : spellMessage('a01-admit.hl7', s)).then((r) => ({
        s,
        r,
      }));
    });
    proxy.killConnections();
    const results = await Promise.all(inFlight);
    const direct = postgres(db.url, { max: 1, onnotice: () => undefined });
    try {
      for (const { s, r } of results) {
        expect(['AA', 'AR']).toContain(r.ack.code);
        const [row] = await direct<{ n: number }[]>`
          select count(*)::int as n from inbound_messages where message_control_id = ${`${s.ids}000001`}`;
        // an AA always has its row; an AR may or may not (the commit may have happened before the cut)
        if (r.ack.code === 'AA') expect(row!.n, 'row of an AA').toBe(1);
        else expect(r.status).toBe(503);
      }
    } finally {
      await direct.end();
    }
    const again = await sendHl7(svc, hospital.apiKey, message);
    expect(again.status).toBe(200);
    expect(again.ack.code).toBe('AA');
    await hooks.waitFor(
      (r) => (r.body as any)?.type === 'admission' && (r.body as any)?.patient?.nhsNumber === spell.nhs,
      20_000,
    );
  });
});

describe('the relay failing in the middle of a batch', () => {
  let proxy: TcpProxy;
  let svc: TestService;
  let hooks: WebhookReceiver;
  let relay: Relay | undefined;
  let relayDb: ReturnType<typeof openDatabase> | undefined;

  beforeAll(async () => {
    [svc, proxy, hooks] = await Promise.all([
      startTestService(),
      startPgProxy(inject('postgresUrl')),
      startWebhookReceiver(),
    ]);
  });
  afterAll(async () => {
    proxy?.up();
    await relay?.stop();
    await relayDb?.close();
    await svc?.stop();
    await proxy?.close();
    await hooks?.close();
  });

  it('loses nothing and alerts nobody twice when its database is cut off after some signals went out, before the mark', async () => {
    const hospital = await registerHospital(svc, 'RX1', undefined, LOOPBACK_MLLP);
    const provider = await providerWithWebhook(svc, hooks, 'VR401');
    const spells = Array.from({ length: 6 }, () => newSpell());
    for (const s of spells) await registerClient(svc, provider, s.nhs, { dateOfBirth: '1941-03-12' });

    // the service's own relay steps aside; events wait in the outbox
    await svc.relay!.stop();
    for (const s of spells)
      expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', s))).ack.code).toBe('AA');

    // a relay that reaches PostgreSQL through the proxy, which is cut off (every connection reset, new ones refused)
    // for a second after its third signal went out: the batch was claimed (committed) and signalled, and cannot be
    // marked; its rows stay leased, and are claimed and signalled again once the (short) lease has expired
    const leaseMs = 2_000;
    const real = svc.temporal.client;
    const signalled: { id: string; at: number }[] = [];
    let cut = false;
    const watched = {
      connection: real.connection,
      workflow: {
        signalWithStart: async (...args: Parameters<Client['workflow']['signalWithStart']>) => {
          const handle = await real.workflow.signalWithStart(...args);
          const summary = args[1].signalArgs?.[0] as { messageId: string } | undefined;
          signalled.push({ id: summary?.messageId ?? '?', at: Date.now() });
          if (signalled.length === 3 && !cut) {
            cut = true;
            proxy.down();
            setTimeout(() => proxy.up(), 1_000);
          }
          return handle;
        },
      },
    } as unknown as Client;
    relayDb = openDatabase(proxy.url(svc.db.url), { max: 3 });
    relay = startRelay({
      db: relayDb,
      temporal: watched,
      taskQueue: svc.taskQueue,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      lingerSeconds: 5,
      pollMs: 200,
      leaseMs,
    });

    for (const s of spells) {
      await hooks.waitFor(
        (r) => (r.body as any)?.type === 'admission' && (r.body as any)?.patient?.nhsNumber === s.nhs,
        30_000,
      );
    }
    await eventually(
      async () => {
        const [left] = await svc.database.sql<{ n: number }[]>`
        select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`;
        return left!.n === 0;
      },
      30_000,
      'every row marked dispatched',
    );
    await relay.drained();
    expect(cut).toBe(true);
    // the batch that could not be marked was signalled again, once its lease had expired...
    const ids = new Set(signalled.map((s) => s.id));
    expect(ids.size).toBe(spells.length);
    expect(signalled).toHaveLength(2 * spells.length);
    for (const id of ids) {
      const [first, second] = signalled.filter((s) => s.id === id);
      expect(second!.at - first!.at, `message ${id} signalled again before the lease expired`).toBeGreaterThan(
        leaseMs - 500,
      );
    }
    // ...and yet every provider heard of each event once
    await new Promise((r) => setTimeout(r, 1500));
    expect([...admissionHooksBySpell(hooks, '/VR401', spells).values()]).toEqual(spells.map(() => 1));
    const rows = await svc.database.sql<{ attempts: number; lease_until: Date | null }[]>`
      select dispatch_attempts as attempts, lease_until from inbound_messages where status = 'accepted'`;
    expect(rows).toHaveLength(spells.length);
    // the lost mark counted nothing; the second pass marked them, releasing the lease
    expect(rows.every((r) => r.attempts === 1 && r.lease_until === null)).toBe(true);
  });
});
