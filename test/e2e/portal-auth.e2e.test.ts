/**
 * CONTRACT.md "Web portal": users through the API, sign-in by emailed code (10 minutes, 5 tries), sessions in
 * PostgreSQL ending after 30 minutes idle, CSRF protection on every form, roles, and the 404 rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { captureLogs, codesFor, nextCode, portalNotifyEnv, PortalSession, signIn } from '../support/portal.js';
import { registerProvider } from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';

let svc: TestService;
let notify: FakeNotify;
beforeAll(async () => {
  notify = await startFakeNotify();
  svc = await startTestService({ roles: ['api'], env: portalNotifyEnv(notify) });
});
afterAll(async () => {
  await svc?.stop();
  await notify?.close();
});

let seq = 0;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36).slice(-4).toUpperCase()}${++seq}`;
const newEmail = () => `${unique('user').toLowerCase()}@example.org`;

type Provider = Awaited<ReturnType<typeof registerProvider>>;

async function addUser(provider: Provider, role: 'coordinator' | 'admin', email = newEmail(), name = 'Sam Carer') {
  const res = await svc.api('POST', `/v1/providers/${provider.id}/users`, {
    key: provider.apiKey,
    body: { email, name, role },
  });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; email: string; name: string; role: string };
}

async function addOperator(email = newEmail(), name = 'Olu Operator') {
  const res = await svc.api('POST', '/v1/operators', { key: svc.adminToken, body: { email, name } });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; email: string };
}

describe('users through the API', () => {
  it('POST /v1/providers/{id}/users → 201 with the user; GET lists; DELETE → 204 and the user is gone', async () => {
    const provider = await registerProvider(svc, unique('PU'));
    const email = newEmail();
    const res = await svc.api('POST', `/v1/providers/${provider.id}/users`, {
      key: provider.apiKey,
      body: { email: `  ${email.toUpperCase()} `, name: ' Sam Carer ', role: 'admin' },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      providerId: provider.id,
      email,
      name: 'Sam Carer',
      role: 'admin',
      createdAt: expect.any(String),
      lastSignInAt: null,
    });
    const list = await svc.api('GET', `/v1/providers/${provider.id}/users`, { key: provider.apiKey });
    expect(list.status).toBe(200);
    expect(list.body.items.map((u: { id: string }) => u.id)).toEqual([res.body.id]);
    const del = await svc.api('DELETE', `/v1/providers/${provider.id}/users/${res.body.id}`, { key: provider.apiKey });
    expect(del.status).toBe(204);
    const again = await svc.api('DELETE', `/v1/providers/${provider.id}/users/${res.body.id}`, {
      key: provider.apiKey,
    });
    expect(again.status).toBe(404);
    expect(again.body.detail).toBe('user not found');
    expect((await svc.api('GET', `/v1/providers/${provider.id}/users`, { key: provider.apiKey })).body.items).toEqual(
      [],
    );
  });

  it('bad input is 400 with each field named', async () => {
    const provider = await registerProvider(svc, unique('PV'));
    const res = await svc.api('POST', `/v1/providers/${provider.id}/users`, {
      key: provider.apiKey,
      body: { email: 'not-an-address', name: '', role: 'boss' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toBe(
      'email: must be an email address; name: must not be empty; role: must be one of coordinator, admin',
    );
    const missing = await svc.api('POST', `/v1/providers/${provider.id}/users`, { key: provider.apiKey, body: {} });
    expect(missing.body.detail).toBe('email: is required; name: is required; role: must be one of coordinator, admin');
    const extra = await svc.api('POST', '/v1/operators', {
      key: svc.adminToken,
      body: { email: newEmail(), name: 'X', role: 'admin' },
    });
    expect(extra.status).toBe(400);
    expect(extra.body.detail).toBe("(body): Unrecognized key(s) in object: 'role'");
  });

  it('an email address already in use (any case, any provider, or an operator) is 409', async () => {
    const a = await registerProvider(svc, unique('PA'));
    const b = await registerProvider(svc, unique('PB'));
    const email = newEmail();
    await addUser(a, 'coordinator', email);
    const res = await svc.api('POST', `/v1/providers/${b.id}/users`, {
      key: b.apiKey,
      body: { email: email.toUpperCase(), name: 'Other', role: 'admin' },
    });
    expect(res.status).toBe(409);
    expect(res.body.detail).toBe(`A user with email address ${email} already exists`);
    const op = await svc.api('POST', '/v1/operators', { key: svc.adminToken, body: { email, name: 'Op' } });
    expect(op.status).toBe(409);
  });

  it("another provider's users are 404 to a provider key; operators are the operator's alone (403)", async () => {
    const a = await registerProvider(svc, unique('PC'));
    const b = await registerProvider(svc, unique('PD'));
    const user = await addUser(a, 'coordinator');
    for (const [method, path] of [
      ['GET', `/v1/providers/${a.id}/users`],
      ['POST', `/v1/providers/${a.id}/users`],
      ['DELETE', `/v1/providers/${a.id}/users/${user.id}`],
    ] as const) {
      const res = await svc.api(method, path, {
        key: b.apiKey,
        body: method === 'POST' ? { email: newEmail(), name: 'X', role: 'admin' } : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.detail).toBe('provider not found');
    }
    // a user id of another provider, under one's own provider: 404, and the user stays
    const cross = await svc.api('DELETE', `/v1/providers/${b.id}/users/${user.id}`, { key: b.apiKey });
    expect(cross.status).toBe(404);
    expect((await svc.api('GET', `/v1/providers/${a.id}/users`, { key: a.apiKey })).body.items).toHaveLength(1);
    for (const [method, path] of [
      ['GET', '/v1/operators'],
      ['POST', '/v1/operators'],
      ['DELETE', `/v1/operators/${user.id}`],
    ] as const) {
      const res = await svc.api(method, path, { key: a.apiKey, body: method === 'POST' ? {} : undefined });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.detail).toBe('Only the operator may do this');
    }
  });

  it('operators: POST → 201 role operator, GET lists, DELETE → 204 (a provider user is not an operator: 404)', async () => {
    const email = newEmail();
    const op = await addOperator(email);
    expect(op).toMatchObject({ email, role: 'operator', providerId: null });
    const list = await svc.api('GET', '/v1/operators', { key: svc.adminToken });
    expect(list.body.items.map((u: { id: string }) => u.id)).toContain(op.id);
    const provider = await registerProvider(svc, unique('PE'));
    const user = await addUser(provider, 'admin');
    expect((await svc.api('DELETE', `/v1/operators/${user.id}`, { key: svc.adminToken })).status).toBe(404);
    expect((await svc.api('DELETE', `/v1/operators/${op.id}`, { key: svc.adminToken })).status).toBe(204);
  });
});

describe('sign-in', () => {
  it('a coordinator signs in with the emailed code and lands on the alerts page', async () => {
    const provider = await registerProvider(svc, unique('PS'));
    const user = await addUser(provider, 'coordinator', newEmail(), 'Cara Coordinator');
    const s = new PortalSession(svc.baseUrl);
    const start = await s.get('/portal/sign-in');
    expect(start.status).toBe(200);
    expect(start.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const asked = await s.post('/portal/sign-in', { email: user.email.toUpperCase() });
    expect(asked.status).toBe(303);
    expect(asked.location).toBe('/portal/sign-in/code');
    const code = await nextCode(notify, user.email, 0);
    expect(code).toMatch(/^\d{6}$/);
    const email = notify.emails.find((e) => e.personalisation['code'] === code)!;
    expect(email.body).toBe(`Your code to sign in to Admission alerts is ${code}. It works for 10 minutes.`);
    const page = await s.get('/portal/sign-in/code');
    expect(page.text).toContain(user.email);
    const done = await s.post('/portal/sign-in/code', { code });
    expect(done.status).toBe(303);
    expect(done.location).toBe('/portal/alerts');
    expect(done.headers.getSetCookie().join('\n')).toMatch(
      /aa_portal=.*; Path=\/portal; Expires=.*; HttpOnly; SameSite=Lax/,
    );
    const home = await s.get('/portal');
    expect(home.status).toBe(303);
    expect(home.location).toBe('/portal/alerts');
  });

  it('an unknown address gets the same pages as a known one, and no email', async () => {
    const s = new PortalSession(svc.baseUrl);
    await s.get('/portal/sign-in');
    const email = newEmail();
    const asked = await s.post('/portal/sign-in', { email });
    expect(asked.status).toBe(303);
    expect(asked.location).toBe('/portal/sign-in/code');
    const page = await s.get('/portal/sign-in/code');
    expect(page.status).toBe(200);
    expect(page.text).toContain(
      `If <strong>${email}</strong> can use this service, we have sent a 6-digit code to it.`,
    );
    const wrong = await s.post('/portal/sign-in/code', { code: '123456' });
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('The code is not correct. Check the email and try again.');
    expect(codesFor(notify, email)).toEqual([]);
  });

  it('bad email and code input is answered on the page with the error', async () => {
    const s = new PortalSession(svc.baseUrl);
    await s.get('/portal/sign-in');
    const empty = await s.post('/portal/sign-in', { email: '' });
    expect(empty.status).toBe(400);
    expect(empty.text).toContain('Enter your email address');
    expect(empty.text).toContain('<title>Error: Sign in');
    const bad = await s.post('/portal/sign-in', { email: 'name at example' });
    expect(bad.text).toContain('Enter an email address in the correct format, like name@example.com');
    await s.post('/portal/sign-in', { email: newEmail() });
    await s.get('/portal/sign-in/code');
    expect((await s.post('/portal/sign-in/code', { code: '' })).text).toContain(
      'Enter the 6-digit code from the email',
    );
    const short = await s.post('/portal/sign-in/code', { code: '12345' });
    expect(short.status).toBe(400);
    expect(short.text).toContain('The code must be 6 digits, like 123456');
  });

  it('a code allows 5 tries: the right code on the 6th try is refused', async () => {
    const provider = await registerProvider(svc, unique('PT'));
    const user = await addUser(provider, 'coordinator');
    const s = new PortalSession(svc.baseUrl);
    await s.get('/portal/sign-in');
    await s.post('/portal/sign-in', { email: user.email });
    await s.get('/portal/sign-in/code');
    const code = await nextCode(notify, user.email, 0);
    const wrongCode = code === '000000' ? '000001' : '000000';
    for (let i = 0; i < 5; i++) {
      const res = await s.post('/portal/sign-in/code', { code: wrongCode });
      expect(res.text).toContain('The code is not correct. Check the email and try again.');
    }
    const late = await s.post('/portal/sign-in/code', { code });
    expect(late.status).toBe(400);
    expect(late.text).toContain('This code has expired or has been tried too many times. Get a new code.');
  });

  it('a code older than 10 minutes is refused; a new code replaces the old one', async () => {
    const provider = await registerProvider(svc, unique('PX'));
    const user = await addUser(provider, 'coordinator');
    const s = new PortalSession(svc.baseUrl);
    await s.get('/portal/sign-in');
    await s.post('/portal/sign-in', { email: user.email });
    await s.get('/portal/sign-in/code');
    const first = await nextCode(notify, user.email, 0);
    await s.post('/portal/sign-in', { email: user.email });
    await s.get('/portal/sign-in/code');
    const second = await nextCode(notify, user.email, 1);
    if (first !== second) {
      const old = await s.post('/portal/sign-in/code', { code: first });
      expect(old.text).toContain('The code is not correct.');
    }
    // ten minutes pass
    await svc.database.sql`update sign_in_codes set expires_at = now() - interval '1 second'
      where user_id = ${user.id}`;
    const expired = await s.post('/portal/sign-in/code', { code: second });
    expect(expired.text).toContain('This code has expired or has been tried too many times. Get a new code.');
  });

  it('a removed user cannot sign in, and a signed-in one is signed out at once', async () => {
    const provider = await registerProvider(svc, unique('PR'));
    const user = await addUser(provider, 'coordinator');
    const s = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, user.email, notify);
    expect((await s.get('/portal')).location).toBe('/portal/alerts');
    await svc.api('DELETE', `/v1/providers/${provider.id}/users/${user.id}`, { key: provider.apiKey });
    const after = await s.get('/portal/alerts');
    expect(after.status).toBe(303);
    expect(after.location).toBe('/portal/sign-in');
  });
});

describe('sessions', () => {
  it('a page without a session sends the visitor to sign in, and back to that page after it', async () => {
    const provider = await registerProvider(svc, unique('PW'));
    const user = await addUser(provider, 'coordinator');
    const s = new PortalSession(svc.baseUrl);
    const res = await s.get('/portal/clients');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/portal/sign-in');
    await s.get('/portal/sign-in');
    await s.post('/portal/sign-in', { email: user.email });
    const done = await s.post('/portal/sign-in/code', { code: await nextCode(notify, user.email, 0) });
    expect(done.location).toBe('/portal/clients');
  });

  it('a session idle for 30 minutes has ended: the next page asks to sign in again and says why', async () => {
    const provider = await registerProvider(svc, unique('PI'));
    const user = await addUser(provider, 'coordinator');
    const s = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, user.email, notify);
    const sid = decodeURIComponent(s.cookies.get('aa_portal')!).slice(2).split('.')[0]!;
    const [row] = await svc.database.sql<{ minutes: number }[]>`
      select round(extract(epoch from (expire - now())) / 60)::int as minutes from portal_sessions where sid = ${sid}`;
    expect(row?.minutes).toBe(30);
    // thirty minutes pass without a request
    await svc.database.sql`update portal_sessions set expire = now() - interval '1 second' where sid = ${sid}`;
    const res = await s.get('/portal/alerts');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/portal/sign-in');
    const page = await s.get('/portal/sign-in');
    expect(page.text).toContain(
      'You were signed out because you did not use the service for 30 minutes. Sign in again to continue.',
    );
  });

  it('the open-alerts list polling does not count as activity; a page does', async () => {
    const provider = await registerProvider(svc, unique('PP'));
    const user = await addUser(provider, 'coordinator');
    const s = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, user.email, notify);
    const sid = decodeURIComponent(s.cookies.get('aa_portal')!).slice(2).split('.')[0]!;
    const expiry = async () =>
      (await svc.database.sql<{ expire: Date }[]>`select expire from portal_sessions where sid = ${sid}`)[0]!.expire;
    // as if the page had been left alone for 20 minutes
    const tenMinutesLeft = new Date(Date.now() + 10 * 60 * 1000).toISOString();
    await svc.database.sql`update portal_sessions
      set expire = ${tenMinutesLeft}::timestamptz,
          sess = jsonb_set(sess, '{cookie,expires}', to_jsonb(${tenMinutesLeft}::text))
      where sid = ${sid}`;
    const before = await expiry();
    const live = await s.get('/portal/alerts/live');
    expect(live.status).toBe(200);
    expect(live.text).toContain('There are no open alerts.');
    expect(live.headers.get('x-open-alerts')).toBe('0');
    // the same deadline (connect-pg-simple stores it to the second)
    expect(Math.abs((await expiry()).getTime() - before.getTime())).toBeLessThan(1000);
    await s.get('/portal/clients');
    expect((await expiry()).getTime() - before.getTime()).toBeGreaterThan(19 * 60 * 1000);
  });

  it('signing out ends the session: the old cookie opens nothing', async () => {
    const provider = await registerProvider(svc, unique('PO'));
    const user = await addUser(provider, 'coordinator');
    const s = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, user.email, notify);
    const cookie = s.cookies.get('aa_portal')!;
    await s.get('/portal/clients');
    const out = await s.post('/portal/sign-out');
    expect(out.status).toBe(303);
    expect(out.location).toBe('/portal/signed-out');
    expect((await s.get('/portal/signed-out')).text).toContain('You have signed out');
    const replay = new PortalSession(svc.baseUrl);
    replay.cookies.set('aa_portal', cookie);
    expect((await replay.get('/portal/alerts')).location).toBe('/portal/sign-in');
  });
});

describe('a redirect waits for the session to be stored', () => {
  it('with a slow session store, the page after a redirect still sees what was put in the session', async () => {
    const provider = await registerProvider(svc, unique('PS'));
    const user = await addUser(provider, 'coordinator');
    const sql = svc.database.sql;
    // every write of a session takes 300 ms: express-session sends a response's headers before its save ends
    await sql.unsafe(`create or replace function slow_session_write() returns trigger language plpgsql as
      'begin perform pg_sleep(0.3); return new; end'`);
    await sql.unsafe(`create trigger slow_session_write before insert or update on portal_sessions
      for each row execute function slow_session_write()`);
    try {
      // a visitor sent to sign in is brought back to the page asked for
      const s = new PortalSession(svc.baseUrl);
      const asked = await s.headersOnly('GET', '/portal/clients');
      expect(asked.status).toBe(303);
      expect(asked.headers.get('location')).toBe('/portal/sign-in');
      await s.get('/portal/sign-in');
      await asked.text();
      // the code page follows the address given at once
      const posted = await s.headersOnly(
        'POST',
        '/portal/sign-in',
        new URLSearchParams({ _csrf: s.csrf!, email: user.email }),
      );
      expect(posted.status).toBe(303);
      expect(posted.headers.get('location')).toBe('/portal/sign-in/code');
      const codePage = await s.get('/portal/sign-in/code');
      expect(codePage.status).toBe(200);
      expect(codePage.text).toContain('Check your email');
      await posted.text();
      const done = await s.post('/portal/sign-in/code', { code: await nextCode(notify, user.email, 0) });
      expect(done.location).toBe('/portal/clients');
    } finally {
      await sql.unsafe('drop trigger slow_session_write on portal_sessions');
    }
  });
});

describe('forms are protected against cross-site requests', () => {
  it('a POST without the CSRF token, or with a wrong one, is 403 and changes nothing', async () => {
    const provider = await registerProvider(svc, unique('PF'));
    const user = await addUser(provider, 'coordinator');
    const s = new PortalSession(svc.baseUrl);
    await s.get('/portal/sign-in');
    for (const token of [null, 'forged']) {
      const res = await s.post('/portal/sign-in', { email: user.email, _csrf: token });
      expect(res.status).toBe(403);
      expect(res.text).toContain('Sorry, we could not accept that form');
    }
    expect(codesFor(notify, user.email)).toEqual([]);
    // a signed-in session's token is not another session's
    const signedIn = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, user.email, notify);
    await signedIn.get('/portal/clients');
    const other = new PortalSession(svc.baseUrl);
    await other.get('/portal/sign-in');
    const out = await signedIn.post('/portal/sign-out', { _csrf: other.csrf! });
    expect(out.status).toBe(403);
    expect((await signedIn.get('/portal')).location).toBe('/portal/alerts');
  });
});

describe('roles', () => {
  it("each role's pages are its own: others get 403; /portal leads to the role's first page", async () => {
    const provider = await registerProvider(svc, unique('PQ'));
    const coordinator = await addUser(provider, 'coordinator');
    const admin = await addUser(provider, 'admin');
    const operator = await addOperator();
    const c = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, coordinator.email, notify);
    const a = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, admin.email, notify);
    const o = await signIn(new PortalSession(svc.baseUrl), svc.baseUrl, operator.email, notify);
    expect((await o.get('/portal')).location).toBe('/portal/operator/review');
    expect((await a.get('/portal')).location).toBe('/portal/alerts');
    for (const path of ['/portal/admin/users', '/portal/operator/review']) {
      const res = await c.get(path);
      expect(res.status, path).toBe(403);
      expect(res.text).toContain('You do not have access to this page');
    }
    expect((await a.get('/portal/operator/review')).status).toBe(403);
    expect((await o.get('/portal/alerts')).status).toBe(403);
    expect((await o.get('/portal/admin/users')).status).toBe(403);
  });
});

describe('without Notify (outside production)', () => {
  it('the code is written to the log, and signs in', async () => {
    const logs = captureLogs();
    const bare = await startTestService({ roles: ['api'], logger: logs.logger });
    try {
      const provider = await registerProvider(bare, unique('PL'));
      const res = await bare.api('POST', `/v1/providers/${provider.id}/users`, {
        key: provider.apiKey,
        body: { email: newEmail(), name: 'Logan', role: 'coordinator' },
      });
      const s = await signIn(new PortalSession(bare.baseUrl), bare.baseUrl, res.body.email, logs);
      expect((await s.get('/portal')).location).toBe('/portal/alerts');
      const line = logs.lines.find((l) => l['signInCode'] !== undefined)!;
      expect(line['msg']).toBe('portal sign-in code (written here instead of emailed)');
    } finally {
      await bare.stop();
    }
  });
});
