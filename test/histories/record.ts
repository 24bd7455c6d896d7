/**
 * Re-records the workflow histories that workflows/replay.int.test.ts replays: `npm run histories:record`
 * (vitest with test/histories/record.config.ts: a real Temporal dev server, PostgreSQL and the whole service, as in
 * the e2e tests). Each scenario is a representative stay driven to its end through the API; the history of its
 * workflow run is written to test/histories/<name>.json in Temporal's JSON history format.
 *
 * When to re-record: after a change to workflow code that is *meant* to change what new workflows do, once the
 * change is guarded with `patched()` so that running workflows keep their old path (STYLE.md rule 8). Keep the old
 * histories too (rename them, e.g. `full-story.v1.json`) until no workflow that ran the old code can still be
 * running: they are what proves the patch works. A change that breaks replay of a history without `patched()` is
 * exactly what the replay test is there to catch.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, fixture } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import {
  addContact,
  admissionOf,
  newSpell,
  registerClient,
  registerHospital,
  registerProvider,
  sendHl7,
  setPolicy,
  spellMessage,
} from '../support/scenario.js';
import { startTestService, type TestService } from '../support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { historyFromJson, historyToJson } from './history-json.js';

type Spell = ReturnType<typeof newSpell>;

let svc: TestService;
let hooks: WebhookReceiver;
let hospitalKey: string;
let providerSeq = 0;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  svc = await startTestService({
    env: {
      ADMISSION_LINGER_SECONDS: '1',
      REVIEW_ALERT_MINUTES: '0.02',
      OPERATOR_WEBHOOK_URL: hooks.url('/operator'),
      OPERATOR_WEBHOOK_SECRET: 'operator-secret-0123456789abcdef',
    },
  });
  hospitalKey = (await registerHospital(svc, 'RX1', 'Leeds General Infirmary')).apiKey;
});
afterAll(async () => {
  await svc?.stop();
  await hooks?.close();
});

async function providerFor(spell: Spell, waitSeconds: number) {
  const ods = `VH${String(++providerSeq).padStart(3, '0')}`;
  const provider = await registerProvider(svc, ods);
  const c1 = await addContact(svc, provider, { name: 'Day coordinator', webhookUrl: hooks.url(`/${ods}/c1`) });
  const c2 = await addContact(svc, provider, { name: 'On-call manager', webhookUrl: hooks.url(`/${ods}/c2`) });
  await setPolicy(svc, provider, [
    { contactIds: [c1.id], channels: ['webhook'], waitSeconds },
    { contactIds: [c2.id], channels: ['webhook'], waitSeconds },
  ]);
  await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12', reference: `REF-${ods}` });
  return { ...provider, ods };
}

async function send(message: string) {
  const res = await sendHl7(svc, hospitalKey, message);
  expect(res.ack.code, res.text).toBe('AA');
}

const hookOf = (ods: string, type: string, contact = 'c1') =>
  hooks.waitFor((r) => r.path === `/${ods}/${contact}` && (r.body as { type?: string }).type === type, 30_000);

async function acknowledge(provider: { apiKey: string }, alertId: string) {
  const res = await svc.api('POST', `/v1/alerts/${alertId}/acknowledge`, {
    key: provider.apiKey,
    body: { by: 'Recorder' },
  });
  expect(res.status, res.text).toBe(200);
}

async function statusIs(spell: Spell, status: string) {
  await eventually(async () => (await admissionOf(svc, spell.visit))?.status === status, 30_000, status);
}

const alertIdOf = (hook: { body: unknown }) => (hook.body as { alertId: string }).alertId;
const workflowIdOf = (spell: Spell) => `admission-RX1-${spell.visit}`;

/** Waits until a run of the spell's workflow other than `except` has completed; returns its run id. */
async function completedRun(spell: Spell, except?: string): Promise<string> {
  return eventually(
    async () => {
      const d = await svc.temporal.client.workflow.getHandle(workflowIdOf(spell)).describe();
      return d.status.name === 'COMPLETED' && d.runId !== except && d.runId;
    },
    30_000,
    `workflow ${workflowIdOf(spell)} completed`,
  );
}

