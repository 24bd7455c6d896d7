/**
 * The service's Prometheus metrics (CONTRACT.md "Operators", "Metrics"), kept in a prom-client Registry that is
 * passed in (tests run several services in one process, each with its own). Counters and histograms are counted
 * where things happen (ingest, deliveries); what describes the database (backlog, unacknowledged alerts, the review
 * queue, feed silence) is read from PostgreSQL when scraped ({@link registerDatabaseGauges}). No label carries
 * patient data: hospitals are ODS codes, the rest are codes from fixed sets.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DatabaseSnapshot } from '../db/metrics.js';
import type { AckCode } from '../hl7/ack.js';

/** Every metric this module defines (the dashboard test checks the dashboard's PromQL names only these). */
export const METRIC_NAMES = [
  'admission_alerts_messages_total',
  'admission_alerts_ack_seconds',
  'admission_alerts_alert_delivery_seconds',
  'admission_alerts_deliveries_total',
  'admission_alerts_relay_backlog',
  'admission_alerts_relay_lag_seconds',
  'admission_alerts_alerts_unacknowledged',
  'admission_alerts_alerts_open',
  'admission_alerts_review_waiting',
  'admission_alerts_feed_silence_seconds',
  'admission_alerts_feed_silence_threshold_seconds',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

/** The transports a message arrives by (the `transport` label). */
export type MetricTransport = 'http' | 'mllp' | 'fhir';

/** The `hospital` label of a message whose sender is no registered hospital (ODS codes are upper case). */
export const UNKNOWN_HOSPITAL = 'unknown';

/** How long one read of the database gauges serves scrapes (see {@link registerDatabaseGauges}). */
export const DATABASE_SNAPSHOT_MAX_AGE_MS = 1_000;

/** Time to answer a message: most take a few milliseconds (README "Benchmarks"). */
const ACK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** From a message's arrival to the first accepted delivery of its alert: seconds, or minutes when Temporal lags. */
const DELIVERY_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface ServiceMetrics {
  readonly registry: Registry;
  /** One message answered (HL7 ACK or FHIR OperationOutcome), `seconds` after it reached the ingest path. */
  messageAnswered(m: { transport: MetricTransport; hospital: string; ackCode: AckCode; seconds: number }): void;
  /** One delivery ended with `outcome` (its stored status: sent, rejected, skipped, failed). */
  deliveryFinished(channel: string, outcome: string): void;
  /** The first delivery of an alert was accepted, `seconds` after the hospital's message arrived. */
  alertFirstDelivered(seconds: number): void;
}

export interface CreateMetricsOptions {
  /** default: a new one */
  registry?: Registry;
  /** Node's process metrics (CPU, memory, event-loop delay, GC) too; default true */
  processMetrics?: boolean;
}

/** The counters and histograms of one service, registered in `registry`. */
export function createMetrics(opts: CreateMetricsOptions = {}): ServiceMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const messages = new Counter({
    name: 'admission_alerts_messages_total',
    help: 'Messages answered, by transport (http, mllp, fhir), hospital (ODS code) and ACK code (AA/AE/AR, CA/CE/CR; FHIR answers as AA/AE/AR)',
    labelNames: ['transport', 'hospital', 'ack_code'] as const,
    registers,
  });
  const ackSeconds = new Histogram({
    name: 'admission_alerts_ack_seconds',
    help: 'Time from a message reaching the ingest path to its answer (after COMMIT), by transport and hospital',
    labelNames: ['transport', 'hospital'] as const,
    buckets: ACK_BUCKETS,
    registers,
  });
  const alertDelivery = new Histogram({
    name: 'admission_alerts_alert_delivery_seconds',
    help: "Time from the hospital's message arriving to the first accepted delivery of each alert it raised",
    buckets: DELIVERY_BUCKETS,
    registers,
  });
  const deliveries = new Counter({
    name: 'admission_alerts_deliveries_total',
    help: 'Deliveries ended, by channel (webhook, sms, email) and outcome (sent, rejected, skipped, failed)',
    labelNames: ['channel', 'outcome'] as const,
    registers,
  });
  return {
    registry,
    messageAnswered({ transport, hospital, ackCode, seconds }) {
      messages.inc({ transport, hospital, ack_code: ackCode });
      ackSeconds.observe({ transport, hospital }, seconds);
    },
    deliveryFinished(channel, outcome) {
      deliveries.inc({ channel, outcome });
    },
    alertFirstDelivered(seconds) {
      alertDelivery.observe(Math.max(0, seconds));
    },
  };
}

/**
 * The gauges that describe the database, read from it when Prometheus scrapes (one snapshot shared by all of them,
 * read at most once a second). When the database cannot be read the scrape still answers, with the counters, NaN for each of these
 * and no per-hospital series (`onError` is told).
 */
export function registerDatabaseGauges(
  metrics: ServiceMetrics,
  read: () => Promise<DatabaseSnapshot>,
  onError: (err: unknown) => void,
  opts: { maxAgeMs?: number; now?: () => number } = {},
): void {
  const maxAgeMs = opts.maxAgeMs ?? DATABASE_SNAPSHOT_MAX_AGE_MS;
  const now = opts.now ?? Date.now;
  /**
   * One read for the whole scrape (prom-client collects every metric at once), and for every scrape within
   * `maxAgeMs` of it: however often `/metrics` is asked, PostgreSQL is asked at most once in that time.
   */
  let last: { at: number; value: Promise<DatabaseSnapshot | undefined> } | undefined;
  const snapshot = () => {
    if (last && now() - last.at < maxAgeMs) return last.value;
    const value = read().catch((err: unknown) => {
      onError(err);
      return undefined;
    });
    last = { at: now(), value };
    return value;
  };
  const registers = [metrics.registry];
  const scalar = (name: MetricName, help: string, pick: (s: DatabaseSnapshot) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const s = await snapshot();
        // NaN, not 0, when the database cannot be read: "no backlog" would be a reassurance nobody checked
        this.set(s ? pick(s) : NaN);
      },
    });
  scalar(
    'admission_alerts_relay_backlog',
    'Accepted live messages not yet handed to Temporal by the relay',
    (s) => s.relayBacklog,
  );
  scalar(
    'admission_alerts_relay_lag_seconds',
    'Age of the oldest message not yet handed to Temporal (0 when none waits)',
    (s) => s.relayLagSeconds,
  );
  scalar(
    'admission_alerts_alerts_unacknowledged',
    'Alerts whose escalation ladder ran out without an acknowledgement (status unacknowledged)',
    (s) => s.alertsUnacknowledged,
  );
  scalar(
    'admission_alerts_alerts_open',
    'Alerts still escalating, waiting for an acknowledgement (status open)',
    (s) => s.alertsOpen,
  );
  scalar(
    'admission_alerts_review_waiting',
    'Unmatched stays waiting in the review queue (GET /v1/review)',
    (s) => s.reviewWaiting,
  );
  const perHospital = (name: MetricName, help: string, pick: (f: DatabaseSnapshot['feeds'][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['hospital'] as const,
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const f of s?.feeds ?? []) this.set({ hospital: f.hospital }, pick(f));
      },
    });
  perHospital(
    'admission_alerts_feed_silence_seconds',
    'Seconds since the hospital last sent a message (since its registration if it never has); hospitals with silenceAlertSeconds > 0',
    (f) => f.silenceSeconds,
  );
  perHospital(
    'admission_alerts_feed_silence_threshold_seconds',
    "The hospital's silenceAlertSeconds: silence longer than this is a feed alert",
    (f) => f.thresholdSeconds,
  );
}
