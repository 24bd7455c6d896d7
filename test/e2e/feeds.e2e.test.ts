/**
 * CONTRACT.md "Feeds": a hospital that sends nothing for longer than its `silenceAlertSeconds` is silent; going
 * silent and coming back each tell the operator contacts once (`feed-silent`, `feed-resumed`: the operator webhook,
 * signed, and an email through Notify), by a durable watcher per hospital (a Temporal workflow), which a restart of
 * the service neither loses nor repeats. Thresholds are a few seconds here.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { verifyWebhookSignature } from '../../src/notify/webhook.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import { newSpell, registerProvider, sendHl7, spellMessage } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'operator-secret-0123456789abcdef';
const OPERATOR_EMAIL = 'operators@example.org';
const SILENCE_MESSAGE = 'must be a whole number of seconds from 0 (never) to 2592000';

let hooks: WebhookReceiver;
let fake: FakeNotify;
let db: TestDatabase;
let env: Record<string, string>;
let svc: TestService;
const taskQueue = `aa-test-feeds-${Date.now().toString(36)}`;

beforeAll(async () => {
  [hooks, fake, db] = await Promise.all([
    startWebhookReceiver(),
    startFakeNotify(),
    createTestDatabase(inject('postgresUrl')),
  ]);
  const operatorTemplateId = fake.addTemplate({
    type: 'email',
    subject: '((subject))',
    body: '((message))\n\n((link))',
  });
  env = {
    OPERATOR_WEBHOOK_URL: hooks.url('/operator'),
    OPERATOR_WEBHOOK_SECRET: SECRET,
    OPERATOR_EMAIL,
    NOTIFY_API_KEY: fake.apiKey,
    NOTIFY_BASE_URL: fake.baseUrl,
    NOTIFY_OPERATOR_TEMPLATE_ID: operatorTemplateId,
  };
  // the database is this file's, so that the service can be stopped and started again on it
  svc = await startTestService({ env, db, taskQueue });
});
afterAll(async () => {
  await svc?.stop();
  await db?.drop();
  await hooks?.close();
  await fake?.close();
});

async function register(odsCode: string, silenceAlertSeconds?: number) {
  const res = await svc.api('POST', '/v1/hospitals', {
    key: svc.adminToken,
    body: {
      odsCode,
      name: `${odsCode} General`,
      ...(silenceAlertSeconds !== undefined ? { silenceAlertSeconds } : {}),
    },
  });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; odsCode: string; name: string; apiKey: string; silenceAlertSeconds?: number };
}

/** An A01 of a fresh spell from hospital `ods` (nobody's client: stored, AA, no alert). */
function a01(ods: string, edits: Record<string, string> = {}) {
  return editFields(spellMessage('a01-admit.hl7', newSpell()), { 'MSH-4': ods, ...edits });
}

const feedHooks = (hospitalId: string, type?: string): ReceivedWebhook[] =>
  hooks
    .received('/operator')
    .filter(
      (r) => (r.body as any)?.hospital?.id === hospitalId && (type === undefined || (r.body as any).type === type),
    );

const feedOf = async (id: string) => (await svc.api('GET', `/v1/hospitals/${id}/feed`, { key: svc.adminToken })).body;

/** The next (or an earlier) `type` message about the hospital at the operator webhook. */
const feedHook = (hospitalId: string, type: string, silentSince?: string) =>
  hooks.waitFor((r) => {
    const b = r.body as any;
    return (
      b?.type === type && b?.hospital?.id === hospitalId && (silentSince === undefined || b.silentSince === silentSince)
    );
  }, 20_000);

