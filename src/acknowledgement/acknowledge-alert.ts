/**
 * Acknowledging an alert (the API, the one-time link pages): a workflow Update, so the ladder stops at once; or,
 * when the stay's workflow has already completed, the same record written straight to PostgreSQL.
 */
import type { Client } from '@temporalio/client';
import { isWorkflowClosed } from '../temporal/errors.js';
import * as alerts from '../db/alerts.js';
import type { Db } from '../db/client.js';
import type { AckOutcome } from '../domain/admission-event.js';
import { acknowledgeUpdate } from '../../workflows/definitions.js';

/**
 * Acknowledges once (a second acknowledgement returns the first); undefined when there is no such alert. `userId`:
 * the portal user who acknowledges (recorded on the alert beside `by`).
 */
export async function acknowledgeAlert(
  deps: { db: Db; temporal: Client },
  input: { alertId: string; by: string; outcome?: AckOutcome; actor?: string; userId?: string },
): Promise<alerts.AlertAckView | undefined> {
  const alert = await alerts.workflowOf(deps.db, input.alertId);
  if (!alert) return undefined;
  if (alert.status !== 'acknowledged') {
    const handle = deps.temporal.workflow.getHandle(alert.workflowId);
    const update = () =>
      handle.executeUpdate(acknowledgeUpdate, {
        args: [
          {
            alertId: input.alertId,
            by: input.by,
            ...(input.outcome ? { outcome: input.outcome } : {}),
            ...(input.userId ? { userId: input.userId } : {}),
          },
        ],
      });
    try {
      return await update();
    } catch (err) {
      if (!isWorkflowClosed(err)) throw err;
      // the run closed under the Update: a run that continued as new takes it; a completed stay is recorded here
      const running = await handle.describe().then(
        (d) => d.status.name === 'RUNNING',
        () => false,
      );
      if (running) return await update();
    }
  }
  return alerts.acknowledge(deps.db, input);
}
