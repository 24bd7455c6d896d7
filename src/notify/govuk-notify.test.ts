import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeNotify } from '../../test/support/fake-notify.js';
import type { FakeNotify } from '../../test/support/fake-notify.js';
import { ChannelConfigurationError, RetryableDeliveryError } from './channel.js';
import type { NotifyPersonalisation } from './channel.js';
import {
  NOTIFY_DISABLED_REASON,
  checkNotifyAtStart,
  createGovukNotify,
  describeNotifyConfiguration,
  normaliseUkMobile,
  notifyHealthReporter,
  parseNotifyApiKey,
  templateProblems,
} from './govuk-notify.js';
import type { GovukNotifyOptions } from './govuk-notify.js';

const personalisation: NotifyPersonalisation = {
  event: 'admitted to hospital',
  kind: 'admission',
  hospital: 'Royal Example Hospital',
  client_reference: 'CL-0042',
  acknowledge_url: 'http://localhost:3000/a/tok_123',
};
const MOBILE = '07700 900123';
const EMAIL = 'coordinator@care.example';

function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) }), lines };
}

let fake: FakeNotify;
let logLines: string[];

function notify(overrides: Partial<GovukNotifyOptions> = {}) {
  const { logger, lines } = capturingLogger();
  logLines = lines;
  return createGovukNotify({
    apiKey: fake.apiKey,
    baseUrl: fake.baseUrl,
    smsTemplateId: fake.smsTemplateId,
    emailTemplateId: fake.emailTemplateId,
    timeoutMs: 1_000,
    logger,
    ...overrides,
  });
}

