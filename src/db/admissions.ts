/**
 * Hospital stays (`admissions`: one row per spell, MSH-4 + PV1-19, created by ingestion and kept current by the
 * workflow), the review queue of unmatched stays (with operators' matches, `review_matches`), and the messages sent
 * to the operator contacts about them (`operator_messages`).
 */
import { and, asc, desc, eq, gt, isNotNull, isNull, ne, notExists, notInArray, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Location } from '../domain/admission-event.js';
import * as audit from './audit.js';
import { transaction, type Db } from './client.js';
import {
  admissions,
  clients,
  hospitals,
  inboundMessages,
  operatorMessages,
  providers,
  reviewMatches,
} from './schema.js';

export type Admission = typeof admissions.$inferSelect;
export type AdmissionStatus = Admission['status'];
export type OperatorMessage = typeof operatorMessages.$inferSelect;

/** A stay with its hospital's name, as the API shows it. */
export async function get(db: Db, id: string) {
  const [row] = await db.orm
    .select({
      id: admissions.id,
      status: admissions.status,
      statusReason: admissions.statusReason,
      statusReasonCode: admissions.statusReasonCode,
      hospitalOds: admissions.hospitalOds,
      hospitalName: hospitals.name,
      visitNumber: admissions.visitNumber,
      admittedAt: admissions.admittedAt,
      dischargedAt: admissions.dischargedAt,
      location: admissions.location,
      expectedDischargeDate: admissions.expectedDischargeDate,
      onLeave: admissions.onLeave,
      workflowId: admissions.workflowId,
    })
    .from(admissions)
    .leftJoin(hospitals, eq(hospitals.odsCode, admissions.hospitalOds))
    .where(eq(admissions.id, id));
  return row;
}

/** Stays, most recently changed first, optionally of one status, hospital (ODS code) or visit number (PV1-19). */
export function list(
  db: Db,
  filter: { status?: string; hospitalOds?: string; visitNumber?: string; limit: number; offset?: number },
): Promise<
  Pick<
    Admission,
    | 'id'
    | 'status'
    | 'statusReason'
    | 'statusReasonCode'
    | 'hospitalOds'
    | 'visitNumber'
    | 'admittedAt'
    | 'dischargedAt'
    | 'workflowId'
    | 'updatedAt'
  >[]
> {
  return db.orm
    .select({
      id: admissions.id,
      status: admissions.status,
      statusReason: admissions.statusReason,
      statusReasonCode: admissions.statusReasonCode,
      hospitalOds: admissions.hospitalOds,
      visitNumber: admissions.visitNumber,
      admittedAt: admissions.admittedAt,
      dischargedAt: admissions.dischargedAt,
      workflowId: admissions.workflowId,
      updatedAt: admissions.updatedAt,
    })
    .from(admissions)
    .where(
      and(
        filter.status ? eq(admissions.status, filter.status as AdmissionStatus) : undefined,
        filter.hospitalOds ? eq(admissions.hospitalOds, filter.hospitalOds) : undefined,
        filter.visitNumber ? eq(admissions.visitNumber, filter.visitNumber) : undefined,
      ),
    )
    .orderBy(desc(admissions.updatedAt), desc(admissions.id))
    .limit(filter.limit)
    .offset(filter.offset ?? 0);
}

/** What starting or signalling the stay's workflow needs. */
export async function stayRef(
  db: Db,
  id: string,
): Promise<Pick<Admission, 'id' | 'hospitalOds' | 'visitNumber' | 'workflowId' | 'admittedAt'> | undefined> {
  const [row] = await db.orm
    .select({
      id: admissions.id,
      hospitalOds: admissions.hospitalOds,
      visitNumber: admissions.visitNumber,
      workflowId: admissions.workflowId,
      admittedAt: admissions.admittedAt,
    })
    .from(admissions)
    .where(eq(admissions.id, id));
  return row;
}

