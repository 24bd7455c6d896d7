/**
 * Issue "Operators see and steer every stay" (CONTRACT.md second "Operators" section): what the Temporal Web UI
 * shows of a stay (static summary and details, current details, summaries of activities and timers) with no patient
 * data anywhere in Temporal; "Request Cancellation" (`handle.cancel()`, `temporal workflow cancel`) closing the stay
 * cleanly; `POST /v1/alerts/{id}/resend`. Real HTTP, PostgreSQL and the Temporal dev server, read back through the
 * Temporal client as the Web UI reads it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { admissionStateQuery } from '../../workflows/definitions.js';
import { eventually } from '../support/fixtures.js';
import {
  addContact,
  admissionOf,
  newSpell,
  registerClient,
  registerProvider,
  setPolicy,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  type Story,
} from '../support/scenario.js';

let story: Story;
let seq = 0;
beforeAll(async () => {
  story = await startStory();
});
afterAll(() => stopStory(story));

const DOB = '1941-03-12';
const { send, bodiesTo, webhookOf } = storyHelpers(() => story);
type Spell = ReturnType<typeof newSpell>;

/** A provider with two named webhook contacts (`/<ods>/c1`, `/<ods>/c2`), one per step, waits as given. */
async function provider(waits: [number, number]) {
  const ods = `VU${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
  const { svc, hooks } = story;
  const p = await registerProvider(svc, ods);
  const c1 = await addContact(svc, p, {
    name: 'Priya Shah',
    role: 'day coordinator',
    webhookUrl: hooks.url(`/${ods}/c1`),
  });
  const c2 = await addContact(svc, p, {
    name: 'Tom Reid',
    role: 'on-call manager',
    webhookUrl: hooks.url(`/${ods}/c2`),
  });
  hooks.setSecret(`/${ods}/c1`, c1.webhookSecret!);
  hooks.setSecret(`/${ods}/c2`, c2.webhookSecret!);
  await setPolicy(svc, p, [
    { contactIds: [c1.id], channels: ['webhook'], waitSeconds: waits[0] },
    { contactIds: [c2.id], channels: ['webhook'], waitSeconds: waits[1] },
  ]);
  return { ods, provider: p, c1, c2 };
}

/** The fixture patient (SMITH^MARGARET, 1941-03-12) registered as the provider's client under the spell's NHS number. */
async function client(p: { provider: { id: string; apiKey: string } }, spell: Spell, dateOfBirth = DOB) {
  await registerClient(story.svc, p.provider, spell.nhs, {
    dateOfBirth,
    familyName: 'Smith',
    givenName: 'Margaret',
    reference: 'CL-0042',
  });
}

const handleOf = (spell: Spell): WorkflowHandle =>
  story.svc.temporal.client.workflow.getHandle(`admission-RX1-${spell.visit}`);

async function admissionWhere(spell: Spell, ok: (a: NonNullable<Awaited<ReturnType<typeof admissionOf>>>) => boolean) {
  return eventually(
    async () => {
      const a = await admissionOf(story.svc, spell.visit);
      return a && ok(a) ? a : undefined;
    },
    30_000,
    `admission ${spell.visit}`,
  );
}

/** The stay's current details, as the Web UI reads them (the SDK's `__temporal_workflow_metadata` query). */
async function currentDetails(spell: Spell): Promise<string> {
  const meta = await handleOf(spell).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

/** The summaries on the run's ActivityTaskScheduled, local-activity MarkerRecorded and TimerStarted events, in order. */
async function summaries(spell: Spell): Promise<{ activities: string[]; timers: string[] }> {
  const history = await handleOf(spell).fetchHistory();
  const out = { activities: [] as string[], timers: [] as string[] };
  for (const e of history.events ?? []) {
    const summary = e.userMetadata?.summary
      ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary)
      : undefined;
    if (e.activityTaskScheduledEventAttributes)
      out.activities.push(summary ?? `(none: ${e.activityTaskScheduledEventAttributes.activityType?.name})`);
    // a local activity (the short PostgreSQL steps) is recorded as a marker, shown with its summary
    if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      out.activities.push(summary ?? '(none: local activity)');
    if (e.timerStartedEventAttributes) out.timers.push(summary ?? '(none)');
  }
  return out;
}

/** Everything Temporal holds of a stay's workflow, as text: description, history (payloads decoded), metadata. */
async function everythingInTemporal(spell: Spell): Promise<string> {
  const handle = handleOf(spell);
  const decode = (_k: string, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : typeof v === 'bigint' ? String(v) : v;
  const d = await handle.describe();
  const parts = [
    JSON.stringify(d.raw, decode),
    String(await d.staticSummary()),
    String(await d.staticDetails()),
    JSON.stringify(d.memo ?? {}),
    JSON.stringify(d.typedSearchAttributes, decode),
    JSON.stringify(await handle.fetchHistory(), decode),
    JSON.stringify(await handle.query('__temporal_workflow_metadata'), decode),
    JSON.stringify(await handle.query(admissionStateQuery)),
  ];
  return parts.join('\n');
}

/** No NHS number, name or date of birth of the test's patients in `text` (CONTRACT.md "Operators"). */
function expectNoPatientData(text: string, spells: Spell[]) {
  for (const s of spells) expect(text, 'an NHS number in Temporal').not.toContain(s.nhs);
  for (const word of ['SMITH', 'MARGARET', 'Smith', 'Margaret', 'ANN']) {
    expect(new RegExp(`\\b${word}\\b`).test(text), `${word} in Temporal`).toBe(false);
  }
  for (const dob of ['1941-03-12', '19410312', '1950-01-01', '19500101']) expect(text).not.toContain(dob);
}

const INSTANT = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;

describe('the Temporal Web UI explains each stay, with no patient data', () => {
  const escalated = newSpell();
  const unmatched = newSpell();
  const acknowledged = newSpell();

  beforeAll(async () => {
    // a client on a ladder that reaches step 2 and then waits 10 minutes; a date of birth that does not agree; and
    // a client whose coordinator acknowledges at step 1
    const a = await provider([1, 600]);
    await client(a, escalated);
    const b = await provider([600, 600]);
    await client(b, unmatched, '1950-01-01');
    const c = await provider([600, 600]);
    await client(c, acknowledged);
    await send(spellMessage('a01-admit.hl7', escalated));
    await send(spellMessage('a01-admit.hl7', unmatched));
    await send(spellMessage('a01-admit.hl7', acknowledged));
    await story.hooks.waitFor((r) => r.path === `/${a.ods}/c2`, 30_000);
    const hook = await webhookOf(c.ods, 'admission');
    const ack = await story.svc.api('POST', `/v1/alerts/${hook.alertId}/acknowledge`, {
      key: c.provider.apiKey,
      body: { by: 'Priya Shah', outcome: 'visits-paused' },
    });
    expect(ack.status, ack.text).toBe(200);
    await admissionWhere(unmatched, (x) => x.status === 'unmatched');
    await admissionWhere(acknowledged, (x) => x.status === 'acknowledged');
    Object.assign(ods, { a: a.ods, b: b.ods, c: c.ods });
  });
  const ods = { a: '', b: '', c: '' };

  it('each run has a static summary (hospital, visit number, admitted at) and static details', async () => {
    for (const spell of [escalated, unmatched, acknowledged]) {
      const d = await handleOf(spell).describe();
      expect(await d.staticSummary()).toBe(`Hospital RX1 · visit ${spell.visit} · admitted 2026-11-22T09:20:00Z`);
      const adm = await admissionWhere(spell, () => true);
      expect(await d.staticDetails()).toBe(
        [
          'Follows one hospital stay (spell) and alerts the home-care providers of its patient.',
          '',
          `- Admission: \`${adm.id}\` (\`GET /v1/admissions/${adm.id}\`)`,
          `- Hospital RX1, visit number ${spell.visit}`,
          '- Admitted: 2026-11-22T09:20:00Z',
          "- Current details: the stay's status and its reason; per provider, each alert's step, contacts tried, next " +
            'escalation and acknowledgement.',
          `- To close the stay: Request Cancellation here, or \`POST /v1/admissions/${adm.id}/close\`.`,
          '',
          'No patient data is kept in Temporal: who the patient is is in PostgreSQL only.',
        ].join('\n'),
      );
    }
  });

  it('current details: a stay at step 2 shows both contacts tried by name and role and when it gives up', async () => {
    const details = await eventually(
      async () => {
        const text = await currentDetails(escalated);
        return text.includes('- tried Tom Reid (on-call manager) by webhook at step 2: sent') && text;
      },
      20_000,
      'details at step 2',
    );
    const [, at] = /unacknowledged at (\S+) unless/.exec(details) ?? [];
    expect(at).toMatch(INSTANT);
    expect(Date.parse(at!) - Date.now()).toBeGreaterThan(500_000); // about 10 minutes ahead
    expect(details).toBe(
      [
        '**Status:** alerting',
        '',
        `**Provider ${ods.a}, admission alert:** open, step 2`,
        '',
        '- tried Priya Shah (day coordinator) by webhook at step 1: sent',
        '- tried Tom Reid (on-call manager) by webhook at step 2: sent',
        `- unacknowledged at ${at} unless someone acknowledges`,
      ].join('\n'),
    );
  });

  it('current details: an unmatched stay shows its status, reason and code; the state query has the code', async () => {
    expect(await currentDetails(unmatched)).toBe(
      [
        '**Status:** unmatched',
        '',
        "**Reason:** the NHS number is a registered client's, but the date of birth differs from the provider's registration (`date-of-birth-mismatch`)",
        '',
        'No provider matched yet.',
      ].join('\n'),
    );
    expect(await handleOf(unmatched).query(admissionStateQuery)).toMatchObject({
      status: 'unmatched',
      statusReasonCode: 'date-of-birth-mismatch',
    });
    expect(await handleOf(escalated).query(admissionStateQuery)).toMatchObject({
      status: 'alerting',
      statusReasonCode: null,
    });
  });

  it('current details: an acknowledged stay shows who acknowledged with which outcome', async () => {
    const details = await eventually(
      async () => {
        const text = await currentDetails(acknowledged);
        return text.startsWith('**Status:** acknowledged') && text;
      },
      20_000,
      'acknowledged details',
    );
    expect(details).toBe(
      [
        '**Status:** acknowledged',
        '',
        `**Provider ${ods.c}, admission alert:** acknowledged, step 1`,
        '',
        '- tried Priya Shah (day coordinator) by webhook at step 1: sent',
        '- acknowledged by Priya Shah: visits-paused',
      ].join('\n'),
    );
  });

  it('every activity and timer carries a summary: deliveries name the contact, role and step; waits their length', async () => {
    const s = await summaries(escalated);
    // the step-1 delivery and the record of the stay run side by side (local activities): either may end first
    expect(s.activities.slice(0, 2)).toEqual([
      "load the stay from PostgreSQL (events and alerts so far) and match the patient to providers' clients",
      `raise the admission alert for ${ods.a}`,
    ]);
    expect(s.activities.slice(2, 4).sort()).toEqual([
      'deliver webhook to Priya Shah (day coordinator), step 1',
      'record the stay in PostgreSQL: alerting',
    ]);
    expect(s.activities.slice(4)).toEqual(['deliver webhook to Tom Reid (on-call manager), step 2']);
    expect(s.timers).toEqual([
      expect.stringMatching(/^longest stay: close the stay at \S+ if no discharge arrives$/),
      'wait 1 s for acknowledgement',
      'wait 10 min for acknowledgement',
    ]);
    const u = await summaries(unmatched);
    expect(u.timers).toContain('wait 30 min for the review queue, then tell the operators');
    const c = await summaries(acknowledged);
    expect(c.activities).toContain(`record the acknowledgement of alert ${(await alertOf(acknowledged)).slice(0, 8)}`);
  });

  it('no NHS number, name or date of birth of any patient anywhere in Temporal', async () => {
    const spells = [escalated, unmatched, acknowledged];
    const text = (await Promise.all(spells.map(everythingInTemporal))).join('\n');
    expect(text).toContain('Priya Shah'); // the check reads what the UI shows
    expectNoPatientData(text, spells);
  });
});

