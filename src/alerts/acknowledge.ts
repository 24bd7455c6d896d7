/**
 * Acknowledging an alert: a workflow Update (so the ladder stops at once), or, when the stay's workflow has
 * already completed, the same record written straight to PostgreSQL.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AckOutcome } from '../domain/admission-event.js';
import { acknowledgeAlert, type AlertAckView } from '../db/alerts.js';
import type { Sql } from '../db/client.js';
import { acknowledgeUpdate } from '../../workflows/definitions.js';

export async function acknowledge(
  deps: { sql: Sql; temporal: Client },
  input: { alertId: string; by: string; outcome?: AckOutcome; actor?: string },
): Promise<AlertAckView | undefined> {
  const [row] = await deps.sql<{ workflow_id: string; status: string }[]>`
    select ad.workflow_id, a.status from alerts a join admissions ad on ad.id = a.admission_id where a.id = ${input.alertId}`;
  if (!row) return undefined;
  if (row.status !== 'acknowledged') {
    try {
      return await deps.temporal.workflow
        .getHandle(row.workflow_id)
        .executeUpdate(acknowledgeUpdate, {
          args: [{ alertId: input.alertId, by: input.by, ...(input.outcome ? { outcome: input.outcome } : {}) }],
        });
    } catch (err) {
      if (!isClosedWorkflow(err)) throw err;
    }
  }
  return acknowledgeAlert(deps.sql, input);
}

function isClosedWorkflow(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: Error }).cause?.message ?? '')}` : '';
  return /already completed|not found|workflow execution already/i.test(msg);
}
