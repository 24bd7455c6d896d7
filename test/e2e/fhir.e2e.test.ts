/**
 * Issue "HL7 v2 and FHIR ingestion that never loses a message", item 7: `POST /v1/fhir/Encounter` on the running
 * service. An Encounter becomes the same effects as the HL7 events (admission, discharge and cancellation
 * webhooks), every failure class is answered with its status and an OperationOutcome, rejected bodies are stored,
 * and a resend is recognised.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  registerHospital,
  startIngestStory,
  stopStory,
  type IngestStory,
} from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';

type Spell = ReturnType<typeof newSpell>;

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const SPELL_SYSTEM = 'https://fhir.rx1.nhs.uk/Id/spell-number';
const DISCHARGE_METHOD = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DischargeMethod';
const HOOK = '/VQ401/c1';

let svc: TestService;
let hooks: WebhookReceiver;
let db: postgres.Sql;
let rx1: IngestStory['rx1'];
let provider: IngestStory['provider'];

beforeAll(async () => {
  ({ svc, hooks, db, rx1, provider } = await startIngestStory('VQ401'));
});
afterAll(async () => {
  await db?.end();
  await stopStory({ svc, hooks });
});

// ---- helpers ---------------------------------------------------------------------------------------------

type Json = Record<string, any>;

/** A UK Core-shaped inpatient Encounter for a spell, at version `version` of resource `enc-<visit>`. */
function encounter(spell: Spell, status: string, version: number, extra: Json = {}): Json {
  return {
    resourceType: 'Encounter',
    id: `enc-${spell.visit}`,
    meta: { versionId: String(version), lastUpdated: `2026-11-2${version}T10:00:00Z` },
    contained: [
      {
        resourceType: 'Patient',
        id: 'pat',
        birthDate: '1941-03-12',
        name: [{ use: 'official', family: 'SMITH', given: ['MARGARET'] }],
      },
    ],
    identifier: [{ system: SPELL_SYSTEM, value: spell.visit }],
    status,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject: { reference: '#pat', identifier: { system: NHS, value: spell.nhs } },
    period: { start: '2026-11-22T09:20:00Z' },
    location: [{ location: { identifier: { value: 'RX1WD12' }, display: 'Ward 12 Elderly Care' }, status: 'active' }],
    serviceProvider: { identifier: { system: ODS, value: 'RX1' } },
    ...extra,
  };
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: Json | undefined;
}

