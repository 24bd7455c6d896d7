/**
 * Conformance of CONTRACT.md "Authentication" and "Registry" through the real HTTP API, and of "Process and
 * configuration" (invalid configuration stops the process with one line naming the variable).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.js';
import { testNhsNumber } from '../support/scenario.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ roles: ['api'] });
});
afterAll(async () => {
  await svc?.stop();
});

type Org = { id: string; odsCode: string; name: string; apiKey: string };

let odsSeq = 0;
/** A fresh ODS code per test, so tests sharing the service never collide. */
const ods = (prefix: string) => `${prefix}${Date.now().toString(36).slice(-4).toUpperCase()}${++odsSeq}`;

async function register(
  kind: 'hospitals' | 'providers',
  odsCode = ods(kind === 'hospitals' ? 'RH' : 'PV'),
): Promise<Org> {
  const res = await svc.api('POST', `/v1/${kind}`, { key: svc.adminToken, body: { odsCode, name: `Org ${odsCode}` } });
  expect(res.status, res.text).toBe(201);
  return res.body as Org;
}

/** A problem+json answer (RFC 9457) with the given status; returns its detail. */
function expectProblem(res: { status: number; body: any; headers: Headers; text: string }, status: number): string {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status });
  expect(typeof res.body.type).toBe('string');
  expect(res.body.type.length).toBeGreaterThan(0);
  expect(typeof res.body.title).toBe('string');
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
  return res.body.detail as string;
}

describe('hospitals and providers (operator)', () => {
  it.each(['hospitals', 'providers'] as const)(
    'POST /v1/%s → 201 {id, odsCode, name, apiKey}; a duplicate ODS code → 409',
    async (kind) => {
      const odsCode = ods('RG');
      const res = await svc.api('POST', `/v1/${kind}`, {
        key: svc.adminToken,
        body: { odsCode, name: 'St Elsewhere' },
      });
      expect(res.status, res.text).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['apiKey', 'id', 'name', 'odsCode']);
      expect(res.body).toMatchObject({ odsCode, name: 'St Elsewhere' });
      expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof res.body.apiKey).toBe('string');
      expect(res.body.apiKey.length).toBeGreaterThanOrEqual(32);

      const again = await svc.api('POST', `/v1/${kind}`, {
        key: svc.adminToken,
        body: { odsCode, name: 'Someone else' },
      });
      expect(expectProblem(again, 409)).toContain(odsCode);
      const lower = await svc.api('POST', `/v1/${kind}`, {
        key: svc.adminToken,
        body: { odsCode: odsCode.toLowerCase(), name: 'x' },
      });
      expectProblem(lower, 409);

      // the key is shown once: never in what can be read back
      const list = await svc.api('GET', `/v1/${kind}`, { key: svc.adminToken });
      expect(list.status).toBe(200);
      expect(list.body.items.some((o: Org) => o.id === res.body.id)).toBe(true);
      expect(list.text).not.toContain(res.body.apiKey);
      if (kind === 'providers') {
        const one = await svc.api('GET', `/v1/providers/${res.body.id}`, { key: res.body.apiKey });
        expect(one.status).toBe(200);
        expect(one.body).toMatchObject({ id: res.body.id, odsCode, name: 'St Elsewhere' });
        expect(one.body.apiKey).toBeUndefined();
      }
    },
  );

  it.each([
    [{ name: 'No code' }, 'odsCode'],
    [{ odsCode: 'R X1!', name: 'Bad code' }, 'odsCode'],
    [{ odsCode: 'RGX9' }, 'name'],
    [{ odsCode: 'RGX9', name: '   ' }, 'name'],
  ])('POST /v1/providers %j → 400 naming %s', async (body, field) => {
    const res = await svc.api('POST', '/v1/providers', { key: svc.adminToken, body });
    expect(expectProblem(res, 400)).toContain(field);
  });

  it('keys are stored hashed: no table holds a key as given', async () => {
    const hospital = await register('hospitals');
    const provider = await register('providers');
    // the keys work (so the search below looks for something real)
    expect((await svc.api('GET', `/v1/providers/${provider.id}`, { key: provider.apiKey })).status).toBe(200);
    expect((await svc.api('GET', '/v1/alerts', { key: hospital.apiKey })).status).toBe(403);

    const sql = postgres(svc.db.url, { max: 1, onnotice: () => undefined });
    try {
      const tables = await sql<{ name: string }[]>`
        select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`;
      expect(tables.map((t) => t.name)).toContain('api_keys');
      for (const { name } of tables) {
        for (const key of [hospital.apiKey, provider.apiKey]) {
          const [row] = await sql<{ n: number }[]>`
            select count(*)::int as n from ${sql(name)} t where strpos(t::text, ${key}) > 0`;
          expect(row!.n, `table ${name} holds a plaintext key`).toBe(0);
        }
      }
    } finally {
      await sql.end();
    }
  });
});

