/**
 * Issue "Clinical safety: a provider is never told the wrong thing" (CONTRACT.md "Readmission", "Identity
 * corrections", "Unmatched, never silent"): a late discharge of an older stay while the person is back in hospital,
 * a readmission on a discharged visit number, identity corrections (A08, A31, A34, A47 changing the NHS number or
 * date of birth), status reason codes, and the review queue with its resolutions. Real HTTP, PostgreSQL, Temporal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { editFields, insertSegment, withTrigger } from '../support/hl7-edit.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  testNhsNumber,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';

let story: Story;
let seq = 0;

beforeAll(async () => {
  story = await startStory();
});
afterAll(() => stopStory(story));

const DOB = '1941-03-12';

async function newProvider(opts: { waitSeconds?: number } = {}) {
  const ods = `VI${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
  const p = await webhookLadderProvider(story, ods, { waitSeconds: opts.waitSeconds ?? 120 });
  return { ...p, ods };
}

const { send, bodiesTo, webhookOf } = storyHelpers(() => story);

async function admissionWhere(visit: string, ok: (a: any) => boolean, what = 'admission state') {
  return eventually(
    async () => {
      const a = await admissionOf(story.svc, visit);
      return a && ok(a) ? a : undefined;
    },
    20_000,
    what,
  );
}

const review = async () =>
  (await story.svc.api('GET', '/v1/review', { key: story.svc.adminToken })).body.items as any[];

describe('readmission', () => {
  it('a late A03 for an earlier stay, arriving after the readmission, raises no discharge alert (newer-stay-open)', async () => {
    const older = newSpell();
    const newer = { ...newSpell(), nhs: older.nhs };
    const { ods, provider } = await newProvider();
    await registerClient(story.svc, provider, older.nhs, { dateOfBirth: DOB });
    await send(spellMessage('a01-admit.hl7', older));
    const first = await webhookOf(ods, 'admission');
    // readmitted (a new visit number) on 27 November, then the older stay's discharge of 26 November arrives
    await send(
      editFields(spellMessage('a01-admit.hl7', newer), { 'EVN-2': '20261127100000', 'PV1-44': '20261127100000' }),
    );
    const second = await webhookOf(ods, 'admission', (b) => b.alertId !== first.alertId);
    expect(second.admissionId).not.toBe(first.admissionId);
    await send(spellMessage('a03-discharge-home.hl7', older));
    const adm = await admissionWhere(older.visit, (a) => a.status === 'discharged', 'older stay discharged');
    expect(adm.statusReasonCode).toBe('newer-stay-open');
    await new Promise((r) => setTimeout(r, 1500));
    expect(bodiesTo(ods).some((b) => b.type === 'discharge')).toBe(false);
    const olderAdmissionAlert = await story.svc.api('GET', `/v1/alerts/${first.alertId}`, { key: provider.apiKey });
    expect(olderAdmissionAlert.body).toMatchObject({ status: 'withdrawn', withdrawnReasonCode: 'newer-stay-open' });
  });

  it('a fresh A01 on a discharged visit number, later than the discharge, reopens the stay with a new admission alert', async () => {
    const spell = newSpell();
    const { ods, provider } = await newProvider();
    await registerClient(story.svc, provider, spell.nhs, { dateOfBirth: DOB });
    await send(spellMessage('a01-admit.hl7', spell));
    const first = await webhookOf(ods, 'admission');
    await send(spellMessage('a03-discharge-home.hl7', spell));
    await webhookOf(ods, 'discharge');
    await send(
      editFields(spellMessage('a01-admit.hl7', spell), {
        'MSH-10': `${spell.ids}000099`,
        'EVN-2': '20261128100000',
        'PV1-44': '20261128100000',
      }),
    );
    const again = await webhookOf(ods, 'admission', (b) => b.alertId !== first.alertId);
    expect(again.admissionId).toBe(first.admissionId);
    const adm = await admissionWhere(spell.visit, (a) => a.status === 'alerting', 'stay reopened');
    expect(adm.dischargedAt).toBeNull();
    // an A01 resent with its original (earlier) event time changes nothing
    await send(editFields(spellMessage('a01-admit.hl7', spell), { 'MSH-10': `${spell.ids}000098` }));
    await new Promise((r) => setTimeout(r, 1500));
    expect(bodiesTo(ods).filter((b) => b.type === 'admission')).toHaveLength(2);
  });
});

describe('identity corrections', () => {
  it.each([
    ['A08', (m: string) => m],
    ['A31', (m: string) => withTrigger(m, 'A31')],
    ['A34', (m: string) => insertSegment(withTrigger(m, 'A34', 'ADT_A30'), 'PID', 'MRG|OLD^^^NHS^NH')],
    ['A47', (m: string) => insertSegment(withTrigger(m, 'A47', 'ADT_A30'), 'PID', 'MRG|OLD^^^NHS^NH')],
  ])(
    "an %s that changes the NHS number from provider A's client to provider B's: A is told once it was sent in error and its ladder stops; B is alerted",
    async (_trigger, shape) => {
      const spell = newSpell();
      const other = testNhsNumber();
      const a = await newProvider({ waitSeconds: 4 });
      const b = await newProvider();
      await registerClient(story.svc, a.provider, spell.nhs, { dateOfBirth: DOB });
      await registerClient(story.svc, b.provider, other, { dateOfBirth: DOB });
      await send(spellMessage('a01-admit.hl7', spell));
      const toA = await webhookOf(a.ods, 'admission');

      const correction = shape(
        // no local id: the fixtures share one MRN, and a person-level correction reaches every open stay that has it
        editFields(spellMessage('a08-update.hl7', spell), { 'PID-3': `${other}^^^NHS^NH` }),
      ).replace('MRG|OLD', `MRG|${spell.nhs}`);
      await send(correction);
      const wrong = await webhookOf(a.ods, 'cancellation', (x) => x.cancels === 'wrong-patient');
      expect(wrong.admissionId).toBe(toA.admissionId);
      const toB = await webhookOf(b.ods, 'admission');
      expect(toB.admissionId).toBe(toA.admissionId);
      expect(toB.patient.nhsNumber).toBe(other);

      const aAlert = await story.svc.api('GET', `/v1/alerts/${toA.alertId}`, { key: a.provider.apiKey });
      expect(aAlert.body).toMatchObject({ status: 'withdrawn', withdrawnReasonCode: 'wrong-patient' });
      const words = await story.svc.api('GET', `/v1/alerts/${wrong.alertId}`, { key: a.provider.apiKey });
      expect(words.body.event).toBe("named in an alert sent in error: the hospital corrected the patient's details");
      // A's ladder stopped: its second contact is never called (step 2 was due after 4 s)
      await new Promise((r) => setTimeout(r, 5000));
      expect(bodiesTo(a.ods, 'c2')).toHaveLength(0);
    },
  );

  it("an A40 merge (MRG names the stay's patient, no PV1-19): the stay follows the survivor; the merged patient's provider is told it was sent in error, the survivor's is alerted", async () => {
    const spell = newSpell();
    const survivor = testNhsNumber();
    const a = await newProvider();
    const b = await newProvider();
    await registerClient(story.svc, a.provider, spell.nhs, { dateOfBirth: DOB });
    await registerClient(story.svc, b.provider, survivor, { dateOfBirth: DOB });
    await send(spellMessage('a01-admit.hl7', spell));
    const toA = await webhookOf(a.ods, 'admission');

    const a40 = insertSegment(
      withTrigger(
        editFields(spellMessage('a08-update.hl7', spell), {
          'EVN-2': '20261123100000',
          'PID-3': `${survivor}^^^NHS^NH`,
        }),
        'A40',
        'ADT_A39',
      ),
      'PID',
      `MRG|${spell.nhs}^^^NHS^NH`,
    )
      .split('\r')
      .filter((seg) => !seg.startsWith('PV1|') && !seg.startsWith('PV2|'))
      .join('\r');
    await send(a40);
    await webhookOf(a.ods, 'cancellation', (x) => x.cancels === 'wrong-patient');
    const toB = await webhookOf(b.ods, 'admission');
    expect(toB.admissionId).toBe(toA.admissionId);
    expect(toB.patient.nhsNumber).toBe(survivor);
  });

  it('an A08 that changes the date of birth away from the registration makes the stay unmatched (date-of-birth-mismatch), in review', async () => {
    const spell = newSpell();
    const a = await newProvider();
    await registerClient(story.svc, a.provider, spell.nhs, { dateOfBirth: DOB });
    await send(spellMessage('a01-admit.hl7', spell));
    await webhookOf(a.ods, 'admission');
    await send(editFields(spellMessage('a08-update.hl7', spell), { 'PID-7': '19410313' }));
    await webhookOf(a.ods, 'cancellation', (x) => x.cancels === 'wrong-patient');
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'unmatched');
    expect(adm.statusReasonCode).toBe('date-of-birth-mismatch');
    const item = (await review()).find((i) => i.admissionId === adm.id);
    expect(item).toMatchObject({
      hospital: { odsCode: 'RX1' },
      visitNumber: spell.visit,
      statusReasonCode: 'date-of-birth-mismatch',
      candidates: [{ providerId: a.provider.id, providerOds: a.ods }],
    });
  });
});

describe('unmatched, never silent: status reason codes', () => {
  it.each([
    [
      'invalid-nhs-number',
      (s: ReturnType<typeof newSpell>) =>
        editFields(spellMessage('a01-admit.hl7', s), { 'PID-3': '9995260183^^^NHS^NH' }),
    ],
    [
      'no-nhs-number',
      (s: ReturnType<typeof newSpell>) =>
        editFields(spellMessage('a01-admit.hl7', s), { 'PID-3': 'RX1001234^^^RX1^MR' }),
    ],
    [
      'no-date-of-birth',
      (s: ReturnType<typeof newSpell>) => editFields(spellMessage('a01-admit.hl7', s), { 'PID-7': '' }),
    ],
    [
      'date-of-birth-mismatch',
      (s: ReturnType<typeof newSpell>) => editFields(spellMessage('a01-admit.hl7', s), { 'PID-7': '19410313' }),
    ],
  ])('%s', async (code, message) => {
    const spell = newSpell();
    const a = await newProvider();
    await registerClient(story.svc, a.provider, spell.nhs, { dateOfBirth: DOB });
    await send(message(spell));
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'unmatched');
    expect(adm.statusReasonCode).toBe(code);
    expect(typeof adm.statusReason).toBe('string');
    const item = (await review()).find((i) => i.admissionId === adm.id);
    expect(item?.statusReasonCode).toBe(code);
    expect(Date.parse(item?.since)).not.toBeNaN();
  });

  it("a person who is nobody's client is no-care-package, not in review", async () => {
    const spell = newSpell();
    await send(spellMessage('a01-admit.hl7', spell));
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'no-care-package');
    expect(adm.statusReasonCode).toBeUndefined();
    expect((await review()).some((i) => i.admissionId === adm.id)).toBe(false);
  });
});

describe('the review queue: resolve by match or dismiss', () => {
  it('match: the stay is matched to the client and the provider is alerted; the item leaves the queue', async () => {
    const spell = newSpell();
    const a = await newProvider();
    await registerClient(story.svc, a.provider, spell.nhs, { dateOfBirth: DOB });
    await send(editFields(spellMessage('a01-admit.hl7', spell), { 'PID-7': '19410313' }));
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'unmatched');
    expect(bodiesTo(a.ods)).toHaveLength(0);

    const res = await story.svc.api('POST', `/v1/admissions/${adm.id}/resolve`, {
      key: story.svc.adminToken,
      body: { action: 'match', providerId: a.provider.id, nhsNumber: spell.nhs },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ admissionId: adm.id, resolution: 'matched', providerId: a.provider.id });
    const alerted = await webhookOf(a.ods, 'admission');
    expect(alerted.admissionId).toBe(adm.id);
    await admissionWhere(spell.visit, (x) => x.status === 'alerting');
    expect((await review()).some((i) => i.admissionId === adm.id)).toBe(false);
  });

  it('dismiss: the item leaves the queue with its note; the stay stays unmatched', async () => {
    const spell = newSpell();
    await send(editFields(spellMessage('a01-admit.hl7', spell), { 'PID-3': 'RX1001234^^^RX1^MR' }));
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'unmatched');
    expect((await review()).some((i) => i.admissionId === adm.id)).toBe(true);
    const res = await story.svc.api('POST', `/v1/admissions/${adm.id}/resolve`, {
      key: story.svc.adminToken,
      body: { action: 'dismiss', note: 'test patient at the PAS' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ admissionId: adm.id, resolution: 'dismissed', note: 'test patient at the PAS' });
    expect((await review()).some((i) => i.admissionId === adm.id)).toBe(false);
    expect((await admissionOf(story.svc, spell.visit))?.status).toBe('unmatched');
  });

  it('refuses what it cannot do, with the exact problem', async () => {
    const spell = newSpell();
    const a = await newProvider();
    await send(editFields(spellMessage('a01-admit.hl7', spell), { 'PID-3': 'RX1001234^^^RX1^MR' }));
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'unmatched');
    const post = (body: unknown, key = story.svc.adminToken, id = adm.id) =>
      story.svc.api('POST', `/v1/admissions/${id}/resolve`, { key, body });

    const noClient = await post({ action: 'match', providerId: a.provider.id, nhsNumber: spell.nhs });
    expect(noClient.status).toBe(422);
    expect(noClient.body.detail).toBe(
      'That provider has no client registered with that NHS number: register the client first, then resolve',
    );
    const badNhs = await post({ action: 'match', providerId: a.provider.id, nhsNumber: '9995260183' });
    expect(badNhs.status).toBe(400);
    const noNote = await post({ action: 'dismiss' });
    expect(noNote.status).toBe(400);
    const unknownAction = await post({ action: 'merge' });
    expect(unknownAction.status).toBe(400);
    const asProvider = await post({ action: 'dismiss', note: 'x' }, a.provider.apiKey);
    expect(asProvider.status).toBe(403);
    const providerReview = await story.svc.api('GET', '/v1/review', { key: a.provider.apiKey });
    expect(providerReview.status).toBe(403);
    const unknown = await post(
      { action: 'dismiss', note: 'x' },
      story.svc.adminToken,
      '00000000-0000-4000-8000-000000000000',
    );
    expect(unknown.status).toBe(404);
  });
});

describe('an operator closes a stay (closed-by-operator)', () => {
  it('the stay ends closed with the reason code, its waiting alert withdrawn; a later event reopens it', async () => {
    const spell = newSpell();
    const a = await newProvider({ waitSeconds: 4 });
    await registerClient(story.svc, a.provider, spell.nhs, { dateOfBirth: DOB });
    await send(spellMessage('a01-admit.hl7', spell));
    const admission = await webhookOf(a.ods, 'admission');
    const adm = await admissionWhere(spell.visit, (x) => x.status === 'alerting');

    const noReason = await story.svc.api('POST', `/v1/admissions/${adm.id}/close`, {
      key: story.svc.adminToken,
      body: {},
    });
    expect(noReason.status).toBe(400);
    const asProvider = await story.svc.api('POST', `/v1/admissions/${adm.id}/close`, {
      key: a.provider.apiKey,
      body: { reason: 'x' },
    });
    expect(asProvider.status).toBe(403);
    const res = await story.svc.api('POST', `/v1/admissions/${adm.id}/close`, {
      key: story.svc.adminToken,
      body: { reason: 'patient record created in error at the PAS' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ admissionId: adm.id, status: 'closed', statusReasonCode: 'closed-by-operator' });
    const closed = await admissionWhere(spell.visit, (x) => x.status === 'closed', 'closed by the operator');
    expect(closed.statusReasonCode).toBe('closed-by-operator');
    const alert = await story.svc.api('GET', `/v1/alerts/${admission.alertId}`, { key: a.provider.apiKey });
    expect(alert.body).toMatchObject({ status: 'withdrawn', withdrawnReasonCode: 'closed-by-operator' });
    await new Promise((r) => setTimeout(r, 5000));
    expect(bodiesTo(a.ods, 'c2')).toHaveLength(0); // its ladder stopped: step 2 was due after 4 s

    // a later event (the discharge) reopens the stay and is told as usual
    await send(spellMessage('a03-discharge-home.hl7', spell));
    await webhookOf(a.ods, 'discharge');
    const reopened = await admissionWhere(spell.visit, (x) => x.status === 'discharged', 'reopened by the discharge');
    expect(reopened.statusReasonCode).toBeUndefined();
  });
});
