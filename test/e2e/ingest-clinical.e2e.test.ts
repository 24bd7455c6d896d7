/**
 * Clinical safety, the ingestion side (CONTRACT.md "What the provider is told (clinical meaning)"), through the real
 * service: MSH-11 training/debugging traffic is answered and stored but never reaches a stay; MSH-12 2.1 to 2.8.2
 * are taken; a hospital's code map (`PUT /v1/hospitals/{id}/code-map`) classifies the messages received after it;
 * person-level identity corrections (A40, A47, A31 without a visit) are linked to, and handed to, the patient's other
 * open stays at the hospital. Asserted as a hospital (ACK), an operator (`/v1/messages`, `/v1/admissions`, the code
 * map) and, where nothing shows it to anyone, the service's database (the parsed event, stay_links).
 */
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../../src/domain/admission-event.js';
import { HL7_ERROR_CODES } from '../../src/hl7/ack.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { eventually } from '../support/fixtures.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  sendHl7,
  spellMessage,
  startIngestStory,
  stopStory,
  testNhsNumber,
  type IngestStory,
} from '../support/scenario.js';
import type { TestService } from '../support/service.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';

type Spell = ReturnType<typeof newSpell>;

let svc: TestService;
let hooks: WebhookReceiver;
let db: postgres.Sql;
let rx1: IngestStory['rx1'];
let rr8: IngestStory['rr8'];
let provider: IngestStory['provider'];

const HOOK = '/VQ301/c1';

beforeAll(async () => {
  ({ svc, hooks, db, rx1, rr8, provider } = await startIngestStory('VQ301'));
});
afterAll(async () => {
  await db?.end();
  await stopStory({ svc, hooks });
});

// ---- helpers ---------------------------------------------------------------------------------------------

let mrnSeq = 0;
/** A local id (MRN) of this test run's own, so that no two spells share one (the fixtures all carry RX1001234). */
const newMrn = () => `MRN${Date.now().toString(36).toUpperCase()}${++mrnSeq}`;

/**
 * A fixture for a spell, with plain-text edits; `hospital` rewrites MSH-4 (the fixtures say RX1) and `mrn` the
 * patient's local id.
 */
function message(
  name: 'a01-admit.hl7' | 'a03-discharge-home.hl7',
  spell: Spell,
  opts: { edits?: [string, string][]; hospital?: string; mrn?: string } = {},
): string {
  let text = spellMessage(name, spell, {
    ...(opts.hospital ? { '|PAS|RX1|': `|PAS|${opts.hospital}|` } : {}),
    ...(opts.mrn ? { RX1001234: opts.mrn } : {}),
  });
  for (const [from, to] of opts.edits ?? []) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  return text;
}
const a01Id = (spell: Spell) => `${spell.ids}000001`;
const a03Id = (spell: Spell) => `${spell.ids}000003`;

/** An A40, A47 or A31 (no PV1) naming the patient by `pid3`, and the prior patient by `mrg` (MRG-1). */
function personMessage(trigger: string, controlId: string, pid3: string, mrg?: string, msh11 = 'P'): string {
  return [
    `MSH|^~\\&|PAS|RX1|ADMISSION-ALERTS|NHSE|20261123100000||ADT^${trigger}^ADT_A39|${controlId}|${msh11}|2.4`,
    `EVN|${trigger}|20261123095500`,
    `PID|1||${pid3}||SMITH^MARGARET||19410312`,
    ...(mrg ? [`MRG|${mrg}`] : []),
  ].join('\r');
}

async function post(text: string, key = rx1.apiKey) {
  return sendHl7(svc, key, text);
}

/** Asserts an AA 200 for `controlId`, with no ERR. */
function expectAccepted(res: Awaited<ReturnType<typeof post>>, controlId: string): void {
  expect(res.status, res.text).toBe(200);
  expect(res.ack).toMatchObject({ code: 'AA', controlId, errorDetails: [] });
}

/** GET /v1/messages as the operator, with a query string. */
async function listMessages(query: string): Promise<any[]> {
  const res = await svc.api('GET', `/v1/messages?${query}`, { key: svc.adminToken });
  expect(res.status, res.text).toBe(200);
  return res.body.items as any[];
}

/** The admissions the operator finds for a spell (`GET /v1/admissions?hospital=&visitNumber=`). */
async function admissionsOf(visit: string, hospital = 'RX1'): Promise<any[]> {
  const res = await svc.api('GET', `/v1/admissions?hospital=${hospital}&visitNumber=${visit}`, { key: svc.adminToken });
  expect(res.status, res.text).toBe(200);
  return res.body.items as any[];
}