/** A second A03 (new MSH-10, after the A13): its discharge alert, acknowledged. */
async function dischargeAgain(spell: Spell, p: { apiKey: string }) {
  await send(
    spellMessage('a03-discharge-home.hl7', spell, {
      [`${spell.ids}000003`]: `${spell.ids}000033`,
      '|20261126142500': '|20261126160000',
    }),
  );
  const second = await eventually(
    async () => {
      const open = await svc.api('GET', '/v1/alerts?status=open', { key: p.apiKey });
      return open.body.items.find((a: { kind: string }) => a.kind === 'discharge') as { id: string } | undefined;
    },
    30_000,
    'second discharge alert',
  );
  await acknowledge(p, second.id);
}

/** A01 → acknowledge → A02 → A08 → A03 → acknowledge → closed. */
async function fullStory(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'admission')));
  await statusIs(spell, 'acknowledged');
  await send(spellMessage('a02-transfer.hl7', spell));
  await hookOf(p.ods, 'transfer');
  await send(spellMessage('a08-update.hl7', spell));
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'discharge')));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A01 on a one-second ladder, through step 1 and step 2 to `unacknowledged`. */
async function admittedUnacknowledged() {
  const spell = newSpell();
  const p = await providerFor(spell, 1);
  await send(spellMessage('a01-admit.hl7', spell));
  const first = await hookOf(p.ods, 'admission');
  await hookOf(p.ods, 'admission', 'c2');
  await statusIs(spell, 'unacknowledged');
  return { spell, p, first };
}

/** A01 → step 1 → step 2 → unacknowledged → a late acknowledgement → A03 → acknowledge → closed. */
async function unacknowledged(): Promise<[string, string]> {
  const { spell, p, first } = await admittedUnacknowledged();
  await acknowledge(p, alertIdOf(first));
  await statusIs(spell, 'acknowledged');
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'discharge')));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A01 → alert → A11 → cancellation → cancelled. */
async function cancelled(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await hookOf(p.ods, 'admission');
  await send(spellMessage('a11-cancel-admit.hl7', spell));
  await hookOf(p.ods, 'cancellation');
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A01 → A03 (admission alert withdrawn) → A13 (admission alert reopened, cancellation) → acknowledge → A03 again → closed. */
async function dischargeCancelled(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  const admission = await hookOf(p.ods, 'admission');
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await hookOf(p.ods, 'discharge');
  await send(spellMessage('a13-cancel-discharge.hl7', spell));
  await hookOf(p.ods, 'cancellation');
  await statusIs(spell, 'alerting');
  await acknowledge(p, alertIdOf(admission));
  await statusIs(spell, 'acknowledged');
  await dischargeAgain(spell, p);
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A closed stay whose workflow completed is reopened by a late A13; its second run ends closed again. */
async function reopenedStay(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'admission')));
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'discharge')));
  const firstRun = await completedRun(spell);
  await send(spellMessage('a13-cancel-discharge.hl7', spell));
  await hookOf(p.ods, 'cancellation');
  await statusIs(spell, 'acknowledged');
  await dischargeAgain(spell, p);
  return [workflowIdOf(spell), await completedRun(spell, firstRun)];
}

