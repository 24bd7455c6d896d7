/**
 * Issue "Clinical safety: a provider is never told the wrong thing" (CONTRACT.md "What the provider is told"):
 * death from each of its four signals and in either order with the discharge; each discharge destination category
 * with the outcome the link page pre-selects; the death page's outcomes; the client's initials on the link page.
 * Real HTTP, PostgreSQL and Temporal; a local receiver stands in for the provider's webhook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';

let story: Story;
let seq = 0;

beforeAll(async () => {
  story = await startStory();
});
afterAll(() => stopStory(story));

/** A provider (two webhook contacts, a ladder that does not escalate within a test) whose client is `spell`. */
async function clientOfNewProvider(
  spell: ReturnType<typeof newSpell>,
  client: { givenName?: string; familyName?: string; reference?: string } = {},
) {
  const ods = `VD${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
  const p = await webhookLadderProvider(story, ods, { waitSeconds: 120 });
  await registerClient(story.svc, p.provider, spell.nhs, { dateOfBirth: '1941-03-12', ...client });
  return { ...p, ods };
}

const { send, bodiesTo, webhookOf } = storyHelpers(() => story);

/** An A01 then an A03 for the spell, the A03 edited (e.g. `{ 'PV1-37': '54' }`). */
async function admitAndDischarge(spell: ReturnType<typeof newSpell>, a03Edits: Record<string, string>) {
  await send(spellMessage('a01-admit.hl7', spell));
  await send(editFields(spellMessage('a03-discharge-home.hl7', spell), a03Edits));
}

describe('death: any of the four signals, in any event of the stay, in any order', () => {
  it.each([
    ['PV1-36 discharge method 4 (died)', { 'PV1-36': '4' }],
    ['PV1-36 discharge method 5 (stillbirth)', { 'PV1-36': '5' }],
    ['PV1-37 discharge destination 79', { 'PV1-37': '79' }],
    ['PID-30 death indicator Y', { 'PID-30': 'Y' }],
    ['PID-29 date of death alone', { 'PID-29': '20261126130000' }],
  ])(
    '%s gives a death alert, never a discharge alert, whose outcomes are care-ended and noted',
    async (_name, edits) => {
      const spell = newSpell();
      const { provider, ods } = await clientOfNewProvider(spell);
      await admitAndDischarge(spell, edits);
      const death = await webhookOf(ods, 'death');
      expect(death.discharge).toMatchObject({ destinationCategory: 'died' });
      const admitted = await eventually(async () => {
        const a = await admissionOf(story.svc, spell.visit);
        return a?.status === 'discharged' ? a : undefined;
      });
      // the A01 and A03 may reach the stay together: then no admission alert is raised after the fact
      expect(admitted.alerts.map((a: any) => a.kind).filter((k: string) => k !== 'admission')).toEqual(['death']);
      expect(bodiesTo(ods).some((b) => b.type === 'discharge')).toBe(false);

      const view = await story.svc.api('GET', `/v1/alerts/${death.alertId}`, { key: provider.apiKey });
      expect(view.body).toMatchObject({
        kind: 'death',
        event: 'reported to have died in hospital',
        defaultOutcome: 'care-ended',
        allowedOutcomes: ['care-ended', 'noted'],
        discharge: { destinationCategory: 'died' },
      });
      const refused = await story.svc.api('POST', `/v1/alerts/${death.alertId}/acknowledge`, {
        key: provider.apiKey,
        body: { by: 'Priya', outcome: 'visits-resumed' },
      });
      expect(refused.status).toBe(422);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({
        status: 422,
        detail: 'outcome visits-resumed is not allowed for this death alert: one of care-ended, noted',
      });
      const ack = await story.svc.api('POST', `/v1/alerts/${death.alertId}/acknowledge`, {
        key: provider.apiKey,
        body: { by: 'Priya' },
      });
      expect(ack.status).toBe(200);
      expect(ack.body).toMatchObject({ status: 'acknowledged', outcome: 'care-ended' });
    },
  );

  it('an A08 with PID-30 Y after the A03 withdraws the discharge alert, tells whoever it reached that it is replaced, and raises a death alert', async () => {
    const spell = newSpell();
    const { provider, ods } = await clientOfNewProvider(spell);
    await admitAndDischarge(spell, {});
    const discharge = await webhookOf(ods, 'discharge');
    expect(discharge.discharge).toMatchObject({ destination: '19', destinationCategory: 'home' });

    await send(editFields(spellMessage('a08-update.hl7', spell), { 'EVN-2': '20261127080000', 'PID-30': 'Y' }));
    const replaced = await webhookOf(ods, 'cancellation', (b) => b.cancels === 'replaced-by-death');
    const death = await webhookOf(ods, 'death');
    expect(replaced.alertId).not.toBe(discharge.alertId);
    const withdrawn = await story.svc.api('GET', `/v1/alerts/${discharge.alertId}`, { key: provider.apiKey });
    expect(withdrawn.body).toMatchObject({ status: 'withdrawn', withdrawnReasonCode: 'superseded-by-death' });
    const deathView = await story.svc.api('GET', `/v1/alerts/${death.alertId}`, { key: provider.apiKey });
    expect(deathView.body).toMatchObject({ kind: 'death', status: 'open' });
    const replacedView = await story.svc.api('GET', `/v1/alerts/${replaced.alertId}`, { key: provider.apiKey });
    expect(replacedView.body).toMatchObject({
      kind: 'cancellation',
      cancels: 'replaced-by-death',
      event: 'reported to have died in hospital: this replaces the earlier discharge alert',
    });
  });

  it('the same two messages in the other order: the death is known first, so only a death alert goes out', async () => {
    const spell = newSpell();
    const { ods } = await clientOfNewProvider(spell);
    await send(spellMessage('a01-admit.hl7', spell));
    await send(editFields(spellMessage('a08-update.hl7', spell), { 'EVN-2': '20261127080000', 'PID-30': 'Y' }));
    await webhookOf(ods, 'death');
    await send(spellMessage('a03-discharge-home.hl7', spell));
    await eventually(async () => (await admissionOf(story.svc, spell.visit))?.status === 'discharged');
    await new Promise((r) => setTimeout(r, 1500));
    const types = bodiesTo(ods).map((b) => b.type);
    expect(types).not.toContain('discharge');
    expect(types.filter((t) => t === 'death')).toHaveLength(1);
  });

  it('an A13 does not undo a death reported by another message', async () => {
    const spell = newSpell();
    const { ods } = await clientOfNewProvider(spell);
    await send(spellMessage('a01-admit.hl7', spell));
    await send(editFields(spellMessage('a08-update.hl7', spell), { 'PID-30': 'Y' }));
    await webhookOf(ods, 'death');
    await send(editFields(spellMessage('a13-cancel-discharge.hl7', spell), { 'EVN-2': '20261128090000' }));
    await new Promise((r) => setTimeout(r, 2000));
    const adm = await admissionOf(story.svc, spell.visit);
    expect(adm?.status).toBe('discharged');
    expect(bodiesTo(ods).some((b) => b.type === 'cancellation')).toBe(false);
  });
});

describe('discharge destination: the category, the words and the outcome the link page pre-selects', () => {
  it.each([
    ['19', 'home', 'discharged home', 'visits-resumed'],
    ['29', 'home', 'discharged home', 'visits-resumed'],
    ['54', 'care-home', 'discharged to a care home or hospice', 'noted'],
    ['65', 'care-home', 'discharged to a care home or hospice', 'noted'],
    ['51', 'hospital', 'moved to another hospital', 'visits-paused'],
    ['87', 'hospital', 'moved to another hospital', 'visits-paused'],
    ['98', 'unknown', 'discharged, destination not known: check before resuming visits', 'noted'],
    ['', 'unknown', 'discharged, destination not known: check before resuming visits', 'noted'],
  ])('PV1-37 %s → %s', async (code, category, words, outcome) => {
    const spell = newSpell();
    const { provider, ods } = await clientOfNewProvider(spell);
    await admitAndDischarge(spell, { 'PV1-37': code });
    const discharge = await webhookOf(ods, 'discharge');
    expect(discharge.discharge.destinationCategory).toBe(category);
    const view = await story.svc.api('GET', `/v1/alerts/${discharge.alertId}`, { key: provider.apiKey });
    expect(view.body).toMatchObject({
      kind: 'discharge',
      event: words,
      defaultOutcome: outcome,
      discharge: { destinationCategory: category },
    });
    if (category === 'hospital') expect(view.body.allowedOutcomes).not.toContain('visits-resumed');

    const page = await (await fetch(discharge.acknowledgeUrl)).text();
    const checked = [...page.matchAll(/<input[^>]*name="outcome"[^>]*>/g)]
      .map((m) => m[0])
      .filter((i) => /\bchecked\b/.test(i));
    expect(checked).toHaveLength(1);
    expect(checked[0]).toContain(`value="${outcome}"`);
    if (category === 'hospital') expect(page).not.toContain('value="visits-resumed"');

    // acknowledged without choosing: the category's default is recorded
    const ack = await story.svc.api('POST', `/v1/alerts/${discharge.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Sam' },
    });
    expect(ack.body).toMatchObject({ status: 'acknowledged', outcome });
  });
});

