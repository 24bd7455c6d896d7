/**
 * The relay is a transactional outbox with a lease (ARCHITECTURE.md "Outbox, not a transaction around the network";
 * src/ingest/relay.ts, src/db/outbox.ts):
 * - its claim is committed before it calls Temporal: while a signal is held on its way to Temporal (a TCP proxy in
 *   front of the dev server stops forwarding), another connection sees the row leased, locks it at once
 *   (`FOR UPDATE NOWAIT`), and no session is idle in a transaction;
 * - a relay killed (SIGKILL, a process of its own) after Temporal accepted its signals and before it marked them
 *   leaves the rows leased and undispatched; once the lease has expired (and not before) another relay claims them
 *   again and signals them again, in order, and every alert arrives exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { startRelay, type Relay } from '../../src/ingest/relay.js';
import { connectTemporal, type TemporalHandle } from '../../src/temporal/client.js';
import { eventually } from '../support/fixtures.js';
import {
  addContact,
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

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
type Spell = ReturnType<typeof newSpell>;

/** A TCP proxy that can hold what clients send (buffered, not forwarded) and let it go later. */
async function startHoldingProxy(target: { host: string; port: number }) {
  let holding = false;
  let heldBytes = 0;
  const flushes: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ ...target, noDelay: true });
    sockets.add(client).add(upstream);
    const held: Buffer[] = [];
    client.on('data', (chunk: Buffer) => {
      if (holding) {
        held.push(chunk);
        heldBytes += chunk.length;
      } else upstream.write(chunk);
    });
    flushes.push(() => {
      for (const chunk of held.splice(0)) upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get heldBytes() {
      return heldBytes;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const f of flushes) f();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
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
function admissionHooks(hooks: WebhookReceiver, path: string, spells: Spell[]): number[] {
  const counts = new Map(spells.map((s) => [s.nhs, 0]));
  for (const r of hooks.received(path)) {
    const body = r.body as { type?: string; patient?: { nhsNumber?: string } } | undefined;
    const nhs = body?.patient?.nhsNumber;
    if (body?.type === 'admission' && nhs !== undefined && counts.has(nhs)) counts.set(nhs, counts.get(nhs)! + 1);
  }
  return [...counts.values()];
}

const waitForAdmission = (hooks: WebhookReceiver, spell: Spell) =>
  hooks.waitFor(
    (r) => (r.body as any)?.type === 'admission' && (r.body as any)?.patient?.nhsNumber === spell.nhs,
    30_000,
  );

/** A client whose signalWithStart calls are recorded (message id, when it was called, when Temporal answered). */
function recording(real: Client) {
  const calls: { id: string; calledAt: number; answeredAt?: number }[] = [];
  const client = {
    connection: real.connection,
    workflow: {
      signalWithStart: async (...args: Parameters<Client['workflow']['signalWithStart']>) => {
        const summary = args[1].signalArgs?.[0] as { messageId?: string } | undefined;
        const call: (typeof calls)[number] = { id: summary?.messageId ?? '?', calledAt: Date.now() };
        calls.push(call);
        const handle = await real.workflow.signalWithStart(...args);
        call.answeredAt = Date.now();
        return handle;
      },
    },
  } as unknown as Client;
  return { client, calls };
}

let svc: TestService;
let hooks: WebhookReceiver;
let hospital: Awaited<ReturnType<typeof registerHospital>>;
let direct: postgres.Sql;
const relays: Relay[] = [];
const pools: Database[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  [svc, hooks] = await Promise.all([startTestService(), startWebhookReceiver()]);
  // the service's own relay steps aside: each test runs the relays it needs
  await svc.relay!.stop();
  hospital = await registerHospital(svc, 'RX1');
  direct = postgres(svc.db.url, { max: 1, onnotice: () => undefined });
});
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL');
  }
  for (const r of relays) await r.stop();
  for (const p of pools) await p.close();
  await direct?.end();
  await svc?.stop();
  await hooks?.close();
});

function relay(db: Database, temporal: Client, opts: { leaseMs?: number; signalTimeoutMs?: number } = {}) {
  const r = startRelay({
    db,
    temporal,
    taskQueue: svc.taskQueue,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    lingerSeconds: 5,
    pollMs: 100,
    ...opts,
  });
  relays.push(r);
  return r;
}

