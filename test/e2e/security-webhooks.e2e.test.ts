/**
 * CONTRACT.md "Security defaults", webhooks: the address guard is always on, whatever NODE_ENV says (unset,
 * `staging`, `production`), at registration and again at every send. Only ALLOW_LOOPBACK_WEBHOOKS=true lets
 * loopback through (over http too), never private ranges or cloud metadata; the process warns at start when it is
 * set. (With NODE_ENV=production it refuses to start: security-startup.e2e.test.ts.)
 *
 * Each combination runs the whole service. Registration is driven through the API; the send-time check is shown
 * with contacts written straight into PostgreSQL (as a row stored before the guard, or while the flag was on, would
 * be), then an admission whose alert goes to all of them.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import {
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

const METADATA = 'https://169.254.169.254/latest/meta-data/';
const PRIVATE = 'http://10.0.0.1/';

const problem = (message: string) => ({
  type: 'https://admission-alerts.example/problems/bad-request',
  title: 'Invalid request',
  status: 400,
  detail: `webhookUrl: ${message}`,
  errors: [{ field: 'webhookUrl', message }],
});
const METADATA_REFUSED =
  'webhook URL host 169.254.169.254 is a link-local address; webhooks go only to public addresses';
const PRIVATE_REFUSED = 'webhook URL host 10.0.0.1 is a private address; webhooks go only to public addresses';
const LOOPBACK_REFUSED = 'webhook URL host 127.0.0.1 is a loopback address; webhooks go only to public addresses';
const WARNING =
  'ALLOW_LOOPBACK_WEBHOOKS=true: webhooks may go to loopback addresses (localhost, 127.0.0.0/8, ::1), over http too; for tests and demos only';

let hooks: WebhookReceiver;
beforeAll(async () => {
  hooks = await startWebhookReceiver();
});
afterAll(async () => {
  await hooks?.close();
});

const COMBINATIONS: { nodeEnv: string | undefined; loopback: boolean }[] = [
  { nodeEnv: undefined, loopback: false },
  { nodeEnv: undefined, loopback: true },
  { nodeEnv: 'staging', loopback: false },
  { nodeEnv: 'staging', loopback: true },
  { nodeEnv: 'production', loopback: false },
];

let seq = 0;

describe.each(COMBINATIONS)('NODE_ENV=$nodeEnv, ALLOW_LOOPBACK_WEBHOOKS=$loopback', ({ nodeEnv, loopback }) => {
  let svc: TestService;
  const warnings: string[] = [];
  let hospital: Awaited<ReturnType<typeof registerHospital>>;
  let provider: Awaited<ReturnType<typeof registerProvider>>;
  const tag = `${nodeEnv ?? 'unset'}-${loopback}`;
  /** the loopback contact registered through the API (only with the flag) */
  let registered: string | undefined;

  beforeAll(async () => {
    const env: Record<string, string> = { ALLOW_LOOPBACK_WEBHOOKS: String(loopback) };
    if (nodeEnv) env.NODE_ENV = nodeEnv;
    svc = await startTestService({
      env,
      logger: pino(
        { level: 'warn' },
        { write: (l: string) => void warnings.push((JSON.parse(l) as { msg: string }).msg) },
      ),
    });
    hospital = await registerHospital(svc, 'RX1');
    provider = await registerProvider(svc, `VW${String(++seq).padStart(3, '0')}`);
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it(`${loopback ? 'warns' : 'does not warn'} at start about ALLOW_LOOPBACK_WEBHOOKS`, () => {
    expect(warnings.filter((w) => w === WARNING)).toHaveLength(loopback ? 1 : 0);
  });

  it('registration: cloud metadata and a private address are 400 problem+json, loopback only with the flag', async () => {
    const post = (webhookUrl: string) =>
      svc.api('POST', `/v1/providers/${provider.id}/contacts`, {
        key: provider.apiKey,
        body: { name: 'Rota system', role: 'system', webhookUrl },
      });
    const metadata = await post(METADATA);
    expect(metadata.status).toBe(400);
    expect(metadata.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(metadata.body).toEqual(problem(METADATA_REFUSED));

    const priv = await post(PRIVATE);
    expect(priv.status).toBe(400);
    expect(priv.body).toEqual(problem(PRIVATE_REFUSED));

    const local = await post(hooks.url(`/registered/${tag}`));
    if (loopback) {
      expect(local.status, local.text).toBe(201);
      expect(local.body.webhookUrl).toBe(hooks.url(`/registered/${tag}`));
      registered = local.body.id as string;
      hooks.setSecret(`/registered/${tag}`, local.body.webhookSecret as string);
    } else {
      expect(local.status).toBe(400);
      expect(local.body).toEqual(problem(LOOPBACK_REFUSED));
    }
    const contacts = await svc.api('GET', `/v1/providers/${provider.id}/contacts`, { key: provider.apiKey });
    expect(contacts.body.items).toHaveLength(loopback ? 1 : 0);
  });

  it(`every send is checked again: metadata and private are rejected unsent; loopback is ${loopback ? 'sent' : 'rejected unsent'}`, async () => {
    // contacts stored before the guard (or while the flag was on): straight into PostgreSQL
    const path = `/sent/${tag}`;
    const db = postgres(svc.db.url, { max: 1, onnotice: () => undefined });
    const urls = { metadata: METADATA, private: PRIVATE, loopback: hooks.url(path) };
    const ids: Record<keyof typeof urls, string> = { metadata: '', private: '', loopback: '' };
    try {
      for (const [name, url] of Object.entries(urls) as [keyof typeof urls, string][]) {
        const secret = `whsec_${randomBytes(24).toString('base64url')}`;
        const [row] = await db<{ id: string }[]>`
          insert into contacts (provider_id, name, role, webhook_url, webhook_secret)
          values (${provider.id}, ${name}, 'system', ${url}, ${secret}) returning id`;
        ids[name] = row!.id;
        if (name === 'loopback') hooks.setSecret(path, secret);
      }
    } finally {
      await db.end();
    }
    const contactIds = [...Object.values(ids), ...(registered ? [registered] : [])];
    await setPolicy(svc, provider, [{ contactIds, channels: ['webhook'], waitSeconds: 600 }]);
    const spell = newSpell();
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell))).ack.code).toBe('AA');

    type Delivery = { contactId: string; channel: string; status: string; detail: string | null };
    const deliveries = await eventually(
      async () => {
        const list = await svc.api('GET', '/v1/alerts', { key: provider.apiKey });
        const alertId = (list.body?.items ?? [])[0]?.id as string | undefined;
        if (!alertId) return undefined;
        const alert = await svc.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
        const ds = (alert.body.deliveries as Delivery[]).filter((d) => contactIds.includes(d.contactId));
        return ds.length === contactIds.length && ds.every((d) => d.status !== 'pending') ? ds : undefined;
      },
      30_000,
      'settled deliveries',
    );
    const of = (name: keyof typeof ids) => deliveries.find((d) => d.contactId === ids[name]);
    expect(of('metadata')).toMatchObject({ channel: 'webhook', status: 'rejected', detail: METADATA_REFUSED });
    expect(of('private')).toMatchObject({ channel: 'webhook', status: 'rejected', detail: PRIVATE_REFUSED });
    // and operators are told, not left with silence
    expect(warnings).toContain(`webhook refused: ${METADATA_REFUSED}`);
    expect(warnings).toContain(`webhook refused: ${PRIVATE_REFUSED}`);
    if (loopback) {
      expect(of('loopback')).toMatchObject({ status: 'sent' });
      const got = hooks.received(path);
      expect(got).toHaveLength(1);
      expect(got[0]!.signatureValid).toBe(true);
    } else {
      expect(of('loopback')).toMatchObject({ status: 'rejected', detail: LOOPBACK_REFUSED });
      expect(hooks.received(path)).toHaveLength(0);
    }
    if (registered) {
      // registered through the API while the flag allowed it, and sent to
      expect(deliveries.find((d) => d.contactId === registered)).toMatchObject({ status: 'sent' });
      expect(hooks.received(`/registered/${tag}`).map((r) => r.signatureValid)).toEqual([true]);
    }
  });
});
