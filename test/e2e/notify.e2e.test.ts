/**
 * Issue 4, items 1–5: alerts that reach a person through GOV.UK Notify (SMS and email) and signed webhooks, each
 * delivery exactly once, Notify's errors handled as Notify documents them, and no patient data in SMS or email.
 * The whole service runs on real sockets against a fake Notify that speaks Notify's API and a webhook receiver.
 */
import { randomInt } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { startFakeNotify, type FakeNotification, type FakeNotify } from '../support/fake-notify.js';
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

const HOSPITAL = 'Leeds General Infirmary';
/** Long enough that a step never times out during a test: any escalation seen is the ladder moving on at once. */
const LONG_WAIT = 600;

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A pino logger that keeps every line, to assert on what operators would read. */
function capturingLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** A UK mobile number in Ofcom's drama range, unique enough that each test finds only its own messages. */
const mobile = (): string => `07700 9${String(randomInt(100_000)).padStart(5, '0')}`;
const e164 = (uk: string): string => `+44${uk.replace(/\s/g, '').slice(1)}`;

interface Alert {
  id: string;
  kind: string;
  status: string;
  deliveries: {
    id: string;
    step: number;
    contactId: string;
    channel: string;
    status: string;
    attempts: number;
    detail: string | null;
  }[];
}

let svc: TestService;
let fake: FakeNotify;
let hooks: WebhookReceiver;
let logs: LogLine[];
let hospital: Awaited<ReturnType<typeof registerHospital>>;
let providerSeq = 0;

beforeAll(async () => {
  [fake, hooks] = await Promise.all([startFakeNotify(), startWebhookReceiver()]);
  const captured = capturingLogger();
  logs = captured.lines;
  svc = await startTestService({
    env: {
      NOTIFY_API_KEY: fake.apiKey,
      NOTIFY_BASE_URL: fake.baseUrl,
      NOTIFY_SMS_TEMPLATE_ID: fake.smsTemplateId,
      NOTIFY_EMAIL_TEMPLATE_ID: fake.emailTemplateId,
    },
    logger: captured.logger,
  });
  hospital = await registerHospital(svc, 'RX1', HOSPITAL);
});
afterAll(async () => {
  await svc?.stop();
  await Promise.all([fake?.close(), hooks?.close()]);
});

async function newProvider(s: TestService = svc) {
  providerSeq++;
  return registerProvider(s, `VN${String(providerSeq).padStart(3, '0')}`);
}

async function alertOf(provider: { apiKey: string }, alertId: string, s: TestService = svc): Promise<Alert> {
  const res = await s.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
  expect(res.status, res.text).toBe(200);
  return res.body as Alert;
}

/** Waits until the alert has a delivery matching `match` that is no longer pending. */
async function settledDelivery(
  provider: { apiKey: string },
  alertId: string,
  match: (d: Alert['deliveries'][number]) => boolean,
  s: TestService = svc,
) {
  return eventually(
    async () => (await alertOf(provider, alertId, s)).deliveries.find((d) => match(d) && d.status !== 'pending'),
    20_000,
    'delivery settled',
  );
}

const alertIdOf = (n: FakeNotification): string => n.reference!.split(':')[0]!;