/** The stored message (accepted, primary) of MSH-4 + MSH-10: its id, parsed event and dispatch time. */
async function storedMessage(controlId: string, hospital = 'RX1') {
  const [row] = await db<
    { id: string; parsed: AdmissionEvent; dispatched_at: Date | null; admission_id: string | null }[]
  >`
    select id::text, parsed, dispatched_at, admission_id from inbound_messages
    where hospital_ods = ${hospital} and message_control_id = ${controlId} and is_primary`;
  return row;
}

/** Waits until the relay has marked the message dispatched; returns its row. */
async function dispatched(controlId: string) {
  return eventually(
    async () => {
      const row = await storedMessage(controlId);
      return row?.dispatched_at ? row : undefined;
    },
    20_000,
    `message ${controlId} to be dispatched`,
  );
}

/** The stays a message was linked to (stay_links), sorted. */
async function linksOf(messageId: string): Promise<string[]> {
  const rows = await db<{ admission_id: string }[]>`
    select admission_id::text from stay_links where message_id = ${messageId}::bigint order by admission_id`;
  return rows.map((r) => r.admission_id);
}

/** The message ids a stay's workflow was signalled with (its latest run's history). */
async function signalledMessageIds(visit: string, hospital = 'RX1'): Promise<string[]> {
  const history = await svc.temporal.client.workflow.getHandle(`admission-${hospital}-${visit}`).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.workflowExecutionSignaledEventAttributes;
    if (a?.signalName !== 'admissionEvent') return [];
    return (a.input?.payloads ?? []).map((p) => String(JSON.parse(Buffer.from(p.data!).toString('utf8')).messageId));
  });
}

/** A stay's admission id, once ingest has created it. */
async function stayId(visit: string, hospital = 'RX1'): Promise<string> {
  const [a] = await admissionsOf(visit, hospital);
  expect(a, `admission of ${visit} at ${hospital}`).toBeDefined();
  return a.id as string;
}

// ---- MSH-11 processing ID ----------------------------------------------------------------------------------

