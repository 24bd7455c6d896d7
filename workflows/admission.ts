/**
 * One workflow per hospital spell, id `admission-<ODS>-<visit>`. Events arrive as signals in any order; the
 * spell's state is refolded from all of them in event-time order (src/domain/spell.ts) and each provider's alerts
 * are brought in line with it by a pure plan (src/domain/alert-plan.ts), re-made until it has nothing left to do,
 * so late, repeated or out-of-order events reach the same end state. The workflow decides; activities do all I/O.
 *
 * Determinism: a change here that a running workflow would see must be guarded with `patched()` and checked by
 * the replay test (workflows/replay.int.test.ts, histories in test/histories, re-recorded with
 * `npm run histories:record`).
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AcknowledgeInput, AdmissionActivities, MatchResult, ProviderMatch } from '../activities/types.js';
import type { AdmissionStatus } from '../src/domain/admission-event.js';
import {
  admissionStatus,
  dedupe,
  isQuiet,
  planProviderAlerts,
  planWrongPatient,
  type AlertAction,
  type ContactChannel,
  type KnownAlert,
} from '../src/domain/alert-plan.js';
import { ACK_OUTCOMES, allowedOutcomes } from '../src/domain/alert-text.js';
import { IDENTITY_TRIGGERS, withdrawnReasonCode } from '../src/domain/clinical.js';
import { escalates, type EscalationPolicy } from '../src/domain/escalation.js';
import { foldSpell, needsProviders, spellKeys } from '../src/domain/spell.js';
import { AdmissionStatusKey, EscalationStepKey, ProviderOdsKey } from '../src/temporal/search-attributes.js';
import { runLadder, type LadderContext } from './alert-ladder.js';
import {
  acknowledgeUpdate,
  admissionEventSignal,
  admissionStateQuery,
  rematchSignal,
  closeSignal,
  resendSignal,
  type AdmissionWorkflowInput,
  type ResendRequest,
} from './definitions.js';
import { contactLabel, currentDetails, formatDuration } from './details.js';
import { roundSuffix, StayState, type AlertState } from './stay-state.js';

/**
 * Patches (STYLE.md rule 8): behaviour that running workflows of the previous version did not have. Each is asked
 * only where its new commands would be issued, so an old history replays unchanged and an old workflow takes the
 * new rules from its next live workflow task on.
 */
const PATCH = {
  /** an identity correction (A08, A31, A34, A40, A47) matches the stay again (CONTRACT.md "Identity corrections") */
  identityRematch: 'identity-rematch',
  /** an operator's review resolution matches the stay again */
  reviewRematch: 'review-rematch',
  /** a discharge while the same person has a newer open stay raises no discharge alert ("Readmission") */
  newerStay: 'newer-stay-check',
  /** an unmatched stay tells the operators once after REVIEW_ALERT_MINUTES ("Unmatched, never silent") */
  reviewWaiting: 'review-waiting',
  /** a stay with no discharge ends after MAX_STAY_DAYS */
  maxStay: 'max-stay',
  /** the run continues as new when Temporal suggests it or its history passes its limit */
  continueAsNew: 'continue-as-new',
  /** an operator closes the stay (`close` signal) */
  operatorClose: 'operator-close',
  /**
   * "Request Cancellation" in the Temporal UI (`temporal workflow cancel`) closes the stay as the `close` signal
   * does, and the run then completes at once instead of ending Canceled
   */
  operatorCancel: 'operator-cancel',
  /** an operator or the provider resends an alert (`resend` signal): its ladder starts again from step 1 */
  alertResend: 'alert-resend',
  /** a later event reopens a stay an operator closed: its admission alert withdrawn on closing is open again */
  reopenClosed: 'reopen-closed',
  /**
   * less work for Temporal per stay (README "Work per stay"), one patch so that a stay carries one marker: a stay of
   * nobody's client (`no-care-package`) completes at once instead of lingering (a later event reopens it from
   * PostgreSQL); the max-stay timer starts only once the stay has something to follow; the search attributes a
   * reconcile changes are upserted together, once; the short PostgreSQL steps run as local activities
   */
  workPerStay: 'work-per-stay',
  /**
   * everything of work-per-stay (which a run started with this patch does not ask for, so that it carries one marker
   * and one change-version upsert), and fewer round trips on an alert's critical path (README "Work per stay"): a new
   * stay is loaded and matched by one local activity, and a delivery's first attempt is a local activity (sent inside
   * the workflow task that raised the alert; a retryable failure falls back to the delivery activity and its
   * retries); an acknowledgement is recorded by a local activity inside the Update's workflow task; an escalating
   * alert loaded open resumes its ladder (hazard H30)
   */
  openStay: 'open-stay',
} as const;

