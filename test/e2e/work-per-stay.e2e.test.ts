/**
 * README "Work per stay": a stay of a person who is nobody's client (most admissions) costs Temporal as little as
 * it can. Its workflow completes as soon as the stay is recorded as `no-care-package` (no wait for late events, no
 * max-stay timer); a later event starts a new run that reopens the stay from PostgreSQL, so nothing is lost
 * (hazard log: "A completed stay loses a later event"). An `unmatched` stay (review queue) keeps its review timer.
 * Stays here would linger an hour: a run that completes did so at once.
 *
 * A matched client's stay: loaded and matched by one local activity, and its step-1 delivery's first attempt is a
 * local activity too, so the webhook goes out inside the stay's first workflow task with no activity task; a first
 * attempt that fails goes on as the delivery activity, with its retries; an acknowledgement is recorded by a local
 * activity inside the Update's task.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { editFields } from '../support/hl7-edit.js';
import {
  admissionOf,
  admissionWhere,
  newSpell,
  spellMessage,
  startStory,
  stopStory,
  storyHelpers,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';
import { AdmissionStatusKey } from '../../src/temporal/search-attributes.js';

const { EventType } = proto.temporal.api.enums.v1;

let story: Story;
let seq = 0;

beforeAll(async () => {
  story = await startStory({ env: { ADMISSION_LINGER_SECONDS: '3600' } });
});
afterAll(() => stopStory(story));

const { send, webhookOf } = storyHelpers(() => story);
const summaryOf = (e: proto.temporal.api.history.v1.IHistoryEvent) =>
  e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined;
const workflowIdOf = (spell: { visit: string }) => `admission-RX1-${spell.visit}`;

/** The latest run of the stay's workflow once it is `status` (as the Temporal UI shows it). */
async function runWhen(spell: { visit: string }, status: string, what: string) {
  const handle = story.svc.temporal.client.workflow.getHandle(workflowIdOf(spell));
  return eventually(
    async () => {
      const d = await handle.describe();
      return d.status.name === status && d;
    },
    20_000,
    what,
  );
}

async function historyOf(spell: { visit: string }, runId: string) {
  const history = await story.svc.temporal.client.workflow.getHandle(workflowIdOf(spell), runId).fetchHistory();
  return history.events ?? [];
}

describe("a stay of nobody's client", () => {
  it('is recorded as no-care-package and its workflow completes at once, with no timer', async () => {
    const spell = newSpell();
    await send(spellMessage('a01-admit.hl7', spell));
    const run = await runWhen(spell, 'COMPLETED', 'the run completed without lingering');
    expect(run.typedSearchAttributes.get(AdmissionStatusKey)).toBe('no-care-package');
    expect((await admissionOf(story.svc, spell.visit))?.status).toBe('no-care-package');
    const events = await historyOf(spell, run.runId);
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)).toEqual([]);
    expect(events.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  });

  it('a later event reopens the completed stay; the person has become a client meanwhile: the provider is alerted', async () => {
    const spell = newSpell();
    await send(spellMessage('a01-admit.hl7', spell));
    const first = await runWhen(spell, 'COMPLETED', 'the first run completed');
    expect((await admissionOf(story.svc, spell.visit))?.status).toBe('no-care-package');

    const ods = `VW${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
    await webhookLadderProvider(story, ods, { waitSeconds: 120, client: { nhs: spell.nhs } });
    await send(editFields(spellMessage('a08-update.hl7', spell), { 'EVN-2': '20261124150000' }));

    const alert = await webhookOf(ods, 'admission');
    const adm = await admissionWhere(
      story.svc,
      spell.visit,
      (a) => a.status === 'alerting',
      'the reopened stay alerting',
    );
    expect(adm.alerts.map((a: any) => [a.id, a.kind, a.status])).toEqual([[alert.alertId, 'admission', 'open']]);
    const second = await runWhen(spell, 'RUNNING', 'a new run follows the stay');
    expect(second.runId).not.toBe(first.runId);
  });

  it("a later event for a person still nobody's client reopens the stay, which completes again", async () => {
    const spell = newSpell();
    await send(spellMessage('a01-admit.hl7', spell));
    const first = await runWhen(spell, 'COMPLETED', 'the first run completed');
    await send(spellMessage('a03-discharge-home.hl7', spell));
    const adm = await admissionWhere(story.svc, spell.visit, (a) => a.dischargedAt !== null, 'the discharge recorded');
    expect(adm.status).toBe('no-care-package');
    expect(adm.events).toHaveLength(2);
    const second = await eventually(
      async () => {
        const d = await story.svc.temporal.client.workflow.getHandle(workflowIdOf(spell)).describe();
        return d.runId !== first.runId && d.status.name === 'COMPLETED' && d;
      },
      20_000,
      'the second run completed',
    );
    expect(second.typedSearchAttributes.get(AdmissionStatusKey)).toBe('no-care-package');
  });
});

describe('an unmatched stay (review queue)', () => {
  it('does not complete at once: its workflow keeps the review timer', async () => {
    const spell = newSpell();
    const ods = `VW${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
    await webhookLadderProvider(story, ods, { waitSeconds: 120, client: { nhs: spell.nhs } });
    // the date of birth does not match the client's: the stay waits for review
    await send(editFields(spellMessage('a01-admit.hl7', spell), { 'PID-7': '19410313' }));
    await admissionWhere(story.svc, spell.visit, (a) => a.status === 'unmatched', 'the stay in review');
    const handle = story.svc.temporal.client.workflow.getHandle(workflowIdOf(spell));
    const events = await eventually(
      async () => {
        const evs = (await handle.fetchHistory()).events ?? [];
        return evs.some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED) && evs;
      },
      20_000,
      'the review timer started',
    );
    expect(events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)).toBe(false);
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });
});

