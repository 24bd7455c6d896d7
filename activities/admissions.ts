/** Activities that read and record a spell: prior events, provider matching, admission status. */
import type { AdmissionEvent, Channel } from '../src/domain/admission-event.js';
import { isValidNhsNumber } from '../src/domain/nhs-number.js';
import { toEventSummary } from '../src/domain/summary.js';
import type { Sql } from '../src/db/client.js';
import type { AdmissionActivities, ExistingAlert, MatchResult } from './types.js';

export function createAdmissionActivities(deps: { sql: Sql }): Pick<
  AdmissionActivities,
  'openAdmission' | 'matchProviders' | 'recordAdmission'
> {
  const { sql } = deps;
  return {
    /**
     * What a (re)started workflow carries on from: the spell's events already handed to a workflow (so an earlier
     * run saw them; the events on their way arrive as signals), and its alerts with whom they reached. A stay
     * reopened by a late event after its workflow completed starts from here.
     */
    async openAdmission({ admissionId }) {
      const rows = await sql<{ id: bigint; parsed: AdmissionEvent; received_at: Date }[]>`
        select id, parsed, received_at from inbound_messages
        where admission_id = ${admissionId} and status = 'accepted' and is_primary and dispatched_at is not null
        order by id`;
      const alerts = await sql<(Omit<ExistingAlert, 'reached' | 'withdrawnReason'> & { withdrawnReason: string | null })[]>`
        select id as "alertId", provider_id as "providerId", alert_key as "alertKey", kind, status,
          withdrawn_reason as "withdrawnReason", escalation_step as "escalationStep"
        from alerts where admission_id = ${admissionId} order by created_at, id`;
      const reached = await sql<{ alertId: string; contactId: string; channel: Channel }[]>`
        select d.alert_id as "alertId", d.contact_id as "contactId", d.channel
        from deliveries d join alerts a on a.id = d.alert_id
        where a.admission_id = ${admissionId} and d.status = 'sent' and d.contact_id is not null
        order by d.step, d.created_at`;
      return {
        priorEvents: rows.map((r) => toEventSummary(String(r.id), r.parsed, r.received_at)),
        alerts: alerts.map(({ withdrawnReason, ...a }) => ({
          ...a,
          ...(withdrawnReason ? { withdrawnReason } : {}),
          reached: reached.filter((r) => r.alertId === a.alertId).map((r) => ({ contactId: r.contactId, channel: r.channel })),
        })),
      };
    },

    /**
     * Finds the providers whose client has this spell's NHS number and date of birth (both must agree).
     * Takes the identity from the spell's most recent message that carries a valid NHS number.
     */
    async matchProviders({ admissionId }): Promise<MatchResult> {
      const msgs = await sql<{ parsed: AdmissionEvent }[]>`
        select parsed from inbound_messages
        where admission_id = ${admissionId} and status = 'accepted' and is_primary
        order by id desc`;
      const withNhs = msgs.map((m) => m.parsed.patient).find((p) => p.nhsNumber && isValidNhsNumber(p.nhsNumber));
      if (!withNhs) {
        const first = msgs[0]?.parsed.patient;
        const reason = first?.nhsNumberProblem ?? 'no valid NHS number in any message of this spell';
        return { status: 'unmatched', reason };
      }
      if (!withNhs.dateOfBirth) return { status: 'unmatched', reason: 'no date of birth (PID-7) to confirm the match' };
      const providers = await sql<{ providerId: string; providerOds: string; clientId: string }[]>`
        select p.id as "providerId", p.ods_code as "providerOds", c.id as "clientId"
        from clients c join providers p on p.id = c.provider_id
        where c.nhs_number = ${withNhs.nhsNumber!} and c.date_of_birth = ${withNhs.dateOfBirth}
        order by p.ods_code`;
      if (providers.length === 0) return { status: 'no-care-package' };
      return { status: 'matched', providers: [...providers] };
    },

    async recordAdmission(r) {
      await sql`
        update admissions set status = ${r.status}, status_reason = ${r.statusReason ?? null},
          admitted_at = ${r.admittedAt ?? null}, discharged_at = ${r.dischargedAt ?? null},
          location = ${r.location ? sql.json(r.location as never) : null},
          expected_discharge_date = ${r.expectedDischargeDate ?? null}, on_leave = ${r.onLeave},
          updated_at = now()
        where id = ${r.admissionId}`;
    },
  };
}