describe('the link page', () => {
  it("a death alert's page offers care-ended and noted only, and refuses visits-resumed", async () => {
    const spell = newSpell();
    const { ods } = await clientOfNewProvider(spell);
    await admitAndDischarge(spell, { 'PV1-36': '4' });
    const death = await webhookOf(ods, 'death');
    const res = await fetch(death.acknowledgeUrl);
    const page = await res.text();
    expect(res.status).toBe(200);
    const offered = [...page.matchAll(/<input[^>]*name="outcome"[^>]*value="([a-z-]+)"/g)].map((m) => m[1]);
    expect(offered.sort()).toEqual(['care-ended', 'noted']);
    expect(page).toContain('Client reported to have died in hospital');
    expect(page).toContain('Do not resume visits');

    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = await fetch(death.acknowledgeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(death.acknowledgeUrl).origin },
      body: new URLSearchParams({ csrf, outcome: 'visits-resumed', by: 'Priya' }),
    });
    expect(post.status).toBe(400);
    expect(await post.text()).toContain('Select what you have done about this alert');
  });

  it("identifies the client by the provider's reference and the client's initials, never the full name", async () => {
    const spell = newSpell();
    const { ods } = await clientOfNewProvider(spell, {
      givenName: 'Margaret',
      familyName: 'Smith',
      reference: 'CL-0042',
    });
    await send(spellMessage('a01-admit.hl7', spell));
    const admission = await webhookOf(ods, 'admission');
    const page = await (await fetch(admission.acknowledgeUrl)).text();
    expect(page).toContain('Client initials');
    expect(page).toMatch(/>\s*M S\s*</);
    expect(page).toContain('CL-0042');
    expect(page).not.toMatch(/Margaret|MARGARET|Smith|SMITH/);
    expect(page).not.toContain(spell.nhs);
  });
});