describe('authentication', () => {
  it('a missing, malformed or unknown key is 401 problem+json', async () => {
    const provider = await register('providers');
    const cases: [string, string, Record<string, string>][] = [
      ['GET', '/v1/providers', {}],
      ['POST', '/v1/hospitals', {}],
      ['GET', `/v1/providers/${provider.id}/clients`, {}],
      ['GET', '/v1/alerts', { authorization: 'Bearer aa_p_not-a-real-key' }],
      ['GET', `/v1/providers/${provider.id}`, { authorization: `Basic ${provider.apiKey}` }],
      ['GET', `/v1/providers/${provider.id}`, { authorization: `Bearer ${provider.apiKey}x` }],
      ['PUT', `/v1/providers/${provider.id}/escalation-policy`, { authorization: 'Bearer ' }],
    ];
    for (const [method, path, headers] of cases) {
      const res = await svc.api(method, path, { headers, body: method === 'GET' ? undefined : {} });
      expectProblem(res, 401);
      expect(res.body.title).toBe('Unauthorized');
    }
  });

  it('when PostgreSQL cannot be asked, a key is answered 503 (retry later), never 401', async () => {
    const lonely = await startTestService({ roles: ['api'] });
    try {
      const res = await lonely.api('POST', '/v1/providers', {
        key: lonely.adminToken,
        body: { odsCode: 'PDB1', name: 'x' },
      });
      expect(res.status).toBe(201);
      const key = res.body.apiKey as string;
      expect((await lonely.api('GET', `/v1/providers/${res.body.id}`, { key })).status).toBe(200);
      await lonely.db.drop();
      const down = await lonely.api('GET', `/v1/providers/${res.body.id}`, { key });
      expect(expectProblem(down, 503)).toMatch(/retry later/);
    } finally {
      await lonely.stop();
    }
  });

  it('a hospital key is 403 on the registry', async () => {
    const hospital = await register('hospitals');
    const provider = await register('providers');
    const key = hospital.apiKey;
    const cases: [string, string, unknown?][] = [
      ['POST', '/v1/hospitals', { odsCode: ods('RZ'), name: 'x' }],
      ['POST', '/v1/providers', { odsCode: ods('PZ'), name: 'x' }],
      ['GET', '/v1/providers'],
      ['GET', '/v1/hospitals'],
      ['GET', `/v1/providers/${provider.id}`],
      ['POST', `/v1/providers/${provider.id}/contacts`, { name: 'x', role: 'y' }],
      ['PUT', `/v1/providers/${provider.id}/escalation-policy`, { steps: [] }],
      ['PUT', `/v1/providers/${provider.id}/clients/${testNhsNumber()}`, { dateOfBirth: '1941-03-12' }],
      ['GET', `/v1/providers/${provider.id}/clients`],
    ];
    for (const [method, path, body] of cases) {
      expectProblem(await svc.api(method, path, { key, body }), 403);
    }
  });

  it('a provider key is 403 on operator-only endpoints', async () => {
    const provider = await register('providers');
    expectProblem(
      await svc.api('POST', '/v1/hospitals', { key: provider.apiKey, body: { odsCode: ods('RY'), name: 'x' } }),
      403,
    );
    expectProblem(
      await svc.api('POST', '/v1/providers', { key: provider.apiKey, body: { odsCode: ods('PY'), name: 'x' } }),
      403,
    );
    expectProblem(await svc.api('GET', '/v1/providers', { key: provider.apiKey }), 403);
  });

  it("provider B's key is 404 on everything of provider A, which stays unchanged", async () => {
    const a = await register('providers');
    const b = await register('providers');
    const contact = await svc.api('POST', `/v1/providers/${a.id}/contacts`, {
      key: a.apiKey,
      body: { name: 'Day coordinator', role: 'coordinator', phone: '07700900123' },
    });
    expect(contact.status).toBe(201);
    const policy = { steps: [{ contactIds: [contact.body.id], channels: ['sms'], waitSeconds: 60 }] };
    expect(
      (await svc.api('PUT', `/v1/providers/${a.id}/escalation-policy`, { key: a.apiKey, body: policy })).status,
    ).toBe(200);
    const nhs = testNhsNumber();
    expect(
      (
        await svc.api('PUT', `/v1/providers/${a.id}/clients/${nhs}`, {
          key: a.apiKey,
          body: { dateOfBirth: '1941-03-12' },
        })
      ).status,
    ).toBe(201);

    const cases: [string, string, unknown?, Record<string, string>?][] = [
      ['GET', `/v1/providers/${a.id}`],
      ['GET', `/v1/providers/${a.id}/contacts`],
      ['POST', `/v1/providers/${a.id}/contacts`, { name: 'Intruder', role: 'x', phone: '07700900999' }],
      ['DELETE', `/v1/providers/${a.id}/contacts/${contact.body.id}`],
      ['GET', `/v1/providers/${a.id}/escalation-policy`],
      [
        'PUT',
        `/v1/providers/${a.id}/escalation-policy`,
        { steps: [{ contactIds: [contact.body.id], channels: ['sms'], waitSeconds: 1 }] },
      ],
      ['GET', `/v1/providers/${a.id}/clients`],
      ['GET', `/v1/providers/${a.id}/clients/${nhs}`],
      ['PUT', `/v1/providers/${a.id}/clients/${nhs}`, { dateOfBirth: '1950-01-01' }],
      ['DELETE', `/v1/providers/${a.id}/clients/${nhs}`],
      [
        'POST',
        `/v1/providers/${a.id}/clients/import`,
        `nhs_number,date_of_birth\n${nhs},1950-01-01\n`,
        { 'content-type': 'text/csv' },
      ],
      // an id that does not exist at all looks the same
      ['GET', `/v1/providers/${randomUUID()}/clients`],
    ];
    for (const [method, path, body, headers] of cases) {
      const res = await svc.api(method, path, { key: b.apiKey, body, headers });
      expectProblem(res, 404);
      expect(res.text).not.toContain(a.odsCode);
    }
    const contacts = await svc.api('GET', `/v1/providers/${a.id}/contacts`, { key: a.apiKey });
    expect(contacts.body.items.map((c: any) => c.name)).toEqual(['Day coordinator']);
    const pol = await svc.api('GET', `/v1/providers/${a.id}/escalation-policy`, { key: a.apiKey });
    expect(pol.body.steps[0].waitSeconds).toBe(60);
    const client = await svc.api('GET', `/v1/providers/${a.id}/clients/${nhs}`, { key: a.apiKey });
    expect(client.body.dateOfBirth).toBe('1941-03-12');
    // and B's own list is empty
    expect((await svc.api('GET', `/v1/providers/${b.id}/clients`, { key: b.apiKey })).body.items).toEqual([]);
  });
});

