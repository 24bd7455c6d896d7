/**
 * CONTRACT.md "Security defaults", part 2, through the real service: failed authentications throttled per address
 * (in PostgreSQL, across API processes), refused cross-provider access audited and listed by `GET /v1/audit`, the
 * link pages across replicas (one CSRF secret, one rate limit), a link's state before its CSRF check, and invalid
 * query parameters answered 400 naming the parameter.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/hash.js';
import {
  newSpell,
  registerHospital,
  registerProvider,
  sendHl7,
  spellMessage,
  startStory,
  stopStory,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

/** The service with a worker, its hospital RX1 and a webhook receiver. */
let story: Story;
/** A second API process on the same database (same ADMIN_TOKEN, so the same derived CSRF secret). */
let replica: TestService;
/** Two API processes on a database of their own, throttled by the throttle tests (and only they). */
let throttled: TestService;
let throttledReplica: TestService;
let sql: postgres.Sql;

let provider: { id: string; odsCode: string; apiKey: string };
let other: { id: string; odsCode: string; apiKey: string };
let alertId: string;
let admissionId: string;
/** the link of the alert's first webhook */
let acknowledgeUrl: string;

beforeAll(async () => {
  [story, throttled] = await Promise.all([startStory(), startTestService({ roles: ['api'] })]);
  [replica, throttledReplica] = await Promise.all([
    startTestService({
      db: story.svc.db,
      roles: ['api'],
      taskQueue: story.svc.taskQueue,
      env: { ADMIN_TOKEN: story.svc.adminToken },
    }),
    startTestService({
      db: throttled.db,
      roles: ['api'],
      taskQueue: throttled.taskQueue,
      env: { ADMIN_TOKEN: throttled.adminToken },
    }),
  ]);
  sql = postgres(story.svc.db.url, { max: 2, onnotice: () => undefined });

  const spell = newSpell();
  ({ provider } = await webhookLadderProvider(story, 'PS201', {
    waitSeconds: 600,
    client: { nhs: spell.nhs },
  }));
  other = await registerProvider(story.svc, 'PS202');
  expect((await sendHl7(story.svc, story.hospital.apiKey, spellMessage('a01-admit.hl7', spell))).ack.code).toBe('AA');
  const hook = await story.hooks.waitFor((r) => r.path === '/PS201/c1', 30_000);
  const body = hook.body as { alertId: string; acknowledgeUrl: string };
  alertId = body.alertId;
  acknowledgeUrl = body.acknowledgeUrl;
  const alert = await story.svc.api('GET', `/v1/alerts/${alertId}`, { key: story.svc.adminToken });
  expect(alert.status, alert.text).toBe(200);
  admissionId = alert.body.admissionId;
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await Promise.all([replica?.stop(), throttledReplica?.stop()]);
  await Promise.all([stopStory(story), throttled?.stop()]);
});

type Answer = { status: number; body: any; headers: Headers; text: string };

/** A problem+json answer (RFC 9457) with the given status; returns its body. */
function expectProblem(res: Answer, status: number): any {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
  return res.body;
}