describe('SMS and email through GOV.UK Notify', () => {
  it('an admission goes by SMS and email on the channels the policy chose, with the delivery id as Notify reference', async () => {
    const spell = newSpell();
    const provider = await newProvider();
    const phone = mobile();
    const c1 = await addContact(svc, provider, { name: 'Coordinator', phone, email: 'rota@care.example' });
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['sms', 'email'], waitSeconds: LONG_WAIT }]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12', reference: 'CL-1001' });

    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell))).ack.code).toBe('AA');
    const sms = await eventually(async () => fake.sms.find((m) => m.phoneNumber === e164(phone)), 20_000, 'SMS');
    const email = await eventually(
      async () => fake.emails.find((m) => m.reference?.startsWith(alertIdOf(sms))),
      20_000,
      'email',
    );

    const alertId = alertIdOf(sms);
    expect(sms.reference).toBe(`${alertId}:1:${c1.id}:sms`);
    expect(email.reference).toBe(`${alertId}:1:${c1.id}:email`);
    expect(sms.templateId).toBe(fake.smsTemplateId);
    expect(email.templateId).toBe(fake.emailTemplateId);
    expect(email.emailAddress).toBe('rota@care.example');
    expect(Object.keys(sms.personalisation).sort()).toEqual([
      'acknowledge_url',
      'client_reference',
      'event',
      'hospital',
      'kind',
    ]);
    expect(sms.personalisation).toMatchObject({
      event: 'admitted to hospital',
      kind: 'admission',
      hospital: HOSPITAL,
      client_reference: 'CL-1001',
    });
    // each delivery has its own one-time link
    expect(sms.personalisation.acknowledge_url).not.toBe(email.personalisation.acknowledge_url);

    const alert = await eventually(
      async () => {
        const a = await alertOf(provider, alertId);
        return a.deliveries.length === 2 && a.deliveries.every((d) => d.status === 'sent') && a;
      },
      20_000,
      'both deliveries sent',
    );
    expect(alert.deliveries.map((d) => [d.id, d.channel, d.status, d.attempts]).sort()).toEqual([
      [email.reference, 'email', 'sent', 1],
      [sms.reference, 'sms', 'sent', 1],
    ]);
  });

  it('no patient data in any SMS or email: no NHS number, name, date of birth, address, ward or diagnosis', async () => {
    const provider = await newProvider();
    const phone = mobile();
    const email = `coord-${randomInt(1e9)}@care.example`;
    const c1 = await addContact(svc, provider, { name: 'Coordinator', phone, email });
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['sms', 'email'], waitSeconds: LONG_WAIT }]);

    const mine = (): FakeNotification[] =>
      [...fake.sms, ...fake.emails].filter((m) =>
        m.type === 'sms' ? m.phoneNumber === e164(phone) : m.emailAddress === email,
      );
    /** sends a message and waits for its SMS and email (`kind`), or just lets it settle (no alert) */
    const send = async (f: string, spell: ReturnType<typeof newSpell>, kind?: string) => {
      expect((await sendHl7(svc, hospital.apiKey, spellMessage(f, spell))).ack.code, f).toBe('AA');
      if (kind) {
        await eventually(
          async () => mine().filter((m) => m.personalisation.kind === kind).length === 2,
          20_000,
          `SMS and email for the ${kind}`,
        );
      }
    };

    // Margaret Smith: admitted (reason "Fall at home"), moved to Ward 7, diagnosis updated, discharged home
    const stay = newSpell();
    await registerClient(svc, provider, stay.nhs, { dateOfBirth: '1941-03-12', reference: 'CL-2002' });
    await send('a01-admit.hl7', stay, 'admission');
    await send('a02-transfer.hl7', stay, 'transfer');
    await send('a08-update.hl7', stay);
    await send('a03-discharge-home.hl7', stay, 'discharge');
    // Arthur Jones: died in hospital
    const death = newSpell();
    await registerClient(svc, provider, death.nhs, { dateOfBirth: '1933-09-07', reference: 'CL-3003' });
    await send('a03-discharge-died.hl7', death, 'death');
    const messages = mine();
    expect(messages).toHaveLength(8);

    const forbidden = [
      stay.nhs,
      death.nhs,
      ...[stay.nhs, death.nhs].map((n) => `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`),
      'SMITH',
      'MARGARET',
      'JONES',
      'ARTHUR',
      '1941',
      '19410312',
      '12/03/1941',
      '1933',
      '07/09/1933',
      'High Street',
      'LS1 4AB',
      'Mill Lane',
      'Ward 12',
      'Ward 7',
      'Elderly Care',
      'Orthopaedics',
      'Fall at home',
      'Fractured neck of femur',
      'femur',
      'CONSULTANT',
    ];
    for (const m of messages) {
      const url = String(m.personalisation.acknowledge_url);
      expect(url).toMatch(new RegExp(`^${svc.baseUrl}/a/[A-Za-z0-9_-]{22,}$`));
      // the one-time link is random: leave it out so its letters cannot look like a name
      const parts = [m.body, m.type === 'email' ? m.subject : '', JSON.stringify(m.personalisation)].map((t) =>
        t.split(url).join('<link>'),
      );
      const text = parts.join('\n').toLowerCase();
      for (const f of forbidden)
        expect(text, `${m.type} ${String(m.personalisation.kind)}`).not.toContain(f.toLowerCase());
      // what it does carry: the hospital, the provider's own reference, and the link
      expect(m.body).toContain(HOSPITAL);
      expect(m.body).toContain(url);
      expect(m.body).toContain(m.personalisation.kind === 'death' ? 'CL-3003' : 'CL-2002');
    }

    // the links work: each opens the acknowledgement page
    for (const m of messages) {
      const page = await fetch(String(m.personalisation.acknowledge_url));
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      await page.text();
    }
  });

  it('Notify 500 twice, then accepted: retried with backoff, exactly one SMS, the delivery ends sent', async () => {
    const spell = newSpell();
    const provider = await newProvider();
    const phone = mobile();
    const c1 = await addContact(svc, provider, { name: 'Coordinator', phone });
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['sms'], waitSeconds: LONG_WAIT }]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const before = fake.requests.length;

    fake.failNext(500, 2);
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const sms = await eventually(async () => fake.sms.find((m) => m.phoneNumber === e164(phone)), 30_000, 'SMS');
    const delivery = await settledDelivery(provider, alertIdOf(sms), (d) => d.channel === 'sms');

    expect(delivery).toMatchObject({ id: sms.reference, status: 'sent', attempts: 3 });
    expect(fake.sms.filter((m) => m.reference === sms.reference)).toHaveLength(1);
    expect(fake.requests.slice(before).filter((r) => r.status === 500)).toHaveLength(2);
    // the retries asked Notify for the reference before sending again (an answer lost in a 500 may have been sent)
    expect(fake.requests.slice(before).some((r) => r.method === 'GET' && r.path === '/v2/notifications')).toBe(true);
  });

  it('Notify 400 on an SMS is permanent: recorded with Notify’s reason, never retried, and the next step goes at once', async () => {
    const spell = newSpell();
    const provider = await newProvider();
    const [p1, p2] = [mobile(), mobile()];
    const c1 = await addContact(svc, provider, { name: 'Day coordinator', phone: p1 });
    const c2 = await addContact(svc, provider, { name: 'Manager', phone: p2 });
    await setPolicy(svc, provider, [
      { contactIds: [c1.id], channels: ['sms'], waitSeconds: LONG_WAIT },
      { contactIds: [c2.id], channels: ['sms'], waitSeconds: LONG_WAIT },
    ]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });

    fake.failNext(400, 1, { path: '/v2/notifications/sms' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const toManager = await eventually(async () => fake.sms.find((m) => m.phoneNumber === e164(p2)), 20_000, 'step 2');

    const alertId = alertIdOf(toManager);
    expect(toManager.reference).toBe(`${alertId}:2:${c2.id}:sms`);
    const rejected = await settledDelivery(provider, alertId, (d) => d.step === 1);
    expect(rejected).toMatchObject({
      contactId: c1.id,
      channel: 'sms',
      status: 'rejected',
      attempts: 1,
      detail: "Can't send to this recipient using a team-only API key",
    });
    expect(fake.sms.filter((m) => m.phoneNumber === e164(p1))).toHaveLength(0);
  });

  it('Notify 400 on one channel: the other channel of the same step still goes', async () => {
    const spell = newSpell();
    const provider = await newProvider();
    const phone = mobile();
    const email = `coord-${randomInt(1e9)}@care.example`;
    const c1 = await addContact(svc, provider, { name: 'Coordinator', phone, email });
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['sms', 'email'], waitSeconds: LONG_WAIT }]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });

    fake.failNext(400, 1, { path: '/v2/notifications/email', message: 'Not a valid email address' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const sms = await eventually(async () => fake.sms.find((m) => m.phoneNumber === e164(phone)), 20_000, 'SMS');
    const failed = await settledDelivery(provider, alertIdOf(sms), (d) => d.channel === 'email');
    expect(failed).toMatchObject({ status: 'rejected', detail: 'Not a valid email address' });
    expect((await settledDelivery(provider, alertIdOf(sms), (d) => d.channel === 'sms')).status).toBe('sent');
    expect(fake.emails.filter((m) => m.emailAddress === email)).toHaveLength(0);
  });

  it('Notify 403 (bad key): an error log line, the delivery failed with the reason, /health/ready shows Notify misconfigured', async () => {
    const spell = newSpell();
    const provider = await newProvider();
    const phone = mobile();
    const c1 = await addContact(svc, provider, { name: 'Coordinator', phone, webhookUrl: hooks.url('/n403') });
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['sms', 'webhook'], waitSeconds: LONG_WAIT }]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const ready = await svc.api('GET', '/health/ready');
    expect(ready.body.notify).toMatchObject({ status: 'ok' });

    fake.failNext(403, 1, { path: '/v2/notifications/sms' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const hook = await hooks.waitFor((r) => r.path === '/n403', 20_000);
    const alertId = (hook.body as { alertId: string }).alertId;
    const failed = await settledDelivery(provider, alertId, (d) => d.channel === 'sms');

    expect(failed.status).toBe('failed');
    expect(failed.attempts).toBe(1); // retrying cannot help a bad key
    expect(failed.detail).toMatch(/^GOV.UK Notify refused the API key \(403 AuthError: .*\); check NOTIFY_API_KEY/);
    expect(fake.sms.filter((m) => m.phoneNumber === e164(phone))).toHaveLength(0);

    const errorLine = logs.find((l) => l.level >= 50 && l.deliveryId === failed.id);
    expect(errorLine?.msg).toBe('delivery channel misconfigured');
    expect(JSON.stringify(logs)).not.toContain(fake.apiKey.slice(-36));

    const health = await svc.api('GET', '/health/ready');
    expect(health.status).toBe(200); // Notify is not a readiness dependency (CONTRACT.md)
    expect(health.body).toMatchObject({
      status: 'ok',
      checks: { postgres: 'up', temporal: 'up' },
      notify: { status: 'misconfigured', detail: expect.stringContaining('NOTIFY_API_KEY') },
    });
  });

  it('once Notify accepts again, /health/ready shows Notify ok', async () => {
    const spell = newSpell();
    const provider = await newProvider();
    const phone = mobile();
    const c1 = await addContact(svc, provider, { name: 'Coordinator', phone });
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['sms'], waitSeconds: LONG_WAIT }]);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const sms = await eventually(async () => fake.sms.find((m) => m.phoneNumber === e164(phone)), 20_000, 'SMS');
    await settledDelivery(provider, alertIdOf(sms), () => true);
    expect((await svc.api('GET', '/health/ready')).body.notify).toMatchObject({ status: 'ok' });
  });
});

