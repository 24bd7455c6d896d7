/**
 * Issue "A house that is easy to change" (the workflow's bounds): a stay's workflow continues as new when its
 * history passes WORKFLOW_HISTORY_LIMIT, carrying its state, and the stay ends exactly as it would have; a stay with
 * no discharge is closed after MAX_STAY_DAYS (`closed`, `stay-expired`) with its waiting alerts withdrawn; the
 * acknowledge Update's validator refuses what the alert does not offer before it enters the history.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledgeUpdate } from '../../workflows/definitions.js';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  registerHospital,
  sendHl7,
  spellMessage,
  stopStory,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';
import { startTestService } from '../support/service.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

let story: Story;
let seq = 0;

beforeAll(async () => {
  const hooks = await startWebhookReceiver();
  const svc = await startTestService({ env: { WORKFLOW_HISTORY_LIMIT: '30' } });
  story = { svc, hooks, hospital: await registerHospital(svc) };
});
afterAll(() => stopStory(story));

async function client(spell: ReturnType<typeof newSpell>, waitSeconds = 120) {
  const ods = `VB${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
  const p = await webhookLadderProvider(story, ods, { waitSeconds });
  await registerClient(story.svc, p.provider, spell.nhs, { dateOfBirth: '1941-03-12' });
  return { ...p, ods };
}

async function send(message: string) {
  const res = await sendHl7(story.svc, story.hospital.apiKey, message);
  expect(res.ack.code, res.text).toBe('AA');
}

const webhookOf = async (ods: string, type: string) =>
  (await story.hooks.waitFor((r) => r.path === `/${ods}/c1` && (r.body as any)?.type === type, 20_000)).body as Record<
    string,
    any
  >;

describe('continue-as-new', () => {
  it('a stay whose history passes the limit continues as new with its state and ends as it would have; nothing is sent twice', async () => {
    const spell = newSpell();
    const { provider, ods } = await client(spell);
    await send(spellMessage('a01-admit.hl7', spell));
    const admission = await webhookOf(ods, 'admission');
    // the run before the history grows (read now: the updates below may continue it as new before they are all sent)
    const handle = story.svc.temporal.client.workflow.getHandle(`admission-RX1-${spell.visit}`);
    const firstRun = (await handle.describe()).runId;
    await story.svc.api('POST', `/v1/alerts/${admission.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Priya' },
    });
    // several updates grow the history past 30 events
    for (let i = 1; i <= 6; i++) {
      await send(
        editFields(spellMessage('a08-update.hl7', spell), {
          'MSH-10': `${spell.ids}00008${i}`,
          'EVN-2': `2026112412${String(i).padStart(2, '0')}00`,
          'PV2-9': `2026112${i}`,
        }),
      );
    }
    await eventually(async () => (await handle.describe()).runId !== firstRun, 30_000, 'a new run');
    await send(spellMessage('a03-discharge-home.hl7', spell));
    const discharge = await webhookOf(ods, 'discharge');
    const ack = await story.svc.api('POST', `/v1/alerts/${discharge.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Priya' },
    });
    expect(ack.body).toMatchObject({ status: 'acknowledged', outcome: 'visits-resumed' });
    const closed = await eventually(async () => {
      const a = await admissionOf(story.svc, spell.visit);
      return a?.status === 'closed' ? a : undefined;
    });
    expect((closed as { expectedDischargeDate?: string }).expectedDischargeDate).toBe('2026-11-26');
    const types = story.hooks.received(`/${ods}/c1`).map((r) => (r.body as any).type);
    expect(types).toEqual(['admission', 'discharge']);
    const state = await handle.query<{ status: string; events: number }>('state');
    expect(state).toMatchObject({ status: 'closed', events: 8 });
  });
});

describe('the longest stay followed (MAX_STAY_DAYS)', () => {
  it('a stay with no discharge is closed (stay-expired) and its waiting alert withdrawn', async () => {
    // MAX_STAY_DAYS of 0.0001 days is 8.6 s: a service of its own, so the other stays here are not affected
    const svc = await startTestService({ env: { MAX_STAY_DAYS: '0.0001' } });
    const own: Story = { svc, hooks: story.hooks, hospital: await registerHospital(svc) };
    try {
      const spell = newSpell();
      const ods = `VX${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
      const { provider } = await webhookLadderProvider(own, ods, { waitSeconds: 120 });
      await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
      const res = await sendHl7(svc, own.hospital.apiKey, spellMessage('a01-admit.hl7', spell));
      expect(res.ack.code).toBe('AA');
      const admission = await webhookOf(ods, 'admission');
      const closed = await eventually(
        async () => {
          const a = await admissionOf(svc, spell.visit);
          return a?.status === 'closed' ? a : undefined;
        },
        40_000,
        'stay closed after MAX_STAY_DAYS',
      );
      expect(closed.statusReasonCode).toBe('stay-expired');
      const alert = await svc.api('GET', `/v1/alerts/${admission.alertId}`, { key: provider.apiKey });
      expect(alert.body).toMatchObject({ status: 'withdrawn', withdrawnReasonCode: 'stay-expired' });
      expect(story.hooks.received(`/${ods}/c2`)).toHaveLength(0);
    } finally {
      await svc.stop();
    }
  });
});

describe('the acknowledge Update validator', () => {
  it('refuses an outcome the alert does not offer, before it is recorded: the alert stays open', async () => {
    const spell = newSpell();
    const { provider, ods } = await client(spell);
    await send(spellMessage('a01-admit.hl7', spell));
    await send(editFields(spellMessage('a08-update.hl7', spell), { 'PID-30': 'Y' }));
    const death = await webhookOf(ods, 'death');
    const handle = story.svc.temporal.client.workflow.getHandle(`admission-RX1-${spell.visit}`);
    await expect(
      handle.executeUpdate(acknowledgeUpdate, {
        args: [{ alertId: death.alertId, by: 'Priya', outcome: 'visits-resumed' }],
      }),
    ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(
      handle.executeUpdate(acknowledgeUpdate, { args: [{ alertId: death.alertId, by: ' ' }] }),
    ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const alert = await story.svc.api('GET', `/v1/alerts/${death.alertId}`, { key: provider.apiKey });
    expect(alert.body.status).toBe('open');
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
  });
});
