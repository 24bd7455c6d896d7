/**
 * CONTRACT.md "Operators", "Metrics": `GET /metrics` on METRICS_PORT, scraped after a known number of messages (HTTP,
 * MLLP and FHIR; accepted and refused), alerts and deliveries (sent, retried then sent, rejected, skipped): every
 * count is exact, the histograms counted each answer and each alert's first accepted delivery once, the database
 * gauges say what PostgreSQL holds, the worker's Temporal SDK metrics (`temporal_*`) are in the same scrape, and no
 * label carries patient data. METRICS_PORT=0 serves nothing.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricNamesIn } from '../../src/metrics/promql.js';
import { freePort } from '../../src/temporal/dev-server.js';
import { eventually } from '../support/fixtures.js';
import { startFakeNotify, type FakeNotify } from '../support/fake-notify.js';
import { setField } from '../support/hl7-edit.js';
import { MllpTestClient } from '../support/mllp-client.js';
import { scrape, sumOf, valueOf, type Exposition } from '../support/prometheus.js';
import {
  addContact,
  LOOPBACK_MLLP,
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

let svc: TestService;
let hooks: WebhookReceiver;
let notify: FakeNotify;
let metricsUrl: string;
const startedAt = Date.now();

beforeAll(async () => {
  [hooks, notify] = await Promise.all([startWebhookReceiver(), startFakeNotify()]);
  svc = await startTestService({
    env: {
      METRICS_PORT: String(await freePort()),
      NOTIFY_API_KEY: notify.apiKey,
      NOTIFY_BASE_URL: notify.baseUrl,
      NOTIFY_SMS_TEMPLATE_ID: notify.smsTemplateId,
      NOTIFY_EMAIL_TEMPLATE_ID: notify.emailTemplateId,
    },
  });
  metricsUrl = `http://127.0.0.1:${svc.metricsPort}/metrics`;
});
afterAll(async () => {
  await svc?.stop();
  await hooks?.close();
  await notify?.close();
});

describe('GET /metrics after known traffic', () => {
  const spells = { a: newSpell(), b: newSpell(), review: newSpell(), mllp: newSpell(), ae: newSpell() };
  let e: Exposition & { text: string };

  beforeAll(async () => {
    const rx1 = await registerHospital(svc, 'RX1', 'Leeds General Infirmary', LOOPBACK_MLLP);
    await registerHospital(svc, 'RR8', 'St James University Hospital');
    await registerHospital(svc, 'RCB', 'York Hospital');
    // RR8 has no silence threshold (0: never a feed alert), so it has no feed silence series
    const db = postgres(svc.db.url, { max: 1, onnotice: () => undefined });
    await db`update hospitals set silence_alert_seconds = 0 where ods_code = 'RR8'`;
    await db.end();

    // provider MET1: one step, webhook and SMS to one contact, a long wait: its alert stays open
    const p1 = await registerProvider(svc, 'MET1');
    const c1 = await addContact(svc, p1, {
      name: 'Day coordinator',
      phone: '07700900131',
      webhookUrl: hooks.url('/MET1/c1'),
    });
    hooks.setSecret('/MET1/c1', c1.webhookSecret!);
    await setPolicy(svc, p1, [{ contactIds: [c1.id], channels: ['webhook', 'sms'], waitSeconds: 600 }]);
    await registerClient(svc, p1, spells.a.nhs, { dateOfBirth: '1941-03-12' });
    // provider MET2: one step, webhook and email to a contact with no email address, one second: unacknowledged
    const p2 = await registerProvider(svc, 'MET2');
    const c2 = await addContact(svc, p2, { name: 'On-call manager', webhookUrl: hooks.url('/MET2/c2') });
    hooks.setSecret('/MET2/c2', c2.webhookSecret!);
    await setPolicy(svc, p2, [{ contactIds: [c2.id], channels: ['webhook', 'email'], waitSeconds: 1 }]);
    await registerClient(svc, p2, spells.b.nhs, { dateOfBirth: '1941-03-12' });

    // MET1's webhook fails twice (the first attempt, a local activity, then the delivery activity's first attempt;
    // its retry is sent) and Notify refuses its SMS (rejected)
    hooks.failNext(500, 2, { path: '/MET1/c1' });
    notify.failNext(400, 1, { path: '/v2/notifications/sms' });

    // HTTP: three AA (two alerts, one unmatched stay for review), one AE, one AR; and one without a key (not counted)
    const http = async (message: string, code: string) => {
      const res = await sendHl7(svc, rx1.apiKey, message);
      expect(res.ack.code, res.text).toBe(code);
    };
    await http(spellMessage('a01-admit.hl7', spells.a), 'AA');
    await http(spellMessage('a01-admit.hl7', spells.b), 'AA');
    await http(spellMessage('a01-admit.hl7', { ...spells.review, nhs: '9995260183' }), 'AA');
    await http(setField(spellMessage('a01-admit.hl7', spells.ae), 'PV1', 19, 'V'.repeat(65)), 'AE');
    await http(setField(spellMessage('a01-admit.hl7', newSpell()), 'MSH', 12, '9.9'), 'AR');
    expect((await sendHl7(svc, undefined, spellMessage('a01-admit.hl7', newSpell()))).status).toBe(401);

    // MLLP: one AA from RX1, one AR from a sender that is no registered hospital
    const mllp = await MllpTestClient.connect(svc.mllpPort!);
    expect((await mllp.send(spellMessage('a01-admit.hl7', spells.mllp))).code).toBe('AA');
    const stranger = spellMessage('a01-admit.hl7', newSpell()).replace('|PAS|RX1|', '|PAS|ZZZ99|');
    expect((await mllp.send(stranger)).code).toBe('AR');
    mllp.socket.end();

    // FHIR: one body that is not JSON (400, counted as AR)
    const fhir = await fetch(`${svc.baseUrl}/v1/fhir/Encounter`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rx1.apiKey}`, 'content-type': 'application/fhir+json' },
      body: '{not json',
    });
    expect(fhir.status).toBe(400);

    // every delivery has ended and MET2's alert ran out of steps
    e = await eventually(
      async () => {
        const s = await scrape(metricsUrl);
        // the delivery latency is observed just after its delivery is counted: wait for both
        return sumOf(s, 'admission_alerts_deliveries_total') === 4 &&
          valueOf(s, 'admission_alerts_alert_delivery_seconds_count') === 2 &&
          valueOf(s, 'admission_alerts_alerts_unacknowledged') === 1 &&
          valueOf(s, 'admission_alerts_alerts_open') === 1 &&
          valueOf(s, 'admission_alerts_relay_backlog') === 0
          ? s
          : undefined;
      },
      60_000,
      'four deliveries (two alerts timed), one open and one unacknowledged alert',
    );
  });

  it('counts each message once by transport, hospital (ODS code) and ACK code, and times each answer', () => {
    const m = (transport: string, hospital: string, ack_code: string) =>
      valueOf(e, 'admission_alerts_messages_total', { transport, hospital, ack_code });
    expect(m('http', 'RX1', 'AA')).toBe(3);
    expect(m('http', 'RX1', 'AE')).toBe(1);
    expect(m('http', 'RX1', 'AR')).toBe(1);
    expect(m('mllp', 'RX1', 'AA')).toBe(1);
    expect(m('mllp', 'unknown', 'AR')).toBe(1);
    expect(m('fhir', 'RX1', 'AR')).toBe(1);
    // nothing else: the request without a key never reached ingestion
    expect(sumOf(e, 'admission_alerts_messages_total')).toBe(8);

    const count = (transport: string, hospital: string) =>
      valueOf(e, 'admission_alerts_ack_seconds_count', { transport, hospital });
    expect(count('http', 'RX1')).toBe(5);
    expect(count('mllp', 'RX1')).toBe(1);
    expect(count('mllp', 'unknown')).toBe(1);
    expect(count('fhir', 'RX1')).toBe(1);
    expect(valueOf(e, 'admission_alerts_ack_seconds_bucket', { transport: 'http', hospital: 'RX1', le: '+Inf' })).toBe(
      5,
    );
    expect(e.types.get('admission_alerts_ack_seconds')).toBe('histogram');
  });

  it('counts each delivery once by its outcome (a retried webhook once, as sent) and times each alert to its first accepted delivery', () => {
    const d = (channel: string, outcome: string) =>
      valueOf(e, 'admission_alerts_deliveries_total', { channel, outcome });
    expect(d('webhook', 'sent')).toBe(2);
    expect(d('sms', 'rejected')).toBe(1);
    expect(d('email', 'skipped')).toBe(1);
    expect(sumOf(e, 'admission_alerts_deliveries_total')).toBe(4);
    // the webhook receiver saw the retries: three requests, the third accepted
    expect(hooks.received('/MET1/c1').map((r) => r.status)).toEqual([500, 500, 200]);

    expect(valueOf(e, 'admission_alerts_alert_delivery_seconds_count')).toBe(2);
    expect(e.types.get('admission_alerts_alert_delivery_seconds')).toBe('histogram');
    // from the message's arrival to the delivery's acceptance: after the first webhook's failures and its retry
    const sum = valueOf(e, 'admission_alerts_alert_delivery_seconds_sum')!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(((Date.now() - startedAt) / 1000) * 2);
  });

  it('reads the relay, alerts, review queue and feed silence from PostgreSQL', () => {
    expect(valueOf(e, 'admission_alerts_relay_backlog')).toBe(0);
    expect(valueOf(e, 'admission_alerts_relay_lag_seconds')).toBe(0);
    expect(valueOf(e, 'admission_alerts_alerts_unacknowledged')).toBe(1);
    expect(valueOf(e, 'admission_alerts_alerts_open')).toBe(1);
    expect(valueOf(e, 'admission_alerts_review_waiting')).toBe(1);

    const elapsed = (Date.now() - startedAt) / 1000;
    const rx1 = valueOf(e, 'admission_alerts_feed_silence_seconds', { hospital: 'RX1' })!;
    const rcb = valueOf(e, 'admission_alerts_feed_silence_seconds', { hospital: 'RCB' })!;
    expect(rx1).toBeGreaterThanOrEqual(0);
    // RCB never sent anything: silent since it was registered, which was before RX1's last message
    expect(rcb).toBeGreaterThan(rx1);
    expect(rcb).toBeLessThan(elapsed);
    expect(valueOf(e, 'admission_alerts_feed_silence_seconds', { hospital: 'RR8' })).toBeUndefined();
    expect(valueOf(e, 'admission_alerts_feed_silence_threshold_seconds', { hospital: 'RX1' })).toBe(7200);
  });

  it("includes the worker's Temporal SDK metrics", () => {
    const temporal = e.samples.filter((s) => s.name.startsWith('temporal_'));
    expect(temporal.length).toBeGreaterThan(0);
    expect(temporal.some((s) => s.labels.task_queue === svc.taskQueue)).toBe(true);
  });

  it('has every series the Grafana dashboard reads, the Temporal SDK ones included', () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../deploy/grafana/dashboards/admission-alerts.json', import.meta.url), 'utf8'),
    ) as { panels: { targets?: { expr: string }[] }[] };
    const names = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNamesIn(t.expr))));
    expect([...names].filter((n) => n.startsWith('temporal_')).length).toBeGreaterThan(0);
    for (const name of names)
      expect(
        e.samples.some((s) => s.name === name),
        name,
      ).toBe(true);
  });

  it('carries no patient data in any label', () => {
    const values = new Set(e.samples.flatMap((s) => Object.values(s.labels)));
    const patientData = [
      ...Object.values(spells).flatMap((s) => [s.nhs, s.visit]),
      '9995260183',
      'SMITH',
      'MARGARET',
      '19410312',
      '1941-03-12',
    ];
    for (const v of values) for (const p of patientData) expect(v.toUpperCase()).not.toContain(p);
    const hospitals = new Set(
      e.samples.filter((s) => s.name.startsWith('admission_alerts_')).flatMap((s) => s.labels.hospital ?? []),
    );
    expect([...hospitals].sort()).toEqual(['RCB', 'RX1', 'unknown']);
  });
});

describe('the production worker process (src/main-worker.ts)', () => {
  it("serves its own /metrics: the Temporal SDK's worker metrics and the same database gauges", async () => {
    const port = await freePort();
    const taskQueue = `${svc.taskQueue}-w`;
    const env: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main-worker.ts'], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: {
        ...env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        METRICS_PORT: String(port),
        DATABASE_URL: svc.db.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: taskQueue,
        ADMIN_TOKEN: svc.adminToken,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    try {
      const w = await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`worker exited: ${stderr}`);
          const s = await scrape(`http://127.0.0.1:${port}/metrics`);
          return s.samples.some((x) => x.name === 'temporal_num_pollers' && x.labels.task_queue === taskQueue) && s;
        },
        90_000,
        "the worker's Temporal SDK metrics",
      );
      // the database is the API process's: the worker says the same about it
      expect(valueOf(w, 'admission_alerts_review_waiting')).toBe(1);
      expect(valueOf(w, 'admission_alerts_alerts_unacknowledged')).toBe(1);
      // it ingests nothing and has delivered nothing yet
      expect(sumOf(w, 'admission_alerts_messages_total')).toBe(0);
      expect(sumOf(w, 'admission_alerts_deliveries_total')).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('METRICS_PORT=0', () => {
  it('serves no metrics: nothing listens for them and the API has no /metrics', async () => {
    const off = await startTestService({ roles: ['api'], env: { METRICS_PORT: '0' } });
    try {
      expect(off.metricsPort).toBeUndefined();
      expect((await fetch(`${off.baseUrl}/metrics`)).status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
