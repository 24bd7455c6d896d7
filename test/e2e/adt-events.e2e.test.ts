/**
 * Issue "every ADT event": what each event of CONTRACT.md "Event meanings" does to a stay, seen as a provider and
 * an operator see it (webhooks, `GET /v1/alerts`, `GET /v1/admissions/{id}`), through real HTTP, PostgreSQL and
 * Temporal. Stays linger one second after they finish, so a late event also exercises reopening a stay.
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

/** A provider with two webhook contacts on a two-step ladder, and the spell's patient as its client. */
async function providerFor(spell: Spell, ods: string, waitSeconds: number, dateOfBirth = '1941-03-12') {
  const client = { nhs: spell.nhs, dateOfBirth, reference: `REF-${ods}` };
  return (await webhookLadderProvider({ svc, hooks }, ods, { waitSeconds, client })).provider;
}

/**
 * A fixture rewritten for the spell as another trigger: MSH-9 and EVN-1 say `trigger`, MSH-10 ends in `n`,
 * EVN-2 is `evn` (YYYYMMDDHHMMSS) when given.
 */
function variant(
  spell: Spell,
  file: string,
  trigger: string,
  n: string,
  extra: Record<string, string> = {},
  evn?: string,
): string {
  const text = spellMessage(file, spell);
  const lines = text.split('\r').map((line) => {
    const f = line.split('|');
    if (f[0] === 'MSH') {
      f[8] = `ADT^${trigger}^ADT_${trigger}`;
      f[9] = `${spell.ids}${n}`;
    }
    if (f[0] === 'EVN') {
      f[1] = trigger;
      if (evn) f[2] = evn;
    }
    return f.join('|');
  });
  let out = lines.join('\r');
  for (const [from, to] of Object.entries(extra)) out = out.split(from).join(to);
  return out;
}

async function send(message: string) {
  const res = await sendHl7(svc, hospital.apiKey, message);
  expect(res.ack.code, res.text).toBe('AA');
  expect(res.status).toBe(200);
}

const hookOf = (ods: string, type: string, contact = 'c1') =>
  hooks.waitFor((r) => r.path === `/${ods}/${contact}` && (r.body as any)?.type === type, 20_000);
const hooksOf = (ods: string, type?: string) =>
  hooks
    .received()
    .filter((r) => r.path.startsWith(`/${ods}/`) && (type === undefined || (r.body as any)?.type === type));

async function alertsOf(provider: { apiKey: string }) {
  const res = await svc.api('GET', '/v1/alerts?status=all', { key: provider.apiKey });
  expect(res.status).toBe(200);
  return res.body.items as any[];
}

async function admissionWhen(
  spell: Spell,
  what: string,
  pred: (a: NonNullable<Awaited<ReturnType<typeof admissionOf>>> & Record<string, any>) => boolean,
) {
  return eventually(
    async () => {
      const a = await admissionOf(svc, spell.visit);
      return a && pred(a as any) && (a as any);
    },
    20_000,
    what,
  );
}

/** Waits until the stay's workflow has handled `events` events and has nothing left to do: it completed. */
async function finished(spell: Spell, events: number) {
  const handle = svc.temporal.client.workflow.getHandle(`admission-RX1-${spell.visit}`);
  await eventually(
    async () => {
      const d = await handle.describe();
      if (d.status.name !== 'COMPLETED') return false;
      const state = await handle.query(admissionStateQuery);
      return state.events === events;
    },
    20_000,
    `workflow completed after ${events} events`,
  );
}

