/**
 * CONTRACT.md "Operators": one workflow per admission, id `admission-<hospital ODS>-<visit number>`, whose search
 * attributes `AdmissionStatus`, `HospitalOds`, `ProviderOds` (list) and `EscalationStep` are kept current, so an
 * operator finds any stay through Temporal visibility; and no NHS number or name in the id, the search
 * attributes, or anywhere in the workflow's history. Visibility on the dev server is eventually consistent: polled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import proto from '@temporalio/proto';
import { eventually, fixture } from '../support/fixtures.js';
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
import type { TestService } from '../support/service.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';
import {
  AdmissionStatusKey,
  EscalationStepKey,
  HospitalOdsKey,
  ProviderOdsKey,
} from '../../src/temporal/search-attributes.js';

/** A hospital of this file's own, so visibility queries meet no other test's stays. */
const ODS = 'RXS';
let svc: TestService;
let hooks: WebhookReceiver;
let hospital: Story['hospital'];

beforeAll(async () => {
  ({ svc, hooks, hospital } = await startStory({
    env: { ADMISSION_LINGER_SECONDS: '2' },
    odsCode: ODS,
    hospitalName: 'Search Attribute General',
  }));
});
afterAll(() => stopStory({ svc, hooks }));

const atHospital = (message: string) => message.split('|PAS|RX1|').join(`|PAS|${ODS}|`);

async function send(message: string) {
  const res = await sendHl7(svc, hospital.apiKey, atHospital(message));
  expect(res.ack.code, res.text).toBe('AA');
}

async function provider(ods: string, nhs: string) {
  const p = await registerProvider(svc, ods);
  const c1 = await addContact(svc, p, { name: 'Day coordinator', webhookUrl: hooks.url(`/${ods}/c1`) });
  const c2 = await addContact(svc, p, { name: 'On-call manager', webhookUrl: hooks.url(`/${ods}/c2`) });
  await setPolicy(svc, p, [
    { contactIds: [c1.id], channels: ['webhook'], waitSeconds: 1 },
    { contactIds: [c2.id], channels: ['webhook'], waitSeconds: 60 },
  ]);
  await registerClient(svc, p, nhs, { dateOfBirth: '1941-03-12', familyName: 'SMITH', givenName: 'MARGARET' });
  return p;
}

async function acknowledgeOpen(p: { apiKey: string }) {
  const open = await svc.api('GET', '/v1/alerts?status=open', { key: p.apiKey });
  for (const a of open.body.items) {
    expect(
      (await svc.api('POST', `/v1/alerts/${a.id}/acknowledge`, { key: p.apiKey, body: { by: 'Priya' } })).status,
    ).toBe(200);
  }
}

/** The search attributes as the Temporal frontend describes the workflow now. */
async function attributesOf(workflowId: string) {
  const d = await svc.temporal.client.workflow.getHandle(workflowId).describe();
  const sa = d.typedSearchAttributes;
  return {
    AdmissionStatus: sa.get(AdmissionStatusKey),
    HospitalOds: sa.get(HospitalOdsKey),
    ProviderOds: sa.get(ProviderOdsKey),
    EscalationStep: sa.get(EscalationStepKey),
  };
}

async function attributesBecome(workflowId: string, expected: Record<string, unknown>) {
  return eventually(
    async () => {
      const now = await attributesOf(workflowId);
      return (
        Object.entries(expected).every(([k, v]) => JSON.stringify(now[k as keyof typeof now]) === JSON.stringify(v)) &&
        now
      );
    },
    20_000,
    `search attributes ${JSON.stringify(expected)}`,
  );
}

/** Workflow ids a visibility query lists (polled until `workflowId` is among them). */
async function listed(query: string, workflowId: string): Promise<string[]> {
  return eventually(
    async () => {
      const ids: string[] = [];
      for await (const w of svc.temporal.client.workflow.list({ query })) ids.push(w.workflowId);
      return ids.includes(workflowId) && ids;
    },
    20_000,
    `${workflowId} listed by ${query}`,
  );
}