async function post(body: Json | string, opts: { key?: string | null; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/fhir+json' };
  const key = opts.key === undefined ? rx1.apiKey : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${svc.baseUrl}/v1/fhir/Encounter`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Json | undefined;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, body: parsed };
}

/** Asserts an OperationOutcome answer: status, FHIR content type, one issue of this severity and type. */
function expectOutcome(
  res: Answer,
  status: number,
  issue: { severity?: string; code: string; diagnostics?: RegExp; expression?: string },
) {
  expect(res.status, res.text).toBe(status);
  expect(res.contentType).toMatch(/^application\/fhir\+json/);
  expect(res.body?.resourceType).toBe('OperationOutcome');
  expect(res.body?.issue).toHaveLength(1);
  const i = res.body!.issue[0];
  expect(i.severity).toBe(issue.severity ?? 'error');
  expect(i.code).toBe(issue.code);
  if (issue.diagnostics) expect(i.diagnostics).toMatch(issue.diagnostics);
  if (issue.expression) expect(i.expression).toEqual([issue.expression]);
}

/** Rows stored for exactly this body text. */
async function rowsWithRaw(raw: string) {
  return db<
    {
      transport: string;
      status: string;
      http_status: number;
      error_code: string | null;
      error_location: string | null;
    }[]
  >`
    select transport, status, http_status, error_code, error_location from inbound_messages where raw = ${raw} order by id`;
}

async function clientSpell(): Promise<Spell> {
  const spell = newSpell();
  await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
  return spell;
}

const hookOf = (spell: Spell, type: string) =>
  hooks.waitFor(
    (r) => r.path === HOOK && (r.body as Json)?.patient?.nhsNumber === spell.nhs && (r.body as Json)?.type === type,
    20_000,
  );

// ---- effects ---------------------------------------------------------------------------------------------

describe('FHIR Encounters become the same effects as HL7 events', () => {
  it('in-progress → admission webhook; finished → discharge webhook; the stay closes when acknowledged', async () => {
    const spell = await clientSpell();
    const admitted = await post(encounter(spell, 'in-progress', 1));
    expectOutcome(admitted, 200, {
      severity: 'information',
      code: 'informational',
      diagnostics: /^Stored as message \d+$/,
    });
    const adm = (await hookOf(spell, 'admission')).body as Json;
    expect(adm).toMatchObject({
      escalationStep: 1,
      patient: { nhsNumber: spell.nhs, familyName: 'SMITH', givenName: 'MARGARET', dateOfBirth: '1941-03-12' },
      hospital: { odsCode: 'RX1', name: 'Leeds General Infirmary' },
      location: { ward: 'Ward 12 Elderly Care' },
    });
    await svc.api('POST', `/v1/alerts/${adm.alertId}/acknowledge`, { key: provider.apiKey, body: { by: 'Priya' } });

    const finished = encounter(spell, 'finished', 2, {
      period: { start: '2026-11-22T09:20:00Z', end: '2026-11-26T14:00:00Z' },
      hospitalization: {
        dischargeDisposition: { coding: [{ code: '19' }] },
        extension: [{ url: DISCHARGE_METHOD, valueCodeableConcept: { coding: [{ code: '1' }] } }],
      },
    });
    expectOutcome(await post(finished), 200, { severity: 'information', code: 'informational' });
    const dis = (await hookOf(spell, 'discharge')).body as Json;
    expect(dis.discharge).toEqual({
      at: '2026-11-26T14:00:00.000Z',
      method: '1',
      destination: '19',
      destinationCategory: 'home',
    });
    await svc.api('POST', `/v1/alerts/${dis.alertId}/acknowledge`, { key: provider.apiKey, body: { by: 'Priya' } });
    const closed = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'closed' && a;
      },
      20_000,
      'closed',
    );
    expect(closed.dischargedAt).toBe('2026-11-26T14:00:00.000Z');
    expect(closed.events.map((e: Json) => e.type)).toEqual(['FHIR-in-progress', 'FHIR-finished']);
    expect(closed.events.map((e: Json) => e.messageControlId)).toEqual([
      `fhir-enc-${spell.visit}/_history/1`,
      `fhir-enc-${spell.visit}/_history/2`,
    ]);
  });

  it('entered-in-error cancels the admission: a cancellation webhook, the admission alert withdrawn', async () => {
    const spell = await clientSpell();
    expectOutcome(await post(encounter(spell, 'in-progress', 1)), 200, {
      severity: 'information',
      code: 'informational',
    });
    const adm = (await hookOf(spell, 'admission')).body as Json;
    expectOutcome(await post(encounter(spell, 'entered-in-error', 2)), 200, {
      severity: 'information',
      code: 'informational',
    });
    const cancel = (await hookOf(spell, 'cancellation')).body as Json;
    expect(cancel.admissionId).toBe(adm.admissionId);
    await eventually(async () => (await admissionOf(svc, spell.visit))?.status === 'cancelled', 20_000, 'cancelled');
    const alert = await svc.api('GET', `/v1/alerts/${adm.alertId}`, { key: provider.apiKey });
    expect(alert.body.status).toBe('withdrawn');
  });

  it('an exact resend (even with its keys in another order) is 200 and changes nothing: one row, one alert', async () => {
    const spell = await clientSpell();
    const enc = encounter(spell, 'in-progress', 1);
    expect((await post(enc)).status).toBe(200);
    const reordered = Object.fromEntries(Object.entries(enc).reverse());
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(enc));
    expectOutcome(await post(reordered), 200, { severity: 'information', code: 'informational' });
    expectOutcome(await post(JSON.stringify(enc, null, 2)), 200, { severity: 'information', code: 'informational' });
    await hookOf(spell, 'admission');
    const rows = await db`select count(*)::int as n from inbound_messages where hospital_ods = 'RX1'
      and message_control_id = ${`fhir-enc-${spell.visit}/_history/1`}`;
    expect(rows[0]!.n).toBe(1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(hooks.received(HOOK).filter((h) => (h.body as Json)?.patient?.nhsNumber === spell.nhs)).toHaveLength(1);
  });

  it('without id and versionId, the same Encounter sent twice is recognised by its content', async () => {
    const spell = newSpell();
    const { id: _id, meta: _meta, ...enc } = encounter(spell, 'in-progress', 1);
    expect((await post(enc)).status).toBe(200);
    expect((await post(enc)).status).toBe(200);
    expect((await admissionOf(svc, spell.visit))!.events).toHaveLength(1);
  });

  it('the same id and versionId with different content is 409 conflict; the first stands', async () => {
    const spell = newSpell();
    expect((await post(encounter(spell, 'in-progress', 1))).status).toBe(200);
    const changed = encounter(spell, 'in-progress', 1, {
      location: [{ location: { display: 'Ward 3' }, status: 'active' }],
    });
    const res = await post(changed);
    expectOutcome(res, 409, {
      code: 'conflict',
      diagnostics: /already sent by this hospital with different content/,
      expression: 'Encounter.meta.versionId',
    });
    expect(await rowsWithRaw(JSON.stringify(changed))).toEqual([
      expect.objectContaining({ status: 'rejected', http_status: 409, error_code: 'duplicate-control-id' }),
    ]);
    expect((await admissionOf(svc, spell.visit))!.events).toHaveLength(1);
  });

  it('an NHS number failing the modulus 11 check is 200, and the admission ends unmatched with the reason', async () => {
    const spell = newSpell();
    const bad = `${spell.nhs.slice(0, 9)}${(Number(spell.nhs[9]) + 1) % 10}`;
    const enc = encounter(spell, 'in-progress', 1, {
      subject: { reference: '#pat', identifier: { system: NHS, value: bad } },
    });
    expect((await post(enc)).status).toBe(200);
    const adm = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'unmatched' && a;
      },
      20_000,
      'unmatched',
    );
    expect(adm.statusReason).toMatch(/modulus 11/);
  });
});

// ---- failures --------------------------------------------------------------------------------------------

describe('every failure class has its status and an OperationOutcome; rejected bodies are stored', () => {
  it.each([
    ['status unknown', { status: 'unknown' }, 'invalid', 'Encounter.status'],
    ['no status', { status: undefined }, 'invalid', 'Encounter.status'],
    ['no subject identifier', { subject: { reference: '#pat' } }, 'required', 'Encounter.subject.identifier'],
    ['no spell identifier', { identifier: [] }, 'required', 'Encounter.identifier'],
    ['a bad period.start', { period: { start: '2026-13-01T09:20:00Z' } }, 'value', 'Encounter.period.start'],
    ['a time without a zone', { period: { start: '2026-11-22T09:20:00' } }, 'value', 'Encounter.period.start'],
    ['status of the wrong type', { status: 42 }, 'invalid', 'Encounter.status'],
  ])('422 for %s', async (_what, edit: Json, code: string, expression: string) => {
    const body = encounter(newSpell(), 'in-progress', 1, edit);
    const res = await post(body);
    expectOutcome(res, 422, { code, expression });
    expect(await rowsWithRaw(JSON.stringify(body))).toEqual([
      expect.objectContaining({ transport: 'fhir', status: 'rejected', http_status: 422, error_location: expression }),
    ]);
  });

  it.each([
    ['not JSON', '{"resourceType": "Encounter", ', 'structure', /not valid JSON/],
    ['a JSON array', '[{"resourceType": "Encounter"}]', 'structure', /not a FHIR resource/],
    ['a JSON string', '"Encounter"', 'structure', /not a FHIR resource/],
    ['no resourceType', '{"status": "in-progress"}', 'structure', /no resourceType/],
    [
      'another resource type',
      '{"resourceType": "Patient", "id": "p1"}',
      'not-supported',
      /Expected resourceType Encounter/,
    ],
    [
      'no serviceProvider',
      JSON.stringify({ ...encounter(newSpell(), 'in-progress', 1), serviceProvider: undefined }),
      'required',
      /serviceProvider/,
    ],
    [
      'nested 10,000 deep',
      `{"resourceType":"Encounter","extension":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
      'structure',
      /nested more than/,
    ],
  ])('400 for %s, stored as rejected', async (_what, text: string, code: string, diagnostics: RegExp) => {
    const res = await post(text);
    expectOutcome(res, 400, { code, diagnostics });
    expect(await rowsWithRaw(text)).toEqual([
      expect.objectContaining({ transport: 'fhir', status: 'rejected', http_status: 400 }),
    ]);
  });

  it("403 forbidden for a serviceProvider that is not this key's hospital (checked before the content), stored", async () => {
    const body = encounter(newSpell(), 'unknown', 1, {
      serviceProvider: { identifier: { system: ODS, value: 'RR8' } },
    });
    const res = await post(body);
    expectOutcome(res, 403, {
      code: 'forbidden',
      diagnostics: /serviceProvider "RR8" is not the hospital of this API key/,
      expression: 'Encounter.serviceProvider',
    });
    expect(await rowsWithRaw(JSON.stringify(body))).toEqual([
      expect.objectContaining({ status: 'rejected', http_status: 403, error_code: 'sender-mismatch' }),
    ]);
  });

  it('403 forbidden for a provider key or the operator token: only hospitals send encounters', async () => {
    for (const key of [provider.apiKey, svc.adminToken]) {
      expectOutcome(await post(encounter(newSpell(), 'in-progress', 1), { key }), 403, { code: 'forbidden' });
    }
  });

  it.each([
    ['no key', null],
    ['an unknown key', 'aa_h_nobody-was-given-this-key'],
  ])('401 login for %s; nothing stored', async (_what, key) => {
    const body = encounter(newSpell(), 'in-progress', 1);
    expectOutcome(await post(body, { key }), 401, { code: 'login', diagnostics: /API key/ });
    expect(await rowsWithRaw(JSON.stringify(body))).toEqual([]);
  });

  it('415 not-supported for a body that is not JSON by its content type; application/json is accepted', async () => {
    const body = encounter(newSpell(), 'in-progress', 1);
    for (const type of ['text/plain', 'x-application/hl7-v2+er7', 'application/xml']) {
      expectOutcome(await post(body, { contentType: type }), 415, {
        code: 'not-supported',
        diagnostics: /application\/fhir\+json/,
      });
    }
    expectOutcome(await post(body, { contentType: 'application/json; charset=utf-8' }), 200, {
      severity: 'information',
      code: 'informational',
    });
  });

  it('413 too-costly for a body over 1 MiB', async () => {
    const body = encounter(newSpell(), 'in-progress', 1, {
      text: { status: 'generated', div: 'x'.repeat(1024 * 1024) },
    });
    expectOutcome(await post(body), 413, { code: 'too-costly' });
  });

  it('a NUL character in a value is 422 (it could never be stored), not a false "retry later"', async () => {
    const spell = newSpell();
    const body = encounter(spell, 'in-progress', 1, {
      contained: [{ resourceType: 'Patient', id: 'pat', birthDate: '1941-03-12', name: [{ family: 'SMI\u0000TH' }] }],
    });
    expectOutcome(await post(body), 422, { code: 'invalid', diagnostics: /NUL character/ });
    const lone = encounter(newSpell(), 'in-progress', 1, { location: [{ location: { display: 'Ward \ud800' } }] });
    expectOutcome(await post(lone), 422, { code: 'invalid', diagnostics: /unpaired surrogate/ });
  });
});

describe('when PostgreSQL is gone', () => {
  it('an Encounter is answered 503 transient ("retry later"), never 200', async () => {
    const lone = await startTestService({ roles: ['api'] });
    try {
      const hospital = await registerHospital(lone, 'RX1');
      const admin = postgres(inject('postgresUrl'), { max: 1, onnotice: () => undefined });
      await admin.unsafe(`drop database ${lone.db.name} with (force)`);
      await admin.end();
      const res = await fetch(`${lone.baseUrl}/v1/fhir/Encounter`, {
        method: 'POST',
        headers: { authorization: `Bearer ${hospital.apiKey}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(encounter(newSpell(), 'in-progress', 1)),
      });
      const body = (await res.json()) as Json;
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
      expect(body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'transient' }],
      });
      expect(body.issue[0].diagnostics).toMatch(/retry later/);
    } finally {
      await lone.stop();
    }
  });
});
