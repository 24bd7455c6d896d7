/**
 * Issue "order-independence": the events of one spell reach the same end state whatever order they arrive in
 * (ordered by EVN-2, then MSH-7, then arrival), and no provider is ever told twice. Each out-of-order message is
 * sent only once the stay's workflow has handled the one before, so the workflow really sees them in that order.
 * End states are read as users read them: `GET /v1/admissions/{id}`, `GET /v1/alerts`, the webhook receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import {
  admissionOf,
  newSpell,
  sendHl7,
  spellMessage,
  startStory,
  stopStory,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';
import type { TestService } from '../support/service.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';
import { admissionStateQuery } from '../../workflows/definitions.js';

let svc: TestService;
let hooks: WebhookReceiver;
let hospital: Story['hospital'];

beforeAll(async () => {
  ({ svc, hooks, hospital } = await startStory({ env: { ADMISSION_LINGER_SECONDS: '1' } }));
});
afterAll(() => stopStory({ svc, hooks }));

type Spell = ReturnType<typeof newSpell>;

async function providerFor(spell: Spell, ods: string) {
  return (await webhookLadderProvider({ svc, hooks }, ods, { waitSeconds: 60, client: { nhs: spell.nhs } })).provider;
}

async function send(message: string) {
  const res = await sendHl7(svc, hospital.apiKey, message);
  expect(res.ack.code, res.text).toBe('AA');
}

const handleOf = (spell: Spell) => svc.temporal.client.workflow.getHandle(`admission-RX1-${spell.visit}`);

/**
 * Waits until the stay's workflow has handled `events` events and is idle: no activity or workflow task pending
 * (twice in a row), or completed.
 */
async function settled(spell: Spell, events: number) {
  let calm = 0;
  await eventually(
    async () => {
      const handle = handleOf(spell);
      const d = await handle.describe();
      const state = await handle.query(admissionStateQuery);
      const idle =
        state.events === events &&
        (d.status.name === 'COMPLETED' || ((d.raw.pendingActivities ?? []).length === 0 && !d.raw.pendingWorkflowTask));
      calm = idle ? calm + 1 : 0;
      return calm >= 3;
    },
    20_000,
    `workflow idle after ${events} events`,
  );
}

async function completed(spell: Spell, events: number) {
  await eventually(
    async () => {
      const d = await handleOf(spell).describe();
      return d.status.name === 'COMPLETED' && (await handleOf(spell).query(admissionStateQuery)).events === events;
    },
    20_000,
    'workflow completed',
  );
}

async function alertsOf(provider: { apiKey: string }) {
  const res = await svc.api('GET', '/v1/alerts?status=all', { key: provider.apiKey });
  return (res.body.items as any[]).map((a) => `${a.kind}:${a.status}`).sort();
}

const hookTypes = (ods: string) =>
  hooks
    .received()
    .filter((r) => r.path.startsWith(`/${ods}/`))
    .map((r) => (r.body as any).type as string);

/** No kind of alert reached the provider twice, and no webhook event was delivered twice. */
function expectNoSecondAlert(...providers: string[]) {
  for (const ods of providers) {
    const types = hookTypes(ods);
    expect(new Set(types).size, `${ods}: ${types.join(',')}`).toBe(types.length);
    const ids = hooks
      .received()
      .filter((r) => r.path.startsWith(`/${ods}/`))
      .map((r) => (r.body as any).id);
    expect(new Set(ids).size).toBe(ids.length);
  }
}

