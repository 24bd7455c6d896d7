/**
 * The relay's outbox (ARCHITECTURE.md "Outbox, not a transaction around the network"): the accepted
 * `inbound_messages` rows not yet handed to Temporal (`dispatched_at` null). A relay claims a batch by setting a
 * lease (`lease_until`) in one statement that commits before any call to Temporal; it then signals with no
 * transaction open and marks the rows dispatched, or records the failure and releases the lease. A relay that dies
 * in between leaves its rows leased: once the lease has expired any relay claims them again.
 */
import type { AdmissionEvent } from '../domain/admission-event.js';
import type { Db } from './client.js';

/** A hospital spell's admission row, as far as signalling its workflow needs it. */
export interface OutboxStay {
  admission_id: string;
  hospital_ods: string;
  visit_number: string;
  workflow_id: string;
}

/** A claimed message: its own stay (PV1-19) when it has one; a person-level message may have none. */
export interface OutboxRow {
  id: bigint;
  parsed: AdmissionEvent;
  received_at: Date;
  admission_id: string | null;
  hospital_ods: string | null;
  visit_number: string | null;
  workflow_id: string | null;
}

export interface Claim {
  /** in id order */
  rows: OutboxRow[];
  /**
   * The batch's `lease_until`, exactly (microseconds, as PostgreSQL prints it): every row of one claim has the same
   * one, so it tells this claim's rows from a later claim of the same rows after the lease expired.
   */
  lease: string | null;
}

/**
 * Claims up to `limit` undispatched accepted rows whose lease is free or expired, oldest first, for `leaseMs`: one
 * statement (its own transaction, committed when this returns). Rows another relay is claiming at the same moment
 * are skipped (`FOR UPDATE SKIP LOCKED`), and rows it has claimed carry a lease that has not expired, so two relays
 * never hold the same row at once while their leases last.
 */
export async function claimBatch(db: Db, opts: { limit: number; leaseMs: number }): Promise<Claim> {
  const { sql } = db;
  // the picked ids are materialised, so the LIMIT applies once (an IN (subquery … LIMIT) may be evaluated again)
  const rows = await sql<(OutboxRow & { lease: string })[]>`
    with picked as materialized (
      select id from inbound_messages
      where status = 'accepted' and dispatched_at is null and (lease_until is null or lease_until < now())
      order by id
      limit ${opts.limit}
      for update skip locked
    ),
    claimed as (
      update inbound_messages set lease_until = now() + ${opts.leaseMs}::int * interval '1 millisecond'
      where id in (select id from picked)
      returning id, parsed, received_at, admission_id, lease_until
    )
    select c.id, c.parsed, c.received_at, c.admission_id, a.hospital_ods, a.visit_number, a.workflow_id,
      c.lease_until::text as lease
    from claimed c left join admissions a on a.id = c.admission_id
    order by c.id`;
  return {
    rows: rows.map(({ lease: _, ...row }) => row),
    lease: rows[0]?.lease ?? null,
  };
}

/**
 * Marks rows handed to Temporal: dispatched, lease released, one more attempt. Not conditional on the lease: the
 * signals went out, whoever holds the row now (a relay that claimed it after this one's lease expired signals it
 * again, which the workflow ignores). A row already marked is left alone.
 */
export async function markDispatched(db: Db, ids: readonly string[]): Promise<void> {
  const { sql } = db;
  if (ids.length === 0) return;
  await sql`
    update inbound_messages set dispatched_at = now(), lease_until = null, dispatch_attempts = dispatch_attempts + 1
    where id = any(${sql.array([...ids])}::bigint[]) and dispatched_at is null`;
}

/**
 * Ends a claim early for rows that were not handed over, so that the next pass claims them again without waiting
 * for the lease (the relay backs off before that pass): `failed` rows count an attempt and keep their error;
 * `untried` rows (later events of a workflow whose earlier one failed, or rows the relay had no lease time left for)
 * are only released. One statement, so that a workflow's rows become claimable together (never a later one before
 * an earlier one). Only rows still under this claim's lease are touched: a row whose lease expired and was claimed
 * again belongs to that claim.
 */
export async function recordFailures(
  db: Db,
  lease: string,
  failed: readonly { id: string; error: string }[],
  untried: readonly string[] = [],
): Promise<void> {
  const { sql } = db;
  const ids = [...failed.map((f) => f.id), ...untried];
  if (ids.length === 0) return;
  // '' for an untried row (postgres.js sends no NULL inside an array); a failure always has some text
  const errors = [...failed.map((f) => f.error.slice(0, 500) || 'failed'), ...untried.map(() => '')];
  // the lease goes as text and is cast by PostgreSQL: postgres.js would send a timestamptz parameter through a JS
  // Date, dropping its microseconds
  await sql`
    update inbound_messages as m
    set dispatch_attempts = m.dispatch_attempts + (f.error <> '')::int,
      last_dispatch_error = coalesce(nullif(f.error, ''), m.last_dispatch_error),
      lease_until = null
    from unnest(${sql.array(ids)}::bigint[], ${sql.array(errors)}::text[]) as f(id, error)
    where m.id = f.id and m.dispatched_at is null and m.lease_until = ${lease}::text::timestamptz`;
}

/**
 * The patient's other open stays at the message's hospital (CONTRACT.md "Identity corrections"), each linked to the
 * message in stay_links (this statement commits the links before the caller signals, so the stay finds the message
 * again). A stay counts when it is at the same hospital, not the message's own, not `cancelled`/`closed`/`discharged`
 * and not discharged, and either one of its accepted, live, primary messages names the patient by one of
 * `identifiers` (its `nhsNumber` or one of its `otherIdentifiers`), or it is already linked to another message that
 * does (by its NHS number, other identifiers or `mergedFrom`).
 */
export async function linkFanOutStays(
  db: Db,
  message: { id: string; hospitalOds: string; admissionId: string | null },
  identifiers: readonly string[],
): Promise<OutboxStay[]> {
  const { sql } = db;
  if (identifiers.length === 0) return [];
  const ids = [...identifiers];
  return sql<OutboxStay[]>`
    with ids as (select unnest(${sql.array(ids)}::text[]) as v),
    targets as (
      select a.id as admission_id, a.hospital_ods, a.visit_number, a.workflow_id
      from admissions a
      where a.hospital_ods = ${message.hospitalOds}
        and a.id is distinct from ${message.admissionId}::uuid
        and a.status not in ('cancelled', 'closed', 'discharged')
        and a.discharged_at is null
        and (
          exists (
            select 1 from inbound_messages o
            where o.admission_id = a.id and o.status = 'accepted' and o.is_primary and o.processing_id = 'P'
              and (o.parsed->'patient'->>'nhsNumber' in (select v from ids)
                or coalesce(o.parsed->'patient'->'otherIdentifiers', '[]'::jsonb) ?| ${sql.array(ids)}::text[]))
          or exists (
            select 1 from stay_links l join inbound_messages lm on lm.id = l.message_id
            where l.admission_id = a.id and l.message_id <> ${message.id}::bigint
              and (lm.parsed->'patient'->>'nhsNumber' in (select v from ids)
                or coalesce(lm.parsed->'patient'->'otherIdentifiers', '[]'::jsonb) ?| ${sql.array(ids)}::text[]
                or coalesce(lm.parsed->'mergedFrom', '[]'::jsonb) ?| ${sql.array(ids)}::text[]))
        )
    ),
    linked as (
      insert into stay_links (message_id, admission_id)
      select ${message.id}::bigint, admission_id from targets
      on conflict do nothing
    )
    select admission_id, hospital_ods, visit_number, workflow_id from targets order by admission_id`;
}