async function acknowledge(provider: { apiKey: string }, alertId: string) {
  const res = await svc.api('POST', `/v1/alerts/${alertId}/acknowledge`, {
    key: provider.apiKey,
    body: { by: 'Priya' },
  });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

describe('every ADT event does what CONTRACT.md says', () => {
  it('A02 and A12 move the location; a provider told of the stay gets one informational transfer alert for each, no escalation', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ201', 1);
    await send(spellMessage('a01-admit.hl7', spell));
    const adm = await hookOf('VQ201', 'admission');
    await acknowledge(provider, (adm.body as any).alertId);

    await send(spellMessage('a02-transfer.hl7', spell));
    const transfer = await hookOf('VQ201', 'transfer');
    const body = transfer.body as any;
    expect(transfer.signatureValid).toBe(true);
    expect(body).toMatchObject({
      type: 'transfer',
      escalationStep: 1,
      admissionId: (adm.body as any).admissionId,
      location: { ward: 'Ward 7 Orthopaedics', bed: '4' },
      patient: { nhsNumber: spell.nhs, reference: 'REF-VQ201' },
      hospital: { odsCode: 'RX1' },
    });
    expect(body.occurredAt).toBe('2026-11-23T10:10:00.000Z');
    expect(body.discharge).toBeUndefined();
    const moved = await admissionWhen(spell, 'location Ward 7', (a) => a.location?.ward === 'Ward 7 Orthopaedics');
    expect(moved.status).toBe('acknowledged');

    // informational: after the policy's wait, nobody else is told and it does not become unacknowledged
    await new Promise((r) => setTimeout(r, 1800));
    const transferAlert = await svc.api('GET', `/v1/alerts/${body.alertId}`, { key: provider.apiKey });
    expect(transferAlert.body).toMatchObject({ kind: 'transfer', status: 'open', escalationStep: 1 });
    expect(transferAlert.body.deliveries).toHaveLength(1);
    expect(hooksOf('VQ201', 'transfer')).toHaveLength(1);

    // A12: back to Ward 12, another transfer alert carrying it
    const a12 = variant(
      spell,
      'a02-transfer.hl7',
      'A12',
      '000012',
      {
        'RX1WD07^B1^4^RX1^^^^^Ward 7 Orthopaedics': 'RX1WD12^B3^12^RX1^^^^^Ward 12 Elderly Care',
      },
      '20261123121000',
    );
    await send(a12);
    const back = await hooks.waitFor(
      (r) => r.path === '/VQ201/c1' && (r.body as any)?.type === 'transfer' && (r.body as any).alertId !== body.alertId,
      20_000,
    );
    expect((back.body as any).location).toEqual({ ward: 'Ward 12 Elderly Care', bed: '12' });
    const returned = await admissionWhen(spell, 'location Ward 12', (a) => a.location?.ward === 'Ward 12 Elderly Care');
    expect(returned.events.map((e: any) => e.type)).toEqual(['A01', 'A02', 'A12']);
    expect((await alertsOf(provider)).map((a) => a.kind).sort()).toEqual(['admission', 'transfer', 'transfer']);
    expect(hooks.received('/VQ201/c1').filter((h) => (h.body as any).type === 'admission')).toHaveLength(1);
  });

  it("a transfer that happened before the admission alert was raised is just the admission alert's location", async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ202', 60);
    await send(spellMessage('a02-transfer.hl7', spell)); // the A02 arrives first
    await admissionWhen(spell, 'A02 recorded', (a) => a.location?.ward === 'Ward 7 Orthopaedics');
    await send(spellMessage('a01-admit.hl7', spell));
    const adm = await hookOf('VQ202', 'admission');
    expect((adm.body as any).location).toEqual({ ward: 'Ward 7 Orthopaedics', bed: '4' });
    expect((adm.body as any).occurredAt).toBe('2026-11-22T09:25:00.000Z');
    const a = await admissionWhen(spell, 'alerting', (x) => x.status === 'alerting');
    expect(a.location.ward).toBe('Ward 7 Orthopaedics');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await alertsOf(provider)).map((x) => x.kind)).toEqual(['admission']);
    expect(hooksOf('VQ202')).toHaveLength(1);
  });

  it('A08 updates the location and PV2-9 expected discharge date; A21/A22 record leave; none of them alerts', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ203', 60);
    await send(spellMessage('a01-admit.hl7', spell));
    await hookOf('VQ203', 'admission');
    await send(spellMessage('a08-update.hl7', spell));
    const updated = await admissionWhen(spell, 'A08 applied', (a) => a.expectedDischargeDate === '2026-11-26');
    expect(updated.location).toMatchObject({ ward: 'Ward 7 Orthopaedics', bed: '4' });
    expect(updated.onLeave).toBe(false);

    await send(variant(spell, 'a08-update.hl7', 'A21', '000021', {}, '20261124180000'));
    await admissionWhen(spell, 'on leave', (a) => a.onLeave === true);
    await send(variant(spell, 'a08-update.hl7', 'A22', '000022', {}, '20261124200000'));
    const back = await admissionWhen(spell, 'back from leave', (a) => a.onLeave === false && a.events.length === 4);
    expect(back.events.map((e: any) => e.type)).toEqual(['A01', 'A08', 'A21', 'A22']);
    expect(back.status).toBe('alerting');
    expect((await alertsOf(provider)).map((x) => x.kind)).toEqual(['admission']);
  });

  it('A04 for an inpatient and A06 are admissions; A04 for an outpatient and A05 alone are not; A05 then A01 is', async () => {
    const inpatient = newSpell();
    const p1 = await providerFor(inpatient, 'VQ204', 60);
    await send(variant(inpatient, 'a01-admit.hl7', 'A04', '000004'));
    expect((await hookOf('VQ204', 'admission')).body).toMatchObject({ type: 'admission', escalationStep: 1 });

    const a06 = newSpell();
    await providerFor(a06, 'VQ205', 60);
    await send(variant(a06, 'a01-admit.hl7', 'A06', '000006'));
    await hookOf('VQ205', 'admission');

    const outpatient = newSpell();
    const p3 = await providerFor(outpatient, 'VQ206', 60);
    await send(variant(outpatient, 'a01-admit.hl7', 'A04', '000004', { 'PV1|1|I|': 'PV1|1|O|' }));
    const pre = newSpell();
    const p4 = await providerFor(pre, 'VQ207', 60);
    await send(variant(pre, 'a01-admit.hl7', 'A05', '000005', {}, '20261120090000'));
    await Promise.all([finished(outpatient, 1), finished(pre, 1)]);
    expect((await admissionOf(svc, outpatient.visit))!.status).toBe('received');
    expect((await admissionOf(svc, pre.visit))!.status).toBe('received');
    expect(await alertsOf(p3)).toEqual([]);
    expect(await alertsOf(p4)).toEqual([]);
    expect(hooksOf('VQ206')).toHaveLength(0);
    expect(hooksOf('VQ207')).toHaveLength(0);

    // the A01 that follows the A05 is the admission (the stay's workflow had completed: it is reopened)
    await send(spellMessage('a01-admit.hl7', pre));
    await hookOf('VQ207', 'admission');
    const admitted = await admissionWhen(pre, 'alerting', (a) => a.status === 'alerting');
    expect(admitted.events.map((e: any) => e.type)).toEqual(['A05', 'A01']);
    expect((await alertsOf(p4)).map((x) => x.kind)).toEqual(['admission']);
    expect((await alertsOf(p1)).map((x) => x.kind)).toEqual(['admission']);
  });

  it('an unknown ADT event is answered AA, stored, and has no effect', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ208', 60);
    await send(spellMessage('a01-admit.hl7', spell));
    await hookOf('VQ208', 'admission');
    await admissionWhen(spell, 'alerting', (a) => a.status === 'alerting');
    await send(variant(spell, 'a08-update.hl7', 'A99', '000099'));
    const a = await admissionWhen(spell, 'A99 stored', (x) => x.events.length === 2);
    expect(a.events.map((e: any) => e.type)).toEqual(['A01', 'A99']);
    await new Promise((r) => setTimeout(r, 1000));
    const after = (await admissionOf(svc, spell.visit)) as any;
    expect(after.status).toBe('alerting');
    expect(after.location.ward).toBe('Ward 12 Elderly Care'); // not the A99's Ward 7
    expect(after.expectedDischargeDate).toBeNull();
    expect((await alertsOf(provider)).map((x) => x.kind)).toEqual(['admission']);
  });

  it('a death (A03 with PV1-36 = 4 and PID-30 = Y) is a death alert through the ladder, with the discharge details', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ209', 1, '1933-09-07');
    await send(spellMessage('a03-discharge-died.hl7', spell));
    const first = await hookOf('VQ209', 'death');
    expect(first.body).toMatchObject({
      type: 'death',
      escalationStep: 1,
      discharge: { at: '2026-11-27T05:30:00.000Z', method: '4', destination: '79' },
      patient: { nhsNumber: spell.nhs, familyName: 'JONES', dateOfBirth: '1933-09-07' },
    });
    const second = await hookOf('VQ209', 'death', 'c2');
    expect(second.body).toMatchObject({ type: 'death', escalationStep: 2, alertId: (first.body as any).alertId });
    const ack = await acknowledge(provider, (first.body as any).alertId);
    expect(ack).toMatchObject({ status: 'acknowledged', outcome: 'care-ended' });
    const closed = await admissionWhen(spell, 'closed', (a) => a.status === 'closed');
    expect(closed.dischargedAt).toBe('2026-11-27T05:30:00.000Z');
    expect((await alertsOf(provider)).map((x) => x.kind)).toEqual(['death']);
  });

  it('A13 undoes a discharge: the discharge alert is withdrawn, whoever heard of it gets a cancellation, the stay is back to acknowledged', async () => {
    const spell = newSpell();
    const provider = await providerFor(spell, 'VQ210', 60);
    await send(spellMessage('a01-admit.hl7', spell));
    const adm = await hookOf('VQ210', 'admission');
    await acknowledge(provider, (adm.body as any).alertId);
    await admissionWhen(spell, 'acknowledged', (a) => a.status === 'acknowledged');

    await send(spellMessage('a03-discharge-home.hl7', spell));
    const dis = await hookOf('VQ210', 'discharge');
    await admissionWhen(spell, 'discharged', (a) => a.status === 'discharged');

    await send(spellMessage('a13-cancel-discharge.hl7', spell));
    const cancel = await hookOf('VQ210', 'cancellation');
    expect(cancel.body).toMatchObject({
      type: 'cancellation',
      cancels: 'discharge',
      admissionId: (adm.body as any).admissionId,
      escalationStep: 1,
    });
    expect((cancel.body as any).discharge).toBeUndefined();
    const open = await admissionWhen(spell, 'open again', (a) => a.status === 'acknowledged');
    expect(open.dischargedAt).toBeNull();
    expect(open.events.map((e: any) => e.type)).toEqual(['A01', 'A03', 'A13']);
    const disAlert = await svc.api('GET', `/v1/alerts/${(dis.body as any).alertId}`, { key: provider.apiKey });
    expect(disAlert.body).toMatchObject({ kind: 'discharge', status: 'withdrawn' });
    expect(disAlert.body.withdrawnReason).toMatch(/A13/);
    const kinds = (await alertsOf(provider)).map((x) => `${x.kind}:${x.status}`).sort();
    expect(kinds).toEqual(['admission:acknowledged', 'cancellation:open', 'discharge:withdrawn']);
    expect(hooksOf('VQ210').map((h) => (h.body as any).type)).toEqual(['admission', 'discharge', 'cancellation']);
  });
});
