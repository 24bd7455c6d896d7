/**
 * Acknowledging an alert (the API, the one-time link pages): a workflow Update, so the ladder stops at once; or,
 * when the stay's workflow has already completed, the same record written straight to PostgreSQL.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import * as alerts from '../db/alerts.js';
import type { Db } from '../db/client.js';
import type { AckOutcome } from '../domain/admission-event.js';
import { acknowledgeUpdate } from '../../workflows/definitions.js';

/** Acknowledges once (a second acknowledgement returns the first); undefined when there is no such alert. */
export async function acknowledgeAlert(
  deps: { db: Db; temporal: Client },
  input: { alertId: string; by: string; outcome?: AckOutcome; actor?: string },
): Promise<alerts.AlertAckView | undefined> {
  const alert = await alerts.workflowOf(deps.db, input.alertId);
  if (!alert) return undefined;
  if (alert.status !== 'acknowledged') {
    try {
      return await deps.temporal.workflow.getHandle(alert.workflowId).executeUpdate(acknowledgeUpdate, {
        args: [{ alertId: input.alertId, by: input.by, ...(input.outcome ? { outcome: input.outcome } : {}) }],
      });
    } catch (err) {
      if (!isClosedWorkflow(err)) throw err;
    }
  }
  return alerts.acknowledge(deps.db, input);
}

function isClosedWorkflow(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: Error }).cause?.message ?? '')}` : '';
  return /already completed|not found|workflow execution already/i.test(msg);
}
