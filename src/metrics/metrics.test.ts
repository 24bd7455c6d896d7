/** The metrics module and its `/metrics` server, on 127.0.0.1 port 0, with the database gauges fed a snapshot. */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition, scrape, valueOf } from '../../test/support/prometheus.js';
import type { DatabaseSnapshot } from '../db/metrics.js';
import { createMetrics, registerDatabaseGauges } from './metrics.js';
import { startMetricsServer, type MetricsServer } from './server.js';

const logger = pino({ level: 'silent' });
const SNAPSHOT: DatabaseSnapshot = {
  relayBacklog: 3,
  relayLagSeconds: 12.5,
  alertsUnacknowledged: 2,
  alertsOpen: 5,
  reviewWaiting: 1,
  feeds: [
    { hospital: 'RX1', silenceSeconds: 30, thresholdSeconds: 7200 },
    { hospital: 'RR8', silenceSeconds: 9000, thresholdSeconds: 3600 },
  ],
};

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('/metrics', () => {
  it('serves the counters, histograms and database gauges in the Prometheus text format, with the extra text after them', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let reads = 0;
    registerDatabaseGauges(
      metrics,
      async () => {
        reads++;
        return SNAPSHOT;
      },
      () => undefined,
    );
    metrics.messageAnswered({ transport: 'http', hospital: 'RX1', ackCode: 'AA', seconds: 0.004 });
    metrics.messageAnswered({ transport: 'http', hospital: 'RX1', ackCode: 'AA', seconds: 0.02 });
    metrics.messageAnswered({ transport: 'mllp', hospital: 'unknown', ackCode: 'AR', seconds: 0.001 });
    metrics.deliveryFinished('webhook', 'sent');
    metrics.deliveryFinished('webhook', 'sent');
    metrics.deliveryFinished('sms', 'skipped');
    metrics.alertFirstDelivered(1.5);
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      extra: [async () => '# TYPE temporal_request counter\ntemporal_request{service_name="temporal-core-sdk"} 7'],
      logger,
    });
    const e = await scrape(`http://127.0.0.1:${server.port}/metrics`);

    expect(valueOf(e, 'admission_alerts_messages_total', { transport: 'http', hospital: 'RX1', ack_code: 'AA' })).toBe(
      2,
    );
    expect(
      valueOf(e, 'admission_alerts_messages_total', { transport: 'mllp', hospital: 'unknown', ack_code: 'AR' }),
    ).toBe(1);
    expect(valueOf(e, 'admission_alerts_ack_seconds_count', { transport: 'http', hospital: 'RX1' })).toBe(2);
    expect(valueOf(e, 'admission_alerts_ack_seconds_bucket', { transport: 'http', hospital: 'RX1', le: '0.005' })).toBe(
      1,
    );
    expect(valueOf(e, 'admission_alerts_ack_seconds_bucket', { transport: 'http', hospital: 'RX1', le: '+Inf' })).toBe(
      2,
    );
    expect(valueOf(e, 'admission_alerts_deliveries_total', { channel: 'webhook', outcome: 'sent' })).toBe(2);
    expect(valueOf(e, 'admission_alerts_deliveries_total', { channel: 'sms', outcome: 'skipped' })).toBe(1);
    expect(valueOf(e, 'admission_alerts_alert_delivery_seconds_count')).toBe(1);
    expect(valueOf(e, 'admission_alerts_alert_delivery_seconds_sum')).toBe(1.5);
    expect(valueOf(e, 'admission_alerts_relay_backlog')).toBe(3);
    expect(valueOf(e, 'admission_alerts_relay_lag_seconds')).toBe(12.5);
    expect(valueOf(e, 'admission_alerts_alerts_unacknowledged')).toBe(2);
    expect(valueOf(e, 'admission_alerts_alerts_open')).toBe(5);
    expect(valueOf(e, 'admission_alerts_review_waiting')).toBe(1);
    expect(valueOf(e, 'admission_alerts_feed_silence_seconds', { hospital: 'RR8' })).toBe(9000);
    expect(valueOf(e, 'admission_alerts_feed_silence_threshold_seconds', { hospital: 'RR8' })).toBe(3600);
    expect(valueOf(e, 'temporal_request', { service_name: 'temporal-core-sdk' })).toBe(7);
    expect(e.types.get('admission_alerts_ack_seconds')).toBe('histogram');
    expect(e.types.get('admission_alerts_messages_total')).toBe('counter');
    // one database read for the whole scrape
    expect(reads).toBe(1);
  });

  it('scrapes within a second share one database read; a later scrape reads again', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let clock = 0;
    let reads = 0;
    registerDatabaseGauges(
      metrics,
      async () => ({ ...SNAPSHOT, relayBacklog: ++reads }),
      () => undefined,
      { now: () => clock },
    );
    const backlog = async () =>
      valueOf(parseExposition(await metrics.registry.metrics()), 'admission_alerts_relay_backlog');
    expect(await Promise.all([backlog(), backlog(), backlog()])).toEqual([1, 1, 1]);
    clock = 999;
    expect(await backlog()).toBe(1);
    clock = 1000;
    expect(await backlog()).toBe(2);
    expect(reads).toBe(2);
  });

  it('a hospital no longer in the snapshot is no longer served', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let snapshot = SNAPSHOT;
    let clock = 0;
    registerDatabaseGauges(
      metrics,
      async () => snapshot,
      () => undefined,
      { now: () => (clock += 1000) },
    );
    const text = () => metrics.registry.metrics().then(parseExposition);
    expect(valueOf(await text(), 'admission_alerts_feed_silence_seconds', { hospital: 'RX1' })).toBe(30);
    snapshot = { ...SNAPSHOT, feeds: [] };
    expect(valueOf(await text(), 'admission_alerts_feed_silence_seconds', { hospital: 'RX1' })).toBeUndefined();
  });

  it('when the database cannot be read, its gauges say NaN (not 0) and the counters are still served', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const errors: unknown[] = [];
    registerDatabaseGauges(
      metrics,
      () => Promise.reject(new Error('connection refused')),
      (err) => errors.push(err),
    );
    metrics.deliveryFinished('email', 'rejected');
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      extra: [() => Promise.reject(new Error('SDK exporter gone'))],
      logger,
    });
    const e = await scrape(`http://127.0.0.1:${server.port}/metrics`);
    expect(valueOf(e, 'admission_alerts_deliveries_total', { channel: 'email', outcome: 'rejected' })).toBe(1);
    expect(valueOf(e, 'admission_alerts_relay_backlog')).toBeNaN();
    expect(valueOf(e, 'admission_alerts_alerts_unacknowledged')).toBeNaN();
    expect(valueOf(e, 'admission_alerts_feed_silence_seconds', { hospital: 'RX1' })).toBeUndefined();
    expect(e.samples.some((s) => s.name.startsWith('temporal_'))).toBe(false);
    expect(errors).toHaveLength(1);
  });

  it('answers 404 beside /metrics and 405 to other methods', async () => {
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: createMetrics({ processMetrics: false }).registry,
      logger,
    });
    const base = `http://127.0.0.1:${server.port}`;
    const other = await fetch(`${base}/`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('Not found: metrics are at /metrics\n');
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('includes Node process metrics by default', async () => {
    const e = parseExposition(await createMetrics().registry.metrics());
    expect(e.types.get('process_cpu_user_seconds_total')).toBe('counter');
  });
});
