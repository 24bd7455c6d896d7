/**
 * What the summary report counts (CONTRACT.md `GET /v1/reports/summary`): the alerts raised in `[from, to)`, of one
 * provider or of all, with their stays, acknowledgements and deliveries. Shaped by src/domain/report.ts.
 */
import type { AckOutcome, AlertKind, AlertStatus, Channel } from '../domain/admission-event.js';
import type { DeliveryStatus, ReportFacts } from '../domain/report.js';
import type { Db } from './client.js';

/** The facts of one period; `providerId` limits them to that provider's alerts. */
export async function reportFacts(db: Db, period: { from: Date; to: Date; providerId?: string }): Promise<ReportFacts> {
  const { sql } = db;
  const scope = sql`a.created_at >= ${period.from} and a.created_at < ${period.to} ${
    period.providerId === undefined ? sql`` : sql`and a.provider_id = ${period.providerId}`
  }`;
  const [[admitted], alerts, acks, deliveries] = await Promise.all([
    sql<{ n: number }[]>`select count(distinct a.admission_id)::int as n from alerts a where ${scope}`,
    sql<{ kind: AlertKind; status: AlertStatus; outcome: AckOutcome | null; acknowledged: boolean; count: number }[]>`
      select a.kind, a.status, a.outcome, a.acknowledged_at is not null as acknowledged, count(*)::int as count
      from alerts a where ${scope} group by 1, 2, 3, 4`,
    sql<{ kind: AlertKind; ms: number }[]>`
      select a.kind, (extract(epoch from a.acknowledged_at - a.created_at) * 1000)::float8 as ms
      from alerts a where ${scope} and a.acknowledged_at is not null`,
    sql<{ channel: Channel; status: DeliveryStatus; count: number }[]>`
      select d.channel, d.status, count(*)::int as count
      from deliveries d join alerts a on a.id = d.alert_id
      where ${scope} group by 1, 2`,
  ]);
  return {
    admissionsMatched: admitted?.n ?? 0,
    alerts: alerts.map((r) => ({ ...r })),
    acknowledgements: acks.map((r) => ({ ...r })),
    deliveries: deliveries.map((r) => ({ ...r })),
  };
}