describe("a matched client's stay", () => {
  it('is loaded and matched in one step, and its step-1 webhook goes out inside the first workflow task', async () => {
    const spell = newSpell();
    const ods = `VW${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
    const { provider } = await webhookLadderProvider(story, ods, { waitSeconds: 120, client: { nhs: spell.nhs } });
    await send(spellMessage('a01-admit.hl7', spell));
    const alert = await webhookOf(ods, 'admission');
    const handle = story.svc.temporal.client.workflow.getHandle(workflowIdOf(spell));
    const events = await eventually(
      async () => {
        const evs = (await handle.fetchHistory()).events ?? [];
        return evs.some((e) => summaryOf(e)?.startsWith('record the stay')) && evs;
      },
      20_000,
      'the first workflow task completed',
    );
    const before = events.slice(0, events.findIndex((e) => summaryOf(e)?.startsWith('record the stay')) + 1);
    expect(before.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)).toHaveLength(1);
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toEqual([]);
    const markers = events.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED).map(summaryOf);
    expect(markers).toContain(
      "load the stay from PostgreSQL (events and alerts so far) and match the patient to providers' clients",
    );
    expect(markers).not.toContain("match the patient to providers' clients (NHS number and date of birth)");
    expect(markers).toContain('deliver webhook to Day coordinator (coordinator), step 1');
    const stored = await story.svc.api('GET', `/v1/alerts/${alert.alertId}`, { key: story.svc.adminToken });
    expect(stored.body.deliveries).toMatchObject([{ step: 1, channel: 'webhook', status: 'sent', attempts: 1 }]);

    // the acknowledgement is recorded by a local activity inside the Update's workflow task
    const ack = await story.svc.api('POST', `/v1/alerts/${alert.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Day coordinator' },
    });
    expect(ack.status, ack.text).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'Day coordinator' });
    const after = (await handle.fetchHistory()).events ?? [];
    expect(after.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toEqual([]);
    expect(after.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED).map(summaryOf)).toContain(
      `record the acknowledgement of alert ${alert.alertId.slice(0, 8)}`,
    );
  });

  it('a first attempt that fails goes on as the delivery activity, which retries it until the webhook is taken', async () => {
    const spell = newSpell();
    const ods = `VW${++seq}${Date.now().toString(36).slice(-3).toUpperCase()}`;
    await webhookLadderProvider(story, ods, { waitSeconds: 120, client: { nhs: spell.nhs } });
    story.hooks.failNext(503, 1, { path: `/${ods}/c1` });
    await send(spellMessage('a01-admit.hl7', spell));
    const taken = await story.hooks.waitFor((r) => r.path === `/${ods}/c1` && r.status === 200, 20_000);
    const alert = taken.body as { alertId: string };
    const answered = story.hooks.received(`/${ods}/c1`).map((r) => r.status);
    expect(answered).toEqual([503, 200]);
    const delivered = await eventually(
      async () => {
        const res = await story.svc.api('GET', `/v1/alerts/${alert.alertId}`, { key: story.svc.adminToken });
        const d = (res.body.deliveries as { status: string }[])[0];
        return d?.status === 'sent' && d;
      },
      20_000,
      'the delivery recorded sent',
    );
    expect(delivered).toMatchObject({ step: 1, channel: 'webhook', status: 'sent', attempts: 2 });
    const events = (await story.svc.temporal.client.workflow.getHandle(workflowIdOf(spell)).fetchHistory()).events!;
    const scheduled = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    expect(scheduled.map(summaryOf)).toEqual(['deliver webhook to Day coordinator (coordinator), step 1']);
  });
});
