/**
 * The Grafana dashboard docker-compose provisions (deploy/grafana/dashboards/admission-alerts.json) reads only
 * metrics the service exposes, and shows what the README promises: ingest rate and ACK latency per hospital, relay
 * backlog and lag, alert delivery latency, deliveries by outcome, unacknowledged alerts, the review queue and feed
 * silence. The `temporal_*` names it uses are checked against a real worker's scrape in test/e2e/metrics.e2e.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from './metrics.js';
import { metricNamesIn } from './promql.js';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
}

const dashboardPath = new URL('../../deploy/grafana/dashboards/admission-alerts.json', import.meta.url);
const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { uid: string; panels: Panel[] };
const queried = dashboard.panels.filter((p) => p.type !== 'row');
const expressions = queried.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The service's own series: histograms add _bucket, _sum and _count. */
const HISTOGRAMS = new Set(['admission_alerts_ack_seconds', 'admission_alerts_alert_delivery_seconds']);
const exposed = new Set<string>(
  METRIC_NAMES.flatMap((n) => (HISTOGRAMS.has(n) ? [`${n}_bucket`, `${n}_sum`, `${n}_count`] : [n])),
);

describe('the Grafana dashboard', () => {
  it('names only metrics the service exposes (its own, or the Temporal SDK worker metrics)', () => {
    expect(expressions.length).toBeGreaterThan(10);
    for (const { panel, expr } of expressions) {
      const names = metricNamesIn(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        if (name.startsWith('temporal_')) continue;
        expect(exposed.has(name), `${panel}: ${name} is not a metric of the service`).toBe(true);
      }
    }
  });

  it('has a panel for each thing the README promises', () => {
    const reading = (metric: string) =>
      queried.filter((p) => (p.targets ?? []).some((t) => metricNamesIn(t.expr).includes(metric))).map((p) => p.title);
    expect(reading('admission_alerts_messages_total')).toContain('Messages per second by hospital');
    expect(reading('admission_alerts_ack_seconds_bucket')).toEqual(['ACK time by hospital (p50, p99)']);
    expect(reading('admission_alerts_relay_backlog')).toEqual(['Relay backlog']);
    expect(reading('admission_alerts_relay_lag_seconds')).toEqual(['Relay lag']);
    expect(reading('admission_alerts_alert_delivery_seconds_bucket')).toHaveLength(1);
    expect(reading('admission_alerts_deliveries_total')).toEqual(['Deliveries by channel and outcome (per minute)']);
    expect(reading('admission_alerts_alerts_unacknowledged')).toEqual(['Unacknowledged alerts']);
    expect(reading('admission_alerts_review_waiting')).toEqual(['Review queue']);
    expect(reading('admission_alerts_feed_silence_seconds')).toHaveLength(2);
    // per hospital where it says so
    for (const { panel, expr } of expressions.filter((x) => /by hospital/.test(x.panel))) {
      expect(expr, panel).toMatch(/by \([^)]*hospital/);
    }
  });

  it('every panel queries the provisioned Prometheus data source', () => {
    const datasource = readFileSync(
      new URL('../../deploy/grafana/provisioning/datasources/prometheus.yml', import.meta.url),
      'utf8',
    );
    const uid = /^\s*uid:\s*(\S+)\s*$/m.exec(datasource)?.[1];
    expect(uid).toBe('prometheus');
    for (const p of queried) expect(p.datasource?.uid, p.title).toBe(uid);
  });
});

describe('metricNamesIn', () => {
  it.each([
    [
      'sum by (hospital) (rate(admission_alerts_messages_total[$__rate_interval]))',
      ['admission_alerts_messages_total'],
    ],
    [
      'histogram_quantile(0.99, sum by (hospital, le) (rate(admission_alerts_ack_seconds_bucket{transport="mllp"}[5m])))',
      ['admission_alerts_ack_seconds_bucket'],
    ],
    [
      'max by (hospital) (a_seconds) / on (hospital) group_left max by (hospital) (b_seconds) > bool 1e3',
      ['a_seconds', 'b_seconds'],
    ],
    ['sum(rate(x_total{code!~"AA|CA"}[1h] offset 1d)) * 60', ['x_total']],
    ['up', ['up']],
  ])('%s reads %j', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});