async function acknowledgeAll(provider: { apiKey: string }, kind: string) {
  const list = await svc.api('GET', '/v1/alerts?status=open', { key: provider.apiKey });
  for (const a of list.body.items.filter((x: any) => x.kind === kind)) {
    const res = await svc.api('POST', `/v1/alerts/${a.id}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Priya' },
    });
    expect(res.status).toBe(200);
  }
}

const endState = (a: any) => ({
  status: a.status,
  admittedAt: a.admittedAt,
  dischargedAt: a.dischargedAt,
  location: a.location,
  expectedDischargeDate: a.expectedDischargeDate,
  onLeave: a.onLeave,
  events: a.events.map((e: any) => e.type),
});

describe('the events of one spell reach the same end state whatever order they arrive in', () => {
  it('an A03 that arrives before its A01 ends the stay discharged, then closed, with no admission alert after the fact', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ301');
    await send(spellMessage('a03-discharge-home.hl7', spell));
    const dis = await hooks.waitFor((r) => r.path === '/VQ301/c1' && (r.body as any).type === 'discharge', 20_000);
    expect((dis.body as any).discharge).toEqual({
      at: '2026-11-26T14:00:00.000Z',
      method: '1',
      destination: '19',
      destinationCategory: 'home',
    });
    await settled(spell, 1);

    await send(spellMessage('a01-admit.hl7', spell));
    await settled(spell, 2);
    const discharged = (await admissionOf(svc, spell.visit)) as any;
    expect(discharged.status).toBe('discharged');
    expect(discharged.admittedAt).toBe('2026-11-22T09:20:00.000Z');
    expect(discharged.events.map((e: any) => e.type)).toEqual(['A01', 'A03']);
    expect(await alertsOf(provider)).toEqual(['discharge:open']);

    await acknowledgeAll(provider, 'discharge');
    await completed(spell, 2);
    const closed = (await admissionOf(svc, spell.visit)) as any;
    expect(closed.status).toBe('closed');
    expect(closed.dischargedAt).toBe('2026-11-26T14:00:00.000Z');
    expect(await alertsOf(provider)).toEqual(['discharge:acknowledged']);
    expect(hookTypes('VQ301')).toEqual(['discharge']);
    expectNoSecondAlert('VQ301');
  });

  it('an A11 that arrives before its A01 ends the stay cancelled, and nobody is told anything', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ302');
    await send(spellMessage('a11-cancel-admit.hl7', spell));
    await eventually(async () => (await admissionOf(svc, spell.visit))?.status === 'cancelled', 20_000, 'cancelled');
    await send(spellMessage('a01-admit.hl7', spell));
    await completed(spell, 2);
    const a = (await admissionOf(svc, spell.visit)) as any;
    expect(a.status).toBe('cancelled');
    expect(a.events.map((e: any) => e.type)).toEqual(['A01', 'A11']);
    expect(await alertsOf(provider)).toEqual([]);
    expect(hookTypes('VQ302')).toEqual([]);
    expectNoSecondAlert('VQ302');
  });

  it('an A13 after the A03 of a closed stay opens it again, even after its workflow completed', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ303');
    await send(spellMessage('a01-admit.hl7', spell));
    await hooks.waitFor((r) => r.path === '/VQ303/c1' && (r.body as any).type === 'admission', 20_000);
    await acknowledgeAll(provider, 'admission');
    await send(spellMessage('a03-discharge-home.hl7', spell));
    await hooks.waitFor((r) => r.path === '/VQ303/c1' && (r.body as any).type === 'discharge', 20_000);
    await acknowledgeAll(provider, 'discharge');
    await completed(spell, 2);
    expect((await admissionOf(svc, spell.visit))!.status).toBe('closed');

    await send(spellMessage('a13-cancel-discharge.hl7', spell));
    const cancel = await hooks.waitFor(
      (r) => r.path === '/VQ303/c1' && (r.body as any).type === 'cancellation',
      20_000,
    );
    expect((cancel.body as any).occurredAt).toBe('2026-11-26T14:55:00.000Z');
    await settled(spell, 3);
    const open = (await admissionOf(svc, spell.visit)) as any;
    expect(open.status).toBe('acknowledged');
    expect(open.dischargedAt).toBeNull();
    expect(await alertsOf(provider)).toEqual(['admission:acknowledged', 'cancellation:open', 'discharge:withdrawn']);
    expect(hookTypes('VQ303')).toEqual(['admission', 'discharge', 'cancellation']);
    expectNoSecondAlert('VQ303');
  });

  it('an A13 that arrives before the A03 it undoes leaves the stay open, with no discharge alert at all', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ304');
    await send(spellMessage('a01-admit.hl7', spell));
    await hooks.waitFor((r) => r.path === '/VQ304/c1' && (r.body as any).type === 'admission', 20_000);
    await acknowledgeAll(provider, 'admission');
    await send(spellMessage('a13-cancel-discharge.hl7', spell));
    await settled(spell, 2);
    await send(spellMessage('a03-discharge-home.hl7', spell));
    await settled(spell, 3);
    const a = (await admissionOf(svc, spell.visit)) as any;
    expect(a.status).toBe('acknowledged');
    expect(a.dischargedAt).toBeNull();
    expect(a.events.map((e: any) => e.type)).toEqual(['A01', 'A03', 'A13']);
    expect(await alertsOf(provider)).toEqual(['admission:acknowledged']);
    expect(hookTypes('VQ304')).toEqual(['admission']);
    expectNoSecondAlert('VQ304');
  });

  it('an A01 resent under a new MSH-10 is stored but gives no second alert', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ305');
    await send(spellMessage('a01-admit.hl7', spell));
    await hooks.waitFor((r) => r.path === '/VQ305/c1', 20_000);
    await settled(spell, 1);
    await send(
      spellMessage('a01-admit.hl7', spell, {
        [`${spell.ids}000001`]: `${spell.ids}000101`,
        '20261122093000': '20261122093500',
      }),
    );
    await settled(spell, 2);
    const a = (await admissionOf(svc, spell.visit)) as any;
    expect(a.events.map((e: any) => e.messageControlId)).toEqual([`${spell.ids}000001`, `${spell.ids}000101`]);
    expect(a.status).toBe('alerting');
    expect(await alertsOf(provider)).toEqual(['admission:open']);
    expect(hookTypes('VQ305')).toEqual(['admission']);
    expectNoSecondAlert('VQ305');
  });

  it('the whole stay sent backwards ends where it ends sent in order, and nobody is told anything twice', async () => {
    const inOrder = newSpell();
    const backwards = newSpell();
    const p1 = await providerFor(inOrder, 'VQ306');
    const p2 = await providerFor(backwards, 'VQ307');
    const story = ['a01-admit.hl7', 'a02-transfer.hl7', 'a08-update.hl7', 'a03-discharge-home.hl7'];
    for (const [i, file] of story.entries()) {
      await send(spellMessage(file, inOrder));
      await settled(inOrder, i + 1);
    }
    for (const [i, file] of [...story].reverse().entries()) {
      await send(spellMessage(file, backwards));
      await settled(backwards, i + 1);
    }
    const a = endState(await admissionOf(svc, inOrder.visit));
    const b = endState(await admissionOf(svc, backwards.visit));
    expect(b).toEqual(a);
    expect(a).toMatchObject({
      status: 'discharged',
      dischargedAt: '2026-11-26T14:00:00.000Z',
      location: { ward: 'Ward 7 Orthopaedics', bed: '4' },
      expectedDischargeDate: '2026-11-26',
      events: ['A01', 'A02', 'A08', 'A03'],
    });
    expect(await alertsOf(p1)).toEqual(['admission:withdrawn', 'discharge:open', 'transfer:open']);
    expect(await alertsOf(p2)).toEqual(['discharge:open']);
    expect(hookTypes('VQ306')).toEqual(['admission', 'transfer', 'discharge']);
    expect(hookTypes('VQ307')).toEqual(['discharge']);

    await acknowledgeAll(p1, 'discharge');
    await acknowledgeAll(p2, 'discharge');
    await Promise.all([completed(inOrder, 4), completed(backwards, 4)]);
    expect((await admissionOf(svc, inOrder.visit))!.status).toBe('closed');
    expect((await admissionOf(svc, backwards.visit))!.status).toBe('closed');
    expectNoSecondAlert('VQ306', 'VQ307');
  });
});
