/**
 * The relay: hands every committed, accepted event to its spell's workflow with signalWithStart, then marks the
 * row dispatched. Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of relays can run. Temporal being
 * down delays alerts (the rows wait, retried with backoff) and never blocks ingestion.
 *
 * Delivery is at least once: a batch's rows are marked in the same transaction that claimed them, after their
 * signals were accepted, so a relay that dies (or loses its database connection) in the middle of a batch leaves
 * every row of that batch undispatched and a later batch signals them again. The workflow ignores an event whose
 * message id it already has, so the effect happens once.
 *
 * Person-level identity corrections and merges (kinds `identity`, `merge`: A31 without a visit, A34, A40, A47) also
 * go to the patient's other open stays at the hospital ({@link linkOtherStays}): each such stay is linked to the
 * message (stay_links, committed) and then signalled with the same event, before the row is marked dispatched; a
 * relay that dies in between does the whole fan-out again.
 */
import { Connection, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { AdmissionEvent, EventSummary } from '../domain/admission-event.js';
import { isLiveProcessingId } from '../domain/clinical.js';
import { toEventSummary } from '../domain/summary.js';
import type { Sql } from '../db/client.js';
import { AdmissionStatusKey, HospitalOdsKey } from '../temporal/search-attributes.js';
import {
  ADMISSION_WORKFLOW,
  admissionEventSignal,
  type AdmissionWorkflowInput,
} from '../../workflows/definitions.js';
import { FAN_OUT_KINDS, INBOUND_CHANNEL } from './ingest.js';

export interface RelayDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  lingerSeconds: number;
  /** how long an unmatched stay waits in the review queue before the operators are told */
  reviewAlertSeconds?: number;
  maxStaySeconds?: number;
  historyLimit?: number;
  /** how often to look for undispatched rows when nothing wakes the relay */
  pollMs: number;
  batchSize?: number;
  /** how long one signalWithStart may take before it counts as failed (default 5 s) */
  signalTimeoutMs?: number;
  /** the longest wait between retries while Temporal (or PostgreSQL) fails (default 5 s) */
  maxBackoffMs?: number;
  /**
   * how many workflows are signalled at once (default 8): enough to keep up with Temporal, few enough that a
   * backlog does not take the CPU from ingestion (an ACK waits for nothing the relay does)
   */
  concurrency?: number;
  /**
   * after waking from idle, wait this long before claiming rows (default 20 ms), so that a steady stream of messages
   * is handed over in batches (one claim and one commit for several) rather than one transaction per message
   */
  coalesceMs?: number;
}

export interface Relay {
  /**
   * Wakes the relay (e.g. after an insert in this process). Cheap and safe to call once per message: kicks that
   * arrive while a batch is running are folded into one more pass, and kicks are ignored while the relay is
   * backing off after a failure, so a burst of messages never becomes a burst of calls to a Temporal that is down.
   */
  kick(): void;
  stop(): Promise<void>;
  /** resolves once nothing is waiting to be dispatched (for tests and graceful shutdown) */
  drained(): Promise<void>;
}

/** A hospital spell's admission row, as far as signalling its workflow needs it. */
interface Stay {
  admission_id: string;
  hospital_ods: string;
  visit_number: string;
  workflow_id: string;
}

/** A claimed message: its own stay (PV1-19) when it has one; a person-level message may have none. */
interface Row {
  id: bigint;
  parsed: AdmissionEvent;
  received_at: Date;
  admission_id: string | null;
  hospital_ods: string | null;
  visit_number: string | null;
  workflow_id: string | null;
}

/**
 * Everything a message says identifies its patient, for finding their other stays: the PID NHS number (PID-3, else
 * PID-2), PID's other identifiers (`value^authority`), and, for A34/A40/A47, the merged patient's MRG-1 identifiers
 * (`value^authority`, and an NHS number bare as well).
 */
export function personIdentifiers(ev: AdmissionEvent): string[] {
  const ids = new Set<string>();
  if (ev.patient.nhsNumber) ids.add(ev.patient.nhsNumber);
  for (const id of ev.patient.otherIdentifiers ?? []) ids.add(id);
  for (const id of ev.mergedFrom ?? []) ids.add(id);
  ids.delete('');
  return [...ids];
}

/** True when the relay hands this event to the patient's other open stays too (live identity and merge events). */
export function fansOut(ev: AdmissionEvent): boolean {
  return FAN_OUT_KINDS.has(ev.kind) && isLiveProcessingId(ev.processingId);
}

interface BatchOutcome {
  claimed: number;
  done: number;
  failed: { id: string; error: string }[];
}

