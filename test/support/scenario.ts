/** Acting as operator, hospital and provider against a running service. */
import { randomInt } from 'node:crypto';
import postgres from 'postgres';
import { expect } from 'vitest';
import { parseAck } from '../../src/hl7/ack.js';
import { eventually, fixture } from './fixtures.js';
import { startTestService, type TestService } from './service.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

/** A random NHS number in the 999 test range that passes the modulus 11 check. */
export function testNhsNumber(): string {
  for (;;) {
    const digits = [9, 9, 9, ...Array.from({ length: 6 }, () => randomInt(10))];
    const sum = digits.reduce((acc, d, i) => acc + d * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    return [...digits, check === 11 ? 0 : check].join('');
  }
}

let seq = 0;
/** A fresh spell: its own NHS number, visit number and MSH-10 prefix, so tests sharing a service do not meet. */
export function newSpell() {
  seq++;
  const tag = `${Date.now().toString(36)}${seq}`.toUpperCase();
  return { nhs: testNhsNumber(), visit: `SPL${tag}`, ids: `T${tag}-` };
}

/** A fixture rewritten for a spell (patient Margaret Smith / SPL0001234, or Arthur Jones / SPL0005678). */
export function spellMessage(
  name: string,
  spell: ReturnType<typeof newSpell>,
  extra: Record<string, string> = {},
): string {
  return fixture(name, {
    '9995260182': spell.nhs,
    '9991590838': spell.nhs,
    SPL0001234: spell.visit,
    SPL0005678: spell.visit,
    '|RX1-0': `|${spell.ids}0`,
    ...extra,
  });
}

/** The MLLP senders a test hospital allows: the tests' own MLLP clients connect from 127.0.0.1. */
export const LOOPBACK_MLLP = { mllpAllowedCidrs: ['127.0.0.1/32'] };

export async function registerHospital(
  svc: TestService,
  odsCode = 'RX1',
  name = 'Leeds General Infirmary',
  mllp: { mllpAllowedCidrs?: string[]; mllpCertificateFingerprints?: string[] } = {},
) {
  const res = await svc.api('POST', '/v1/hospitals', { key: svc.adminToken, body: { odsCode, name, ...mllp } });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; odsCode: string; name: string; apiKey: string };
}

export async function registerProvider(svc: TestService, odsCode: string, name = `Care ${odsCode}`) {
  const res = await svc.api('POST', '/v1/providers', { key: svc.adminToken, body: { odsCode, name } });
  expect(res.status).toBe(201);
  return res.body as { id: string; odsCode: string; name: string; apiKey: string };
}

export async function addContact(
  svc: TestService,
  provider: { id: string; apiKey: string },
  body: { name: string; role?: string; phone?: string; email?: string; webhookUrl?: string },
) {
  const res = await svc.api('POST', `/v1/providers/${provider.id}/contacts`, {
    key: provider.apiKey,
    body: { role: 'coordinator', ...body },
  });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; webhookSecret?: string };
}

export async function setPolicy(
  svc: TestService,
  provider: { id: string; apiKey: string },
  steps: { contactIds: string[]; channels: string[]; waitSeconds: number }[],
) {
  const res = await svc.api('PUT', `/v1/providers/${provider.id}/escalation-policy`, {
    key: provider.apiKey,
    body: { steps },
  });
  expect(res.status, res.text).toBe(200);
}

export async function registerClient(
  svc: TestService,
  provider: { id: string; apiKey: string },
  nhs: string,
  body: { dateOfBirth: string; reference?: string; familyName?: string; givenName?: string },
) {
  const res = await svc.api('PUT', `/v1/providers/${provider.id}/clients/${nhs}`, { key: provider.apiKey, body });
  expect([200, 201], res.text).toContain(res.status);
  return res.body as { id: string };
}