/** What the workflow keeps current on its stay's row (activities/types.ts `AdmissionRecord`). */
export async function record(
  db: Db,
  r: Pick<Admission, 'status' | 'statusReason' | 'statusReasonCode' | 'expectedDischargeDate' | 'onLeave'> & {
    admissionId: string;
    admittedAt: string | undefined;
    dischargedAt: string | undefined;
    location: Location | undefined;
  },
): Promise<void> {
  await db.orm
    .update(admissions)
    .set({
      status: r.status,
      statusReason: r.statusReason,
      statusReasonCode: r.statusReasonCode,
      unmatchedSince: r.status === 'unmatched' ? sql`coalesce(${admissions.unmatchedSince}, now())` : null,
      admittedAt: r.admittedAt != null ? new Date(r.admittedAt) : null,
      dischargedAt: r.dischargedAt != null ? new Date(r.dischargedAt) : null,
      location: r.location ?? null,
      expectedDischargeDate: r.expectedDischargeDate,
      onLeave: r.onLeave,
      updatedAt: sql`now()`,
    })
    .where(eq(admissions.id, r.admissionId));
}

/** The NHS number the stay is matched on now (null when none of its messages has a valid one). */
export async function setNhsNumber(db: Db, id: string, nhsNumber: string | null): Promise<void> {
  await db.orm.update(admissions).set({ nhsNumber }).where(eq(admissions.id, id));
}

/**
 * True when the stay's patient (the NHS number it is matched on) has a newer stay, at any hospital, that is open:
 * a live accepted admit for that NHS number, later than this stay's admission, of a stay that is neither discharged,
 * cancelled nor closed and that no later discharge or cancel-admit of its own ended (CONTRACT.md "Readmission").
 */
export async function hasNewerOpenStay(db: Db, id: string): Promise<boolean> {
  const me = alias(admissions, 'me');
  const other = alias(admissions, 'o');
  const m = inboundMessages;
  const ended = alias(inboundMessages, 'd');
  const [row] = await db.orm
    .select({ one: sql<number>`1` })
    .from(me)
    // inbound_messages_nhs_idx
    .innerJoin(m, sql`${m.parsed}->'patient'->>'nhsNumber' = ${me.nhsNumber}`)
    .innerJoin(other, eq(other.id, m.admissionId))
    .where(
      and(
        eq(me.id, id),
        isNotNull(me.nhsNumber),
        eq(m.status, 'accepted'),
        eq(m.isPrimary, true),
        eq(m.processingId, 'P'),
        sql`${m.parsed}->>'kind' = 'admit'`,
        ne(other.id, me.id),
        gt(m.eventAt, sql`coalesce(${me.admittedAt}, '-infinity'::timestamptz)`),
        isNull(other.dischargedAt),
        notInArray(other.status, ['cancelled', 'closed', 'discharged']),
        notExists(
          db.orm
            .select({ one: sql`1` })
            .from(ended)
            .where(
              and(
                eq(ended.admissionId, other.id),
                eq(ended.status, 'accepted'),
                eq(ended.isPrimary, true),
                sql`${ended.parsed}->>'kind' in ('discharge', 'cancel-admit')`,
                sql`${ended.eventAt} >= ${m.eventAt}`,
              ),
            ),
        ),
      ),
    )
    .limit(1);
  return row !== undefined;
}

// ---- the review queue ----

/**
 * Unmatched stays nobody has resolved yet, longest waiting first (at most 1000), each with the providers that have
 * a client of the stay's NHS number.
 */
export function reviewQueue(db: Db) {
  const since = sql<Date | null>`coalesce(${admissions.unmatchedSince}, ${admissions.updatedAt})`;
  return db.orm
    .select({
      id: admissions.id,
      hospitalOds: admissions.hospitalOds,
      hospitalName: hospitals.name,
      visitNumber: admissions.visitNumber,
      statusReasonCode: admissions.statusReasonCode,
      statusReason: admissions.statusReason,
      since,
      candidates: sql<{ providerId: string; providerOds: string }[] | null>`(
        select jsonb_agg(jsonb_build_object('providerId', ${providers.id}, 'providerOds', ${providers.odsCode})
                         order by ${providers.odsCode})
        from ${clients} join ${providers} on ${providers.id} = ${clients.providerId}
        where ${clients.nhsNumber} = ${admissions.nhsNumber})`,
    })
    .from(admissions)
    .leftJoin(hospitals, eq(hospitals.odsCode, admissions.hospitalOds))
    .where(and(eq(admissions.status, 'unmatched'), isNull(admissions.reviewResolvedAt)))
    .orderBy(since, asc(admissions.id))
    .limit(1000);
}