describe('feed silence', () => {
  it('a silent feed tells the operators once (webhook and email, no patient data); its return once; PATCH 0 stops it', async () => {
    const h = await register('RF1', 3);
    expect(h.silenceAlertSeconds).toBe(3);
    const before = Date.now();
    const sent = await sendHl7(svc, h.apiKey, a01('RF1'));
    const afterSend = Date.now();
    expect(sent.ack.code).toBe('AA');

    const silentHook = await feedHook(h.id, 'feed-silent');
    expect(verifyWebhookSignature(SECRET, silentHook.headers['x-signature'] as string, silentHook.rawBody, 300)).toBe(
      true,
    );
    const feed = await feedOf(h.id);
    expect(feed).toEqual({
      lastMessageAt: expect.any(String),
      messagesLast24h: 1,
      rejectedLast24h: 0,
      silent: true,
      silentSince: feed.lastMessageAt,
    });
    const silentSince = feed.lastMessageAt as string;
    // the moment the message was stored (one clock: this machine's)
    expect(Date.parse(silentSince)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(silentSince)).toBeLessThanOrEqual(afterSend + 1);
    expect(silentHook.body).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      type: 'feed-silent',
      hospital: { id: h.id, odsCode: 'RF1', name: 'RF1 General' },
      silentSince,
      lastMessageAt: silentSince,
      silenceAlertSeconds: 3,
      feedUrl: `${svc.baseUrl}/v1/hospitals/${h.id}/feed`,
    });
    const email = await eventually(async () =>
      fake.emails.find((e) => e.reference === `feed-silent:${h.id}:${silentSince}:email`),
    );
    expect(email).toMatchObject({
      emailAddress: OPERATOR_EMAIL,
      subject: 'No messages from RF1 General (RF1) for over 3 seconds',
      personalisation: {
        subject: 'No messages from RF1 General (RF1) for over 3 seconds',
        message: `RF1 General (RF1) has sent nothing since ${silentSince}. Until its feed is back, care providers are not told when their clients are admitted to or discharged from this hospital: check the hospital's interface engine and the link to this service.`,
        link: `${svc.baseUrl}/v1/hospitals/${h.id}/feed`,
      },
    });
    expect(silentHook.rawBody + email.body).not.toMatch(/SMITH|MARGARET|1941/);

    // still silent two looks later: nothing more is said about this silence
    await new Promise((r) => setTimeout(r, 7000));
    expect(feedHooks(h.id, 'feed-silent').filter((r) => (r.body as any).silentSince === silentSince)).toHaveLength(1);
    expect(fake.emails.filter((e) => e.reference === `feed-silent:${h.id}:${silentSince}:email`)).toHaveLength(1);

    // a rejected message is a sign of life too (the feed speaks, badly): the feed is back
    const rejected = await sendHl7(svc, h.apiKey, a01('RF1', { 'MSH-12': '9.9' }));
    expect(rejected.ack.code).toBe('AR');
    const resumedHook = await feedHook(h.id, 'feed-resumed');
    // a threshold of 0: never silent; the watcher is told at once
    const patched = await svc.api('PATCH', `/v1/hospitals/${h.id}`, {
      key: svc.adminToken,
      body: { silenceAlertSeconds: 0 },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ id: h.id, silenceAlertSeconds: 0, mllpAllowedCidrs: [] });
    const after = await feedOf(h.id);
    expect(after).toEqual({
      lastMessageAt: expect.any(String),
      messagesLast24h: 2,
      rejectedLast24h: 1,
      silent: false,
      silentSince: null,
    });
    expect(Date.parse(after.lastMessageAt)).toBeGreaterThan(Date.parse(silentSince));
    expect(resumedHook.body).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      type: 'feed-resumed',
      hospital: { id: h.id, odsCode: 'RF1', name: 'RF1 General' },
      silentSince,
      lastMessageAt: after.lastMessageAt,
      silenceAlertSeconds: 3,
      feedUrl: `${svc.baseUrl}/v1/hospitals/${h.id}/feed`,
    });
    expect(feedHooks(h.id, 'feed-resumed')).toHaveLength(1);
    const resumedEmail = await eventually(async () =>
      fake.emails.find((e) => e.reference === `feed-resumed:${h.id}:${silentSince}:email`),
    );
    expect(resumedEmail.subject).toBe('RF1 General (RF1) is sending messages again');

    // with the threshold at 0 nothing more is said, however long the feed is quiet
    await new Promise((r) => setTimeout(r, 1000));
    const told = feedHooks(h.id).length;
    await new Promise((r) => setTimeout(r, 7000));
    expect(feedHooks(h.id)).toHaveLength(told);
    expect((await feedOf(h.id)).silent).toBe(false);
  });

  it('a restart of the service neither loses nor repeats a message: the watcher carries on', async () => {
    const h = await register('RF2', 2);
    expect((await sendHl7(svc, h.apiKey, a01('RF2'))).ack.code).toBe('AA');
    const silentHook = await feedHook(h.id, 'feed-silent');
    const silentSince = (silentHook.body as any).silentSince as string;

    // stopped and started again on the same database and task queue (every process: API and worker)
    await svc.stop();
    svc = await startTestService({ env, db, taskQueue });
    await new Promise((r) => setTimeout(r, 5000));
    expect(feedHooks(h.id, 'feed-silent').filter((r) => (r.body as any).silentSince === silentSince)).toHaveLength(1);

    const back = await sendHl7(svc, h.apiKey, a01('RF2'));
    expect(back.ack.code).toBe('AA');
    await feedHook(h.id, 'feed-resumed', silentSince);
    await svc.api('PATCH', `/v1/hospitals/${h.id}`, { key: svc.adminToken, body: { silenceAlertSeconds: 0 } });
    expect(feedHooks(h.id, 'feed-resumed').filter((r) => (r.body as any).silentSince === silentSince)).toHaveLength(1);
  });

  it('a hospital that has never sent anything is silent from its registration', async () => {
    const h = await register('RF3', 2);
    const hook = await feedHook(h.id, 'feed-silent');
    const list = await svc.api('GET', `/v1/hospitals/${h.id}`, { key: svc.adminToken });
    expect(list.body.silenceAlertSeconds).toBe(2);
    expect(hook.body).toMatchObject({ silentSince: list.body.createdAt, lastMessageAt: null });
    expect(await feedOf(h.id)).toEqual({
      lastMessageAt: null,
      messagesLast24h: 0,
      rejectedLast24h: 0,
      silent: true,
      silentSince: list.body.createdAt,
    });
    await svc.api('PATCH', `/v1/hospitals/${h.id}`, { key: svc.adminToken, body: { silenceAlertSeconds: 0 } });
  });

  it('a message another hospital sent naming this one (403) is not a sign of life of this feed', async () => {
    const h = await register('RF4', 3600);
    const other = await register('RF5', 3600);
    const res = await sendHl7(svc, other.apiKey, a01('RF4'));
    expect(res.status).toBe(403);
    expect(await feedOf(h.id)).toEqual({
      lastMessageAt: null,
      messagesLast24h: 0,
      rejectedLast24h: 0,
      silent: false,
      silentSince: null,
    });
  });
});

