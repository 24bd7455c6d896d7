/**
 * Inbound messages (`inbound_messages`): every message a hospital sent, raw, with its parsed event and the answer
 * it was given; accepted live rows are the relay's outbox. Storing one is the ingest path: one statement, one round
 * trip and its implicit COMMIT before the ACK (hand SQL, measured by `npm run bench:ingest`).
 */
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { AdmissionEvent } from '../domain/admission-event.js';
import type { Db } from './client.js';
import { inboundMessages, stayLinks } from './schema.js';

export type InboundMessage = typeof inboundMessages.$inferSelect;
export type Transport = InboundMessage['transport'];

/** MSH-11 as stored (processing_id): at most this many characters of a value that was refused. */
const MAX_STORED_PROCESSING_ID = 20;

/**
 * Text as PostgreSQL can store it: NUL (which neither text nor jsonb can hold) becomes U+FFFD. Only for what is
 * stored for the record (raw, reasons); a message holding NUL is never accepted.
 */
function storable(v: string): string;
function storable(v: string | null): string | null;
function storable(v: string | null): string | null {
  return v !== null && v.includes('\u0000') ? v.replaceAll('\u0000', '\ufffd') : v;
}

/** Why a message was refused, as stored (an InputError's code, message and HL7 or FHIRPath location). */
export interface StoredError {
  code: string;
  message: string;
  location?: string | undefined;
}

/** A message that will not reach a workflow: refused at the header, by the sender check, or not readable at all. */
export interface RejectedMessage {
  transport: Transport;
  /** the message as received */
  text: string;
  contentHash: string;
  /** MSH-4 / the key's hospital, when known */
  hospitalOds: string | null;
  /** MSH-10, when known */
  controlId: string | null;
  /** MSH-11 as sent (a refused one too: cut short); `P` when none */
  processingId: string;
  ackCode: string;
  httpStatus: number;
  error: StoredError;
}

/**
 * Stores a refused message for the record. It never takes its MSH-4 + MSH-10 slot (`is_primary` false), so the
 * same control id can still be sent correctly. Throws when PostgreSQL cannot take it.
 */
export async function storeRejected(db: Db, m: RejectedMessage): Promise<void> {
  await db.orm.insert(inboundMessages).values({
    transport: m.transport,
    hospitalOds: storable(m.hospitalOds || null),
    messageControlId: storable(m.controlId || null),
    contentHash: m.contentHash,
    raw: storable(m.text),
    status: 'rejected',
    isPrimary: false,
    ackCode: m.ackCode,
    httpStatus: m.httpStatus,
    errorCode: m.error.code,
    errorReason: storable(m.error.message),
    errorLocation: storable(m.error.location ?? null),
    processingId: storable(m.processingId.slice(0, MAX_STORED_PROCESSING_ID)),
  });
}

/** A message with a readable header: its event when it was accepted, else why its content was refused. */
export interface NewMessage {
  transport: Transport;
  text: string;
  contentHash: string;
  hospitalOds: string;
  controlId: string;
  processingId: string;
  event: AdmissionEvent | undefined;
  contentError: StoredError | undefined;
  ackCode: string;
  httpStatus: number;
  /** the ACK code stored for a message that reuses an earlier one's MSH-4 + MSH-10 with other content */
  conflictAckCode: string;
  /** the live stay (PV1-19) the event belongs to: its admission row is upserted and the row waits for the relay */
  stay: { hospitalOds: string; visitNumber: string; workflowId: string } | null;
  /** a live person-level event (identity, merge) without a stay of its own: waits for the relay too */
  personLevel: boolean;
}

/** What storing a message came to. */
export type StoreOutcome =
  /** stored under its MSH-4 + MSH-10 */
  | { kind: 'stored'; id: string }
  /** the same MSH-4 + MSH-10 as an earlier message with other content: stored as a rejected, non-primary row */
  | { kind: 'conflict' }
  /** an exact resend of the earlier message stored under its MSH-4 + MSH-10: nothing stored, its outcome again */
  | {
      kind: 'resend';
      id: string;
      accepted: boolean;
      httpStatus: number;
      errorCode: string | null;
      errorReason: string | null;
      errorLocation: string | null;
    };