describe("a hospital's code map decides the alert (CONTRACT.md PUT /v1/hospitals/{id}/code-map)", () => {
  it('a mapped discharge method means death; mapped destinations give their categories; unmapped local codes stay unknown', async () => {
    const put = await story.svc.api('PUT', `/v1/hospitals/${story.hospital.id}/code-map`, {
      key: story.svc.adminToken,
      body: {
        dischargeMethod: { '20': 'died' },
        dischargeDestination: { '01': 'home', '03': 'care-home', '02': 'hospital' },
      },
    });
    expect(put.status).toBe(200);

    const died = newSpell();
    const p1 = await clientOfNewProvider(died);
    await admitAndDischarge(died, { 'PV1-36': '20', 'PV1-37': '01' });
    const death = await webhookOf(p1.ods, 'death');
    expect(death.discharge.destinationCategory).toBe('died');

    for (const [code, category] of [
      ['03', 'care-home'],
      ['02', 'hospital'],
      ['04', 'unknown'],
    ] as const) {
      const spell = newSpell();
      const p = await clientOfNewProvider(spell);
      await admitAndDischarge(spell, { 'PV1-37': code });
      const discharge = await webhookOf(p.ods, 'discharge');
      expect(discharge.discharge).toMatchObject({ destination: code, destinationCategory: category });
    }
  });
});
