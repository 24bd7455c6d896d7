/**
 * CONTRACT.md "Reports": `GET /v1/reports/summary?from=&to=` (operator: all; provider: its own), as JSON and, with
 * `Accept: text/csv`, as CSV. The history is built through the real service (hospital messages, the real ladder,
 * deliveries by webhook and through the fake Notify, acknowledgements through the API); then, so that "within 15 min
 * / 1 h" can be tested without waiting an hour, a small helper sets each alert's `created_at` and `acknowledged_at`
 * in the test database directly to known instants in March 2026. Every figure is then checked.
 */
import { randomInt } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import {
  addContact,
  newSpell,
  registerClient,
  registerProvider,
  sendHl7,
  setPolicy,
  spellMessage,
  startStory,
  stopStory,
  type Story,
} from '../support/scenario.js';

let story: Story;
let fake: FakeNotify;
let pa: Awaited<ReturnType<typeof registerProvider>>;
let pb: Awaited<ReturnType<typeof registerProvider>>;
/** the alerts of the history, by name */
const ids: Record<string, string> = {};

const MARCH = 'from=2026-03-01&to=2026-04-01';
const DELIVERY_ZERO = { sent: 0, rejected: 0, skipped: 0, failed: 0, pending: 0 };

/** Sets an alert's creation time and, when given, its acknowledgement `ackSeconds` later (test database only). */
async function setAlertTimes(alertId: string, createdAt: string, ackSeconds?: number): Promise<void> {
  const sql = postgres(story.svc.db.url, { max: 1, onnotice: () => undefined });
  try {
    await sql`update alerts set created_at = ${createdAt},
      acknowledged_at = case when ${ackSeconds ?? null}::int is null then acknowledged_at
        else ${createdAt}::timestamptz + make_interval(secs => ${ackSeconds ?? 0}) end
      where id = ${alertId}`;
  } finally {
    await sql.end();
  }
}

/** The alert a spell raised for a provider (kind), once its deliveries are all settled (none pending). */
async function settledAlert(visit: string, providerKey: string, kind: string, deliveries: number) {
  return eventually(
    async () => {
      const list = await story.svc.api('GET', '/v1/alerts?status=all', { key: providerKey });
      for (const a of list.body.items as any[]) {
        if (a.kind !== kind) continue;
        const one = await story.svc.api('GET', `/v1/alerts/${a.id}`, { key: providerKey });
        const adm = await story.svc.api('GET', `/v1/admissions/${a.admissionId}`, { key: story.svc.adminToken });
        if (adm.body.visitNumber !== visit) continue;
        const ds = one.body.deliveries as { status: string }[];
        if (ds.length === deliveries && ds.every((d) => d.status !== 'pending')) return one.body as { id: string };
      }
      return undefined;
    },
    30_000,
    `${kind} alert of ${visit}`,
  );
}

async function acknowledge(alertId: string, key: string, outcome?: string) {
  const res = await story.svc.api('POST', `/v1/alerts/${alertId}/acknowledge`, {
    key,
    body: { by: 'Day coordinator', ...(outcome ? { outcome } : {}) },
  });
  expect(res.status, res.text).toBe(200);
}