/**
 * Stores one message and its event (or its content error), recognising an exact resend and a reused control id.
 * Throws when PostgreSQL cannot take it.
 *
 * The common case is one statement, so one round trip and its implicit COMMIT (synchronous_commit=on) before the
 * ACK: the stay's admission row (upserted) and the message with its event. Rows the relay must hand to a stay
 * (accepted, and with a stay or person-level) are left undispatched; every other row is marked dispatched at once.
 * No NOTIFY: the relay in this process is kicked by the caller, and NOTIFY's commit-time lock would serialise
 * every commit.
 */
export async function store(db: Db, m: NewMessage): Promise<StoreOutcome> {
  const { sql: q } = db;
  const { event, contentError: err, stay } = m;
  const accepted = event !== undefined;
  const [row] = await q<{ id: bigint }[]>`
    with adm as (
      insert into admissions (hospital_ods, visit_number, workflow_id)
      select ${stay?.hospitalOds ?? null}::text, ${stay?.visitNumber ?? null}::text, ${stay?.workflowId ?? null}::text
      where ${stay?.visitNumber ?? null}::text is not null
      on conflict (hospital_ods, visit_number) do update set updated_at = now()
      returning id
    )
    insert into inbound_messages (transport, hospital_ods, message_control_id, content_hash, raw, parsed, status,
      ack_code, http_status, error_code, error_reason, error_location, admission_id, event_at, dispatched_at,
      processing_id)
    values (${m.transport}, ${m.hospitalOds}, ${m.controlId}, ${m.contentHash}, ${storable(m.text)},
      ${event ? q.json(event as never) : null}, ${accepted ? 'accepted' : 'rejected'}, ${m.ackCode},
      ${m.httpStatus}, ${err?.code ?? null}, ${err?.message ?? null},
      ${err?.location ?? null}, (select id from adm), ${event?.eventAt ?? null},
      case when ${accepted}::boolean and (exists (select 1 from adm) or ${m.personLevel}::boolean) then null else now() end,
      ${m.processingId})
    on conflict (hospital_ods, message_control_id)
      where is_primary and hospital_ods is not null and message_control_id is not null
    do nothing
    returning id`;
  if (row) return { kind: 'stored', id: String(row.id) };

  // MSH-4 + MSH-10 seen before: an exact resend, or a reused control id
  type Existing = {
    id: bigint;
    content_hash: string;
    status: string;
    http_status: number;
    error_code: string | null;
    error_reason: string | null;
    error_location: string | null;
  };
  const existing = await q.begin(async (tx) => {
    const [found] = await tx<Existing[]>`
      select id, content_hash, status, http_status, error_code, error_reason, error_location from inbound_messages
      where hospital_ods = ${m.hospitalOds} and message_control_id = ${m.controlId} and is_primary`;
    if (found && found.content_hash !== m.contentHash) {
      await tx`insert into inbound_messages (transport, hospital_ods, message_control_id, content_hash, raw, status,
          is_primary, ack_code, http_status, error_code, error_reason, error_location, processing_id)
        values (${m.transport}, ${m.hospitalOds}, ${m.controlId}, ${m.contentHash}, ${storable(m.text)}, 'rejected', false,
          ${m.conflictAckCode}, 409, 'duplicate-control-id',
          'same MSH-4 and MSH-10 as an earlier message with different content', 'MSH-10', ${m.processingId})`;
    }
    return found;
  });
  // no primary row under that MSH-4 + MSH-10 although the insert conflicted: it cannot happen (rows are never
  // deleted), but if it did, the message was not stored
  if (!existing) throw new Error('inbound message conflicted with no stored message');
  if (existing.content_hash !== m.contentHash) return { kind: 'conflict' };
  return {
    kind: 'resend',
    id: String(existing.id),
    accepted: existing.status === 'accepted',
    httpStatus: existing.http_status,
    errorCode: existing.error_code,
    errorReason: existing.error_reason,
    errorLocation: existing.error_location,
  };
}

