/**
 * The escalation ladder of one alert for one provider: send a step to its contacts on its channels, wait
 * `waitSeconds` for an acknowledgement, go on to the next step; after the last, the alert is `unacknowledged`.
 * Informational alerts (transfer, cancellation) are sent once, with no ladder. The ladder reads the alert's state
 * and reports what happens to it (`LadderContext`); it changes nothing itself.
 */
import { ActivityFailure, ApplicationFailure, condition, type ActivityInterfaceFor } from '@temporalio/workflow';
import type { AdmissionActivities, DeliverInput, DeliveryResult } from '../activities/types.js';
import type { AlertKind } from '../src/domain/admission-event.js';
import type { ContactChannel } from '../src/domain/alert-plan.js';
import { escalates, escalationSchedule, type EscalationPolicy, type ScheduledStep } from '../src/domain/escalation.js';
import { deliverySummary, waitSummary } from './details.js';
import type { TriedContact } from './stay-state.js';

export interface LadderContext {
  acts: ActivityInterfaceFor<Pick<AdmissionActivities, 'markUnacknowledged' | 'recordDeliveryFailure' | 'deliver'>> & {
    /** a delivery's first attempt as a local activity (absent: every attempt is the delivery activity) */
    deliverLocally?: ActivityInterfaceFor<Pick<AdmissionActivities, 'deliver'>>['deliver'];
  };
  /** `<name> (<role>)` of a contact, for summaries */
  contactLabel(contactId: string): string;
  /** acknowledged or withdrawn */
  isDone(alertId: string): boolean;
  /** bumped when the alert is reopened: a ladder of an earlier run stops */
  runOf(alertId: string): number;
  stepSent(alertId: string, step: number): void;
  contactReached(alertId: string, pair: ContactChannel): void;
  contactTried(alertId: string, tried: TriedContact): void;
  /** the ladder waits for an acknowledgement until `at` (undefined: no longer waits) */
  waiting(alertId: string, until: { at: string; nextStep?: number } | undefined): void;
  gaveUp(alertId: string): void;
}

/**
 * Runs the alert's ladder to its end: acknowledged, withdrawn, or `unacknowledged` after the last step.
 * `targets` replaces the policy's contacts for an informational alert (e.g. a cancellation goes to whoever was
 * told of the admission). A reopened alert runs its ladder again from step 1: a delivery already made for a step
 * is not made again (its id is alert + step + contact + channel), so the ladder only waits where it had waited.
 * A resent alert (`resend` > 0) runs it again from step 1 with new deliveries (their ids carry the resend number).
 * Every delivery and wait carries a summary the Temporal UI shows (CONTRACT.md "Operators").
 */
export async function runLadder(
  ctx: LadderContext,
  alert: { alertId: string; kind: AlertKind },
  policy: EscalationPolicy,
  targets?: ContactChannel[],
  resend?: number,
): Promise<void> {
  const { alertId, kind } = alert;
  const run = ctx.runOf(alertId);
  const done = () => ctx.runOf(alertId) !== run || ctx.isDone(alertId);
  const pending: Promise<DeliveryResult>[] = [];
  const steps: ScheduledStep[] = escalates(kind)
    ? escalationSchedule(policy)
    : escalationSchedule({ steps: policy.steps.slice(0, 1), repeat: 0 }).map((s) => ({ ...s, waitSeconds: 0 }));

  for (const [i, s] of steps.entries()) {
    if (done()) break;
    ctx.stepSent(alertId, s.step);
    const pairs = targets ?? s.contactIds.flatMap((contactId) => s.channels.map((channel) => ({ contactId, channel })));
    let settled = 0;
    let sent = 0;
    for (const pair of pairs) {
      const input: DeliverInput = { alertId, step: s.step, ...pair, ...(resend ? { resend } : {}) };
      ctx.contactTried(alertId, { ...pair, step: s.step });
      const p = deliverOnce(ctx, input).then((r) => {
        settled++;
        ctx.contactTried(alertId, { ...pair, step: s.step, result: r });
        if (r === 'sent') {
          sent++;
          ctx.contactReached(alertId, pair);
        }
        return r;
      });
      pending.push(p);
    }
    if (!escalates(kind)) break;
    // wait for an acknowledgement; move on at once when nobody on this step could be told
    const waitMs = Math.max(0, s.waitSeconds) * 1000;
    const next = steps[i + 1]?.step;
    ctx.waiting(alertId, { at: new Date(Date.now() + waitMs).toISOString(), ...(next ? { nextStep: next } : {}) });
    await condition(() => done() || (settled === pairs.length && sent === 0), waitMs, {
      summary: waitSummary(s.waitSeconds),
    });
    if (ctx.runOf(alertId) === run) ctx.waiting(alertId, undefined);
  }

  if (escalates(kind) && !done()) {
    ctx.gaveUp(alertId);
    await ctx.acts.markUnacknowledged.executeWithOptions(
      { summary: `mark the ${kind} alert unacknowledged: nobody acknowledged` },
      [{ alertId }],
    );
  }
  // deliveries still retrying finish (or see the acknowledgement and stop) before the ladder ends
  await Promise.all(pending);
}

async function deliverOnce(ctx: LadderContext, input: DeliverInput): Promise<DeliveryResult> {
  const summary = deliverySummary(input, ctx.contactLabel(input.contactId));
  try {
    if (ctx.acts.deliverLocally) {
      try {
        return await ctx.acts.deliverLocally.executeWithOptions({ summary }, [input]);
      } catch (err) {
        // a failure that no retry would mend is final; any other goes on as the activity, which retries it
        if (!retryable(err)) throw err;
      }
    }
    return await ctx.acts.deliver.executeWithOptions({ summary }, [input]);
  } catch (err) {
    await ctx.acts.recordDeliveryFailure.executeWithOptions(
      { summary: `record that the delivery failed: ${summary}` },
      [{ ...input, reason: err instanceof Error ? err.message : String(err) }],
    );
    return 'failed';
  }
}

/** False for a failure the activity marked as final (a retry would fail the same way). */
function retryable(err: unknown): boolean {
  return !(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable);
}
