/**
 * Alerts and what hangs off each: its deliveries (one per step, contact and channel; the id is the idempotency
 * key) and its one-time acknowledgement links (`ack_tokens`).
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { AckOutcome, Channel } from '../domain/admission-event.js';
import { defaultOutcome, meaningOfAlert } from '../domain/alert-text.js';
import * as audit from './audit.js';
import { transaction, type Db } from './client.js';
import * as providers from './providers.js';
import {
  ackTokens,
  admissions,
  alerts,
  clients,
  contacts,
  deliveries,
  hospitals,
  inboundMessages,
  providers as providersTable,
} from './schema.js';

export type Alert = typeof alerts.$inferSelect;
export type AlertStatus = Alert['status'];
export type Delivery = typeof deliveries.$inferSelect;
export type DeliveryStatus = Delivery['status'];
export type AckToken = typeof ackTokens.$inferSelect;

// ---- raising and changing alerts (the workflow's activities) ----

/**
 * Raises the alert with this key for this provider and stay once: a second call changes nothing. Returns the
 * alert as it is now.
 */
export async function raise(
  db: Db,
  input: Pick<
    Alert,
    'admissionId' | 'providerId' | 'clientId' | 'alertKey' | 'kind' | 'messageId' | 'cancels' | 'destinationCategory'
  > & { occurredAt: string },
): Promise<{ id: string; status: AlertStatus }> {
  await db.orm
    .insert(alerts)
    .values({ ...input, occurredAt: new Date(input.occurredAt), status: 'open' })
    .onConflictDoNothing({ target: [alerts.admissionId, alerts.providerId, alerts.alertKey] });
  const [alert] = await db.orm
    .select({ id: alerts.id, status: alerts.status })
    .from(alerts)
    .where(
      and(
        eq(alerts.admissionId, input.admissionId),
        eq(alerts.providerId, input.providerId),
        eq(alerts.alertKey, input.alertKey),
      ),
    );
  return alert!;
}

/** Withdraws an alert that is not withdrawn already (an acknowledged one too: its acknowledgement is kept). */
export async function withdraw(db: Db, alertId: string, reason: string): Promise<void> {
  await db.orm
    .update(alerts)
    .set({ status: 'withdrawn', withdrawnReason: reason })
    .where(and(eq(alerts.id, alertId), ne(alerts.status, 'withdrawn')));
}

/** A withdrawn alert is open again; returns the alert as it is now (undefined when there is none). */
export async function reopen(db: Db, alertId: string): Promise<{ id: string; status: AlertStatus } | undefined> {
  await db.orm
    .update(alerts)
    .set({ status: 'open', withdrawnReason: null })
    .where(and(eq(alerts.id, alertId), eq(alerts.status, 'withdrawn')));
  const [alert] = await db.orm
    .select({ id: alerts.id, status: alerts.status })
    .from(alerts)
    .where(eq(alerts.id, alertId));
  return alert;
}

/**
 * `POST /v1/alerts/{id}/resend`: counts a resend of an alert still awaiting an acknowledgement (open or
 * unacknowledged) and returns its number (1 for the first) and time; undefined when it is acknowledged or withdrawn.
 */
export async function countResend(
  db: Db,
  alertId: string,
): Promise<{ resendCount: number; lastResentAt: Date } | undefined> {
  const [row] = await db.orm
    .update(alerts)
    .set({ resendCount: sql`${alerts.resendCount} + 1`, lastResentAt: sql`now()` })
    .where(and(eq(alerts.id, alertId), inArray(alerts.status, ['open', 'unacknowledged'])))
    .returning({ resendCount: alerts.resendCount, lastResentAt: alerts.lastResentAt });
  return row ? { resendCount: row.resendCount, lastResentAt: row.lastResentAt! } : undefined;
}

/**
 * A resent alert's ladder starts again: an open or unacknowledged alert is open at step 0. Returns its status now
 * (an alert acknowledged or withdrawn meanwhile is left as it is).
 */
export async function restartLadder(db: Db, alertId: string): Promise<{ id: string; status: AlertStatus } | undefined> {
  await db.orm
    .update(alerts)
    .set({ status: 'open', escalationStep: 0 })
    .where(and(eq(alerts.id, alertId), inArray(alerts.status, ['open', 'unacknowledged'])));
  const [alert] = await db.orm
    .select({ id: alerts.id, status: alerts.status })
    .from(alerts)
    .where(eq(alerts.id, alertId));
  return alert;
}