/** Messages as operators list them (`GET /v1/messages`): metadata only, never the raw message or the patient. */
export function list(
  db: Db,
  filter: {
    status?: 'accepted' | 'rejected';
    transport?: Transport;
    hospitalOds?: string;
    controlId?: string;
    processingId?: string;
    limit: number;
    offset: number;
  },
) {
  const m = inboundMessages;
  return db.orm
    .select({
      id: m.id,
      transport: m.transport,
      hospitalOds: m.hospitalOds,
      messageControlId: m.messageControlId,
      trigger: sql<string | null>`${m.parsed}->>'trigger'`,
      status: m.status,
      processingId: m.processingId,
      isPrimary: m.isPrimary,
      ackCode: m.ackCode,
      httpStatus: m.httpStatus,
      errorCode: m.errorCode,
      errorReason: m.errorReason,
      errorLocation: m.errorLocation,
      admissionId: m.admissionId,
      eventAt: m.eventAt,
      receivedAt: m.receivedAt,
      dispatchedAt: m.dispatchedAt,
    })
    .from(m)
    .where(
      and(
        filter.status ? eq(m.status, filter.status) : undefined,
        filter.transport ? eq(m.transport, filter.transport) : undefined,
        filter.hospitalOds ? eq(m.hospitalOds, filter.hospitalOds) : undefined,
        filter.controlId ? eq(m.messageControlId, filter.controlId) : undefined,
        filter.processingId ? eq(m.processingId, filter.processingId) : undefined,
      ),
    )
    .orderBy(desc(m.id))
    .limit(filter.limit)
    .offset(filter.offset);
}

/** A stay's own accepted messages in event order, as the API lists its events. */
export function eventsOfStay(
  db: Db,
  admissionId: string,
): Promise<{ trigger: string | null; kind: string | null; at: Date | null; messageControlId: string | null }[]> {
  const m = inboundMessages;
  return db.orm
    .select({
      trigger: sql<string | null>`${m.parsed}->>'trigger'`,
      at: m.eventAt,
      messageControlId: m.messageControlId,
      kind: sql<string | null>`${m.parsed}->>'kind'`,
    })
    .from(m)
    .where(and(eq(m.admissionId, admissionId), eq(m.status, 'accepted'), eq(m.isPrimary, true)))
    .orderBy(asc(m.eventAt), asc(m.id));
}

/**
 * Accepted, primary, live (`P`) messages of a stay: its own and those linked to it (person-level identity
 * corrections and merges, `stay_links`).
 */
function liveOfStay(admissionId: string, also?: SQL): SQL | undefined {
  const m = inboundMessages;
  return and(
    eq(m.status, 'accepted'),
    eq(m.isPrimary, true),
    also,
    eq(m.processingId, 'P'),
    // its own messages and those linked to it, each found by its index (an OR of the two would read every message)
    sql`${m.id} in (select own.id from ${m} own where own.admission_id = ${admissionId}
      union all select ${stayLinks.messageId} from ${stayLinks} where ${stayLinks.admissionId} = ${admissionId})`,
  );
}

/**
 * The stay's live messages already handed to a workflow (so an earlier run saw them), in arrival order: what a
 * restarted workflow carries on from.
 */
export function relayedEventsOfStay(
  db: Db,
  admissionId: string,
): Promise<{ id: bigint; parsed: AdmissionEvent | null; receivedAt: Date }[]> {
  const m = inboundMessages;
  return db.orm
    .select({ id: m.id, parsed: m.parsed, receivedAt: m.receivedAt })
    .from(m)
    .where(liveOfStay(admissionId, sql`${m.dispatchedAt} is not null`))
    .orderBy(asc(m.id));
}

/** The stay's live events, latest first (event time EVN-2, then message time MSH-7, then arrival). */
export async function liveEventsOfStayLatestFirst(db: Db, admissionId: string): Promise<AdmissionEvent[]> {
  const m = inboundMessages;
  const rows = await db.orm
    .select({ parsed: m.parsed })
    .from(m)
    .where(liveOfStay(admissionId))
    .orderBy(sql`${m.eventAt} desc nulls last`, sql`${m.parsed}->>'messageAt' desc`, desc(m.receivedAt), desc(m.id));
  return rows.map((r) => r.parsed!);
}
