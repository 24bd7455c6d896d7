/** Activities that read and record a spell: prior events, provider matching, admission status. */
import * as admissions from '../src/db/admissions.js';
import * as alerts from '../src/db/alerts.js';
import type { Db } from '../src/db/client.js';
import * as messages from '../src/db/messages.js';
import * as providers from '../src/db/providers.js';
import { statusReasonText, type StatusReasonCode } from '../src/domain/clinical.js';
import { isValidNhsNumber } from '../src/domain/nhs-number.js';
import { toEventSummary } from '../src/domain/summary.js';
import type { AdmissionActivities, MatchResult } from './types.js';

export function createAdmissionActivities(deps: {
  db: Db;
}): Pick<AdmissionActivities, 'openAdmission' | 'matchProviders' | 'recordAdmission' | 'findNewerStay'> {
  const { db } = deps;

  /** See {@link AdmissionActivities.matchProviders}. */
  async function matchProviders(admissionId: string): Promise<MatchResult> {
    const events = await messages.liveEventsOfStayLatestFirst(db, admissionId);
    const manual = await admissions.reviewMatchesOf(db, admissionId);
    const withNhs = events.map((e) => e.patient).find((p) => p.nhsNumber && isValidNhsNumber(p.nhsNumber));
    await admissions.setNhsNumber(db, admissionId, withNhs?.nhsNumber ?? null);
    const unmatched = (reasonCode: StatusReasonCode, detail?: string): MatchResult =>
      manual.length > 0
        ? { status: 'matched', providers: [...manual] }
        : { status: 'unmatched', reasonCode, reason: statusReasonText(reasonCode, detail) };
    if (!withNhs) {
      const problem = events.map((e) => e.patient).find((p) => p.nhsNumber)?.nhsNumberProblem;
      return problem ? unmatched('invalid-nhs-number', problem) : unmatched('no-nhs-number');
    }
    if (!withNhs.dateOfBirth) return unmatched('no-date-of-birth');
    const clients = await providers.clientsWithNhsNumber(db, withNhs.nhsNumber!);
    const matched = clients
      .filter((c) => c.dateOfBirth === withNhs.dateOfBirth)
      .map(({ providerId, providerOds, clientId }) => ({ providerId, providerOds, clientId }));
    const all = [...matched, ...manual.filter((m) => !matched.some((x) => x.providerId === m.providerId))];
    if (all.length > 0)
      return { status: 'matched', providers: all.sort((a, b) => a.providerOds.localeCompare(b.providerOds)) };
    // the NHS number is a client's but the date of birth is not: a person must look, never silence
    if (clients.length > 0) return unmatched('date-of-birth-mismatch');
    return { status: 'no-care-package' };
  }

  return {
    /**
     * What a (re)started workflow carries on from: the spell's events already handed to a workflow (so an earlier
     * run saw them; the events on their way arrive as signals), and its alerts with whom they reached. A stay
     * reopened by a late event after its workflow completed starts from here.
     */
    async openAdmission({ admissionId, match }) {
      // its own messages, and those linked to it (person-level identity corrections and merges, src/ingest/relay.ts)
      const rows = await messages.relayedEventsOfStay(db, admissionId);
      const existing = await alerts.ofStay(db, admissionId);
      return {
        ...(match ? { match: await matchProviders(admissionId) } : {}),
        priorEvents: rows.map((r) => toEventSummary(String(r.id), r.parsed!, r.receivedAt)),
        alerts: existing.map(({ withdrawnReason, reached, ...a }) => ({
          ...a,
          ...(withdrawnReason ? { withdrawnReason } : {}),
          reached,
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
      return matchProviders(admissionId);
    },

    async findNewerStay({ admissionId }) {
      return admissions.hasNewerOpenStay(db, admissionId);
    },

    async recordAdmission(r) {
      await admissions.record(db, {
        admissionId: r.admissionId,
        status: r.status,
        statusReason: r.statusReason ?? (r.statusReasonCode ? statusReasonText(r.statusReasonCode) : null),
        statusReasonCode: r.statusReasonCode ?? null,
        admittedAt: r.admittedAt,
        dischargedAt: r.dischargedAt,
        location: r.location,
        expectedDischargeDate: r.expectedDischargeDate ?? null,
        onLeave: r.onLeave,
      });
    },
  };
}