describe('search attributes let an operator find any stay, and carry no patient data', () => {
  it('are kept current through a whole stay, and visibility queries find it by them', async () => {
    const spell = newSpell();
    const workflowId = `admission-${ODS}-${spell.visit}`;
    const p1 = await provider('VQ401', spell.nhs);
    const p2 = await provider('VQ402', spell.nhs);

    await send(spellMessage('a01-admit.hl7', spell));
    const alerting = await attributesBecome(workflowId, {
      HospitalOds: ODS,
      ProviderOds: ['VQ401', 'VQ402'],
      AdmissionStatus: 'alerting',
    });
    expect([1, 2]).toContain(alerting.EscalationStep); // step 1 lasts a second: a slow poll may already see step 2
    // nobody acknowledges within step 1's second: both ladders go to step 2
    await attributesBecome(workflowId, { AdmissionStatus: 'alerting', EscalationStep: 2 });
    expect(
      await listed(`HospitalOds = '${ODS}' AND AdmissionStatus = 'alerting' AND EscalationStep = 2`, workflowId),
    ).toEqual([workflowId]);
    expect(await listed(`ProviderOds = 'VQ402' AND HospitalOds = '${ODS}'`, workflowId)).toContain(workflowId);

    await acknowledgeOpen(p1);
    await attributesBecome(workflowId, { AdmissionStatus: 'alerting', EscalationStep: 2 }); // VQ402 still escalating
    await acknowledgeOpen(p2);
    await attributesBecome(workflowId, { AdmissionStatus: 'acknowledged', EscalationStep: 0 });

    await send(spellMessage('a03-discharge-home.hl7', spell));
    const discharged = await attributesBecome(workflowId, { AdmissionStatus: 'discharged' });
    expect(discharged.EscalationStep).toBeGreaterThanOrEqual(1);
    await acknowledgeOpen(p1);
    await acknowledgeOpen(p2);
    await attributesBecome(workflowId, {
      AdmissionStatus: 'closed',
      EscalationStep: 0,
      HospitalOds: ODS,
      ProviderOds: ['VQ401', 'VQ402'],
    });
    expect(await listed(`HospitalOds = '${ODS}' AND AdmissionStatus = 'closed'`, workflowId)).toEqual([workflowId]);
    const stillAlerting: string[] = [];
    for await (const w of svc.temporal.client.workflow.list({
      query: `HospitalOds = '${ODS}' AND AdmissionStatus = 'alerting'`,
    })) {
      stillAlerting.push(w.workflowId);
    }
    expect(stillAlerting).toEqual([]);

    // the id is the hospital and the visit number; nothing of the patient anywhere an operator looks
    const handle = svc.temporal.client.workflow.getHandle(workflowId);
    const d = await handle.describe();
    expect(d.workflowId).toBe(workflowId);
    // the history's wire encoding holds every payload (signals, inputs, activity results) as it was sent
    const history = Buffer.from(
      proto.temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish(),
    ).toString('utf8');
    const visible = JSON.stringify({
      id: d.workflowId,
      sa: d.typedSearchAttributes.getAll(),
      legacy: d.searchAttributes,
      memo: d.memo,
    });
    for (const secret of [spell.nhs, 'SMITH', 'MARGARET', '1941-03-12', '19410312']) {
      expect(visible).not.toContain(secret);
      expect(history).not.toContain(secret);
    }
    expect(history).toContain(spell.visit); // the history was really read, payloads and all
    expect(history).toContain('"kind":"discharge"');
  });

  it("a stay of nobody's client is findable as no-care-package, with no providers", async () => {
    const spell = newSpell();
    const workflowId = `admission-${ODS}-${spell.visit}`;
    await send(fixture('a01-unknown-patient.hl7', { SPL0009999: spell.visit, 'RX1-000008': `${spell.ids}8` }));
    await attributesBecome(workflowId, { AdmissionStatus: 'no-care-package', HospitalOds: ODS, EscalationStep: 0 });
    expect((await attributesOf(workflowId)).ProviderOds).toBeUndefined();
    expect(await listed(`HospitalOds = '${ODS}' AND AdmissionStatus = 'no-care-package'`, workflowId)).toEqual([
      workflowId,
    ]);
  });
});
