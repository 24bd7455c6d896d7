/**
 * The relay: hands every committed, accepted event to its spell's workflow with signalWithStart, then marks the
 * row dispatched. Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of relays can run. Temporal being
 * down delays alerts (the rows wait, retried with backoff) and never blocks ingestion.
 *
 * Delivery is at least once: a batch's rows are marked in the same transaction that claimed them, after their
 * signals were accepted, so a relay that dies (or loses its database connection) in the middle of a batch leaves
 * every row of that batch undispatched and a later batch signals them again. The workflow ignores an event whose
 * message id it already has, so the effect happens once.
 */
import { Connection, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { AdmissionEvent } from '../domain/admission-event.js';
import { toEventSummary } from '../domain/summary.js';
import type { Sql } from '../db/client.js';
import { AdmissionStatusKey, HospitalOdsKey } from '../temporal/search-attributes.js';
import {
  ADMISSION_WORKFLOW,
  admissionEventSignal,
  type AdmissionWorkflowInput,
} from '../../workflows/definitions.js';
import { INBOUND_CHANNEL } from './ingest.js';

export interface RelayDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  lingerSeconds: number;
  /** how long an unmatched stay waits in the review queue before the operators are told */
  reviewAlertSeconds?: number;
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

interface Row {
  id: bigint;
  parsed: AdmissionEvent;
  received_at: Date;
  admission_id: string;
  hospital_ods: string;
  visit_number: string;
  workflow_id: string;
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
      const rows = await tx<Row[]>`
        select m.id, m.parsed, m.received_at, m.admission_id, a.hospital_ods, a.visit_number, a.workflow_id
        from inbound_messages m join admissions a on a.id = m.admission_id
        where m.status = 'accepted' and m.dispatched_at is null
        order by m.id
        limit ${batchSize}
        for update of m skip locked`;
      // one workflow's events in order; different workflows in parallel
      const byWorkflow = new Map<string, Row[]>();
      for (const r of rows) {
        const list = byWorkflow.get(r.workflow_id);
        if (list) list.push(r);
        else byWorkflow.set(r.workflow_id, [r]);
      }
      const done: string[] = [];
      const failed: { id: string; error: string }[] = [];
      const lists = [...byWorkflow.values()];
      const lane = async () => {
        for (let list = lists.shift(); list; list = lists.shift()) {
          for (const r of list) {
            try {
              await signal(r);
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

  async function signal(r: Row): Promise<void> {
    const input: AdmissionWorkflowInput = {
      admissionId: r.admission_id,
      hospitalOds: r.hospital_ods,
      visitNumber: r.visit_number,
      lingerSeconds: deps.lingerSeconds,
      ...(deps.reviewAlertSeconds !== undefined ? { reviewAlertSeconds: deps.reviewAlertSeconds } : {}),
    };
    await deps.temporal.connection.withDeadline(Date.now() + signalTimeoutMs, () =>
      deps.temporal.workflow.signalWithStart(ADMISSION_WORKFLOW, {
        workflowId: r.workflow_id,
        taskQueue: deps.taskQueue,
        args: [input],
        signal: admissionEventSignal,
        signalArgs: [toEventSummary(String(r.id), r.parsed, r.received_at)],
        typedSearchAttributes: [
          { key: HospitalOdsKey, value: r.hospital_ods },
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