beforeAll(async () => {
  fake = await startFakeNotify();
  story = await startStory({
    odsCode: 'RR1',
    hospitalName: 'Report General',
    env: {
      NOTIFY_API_KEY: fake.apiKey,
      NOTIFY_BASE_URL: fake.baseUrl,
      NOTIFY_SMS_TEMPLATE_ID: fake.smsTemplateId,
      NOTIFY_EMAIL_TEMPLATE_ID: fake.emailTemplateId,
    },
  });
  const { svc, hooks, hospital } = story;
  const send = async (message: string) => {
    const res = await sendHl7(svc, hospital.apiKey, editFields(message, { 'MSH-4': 'RR1' }));
    expect(res.ack.code, res.text).toBe('AA');
  };

  // provider A: one coordinator on webhook, SMS and email; one step of 4 s, then `unacknowledged`
  pa = await registerProvider(svc, 'PA1');
  const ca = await addContact(svc, pa, {
    name: 'Day coordinator',
    phone: `07700 9${String(randomInt(100_000)).padStart(5, '0')}`,
    email: 'rota@pa1.example',
    webhookUrl: hooks.url('/PA1/c1'),
  });
  hooks.setSecret('/PA1/c1', ca.webhookSecret!);
  await setPolicy(svc, pa, [{ contactIds: [ca.id], channels: ['webhook', 'sms', 'email'], waitSeconds: 4 }]);
  // provider B: a webhook, a long step
  pb = await registerProvider(svc, 'PB1');
  const cb = await addContact(svc, pb, { name: 'Manager', webhookUrl: hooks.url('/PB1/c1') });
  hooks.setSecret('/PB1/c1', cb.webhookSecret!);
  await setPolicy(svc, pb, [{ contactIds: [cb.id], channels: ['webhook'], waitSeconds: 600 }]);

  const spells = { a: newSpell(), e: newSpell(), b: newSpell(), c: newSpell(), d: newSpell() };
  for (const s of [spells.a, spells.e, spells.b, spells.c]) {
    await registerClient(svc, pa, s.nhs, { dateOfBirth: '1941-03-12' });
  }
  await registerClient(svc, pb, spells.d.nhs, { dateOfBirth: '1941-03-12' });

  // a1: admission, acknowledged fast (visits-paused by default)
  await send(spellMessage('a01-admit.hl7', spells.a));
  ids.a1 = (await settledAlert(spells.a.visit, pa.apiKey, 'admission', 3)).id;
  await acknowledge(ids.a1, pa.apiKey);
  // a2: a discharge home (an A03 with no A01 before it), acknowledged within the hour
  await send(editFields(spellMessage('a03-discharge-home.hl7', spells.e), { 'PV1-37': '19' }));
  ids.a2 = (await settledAlert(spells.e.visit, pa.apiKey, 'discharge', 3)).id;
  await acknowledge(ids.a2, pa.apiKey, 'visits-resumed');
  // b1: admission, acknowledged slowly (noted); b2: the transfer that follows (informational, never acknowledged)
  await send(spellMessage('a01-admit.hl7', spells.b));
  ids.b1 = (await settledAlert(spells.b.visit, pa.apiKey, 'admission', 3)).id;
  await acknowledge(ids.b1, pa.apiKey, 'noted');
  await send(spellMessage('a02-transfer.hl7', spells.b));
  ids.b2 = (await settledAlert(spells.b.visit, pa.apiKey, 'transfer', 3)).id;
  // c1: admission, never acknowledged; its SMS refused by Notify (400)
  fake.failNext(400, 1, { path: '/v2/notifications/sms' });
  await send(spellMessage('a01-admit.hl7', spells.c));
  ids.c1 = (await settledAlert(spells.c.visit, pa.apiKey, 'admission', 3)).id;
  await eventually(async () => {
    const a = await svc.api('GET', `/v1/alerts/${ids.c1}`, { key: pa.apiKey });
    return a.body.status === 'unacknowledged';
  });
  // d1: provider B's admission, acknowledged (visits-paused by default)
  await send(spellMessage('a01-admit.hl7', spells.d));
  ids.d1 = (await settledAlert(spells.d.visit, pb.apiKey, 'admission', 1)).id;
  await acknowledge(ids.d1, pb.apiKey);

  await setAlertTimes(ids.a1, '2026-03-02T10:00:00Z', 300); // 5 min
  await setAlertTimes(ids.a2, '2026-03-03T10:00:00Z', 1800); // 30 min
  await setAlertTimes(ids.b1, '2026-03-04T10:00:00Z', 7200); // 2 h
  await setAlertTimes(ids.b2, '2026-03-04T12:00:00Z');
  await setAlertTimes(ids.c1, '2026-03-05T10:00:00Z');
  await setAlertTimes(ids.d1, '2026-03-06T10:00:00Z', 600); // 10 min
}, 180_000);
afterAll(async () => {
  await stopStory(story);
  await fake?.close();
});