describe('contacts', () => {
  it('POST → 201; webhookSecret only when webhookUrl is set, and only in that answer', async () => {
    const p = await register('providers');
    const sms = await svc.api('POST', `/v1/providers/${p.id}/contacts`, {
      key: p.apiKey,
      body: { name: 'Priya Shah', role: 'coordinator', phone: '07700 900123', email: 'priya@care.example' },
    });
    expect(sms.status, sms.text).toBe(201);
    expect(sms.body).toMatchObject({ name: 'Priya Shah', role: 'coordinator', email: 'priya@care.example' });
    expect(sms.body.phone.replace(/\D/g, '')).toMatch(/7700900123$/);
    expect(sms.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect('webhookSecret' in sms.body).toBe(false);

    const hook = await svc.api('POST', `/v1/providers/${p.id}/contacts`, {
      key: p.apiKey,
      body: { name: 'Rota system', role: 'system', webhookUrl: 'https://hooks.care.example/admissions' },
    });
    expect(hook.status, hook.text).toBe(201);
    expect(hook.body).toMatchObject({ name: 'Rota system', webhookUrl: 'https://hooks.care.example/admissions' });
    expect(typeof hook.body.webhookSecret).toBe('string');
    expect(hook.body.webhookSecret.length).toBeGreaterThanOrEqual(32);

    // loopback http is allowed with ALLOW_LOOPBACK_WEBHOOKS=true (the test service sets it)
    const local = await svc.api('POST', `/v1/providers/${p.id}/contacts`, {
      key: svc.adminToken,
      body: { name: 'Local', role: 'system', webhookUrl: 'http://127.0.0.1:9/hook' },
    });
    expect(local.status, local.text).toBe(201);
    expect(typeof local.body.webhookSecret).toBe('string');

    const list = await svc.api('GET', `/v1/providers/${p.id}/contacts`, { key: p.apiKey });
    expect(list.body.items.map((c: any) => c.id)).toEqual([sms.body.id, hook.body.id, local.body.id]);
    expect(list.text).not.toContain(hook.body.webhookSecret);
    expect(list.text).not.toContain('webhookSecret');

    expect((await svc.api('DELETE', `/v1/providers/${p.id}/contacts/${local.body.id}`, { key: p.apiKey })).status).toBe(
      204,
    );
    expectProblem(await svc.api('DELETE', `/v1/providers/${p.id}/contacts/${local.body.id}`, { key: p.apiKey }), 404);
  });

  it.each([
    [{ name: 'A', role: 'r', phone: '0123' }, 'phone'],
    [{ name: 'A', role: 'r', phone: '020 7946 0000' }, 'phone'],
    [{ name: 'A', role: 'r', phone: '+33 6 12 34 56 78' }, 'phone'],
    [{ name: 'A', role: 'r', email: 'not-an-address' }, 'email'],
    [{ name: 'A', role: 'r', webhookUrl: 'http://hooks.care.example/admissions' }, 'webhookUrl'],
    [{ name: 'A', role: 'r', webhookUrl: 'http://10.0.0.7/hook' }, 'webhookUrl'],
    [{ name: 'A', role: 'r', webhookUrl: 'ftp://hooks.care.example/x' }, 'webhookUrl'],
    [{ name: 'A', role: 'r', webhookUrl: 'not a url' }, 'webhookUrl'],
    [{ role: 'r', phone: '07700900123' }, 'name'],
    [{ name: 'A', phone: '07700900123' }, 'role'],
  ])('POST contacts %j → 400 naming %s, nothing stored', async (body, field) => {
    const p = await register('providers');
    const res = await svc.api('POST', `/v1/providers/${p.id}/contacts`, { key: p.apiKey, body });
    expect(expectProblem(res, 400)).toContain(field);
    expect((await svc.api('GET', `/v1/providers/${p.id}/contacts`, { key: p.apiKey })).body.items).toEqual([]);
  });
});

describe('escalation policy', () => {
  async function providerWithContacts() {
    const p = await register('providers');
    const ids: string[] = [];
    for (const name of ['Day', 'Night']) {
      const res = await svc.api('POST', `/v1/providers/${p.id}/contacts`, {
        key: p.apiKey,
        body: { name, role: 'coordinator', phone: '07700900123' },
      });
      ids.push(res.body.id);
    }
    return { p, ids };
  }

  it('PUT → 200 with the policy, which GET returns; a second PUT replaces it', async () => {
    const { p, ids } = await providerWithContacts();
    const steps = [
      { contactIds: [ids[0]], channels: ['sms', 'email'], waitSeconds: 300 },
      { contactIds: [ids[0], ids[1]], channels: ['sms'], waitSeconds: 600 },
    ];
    const res = await svc.api('PUT', `/v1/providers/${p.id}/escalation-policy`, {
      key: p.apiKey,
      body: { steps, repeat: 0 },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ steps, repeat: 0 });
    expect((await svc.api('GET', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey })).body).toMatchObject({
      steps,
      repeat: 0,
    });

    const one = [{ contactIds: [ids[1]], channels: ['webhook'], waitSeconds: 1 }];
    const res2 = await svc.api('PUT', `/v1/providers/${p.id}/escalation-policy`, {
      key: svc.adminToken,
      body: { steps: one },
    });
    expect(res2.status, res2.text).toBe(200);
    expect((await svc.api('GET', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey })).body).toMatchObject({
      steps: one,
      repeat: 0,
    });
  });

  it("an unknown contact, another provider's contact or a deleted one → 400 naming the step, policy unchanged", async () => {
    const { p, ids } = await providerWithContacts();
    const other = await providerWithContacts();
    const good = [{ contactIds: [ids[0]], channels: ['sms'], waitSeconds: 60 }];
    expect(
      (await svc.api('PUT', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey, body: { steps: good } }))
        .status,
    ).toBe(200);
    expect((await svc.api('DELETE', `/v1/providers/${p.id}/contacts/${ids[1]}`, { key: p.apiKey })).status).toBe(204);
    for (const stranger of [randomUUID(), other.ids[0]!, ids[1]!]) {
      const steps = [good[0], { contactIds: [ids[0], stranger], channels: ['sms'], waitSeconds: 60 }];
      const detail = expectProblem(
        await svc.api('PUT', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey, body: { steps } }),
        400,
      );
      expect(detail).toContain('steps.1.contactIds');
      expect(detail).toContain(stranger);
    }
    expect((await svc.api('GET', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey })).body.steps).toEqual(
      good,
    );
  });

  it.each([
    [{ waitSeconds: 0 }, 'steps.0.waitSeconds'],
    [{ waitSeconds: -30 }, 'steps.0.waitSeconds'],
    [{ waitSeconds: 1.5 }, 'steps.0.waitSeconds'],
    [{ waitSeconds: '60' }, 'steps.0.waitSeconds'],
    [{ channels: ['fax'] }, 'steps.0.channels'],
    [{ channels: [] }, 'steps.0.channels'],
    [{ contactIds: [] }, 'steps.0.contactIds'],
    [{ contactIds: ['not-a-uuid'] }, 'steps.0.contactIds'],
  ])('a step with %j → 400 naming %s', async (change, field) => {
    const { p, ids } = await providerWithContacts();
    const steps = [{ contactIds: [ids[0]], channels: ['sms'], waitSeconds: 60, ...change }];
    const detail = expectProblem(
      await svc.api('PUT', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey, body: { steps } }),
      400,
    );
    expect(detail).toContain(field);
    expectProblem(await svc.api('GET', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey }), 404);
  });

  it('no steps → 400', async () => {
    const { p } = await providerWithContacts();
    const detail = expectProblem(
      await svc.api('PUT', `/v1/providers/${p.id}/escalation-policy`, { key: p.apiKey, body: { steps: [] } }),
      400,
    );
    expect(detail).toContain('steps');
  });
});