/** An open alert that nobody acknowledged by the end of the escalation policy. */
export async function markUnacknowledged(db: Db, alertId: string): Promise<void> {
  await db.orm
    .update(alerts)
    .set({ status: 'unacknowledged' })
    .where(and(eq(alerts.id, alertId), eq(alerts.status, 'open')));
}

/** An alert's acknowledgement as the API answers it. */
export interface AlertAckView {
  id: string;
  status: AlertStatus;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  outcome: string | null;
}

const ackColumns = {
  id: alerts.id,
  kind: alerts.kind,
  alertKey: alerts.alertKey,
  cancels: alerts.cancels,
  destinationCategory: alerts.destinationCategory,
  clientId: alerts.clientId,
  status: alerts.status,
  acknowledgedAt: alerts.acknowledgedAt,
  acknowledgedBy: alerts.acknowledgedBy,
  outcome: alerts.outcome,
};

const ackView = (r: Pick<Alert, 'id' | 'status' | 'acknowledgedAt' | 'acknowledgedBy' | 'outcome'>): AlertAckView => ({
  id: r.id,
  status: r.status,
  acknowledgedAt: r.acknowledgedAt?.toISOString() ?? null,
  acknowledgedBy: r.acknowledgedBy,
  outcome: r.outcome,
});

/**
 * Records an acknowledgement once, audited, in one transaction: a second acknowledgement changes nothing and
 * returns the first. Without an outcome, the kind's default (never "visits resumed" on doubt). `not-our-client` is
 * also recorded on the client, so the provider can clean its client list. Undefined when there is no such alert.
 */
export function acknowledge(
  db: Db,
  input: { alertId: string; by: string; outcome?: AckOutcome; actor?: string; userId?: string },
): Promise<AlertAckView | undefined> {
  return transaction(db, async (tx) => {
    const [current] = await tx.orm.select(ackColumns).from(alerts).where(eq(alerts.id, input.alertId)).for('update');
    if (!current) return undefined;
    if (current.status === 'acknowledged') return ackView(current);
    const outcome = input.outcome ?? defaultOutcome(current.kind, meaningOfAlert(current));
    const [row] = await tx.orm
      .update(alerts)
      .set({
        status: 'acknowledged',
        acknowledgedAt: sql`now()`,
        acknowledgedBy: input.by,
        acknowledgedByUserId: input.userId ?? null,
        outcome,
      })
      .where(eq(alerts.id, input.alertId))
      .returning(ackColumns);
    await audit.record(tx, {
      actor: input.actor ?? (input.userId ? `user:${input.userId}` : 'coordinator'),
      action: 'alert.acknowledged',
      entityType: 'alert',
      entityId: input.alertId,
      details: { by: input.by, outcome, notOurClient: outcome === 'not-our-client' },
    });
    // shown in the provider's client list (GET /v1/providers/{id}/clients) so it can clean it; the first one stays
    if (outcome === 'not-our-client' && current.clientId) {
      await providers.markNotOurClient(tx, current.clientId, input.by);
    }
    return ackView(row!);
  });
}

/** The workflow of the alert's stay and the alert's status (acknowledging through the workflow). */
export async function workflowOf(
  db: Db,
  alertId: string,
): Promise<{ workflowId: string; status: AlertStatus } | undefined> {
  const [row] = await db.orm
    .select({ workflowId: admissions.workflowId, status: alerts.status })
    .from(alerts)
    .innerJoin(admissions, eq(admissions.id, alerts.admissionId))
    .where(eq(alerts.id, alertId));
  return row;
}

/** A stay's alerts in the order they were raised, each with the contact and channel pairs a delivery reached. */
export async function ofStay(
  db: Db,
  admissionId: string,
): Promise<
  (Pick<Alert, 'providerId' | 'alertKey' | 'kind' | 'status' | 'withdrawnReason' | 'escalationStep'> & {
    alertId: string;
    reached: { contactId: string; channel: Channel }[];
  })[]
