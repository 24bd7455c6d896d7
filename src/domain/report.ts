/**
 * The summary report (CONTRACT.md `GET /v1/reports/summary`), shaped from the counts src/db/reports.ts reads. Every
 * figure is about the alerts raised (created) in the period `[from, to)`, of one provider or of all. The README
 * ("Reports") defines each figure; this module is the definition.
 */
import type { AckOutcome, AlertKind, AlertStatus, Channel } from './admission-event.js';
import { ACK_OUTCOMES } from './alert-text.js';
import type { CsvValue } from './csv.js';
import { escalates } from './escalation.js';

export const ALERT_KINDS: readonly AlertKind[] = ['admission', 'discharge', 'death', 'cancellation', 'transfer'];
export const CHANNELS: readonly Channel[] = ['sms', 'email', 'webhook'];
export type DeliveryStatus = 'sent' | 'rejected' | 'skipped' | 'failed' | 'pending';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['sent', 'rejected', 'skipped', 'failed', 'pending'];

/** What the database counts for a period (src/db/reports.ts). */
export interface ReportFacts {
  /** stays with at least one alert (of the scope) raised in the period */
  admissionsMatched: number;
  /** alerts of the period by kind, status, outcome and whether they were acknowledged */
  alerts: { kind: AlertKind; status: AlertStatus; outcome: AckOutcome | null; acknowledged: boolean; count: number }[];
  /** acknowledged alerts: their kind and acknowledgedAt − createdAt, in ms */
  acknowledgements: { kind: AlertKind; ms: number }[];
  /** deliveries of the period's alerts by channel and status */
  deliveries: { channel: Channel; status: DeliveryStatus; count: number }[];
}

export interface ReportSummary {
  from: string;
  to: string;
  /** the provider the figures are of; null: every provider */
  provider: { id: string; odsCode: string; name: string } | null;
  admissionsMatched: number;
  alertsByKind: Record<AlertKind, number>;
  acknowledgement: {
    /** alerts that ask for acknowledgement (admission, discharge, death) */
    alerts: number;
    acknowledged: number;
    within15Minutes: number;
    within1Hour: number;
    /** of the acknowledged ones, in whole seconds; null when none was acknowledged */
    medianSeconds: number | null;
    p90Seconds: number | null;
    /** the ladder ran out and nobody has acknowledged */
    unacknowledged: number;
    /** still being escalated */
    open: number;
    /** withdrawn (superseded, cancelled, corrected, closed) before anyone acknowledged */
    withdrawn: number;
  };
  /** acknowledged alerts that ask for acknowledgement, by outcome */
  acknowledgementOutcomes: Record<AckOutcome, number>;
  deliveries: Record<Channel, Record<DeliveryStatus, number>>;
}

/**
 * The `p` quantile (0 to 1) of ascending `sorted` values by linear interpolation between closest ranks (the method
 * of PostgreSQL's `percentile_cont` and Excel's `PERCENTILE.INC`): rank `p × (n − 1)` counted from 0. Undefined for
 * no values.
 */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

const zeros = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** The summary of one period, from its facts. */
export function summarise(
  period: { from: Date; to: Date },
  provider: ReportSummary['provider'],
  facts: ReportFacts,
): ReportSummary {
  const alertsByKind = zeros(ALERT_KINDS);
  const outcomes = zeros(ACK_OUTCOMES);
  const ack = { alerts: 0, unacknowledged: 0, open: 0, withdrawn: 0 };
  for (const a of facts.alerts) {
    alertsByKind[a.kind] += a.count;
    if (!escalates(a.kind)) continue;
    ack.alerts += a.count;
    if (a.acknowledged) {
      if (a.outcome) outcomes[a.outcome] += a.count;
    } else if (a.status === 'unacknowledged' || a.status === 'open' || a.status === 'withdrawn')
      ack[a.status] += a.count;
  }
  const ms = facts.acknowledgements
    .filter((a) => escalates(a.kind))
    .map((a) => a.ms)
    .sort((x, y) => x - y);
  const seconds = (p: number) => {
    const v = percentile(ms, p);
    return v === undefined ? null : Math.round(v / 1000);
  };
  const deliveries = Object.fromEntries(
    CHANNELS.map((c) => [c, zeros(DELIVERY_STATUSES)]),
  ) as ReportSummary['deliveries'];
  for (const d of facts.deliveries) deliveries[d.channel][d.status] += d.count;
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    provider,
    admissionsMatched: facts.admissionsMatched,
    alertsByKind,
    acknowledgement: {
      alerts: ack.alerts,
      acknowledged: ms.length,
      within15Minutes: ms.filter((x) => x <= 15 * 60_000).length,
      within1Hour: ms.filter((x) => x <= 60 * 60_000).length,
      medianSeconds: seconds(0.5),
      p90Seconds: seconds(0.9),
      unacknowledged: ack.unacknowledged,
      open: ack.open,
      withdrawn: ack.withdrawn,
    },
    acknowledgementOutcomes: outcomes,
    deliveries,
  };
}

/**
 * The summary as CSV records: header `metric,dimension,value`, then one record per figure, in the JSON's order:
 * `metric` is the JSON's top-level field, `dimension` the path below it joined with `.` (empty for a plain figure),
 * `value` the figure (empty for null). `provider` is one record, `all`, when the figures are of every provider.
 */
export function summaryRecords(s: ReportSummary): CsvValue[][] {
  const records: CsvValue[][] = [['metric', 'dimension', 'value']];
  const walk = (metric: string, path: string[], value: unknown): void => {
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(metric, [...path, k], v);
    } else records.push([metric, path.join('.'), value as CsvValue]);
  };
  for (const [metric, value] of Object.entries(s)) {
    if (metric === 'provider' && value === null) records.push(['provider', '', 'all']);
    else walk(metric, [], value);
  }
  return records;
}