/** Defaults for workflows started without these inputs (started by an earlier version). */
const DEFAULT_REVIEW_ALERT_SECONDS = 30 * 60;
const DEFAULT_MAX_STAY_SECONDS = 100 * 24 * 3600;
/** a run continues as new past this many history events even when Temporal does not suggest it yet */
const DEFAULT_HISTORY_LIMIT = 10_000;
/** the longest a timer may be (Temporal's limit is about 100 years; the SDK refuses more than 2^31 - 1 ms per sleep) */
const MAX_SLEEP_MS = 2_147_483_647;

const acts = proxyActivities<AdmissionActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});
/**
 * The short, idempotent PostgreSQL steps on an alert's critical path, run as local activities (no activity task, no
 * extra workflow task; README "Work per stay"): load the stay, match it, raise an alert, record the stay, record an
 * acknowledgement (since open-stay). Each may run again after a crash with the same effect (reads; an upsert of the
 * stay; an alert keyed by its stay, provider and key; the first acknowledgement of an alert stands).
 */
const localActs = proxyLocalActivities<
  Pick<AdmissionActivities, 'openAdmission' | 'matchProviders' | 'raiseAlert' | 'recordAdmission' | 'acknowledgeAlert'>
>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});
/**
 * A delivery's first attempt, inside the workflow task (no activity task, no workflow task to learn the result):
 * one attempt, long enough for the webhook's or Notify's own timeout; a retryable failure goes on as the delivery
 * activity below, whose next attempt first asks Notify whether this one got through.
 */
const localDeliveryActs = proxyLocalActivities<Pick<AdmissionActivities, 'deliver'>>({
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 1 },
});
const deliveryActs = proxyActivities<Pick<AdmissionActivities, 'deliver'>>({
  startToCloseTimeout: '60s',
  // deliver heartbeats every second: a worker that dies mid-send is noticed (and the delivery retried, which
  // first asks Notify for the reference) after 5 s instead of the whole start-to-close timeout
  heartbeatTimeout: '5s',
  scheduleToCloseTimeout: '12h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

type Provider = ProviderMatch;

/** An admission alert withdrawn because an operator closed the stay. */
const closedByOperator = (a: KnownAlert): boolean =>
  a.kind === 'admission' && a.status === 'withdrawn' && withdrawnReasonCode(a.withdrawnReason) === 'closed-by-operator';

/**
 * Checks an acknowledgement before it is accepted into the history (an Update validator must not change state):
 * who acknowledges, and an outcome this alert offers when the workflow knows the alert.
 */
export function validateAcknowledge(state: StayState, req: AcknowledgeInput): void {
  if (typeof req?.alertId !== 'string' || req.alertId === '') throw new Error('alertId is required');
  if (typeof req.by !== 'string' || req.by.trim() === '' || req.by.length > 200) {
    throw new Error('by must say who acknowledges (at most 200 characters)');
  }
  if (req.outcome === undefined) return;
  if (!ACK_OUTCOMES.includes(req.outcome)) throw new Error(`outcome ${String(req.outcome)} is not an outcome`);
  const a = state.alerts.get(req.alertId);
  if (a && a.status !== 'acknowledged' && !allowedOutcomes(a.kind, a).includes(req.outcome)) {
    throw new Error(`outcome ${req.outcome} is not allowed for this ${a.kind} alert`);
  }
}

/**
 * The stay's workflow. It runs in a scope that Temporal's cancellation does not reach: a cancellation request
 * ("Request Cancellation" in the Web UI, `temporal workflow cancel`) is an operator closing the stay, carried out as
 * the `close` signal is (status `closed`, `closed-by-operator`, waiting alerts withdrawn, PostgreSQL told), after
 * which the run completes normally; a later event starts a new run that reopens the stay.
 */
export async function admissionWorkflow(input: AdmissionWorkflowInput): Promise<AdmissionStatus> {
  const cancelled = { requested: false, onRequest: () => undefined as void };
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    if (!isCancellation(err) || !patched(PATCH.operatorCancel)) return;
    cancelled.requested = true;
    cancelled.onRequest();
  });
  return CancellationScope.nonCancellable(() => followStay(input, cancelled));
}