/** A patient who is nobody's client. */
async function noCarePackage(): Promise<[string, string]> {
  const spell = newSpell();
  await send(fixture('a01-unknown-patient.hl7', { SPL0009999: spell.visit, 'RX1-000008': `${spell.ids}8` }));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A01 → A03 home (discharge alert) → A08 with PID-30 Y: discharge alert replaced by a death alert → acknowledge. */
async function deathReplacesDischarge(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await hookOf(p.ods, 'admission');
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await hookOf(p.ods, 'discharge');
  await send(editFields(spellMessage('a08-update.hl7', spell), { 'EVN-2': '20261127080000', 'PID-30': 'Y' }));
  await hookOf(p.ods, 'cancellation');
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'death')));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A01 for A's client → A08 correcting the NHS number to B's client: A told wrong-patient, B alerted → A03 → closed. */
async function wrongPatient(): Promise<[string, string]> {
  const spell = newSpell();
  const other = { ...newSpell(), visit: spell.visit, ids: spell.ids };
  const a = await providerFor(spell, 60);
  const b = await providerFor(other, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await hookOf(a.ods, 'admission');
  await send(editFields(spellMessage('a08-update.hl7', spell), { 'PID-3': `${other.nhs}^^^NHS^NH` }));
  await hookOf(a.ods, 'cancellation');
  await acknowledge(b, alertIdOf(await hookOf(b.ods, 'admission')));
  await send(editFields(spellMessage('a03-discharge-home.hl7', spell), { 'PID-3': `${other.nhs}^^^NHS^NH` }));
  await acknowledge(b, alertIdOf(await hookOf(b.ods, 'discharge')));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A date-of-birth mismatch: unmatched, review-waiting sent, resolved by an operator's match → alert → A03 → closed. */
async function reviewResolved(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(editFields(spellMessage('a01-admit.hl7', spell), { 'PID-7': '19410313' }));
  await statusIs(spell, 'unmatched');
  const adm = await admissionOf(svc, spell.visit);
  await hooks.waitFor(
    (r) => r.path === '/operator' && (r.body as { admissionId?: string }).admissionId === adm!.id,
    30_000,
  );
  const res = await svc.api('POST', `/v1/admissions/${adm!.id}/resolve`, {
    key: svc.adminToken,
    body: { action: 'match', providerId: p.id, nhsNumber: spell.nhs },
  });
  expect(res.status, res.text).toBe(200);
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'admission')));
  await send(editFields(spellMessage('a03-discharge-home.hl7', spell), { 'PID-7': '19410313' }));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'discharge')));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** The older of two stays of one person is discharged while the newer is open: no discharge alert (newer-stay-open). */
async function newerStayOpen(): Promise<[string, string]> {
  const older = newSpell();
  const newer = { ...newSpell(), nhs: older.nhs };
  const p = await providerFor(older, 60);
  await send(spellMessage('a01-admit.hl7', older));
  await hookOf(p.ods, 'admission');
  await send(
    editFields(spellMessage('a01-admit.hl7', newer), { 'EVN-2': '20261127100000', 'PV1-44': '20261127100000' }),
  );
  await send(spellMessage('a03-discharge-home.hl7', older));
  await statusIs(older, 'discharged');
  return [workflowIdOf(older), await completedRun(older)];
}

/** A01 → step 1 → step 2 → unacknowledged → resend (step 1 again, new link) → acknowledge → A03 → acknowledge. */
async function resent(): Promise<[string, string]> {
  const { spell, p, first } = await admittedUnacknowledged();
  const res = await svc.api('POST', `/v1/alerts/${alertIdOf(first)}/resend`, { key: p.apiKey });
  expect(res.status, res.text).toBe(202);
  await hooks.waitFor(
    (r) =>
      r.path === `/${p.ods}/c1` &&
      (r.body as { type?: string }).type === 'admission' &&
      (r.body as { id: string }).id !== (first.body as { id: string }).id,
    30_000,
  );
  await acknowledge(p, alertIdOf(first));
  await statusIs(spell, 'acknowledged');
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'discharge')));
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A01 → alert → "Request Cancellation" in the Temporal UI: closed-by-operator, the run completes. */
async function cancelledFromUi(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await hookOf(p.ods, 'admission');
  await svc.temporal.client.workflow.getHandle(workflowIdOf(spell)).cancel();
  return [workflowIdOf(spell), await completedRun(spell)];
}

/** A stay an operator closed (cancellation) reopened by a later A08: its admission alert is open again → A03. */
async function closedReopened(): Promise<[string, string]> {
  const spell = newSpell();
  const p = await providerFor(spell, 60);
  await send(spellMessage('a01-admit.hl7', spell));
  await hookOf(p.ods, 'admission');
  await svc.temporal.client.workflow.getHandle(workflowIdOf(spell)).cancel();
  const firstRun = await completedRun(spell);
  await send(spellMessage('a08-update.hl7', spell));
  await statusIs(spell, 'alerting');
  await send(spellMessage('a03-discharge-home.hl7', spell));
  await acknowledge(p, alertIdOf(await hookOf(p.ods, 'discharge')));
  return [workflowIdOf(spell), await completedRun(spell, firstRun)];
}

/**
 * A stay whose history passes WORKFLOW_HISTORY_LIMIT (30 here, on a service of its own) continues as new: both runs
 * are recorded, the first ending in continue-as-new, the second starting from the state it carried.
 */