describe('clients', () => {
  it('PUT → 201 new, 200 updated; GET lists; DELETE → 204 then 404', async () => {
    const p = await register('providers');
    const nhs = testNhsNumber();
    const path = `/v1/providers/${p.id}/clients/${nhs}`;
    const created = await svc.api('PUT', path, {
      key: p.apiKey,
      body: { dateOfBirth: '1941-03-12', familyName: 'SMITH', givenName: 'MARGARET', reference: 'CLIENT-42' },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      nhsNumber: nhs,
      dateOfBirth: '1941-03-12',
      familyName: 'SMITH',
      givenName: 'MARGARET',
      reference: 'CLIENT-42',
      notOurClient: null,
    });

    // the same person, written as people write NHS numbers, is an update
    const spaced = `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}`;
    const updated = await svc.api('PUT', `/v1/providers/${p.id}/clients/${encodeURIComponent(spaced)}`, {
      key: svc.adminToken,
      body: { dateOfBirth: '1941-03-13', reference: 'CLIENT-43' },
    });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.body).toMatchObject({
      id: created.body.id,
      nhsNumber: nhs,
      dateOfBirth: '1941-03-13',
      reference: 'CLIENT-43',
    });

    const list = await svc.api('GET', `/v1/providers/${p.id}/clients`, { key: p.apiKey });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({
      nhsNumber: nhs,
      dateOfBirth: '1941-03-13',
      reference: 'CLIENT-43',
      notOurClient: null,
    });

    const del = await svc.api('DELETE', path, { key: p.apiKey });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expectProblem(await svc.api('DELETE', path, { key: p.apiKey }), 404);
    expectProblem(await svc.api('GET', path, { key: p.apiKey }), 404);
    expect((await svc.api('GET', `/v1/providers/${p.id}/clients`, { key: p.apiKey })).body.items).toEqual([]);
  });

  const valid = '9995260182';
  it.each([
    ['fails modulus 11', '9995260183'],
    ['has 9 digits', '999526018'],
    ['has 11 digits', '99952601820'],
    ['has letters', '99952601AB'],
  ])('an NHS number that %s → 400 naming nhsNumber, nothing stored', async (_why, nhs) => {
    const p = await register('providers');
    const detail = expectProblem(
      await svc.api('PUT', `/v1/providers/${p.id}/clients/${nhs}`, {
        key: p.apiKey,
        body: { dateOfBirth: '1941-03-12' },
      }),
      400,
    );
    expect(detail).toMatch(/nhsNumber/);
    expect(detail).toMatch(/NHS number/);
    expect((await svc.api('GET', `/v1/providers/${p.id}/clients`, { key: p.apiKey })).body.items).toEqual([]);
  });

  it.each([
    [{}, 'dateOfBirth'],
    [{ dateOfBirth: '12/03/1941' }, 'dateOfBirth'],
    [{ dateOfBirth: '1941-02-30' }, 'dateOfBirth'],
    [{ dateOfBirth: '2999-01-01' }, 'dateOfBirth'],
    [{ dateOfBirth: '1941-03-12', familyName: 42 }, 'familyName'],
  ])('a client body %j → 400 naming %s', async (body, field) => {
    const p = await register('providers');
    const detail = expectProblem(
      await svc.api('PUT', `/v1/providers/${p.id}/clients/${valid}`, { key: p.apiKey, body }),
      400,
    );
    expect(detail).toContain(field);
  });

  it('CSV import → 200 {created, updated, rejected: [{line, reason}]}, with quoted fields and CRLF', async () => {
    const p = await register('providers');
    const [existing, fresh1, fresh2, fresh3] = [testNhsNumber(), testNhsNumber(), testNhsNumber(), testNhsNumber()];
    expect(
      (
        await svc.api('PUT', `/v1/providers/${p.id}/clients/${existing}`, {
          key: p.apiKey,
          body: { dateOfBirth: '1930-01-01' },
        })
      ).status,
    ).toBe(201);
    const csv = [
      'nhs_number,date_of_birth,family_name,given_name,reference',
      `${existing},1930-01-01,JONES,ARTHUR,"A-1, east"`,
      `"${fresh1}","1941-03-12","O'BRIEN, SMITH","Mary ""Molly""",R-2`,
      '9995260183,1941-03-12,BAD,CHECK,', // fails modulus 11
      `${fresh2},,NO,DATE,`,
      '',
      `${fresh3},1950-06-07,,,"multi`,
      `line ref"`,
      `${fresh2.slice(0, 9)},1950-06-07,,,`, // 9 digits
      `${fresh1},1941-03-12,AGAIN,,`, // the same person twice
      `${testNhsNumber()},31/02/1950,,,`, // not a date (dd/mm/yyyy is read, but there is no 31 February)
    ].join('\r\n');
    const res = await svc.api('POST', `/v1/providers/${p.id}/clients/import`, {
      key: p.apiKey,
      body: csv,
      headers: { 'content-type': 'text/csv; charset=utf-8' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      created: 2,
      updated: 1,
      rejected: [
        { line: 4, reason: expect.stringMatching(/^nhs_number: .*modulus 11/) },
        { line: 5, reason: expect.stringMatching(/^date_of_birth: /) },
        { line: 9, reason: expect.stringMatching(/^nhs_number: .*9 digits/) },
        { line: 10, reason: expect.stringMatching(/^nhs_number: duplicate of line 3$/) },
        { line: 11, reason: expect.stringMatching(/^date_of_birth: /) },
      ],
    });

    const list = await svc.api('GET', `/v1/providers/${p.id}/clients`, { key: p.apiKey });
    const byNhs = Object.fromEntries(list.body.items.map((c: any) => [c.nhsNumber, c]));
    expect(Object.keys(byNhs).sort()).toEqual([existing, fresh1, fresh3].sort());
    expect(byNhs[existing]).toMatchObject({ familyName: 'JONES', givenName: 'ARTHUR', reference: 'A-1, east' });
    expect(byNhs[fresh1]).toMatchObject({
      dateOfBirth: '1941-03-12',
      familyName: "O'BRIEN, SMITH",
      givenName: 'Mary "Molly"',
      reference: 'R-2',
    });
    expect(byNhs[fresh3]).toMatchObject({ dateOfBirth: '1950-06-07', reference: 'multi\r\nline ref' });

    // importing the same file again creates nothing
    const again = await svc.api('POST', `/v1/providers/${p.id}/clients/import`, {
      key: p.apiKey,
      body: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(again.body).toMatchObject({ created: 0, updated: 3 });
    expect(again.body.rejected).toHaveLength(5);
  });

  it('CSV import also reads a header in plain words and dates written dd/mm/yyyy', async () => {
    const p = await register('providers');
    const nhs = testNhsNumber();
    const res = await svc.api('POST', `/v1/providers/${p.id}/clients/import`, {
      key: p.apiKey,
      body: `Surname,First name,NHS Number,Date of birth\r\nSMITH,MARGARET,${nhs},12/03/1941\r\n`,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ created: 1, updated: 0, rejected: [] });
    const got = await svc.api('GET', `/v1/providers/${p.id}/clients/${nhs}`, { key: p.apiKey });
    expect(got.body).toMatchObject({ dateOfBirth: '1941-03-12', familyName: 'SMITH', givenName: 'MARGARET' });
  });

  it('CSV import without the header → 400; not CSV → 415', async () => {
    const p = await register('providers');
    const noHeader = await svc.api('POST', `/v1/providers/${p.id}/clients/import`, {
      key: p.apiKey,
      body: `${valid},1941-03-12\n`,
      headers: { 'content-type': 'text/csv' },
    });
    expect(expectProblem(noHeader, 400)).toContain('nhs_number,date_of_birth');
    const json = await svc.api('POST', `/v1/providers/${p.id}/clients/import`, { key: p.apiKey, body: { rows: [] } });
    expectProblem(json, 415);
    expect((await svc.api('GET', `/v1/providers/${p.id}/clients`, { key: p.apiKey })).body.items).toEqual([]);
  });
});

describe('process start-up (CONTRACT.md "Process and configuration")', () => {
  it('npx tsx src/main-api.ts with PORT=notaport exits 1 with one line on stderr naming PORT', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      PORT: 'notaport',
      // npm's own warnings about this machine's ~/.npmrc are not the service's output
      npm_config_loglevel: 'error',
    };
    const child = spawn('npx', ['tsx', 'src/main-api.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: PORT /);
    expect(lines[0]).toContain('port number');
    expect(stdout).toBe('');
  });
});