describe('webhooks', () => {
  async function webhookProvider(path: string) {
    const provider = await newProvider();
    const c1 = await addContact(svc, provider, { name: 'Rota system', webhookUrl: hooks.url(path) });
    hooks.setSecret(path, c1.webhookSecret!);
    await setPolicy(svc, provider, [{ contactIds: [c1.id], channels: ['webhook'], waitSeconds: LONG_WAIT }]);
    return { provider, c1 };
  }

  it('a receiver answering 500 twice gets a third attempt with the same event id; after its 2xx, nothing more', async () => {
    const spell = newSpell();
    const { provider } = await webhookProvider('/retry');
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });

    hooks.failNext(500, 2, { path: '/retry' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const delivered = await hooks.waitFor((r) => r.path === '/retry' && r.status === 200, 30_000);
    const alertId = (delivered.body as { alertId: string }).alertId;
    const delivery = await settledDelivery(provider, alertId, () => true);
    await new Promise((r) => setTimeout(r, 2_500)); // longer than the next backoff would have been

    const all = hooks.received('/retry');
    expect(all.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(all.map((r) => (r.body as { id: string }).id)).size).toBe(1);
    expect(all.every((r) => r.signatureValid)).toBe(true);
    expect(delivery).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('a redirect is not followed: the receiver’s own URL is retried and the Location is never called', async () => {
    const spell = newSpell();
    const { provider } = await webhookProvider('/moved');
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });

    hooks.failNext(307, 1, { path: '/moved', location: hooks.url('/elsewhere') });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const delivered = await hooks.waitFor((r) => r.path === '/moved' && r.status === 200, 30_000);
    const delivery = await settledDelivery(provider, (delivered.body as { alertId: string }).alertId, () => true);

    expect(hooks.received('/moved').map((r) => r.status)).toEqual([307, 200]);
    expect(hooks.received('/elsewhere')).toHaveLength(0);
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2 });
  });
});