export function startRelay(deps: RelayDeps): Relay {
  const { sql, logger } = deps;
  const batchSize = deps.batchSize ?? 100;
  const signalTimeoutMs = deps.signalTimeoutMs ?? 5_000;
  const maxBackoffMs = deps.maxBackoffMs ?? 5_000;
  const concurrency = deps.concurrency ?? 8;
  const coalesceMs = deps.coalesceMs ?? 20;
  let running = true;
  /** a kick arrived since the last batch started: look again before sleeping */
  let pending = false;
  let failures = 0;
  let lastPartialLog = 0;
  let wake: (() => void) | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;

  const kick = () => {
    pending = true;
    if (failures === 0) wake?.();
  };

  sql
    .listen(INBOUND_CHANNEL, kick)
    .then((l) => {
      unlisten = l.unlisten;
      if (!running) void unlisten().catch(() => undefined);
    })
    .catch((err: Error) => logger.warn({ err: err.message }, 'relay cannot LISTEN; polling only'));

  /** Claims up to batchSize undispatched rows, signals them (one workflow's in order), marks those accepted. */
  async function dispatchBatch(): Promise<BatchOutcome> {
    return sql.begin(async (tx) => {
      // FOR NO KEY UPDATE (not FOR UPDATE): still one relay per row, but linkOtherStays may insert stay_links rows
      // referring to a claimed row from another connection (the foreign key check takes FOR KEY SHARE)
      const rows = await tx<Row[]>`
        select m.id, m.parsed, m.received_at, m.admission_id, a.hospital_ods, a.visit_number, a.workflow_id
        from inbound_messages m left join admissions a on a.id = m.admission_id
        where m.status = 'accepted' and m.dispatched_at is null
        order by m.id
        limit ${batchSize}
        for no key update of m skip locked`;
      // one workflow's events in order; different workflows in parallel (a message with no stay of its own alone)
      const byWorkflow = new Map<string, Row[]>();
      for (const r of rows) {
        const key = r.workflow_id ?? `message:${String(r.id)}`;
        const list = byWorkflow.get(key);
        if (list) list.push(r);
        else byWorkflow.set(key, [r]);
      }
      const done: string[] = [];
      const failed: { id: string; error: string }[] = [];
      const lists = [...byWorkflow.values()];
      const lane = async () => {
        for (let list = lists.shift(); list; list = lists.shift()) {
          for (const r of list) {
            try {
              await handOver(r);
              done.push(String(r.id));
            } catch (err) {
              // the rest of this workflow's events wait for the next pass, so they still arrive in order
              failed.push({ id: String(r.id), error: (err as Error).message });
              break;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, lists.length) }, lane));
      if (done.length > 0) {
        await tx`update inbound_messages set dispatched_at = now(), dispatch_attempts = dispatch_attempts + 1
          where id = any(${tx.array(done)}::bigint[])`;
      }
      if (failed.length > 0) {
        await tx`update inbound_messages as m set dispatch_attempts = m.dispatch_attempts + 1,
            last_dispatch_error = f.error
          from unnest(${tx.array(failed.map((f) => f.id))}::bigint[], ${tx.array(failed.map((f) => f.error.slice(0, 500)))}::text[])
            as f(id, error)
          where m.id = f.id`;
      }
      return { claimed: rows.length, done: done.length, failed };
    });
  }

  /**
   * One message to every stay it concerns: its own stay's workflow (PV1-19), and, for a live identity or merge
   * event, each other open stay of the patient at the hospital (linked first). Throws when any signal fails: the row
   * stays undispatched and all of it is done again (the workflows ignore a message id they already have).
   */
  async function handOver(r: Row): Promise<void> {
    const summary = toEventSummary(String(r.id), r.parsed, r.received_at);
    if (r.admission_id !== null && r.hospital_ods !== null && r.visit_number !== null && r.workflow_id !== null) {
      const own: Stay = {
        admission_id: r.admission_id,
        hospital_ods: r.hospital_ods,
        visit_number: r.visit_number,
        workflow_id: r.workflow_id,
      };
      await signal(own, summary);
    }
    if (!fansOut(r.parsed)) return;
    for (const stay of await linkOtherStays(r)) await signal(stay, summary);
  }

  /**
   * The patient's other open stays at the message's hospital (CONTRACT.md "Identity corrections"), each linked to
   * the message in stay_links (committed before any signal, so the stay finds the message again). A stay counts when
   * it is at the same hospital, not its own, not `cancelled`/`closed`/`discharged` and not discharged, and either one
   * of its accepted, live, primary messages names the patient by an identifier of this message (its `nhsNumber` or
   * one of its `otherIdentifiers` is one of {@link personIdentifiers}), or it is already linked to a message that
   * does (by its NHS number, other identifiers or `mergedFrom`).
   */
  async function linkOtherStays(r: Row): Promise<Stay[]> {
    const ids = personIdentifiers(r.parsed);
    if (ids.length === 0) return [];
    const id = String(r.id);
    return sql<Stay[]>`
      with ids as (select unnest(${sql.array(ids)}::text[]) as v),
      targets as (
        select a.id as admission_id, a.hospital_ods, a.visit_number, a.workflow_id
        from admissions a
        where a.hospital_ods = ${r.parsed.hospitalOds}
          and a.id is distinct from ${r.admission_id}::uuid
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
              where l.admission_id = a.id and l.message_id <> ${id}::bigint
                and (lm.parsed->'patient'->>'nhsNumber' in (select v from ids)
                  or coalesce(lm.parsed->'patient'->'otherIdentifiers', '[]'::jsonb) ?| ${sql.array(ids)}::text[]
                  or coalesce(lm.parsed->'mergedFrom', '[]'::jsonb) ?| ${sql.array(ids)}::text[]))
          )
      ),
      linked as (
        insert into stay_links (message_id, admission_id)
        select ${id}::bigint, admission_id from targets
        on conflict do nothing
      )
      select admission_id, hospital_ods, visit_number, workflow_id from targets order by admission_id`;
  }

  async function signal(stay: Stay, summary: EventSummary): Promise<void> {
    const input: AdmissionWorkflowInput = {
      admissionId: stay.admission_id,
      hospitalOds: stay.hospital_ods,
      visitNumber: stay.visit_number,
      lingerSeconds: deps.lingerSeconds,
      ...(deps.reviewAlertSeconds !== undefined ? { reviewAlertSeconds: deps.reviewAlertSeconds } : {}),
      ...(deps.maxStaySeconds !== undefined ? { maxStaySeconds: deps.maxStaySeconds } : {}),
      ...(deps.historyLimit !== undefined ? { historyLimit: deps.historyLimit } : {}),
    };
    await deps.temporal.connection.withDeadline(Date.now() + signalTimeoutMs, () =>
      deps.temporal.workflow.signalWithStart(ADMISSION_WORKFLOW, {
        workflowId: stay.workflow_id,
        taskQueue: deps.taskQueue,
        args: [input],
        signal: admissionEventSignal,
        signalArgs: [summary],
        typedSearchAttributes: [
          { key: HospitalOdsKey, value: stay.hospital_ods },
          { key: AdmissionStatusKey, value: 'received' },
        ],
      }),
    );
  }

  /** After a failure: does Temporal answer its health check? Cheap, and claims no rows while it does not. */
  async function temporalAnswers(): Promise<boolean> {
    const { connection } = deps.temporal;
    if (!(connection instanceof Connection)) return true; // no health service to ask: the batch will tell
    try {
      await connection.withDeadline(Date.now() + 2_000, () => connection.healthService.check({}));
      return true;
    } catch {
      return false;
    }
  }

  let idleResolvers: (() => void)[] = [];
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    }).finally(() => {
      wake = undefined;
    });

  const loop = (async () => {
    while (running) {
      if (failures > 0 && !(await temporalAnswers())) {
        // still down: wait, without holding rows or a connection
        failures++;
        if (running) await sleep(Math.min(maxBackoffMs, 250 * 2 ** Math.min(failures - 1, 7)));
        continue;
      }
      pending = false;
      let outcome: BatchOutcome | undefined;
      try {
        outcome = await dispatchBatch();
      } catch (err) {
        // PostgreSQL failed (claim, mark or commit): every row of the batch stays undispatched
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          logger.warn({ err: (err as Error).message, failures }, 'relay batch failed; its events will be signalled again');
        }
      }
      if (outcome) {
        const notHandedOver = outcome.failed.length;
        if (notHandedOver > 0 && outcome.done === 0) {
          // nothing got through: Temporal is down (or slow); back off and probe its health before the next try
          failures++;
          if (failures === 1 || failures % 20 === 0) {
            logger.warn({ err: outcome.failed[0]!.error, notHandedOver, failures }, 'relay could not hand events to Temporal; will retry');
          }
        } else {
          if (failures > 0) logger.info({ failures }, 'relay is handing events to Temporal again');
          failures = 0;
          // some got through and some did not: those wait for the next poll (logged at most once a minute)
          if (notHandedOver > 0 && Date.now() - lastPartialLog > 60_000) {
            lastPartialLog = Date.now();
            logger.warn({ err: outcome.failed[0]!.error, notHandedOver, handedOver: outcome.done }, 'relay could not hand some events to Temporal; will retry');
          }
        }
      }
      if (!running) break;
      if (failures > 0) {
        await sleep(Math.min(maxBackoffMs, 250 * 2 ** Math.min(failures - 1, 7)));
        continue;
      }
      // a full batch means there may be more; a kick means something was stored while this batch ran
      if (outcome && outcome.claimed >= batchSize) continue;
      if (pending) continue;
      for (const r of idleResolvers) r();
      idleResolvers = [];
      await sleep(deps.pollMs);
      if (running && coalesceMs > 0) await new Promise((r) => setTimeout(r, coalesceMs));
    }
    for (const r of idleResolvers) r();
    idleResolvers = [];
  })();

  return {
    kick,
    stop() {
      stopping ??= (async () => {
        running = false;
        wake?.();
        await loop;
        if (unlisten) await unlisten().catch(() => undefined);
      })();
      return stopping;
    },
    drained() {
      return new Promise<void>((resolve) => {
        idleResolvers.push(resolve);
        kick();
      });
    },
  };
}