async function continuedAsNew(): Promise<{ first: [string, string]; second: [string, string] }> {
  const own = await startTestService({ env: { ADMISSION_LINGER_SECONDS: '1', WORKFLOW_HISTORY_LIMIT: '30' } });
  try {
    const key = (await registerHospital(own, 'RX1', 'Leeds General Infirmary')).apiKey;
    const spell = newSpell();
    const ods = `VH${String(++providerSeq).padStart(3, '0')}`;
    const provider = await registerProvider(own, ods);
    const c1 = await addContact(own, provider, { name: 'Day coordinator', webhookUrl: hooks.url(`/${ods}/c1`) });
    await setPolicy(own, provider, [{ contactIds: [c1.id], channels: ['webhook'], waitSeconds: 60 }]);
    await registerClient(own, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const sendTo = async (m: string) => expect((await sendHl7(own, key, m)).ack.code).toBe('AA');
    const ack = async (alertId: string) =>
      expect(
        (await own.api('POST', `/v1/alerts/${alertId}/acknowledge`, { key: provider.apiKey, body: { by: 'Recorder' } }))
          .status,
      ).toBe(200);
    await sendTo(spellMessage('a01-admit.hl7', spell));
    await ack(alertIdOf(await hookOf(ods, 'admission')));
    for (let i = 1; i <= 6; i++) {
      await sendTo(
        editFields(spellMessage('a08-update.hl7', spell), {
          'MSH-10': `${spell.ids}00008${i}`,
          'EVN-2': `202611241${i}0000`,
        }),
      );
    }
    const handle = own.temporal.client.workflow.getHandle(workflowIdOf(spell));
    // the latest run's description names the chain's first run
    const first = await eventually(
      async () => {
        const d = await handle.describe();
        const firstRunId = d.raw.workflowExecutionInfo?.firstRunId;
        return firstRunId && d.runId !== firstRunId ? firstRunId : undefined;
      },
      30_000,
      'the first run continued as new',
    );
    await eventually(async () => (await handle.describe()).runId !== first, 30_000, 'second run');
    await sendTo(spellMessage('a03-discharge-home.hl7', spell));
    await ack(alertIdOf(await hookOf(ods, 'discharge')));
    const second = await eventually(
      async () => {
        const d = await handle.describe();
        return d.status.name === 'COMPLETED' && d.runId;
      },
      30_000,
      'second run completed',
    );
    const firstHistory = await own.temporal.client.workflow.getHandle(workflowIdOf(spell), first).fetchHistory();
    const secondHistory = await own.temporal.client.workflow.getHandle(workflowIdOf(spell), second).fetchHistory();
    writeFileSync(new URL('./continued-as-new.first.json', import.meta.url), historyToJson(firstHistory));
    writeFileSync(new URL('./continued-as-new.second.json', import.meta.url), historyToJson(secondHistory));
    console.log(
      `recorded continued-as-new.first.json (${firstHistory.events?.length}) and .second.json (${secondHistory.events?.length})`,
    );
    return { first: [workflowIdOf(spell), first], second: [workflowIdOf(spell), second] };
  } finally {
    await own.stop();
  }
}

it('records a stay that continues as new', async () => {
  await continuedAsNew();
}, 180_000);

it('records the histories of representative stays', async () => {
  const scenarios = {
    'death-replaces-discharge': deathReplacesDischarge,
    'wrong-patient': wrongPatient,
    'review-resolved': reviewResolved,
    'newer-stay-open': newerStayOpen,
    'full-story': fullStory,
    unacknowledged,
    cancelled,
    'discharge-cancelled': dischargeCancelled,
    'reopened-stay': reopenedStay,
    'no-care-package': noCarePackage,
    resent,
    'cancelled-from-ui': cancelledFromUi,
    'closed-reopened': closedReopened,
  };
  const runs = await Promise.all(Object.entries(scenarios).map(async ([name, run]) => [name, await run()] as const));
  for (const [name, [workflowId, runId]] of runs) {
    const history = await svc.temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const json = historyToJson(history);
    expect(historyFromJson(json).events?.length).toBe(history.events?.length);
    writeFileSync(new URL(`./${name}.json`, import.meta.url), json);
    console.log(`recorded ${name}.json: ${history.events?.length} events`);
  }
}, 180_000);