async function alertOf(spell: Spell): Promise<string> {
  const adm = await admissionWhere(spell, (a) => a.alerts.length > 0);
  return adm.alerts[0].id as string;
}

const run = promisify(execFile);

describe('"Request Cancellation" in the Temporal UI ends the stay cleanly (closed-by-operator)', () => {
  /** A matched stay whose admission alert waits at step 1. */
  async function alertingStay() {
    const spell = newSpell();
    const p = await provider([600, 600]);
    await client(p, spell);
    await send(spellMessage('a01-admit.hl7', spell));
    const hook = await webhookOf(p.ods, 'admission');
    await admissionWhere(spell, (x) => x.status === 'alerting');
    return { spell, p, alertId: hook.alertId as string };
  }

  /** PostgreSQL and Temporal agree: closed, closed-by-operator, the alert withdrawn, the run completed. */
  async function expectClosed(spell: Spell, p: { provider: { apiKey: string } }, alertId: string) {
    const closed = await admissionWhere(spell, (x) => x.status === 'closed');
    expect(closed.statusReasonCode).toBe('closed-by-operator');
    expect(closed.statusReason).toBe('closed by an operator');
    const alert = await story.svc.api('GET', `/v1/alerts/${alertId}`, { key: p.provider.apiKey });
    expect(alert.body).toMatchObject({ status: 'withdrawn', withdrawnReasonCode: 'closed-by-operator' });
    const handle = handleOf(spell);
    expect(await handle.result()).toBe('closed');
    const d = await handle.describe();
    expect(d.status.name).toBe('COMPLETED');
    expect(d.searchAttributes.AdmissionStatus).toEqual(['closed']);
    expect(await handle.query(admissionStateQuery)).toMatchObject({
      status: 'closed',
      statusReasonCode: 'closed-by-operator',
    });
    expect(await currentDetails(spell)).toMatch(
      /^\*\*Status:\*\* closed\n\n\*\*Reason:\*\* closed by an operator \(`closed-by-operator`\)/,
    );
  }

  it('handle.cancel(): the stay is closed, its alert withdrawn, the run completes; a later A03 reopens it', async () => {
    const { spell, p, alertId } = await alertingStay();
    await handleOf(spell).cancel();
    await expectClosed(spell, p, alertId);

    await send(spellMessage('a03-discharge-home.hl7', spell));
    await webhookOf(p.ods, 'discharge');
    const reopened = await admissionWhere(spell, (x) => x.status === 'discharged');
    expect(reopened.statusReasonCode).toBeUndefined();
  });

  it('`temporal workflow cancel`: the same; a later A08 reopens the stay with its admission alert open again', async () => {
    const { spell, p, alertId } = await alertingStay();
    await run(inject('temporalCliPath'), [
      'workflow',
      'cancel',
      '--workflow-id',
      `admission-RX1-${spell.visit}`,
      '--address',
      inject('temporalAddress'),
      '--namespace',
      'default',
    ]);
    await expectClosed(spell, p, alertId);

    await send(spellMessage('a08-update.hl7', spell));
    const reopened = await admissionWhere(spell, (x) => x.status === 'alerting');
    expect(reopened.statusReasonCode).toBeUndefined();
    expect(reopened.alerts.map((a: { id: string; status: string }) => [a.id, a.status])).toEqual([[alertId, 'open']]);
    expect(await handleOf(spell).query(admissionStateQuery)).toMatchObject({
      status: 'alerting',
      statusReasonCode: null,
    });
  });
});