describe('MSH-11: training and debugging messages are answered and stored, never reach a stay', () => {
  it.each(['T', 'D'])(
    'MSH-11 %s is AA 200, stored, listed by GET /v1/messages?processingId=%s, and no admission exists for its visit',
    async (pid) => {
      const spell = newSpell();
      // the patient is a client: a live A01 would alert the provider
      await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
      const res = await post(message('a01-admit.hl7', spell, { edits: [['|P|2.4|', `|${pid}|2.4|`]] }));
      expectAccepted(res, a01Id(spell));
      expect(parseHl7(res.text).msh.field(11)).toBe(pid);

      const listed = await listMessages(`processingId=${pid}&controlId=${a01Id(spell)}`);
      expect(listed).toEqual([
        expect.objectContaining({
          messageControlId: a01Id(spell),
          hospitalOds: 'RX1',
          trigger: 'A01',
          status: 'accepted',
          processingId: pid,
          ackCode: 'AA',
          httpStatus: 200,
          admissionId: null,
          dispatchedAt: expect.any(String),
        }),
      ]);
      expect(await listMessages(`processingId=P&controlId=${a01Id(spell)}`)).toEqual([]);
      const all = await listMessages(`processingId=${pid.toLowerCase()}&limit=1000`);
      expect(all.length).toBeGreaterThan(0);
      expect(all.every((m) => m.processingId === pid)).toBe(true);
      expect(await admissionsOf(spell.visit)).toEqual([]);

      // a live message sent after it goes all the way to the provider; the training one never does
      const live = newSpell();
      await registerClient(svc, provider, live.nhs, { dateOfBirth: '1941-03-12' });
      expectAccepted(await post(message('a01-admit.hl7', live)), a01Id(live));
      await hooks.waitFor((r) => r.path === HOOK && (r.body as any)?.patient?.nhsNumber === live.nhs, 20_000);
      expect(hooks.received(HOOK).some((r) => (r.body as any)?.patient?.nhsNumber === spell.nhs)).toBe(false);
      expect(await admissionsOf(spell.visit)).toEqual([]);
    },
  );

  it('a training message follows the usual resend rules: the exact resend is AA again, other content under its MSH-10 is AE 409', async () => {
    const spell = newSpell();
    const text = message('a01-admit.hl7', spell, { edits: [['|P|2.4|', '|T|2.4|']] });
    expectAccepted(await post(text), a01Id(spell));
    expectAccepted(await post(text), a01Id(spell));
    const changed = await post(text.replace('Ward 12 Elderly Care', 'Ward 14'));
    expect(changed.status).toBe(409);
    expect(changed.ack).toMatchObject({ code: 'AE', controlId: a01Id(spell) });
    expect(changed.ack!.errorDetails[0]).toMatchObject({ hl7Code: '205', location: 'MSH-10' });
    expect(await admissionsOf(spell.visit)).toEqual([]);
  });

  it('any other MSH-11 is AR 400 with ERR 202 at MSH-11, stored as rejected with what it said; the corrected message may reuse its MSH-10', async () => {
    const spell = newSpell();
    const res = await post(message('a01-admit.hl7', spell, { edits: [['|P|2.4|', '|X|2.4|']] }));
    expect(res.status, res.text).toBe(400);
    expect(res.ack).toMatchObject({ code: 'AR', controlId: a01Id(spell) });
    expect(res.ack!.errorDetails).toEqual([
      {
        hl7Code: '202',
        location: 'MSH-11',
        severity: 'E',
        message: 'MSH-11 processing ID X is not supported: P (production), T (training) or D (debugging)',
      },
    ]);
    expect(parseHl7(res.text).segment('ERR')!.component(3, 2)).toBe(HL7_ERROR_CODES['202']);
    expect(await listMessages(`status=rejected&controlId=${a01Id(spell)}`)).toEqual([
      expect.objectContaining({
        status: 'rejected',
        processingId: 'X',
        ackCode: 'AR',
        httpStatus: 400,
        admissionId: null,
        error: {
          code: 'unsupported-processing-id',
          reason: 'MSH-11 processing ID X is not supported: P (production), T (training) or D (debugging)',
          location: 'MSH-11',
        },
      }),
    ]);
    expect(await admissionsOf(spell.visit)).toEqual([]);
    expectAccepted(await post(message('a01-admit.hl7', spell)), a01Id(spell));
    expect(await listMessages(`status=accepted&controlId=${a01Id(spell)}`)).toEqual([
      expect.objectContaining({ processingId: 'P', admissionId: expect.any(String) }),
    ]);
  });

  it('GET /v1/messages: every listed message shows its processingId; a processingId that cannot be one is 400', async () => {
    const items = await listMessages('limit=1000');
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((m) => typeof m.processingId === 'string' && m.processingId !== '')).toBe(true);
    const bad = await svc.api('GET', `/v1/messages?processingId=${'T'.repeat(21)}`, { key: svc.adminToken });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

// ---- MSH-12 ------------------------------------------------------------------------------------------------

describe('MSH-12: versions 2.1 to 2.8.2', () => {
  it.each(['2.6', '2.7', '2.8'])('a v%s A01 is AA 200 and its stay reaches its workflow', async (version) => {
    const spell = newSpell();
    const res = await post(message('a01-admit.hl7', spell, { edits: [['|P|2.4|', `|P|${version}|`]] }));
    expectAccepted(res, a01Id(spell));
    expect(parseHl7(res.text).msh.field(12)).toBe(version);
    // nobody's client: only the workflow sets no-care-package
    const admission = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'no-care-package' ? a : undefined;
      },
      20_000,
      `the v${version} stay to reach its workflow`,
    );
    expect(admission.events).toEqual([expect.objectContaining({ type: 'A01', messageControlId: a01Id(spell) })]);
  });

  it('a v2.9 message is AR 400 (ERR 203 at MSH-12) and no stay is created', async () => {
    const spell = newSpell();
    const res = await post(message('a01-admit.hl7', spell, { edits: [['|P|2.4|', '|P|2.9|']] }));
    expect(res.status).toBe(400);
    expect(res.ack).toMatchObject({ code: 'AR', controlId: a01Id(spell) });
    expect(res.ack!.errorDetails[0]).toMatchObject({ hl7Code: '203', location: 'MSH-12' });
    expect(res.ack!.errorDetails[0]!.message).toMatch(/^MSH-12 version 2\.9 is not supported: 2\.1, .* or 2\.8\.2$/);
    expect(await admissionsOf(spell.visit)).toEqual([]);
  });
});

// ---- code map ----------------------------------------------------------------------------------------------

describe("a hospital's code map (PUT/GET /v1/hospitals/{id}/code-map)", () => {
  const CONTRACT_BODY = {
    dischargeMethod: { '20': 'died' },
    dischargeDestination: { '01': 'home', '03': 'care-home', '02': 'hospital' },
  };

  it('GET before any PUT is both parts empty; PUT stores and returns the map, GET returns it, an audit row records it', async () => {
    const url = `/v1/hospitals/${rr8.id}/code-map`;
    const before = await svc.api('GET', url, { key: svc.adminToken });
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ dischargeMethod: {}, dischargeDestination: {} });

    const put = await svc.api('PUT', url, { key: svc.adminToken, body: CONTRACT_BODY });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toEqual(CONTRACT_BODY);
    expect((await svc.api('GET', url, { key: svc.adminToken })).body).toEqual(CONTRACT_BODY);

    // the whole map is replaced; a part not sent is empty
    const partial = await svc.api('PUT', url, {
      key: svc.adminToken,
      body: { dischargeDestination: { H7: 'care-home' } },
    });
    expect(partial.status).toBe(200);
    expect(partial.body).toEqual({ dischargeMethod: {}, dischargeDestination: { H7: 'care-home' } });
    expect((await svc.api('GET', url, { key: svc.adminToken })).body).toEqual(partial.body);
    // another hospital's map is untouched
    expect((await svc.api('GET', `/v1/hospitals/${rx1.id}/code-map`, { key: svc.adminToken })).body).toEqual({
      dischargeMethod: {},
      dischargeDestination: {},
    });

    const audit = await db<{ actor: string; details: unknown }[]>`
      select actor, details from audit_events
      where action = 'hospital.code-map.updated' and entity_type = 'hospital' and entity_id = ${rr8.id} order by id`;
    expect(audit).toEqual([
      { actor: 'operator', details: CONTRACT_BODY },
      { actor: 'operator', details: { dischargeMethod: {}, dischargeDestination: { H7: 'care-home' } } },
    ]);
  });

  it.each([
    [
      'a destination category that is not one',
      { dischargeDestination: { '01': 'elsewhere' } },
      'dischargeDestination.01',
      'must be one of home, care-home, hospital, died, unknown',
    ],
    [
      'a method that is not died or alive',
      { dischargeMethod: { '20': 'home' } },
      'dischargeMethod.20',
      'must be one of died, alive',
    ],
    [
      'a code over 20 characters',
      { dischargeDestination: { ['C'.repeat(21)]: 'home' } },
      `dischargeDestination.${'C'.repeat(21)}`,
      'codes must be 1 to 20 characters',
    ],
    ['an empty code', { dischargeMethod: { '': 'died' } }, 'dischargeMethod.', 'codes must be 1 to 20 characters'],
    ['a part that is not an object', { dischargeMethod: ['20'] }, 'dischargeMethod', 'Expected object, received array'],
    ['an unknown part', { dischargeCodes: {} }, '(body)', "Unrecognized key(s) in object: 'dischargeCodes'"],
  ])('%s is 400 problem+json naming the field; the stored map is unchanged', async (_what, body, field, msg) => {
    const url = `/v1/hospitals/${rr8.id}/code-map`;
    const stored = (await svc.api('GET', url, { key: svc.adminToken })).body;
    const res = await svc.api('PUT', url, { key: svc.adminToken, body });
    expect(res.status, res.text).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: 'https://admission-alerts.example/problems/bad-request',
      title: 'Invalid request',
      status: 400,
      detail: `${field}: ${msg}`,
      errors: [{ field, message: msg }],
    });
    expect((await svc.api('GET', url, { key: svc.adminToken })).body).toEqual(stored);
  });

  it('an unknown hospital is 404; a hospital or provider key is 403; no key is 401', async () => {
    const notFound = {
      type: 'https://admission-alerts.example/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'hospital not found',
    };
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const get = await svc.api('GET', `/v1/hospitals/${id}/code-map`, { key: svc.adminToken });
      expect(get.status).toBe(404);
      expect(get.body).toEqual(notFound);
      const put = await svc.api('PUT', `/v1/hospitals/${id}/code-map`, { key: svc.adminToken, body: CONTRACT_BODY });
      expect(put.status).toBe(404);
      expect(put.body).toEqual(notFound);
    }
    const forbidden = {
      type: 'https://admission-alerts.example/problems/forbidden',
      title: 'Forbidden',
      status: 403,
      detail: 'Only the operator may do this',
    };
    for (const key of [rr8.apiKey, provider.apiKey]) {
      const put = await svc.api('PUT', `/v1/hospitals/${rr8.id}/code-map`, { key, body: CONTRACT_BODY });
      expect(put.status).toBe(403);
      expect(put.body).toEqual(forbidden);
      const get = await svc.api('GET', `/v1/hospitals/${rr8.id}/code-map`, { key });
      expect(get.status).toBe(403);
      expect(get.body).toEqual(forbidden);
    }
    expect((await svc.api('GET', `/v1/hospitals/${rr8.id}/code-map`)).status).toBe(401);
    expect((await svc.api('PUT', `/v1/hospitals/${rr8.id}/code-map`, { body: CONTRACT_BODY })).status).toBe(401);
  });

  it("applies to the hospital's messages received after the PUT, at once, and to no other hospital's", async () => {
    const url = `/v1/hospitals/${rr8.id}/code-map`;
    expect((await svc.api('PUT', url, { key: svc.adminToken, body: {} })).status).toBe(200);
    /** an A03 from `hospital` with PV1-36 method and PV1-37 destination; its stored event */
    const a03 = async (hospital: 'RX1' | 'RR8', method: string, destination: string) => {
      const spell = newSpell();
      const key = hospital === 'RX1' ? rx1.apiKey : rr8.apiKey;
      const text = message('a03-discharge-home.hl7', spell, {
        hospital,
        edits: [['|1|19|', `|${method}|${destination}|`]],
      });
      expectAccepted(await post(text, key), a03Id(spell));
      const row = await storedMessage(a03Id(spell), hospital);
      expect(row!.parsed.discharge).toMatchObject({ method, destination });
      return row!.parsed;
    };

    // before: the national codes (and the hospital is now remembered with no map)
    const before = await a03('RR8', '20', '01');
    expect(before.discharge?.destinationCategory).toBe('unknown');
    expect(before.patient.deceased).toBeUndefined();

    expect((await svc.api('PUT', url, { key: svc.adminToken, body: CONTRACT_BODY })).status).toBe(200);
    const home = await a03('RR8', '1', '01');
    expect(home.discharge?.destinationCategory).toBe('home');
    expect(home.patient.deceased).toBeUndefined();
    expect((await a03('RR8', '1', '03')).discharge?.destinationCategory).toBe('care-home');
    expect((await a03('RR8', '1', '02')).discharge?.destinationCategory).toBe('hospital');
    // codes the map does not name keep their national meaning
    expect((await a03('RR8', '1', '54')).discharge?.destinationCategory).toBe('care-home');
    const died = await a03('RR8', '20', '01');
    expect(died.patient).toMatchObject({ deceased: true, deathSignals: ['discharge-method'] });

    // RX1 has no map: 01 means nothing there, and 20 is no death
    const rx1Event = await a03('RX1', '20', '01');
    expect(rx1Event.discharge?.destinationCategory).toBe('unknown');
    expect(rx1Event.patient.deceased).toBeUndefined();

    // a map that says 19 is unknown overrides the national "home"
    await svc.api('PUT', url, { key: svc.adminToken, body: { dischargeDestination: { '19': 'unknown' } } });
    expect((await a03('RR8', '1', '19')).discharge?.destinationCategory).toBe('unknown');
    expect((await a03('RX1', '1', '19')).discharge?.destinationCategory).toBe('home');
  });
});