> {
  const rows = await db.orm
    .select({
      alertId: alerts.id,
      providerId: alerts.providerId,
      alertKey: alerts.alertKey,
      kind: alerts.kind,
      status: alerts.status,
      withdrawnReason: alerts.withdrawnReason,
      escalationStep: alerts.escalationStep,
    })
    .from(alerts)
    .where(eq(alerts.admissionId, admissionId))
    .orderBy(asc(alerts.createdAt), asc(alerts.id));
  const reached = await db.orm
    .select({ alertId: deliveries.alertId, contactId: deliveries.contactId, channel: deliveries.channel })
    .from(deliveries)
    .innerJoin(alerts, eq(alerts.id, deliveries.alertId))
    .where(and(eq(alerts.admissionId, admissionId), eq(deliveries.status, 'sent'), isNotNull(deliveries.contactId)))
    .orderBy(asc(deliveries.step), asc(deliveries.createdAt));
  return rows.map((a) => ({
    ...a,
    reached: reached
      .filter((r) => r.alertId === a.alertId)
      .map((r) => ({ contactId: r.contactId!, channel: r.channel })),
  }));
}

/**
 * Joins an alert to the message that raised it (`alerts.message_id` holds the message's id as text) on the message's
 * primary key: comparing `id::text` instead would read every stored message for each alert.
 */
const raisedBy = sql`${inboundMessages.id} = (case when ${alerts.messageId} ~ '^[0-9]{1,18}$' then ${alerts.messageId}::bigint end)`;

// ---- alerts as providers and operators read them ----

/** Whose alerts a reader may see: every provider's (the operator), or one provider's. */
export type AlertScope = { providerId?: string };

const details = {
  id: alerts.id,
  kind: alerts.kind,
  status: alerts.status,
  admissionId: alerts.admissionId,
  providerId: alerts.providerId,
  providerOds: providersTable.odsCode,
  providerName: providersTable.name,
  hospitalOds: admissions.hospitalOds,
  hospitalName: hospitals.name,
  escalationStep: alerts.escalationStep,
  occurredAt: alerts.occurredAt,
  createdAt: alerts.createdAt,
  acknowledgedAt: alerts.acknowledgedAt,
  acknowledgedBy: alerts.acknowledgedBy,
  outcome: alerts.outcome,
  withdrawnReason: alerts.withdrawnReason,
  alertKey: alerts.alertKey,
  cancels: alerts.cancels,
  destinationCategory: alerts.destinationCategory,
  /** discharge and death alerts: when, how and where to, as the message that raised it said */
  discharge: sql<{ at?: string | null; method?: string | null; destination?: string | null } | null>`
    case when ${alerts.kind} in ('discharge', 'death') then jsonb_build_object(
      'at', coalesce(${inboundMessages.parsed}->>'dischargedAt',
                     to_char(${admissions.dischargedAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
      'method', ${inboundMessages.parsed}->'discharge'->>'method',
      'destination', ${inboundMessages.parsed}->'discharge'->>'destination') end`,
  clientId: alerts.clientId,
  nhsNumber: clients.nhsNumber,
  reference: clients.reference,
  /** the client as the provider registered them: shown only to the provider's signed-in users (the portal) */
  givenName: clients.givenName,
  familyName: clients.familyName,
  dateOfBirth: clients.dateOfBirth,
  location: admissions.location,
};

/** An alert with its provider, hospital, client and stay, as the API shows it. */
export type AlertDetails = Awaited<ReturnType<typeof selectDetails>>[number];

function selectDetails(db: Db, where: SQL | undefined) {
  return db.orm
    .select(details)
    .from(alerts)
    .leftJoin(inboundMessages, raisedBy)
    .innerJoin(admissions, eq(admissions.id, alerts.admissionId))
    .innerJoin(providersTable, eq(providersTable.id, alerts.providerId))
    .leftJoin(hospitals, eq(hospitals.odsCode, admissions.hospitalOds))
    .leftJoin(clients, eq(clients.id, alerts.clientId))
    .where(where)
    .$dynamic();
}

const inScope = (scope: AlertScope) =>
  scope.providerId === undefined ? undefined : eq(alerts.providerId, scope.providerId);

/** One alert, if the reader may see it. */
export async function find(db: Db, alertId: string, scope: AlertScope): Promise<AlertDetails | undefined> {
  const [row] = await selectDetails(db, and(eq(alerts.id, alertId), inScope(scope)));
  return row;
}

/** The alerts the reader may see, newest first; `status` all or one. */
export function list(
  db: Db,
  scope: AlertScope,
  page: { status: AlertStatus | 'all'; limit: number; offset: number },
): Promise<AlertDetails[]> {
  return selectDetails(db, and(inScope(scope), page.status === 'all' ? undefined : eq(alerts.status, page.status)))
    .orderBy(desc(alerts.createdAt), asc(alerts.id))
    .limit(page.limit)
    .offset(page.offset);
}