describe('POST /v1/alerts/{id}/resend', () => {
  const resend = (alertId: string, key: string) => story.svc.api('POST', `/v1/alerts/${alertId}/resend`, { key });
  const deliveriesOf = async (alertId: string, key: string) =>
    (await story.svc.api('GET', `/v1/alerts/${alertId}`, { key })).body.deliveries as { id: string; step: number }[];

  it('after unacknowledged: step 1 gets a new delivery with a new link; acknowledging through it stops the ladder', async () => {
    const spell = newSpell();
    const p = await provider([1, 1]);
    await client(p, spell);
    await send(spellMessage('a01-admit.hl7', spell));
    const first = await webhookOf(p.ods, 'admission');
    await admissionWhere(spell, (x) => x.status === 'unacknowledged');
    expect(bodiesTo(p.ods, 'c2')).toHaveLength(1);
    // the provider lengthens its waits, then asks for the alert again
    await setPolicy(story.svc, p.provider, [
      { contactIds: [p.c1.id], channels: ['webhook'], waitSeconds: 30 },
      { contactIds: [p.c2.id], channels: ['webhook'], waitSeconds: 30 },
    ]);
    const res = await resend(first.alertId, p.provider.apiKey);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({
      id: first.alertId,
      kind: 'admission',
      resendCount: 1,
      lastResentAt: expect.stringMatching(INSTANT.source.replace('Z', '\\.\\d{3}Z')),
    });

    const again = await webhookOf(p.ods, 'admission', (b) => b.id !== first.id);
    expect(again).toMatchObject({ alertId: first.alertId, escalationStep: 1 });
    expect(again.acknowledgeUrl).not.toBe(first.acknowledgeUrl);
    const ids = (await deliveriesOf(first.alertId, p.provider.apiKey)).map((d) => d.id);
    expect(ids).toEqual([
      `${first.alertId}:1:${p.c1.id}:webhook`,
      `${first.alertId}:1:${p.c1.id}:webhook:r1`,
      `${first.alertId}:2:${p.c2.id}:webhook`,
    ]);
    await admissionWhere(spell, (x) => x.status === 'alerting');
    expect(await currentDetails(spell)).toContain(`, admission alert:** open, step 1, resend 1`);

    // the coordinator acknowledges through the new link
    const page = await (await fetch(again.acknowledgeUrl)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = await fetch(again.acknowledgeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(again.acknowledgeUrl).origin },
      body: new URLSearchParams({ csrf, outcome: 'visits-paused', by: 'Priya Shah' }),
    });
    expect(post.status).toBe(200);
    await admissionWhere(spell, (x) => x.status === 'acknowledged');
    // the resent ladder's wait ended early (its timer cancelled): step 2 was not sent again
    await eventually(
      async () => {
        const history = await handleOf(spell).fetchHistory();
        return history.events?.some((e) => e.timerCanceledEventAttributes);
      },
      20_000,
      'the resent wait cancelled',
    );
    expect(bodiesTo(p.ods, 'c2')).toHaveLength(1);
    expect(
      (await deliveriesOf(first.alertId, p.provider.apiKey)).some((d) => d.id.endsWith(':r1') && d.step === 2),
    ).toBe(false);
  });

  it("answers exactly: 409 acknowledged, 409 withdrawn, 404 unknown or another provider's, 403 a hospital key", async () => {
    const acked = newSpell();
    const p = await provider([600, 600]);
    await client(p, acked);
    await send(spellMessage('a01-admit.hl7', acked));
    const hook = await webhookOf(p.ods, 'admission');
    await story.svc.api('POST', `/v1/alerts/${hook.alertId}/acknowledge`, {
      key: p.provider.apiKey,
      body: { by: 'Priya Shah' },
    });
    const ackd = await resend(hook.alertId, p.provider.apiKey);
    expect(ackd.status).toBe(409);
    expect(ackd.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(ackd.body).toEqual({
      type: 'https://admission-alerts.example/problems/conflict',
      title: 'Alert acknowledged',
      status: 409,
      detail: 'The alert is acknowledged: there is nothing to resend',
      alertStatus: 'acknowledged',
    });

    const closed = newSpell();
    await client(p, closed);
    await send(spellMessage('a01-admit.hl7', closed));
    const closedHook = await webhookOf(p.ods, 'admission', (b) => b.alertId !== hook.alertId);
    const adm = await admissionWhere(closed, (x) => x.status === 'alerting');
    await story.svc.api('POST', `/v1/admissions/${adm.id}/close`, {
      key: story.svc.adminToken,
      body: { reason: 'test' },
    });
    await admissionWhere(closed, (x) => x.status === 'closed');
    const withdrawn = await resend(closedHook.alertId, story.svc.adminToken);
    expect(withdrawn.status).toBe(409);
    expect(withdrawn.body).toEqual({
      type: 'https://admission-alerts.example/problems/conflict',
      title: 'Alert withdrawn',
      status: 409,
      detail: 'The alert was withdrawn (closed by an operator): it no longer applies and is not resent',
      alertStatus: 'withdrawn',
      withdrawnReasonCode: 'closed-by-operator',
    });

    const notFound = {
      type: 'https://admission-alerts.example/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'alert not found',
    };
    const unknown = await resend('00000000-0000-4000-8000-000000000000', story.svc.adminToken);
    expect([unknown.status, unknown.body]).toEqual([404, notFound]);
    const notUuid = await resend('nope', story.svc.adminToken);
    expect([notUuid.status, notUuid.body]).toEqual([404, notFound]);
    const other = await provider([600, 600]);
    const othersKey = await resend(hook.alertId, other.provider.apiKey);
    expect([othersKey.status, othersKey.body]).toEqual([404, notFound]);
    const hospital = await resend(hook.alertId, story.hospital.apiKey);
    expect(hospital.status).toBe(403);
    expect(hospital.body).toMatchObject({ status: 403, detail: 'A hospital key cannot read alerts' });
    const none = await story.svc.api('POST', `/v1/alerts/${hook.alertId}/resend`);
    expect(none.status).toBe(401);
  });

  it('a transfer (informational) alert is sent once more to whoever it reached, with no ladder; an operator may ask', async () => {
    const spell = newSpell();
    const p = await provider([1, 1]);
    await client(p, spell);
    await send(spellMessage('a01-admit.hl7', spell));
    const admission = await webhookOf(p.ods, 'admission');
    await story.svc.api('POST', `/v1/alerts/${admission.alertId}/acknowledge`, {
      key: p.provider.apiKey,
      body: { by: 'Priya Shah' },
    });
    await send(spellMessage('a02-transfer.hl7', spell));
    const transfer = await webhookOf(p.ods, 'transfer');
    const res = await resend(transfer.alertId, story.svc.adminToken);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ id: transfer.alertId, kind: 'transfer', resendCount: 1 });
    const again = await webhookOf(p.ods, 'transfer', (b) => b.id !== transfer.id);
    expect(again).toMatchObject({ alertId: transfer.alertId, escalationStep: 1, location: transfer.location });
    expect((await deliveriesOf(transfer.alertId, story.svc.adminToken)).map((d) => d.id)).toEqual([
      `${transfer.alertId}:1:${p.c1.id}:webhook`,
      `${transfer.alertId}:1:${p.c1.id}:webhook:r1`,
    ]);
    const audit = await story.svc.api('GET', '/v1/audit?action=alert.resent', { key: story.svc.adminToken });
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).toContain(transfer.alertId);
  });
});
