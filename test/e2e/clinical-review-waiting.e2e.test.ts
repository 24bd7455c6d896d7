/**
 * CONTRACT.md "Unmatched, never silent": an unmatched stay still waiting after REVIEW_ALERT_MINUTES sends one
 * `review-waiting` message to the operator webhook (signed like providers' webhooks) and, through Notify, to
 * OPERATOR_EMAIL. REVIEW_ALERT_MINUTES is a few seconds here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/notify/webhook.js';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import {
  admissionOf,
  newSpell,
  registerHospital,
  sendHl7,
  spellMessage,
  stopStory,
  type Story,
} from '../support/scenario.js';
import { startTestService } from '../support/service.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'operator-secret-0123456789abcdef';
let story: Story;

beforeAll(async () => {
  const hooks = await startWebhookReceiver();
  const svc = await startTestService({
    env: {
      REVIEW_ALERT_MINUTES: '0.05',
      OPERATOR_WEBHOOK_URL: hooks.url('/operator'),
      OPERATOR_WEBHOOK_SECRET: SECRET,
    },
  });
  story = { svc, hooks, hospital: await registerHospital(svc) };
});
afterAll(() => stopStory(story));

describe('review-waiting', () => {
  it('tells the operator once, after REVIEW_ALERT_MINUTES, with no patient data; a resolved item is not sent', async () => {
    const spell = newSpell();
    const res = await sendHl7(
      story.svc,
      story.hospital.apiKey,
      editFields(spellMessage('a01-admit.hl7', spell), { 'PID-3': 'RX1001234^^^RX1^MR' }),
    );
    expect(res.ack.code).toBe('AA');
    const adm = await eventually(async () => {
      const a = await admissionOf(story.svc, spell.visit);
      return a?.status === 'unmatched' ? a : undefined;
    });
    const hook = await story.hooks.waitFor((r) => r.path === '/operator', 20_000);
    expect(verifyWebhookSignature(SECRET, hook.headers['x-signature'] as string, hook.rawBody, 300)).toBe(true);
    expect(hook.body).toMatchObject({
      type: 'review-waiting',
      admissionId: adm.id,
      hospital: { odsCode: 'RX1', name: 'Leeds General Infirmary' },
      visitNumber: spell.visit,
      statusReasonCode: 'no-nhs-number',
      reviewUrl: `${story.svc.baseUrl}/v1/review`,
    });
    expect(hook.rawBody.toString()).not.toMatch(/SMITH|MARGARET|19410312|1941-03-12/);
    expect(hook.rawBody.toString()).not.toContain(spell.nhs);
    await new Promise((r) => setTimeout(r, 4000));
    expect(story.hooks.received('/operator').filter((r) => (r.body as any).admissionId === adm.id)).toHaveLength(1);

    // dismissed before REVIEW_ALERT_MINUTES: nobody is told
    const other = newSpell();
    await sendHl7(
      story.svc,
      story.hospital.apiKey,
      editFields(spellMessage('a01-admit.hl7', other), { 'PID-3': 'RX1001234^^^RX1^MR' }),
    );
    const adm2 = await eventually(async () => {
      const a = await admissionOf(story.svc, other.visit);
      return a?.status === 'unmatched' ? a : undefined;
    });
    const dismissed = await story.svc.api('POST', `/v1/admissions/${adm2.id}/resolve`, {
      key: story.svc.adminToken,
      body: { action: 'dismiss', note: 'known test feed' },
    });
    expect(dismissed.status).toBe(200);
    await new Promise((r) => setTimeout(r, 6000));
    expect(story.hooks.received('/operator').some((r) => (r.body as any).admissionId === adm2.id)).toBe(false);
  });
});
