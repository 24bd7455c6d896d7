/**
 * Issue 4, item 2: exactly-once SMS across a worker crash. The worker runs as its own process (the production entry
 * point, `npx tsx src/main-worker.ts`); the fake Notify kills it with SIGKILL at the worst moment: after Notify
 * accepted the SMS and before the 201 reached the worker. A new worker process must finish the delivery without
 * sending a second SMS (it asks Notify for the delivery id, which is the Notify `reference`, before sending).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
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

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface WorkerProcess {
  child: ChildProcess;
  /** pino lines the worker wrote, parsed */
  lines: { level: number; msg: string; [k: string]: unknown }[];
  stderr: string[];
  exited: Promise<unknown>;
}

let svc: TestService;
let fake: FakeNotify;
const workers: WorkerProcess[] = [];

/** Starts `npx tsx src/main-worker.ts` in its own process group against this test's database and task queue. */
async function startWorkerProcess(): Promise<WorkerProcess> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'NODE_OPTIONS', 'npm_config_cache']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    METRICS_PORT: '0',
    DATABASE_URL: svc.db.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: svc.taskQueue,
    ADMIN_TOKEN: svc.adminToken,
    PUBLIC_BASE_URL: svc.baseUrl,
    NOTIFY_API_KEY: fake.apiKey,
    NOTIFY_BASE_URL: fake.baseUrl,
    NOTIFY_SMS_TEMPLATE_ID: fake.smsTemplateId,
    NOTIFY_EMAIL_TEMPLATE_ID: fake.emailTemplateId,
  });
  const child = spawn('npx', ['tsx', 'src/main-worker.ts'], {
    cwd: repoRoot,
    env,
    detached: true, // its own process group: npx, tsx and node die together
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const w: WorkerProcess = { child, lines: [], stderr: [], exited: once(child, 'exit') };
  workers.push(w);
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      try {
        w.lines.push(JSON.parse(line) as WorkerProcess['lines'][number]);
      } catch {
        // not a log line (npm noise)
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => w.stderr.push(chunk.toString('utf8')));
  let exitedEarly = false;
  void w.exited.then(() => {
    exitedEarly = true;
  });
  await eventually(
    async () => {
      if (exitedEarly) throw new Error(`worker exited: ${w.stderr.join('')}`);
      return w.lines.some((l) => l.msg === 'running');
    },
    90_000,
    'worker process running',
  );
  return w;
}

/** SIGKILL to the worker's whole process group (only the processes this test started). */
async function kill(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  process.kill(-w.child.pid!, 'SIGKILL');
  await w.exited;
}

beforeAll(async () => {
  fake = await startFakeNotify();
  svc = await startTestService({
    roles: ['api'],
    env: {
      NOTIFY_API_KEY: fake.apiKey,
      NOTIFY_BASE_URL: fake.baseUrl,
      NOTIFY_SMS_TEMPLATE_ID: fake.smsTemplateId,
      NOTIFY_EMAIL_TEMPLATE_ID: fake.emailTemplateId,
    },
  });
});
afterAll(async () => {
  for (const w of workers) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
    process.kill(-w.child.pid!, 'SIGTERM');
    const stopped = await Promise.race([
      w.exited.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 10_000)),
    ]);
    if (!stopped) await kill(w);
  }
  await svc?.stop();
  await fake?.close();
});

describe('a worker killed after Notify accepted an SMS and before it heard so', () => {
  it('does not send a second SMS: the next worker finds the delivery at Notify by its reference and records it sent', async () => {
    const first = await startWorkerProcess();

    const hospital = await registerHospital(svc, 'RX1', 'Leeds General Infirmary');
    const provider = await registerProvider(svc, 'VW001');
    const contact = await addContact(svc, provider, { name: 'Coordinator', phone: '07700 900461' });
    await setPolicy(svc, provider, [{ contactIds: [contact.id], channels: ['sms'], waitSeconds: 600 }]);
    const spell = newSpell();
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12', reference: 'CL-CRASH' });

    // Notify has recorded the SMS; the worker is killed before the 201 is written back to it
    let killedAt = 0;
    fake.onSend(async (n) => {
      if (n.type !== 'sms' || killedAt) return;
      await kill(first);
      killedAt = fake.requests.length;
    });

    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell))).ack.code).toBe('AA');
    await eventually(async () => killedAt > 0, 30_000, 'the worker killed at Notify');
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(fake.sms).toHaveLength(1);
    const reference = fake.sms[0]!.reference!;
    const alertId = reference.split(':')[0]!;
    // the dead worker never recorded the outcome
    const pending = await svc.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
    expect(pending.body.deliveries).toMatchObject([{ id: reference, status: 'pending', attempts: 1 }]);

    await startWorkerProcess();
    // the first attempt is a local activity inside the workflow task that raised the alert: the dead worker's task
    // times out (10 s) and the new worker runs it again; the alert is already in PostgreSQL, so its ladder resumes
    // (hazard H30) and the delivery's second attempt asks Notify first. Well within this deadline
    const sent = await eventually(
      async () => {
        const res = await svc.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
        const d = (res.body.deliveries as { status: string }[] | undefined)?.[0];
        return d?.status === 'sent' && d;
      },
      45_000,
      'delivery sent after the new worker took over',
    );

    expect(sent).toMatchObject({ id: reference, channel: 'sms', status: 'sent', attempts: 2 });
    expect(fake.sms.filter((m) => m.reference === reference)).toHaveLength(1);
    expect(fake.sms).toHaveLength(1);
    // how it knew: the retry asked Notify for the reference instead of sending again
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    const after = fake.requests.slice(killedAt);
    expect(after.some((r) => r.method === 'GET' && r.path === '/v2/notifications' && r.status === 200)).toBe(true);
  });
});