describe('failed authentications are throttled per address (in PostgreSQL, across API processes)', () => {
  it('after 20 failures within a minute every request of the address is 429 with Retry-After, on every /v1 route', async () => {
    const hospital = await registerHospital(throttled, 'RT1', 'Throttle General');
    // 19 failures (unknown and missing keys, on both processes)
    for (let i = 0; i < 19; i++) {
      const svc = i % 2 === 0 ? throttled : throttledReplica;
      const res = await svc.api('GET', '/v1/alerts', i % 3 === 0 ? {} : { key: `aa_p_unknown-${i}` });
      expectProblem(res, 401);
    }
    // a valid key still works, and does not reset the count
    expect((await throttled.api('GET', '/v1/alerts', { key: throttled.adminToken })).status).toBe(200);
    // the 20th failure is still a 401 …
    expectProblem(await throttledReplica.api('GET', '/v1/providers', { key: 'aa_p_unknown-20' }), 401);

    // … then the address is blocked, whatever key it sends, on both processes
    for (const svc of [throttled, throttledReplica]) {
      const res = await svc.api('GET', '/v1/alerts', { key: svc.adminToken });
      const body = expectProblem(res, 429);
      expect(body.type).toMatch(/too-many-requests$/);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expectProblem(await svc.api('GET', '/v1/providers', { key: 'aa_p_unknown' }), 429);
    }

    // HL7: an AR ACK with HTTP 429
    const hl7 = await sendHl7(throttled, hospital.apiKey, spellMessage('a01-admit.hl7', newSpell(), { RX1: 'RT1' }));
    expect(hl7.status).toBe(429);
    expect(hl7.contentType).toMatch(/^x-application\/hl7-v2\+er7/);
    expect(hl7.ack.code).toBe('AR');

    // FHIR: an OperationOutcome with HTTP 429
    const fhir = await fetch(`${throttledReplica.baseUrl}/v1/fhir/Encounter`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hospital.apiKey}`, 'content-type': 'application/fhir+json' },
      body: '{"resourceType":"Encounter"}',
    });
    expect(fhir.status).toBe(429);
    expect(fhir.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(Number(fhir.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const outcome = (await fhir.json()) as any;
    expect(outcome).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'throttled' }],
    });

    // the state is a row in this database's rate_limits: other services (other databases) are not affected
    const db = postgres(throttled.db.url, { max: 1, onnotice: () => undefined });
    try {
      const rows =
        await db`select key, hits, blocked_until > now() as blocked from rate_limits where key like 'auth-fail:%'`;
      expect(rows).toEqual([{ key: 'auth-fail:127.0.0.1', hits: 20, blocked: true }]);
    } finally {
      await db.end();
    }
    expect((await story.svc.api('GET', '/v1/alerts', { key: story.svc.adminToken })).status).toBe(200);
  });
});

describe('refused cross-provider access is audited (GET /v1/audit)', () => {
  it("another provider's provider, alert and admission are 404, each with an access.refused audit row", async () => {
    const asked: [string, string, string, string][] = [
      ['GET', `/v1/providers/${provider.id}`, 'provider', provider.id],
      ['GET', `/v1/providers/${provider.id}/clients`, 'provider', provider.id],
      ['GET', `/v1/alerts/${alertId}`, 'alert', alertId],
      ['POST', `/v1/alerts/${alertId}/acknowledge`, 'alert', alertId],
      ['GET', `/v1/admissions/${admissionId}`, 'admission', admissionId],
    ];
    for (const [method, path] of asked) {
      const res = await story.svc.api(method, path, {
        key: other.apiKey,
        ...(method === 'POST' ? { body: { by: 'Mallory' } } : {}),
      });
      expectProblem(res, 404);
    }
    // an id that exists nowhere is a plain 404, not an audited refusal
    expectProblem(await story.svc.api('GET', `/v1/alerts/${randomUUID()}`, { key: other.apiKey }), 404);

    const res = await story.svc.api('GET', '/v1/audit?action=access.refused', { key: story.svc.adminToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ limit: 100, offset: 0 });
    const items = res.body.items as any[];
    expect(items.map((e) => [e.entityType, e.entityId])).toEqual(asked.map(([, , t, id]) => [t, id]).reverse());
    for (const e of items) {
      expect(Object.keys(e).sort()).toEqual(['action', 'actor', 'at', 'details', 'entityId', 'entityType', 'id']);
      expect(e).toMatchObject({ actor: `provider:${other.odsCode}`, action: 'access.refused' });
    }
    // the route's pattern, never the path (which may carry an NHS number)
    expect(items.map((e) => e.details)).toEqual([
      { method: 'GET', route: '/admissions/:admissionId' },
      { method: 'POST', route: '/alerts/:alertId/acknowledge' },
      { method: 'GET', route: '/alerts/:alertId' },
      { method: 'GET', route: '/providers/:id/clients' },
      { method: 'GET', route: '/providers/:id' },
    ]);
    const times = items.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // paging and the whole trail (registrations too), newest first
    const page = await story.svc.api('GET', '/v1/audit?action=access.refused&limit=2&offset=1', {
      key: story.svc.adminToken,
    });
    expect(page.body).toMatchObject({ limit: 2, offset: 1 });
    expect(page.body.items.map((e: any) => e.id)).toEqual(items.slice(1, 3).map((e) => e.id));
    const all = await story.svc.api('GET', '/v1/audit', { key: story.svc.adminToken });
    expect(all.body.items.length).toBeGreaterThan(items.length);
    expect(all.body.items.some((e: any) => e.action === 'provider.registered')).toBe(true);
  });

  it('GET /v1/audit is for the operator only: a provider or hospital key is 403, none 401', async () => {
    expectProblem(await story.svc.api('GET', '/v1/audit', { key: provider.apiKey }), 403);
    expectProblem(await story.svc.api('GET', '/v1/audit', { key: story.hospital.apiKey }), 403);
    expectProblem(await story.svc.api('GET', '/v1/audit'), 401);
  });
});

describe('invalid query parameters are 400 problem+json naming the parameter', () => {
  const endpoints = ['/v1/alerts', '/v1/admissions', '/v1/messages', '/v1/audit'];
  const bad: [string, string][] = [
    ['limit', 'abc'],
    ['limit', '0'],
    ['limit', '5000'],
    ['limit', '1.5'],
    ['offset', '-1'],
    ['offset', 'x'],
  ];
  it.each(endpoints)('%s', async (endpoint) => {
    for (const [name, value] of bad) {
      const res = await story.svc.api('GET', `${endpoint}?${name}=${value}`, { key: story.svc.adminToken });
      const body = expectProblem(res, 400);
      expect(body.parameter, `${endpoint}?${name}=${value}`).toBe(name);
      expect(body.detail).toContain(name);
    }
    const twice = await story.svc.api('GET', `${endpoint}?limit=1&limit=2`, { key: story.svc.adminToken });
    expect(expectProblem(twice, 400).parameter).toBe('limit');
    if (endpoint !== '/v1/audit') {
      const res = await story.svc.api('GET', `${endpoint}?status=bogus`, { key: story.svc.adminToken });
      expect(expectProblem(res, 400).parameter).toBe('status');
    }
    const ok = await story.svc.api('GET', `${endpoint}?limit=1000&offset=0`, { key: story.svc.adminToken });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ limit: 1000, offset: 0 });
  });
});

describe('link pages', () => {
  const form = (csrf: string, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(acknowledgeUrl).origin },
    body: new URLSearchParams({ csrf, outcome: 'visits-paused', ...extra }),
  });
  const linkOf = (svc: TestService, token: string) => `${svc.baseUrl}/a/${token}`;
  const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);
  /** Another link to the same alert, written as the service writes one (its hash), expiring in `seconds`. */
  async function extraLink(seconds: number): Promise<string> {
    const token = randomBytes(18).toString('base64url');
    await sql`insert into ack_tokens (token_hash, alert_id, expires_at)
      values (${sha256Hex(token)}, ${alertId}, now() + make_interval(secs => ${seconds}))`;
    return token;
  }

  it('POST of an unknown or altered token is 404 (the not-found page), before any CSRF check', async () => {
    const token = tokenOf(acknowledgeUrl);
    const altered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const t of [randomBytes(18).toString('base64url'), altered]) {
      const res = await fetch(linkOf(story.svc, t), form('not-a-csrf-token'));
      expect(res.status, t).toBe(404);
      expect(await res.text()).toContain('Page not found');
    }
  });

  it('POST of an expired token is 410, like GET', async () => {
    const token = await extraLink(-60);
    const get = await fetch(linkOf(story.svc, token));
    expect(get.status).toBe(410);
    const res = await fetch(linkOf(story.svc, token), form('not-a-csrf-token'));
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('Link expired');
  });

  it('a CSRF failure on a valid token stays 403', async () => {
    const res = await fetch(acknowledgeUrl, form('1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'));
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Nothing has been recorded');
  });

  it('a form opened on one replica is accepted by the other; then the token is used: 410', async () => {
    const token = tokenOf(acknowledgeUrl);
    const page = await fetch(linkOf(replica, token));
    expect(page.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await fetch(linkOf(story.svc, token), {
      ...form(csrf),
      headers: { ...form(csrf).headers, origin: story.svc.baseUrl },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.text()).toContain('Alert acknowledged');

    // used: the same form again, on either replica, and another link of the acknowledged alert
    for (const svc of [story.svc, replica]) {
      const again = await fetch(linkOf(svc, token), {
        ...form(csrf),
        headers: { ...form(csrf).headers, origin: svc.baseUrl },
      });
      expect(again.status).toBe(410);
      expect(await again.text()).toContain('Alert already acknowledged');
    }
    const sibling = await extraLink(3600);
    expect((await fetch(linkOf(replica, sibling), form(csrf))).status).toBe(410);
  });

  it('the per-token limit (30 in 5 minutes) is shared by both replicas: 429 with Retry-After', async () => {
    const token = randomBytes(18).toString('base64url');
    for (let i = 0; i < 30; i++) {
      const res = await fetch(linkOf(i % 2 === 0 ? story.svc : replica, token));
      expect(res.status, `request ${i + 1}`).toBe(404);
    }
    for (const svc of [story.svc, replica]) {
      const res = await fetch(linkOf(svc, token));
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await res.text()).toContain('too many attempts');
    }
    // stored under the token's hash, never the token
    const rows = await sql`select key from rate_limits where key like 'ack-token:%'`;
    expect(rows.map((r) => r.key)).toContain(`ack-token:${sha256Hex(token)}`);
    expect(rows.some((r) => String(r.key).includes(token))).toBe(false);
  });
});