describe('summary report', () => {
  it("a provider sees exactly its own figures (another provider's alerts do not appear)", async () => {
    const res = await story.svc.api('GET', `/v1/reports/summary?${MARCH}`, { key: pa.apiKey });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      provider: { id: pa.id, odsCode: 'PA1', name: 'Care PA1' },
      admissionsMatched: 4,
      alertsByKind: { admission: 3, discharge: 1, death: 0, cancellation: 0, transfer: 1 },
      acknowledgement: {
        alerts: 4,
        acknowledged: 3,
        within15Minutes: 1,
        within1Hour: 2,
        medianSeconds: 1800,
        p90Seconds: 6120, // 1800 + 0.8 × (7200 − 1800)
        unacknowledged: 1,
        open: 0,
        withdrawn: 0,
      },
      acknowledgementOutcomes: {
        'visits-paused': 1,
        'visits-resumed': 1,
        'not-our-client': 0,
        noted: 1,
        'care-ended': 0,
      },
      deliveries: {
        sms: { ...DELIVERY_ZERO, sent: 4, rejected: 1 },
        email: { ...DELIVERY_ZERO, sent: 5 },
        webhook: { ...DELIVERY_ZERO, sent: 5 },
      },
    });
  });

  it('the same as CSV with Accept: text/csv (metric,dimension,value)', async () => {
    const res = await fetch(`${story.svc.baseUrl}/v1/reports/summary?${MARCH}`, {
      headers: { authorization: `Bearer ${pa.apiKey}`, accept: 'text/csv' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = [
      'metric,dimension,value',
      'from,,2026-03-01T00:00:00.000Z',
      'to,,2026-04-01T00:00:00.000Z',
      `provider,id,${pa.id}`,
      'provider,odsCode,PA1',
      'provider,name,Care PA1',
      'admissionsMatched,,4',
      'alertsByKind,admission,3',
      'alertsByKind,discharge,1',
      'alertsByKind,death,0',
      'alertsByKind,cancellation,0',
      'alertsByKind,transfer,1',
      'acknowledgement,alerts,4',
      'acknowledgement,acknowledged,3',
      'acknowledgement,within15Minutes,1',
      'acknowledgement,within1Hour,2',
      'acknowledgement,medianSeconds,1800',
      'acknowledgement,p90Seconds,6120',
      'acknowledgement,unacknowledged,1',
      'acknowledgement,open,0',
      'acknowledgement,withdrawn,0',
      'acknowledgementOutcomes,visits-paused,1',
      'acknowledgementOutcomes,visits-resumed,1',
      'acknowledgementOutcomes,not-our-client,0',
      'acknowledgementOutcomes,noted,1',
      'acknowledgementOutcomes,care-ended,0',
      'deliveries,sms.sent,4',
      'deliveries,sms.rejected,1',
      'deliveries,sms.skipped,0',
      'deliveries,sms.failed,0',
      'deliveries,sms.pending,0',
      'deliveries,email.sent,5',
      'deliveries,email.rejected,0',
      'deliveries,email.skipped,0',
      'deliveries,email.failed,0',
      'deliveries,email.pending,0',
      'deliveries,webhook.sent,5',
      'deliveries,webhook.rejected,0',
      'deliveries,webhook.skipped,0',
      'deliveries,webhook.failed,0',
      'deliveries,webhook.pending,0',
    ];
    expect(await res.text()).toBe(lines.map((l) => `${l}\r\n`).join(''));
  });

  it('the operator sees every provider, as JSON and CSV', async () => {
    const res = await story.svc.api('GET', `/v1/reports/summary?${MARCH}`, { key: story.svc.adminToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      provider: null,
      admissionsMatched: 5,
      alertsByKind: { admission: 4, discharge: 1, death: 0, cancellation: 0, transfer: 1 },
      acknowledgement: {
        alerts: 5,
        acknowledged: 4,
        within15Minutes: 2,
        within1Hour: 3,
        medianSeconds: 1200, // (600 + 1800) / 2
        p90Seconds: 5580, // 1800 + 0.7 × (7200 − 1800)
        unacknowledged: 1,
        open: 0,
        withdrawn: 0,
      },
      acknowledgementOutcomes: {
        'visits-paused': 2,
        'visits-resumed': 1,
        'not-our-client': 0,
        noted: 1,
        'care-ended': 0,
      },
      deliveries: {
        sms: { ...DELIVERY_ZERO, sent: 4, rejected: 1 },
        email: { ...DELIVERY_ZERO, sent: 5 },
        webhook: { ...DELIVERY_ZERO, sent: 6 },
      },
    });
    const csv = await story.svc.api('GET', `/v1/reports/summary?${MARCH}`, {
      key: story.svc.adminToken,
      headers: { accept: 'text/csv' },
    });
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.text.split('\r\n').slice(0, 7)).toEqual([
      'metric,dimension,value',
      'from,,2026-03-01T00:00:00.000Z',
      'to,,2026-04-01T00:00:00.000Z',
      'provider,,all',
      'admissionsMatched,,5',
      'alertsByKind,admission,4',
      'alertsByKind,discharge,1',
    ]);
    expect(csv.text).toContain('\r\nacknowledgement,medianSeconds,1200\r\n');
    expect(csv.text).toContain('\r\ndeliveries,webhook.sent,6\r\n');

    // the operator may ask for one provider
    const one = await story.svc.api('GET', `/v1/reports/summary?${MARCH}&providerId=${pb.id}`, {
      key: story.svc.adminToken,
    });
    expect(one.body).toMatchObject({
      provider: { id: pb.id, odsCode: 'PB1', name: 'Care PB1' },
      admissionsMatched: 1,
      alertsByKind: { admission: 1, discharge: 0, death: 0, cancellation: 0, transfer: 0 },
      acknowledgement: { alerts: 1, acknowledged: 1, within15Minutes: 1, within1Hour: 1, medianSeconds: 600 },
      deliveries: { webhook: { ...DELIVERY_ZERO, sent: 1 }, sms: DELIVERY_ZERO, email: DELIVERY_ZERO },
    });
  });

  it('the period is [from, to): alerts raised at or after from and before to; to may carry an offset', async () => {
    const res = await story.svc.api(
      'GET',
      `/v1/reports/summary?from=2026-03-03&to=${encodeURIComponent('2026-03-05T01:00:00+01:00')}`,
      { key: pa.apiKey },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      from: '2026-03-03T00:00:00.000Z',
      to: '2026-03-05T00:00:00.000Z',
      admissionsMatched: 2,
      alertsByKind: { admission: 1, discharge: 1, death: 0, cancellation: 0, transfer: 1 },
      acknowledgement: {
        alerts: 2,
        acknowledged: 2,
        within15Minutes: 0,
        within1Hour: 1,
        medianSeconds: 4500,
        p90Seconds: 6660,
        unacknowledged: 0,
      },
      deliveries: { webhook: { ...DELIVERY_ZERO, sent: 3 }, sms: { ...DELIVERY_ZERO, sent: 3 } },
    });
    const empty = await story.svc.api('GET', '/v1/reports/summary?from=2025-01-01&to=2025-02-01', { key: pa.apiKey });
    expect(empty.body.acknowledgement).toMatchObject({
      alerts: 0,
      acknowledged: 0,
      medianSeconds: null,
      p90Seconds: null,
    });
  });

  it.each([
    [
      'from=yesterday',
      'from',
      'from must be a date (YYYY-MM-DD, midnight UTC) or a date and time with Z or an offset (2026-11-22T09:00:00Z)',
    ],
    [
      'from=2026-02-30',
      'from',
      'from must be a date (YYYY-MM-DD, midnight UTC) or a date and time with Z or an offset (2026-11-22T09:00:00Z)',
    ],
    [
      'to=2026-03-01T10:00:00',
      'to',
      'to must be a date (YYYY-MM-DD, midnight UTC) or a date and time with Z or an offset (2026-11-22T09:00:00Z)',
    ],
    ['from=2026-04-01&to=2026-03-01', 'from', 'from must be before to'],
    ['from=2026-03-01&to=2026-03-01', 'from', 'from must be before to'],
    ['from=2026-03-01&from=2026-03-02', 'from', 'from must be given once, as a plain value'],
  ])('?%s → 400 problem+json naming %s', async (query, parameter, detail) => {
    const res = await story.svc.api('GET', `/v1/reports/summary?${query}`, { key: story.svc.adminToken });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: 'https://admission-alerts.example/problems/bad-request',
      title: 'Bad request',
      status: 400,
      detail,
      parameter,
    });
  });

  it("another provider's figures are 404 to a provider; a hospital key is 403; no key 401", async () => {
    const other = await story.svc.api('GET', `/v1/reports/summary?${MARCH}&providerId=${pb.id}`, { key: pa.apiKey });
    expect(other.status).toBe(404);
    expect(other.body).toEqual({
      type: 'https://admission-alerts.example/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'provider not found',
    });
    const unknown = await story.svc.api('GET', `/v1/reports/summary?providerId=00000000-0000-4000-8000-000000000000`, {
      key: story.svc.adminToken,
    });
    expect(unknown.status).toBe(404);
    expect((await story.svc.api('GET', '/v1/reports/summary', { key: story.hospital.apiKey })).status).toBe(403);
    expect((await story.svc.api('GET', '/v1/reports/summary')).status).toBe(401);
  });
});