/** POSTs one HL7 message as a hospital; returns the HTTP status and the parsed ACK. */
export async function sendHl7(
  svc: TestService,
  key: string | undefined,
  message: string | Buffer,
  contentType = 'x-application/hl7-v2+er7',
) {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${svc.baseUrl}/v1/hl7`, { method: 'POST', headers, body: message });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, ack: parseAck(text) };
}

/** The admission of a spell, as the operator sees it. */
export async function admissionOf(svc: TestService, visit: string, hospital = 'RX1') {
  const list = await svc.api('GET', `/v1/admissions?hospital=${hospital}&visitNumber=${visit}`, {
    key: svc.adminToken,
  });
  const id = list.body?.items?.[0]?.id as string | undefined;
  if (!id) return undefined;
  const res = await svc.api('GET', `/v1/admissions/${id}`, { key: svc.adminToken });
  return res.body as {
    id: string;
    status: string;
    alerts: any[];
    events: any[];
    statusReason?: string;
    statusReasonCode?: string;
    location: any;
    dischargedAt: string | null;
  };
}

/** The admission of a spell once `ok` holds for it (polled: the workflow records it shortly after the ACK). */
export async function admissionWhere(
  svc: TestService,
  visit: string,
  ok: (a: NonNullable<Awaited<ReturnType<typeof admissionOf>>>) => boolean,
  what = 'admission state',
) {
  return eventually(
    async () => {
      const a = await admissionOf(svc, visit);
      return a && ok(a) ? a : undefined;
    },
    20_000,
    what,
  );
}

/** What most e2e files share: a service, a webhook receiver standing in for providers' systems, one hospital. */
export interface Story {
  svc: TestService;
  hooks: WebhookReceiver;
  hospital: Awaited<ReturnType<typeof registerHospital>>;
}

/** Starts a {@link Story}: `beforeAll(async () => ({ svc, hooks, hospital } = await startStory()))`. */
export async function startStory(
  opts: { env?: Record<string, string>; odsCode?: string; hospitalName?: string } = {},
): Promise<Story> {
  const [svc, hooks] = await Promise.all([startTestService({ env: opts.env }), startWebhookReceiver()]);
  const hospital = await registerHospital(svc, opts.odsCode ?? 'RX1', opts.hospitalName ?? 'Leeds General Infirmary');
  return { svc, hooks, hospital };
}

export async function stopStory(story: Partial<Story>): Promise<void> {
  await story.svc?.stop();
  await story.hooks?.close();
}

/**
 * A provider with two webhook contacts (`/<ods>/c1`, `/<ods>/c2` on the receiver, secrets registered there) on a
 * two-step webhook ladder, and optionally a client.
 */
export async function webhookLadderProvider(
  story: Pick<Story, 'svc' | 'hooks'>,
  ods: string,
  opts: { waitSeconds: number; client?: { nhs: string; dateOfBirth?: string; reference?: string } },
) {
  const { svc, hooks } = story;
  const provider = await registerProvider(svc, ods);
  const c1 = await addContact(svc, provider, { name: 'Day coordinator', webhookUrl: hooks.url(`/${ods}/c1`) });
  const c2 = await addContact(svc, provider, { name: 'On-call manager', webhookUrl: hooks.url(`/${ods}/c2`) });
  hooks.setSecret(`/${ods}/c1`, c1.webhookSecret!);
  hooks.setSecret(`/${ods}/c2`, c2.webhookSecret!);
  await setPolicy(svc, provider, [
    { contactIds: [c1.id], channels: ['webhook'], waitSeconds: opts.waitSeconds },
    { contactIds: [c2.id], channels: ['webhook'], waitSeconds: opts.waitSeconds },
  ]);
  if (opts.client) {
    const { nhs, dateOfBirth = '1941-03-12', reference } = opts.client;
    await registerClient(svc, provider, nhs, { dateOfBirth, ...(reference ? { reference } : {}) });
  }
  return { provider, c1, c2 };
}

/**
 * The ingestion tests' world: a {@link Story} with a second hospital (RR8, for sender mismatches), one provider with
 * one webhook contact at `/<providerOds>/c1` on a ladder that never escalates within a test, and a direct database
 * handle for checking what was stored. Close `db` before {@link stopStory}.
 */
export async function startIngestStory(providerOds: string) {
  const story = await startStory();
  const { svc, hooks } = story;
  const db = postgres(svc.db.url, { max: 2, onnotice: () => undefined });
  const rr8 = await registerHospital(svc, 'RR8', 'St James University Hospital');
  const provider = await registerProvider(svc, providerOds);
  const hook = `/${providerOds}/c1`;
  const contact = await addContact(svc, provider, { name: 'Coordinator', webhookUrl: hooks.url(hook) });
  hooks.setSecret(hook, contact.webhookSecret!);
  await setPolicy(svc, provider, [{ contactIds: [contact.id], channels: ['webhook'], waitSeconds: 600 }]);
  return { ...story, db, rx1: story.hospital, rr8, provider };
}

export type IngestStory = Awaited<ReturnType<typeof startIngestStory>>;

/**
 * What a test of alerts does against its story, over and over: send a message as the hospital (it must be AA), read
 * the webhooks a provider's contact got, wait for one of a kind. `story` is read at each call (tests start it in
 * `beforeAll`).
 */
export function storyHelpers(story: () => Story) {
  return {
    async send(message: string) {
      const s = story();
      const res = await sendHl7(s.svc, s.hospital.apiKey, message);
      expect(res.ack.code, res.text).toBe('AA');
      return res;
    },
    /** the webhook bodies `/<ods>/<contact>` got, oldest first */
    bodiesTo(ods: string, contact = 'c1') {
      return story()
        .hooks.received(`/${ods}/${contact}`)
        .map((r) => r.body as Record<string, any>);
    },
    /** the next (or an earlier) webhook of `type` to `/<ods>/c1` that `extra` accepts */
    async webhookOf(ods: string, type: string, extra: (b: Record<string, any>) => boolean = () => true) {
      const hook = await story().hooks.waitFor(
        (r) => r.path === `/${ods}/c1` && (r.body as any)?.type === type && extra(r.body as any),
        20_000,
      );
      return hook.body as Record<string, any>;
    },
  };
}