beforeAll(async () => {
  fake = await startFakeNotify();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

describe('GOV.UK Notify sender against a fake Notify over HTTP', () => {
  it('sends an SMS with the delivery id as Notify reference and the rendered template reaches the number', async () => {
    const reference = `dlv-${randomUUID()}`;
    const outcome = await notify().sendSms(MOBILE, personalisation, reference);

    expect(outcome.status).toBe('sent');
    expect(fake.sms).toHaveLength(1);
    const sent = fake.sms[0]!;
    expect(outcome).toEqual({ status: 'sent', providerId: sent.id });
    expect(sent.reference).toBe(reference);
    expect(sent.phoneNumber).toBe('+447700900123');
    expect(sent.templateId).toBe(fake.smsTemplateId);
    expect(sent.body).toBe(
      'admitted to hospital at Royal Example Hospital. Ref: CL-0042. Acknowledge: http://localhost:3000/a/tok_123',
    );
  });

  it('sends an email with the reference and personalisation', async () => {
    const reference = `dlv-${randomUUID()}`;
    const outcome = await notify().sendEmail(EMAIL, personalisation, reference);

    expect(outcome.status).toBe('sent');
    expect(fake.emails).toHaveLength(1);
    expect(fake.emails[0]).toMatchObject({
      reference,
      emailAddress: EMAIL,
      templateId: fake.emailTemplateId,
      subject: 'Your client was admitted to hospital',
      personalisation: { hospital: 'Royal Example Hospital', client_reference: 'CL-0042' },
    });
  });

  it('a number Notify refuses (400 ValidationError) is rejected with Notify’s message, not retried', async () => {
    const outcome = await notify().sendSms('07700 9001', personalisation, 'dlv-short-number');
    expect(outcome).toEqual({ status: 'rejected', reason: 'phone_number Not enough digits' });
    expect(fake.sms).toHaveLength(0);
  });

  it('a landline is rejected as "Not a UK mobile number"', async () => {
    const outcome = await notify().sendSms('020 7946 0000', personalisation, 'dlv-landline');
    expect(outcome).toEqual({ status: 'rejected', reason: 'phone_number Not a UK mobile number' });
  });

  it('a template id Notify does not know is rejected with "Template not found"', async () => {
    const outcome = await notify({ smsTemplateId: randomUUID() }).sendSms(MOBILE, personalisation, 'dlv-tpl');
    expect(outcome).toEqual({ status: 'rejected', reason: 'Template not found' });
  });

  it('a programmed 400 BadRequestError is rejected with Notify’s message', async () => {
    fake.failNext(400);
    const outcome = await notify().sendEmail(EMAIL, personalisation, 'dlv-team-key');
    expect(outcome).toEqual({ status: 'rejected', reason: "Can't send to this recipient using a team-only API key" });
  });

  it('403 from Notify throws ChannelConfigurationError that never contains the API key', async () => {
    fake.failNext(403);
    const error = await notify()
      .sendSms(MOBILE, personalisation, 'dlv-403')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelConfigurationError);
    expect((error as Error).message).toContain('NOTIFY_API_KEY');
    expect((error as Error).message).not.toContain(parseNotifyApiKey(fake.apiKey)!.secret);
  });

  it('the JWT is really checked: a key with the wrong secret gets 403 AuthError at Notify → ChannelConfigurationError', async () => {
    const wrongKey = `fake_live_key-${fake.serviceId}-${randomUUID()}`;
    const error = await notify({ apiKey: wrongKey })
      .sendSms(MOBILE, personalisation, 'dlv-wrong-key')
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ChannelConfigurationError);
    expect((error as Error).message).toContain('AuthError');
    expect(fake.requests.at(-1)).toMatchObject({ status: 403, errors: ['AuthError'] });
    expect(fake.sms).toHaveLength(0);
  });

  it('a key for another service (iss) gets 403 at Notify', async () => {
    const otherService = `fake_live_key-${randomUUID()}-${parseNotifyApiKey(fake.apiKey)!.secret}`;
    await expect(notify({ apiKey: otherService }).sendSms(MOBILE, personalisation, 'dlv-iss')).rejects.toBeInstanceOf(
      ChannelConfigurationError,
    );
    expect(fake.requests.at(-1)?.status).toBe(403);
  });

  it.each([429, 500] as const)('%i from Notify throws RetryableDeliveryError', async (status) => {
    fake.failNext(status);
    const error = await notify()
      .sendSms(MOBILE, personalisation, `dlv-${status}`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toContain(String(status));
  });

  it('retrying after a 500 sends once: the second attempt is accepted', async () => {
    fake.failNext(500);
    const sender = notify();
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-retry')).rejects.toBeInstanceOf(RetryableDeliveryError);
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-retry')).resolves.toMatchObject({ status: 'sent' });
    expect(fake.sms.map((s) => s.reference)).toEqual(['dlv-retry']);
  });

  it('Notify answering later than timeoutMs is a RetryableDeliveryError, and findByReference then shows it was accepted', async () => {
    fake.delayNext(1_500);
    const sender = notify({ timeoutMs: 300 });
    const reference = `dlv-${randomUUID()}`;
    const started = Date.now();
    const error = await sender.sendSms(MOBILE, personalisation, reference).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as Error).message).toContain('300 ms');
    expect(Date.now() - started).toBeLessThan(1_400);
    // the fake accepted it before answering late: the caller must look before sending again
    await expect(sender.findByReference(reference, 'sms')).resolves.toEqual({ id: fake.sms[0]!.id });
  });

  it('an unreachable Notify is a RetryableDeliveryError', async () => {
    const closed = await startFakeNotify();
    const baseUrl = closed.baseUrl;
    await closed.close();
    await expect(notify({ baseUrl }).sendSms(MOBILE, personalisation, 'dlv-down')).rejects.toBeInstanceOf(
      RetryableDeliveryError,
    );
  });

  it('findByReference finds a sent notification by reference and type, and null for an unknown reference', async () => {
    const sender = notify();
    const reference = `dlv-${randomUUID()}`;
    const sent = await sender.sendEmail(EMAIL, personalisation, reference);
    await sender.sendSms(MOBILE, personalisation, `dlv-${randomUUID()}`);

    expect(sent.status).toBe('sent');
    await expect(sender.findByReference(reference, 'email')).resolves.toEqual({ id: fake.emails[0]!.id });
    await expect(sender.findByReference(reference, 'sms')).resolves.toBeNull();
    await expect(sender.findByReference('dlv-never-sent', 'email')).resolves.toBeNull();
  });

  it('findByReference: 403 is a configuration error, 500 is retryable, and a 400 (query refused) answers null so the caller sends', async () => {
    const sender = notify();
    fake.failNext(403);
    await expect(sender.findByReference('dlv-l1', 'sms')).rejects.toBeInstanceOf(ChannelConfigurationError);
    fake.failNext(500);
    await expect(sender.findByReference('dlv-l2', 'sms')).rejects.toBeInstanceOf(RetryableDeliveryError);
    fake.failNext(400);
    await expect(sender.findByReference('dlv-l3', 'sms')).resolves.toBeNull();
  });

  it('without NOTIFY_API_KEY the channel is disabled and nothing reaches Notify', async () => {
    const sender = notify({ apiKey: undefined });
    expect(sender.enabled).toBe(false);
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-off')).resolves.toEqual({
      status: 'disabled',
      reason: 'NOTIFY_API_KEY is not set: SMS and email are switched off',
    });
    await expect(sender.sendEmail(EMAIL, personalisation, 'dlv-off')).resolves.toEqual({
      status: 'disabled',
      reason: NOTIFY_DISABLED_REASON,
    });
    await expect(sender.findByReference('dlv-off', 'sms')).resolves.toBeNull();
    expect(fake.requests).toHaveLength(0);
  });

  it('a channel without its template id is disabled with a reason naming the variable', async () => {
    const sender = notify({ emailTemplateId: undefined });
    expect(sender.enabled).toBe(true);
    await expect(sender.sendEmail(EMAIL, personalisation, 'dlv-no-tpl')).resolves.toEqual({
      status: 'disabled',
      reason: 'NOTIFY_EMAIL_TEMPLATE_ID is not set: email is switched off',
    });
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-sms-ok')).resolves.toMatchObject({ status: 'sent' });
  });

  it('a malformed API key fails at construction without echoing the key', () => {
    expect(() => notify({ apiKey: 'not-a-key-at-all' })).toThrow(ChannelConfigurationError);
    expect(() => notify({ apiKey: 'not-a-key-at-all' })).not.toThrow(/not-a-key-at-all/);
  });

  it('logs the reference and outcome but never the number, the address or the personalisation', async () => {
    fake.failNext(400);
    const sender = notify();
    await sender.sendSms(MOBILE, personalisation, 'dlv-log-1');
    await sender.sendEmail(EMAIL, personalisation, 'dlv-log-2');
    const logs = logLines.join('\n');

    expect(logs).toContain('dlv-log-1');
    expect(logs).toContain('dlv-log-2');
    for (const secret of ['7700', EMAIL, 'Royal Example', 'CL-0042', 'tok_123', 'admitted']) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe('Notify helpers', () => {
  it.each([
    ['07700900123', '+447700900123'],
    ['07700 900 123', '+447700900123'],
    ['+447700900123', '+447700900123'],
    ['+44 (0)7700 900123', '+447700900123'],
    ['0044 7700 900123', '+447700900123'],
    ['447700900123', '+447700900123'],
    ['7700900123', '+447700900123'],
  ])('normaliseUkMobile(%j) is %j', (input, expected) => {
    expect(normaliseUkMobile(input)).toBe(expected);
  });

  it.each(['02079460000', '0770090012', '077009001234', '+12025550123', 'call me'])(
    'normaliseUkMobile(%j) is null: not a UK mobile',
    (input) => {
      expect(normaliseUkMobile(input)).toBeNull();
    },
  );

  it('parseNotifyApiKey splits {key_name}-{service id}-{secret}, even when the name has dashes', () => {
    const service = randomUUID();
    const secret = randomUUID();
    expect(parseNotifyApiKey(`my-test-key-${service}-${secret}`)).toEqual({
      keyName: 'my-test-key',
      serviceId: service,
      secret,
    });
    expect(parseNotifyApiKey('nonsense')).toBeNull();
  });

  it('describeNotifyConfiguration gives the one line to log at start', () => {
    expect(describeNotifyConfiguration({})).toBe(NOTIFY_DISABLED_REASON);
    expect(describeNotifyConfiguration({ apiKey: 'k', smsTemplateId: 's' })).toBe(
      'NOTIFY_EMAIL_TEMPLATE_ID is not set: email is switched off',
    );
    expect(describeNotifyConfiguration({ apiKey: 'k', smsTemplateId: 's', emailTemplateId: 'e' })).toBeNull();
  });
});

describe('what operators see of Notify (health)', () => {
  it('check(): the key and both templates accepted → ok; nothing was sent', async () => {
    const sender = notify();
    expect(sender.health().status).toBe('unknown');
    const h = await sender.check();
    expect(h).toMatchObject({ status: 'ok' });
    expect(Date.parse(h.checkedAt!)).not.toBeNaN();
    expect(fake.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, '{id}')} ${r.status}`)).toEqual([
      'GET /v2/template/{id} 200',
      'GET /v2/template/{id} 200',
    ]);
    expect(fake.sms).toHaveLength(0);
  });

  it('check(): a key Notify refuses (403) → misconfigured, naming NOTIFY_API_KEY and never the secret', async () => {
    const wrongKey = `fake_live_key-${fake.serviceId}-${randomUUID()}`;
    const sender = notify({ apiKey: wrongKey });
    const h = await sender.check();
    expect(h.status).toBe('misconfigured');
    expect(h.detail).toContain('NOTIFY_API_KEY');
    expect(h.detail).not.toContain(parseNotifyApiKey(wrongKey)!.secret);
    expect(sender.health()).toEqual(h);
  });

  it('check(): a template id this Notify service does not have → misconfigured, naming the variable', async () => {
    const h = await notify({ emailTemplateId: randomUUID() }).check();
    expect(h.status).toBe('misconfigured');
    expect(h.detail).toMatch(
      /^NOTIFY_EMAIL_TEMPLATE_ID is not a template of this GOV.UK Notify service \(Notify answered 404 NoResultFound\)$/,
    );
  });

  it('check(): a template with a placeholder this service does not fill, or of the wrong type → misconfigured', async () => {
    const withName = fake.addTemplate({ type: 'sms', body: 'Hello ((first name)), ((hospital)): ((acknowledge_url))' });
    const h = await notify({ smsTemplateId: withName, emailTemplateId: fake.smsTemplateId }).check();
    expect(h.status).toBe('misconfigured');
    expect(h.detail).toContain('NOTIFY_SMS_TEMPLATE_ID uses ((firstname)), which this service does not fill');
    expect(h.detail).toContain('NOTIFY_EMAIL_TEMPLATE_ID is a sms template, not email');
  });

  it('check(): Notify answering 500 → unreachable, not misconfigured', async () => {
    fake.failNext(500);
    const h = await notify().check();
    expect(h).toMatchObject({
      status: 'unreachable',
      detail: 'GOV.UK Notify answered 500 Exception: Internal server error',
    });
  });

  it('a send refused with 403 makes health misconfigured at once; the next accepted send makes it ok again', async () => {
    const sender = notify();
    fake.failNext(403);
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-h1')).rejects.toBeInstanceOf(ChannelConfigurationError);
    expect(sender.health()).toMatchObject({
      status: 'misconfigured',
      detail: expect.stringContaining('NOTIFY_API_KEY'),
    });
    await sender.sendSms(MOBILE, personalisation, 'dlv-h2');
    expect(sender.health().status).toBe('ok');
  });

  it('a send refused with "Template not found" is rejected for that delivery and reported as misconfigured', async () => {
    const sender = notify({ smsTemplateId: randomUUID() });
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-h3')).resolves.toMatchObject({ status: 'rejected' });
    expect(sender.health()).toEqual(
      expect.objectContaining({ status: 'misconfigured', detail: 'NOTIFY_SMS_TEMPLATE_ID: Template not found' }),
    );
    // a bad number says nothing against the configuration
    const ok = notify();
    await ok.sendSms('07700 9001', personalisation, 'dlv-h4');
    expect(ok.health().status).toBe('ok');
  });

  it('without a key: health is disabled with the reason, and check() asks nobody', async () => {
    const sender = notify({ apiKey: undefined });
    await expect(sender.check()).resolves.toEqual({ status: 'disabled', detail: NOTIFY_DISABLED_REASON });
    expect(sender.health().status).toBe('disabled');
    expect(fake.requests).toHaveLength(0);
  });

  it('checkNotifyAtStart logs one error line naming the problem when Notify refuses the key', async () => {
    const { logger, lines } = capturingLogger();
    const wrongKey = `fake_live_key-${fake.serviceId}-${randomUUID()}`;
    await checkNotifyAtStart(notify({ apiKey: wrongKey }), logger);
    const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/^GOV.UK Notify is misconfigured, SMS and email will fail: .*NOTIFY_API_KEY/);
    expect(lines.join('\n')).not.toContain(parseNotifyApiKey(wrongKey)!.secret);
  });

  it('notifyHealthReporter answers at once and re-checks in the background only when the observation is stale', async () => {
    const sender = notify();
    const report = notifyHealthReporter(sender, 60_000);
    expect(report().status).toBe('unknown'); // never observed: starts a check, does not wait for it
    await new Promise((r) => setTimeout(r, 200));
    expect(report().status).toBe('ok');
    const asked = fake.requests.length;
    report();
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.requests.length).toBe(asked); // fresh: no new check
  });

  it('templateProblems: optional content ((name??text)) counts as the placeholder name', () => {
    expect(templateProblems('sms', { type: 'sms', body: '((client_reference??Your client)) ((hospital))' })).toEqual(
      [],
    );
    expect(templateProblems('email', { type: 'email', body: 'x', subject: '((ward))' })).toEqual([
      'NOTIFY_EMAIL_TEMPLATE_ID uses ((ward)), which this service does not fill (it fills event, kind, hospital, client_reference, acknowledge_url)',
    ]);
  });
});

describe('the fake Notify speaks Notify’s API', () => {
  it('GET /v2/template/{id} answers the template as Notify does (with its placeholders)', async () => {
    const { NotifyClient } = await import('notifications-node-client');
    const client = new NotifyClient(fake.baseUrl, fake.apiKey);
    const res = await client.getTemplateById(fake.emailTemplateId);
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      id: fake.emailTemplateId,
      type: 'email',
      version: 1,
      subject: 'Your client was ((event))',
    });
    expect(Object.keys((res.data as unknown as { personalisation: object }).personalisation).sort()).toEqual([
      'acknowledge_url',
      'client_reference',
      'event',
      'hospital',
    ]);
  });

  it('a request field Notify does not know is a 400 ValidationError (additionalProperties: false)', async () => {
    const { NotifyClient } = await import('notifications-node-client');
    const client = new NotifyClient(fake.baseUrl, fake.apiKey);
    // the client only lets its own options through, so go under it to the API client it signs requests with
    const api = (client as unknown as { apiClient: { post(path: string, body: object): Promise<unknown> } }).apiClient;
    const error = await api
      .post('/v2/notifications/sms', {
        template_id: fake.smsTemplateId,
        phone_number: MOBILE,
        nhs_number: '9990000000',
      })
      .catch((e: unknown) => e as { response: { status: number; data: unknown } });
    expect((error as { response: { status: number } }).response.status).toBe(400);
    expect((error as { response: { data: unknown } }).response.data).toEqual({
      status_code: 400,
      errors: [
        { error: 'ValidationError', message: "Additional properties are not allowed ('nhs_number' was unexpected)" },
      ],
    });
    expect(fake.sms).toHaveLength(0);
  });

  it('failNext(status, count, {path}) fails only requests to that path', async () => {
    const sender = notify();
    fake.failNext(400, 1, { path: '/v2/notifications/sms' });
    await expect(sender.sendEmail(EMAIL, personalisation, 'dlv-p1')).resolves.toMatchObject({ status: 'sent' });
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-p2')).resolves.toMatchObject({ status: 'rejected' });
    await expect(sender.sendSms(MOBILE, personalisation, 'dlv-p3')).resolves.toMatchObject({ status: 'sent' });
  });

  it('optional content ((name??text)) renders the text only for yes/true', async () => {
    const id = fake.addTemplate({ type: 'sms', body: 'A((urgent?? URGENT)) ((hospital))' });
    const { NotifyClient } = await import('notifications-node-client');
    const client = new NotifyClient(fake.baseUrl, fake.apiKey);
    await client.sendSms(id, MOBILE, { personalisation: { urgent: 'yes', hospital: 'H' } });
    await client.sendSms(id, MOBILE, { personalisation: { urgent: 'no', hospital: 'H' } });
    expect(fake.sms.map((m) => m.body)).toEqual(['A URGENT H', 'A H']);
  });
});