/** An operator dismissed the stay's review item, with a note; audited. Returns when. */
export function dismissReview(db: Db, id: string, note: string): Promise<Date> {
  return transaction(db, async (tx) => {
    const [row] = await tx.orm
      .update(admissions)
      .set({
        reviewResolution: 'dismissed',
        reviewResolvedAt: sql`now()`,
        reviewResolvedBy: 'operator',
        reviewNote: note,
      })
      .where(eq(admissions.id, id))
      .returning({ at: admissions.reviewResolvedAt });
    await audit.record(tx, {
      actor: 'operator',
      action: 'review.dismissed',
      entityType: 'admission',
      entityId: id,
      details: { note },
    });
    return row!.at!;
  });
}

/** An operator matched the stay to a provider's client (the stay is matched again); audited. Returns when. */
export function matchReview(
  db: Db,
  m: { admissionId: string; providerId: string; clientId: string; note: string | undefined },
): Promise<Date> {
  return transaction(db, async (tx) => {
    await tx.orm
      .insert(reviewMatches)
      .values({ admissionId: m.admissionId, providerId: m.providerId, clientId: m.clientId, by: 'operator' })
      .onConflictDoUpdate({
        target: [reviewMatches.admissionId, reviewMatches.providerId],
        set: { clientId: m.clientId },
      });
    const [row] = await tx.orm
      .update(admissions)
      .set({
        reviewResolution: 'matched',
        reviewResolvedAt: sql`now()`,
        reviewResolvedBy: 'operator',
        reviewNote: m.note ?? null,
      })
      .where(eq(admissions.id, m.admissionId))
      .returning({ at: admissions.reviewResolvedAt });
    await audit.record(tx, {
      actor: 'operator',
      action: 'review.matched',
      entityType: 'admission',
      entityId: m.admissionId,
      details: { providerId: m.providerId, clientId: m.clientId },
    });
    return row!.at!;
  });
}

/** The providers (and their clients) an operator matched the stay to, by provider ODS code. */
export function reviewMatchesOf(
  db: Db,
  admissionId: string,
): Promise<{ providerId: string; providerOds: string; clientId: string }[]> {
  return db.orm
    .select({ providerId: providers.id, providerOds: providers.odsCode, clientId: clients.id })
    .from(reviewMatches)
    .innerJoin(providers, eq(providers.id, reviewMatches.providerId))
    .innerJoin(clients, eq(clients.id, reviewMatches.clientId))
    .where(eq(reviewMatches.admissionId, admissionId))
    .orderBy(asc(providers.odsCode));
}

// ---- messages to the operator contacts ----

/** What the message that a stay waits in the review queue says (no patient data). */
export async function reviewNotice(db: Db, id: string) {
  const [row] = await db.orm
    .select({
      status: admissions.status,
      reviewResolvedAt: admissions.reviewResolvedAt,
      hospitalOds: admissions.hospitalOds,
      hospitalName: hospitals.name,
      visitNumber: admissions.visitNumber,
      statusReasonCode: admissions.statusReasonCode,
      statusReason: admissions.statusReason,
      unmatchedSince: admissions.unmatchedSince,
    })
    .from(admissions)
    .leftJoin(hospitals, eq(hospitals.odsCode, admissions.hospitalOds))
    .where(eq(admissions.id, id));
  return row;
}

/**
 * Starts (or starts again) the operator message with this id: created `pending` the first time, its attempts
 * counted. Returns its status.
 */
export async function startOperatorMessage(
  db: Db,
  m: Pick<OperatorMessage, 'id' | 'kind' | 'channel'> & Partial<Pick<OperatorMessage, 'admissionId' | 'hospitalId'>>,
): Promise<OperatorMessage['status'] | undefined> {
  await db.orm
    .insert(operatorMessages)
    .values({ ...m, status: 'pending' })
    .onConflictDoNothing({ target: operatorMessages.id });
  const [row] = await db.orm
    .update(operatorMessages)
    .set({ attempts: sql`${operatorMessages.attempts} + 1` })
    .where(eq(operatorMessages.id, m.id))
    .returning({ status: operatorMessages.status });
  return row?.status;
}

/** What became of an operator message; `sent_at` is set when it was sent. */
export async function finishOperatorMessage(
  db: Db,
  id: string,
  status: OperatorMessage['status'],
  detail: string | null,
): Promise<void> {
  await db.orm
    .update(operatorMessages)
    .set({ status, detail, sentAt: status === 'sent' ? sql`now()` : null })
    .where(eq(operatorMessages.id, id));
}