// ---- identity corrections --------------------------------------------------------------------------------

describe("person-level identity corrections reach the patient's other open stays at the hospital", () => {
  it('an A40 (MRG, no PV1-19) is AA, linked to the merged patient’s open stay at that hospital only, and dispatched; a later A31 for the survivor follows the link', async () => {
    const x = newSpell(); // the merged patient, in hospital at RX1
    const mrnX = newMrn();
    const survivor = testNhsNumber();
    const someoneElse = newSpell(); // another patient in hospital at RX1
    const xAtRr8: Spell = { ...newSpell(), nhs: x.nhs }; // the same person, in hospital at RR8
    const xEarlier: Spell = { ...newSpell(), nhs: x.nhs }; // an earlier stay of the same person at RX1, discharged

    expectAccepted(await post(message('a01-admit.hl7', x, { mrn: mrnX })), a01Id(x));
    expectAccepted(await post(message('a01-admit.hl7', someoneElse, { mrn: newMrn() })), a01Id(someoneElse));
    expectAccepted(
      await post(message('a01-admit.hl7', xAtRr8, { hospital: 'RR8', mrn: mrnX }), rr8.apiKey),
      a01Id(xAtRr8),
    );
    expectAccepted(await post(message('a01-admit.hl7', xEarlier, { mrn: mrnX })), a01Id(xEarlier));
    expectAccepted(await post(message('a03-discharge-home.hl7', xEarlier, { mrn: mrnX })), a03Id(xEarlier));
    await eventually(
      async () => (await admissionOf(svc, xEarlier.visit))?.dischargedAt,
      20_000,
      'the earlier stay to be discharged',
    );

    const a40Id = `${x.ids}A40`;
    const res = await post(personMessage('A40', a40Id, `${survivor}^^^NHS^NH`, `${x.nhs}^^^NHS^NH`));
    expectAccepted(res, a40Id);
    const a40 = await dispatched(a40Id);
    expect(a40.admission_id).toBeNull();
    expect(a40.parsed).toMatchObject({ kind: 'merge', mergedFrom: [`${x.nhs}^NHS`, x.nhs], processingId: 'P' });
    expect(await linksOf(a40.id)).toEqual([await stayId(x.visit)]);
    // handed to that stay's workflow as one of its events, and to nobody else's
    expect(await signalledMessageIds(x.visit)).toContain(a40.id);
    expect(await signalledMessageIds(someoneElse.visit)).not.toContain(a40.id);
    expect(await signalledMessageIds(xAtRr8.visit, 'RR8')).not.toContain(a40.id);
    expect(await listMessages(`controlId=${a40Id}`)).toEqual([
      expect.objectContaining({
        trigger: 'A40',
        status: 'accepted',
        processingId: 'P',
        admissionId: null,
        dispatchedAt: expect.any(String),
      }),
    ]);
    // no stay was made up for a message without PV1-19
    expect(await db`select 1 from admissions where visit_number = ''`).toHaveLength(0);

    // an A31 for the surviving NHS number (no visit): x's stay was linked to a message naming the survivor
    const a31Id = `${x.ids}A31`;
    expectAccepted(await post(personMessage('A31', a31Id, `${survivor}^^^NHS^NH`)), a31Id);
    const a31 = await dispatched(a31Id);
    expect(a31.parsed.kind).toBe('identity');
    expect(await linksOf(a31.id)).toEqual([await stayId(x.visit)]);
    expect(await signalledMessageIds(x.visit)).toContain(a31.id);
  });

  it('an A47 whose MRG-1 names a local id (CX-5 MR) reaches the open stay known by that id', async () => {
    const w = newSpell();
    const oldMrn = newMrn();
    expectAccepted(await post(message('a01-admit.hl7', w, { mrn: oldMrn })), a01Id(w));
    const a47Id = `${w.ids}A47`;
    expectAccepted(await post(personMessage('A47', a47Id, `${newMrn()}^^^RX1^MR`, `${oldMrn}^^^RX1^MR`)), a47Id);
    const a47 = await dispatched(a47Id);
    expect(a47.parsed).toMatchObject({ kind: 'identity', mergedFrom: [`${oldMrn}^RX1`] });
    expect(await linksOf(a47.id)).toEqual([await stayId(w.visit)]);
    expect(await signalledMessageIds(w.visit)).toContain(a47.id);
  });

  it('a person-level message naming nobody in hospital is simply marked dispatched, linked to nothing', async () => {
    const id = `${newSpell().ids}A40`;
    expectAccepted(
      await post(personMessage('A40', id, `${testNhsNumber()}^^^NHS^NH`, `${testNhsNumber()}^^^NHS^NH`)),
      id,
    );
    const row = await dispatched(id);
    expect(await linksOf(row.id)).toEqual([]);
  });

  it('an A40 in training (MSH-11 T) is AA, linked to nothing and never relayed', async () => {
    const x = newSpell();
    expectAccepted(await post(message('a01-admit.hl7', x, { mrn: newMrn() })), a01Id(x));
    const id = `${x.ids}A40T`;
    expectAccepted(await post(personMessage('A40', id, `${testNhsNumber()}^^^NHS^NH`, `${x.nhs}^^^NHS^NH`, 'T')), id);
    const row = await storedMessage(id);
    expect(row!.dispatched_at).not.toBeNull();
    expect(await linksOf(row!.id)).toEqual([]);
  });
});
