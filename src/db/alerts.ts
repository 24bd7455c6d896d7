/** Alerts: the acknowledgement path shared by the workflow's activity and the API (when the workflow is closed). */
import type { AckOutcome, AlertKind, AlertStatus } from '../domain/admission-event.js';
import { defaultOutcome, meaningOfAlert } from '../domain/alert-text.js';
import type { CancelsCode, DestinationCategory } from '../domain/clinical.js';
import type { Sql } from './client.js';

export interface AlertAckView {
  id: string;
  status: AlertStatus;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  outcome: string | null;
}

interface AckRow {
  id: string;
  kind: AlertKind;
  alert_key: string;
  cancels: CancelsCode | null;
  destination_category: DestinationCategory | null;
  status: AlertStatus;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  outcome: string | null;
}

const view = (r: AckRow): AlertAckView => ({
  id: r.id,
  status: r.status,
  acknowledgedAt: r.acknowledged_at?.toISOString() ?? null,
  acknowledgedBy: r.acknowledged_by,
  outcome: r.outcome,
});

/**
 * Records an acknowledgement once: a second acknowledgement changes nothing and returns the first.
 * `not-our-client` is audited so the provider can clean its client list.
 */
export async function acknowledgeAlert(
  sql: Sql,
  input: { alertId: string; by: string; outcome?: AckOutcome; actor?: string },
): Promise<AlertAckView | undefined> {
  return sql.begin(async (tx) => {
    const [current] = await tx<AckRow[]>`
      select id, kind, alert_key, cancels, destination_category, status, acknowledged_at, acknowledged_by, outcome
      from alerts where id = ${input.alertId} for update`;
    if (!current) return undefined;
    if (current.status === 'acknowledged') return view(current);
    const outcome = input.outcome ?? defaultOutcome(current.kind, meaningOfAlert(current));
    const [row] = await tx<AckRow[]>`
      update alerts set status = 'acknowledged', acknowledged_at = now(), acknowledged_by = ${input.by},
        outcome = ${outcome}
      where id = ${input.alertId}
      returning id, kind, alert_key, cancels, destination_category, status, acknowledged_at, acknowledged_by, outcome`;
    await tx`insert into audit_events (actor, action, entity_type, entity_id, details)
      values (${input.actor ?? 'coordinator'}, 'alert.acknowledged', 'alert', ${input.alertId},
              ${tx.json({ by: input.by, outcome, notOurClient: outcome === 'not-our-client' })})`;
    if (outcome === 'not-our-client') {
      // shown in the provider's client list (GET /v1/providers/{id}/clients) so it can clean it; the first one stays
      await tx`update clients set not_our_client_at = now(), not_our_client_by = ${input.by}
        where id = (select client_id from alerts where id = ${input.alertId}) and not_our_client_at is null`;
    }
    return view(row!);
  });
}