describe('without NOTIFY_API_KEY', () => {
  let off: TestService;
  let offLogs: LogLine[];

  beforeAll(async () => {
    const captured = capturingLogger();
    offLogs = captured.lines;
    off = await startTestService({ logger: captured.logger });
  });
  afterAll(async () => {
    await off?.stop();
  });

  it('one clear log line at start; an SMS-only step 1 is skipped with the reason and step 2 (webhook) goes at once', async () => {
    const h = await registerHospital(off, 'RX1', HOSPITAL);
    const provider = await newProvider(off);
    const c1 = await addContact(off, provider, { name: 'Coordinator', phone: mobile() });
    const c2 = await addContact(off, provider, { name: 'Rota system', webhookUrl: hooks.url('/nokey') });
    await setPolicy(off, provider, [
      { contactIds: [c1.id], channels: ['sms'], waitSeconds: LONG_WAIT },
      { contactIds: [c2.id], channels: ['webhook'], waitSeconds: LONG_WAIT },
    ]);
    const spell = newSpell();
    await registerClient(off, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const requestsBefore = fake.requests.length;

    await sendHl7(off, h.apiKey, spellMessage('a01-admit.hl7', spell));
    const hook = await hooks.waitFor((r) => r.path === '/nokey', 20_000);
    const body = hook.body as { alertId: string; escalationStep: number };
    expect(body.escalationStep).toBe(2);

    const alert = await alertOf(provider, body.alertId, off);
    expect(alert.deliveries.find((d) => d.step === 1)).toMatchObject({
      channel: 'sms',
      status: 'skipped',
      detail: 'NOTIFY_API_KEY is not set: SMS and email are switched off',
    });
    expect((await settledDelivery(provider, body.alertId, (d) => d.step === 2, off)).status).toBe('sent');

    const lines = offLogs.filter((l) => l.msg.includes('NOTIFY_API_KEY'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'NOTIFY_API_KEY is not set: SMS and email are switched off' });
    expect((await off.api('GET', '/health/ready')).body.notify).toMatchObject({ status: 'disabled' });
    expect(fake.requests.length).toBe(requestsBefore);
  });
});