async function followStay(
  input: AdmissionWorkflowInput,
  cancelled: { requested: boolean; onRequest: () => void },
): Promise<AdmissionStatus> {
  const state = input.carried
    ? StayState.restore(input.carried)
    : new StayState(workflowInfo().startTime.toISOString());
  let ready = false;
  let dirty = true;
  /** ladders and other work (the review timer) still running: the run may not end or continue as new */
  let running = 0;
  let quiet = false; // nothing left to follow (see isQuiet), as of the last reconcile
  let expired = false; // the stay passed MAX_STAY_DAYS without a discharge
  let recorded = '';
  let searchAttributes = '';
  /** ProviderOds as last matched, not yet upserted (upserted with the status at the end of the reconcile) */
  let providerOdsPending: string[] | undefined;

  /** events signalled to this run so far (new or not): a match read before the latest one may be out of date */
  let signalled = 0;
  setHandler(admissionEventSignal, (ev) => {
    signalled++;
    if (state.eventReceived(ev)) dirty = true;
  });
  let closeRequested = false;
  setHandler(closeSignal, () => {
    closeRequested = true;
    dirty = true;
  });
  // a cancellation request closes the stay; the run then ends without waiting for late events
  let endWhenClosed = false;
  cancelled.onRequest = () => {
    closeRequested = true;
    endWhenClosed = true;
    dirty = true;
  };
  if (cancelled.requested) cancelled.onRequest();
  const resends: ResendRequest[] = [];
  setHandler(resendSignal, (req) => {
    resends.push(req);
    dirty = true;
  });
  setHandler(rematchSignal, () => {
    state.rematchRequested = true;
    dirty = true;
  });
  /** set once the run knows its version (open-stay), before any acknowledgement is handled (they wait for `ready`) */
  let ackLocally = false;
  setHandler(
    acknowledgeUpdate,
    async (req) => {
      await condition(() => ready); // the alerts of a reopened stay are loaded first
      // a local activity since open-stay: the acknowledgement is recorded inside the Update's workflow task
      const result = await (ackLocally ? localActs : acts).acknowledgeAlert.executeWithOptions(
        { summary: `record the acknowledgement of alert ${req.alertId.slice(0, 8)}` },
        [req],
      );
      state.acknowledgementRecorded(req.alertId, result.status, result.acknowledgedBy, result.outcome);
      showDetails();
      dirty = true;
      return result;
    },
    { validator: (req) => validateAcknowledge(state, req) },
  );
  setHandler(admissionStateQuery, () => ({
    status: state.status,
    statusReasonCode: state.statusReasonCode ?? null,
    events: state.events.size,
    alerts: [...state.alerts.values()].map((a) => ({
      alertId: a.alertId,
      providerId: a.providerId,
      kind: a.kind,
      status: a.status,
      step: a.step,
    })),
  }));

  // a new run carries one marker: open-stay includes work-per-stay (a run of either version replays as it ran)
  const fewerTrips = patched(PATCH.openStay);
  const lean = fewerTrips || patched(PATCH.workPerStay);
  const pg = lean ? localActs : acts;
  ackLocally = fewerTrips;
  /** the match read with the stay when it was opened, and how many events had been signalled by then */
  let prefetched: { match: MatchResult; signalled: number } | undefined;
  if (!input.carried) {
    // a stay reopened by a late event after its workflow completed carries on from what PostgreSQL recorded; a stay
    // whose events so far concern providers is matched in the same round trip
    const match = fewerTrips && needsProviders(foldSpell([...state.events.values()]));
    const signalledAtOpen = signalled;
    const opened = await pg.openAdmission.executeWithOptions(
      {
        summary: match
          ? "load the stay from PostgreSQL (events and alerts so far) and match the patient to providers' clients"
          : 'load the stay from PostgreSQL (events and alerts so far)',
      },
      [{ admissionId: input.admissionId, ...(match ? { match: true } : {}) }],
    );
    state.opened(opened.priorEvents, opened.alerts, foldSpell(opened.priorEvents).moves);
    if (opened.match) prefetched = { match: opened.match, signalled: signalledAtOpen };
  }
  ready = true;

  const ladder: LadderContext = {
    acts: {
      deliver: deliveryActs.deliver,
      ...(fewerTrips ? { deliverLocally: localDeliveryActs.deliver } : {}),
      markUnacknowledged: acts.markUnacknowledged,
      recordDeliveryFailure: acts.recordDeliveryFailure,
    },
    contactLabel: (id) => contactLabel(state, id),
    isDone: (id) => state.isDone(id),
    runOf: (id) => state.runOf(id),
    stepSent: (id, step) => {
      state.stepSent(id, step);
      dirty = true;
    },
    contactReached: (id, pair) => {
      state.contactReached(id, pair);
      dirty = true;
    },
    contactTried: (id, tried) => {
      state.contactTried(id, tried);
      showDetails();
    },
    waiting: (id, until) => {
      state.waiting(id, until);
      showDetails();
    },
    gaveUp: (id) => {
      state.gaveUp(id);
      dirty = true;
    },
  };

  /** The stay as the Temporal UI's "current details" shows it (no patient data: see workflows/details.ts). */
  function showDetails(): void {
    setCurrentDetails(currentDetails(state));
  }

  /** Runs `work` beside the main loop; the run does not end (or continue as new) until it finishes. */
  function alongside(work: () => Promise<void>): void {
    running++;
    void work().finally(() => {
      running--;
      dirty = true;
    });
  }

  function startLadder(a: AlertState, policy: EscalationPolicy, targets?: ContactChannel[]) {
    alongside(() => runLadder(ladder, a, policy, targets, a.resend));
  }

  /**
   * `POST /v1/alerts/{id}/resend`: an alert still awaiting an acknowledgement starts its ladder again from step 1,
   * with new deliveries and links; an informational alert is sent once more to whoever it reached. An alert
   * acknowledged or withdrawn meanwhile is left alone.
   */
  async function resend(req: ResendRequest): Promise<void> {
    const a = state.alerts.get(req.alertId);
    if (!a || (a.status !== 'open' && a.status !== 'unacknowledged') || !patched(PATCH.alertResend)) return;
    const restarted = await acts.restartAlert.executeWithOptions(
      { summary: `restart the ${a.kind} alert's ladder from step 1 (resend ${req.resend})` },
      [{ alertId: a.alertId, providerId: a.providerId }],
    );
    state.contactsKnown(restarted.contacts);
    if (restarted.status !== 'open' || state.isDone(a.alertId)) return;
    state.alertResent(a.alertId, req.resend);
    startLadder(a, restarted.policy, escalates(a.kind) || a.reached.length === 0 ? undefined : dedupe(a.reached));
  }

  async function apply(p: Provider, action: AlertAction): Promise<void> {
    switch (action.type) {
      case 'raise': {
        const alertKey = action.alertKey + roundSuffix(state.roundOf(p.providerId));
        const raised = await pg.raiseAlert.executeWithOptions(
          { summary: `raise the ${action.kind} alert for ${p.providerOds}` },
          [
            {
              admissionId: input.admissionId,
              providerId: p.providerId,
              clientId: p.clientId,
              alertKey,
              kind: action.kind,
              messageId: action.messageId,
              occurredAt: action.occurredAt,
              ...(action.cancels ? { cancels: action.cancels } : {}),
              ...(action.destinationCategory ? { destinationCategory: action.destinationCategory } : {}),
            },
          ],
        );
        state.contactsKnown(raised.contacts);
        const a = state.alertRaised({
          alertId: raised.alertId,
          providerId: p.providerId,
          alertKey,
          kind: action.kind,
          status: raised.status,
          reached: [],
          coveredMoves: action.coveredMoves,
          ...(action.cancels ? { cancels: action.cancels } : {}),
          ...(action.destinationCategory ? { destinationCategory: action.destinationCategory } : {}),
        });
        if (a.status === 'open') startLadder(a, raised.policy, action.targets);
        return;
      }
      case 'withdraw': {
        if (!state.alertWithdrawn(action.alertId, action.reason)) return;
        await acts.withdrawAlert.executeWithOptions(
          {
            summary: `withdraw ${p.providerOds}'s ${state.alerts.get(action.alertId)?.kind ?? ''} alert (${action.reason})`,
          },
          [{ alertId: action.alertId, reason: action.reason }],
        );
        return;
      }
      case 'reopen': {
        const a = state.alerts.get(action.alertId);
        if (!a || a.status !== 'withdrawn') return;
        const reopened = await acts.reopenAlert.executeWithOptions(
          { summary: `reopen ${p.providerOds}'s ${a.kind} alert` },
          [{ alertId: a.alertId, providerId: p.providerId }],
        );
        state.contactsKnown(reopened.contacts);
        state.alertReopened(a.alertId, reopened.status);
        if (reopened.status === 'open') startLadder(a, reopened.policy);
        return;
      }
    }
  }

  /** Matches the stay (again) when it concerns providers and something that decides the match has changed. */
  async function rematchIfNeeded(needed: boolean): Promise<void> {
    if (!needed) return;
    const identityEvents = [...state.events.values()].filter((e) => IDENTITY_TRIGGERS.has(e.trigger)).length;
    const first = state.match?.status !== 'matched' && state.matchedAtEvents !== state.events.size;
    const again =
      !first &&
      ((identityEvents !== state.matchedAtIdentity && patched(PATCH.identityRematch)) ||
        (state.rematchRequested && patched(PATCH.reviewRematch)));
    if (!first && !again) return;
    const before = state.providers;
    // read when the stay was opened, if no event has been signalled since (it would have been read after it)
    const early = first && prefetched?.signalled === signalled ? prefetched.match : undefined;
    prefetched = undefined;
    const match =
      early ??
      (await pg.matchProviders.executeWithOptions(
        { summary: "match the patient to providers' clients (NHS number and date of birth)" },
        [{ admissionId: input.admissionId }],
      ));
    state.matched(match, identityEvents);
    const latest = latestEventAt();
    for (const p of before) {
      if (state.providers.some((n) => n.providerId === p.providerId)) continue;
      // no longer this provider's client: withdraw what it was told and tell whoever it reached, once
      const actions = planWrongPatient(state.alertsOf(p.providerId), state.roundOf(p.providerId), latest);
      for (const action of actions) await apply(p, action);
      state.providerDropped(p.providerId);
    }
    const ods = (ps: Provider[]) => ps.map((p) => p.providerOds).sort();
    const changed = ods(state.providers).join() !== ods(before).join();
    const value = match.status === 'matched' && (changed || again) ? ods(state.providers) : changed ? [] : undefined;
    if (value && lean) providerOdsPending = value;
    else if (value) upsertSearchAttributes([{ key: ProviderOdsKey, value }]);
  }

  async function reconcile(): Promise<void> {
    for (const req of resends.splice(0)) await resend(req);
    const spell = foldSpell([...state.events.values()]);
    await rematchIfNeeded(needsProviders(spell));
    const keys = spellKeys(spell);
    const matched = state.match?.status === 'matched';
    // a matched stay has something to follow: its longest-stay timer starts before its first alert is raised
    if (matched && lean && !maxStayStarted) startMaxStayTimer();
    if (
      matched &&
      spell.discharged &&
      !spell.died &&
      !state.newerStay.has(keys.discharge) &&
      state.providers.some((p) => !state.alertsOf(p.providerId).some((a) => a.alertKey === keys.discharge)) &&
      patched(PATCH.newerStay)
    ) {
      const newer = await acts.findNewerStay.executeWithOptions(
        { summary: 'look for a newer open stay of the same person' },
        [{ admissionId: input.admissionId }],
      );
      state.newerStay.set(keys.discharge, newer);
    }
    const newerStayOpen = spell.discharged && state.newerStay.get(keys.discharge) === true;
    if (closeRequested && patched(PATCH.operatorClose)) {
      closeRequested = false;
      state.closedAtEvents = state.events.size;
    }
    // a later event reopens a stay an operator closed
    if (state.closedAtEvents !== undefined && state.events.size > state.closedAtEvents)
      state.closedAtEvents = undefined;
    if (matched) {
      const latest = latestEventAt();
      const reopenClosed =
        state.closedAtEvents === undefined &&
        spell.admitted &&
        !spell.discharged &&
        !spell.cancelled &&
        state.providers.some((p) => state.alertsOf(p.providerId).some(closedByOperator)) &&
        patched(PATCH.reopenClosed);
      for (const p of state.providers) {
        const actions = planProviderAlerts(spell, state.alertsOf(p.providerId), latest, {
          newerStayOpen,
          reopenClosed,
        });
        for (const action of actions) await apply(p, action);
        if (actions.length > 0) dirty = true; // re-plan until the plan is empty
      }
    }
    const current = state.providers.flatMap((p) => state.alertsOf(p.providerId));
    state.status = admissionStatus(spell, state.match?.status, current);
    state.statusReasonCode =
      state.match?.status === 'unmatched'
        ? state.match.reasonCode
        : (state.status === 'discharged' || state.status === 'closed') && newerStayOpen && !spell.died
          ? 'newer-stay-open'
          : undefined;
    if (state.closedAtEvents !== undefined) await close('closed-by-operator');
    else if (expired && !isQuiet(state.status, spell) && state.status !== 'closed') await close('stay-expired');
    await record(spell);
    updateSearchAttributes();
    // a discharge while a newer stay is open raised nothing to acknowledge: nothing left to follow
    quiet =
      isQuiet(state.status, spell) ||
      (state.status === 'discharged' && state.statusReasonCode === 'newer-stay-open') ||
      state.statusReasonCode === 'stay-expired' ||
      state.statusReasonCode === 'closed-by-operator';
    if (state.status === 'unmatched' && !state.reviewTimerStarted && patched(PATCH.reviewWaiting)) startReviewTimer();
    showDetails();
  }

  async function record(spell: ReturnType<typeof foldSpell>): Promise<void> {
    const match = state.match;
    const record = {
      admissionId: input.admissionId,
      status: state.status,
      statusReason: match?.status === 'unmatched' ? match.reason : undefined,
      ...(state.statusReasonCode ? { statusReasonCode: state.statusReasonCode } : {}),
      admittedAt: spell.admittedAt,
      dischargedAt: spell.discharged ? spell.dischargedAt : undefined,
      location: spell.location,
      expectedDischargeDate: spell.expectedDischargeDate,
      onLeave: spell.onLeave,
    };
    if (JSON.stringify(record) !== recorded) {
      recorded = JSON.stringify(record);
      await pg.recordAdmission.executeWithOptions(
        {
          summary: `record the stay in PostgreSQL: ${state.status}${state.statusReasonCode ? ` (${state.statusReasonCode})` : ''}`,
        },
        [record],
      );
    }
  }

  /**
   * Closes the stay: no discharge within MAX_STAY_DAYS (`stay-expired`), or an operator's action
   * (`closed-by-operator`). Status `closed` with the reason, so operators see it; alerts still awaiting an
   * acknowledgement are withdrawn (their ladders stop). Visits are not resumed: nobody is told they may.
   */
  async function close(reason: 'stay-expired' | 'closed-by-operator'): Promise<void> {
    for (const p of state.providers) {
      for (const a of state.alertsOf(p.providerId)) {
        if (a.status === 'open' || a.status === 'unacknowledged') {
          await apply(p, { type: 'withdraw', alertId: a.alertId, reason });
        }
      }
    }
    state.status = 'closed';
    state.statusReasonCode = reason;
  }

  /**
   * An unmatched stay waits in the review queue; if it is still unmatched after REVIEW_ALERT_MINUTES, the operators
   * are told once. The timer keeps the workflow open (an unmatched stay is otherwise quiet).
   */
  function startReviewTimer(): void {
    state.reviewTimerStarted = true;
    const wait = (input.reviewAlertSeconds ?? DEFAULT_REVIEW_ALERT_SECONDS) * 1000;
    alongside(async () => {
      const resolved = await condition(() => state.status !== 'unmatched', wait, {
        summary: `wait ${formatDuration(wait / 1000)} for the review queue, then tell the operators`,
      });
      if (!resolved) {
        await acts.notifyReviewWaiting.executeWithOptions(
          { summary: 'tell the operators the stay waits in the review queue' },
          [{ admissionId: input.admissionId }],
        );
      }
    });
  }

  function latestEventAt(): string {
    let latest = '';
    for (const ev of state.events.values()) if (ev.eventAt > latest) latest = ev.eventAt;
    return latest;
  }

  /**
   * `AdmissionStatus`, and `EscalationStep`: the highest step reached by an alert of this stay that still awaits an
   * acknowledgement (open or unacknowledged, escalating kinds); 0 when none does.
   */
  function updateSearchAttributes(): void {
    let step = 0;
    for (const a of state.alerts.values()) {
      if ((a.status === 'open' || a.status === 'unacknowledged') && escalates(a.kind)) step = Math.max(step, a.step);
    }
    const next = `${state.status}|${step}`;
    const attributes: Parameters<typeof upsertSearchAttributes>[0] = [];
    if (providerOdsPending) attributes.push({ key: ProviderOdsKey, value: providerOdsPending });
    providerOdsPending = undefined;
    if (next !== searchAttributes) {
      searchAttributes = next;
      attributes.push({ key: AdmissionStatusKey, value: state.status }, { key: EscalationStepKey, value: step });
    }
    if (attributes.length > 0) upsertSearchAttributes(attributes);
  }

  /** Temporal suggests a new run, or this run's history passed its limit. */
  function historyFull(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? DEFAULT_HISTORY_LIMIT);
  }

  // the longest stay followed: a stay with no discharge is closed after it (counted from the first run's start)
  let maxStayStarted = false;
  function startMaxStayTimer(): void {
    maxStayStarted = true;
    const deadline = Date.parse(state.startedAt) + (input.maxStaySeconds ?? DEFAULT_MAX_STAY_SECONDS) * 1000;
    void (async () => {
      for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now())
        await sleep(Math.min(left, MAX_SLEEP_MS), {
          summary: `longest stay: close the stay at ${new Date(deadline).toISOString()} if no discharge arrives`,
        });
      expired = true;
      dirty = true;
    })();
  }
  // a quiet stay (nobody's client, in review, cancelled, closed) is never closed as expired: it needs no timer
  if (!lean && patched(PATCH.maxStay)) startMaxStayTimer();

  // An escalating alert loaded open from PostgreSQL was raised by a run that ended before its ladder did: a worker
  // died inside the workflow task that raised it (local activities commit before the task does), or the run was
  // terminated. A run that completes leaves none open (hazard H30). Its ladder resumes from step 1; a delivery
  // already made is not made again (its id is alert + step + contact + channel), and one left pending is retried
  // (an SMS or email first asks Notify whether the lost attempt got through).
  if (fewerTrips) {
    for (const a of state.alerts.values()) if (a.status === 'open' && escalates(a.kind)) resumeLadder(a);
  }
  function resumeLadder(a: AlertState): void {
    alongside(async () => {
      const resumed = await acts.reopenAlert.executeWithOptions(
        { summary: `resume the ${a.kind} alert's ladder from step 1 (its run ended before the ladder did)` },
        [{ alertId: a.alertId, providerId: a.providerId }],
      );
      state.contactsKnown(resumed.contacts);
      if (resumed.status === 'open' && !state.isDone(a.alertId)) startLadder(a, resumed.policy);
    });
  }

  for (;;) {
    if (!dirty) {
      if (running === 0 && historyFull() && patched(PATCH.continueAsNew)) {
        // a long stay's history is bounded: carry the state into a new run once nothing is in flight
        await condition(allHandlersFinished);
        if (!dirty && running === 0) {
          return continueAsNew<typeof admissionWorkflow>({ ...input, carried: state.snapshot() });
        }
      } else if (quiet && running === 0 && endWhenClosed && state.closedAtEvents !== undefined) {
        // cancelled from the Temporal UI and closed: the run completes now; a later event starts a new one
        await condition(allHandlersFinished);
        if (!dirty) break;
      } else if (quiet && running === 0 && lean && state.status === 'no-care-package') {
        // nobody's client: nothing to follow, nothing to review; the run completes now and a later event (the
        // person became a client, a discharge, a correction) starts a new run that reopens the stay from PostgreSQL
        await condition(allHandlersFinished);
        if (!dirty) break;
      } else if (quiet && running === 0) {
        // a finished stay waits a while for late events, then completes; any later event reopens it
        await condition(() => dirty, input.lingerSeconds * 1000, {
          summary: `wait ${formatDuration(input.lingerSeconds)} for late events, then complete`,
        });
        if (!dirty) {
          await condition(allHandlersFinished);
          if (!dirty) break;
        }
      } else {
        await condition(() => dirty);
      }
    }
    if (dirty) {
      dirty = false;
      await reconcile();
      if (lean && !quiet && !maxStayStarted) startMaxStayTimer();
    }
  }
  return state.status;
}