/** A stay's alerts the reader may see, oldest first. */
export function listOfStay(db: Db, admissionId: string, scope: AlertScope): Promise<AlertDetails[]> {
  return selectDetails(db, and(eq(alerts.admissionId, admissionId), inScope(scope))).orderBy(
    asc(alerts.createdAt),
    asc(alerts.id),
  );
}

// ---- alerts as the portal shows them (CONTRACT.md "Web portal", coordinator) ----

/**
 * A provider's alerts that still need someone (open, or unacknowledged after the last step), newest first. (One
 * alert with its client's names: {@link find} with the provider's scope.)
 */
export function needingAction(db: Db, providerId: string): Promise<AlertDetails[]> {
  return selectDetails(
    db,
    and(eq(alerts.providerId, providerId), inArray(alerts.status, ['open', 'unacknowledged'])),
  ).orderBy(desc(alerts.createdAt), asc(alerts.id));
}

/** An alert's deliveries with the contact each went to, oldest first (the portal's timeline). */
export function deliveriesWithContacts(db: Db, alertId: string) {
  return db.orm
    .select({
      step: deliveries.step,
      channel: deliveries.channel,
      status: deliveries.status,
      detail: deliveries.detail,
      createdAt: deliveries.createdAt,
      sentAt: deliveries.sentAt,
      contactName: contacts.name,
      contactRole: contacts.role,
    })
    .from(deliveries)
    .leftJoin(contacts, eq(contacts.id, deliveries.contactId))
    .where(eq(deliveries.alertId, alertId))
    .orderBy(asc(deliveries.createdAt), asc(deliveries.step));
}

// ---- deliveries ----

/** An alert's deliveries as the API shows them, by step. */
export function deliveriesOf(
  db: Db,
  alertId: string,
): Promise<
  Pick<Delivery, 'id' | 'step' | 'contactId' | 'channel' | 'status' | 'attempts' | 'detail' | 'createdAt' | 'sentAt'>[]
> {
  return db.orm
    .select({
      id: deliveries.id,
      step: deliveries.step,
      contactId: deliveries.contactId,
      channel: deliveries.channel,
      status: deliveries.status,
      attempts: deliveries.attempts,
      detail: deliveries.detail,
      createdAt: deliveries.createdAt,
      sentAt: deliveries.sentAt,
    })
    .from(deliveries)
    .where(eq(deliveries.alertId, alertId))
    .orderBy(asc(deliveries.step), asc(deliveries.createdAt));
}

/**
 * Starts (or starts again) the delivery with this id: created `pending` the first time, its attempts counted.
 * Returns its status and how many attempts there have been, this one included.
 */
export async function startDelivery(
  db: Db,
  d: Pick<Delivery, 'id' | 'alertId' | 'step' | 'contactId' | 'channel'>,
): Promise<{ status: DeliveryStatus; attempts: number }> {
  await db.orm
    .insert(deliveries)
    .values({ ...d, status: 'pending' })
    .onConflictDoNothing({ target: deliveries.id });
  const [row] = await db.orm
    .update(deliveries)
    .set({ attempts: sql`${deliveries.attempts} + 1` })
    .where(eq(deliveries.id, d.id))
    .returning({ status: deliveries.status, attempts: deliveries.attempts });
  return row!;
}

/** What became of a delivery; `sent_at` is set when it was sent. */
export async function finishDelivery(
  db: Db,
  id: string,
  status: DeliveryStatus,
  detail: string | null,
  providerRef?: string,
): Promise<void> {
  await db.orm
    .update(deliveries)
    .set({ status, detail, providerRef: providerRef ?? null, sentAt: status === 'sent' ? sql`now()` : null })
    .where(eq(deliveries.id, id));
}

/** Why the last attempt failed (the delivery stays pending and is retried). */
export async function noteDeliveryError(db: Db, id: string, detail: string): Promise<void> {
  await db.orm.update(deliveries).set({ detail }).where(eq(deliveries.id, id));
}

/** A pending delivery that was given up (its retries ran out). */
export async function failPendingDelivery(db: Db, id: string, reason: string): Promise<void> {
  await db.orm
    .update(deliveries)
    .set({ status: 'failed', detail: reason })
    .where(and(eq(deliveries.id, id), eq(deliveries.status, 'pending')));
}

