/** Activities that read and record a spell: prior events, provider matching, admission status. */
import type { AdmissionEvent, Channel } from '../src/domain/admission-event.js';
import { isValidNhsNumber } from '../src/domain/nhs-number.js';
import { toEventSummary } from '../src/domain/summary.js';
import type { Sql } from '../src/db/client.js';
import { statusReasonText, type StatusReasonCode } from '../src/domain/clinical.js';
import type { AdmissionActivities, ExistingAlert, MatchResult, ProviderMatch } from './types.js';

export function createAdmissionActivities(deps: { sql: Sql }): Pick<
  AdmissionActivities,
  'openAdmission' | 'matchProviders' | 'recordAdmission' | 'findNewerStay'
> {
  const { sql } = deps;
  return {
    /**
     * What a (re)started workflow carries on from: the spell's events already handed to a workflow (so an earlier
     * run saw them; the events on their way arrive as signals), and its alerts with whom they reached. A stay
     * reopened by a late event after its workflow completed starts from here.
     */
    async openAdmission({ admissionId }) {
      // its own messages, and those linked to it (person-level identity corrections and merges, src/ingest/relay.ts)
      const rows = await sql<{ id: bigint; parsed: AdmissionEvent; received_at: Date }[]>`
        select m.id, m.parsed, m.received_at from inbound_messages m
        where m.status = 'accepted' and m.is_primary and m.dispatched_at is not null and m.processing_id = 'P'
          and (m.admission_id = ${admissionId}
               or m.id in (select message_id from stay_links where admission_id = ${admissionId}))
        order by m.id`;
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
     * Finds the providers whose client has this stay's NHS number and date of birth (both must agree), plus any
     * provider an operator matched it to (review queue). The identity is that of the stay's latest message (in event
     * order: EVN-2, MSH-7, arrival) that carries a valid NHS number, among its own messages and the identity
     * corrections and merges linked to it, so a correction (A08, A31, A34, A40, A47) takes effect. Records the NHS
     * number the stay is matched on (readmission, review candidates).
     */
    async matchProviders({ admissionId }): Promise<MatchResult> {
      const msgs = await sql<{ parsed: AdmissionEvent }[]>`
        select m.parsed from inbound_messages m
        where m.status = 'accepted' and m.is_primary and m.processing_id = 'P'
          and (m.admission_id = ${admissionId}
               or m.id in (select message_id from stay_links where admission_id = ${admissionId}))
        order by m.event_at desc nulls last, m.parsed->>'messageAt' desc, m.received_at desc, m.id desc`;
      const manual = await sql<ProviderMatch[]>`
        select p.id as "providerId", p.ods_code as "providerOds", c.id as "clientId"
        from review_matches r join providers p on p.id = r.provider_id join clients c on c.id = r.client_id
        where r.admission_id = ${admissionId} order by p.ods_code`;
      const withNhs = msgs.map((m) => m.parsed.patient).find((p) => p.nhsNumber && isValidNhsNumber(p.nhsNumber));
      await sql`update admissions set nhs_number = ${withNhs?.nhsNumber ?? null} where id = ${admissionId}`;
      const unmatched = (reasonCode: StatusReasonCode, detail?: string): MatchResult =>
        manual.length > 0
          ? { status: 'matched', providers: [...manual] }
          : { status: 'unmatched', reasonCode, reason: statusReasonText(reasonCode, detail) };
      if (!withNhs) {
        const problem = msgs.map((m) => m.parsed.patient).find((p) => p.nhsNumber)?.nhsNumberProblem;
        return problem ? unmatched('invalid-nhs-number', problem) : unmatched('no-nhs-number');
      }
      if (!withNhs.dateOfBirth) return unmatched('no-date-of-birth');
      const clients = await sql<(ProviderMatch & { dateOfBirth: string })[]>`
        select p.id as "providerId", p.ods_code as "providerOds", c.id as "clientId",
          c.date_of_birth::text as "dateOfBirth"
        from clients c join providers p on p.id = c.provider_id
        where c.nhs_number = ${withNhs.nhsNumber!}
        order by p.ods_code`;
      const matched = clients
        .filter((c) => c.dateOfBirth === withNhs.dateOfBirth)
        .map(({ providerId, providerOds, clientId }) => ({ providerId, providerOds, clientId }));
      const all = [...matched, ...manual.filter((m) => !matched.some((x) => x.providerId === m.providerId))];
      if (all.length > 0) return { status: 'matched', providers: all.sort((a, b) => a.providerOds.localeCompare(b.providerOds)) };
      // the NHS number is a client's but the date of birth is not: a person must look, never silence
      if (clients.length > 0) return unmatched('date-of-birth-mismatch');
      return { status: 'no-care-package' };
    },

    async findNewerStay({ admissionId }) {
      const [row] = await sql<{ newer: boolean }[]>`
        with me as (select id, nhs_number, admitted_at from admissions where id = ${admissionId})
        select exists (
          select 1 from me, inbound_messages m join admissions o on o.id = m.admission_id
          where me.nhs_number is not null
            and m.parsed->'patient'->>'nhsNumber' = me.nhs_number
            and m.status = 'accepted' and m.is_primary and m.processing_id = 'P' and m.parsed->>'kind' = 'admit'
            and o.id <> me.id
            and m.event_at > coalesce(me.admitted_at, '-infinity'::timestamptz)
            and o.discharged_at is null and o.status not in ('cancelled', 'closed', 'discharged')
            and not exists (
              select 1 from inbound_messages d
              where d.admission_id = o.id and d.status = 'accepted' and d.is_primary
                and d.parsed->>'kind' in ('discharge', 'cancel-admit') and d.event_at >= m.event_at)
        ) as newer`;
      return row?.newer === true;
    },

    async recordAdmission(r) {
      await sql`
        update admissions set status = ${r.status}, status_reason = ${r.statusReason ?? (r.statusReasonCode ? statusReasonText(r.statusReasonCode) : null)},
          status_reason_code = ${r.statusReasonCode ?? null},
          unmatched_since = case when ${r.status} = 'unmatched' then coalesce(unmatched_since, now()) else null end,
          admitted_at = ${r.admittedAt ?? null}, discharged_at = ${r.dischargedAt ?? null},
          location = ${r.location ? sql.json(r.location as never) : null},
          expected_discharge_date = ${r.expectedDischargeDate ?? null}, on_leave = ${r.onLeave},
          updated_at = now()
        where id = ${r.admissionId}`;
    },
  };
}
