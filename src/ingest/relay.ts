/**
 * The relay: hands every committed, accepted event to its spell's workflow with signalWithStart, then marks the
 * row dispatched. Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of relays can run. Temporal being
 * down delays alerts (the rows wait, retried with backoff) and never blocks ingestion.
 */
import type { Client } from '@temporalio/client';
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
  pollMs: number;
  batchSize?: number;
}

export interface Relay {
  /** wake the relay now (e.g. after an insert in this process) */
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

export function startRelay(deps: RelayDeps): Relay {
  const { sql, logger } = deps;
  const batchSize = deps.batchSize ?? 100;
  let running = true;
  let wake: (() => void) | undefined;
  let failures = 0;
  let unlisten: (() => Promise<void>) | undefined;

  const kick = () => wake?.();

  sql
    .listen(INBOUND_CHANNEL, kick)
    .then((l) => {
      unlisten = l.unlisten;
      if (!running) void unlisten();
    })
    .catch((err: Error) => logger.warn({ err: err.message }, 'relay cannot LISTEN; polling only'));

  async function dispatchBatch(): Promise<number> {
    const outcome = await sql.begin(async (tx) => {
      const rows = await tx<Row[]>`
        select m.id, m.parsed, m.received_at, m.admission_id, a.hospital_ods, a.visit_number, a.workflow_id
        from inbound_messages m join admissions a on a.id = m.admission_id
        where m.status = 'accepted' and m.dispatched_at is null
        order by m.id
        limit ${batchSize}
        for update of m skip locked`;
      // one workflow's events in order; different workflows in parallel
      const byWorkflow = new Map<string, Row[]>();
      for (const r of rows) byWorkflow.set(r.workflow_id, [...(byWorkflow.get(r.workflow_id) ?? []), r]);
      const done: string[] = [];
      const failed: { id: string; error: string }[] = [];
      await Promise.all(
        [...byWorkflow.values()].map(async (list) => {
          for (const r of list) {
            try {
              await signal(r);
              done.push(String(r.id));
            } catch (err) {
              failed.push({ id: String(r.id), error: (err as Error).message });
              return;
            }
          }
        }),
      );
      if (done.length > 0) {
        await tx`update inbound_messages set dispatched_at = now(), dispatch_attempts = dispatch_attempts + 1
          where id = any(${tx.array(done)}::bigint[])`;
      }
      for (const f of failed) {
        await tx`update inbound_messages set dispatch_attempts = dispatch_attempts + 1,
          last_dispatch_error = ${f.error.slice(0, 500)} where id = ${f.id}::bigint`;
      }
      return { done: done.length, failed };
    });
    if (outcome.failed.length > 0 && outcome.done === 0) {
      throw new Error(`${outcome.failed.length} event(s) not handed to Temporal: ${outcome.failed[0]!.error}`);
    }
    return outcome.done;
  }

  async function signal(r: Row): Promise<void> {
    const input: AdmissionWorkflowInput = {
      admissionId: r.admission_id,
      hospitalOds: r.hospital_ods,
      visitNumber: r.visit_number,
      lingerSeconds: deps.lingerSeconds,
    };
    await deps.temporal.connection.withDeadline(Date.now() + 10_000, () =>
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

  let idleResolvers: (() => void)[] = [];
  const loop = (async () => {
    while (running) {
      let n = 0;
      try {
        n = await dispatchBatch();
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          logger.warn({ err: (err as Error).message, failures }, 'relay could not hand events to Temporal; will retry');
        }
      }
      if (n > 0) continue;
      if (failures === 0) {
        for (const r of idleResolvers) r();
        idleResolvers = [];
      }
      const delay = failures > 0 ? Math.min(30_000, 250 * 2 ** Math.min(failures, 7)) : deps.pollMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  return {
    kick,
    async stop() {
      running = false;
      kick();
      await loop;
      if (unlisten) await unlisten().catch(() => undefined);
    },
    drained() {
      return new Promise<void>((resolve) => {
        idleResolvers.push(resolve);
        kick();
      });
    },
  };
}