/** The escalation step an alert has reached (never goes back). */
export async function reachStep(db: Db, alertId: string, step: number): Promise<void> {
  await db.orm
    .update(alerts)
    .set({ escalationStep: sql`greatest(${alerts.escalationStep}, ${step})` })
    .where(eq(alerts.id, alertId));
}

/** What a delivery says about its alert: the stay, the hospital, the provider's client and the raising event. */
export async function deliveryContext(db: Db, alertId: string) {
  const [row] = await db.orm
    .select({
      id: alerts.id,
      kind: alerts.kind,
      alertKey: alerts.alertKey,
      status: alerts.status,
      cancels: alerts.cancels,
      destinationCategory: alerts.destinationCategory,
      admissionId: alerts.admissionId,
      occurredAt: alerts.occurredAt,
      hospitalOds: admissions.hospitalOds,
      hospitalName: hospitals.name,
      location: admissions.location,
      dischargedAt: admissions.dischargedAt,
      nhsNumber: clients.nhsNumber,
      dateOfBirth: clients.dateOfBirth,
      familyName: clients.familyName,
      givenName: clients.givenName,
      reference: clients.reference,
      parsed: inboundMessages.parsed,
    })
    .from(alerts)
    .innerJoin(admissions, eq(admissions.id, alerts.admissionId))
    .leftJoin(hospitals, eq(hospitals.odsCode, admissions.hospitalOds))
    .leftJoin(clients, eq(clients.id, alerts.clientId))
    .leftJoin(inboundMessages, raisedBy)
    .where(eq(alerts.id, alertId));
  return row;
}

export type DeliveryContext = NonNullable<Awaited<ReturnType<typeof deliveryContext>>>;

// ---- one-time acknowledgement links ----

/** Stores a new link token (hashed) for an alert, valid `ttlSeconds` from now. */
export async function addLinkToken(
  db: Db,
  t: { tokenHash: string; alertId: string; deliveryId: string; ttlSeconds: number },
): Promise<void> {
  await db.orm.insert(ackTokens).values({
    tokenHash: t.tokenHash,
    alertId: t.alertId,
    deliveryId: t.deliveryId,
    expiresAt: sql`now() + make_interval(secs => ${t.ttlSeconds})`,
  });
}

/** A link token with its alert, as the acknowledgement page shows it (no patient data beyond initials). */
export async function findLinkToken(db: Db, tokenHash: string) {
  const [row] = await db.orm
    .select({
      alertId: ackTokens.alertId,
      expiresAt: ackTokens.expiresAt,
      usedAt: ackTokens.usedAt,
      kind: alerts.kind,
      alertKey: alerts.alertKey,
      status: alerts.status,
      occurredAt: alerts.occurredAt,
      acknowledgedAt: alerts.acknowledgedAt,
      acknowledgedBy: alerts.acknowledgedBy,
      outcome: alerts.outcome,
      hospitalName: hospitals.name,
      hospitalOds: admissions.hospitalOds,
      providerName: providersTable.name,
      reference: clients.reference,
      cancels: alerts.cancels,
      destinationCategory: alerts.destinationCategory,
      familyName: clients.familyName,
      givenName: clients.givenName,
    })
    .from(ackTokens)
    .innerJoin(alerts, eq(alerts.id, ackTokens.alertId))
    .innerJoin(admissions, eq(admissions.id, alerts.admissionId))
    .innerJoin(providersTable, eq(providersTable.id, alerts.providerId))
    .leftJoin(hospitals, eq(hospitals.odsCode, admissions.hospitalOds))
    .leftJoin(clients, eq(clients.id, alerts.clientId))
    .where(eq(ackTokens.tokenHash, tokenHash));
  return row;
}

export type LinkToken = NonNullable<Awaited<ReturnType<typeof findLinkToken>>>;

/** Uses a link token up, if it is unused and unexpired: true for the one caller that did. */
export async function claimLinkToken(db: Db, tokenHash: string): Promise<boolean> {
  const rows = await db.orm
    .update(ackTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(ackTokens.tokenHash, tokenHash), isNull(ackTokens.usedAt), gt(ackTokens.expiresAt, sql`now()`)))
    .returning({ alertId: ackTokens.alertId });
  return rows.length > 0;
}

/** Gives a claimed link token back (nothing was recorded with it). */
export async function releaseLinkToken(db: Db, tokenHash: string): Promise<void> {
  await db.orm.update(ackTokens).set({ usedAt: null }).where(eq(ackTokens.tokenHash, tokenHash));
}