describe('feed settings and answers', () => {
  it('registration without silenceAlertSeconds answers as before and defaults to 7200; GET and PATCH show it; audited', async () => {
    const res = await svc.api('POST', '/v1/hospitals', { key: svc.adminToken, body: { odsCode: 'RF6', name: 'Six' } });
    expect(Object.keys(res.body).sort()).toEqual(['apiKey', 'id', 'name', 'odsCode']);
    const one = await svc.api('GET', `/v1/hospitals/${res.body.id}`, { key: svc.adminToken });
    expect(one.body.silenceAlertSeconds).toBe(7200);
    const patched = await svc.api('PATCH', `/v1/hospitals/${res.body.id}`, {
      key: svc.adminToken,
      body: { silenceAlertSeconds: 600 },
    });
    expect(patched.body).toEqual({
      id: res.body.id,
      odsCode: 'RF6',
      name: 'Six',
      createdAt: expect.any(String),
      silenceAlertSeconds: 600,
      mllpAllowedCidrs: [],
      mllpCertificateFingerprints: [],
    });
    const sql = postgres(db.url, { max: 1, onnotice: () => undefined });
    try {
      const rows = await sql<{ action: string; details: unknown }[]>`
        select action, details from audit_events where entity_id = ${res.body.id} order by id`;
      expect(rows).toEqual([
        { action: 'hospital.registered', details: null },
        { action: 'hospital.feed-settings.updated', details: { silenceAlertSeconds: 600 } },
      ]);
    } finally {
      await sql.end();
    }
  });

  it.each([[-1], [1.5], ['60'], [null], [2592001]])(
    'silenceAlertSeconds %j → 400 problem+json naming the field, on POST and PATCH',
    async (value) => {
      const expected = {
        type: 'https://admission-alerts.example/problems/bad-request',
        title: 'Invalid request',
        status: 400,
        detail: `silenceAlertSeconds: ${SILENCE_MESSAGE}`,
        errors: [{ field: 'silenceAlertSeconds', message: SILENCE_MESSAGE }],
      };
      const post = await svc.api('POST', '/v1/hospitals', {
        key: svc.adminToken,
        body: { odsCode: 'RFBAD', name: 'Bad', silenceAlertSeconds: value },
      });
      expect(post.status).toBe(400);
      expect(post.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(post.body).toEqual(expected);
      const hospitals = await svc.api('GET', '/v1/hospitals', { key: svc.adminToken });
      const h = hospitals.body.items.find((x: { odsCode: string }) => x.odsCode === 'RF1');
      const patch = await svc.api('PATCH', `/v1/hospitals/${h.id}`, {
        key: svc.adminToken,
        body: { silenceAlertSeconds: value },
      });
      expect(patch.status).toBe(400);
      expect(patch.body).toEqual(expected);
    },
  );

  it('PATCH with nothing to set is 400; GET feed is for the operator only; unknown hospitals are 404', async () => {
    const h = await register('RF7', 3600);
    const empty = await svc.api('PATCH', `/v1/hospitals/${h.id}`, { key: svc.adminToken, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toBe(
      '(body): must set at least one of mllpAllowedCidrs, mllpCertificateFingerprints, silenceAlertSeconds',
    );
    const provider = await registerProvider(svc, 'PF1');
    const byProvider = await svc.api('GET', `/v1/hospitals/${h.id}/feed`, { key: provider.apiKey });
    expect(byProvider.status).toBe(403);
    expect(byProvider.body).toEqual({
      type: 'https://admission-alerts.example/problems/forbidden',
      title: 'Forbidden',
      status: 403,
      detail: 'Only the operator may do this',
    });
    expect((await svc.api('GET', `/v1/hospitals/${h.id}/feed`, { key: h.apiKey })).status).toBe(403);
    expect((await svc.api('GET', `/v1/hospitals/${h.id}/feed`)).status).toBe(401);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      const missing = await svc.api('GET', `/v1/hospitals/${id}/feed`, { key: svc.adminToken });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({
        type: 'https://admission-alerts.example/problems/not-found',
        title: 'Not found',
        status: 404,
        detail: 'hospital not found',
      });
    }
  });
});