async function messageRow(spell: Spell, n = 1) {
  const [row] = await direct<{ id: string; lease_until: Date | null; dispatched: boolean; attempts: number }[]>`
    select id::text, lease_until, dispatched_at is not null as dispatched, dispatch_attempts as attempts
    from inbound_messages where hospital_ods = 'RX1' and message_control_id = ${`${spell.ids}${String(n).padStart(6, '0')}`}`;
  return row;
}

describe('the claim is committed before Temporal is called', () => {
  let proxy: Awaited<ReturnType<typeof startHoldingProxy>> | undefined;
  let temporal: TemporalHandle | undefined;
  afterAll(async () => {
    proxy?.release();
    await temporal?.close();
    await proxy?.close();
  });

  it('while its signal is held on the way to Temporal, the row is leased, committed, and locked by nobody', async () => {
    const provider = await providerWithWebhook(svc, hooks, 'VO101');
    const spell = newSpell();
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });

    // a relay with its own pool and its own connection to Temporal, through a proxy that can hold its requests
    const [host, port] = inject('temporalAddress').split(':');
    proxy = await startHoldingProxy({ host: host!, port: Number(port) });
    temporal = await connectTemporal({ address: proxy.address, namespace: 'default', taskQueue: svc.taskQueue });
    const pool = openDatabase(svc.db.url, { max: 3 });
    pools.push(pool);
    const { client, calls } = recording(temporal.client);

    proxy.hold();
    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell))).ack.code).toBe('AA');
    const held = relay(pool, client, { signalTimeoutMs: 20_000 });

    // the relay has called Temporal, and its request sits in the proxy
    await eventually(async () => calls.length === 1 && proxy!.heldBytes > 0, 20_000, 'the signal held at the proxy');
    const row = (await messageRow(spell))!;
    expect(calls[0]!.id).toBe(row.id);
    expect(calls[0]!.answeredAt).toBeUndefined();
    // another connection sees the claim (committed) ...
    expect(row.dispatched).toBe(false);
    expect(row.lease_until).not.toBeNull();
    const [leased] = await direct<{ leased: boolean }[]>`
      select lease_until > now() as leased from inbound_messages where id = ${row.id}`;
    expect(leased!.leased).toBe(true);
    // ... and takes the row's lock at once: the relay holds none
    await direct.begin(async (tx) => {
      const locked = await tx`select id from inbound_messages where id = ${row.id} for update nowait`;
      expect(locked).toHaveLength(1);
    });
    // no session of this database waits in an open transaction (the relay's pool included)
    const open = await direct<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and state like 'idle in transaction%'`;
    expect(open[0]!.n).toBe(0);
    // Temporal has not heard of the stay yet
    expect(admissionHooks(hooks, '/VO101', [spell])).toEqual([0]);

    proxy.release();
    await waitForAdmission(hooks, spell);
    await eventually(async () => (await messageRow(spell))!.dispatched, 20_000, 'the row marked dispatched');
    expect(calls[0]!.answeredAt).toBeDefined();
    expect(await messageRow(spell)).toMatchObject({ dispatched: true, lease_until: null, attempts: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(admissionHooks(hooks, '/VO101', [spell])).toEqual([1]);
    await held.stop();
  });
});

describe('a relay killed between the call to Temporal and the mark', () => {
  /** `test/support/relay-process.ts` in its own process group; resolves with it once it is running */
  async function startRelayProcess(leaseMs: number) {
    const env: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'TMPDIR', 'NODE_OPTIONS', 'npm_config_cache']) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    Object.assign(env, {
      DATABASE_URL: svc.db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: svc.taskQueue,
      RELAY_LEASE_MS: String(leaseMs),
    });
    const child = spawn('npx', ['tsx', 'test/support/relay-process.ts'], {
      cwd: repoRoot,
      env,
      detached: true, // its own process group: npx, tsx and node die together
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const exited = once(child, 'exit');
    const lines: { ready?: boolean; signalled?: string }[] = [];
    const stderr: string[] = [];
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        try {
          lines.push(JSON.parse(line) as (typeof lines)[number]);
        } catch {
          // npm noise
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`relay process exited: ${stderr.join('')}`);
        return lines.some((l) => l.ready);
      },
      90_000,
      'relay process running',
    );
    return {
      child,
      signalled: () => lines.flatMap((l) => (l.signalled ? [l.signalled] : [])),
      async kill() {
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      },
    };
  }

  it('leaves its rows leased; after the lease, and not before, another relay signals them again; each alert arrives once', async () => {
    const provider = await providerWithWebhook(svc, hooks, 'VO201');
    const spells = Array.from({ length: 6 }, () => newSpell());
    for (const s of spells) await registerClient(svc, provider, s.nhs, { dateOfBirth: '1941-03-12' });
    // no relay runs: one admission each, and the first stay's transfer behind its admission
    for (const s of spells)
      expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', s))).ack.code).toBe('AA');
    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a02-transfer.hl7', spells[0]!))).ack.code).toBe('AA');
    const admits = await Promise.all(spells.map(async (s) => (await messageRow(s))!.id));
    const transfer = (await messageRow(spells[0]!, 2))!.id;

    // the relay process claims all seven (lease 6 s), and Temporal accepts the first event of each of the six
    // workflows; every call then hangs, so nothing is marked (the transfer waits behind its stay's admission)
    const leaseMs = 6_000;
    const first = await startRelayProcess(leaseMs);
    await eventually(async () => first.signalled().length === spells.length, 30_000, 'six signals accepted');
    await first.kill();
    expect(first.child.signalCode).toBe('SIGKILL');
    expect([...first.signalled()].sort()).toEqual([...admits].sort());

    // what the dead relay left: everything claimed under one lease, nothing dispatched
    const left = await direct<{ id: string; lease_until: Date | null; dispatched: boolean; attempts: number }[]>`
      select id::text, lease_until, dispatched_at is not null as dispatched, dispatch_attempts as attempts
      from inbound_messages where id = any(${direct.array([...admits, transfer])}::bigint[]) order by id`;
    expect(left).toHaveLength(7);
    for (const r of left) expect(r).toMatchObject({ dispatched: false, attempts: 0 });
    const leaseUntil = left[0]!.lease_until!.getTime();
    expect(left.every((r) => r.lease_until?.getTime() === leaseUntil)).toBe(true);

    // any relay (here one in this process, default 30 s lease) takes them over once the lease has expired
    const { client, calls } = recording(svc.temporal.client);
    const started = Date.now();
    relay(svc.database, client);
    // meanwhile the signals the dead relay made reach the stays
    for (const s of spells) await waitForAdmission(hooks, s);
    await eventually(
      async () => {
        const [n] = await direct<{ n: number }[]>`
          select count(*)::int as n from inbound_messages where id = any(${direct.array([...admits, transfer])}::bigint[])
            and dispatched_at is not null`;
        return n!.n === 7;
      },
      30_000,
      'every row dispatched by the second relay',
    );
    expect(started).toBeLessThan(leaseUntil); // it ran while the lease held...
    for (const c of calls)
      expect(c.calledAt, 'a signal before the lease expired').toBeGreaterThanOrEqual(leaseUntil - 50);
    // ...and then signalled all seven, the first stay's admission before its transfer
    expect(calls.map((c) => c.id).sort()).toEqual([...admits, transfer].sort());
    const order = calls.map((c) => c.id);
    expect(order.indexOf(admits[0]!)).toBeLessThan(order.indexOf(transfer));

    // every provider heard of each admission once; every row dispatched once, its lease released
    await new Promise((r) => setTimeout(r, 1500));
    expect(admissionHooks(hooks, '/VO201', spells)).toEqual(spells.map(() => 1));
    const done = await direct<{ attempts: number; lease_until: Date | null }[]>`
      select dispatch_attempts as attempts, lease_until from inbound_messages
      where id = any(${direct.array([...admits, transfer])}::bigint[])`;
    expect(done.every((r) => r.attempts === 1 && r.lease_until === null)).toBe(true);
    const [waiting] = await direct<{ n: number }[]>`
      select count(*)::int as n from inbound_messages where status = 'accepted' and dispatched_at is null`;
    expect(waiting!.n).toBe(0);
  });
});
