/**
 * Issue "The first admission alert, end to end": the whole story through real HTTP, PostgreSQL and Temporal,
 * with a local webhook receiver standing in for the provider's system.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/notify/webhook.js';
import { eventually, fixture } from '../support/fixtures.js';
import {
  admissionOf,
  newSpell,
  registerClient,
  registerProvider,
  sendHl7,
  spellMessage,
  startStory,
  stopStory,
  webhookLadderProvider,
  type Story,
} from '../support/scenario.js';
import type { TestService } from '../support/service.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';

let svc: TestService;
let hooks: WebhookReceiver;
let hospital: Story['hospital'];

beforeAll(async () => {
  ({ svc, hooks, hospital } = await startStory());
});
afterAll(() => stopStory({ svc, hooks }));

/** A provider with two webhook contacts and a two-step ladder. */
async function providerWithLadder(ods: string, waitSeconds: number) {
  return webhookLadderProvider({ svc, hooks }, ods, { waitSeconds });
}

describe('the first admission alert, end to end', () => {
  it('admission → signed webhook → acknowledge → discharge → webhook → acknowledge → closed', async () => {
    const spell = newSpell();
    const { provider, c1 } = await providerWithLadder('VQ101', 60);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12', reference: 'CLIENT-42' });

    const a01 = await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    expect(a01.status).toBe(200);
    expect(a01.contentType).toMatch(/^x-application\/hl7-v2\+er7/);
    expect(a01.ack.code).toBe('AA');
    expect(a01.ack.controlId).toBe(`${spell.ids}000001`);

    const hook = await hooks.waitFor((r) => r.path === '/VQ101/c1', 20_000);
    expect(hook.signatureValid).toBe(true);
    expect(verifyWebhookSignature(c1.webhookSecret!, hook.headers['x-signature'] as string, hook.rawBody, 300)).toBe(
      true,
    );
    const body = hook.body as Record<string, any>;
    expect(body).toMatchObject({
      type: 'admission',
      escalationStep: 1,
      patient: {
        nhsNumber: spell.nhs,
        familyName: 'SMITH',
        givenName: 'MARGARET',
        dateOfBirth: '1941-03-12',
        reference: 'CLIENT-42',
      },
      hospital: { odsCode: 'RX1', name: 'Leeds General Infirmary' },
      location: { ward: 'Ward 12 Elderly Care', bed: '12' },
    });
    expect(body.id).toMatch(/^evt_/);
    expect(body.acknowledgeUrl).toMatch(new RegExp(`^${svc.baseUrl}/a/[A-Za-z0-9_-]{22,}$`));
    expect(body.discharge).toBeUndefined();

    const alert = await svc.api('GET', `/v1/alerts/${body.alertId}`, { key: provider.apiKey });
    expect(alert.status).toBe(200);
    expect(alert.body).toMatchObject({ id: body.alertId, kind: 'admission', status: 'open', escalationStep: 1 });

    const ack = await svc.api('POST', `/v1/alerts/${body.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Priya (coordinator)' },
    });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({
      id: body.alertId,
      status: 'acknowledged',
      acknowledgedBy: 'Priya (coordinator)',
      outcome: 'visits-paused',
    });
    expect(Date.parse(ack.body.acknowledgedAt)).not.toBeNaN();
    const again = await svc.api('POST', `/v1/alerts/${body.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'someone else' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(ack.body);

    const admitted = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'acknowledged' && a;
      },
      20_000,
      'admission acknowledged',
    );
    expect(admitted.events.map((e: any) => e.type)).toEqual(['A01']);

    const a03 = await sendHl7(svc, hospital.apiKey, spellMessage('a03-discharge-home.hl7', spell));
    expect(a03.ack.code).toBe('AA');
    const dis = await hooks.waitFor((r) => r.path === '/VQ101/c1' && (r.body as any)?.type === 'discharge', 20_000);
    const disBody = dis.body as Record<string, any>;
    expect(disBody.discharge).toEqual({
      at: '2026-11-26T14:00:00.000Z',
      method: '1',
      destination: '19',
      destinationCategory: 'home',
    });
    expect(disBody.alertId).not.toBe(body.alertId);
    const ack2 = await svc.api('POST', `/v1/alerts/${disBody.alertId}/acknowledge`, {
      key: provider.apiKey,
      body: { by: 'Priya' },
    });
    expect(ack2.body).toMatchObject({ status: 'acknowledged', outcome: 'visits-resumed' });

    const closed = await eventually(
      async () => {
        const a = await admissionOf(svc, spell.visit);
        return a?.status === 'closed' && a;
      },
      20_000,
      'admission closed',
    );
    expect(closed.dischargedAt).toBe('2026-11-26T14:00:00.000Z');
    expect(closed.events.map((e: any) => e.type)).toEqual(['A01', 'A03']);
    // nobody was escalated to: only the first contact heard anything
    expect(hooks.received(`/VQ101/c2`)).toHaveLength(0);
  });

  it("a patient who is nobody's client is accepted and the admission ends as no-care-package", async () => {
    const spell = newSpell();
    const res = await sendHl7(
      svc,
      hospital.apiKey,
      fixture('a01-unknown-patient.hl7', { SPL0009999: spell.visit, 'RX1-000008': `${spell.ids}8` }),
    );
    expect(res.status).toBe(200);
    expect(res.ack.code).toBe('AA');
    await eventually(
      async () => (await admissionOf(svc, spell.visit))?.status === 'no-care-package',
      20_000,
      'no-care-package',
    );
  });

  it('when nobody acknowledges, the second contact is alerted after waitSeconds, then the alert is unacknowledged', async () => {
    const spell = newSpell();
    const { provider } = await providerWithLadder('VQ102', 2);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const sentAt = Date.now();
    expect((await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell))).ack.code).toBe('AA');

    const first = await hooks.waitFor((r) => r.path === '/VQ102/c1', 20_000);
    const second = await hooks.waitFor((r) => r.path === '/VQ102/c2', 20_000);
    expect((first.body as any).escalationStep).toBe(1);
    expect((second.body as any).escalationStep).toBe(2);
    expect((second.body as any).alertId).toBe((first.body as any).alertId);
    expect(second.receivedAt.getTime() - first.receivedAt.getTime()).toBeGreaterThanOrEqual(1900);

    const alertId = (first.body as any).alertId as string;
    const alert = await eventually(
      async () => {
        const r = await svc.api('GET', `/v1/alerts/${alertId}`, { key: provider.apiKey });
        return r.body?.status === 'unacknowledged' && r.body;
      },
      20_000,
      'alert unacknowledged',
    );
    expect(alert.escalationStep).toBe(2);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(4000);
    const list = await svc.api('GET', '/v1/alerts?status=unacknowledged', { key: provider.apiKey });
    expect(list.body.items.map((a: any) => a.id)).toEqual([alertId]);
    await eventually(
      async () => (await admissionOf(svc, spell.visit))?.status === 'unacknowledged',
      20_000,
      'admission unacknowledged',
    );
  });

  it('the same message sent twice gives one alert', async () => {
    const spell = newSpell();
    const { provider } = await providerWithLadder('VQ103', 60);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    const msg = spellMessage('a01-admit.hl7', spell);
    const first = await sendHl7(svc, hospital.apiKey, msg);
    const second = await sendHl7(svc, hospital.apiKey, msg);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.ack.code, second.ack.code]).toEqual(['AA', 'AA']);
    await hooks.waitFor((r) => r.path === '/VQ103/c1', 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    const alerts = await svc.api('GET', '/v1/alerts?status=all', { key: provider.apiKey });
    expect(alerts.body.items).toHaveLength(1);
    expect(hooks.received('/VQ103/c1')).toHaveLength(1);
    expect((await admissionOf(svc, spell.visit))!.events).toHaveLength(1);
  });

  it('an A11 after the alert sends a cancellation webhook and ends the ladder', async () => {
    const spell = newSpell();
    const { provider } = await providerWithLadder('VQ104', 3);
    await registerClient(svc, provider, spell.nhs, { dateOfBirth: '1941-03-12' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const adm = await hooks.waitFor((r) => r.path === '/VQ104/c1', 20_000);
    const a11 = await sendHl7(svc, hospital.apiKey, spellMessage('a11-cancel-admit.hl7', spell));
    expect(a11.ack.code).toBe('AA');
    const cancel = await hooks.waitFor(
      (r) => r.path === '/VQ104/c1' && (r.body as any).type === 'cancellation',
      20_000,
    );
    expect((cancel.body as any).admissionId).toBe((adm.body as any).admissionId);
    expect((cancel.body as any).cancels).toBe('admission');
    await eventually(async () => (await admissionOf(svc, spell.visit))?.status === 'cancelled', 20_000, 'cancelled');
    const admissionAlert = await svc.api('GET', `/v1/alerts/${(adm.body as any).alertId}`, { key: provider.apiKey });
    expect(admissionAlert.body.status).toBe('withdrawn');
    // the ladder ended: the second contact never hears of it
    await new Promise((r) => setTimeout(r, 3500));
    expect(hooks.received('/VQ104/c2')).toHaveLength(0);
  });

  it('a message without MSH is rejected AR with HTTP 400', async () => {
    const res = await sendHl7(svc, hospital.apiKey, fixture('malformed-no-msh.hl7'));
    expect(res.status).toBe(400);
    expect(res.ack.code).toBe('AR');
    expect(res.ack.errors[0]).toMatch(/MSH/);
  });

  it("provider B's key gets 404 on provider A's alert and admission", async () => {
    const spell = newSpell();
    const { provider: a } = await providerWithLadder('VQ105', 60);
    const b = await registerProvider(svc, 'VQ106');
    await registerClient(svc, a, spell.nhs, { dateOfBirth: '1941-03-12' });
    await sendHl7(svc, hospital.apiKey, spellMessage('a01-admit.hl7', spell));
    const hook = await hooks.waitFor((r) => r.path === '/VQ105/c1', 20_000);
    const { alertId, admissionId } = hook.body as any;
    expect((await svc.api('GET', `/v1/alerts/${alertId}`, { key: a.apiKey })).status).toBe(200);
    expect((await svc.api('GET', `/v1/admissions/${admissionId}`, { key: a.apiKey })).status).toBe(200);
    for (const path of [`/v1/alerts/${alertId}`, `/v1/admissions/${admissionId}`]) {
      const res = await svc.api('GET', path, { key: b.apiKey });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 404, title: 'Not found' });
    }
    const ack = await svc.api('POST', `/v1/alerts/${alertId}/acknowledge`, { key: b.apiKey, body: { by: 'intruder' } });
    expect(ack.status).toBe(404);
    expect((await svc.api('GET', '/v1/alerts', { key: b.apiKey })).body.items).toEqual([]);
  });
});
