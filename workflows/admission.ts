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
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { AdmissionActivities, MatchResult, ProviderMatch } from '../activities/types.js';
import type { AdmissionStatus, EventSummary } from '../src/domain/admission-event.js';
import {
  admissionStatus,
  isQuiet,
  planProviderAlerts,
  planWrongPatient,
  type AlertAction,
  type KnownAlert,
} from '../src/domain/alert-plan.js';
import { IDENTITY_TRIGGERS, type StatusReasonCode } from '../src/domain/clinical.js';
import { escalates, type EscalationPolicy } from '../src/domain/escalation.js';
import { foldSpell, needsProviders, spellKeys } from '../src/domain/spell.js';
import { AdmissionStatusKey, EscalationStepKey, ProviderOdsKey } from '../src/temporal/search-attributes.js';
import { runLadder, type AlertState, type LadderContext } from './alert-ladder.js';
import {
  acknowledgeUpdate,
  admissionEventSignal,
  admissionStateQuery,
  rematchSignal,
  type AdmissionWorkflowInput,
} from './definitions.js';

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
} as const;

/** Thirty minutes: REVIEW_ALERT_MINUTES's default, for workflows started without it. */
const DEFAULT_REVIEW_ALERT_SECONDS = 30 * 60;

/** Keys of a provider's alerts after it was dropped by `round` identity corrections carry `~<round>`. */
const roundSuffix = (round: number): string => (round === 0 ? '' : `~${round}`);

const acts = proxyActivities<AdmissionActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
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

export async function admissionWorkflow(input: AdmissionWorkflowInput): Promise<AdmissionStatus> {
  const events = new Map<string, EventSummary>();
  const alerts = new Map<string, AlertState>(); // by alert id, in the order raised
  const acknowledged = new Set<string>(); // acknowledged through this workflow before its alert was known here
  let ready = false;
  let dirty = true;
  let ladders = 0;
  let match: MatchResult | undefined;
  let matchedAtEvents = -1;
  /** identity-changing events (IDENTITY_TRIGGERS) seen when the stay was last matched */
  let matchedAtIdentity = 0;
  let rematchRequested = false;
  /** the providers matched now, and how many identity corrections dropped each provider (keys its alerts) */
  let providers: Provider[] = [];
  const rounds = new Map<string, number>();
  /** per discharge key: whether the person had a newer open stay when this discharge was first planned */
  const newerStay = new Map<string, boolean>();
  let reviewTimerStarted = false;
  let statusReasonCode: StatusReasonCode | undefined;
  let status: AdmissionStatus = 'received';
  let quiet = false; // nothing left to follow (see isQuiet), as of the last reconcile
  let recorded = '';
  let searchAttributes = '';

  setHandler(admissionEventSignal, (ev) => {
    if (events.has(ev.messageId)) return;
    events.set(ev.messageId, ev);
    dirty = true;
  });
  setHandler(rematchSignal, () => {
    rematchRequested = true;
    dirty = true;
  });
  setHandler(acknowledgeUpdate, async (req) => {
    await condition(() => ready); // the alerts of a reopened stay are loaded first
    const result = await acts.acknowledgeAlert(req);
    const a = alerts.get(req.alertId);
    if (a) a.status = result.status;
    else if (result.status === 'acknowledged') acknowledged.add(req.alertId);
    dirty = true;
    return result;
  });
  setHandler(admissionStateQuery, () => ({
    status,
    ...(statusReasonCode ? { statusReasonCode } : {}),
    events: events.size,
    alerts: [...alerts.values()].map((a) => ({
      alertId: a.alertId,
      providerId: a.providerId,
      kind: a.kind,
      status: a.status,
      step: a.step,
    })),
  }));

  // a stay reopened by a late event after its workflow completed carries on from what PostgreSQL recorded;
  // every move it knew of was already told (or reflected in the admission alert)
  const opened = await acts.openAdmission({ admissionId: input.admissionId });
  const knownMoves = foldSpell(opened.priorEvents).moves;
  for (const ev of opened.priorEvents) if (!events.has(ev.messageId)) events.set(ev.messageId, ev);
  for (const a of opened.alerts) {
    alerts.set(a.alertId, { ...a, step: a.escalationStep, run: 0, coveredMoves: [...knownMoves] });
  }
  ready = true;

  const ctx: LadderContext = {
    acts,
    deliver: deliveryActs.deliver,
    isDone: (a) => a.status === 'acknowledged' || a.status === 'withdrawn',
    onChange: () => {
      dirty = true;
    },
  };

  function startLadder(a: AlertState, policy: EscalationPolicy, targets?: AlertState['reached']) {
    ladders++;
    void runLadder(ctx, a, policy, targets).finally(() => {
      ladders--;
      dirty = true;
    });
  }

  async function apply(p: Provider, action: AlertAction): Promise<void> {
    switch (action.type) {
      case 'raise': {
        const alertKey = action.alertKey + roundSuffix(rounds.get(p.providerId) ?? 0);
        const raised = await acts.raiseAlert({
          admissionId: input.admissionId,
          providerId: p.providerId,
          clientId: p.clientId,
          alertKey,
          kind: action.kind,
          messageId: action.messageId,
          occurredAt: action.occurredAt,
          ...(action.cancels ? { cancels: action.cancels } : {}),
          ...(action.destinationCategory ? { destinationCategory: action.destinationCategory } : {}),
        });
        const a: AlertState = {
          alertId: raised.alertId,
          providerId: p.providerId,
          alertKey,
          kind: action.kind,
          status: acknowledged.has(raised.alertId) ? 'acknowledged' : raised.status,
          reached: [],
          coveredMoves: action.coveredMoves,
          step: 0,
          run: 0,
        };
        alerts.set(a.alertId, a);
        if (a.status === 'open') startLadder(a, raised.policy, action.targets);
        return;
      }
      case 'withdraw': {
        const a = alerts.get(action.alertId);
        if (!a || a.status === 'withdrawn') return;
        a.status = 'withdrawn';
        a.withdrawnReason = action.reason;
        await acts.withdrawAlert({ alertId: a.alertId, reason: action.reason });
        return;
      }
      case 'reopen': {
        const a = alerts.get(action.alertId);
        if (!a || a.status !== 'withdrawn') return;
        const reopened = await acts.reopenAlert({ alertId: a.alertId, providerId: p.providerId });
        a.status = reopened.status;
        a.withdrawnReason = undefined;
        a.run++;
        if (a.status === 'open') startLadder(a, reopened.policy);
        return;
      }
    }
  }

  /** The provider's alerts of its current round, keyed as the plan knows them (without the round suffix). */
  function alertsOf(providerId: string): KnownAlert[] {
    const suffix = roundSuffix(rounds.get(providerId) ?? 0);
    const out: KnownAlert[] = [];
    for (const a of alerts.values()) {
      if (a.providerId !== providerId) continue;
      const round = /~(\d+)$/.exec(a.alertKey);
      if ((round ? `~${round[1]}` : '') !== suffix) continue;
      out.push(suffix === '' ? a : { ...a, alertKey: a.alertKey.slice(0, -suffix.length) });
    }
    return out;
  }

  /** Matches the stay (again) when it concerns providers and something that decides the match has changed. */
  async function rematchIfNeeded(needed: boolean): Promise<void> {
    if (!needed) return;
    const identityEvents = [...events.values()].filter((e) => IDENTITY_TRIGGERS.has(e.trigger)).length;
    const first = match?.status !== 'matched' && matchedAtEvents !== events.size;
    const again =
      !first &&
      ((identityEvents !== matchedAtIdentity && patched(PATCH.identityRematch)) ||
        (rematchRequested && patched(PATCH.reviewRematch)));
    if (!first && !again) return;
    matchedAtEvents = events.size;
    matchedAtIdentity = identityEvents;
    rematchRequested = false;
    match = await acts.matchProviders({ admissionId: input.admissionId });
    const next = match.status === 'matched' ? match.providers : [];
    const latest = latestEventAt();
    for (const p of providers) {
      if (next.some((n) => n.providerId === p.providerId)) continue;
      // no longer this provider's client: withdraw what it was told and tell whoever it reached, once
      const round = rounds.get(p.providerId) ?? 0;
      const actions = planWrongPatient(alertsOf(p.providerId), round, latest);
      for (const action of actions) await apply(p, action);
      rounds.set(p.providerId, round + 1);
    }
    const changed = next.map((p) => p.providerOds).sort().join() !== providers.map((p) => p.providerOds).sort().join();
    providers = next;
    if (match.status === 'matched' && (changed || again)) {
      upsertSearchAttributes([{ key: ProviderOdsKey, value: providers.map((p) => p.providerOds).sort() }]);
    } else if (changed) {
      upsertSearchAttributes([{ key: ProviderOdsKey, value: [] }]);
    }
  }

  async function reconcile(): Promise<void> {
    const spell = foldSpell([...events.values()]);
    await rematchIfNeeded(needsProviders(spell));
    const keys = spellKeys(spell);
    if (
      match?.status === 'matched' &&
      spell.discharged &&
      !spell.died &&
      !newerStay.has(keys.discharge) &&
      providers.some((p) => !alertsOf(p.providerId).some((a) => a.alertKey === keys.discharge)) &&
      patched(PATCH.newerStay)
    ) {
      newerStay.set(keys.discharge, await acts.findNewerStay({ admissionId: input.admissionId }));
    }
    const newerStayOpen = spell.discharged && newerStay.get(keys.discharge) === true;
    if (match?.status === 'matched') {
      const latest = latestEventAt();
      for (const p of providers) {
        const actions = planProviderAlerts(spell, alertsOf(p.providerId), latest, { newerStayOpen });
        for (const action of actions) await apply(p, action);
        if (actions.length > 0) dirty = true; // re-plan until the plan is empty
      }
    }
    const current = providers.flatMap((p) => alertsOf(p.providerId));
    status = admissionStatus(spell, match?.status, current);
    statusReasonCode =
      match?.status === 'unmatched'
        ? match.reasonCode
        : status === 'discharged' || status === 'closed'
          ? newerStayOpen && !spell.died
            ? 'newer-stay-open'
            : undefined
          : undefined;
    const record = {
      admissionId: input.admissionId,
      status,
      statusReason: match?.status === 'unmatched' ? match.reason : undefined,
      ...(statusReasonCode ? { statusReasonCode } : {}),
      admittedAt: spell.admittedAt,
      dischargedAt: spell.discharged ? spell.dischargedAt : undefined,
      location: spell.location,
      expectedDischargeDate: spell.expectedDischargeDate,
      onLeave: spell.onLeave,
    };
    if (JSON.stringify(record) !== recorded) {
      recorded = JSON.stringify(record);
      await acts.recordAdmission(record);
    }
    updateSearchAttributes();
    // a discharge while a newer stay is open raised nothing to acknowledge: nothing left to follow
    quiet = isQuiet(status, spell) || (status === 'discharged' && statusReasonCode === 'newer-stay-open');
    if (status === 'unmatched' && !reviewTimerStarted && patched(PATCH.reviewWaiting)) startReviewTimer();
  }

  /**
   * An unmatched stay waits in the review queue; if it is still unmatched after REVIEW_ALERT_MINUTES, the operators
   * are told once. The timer keeps the workflow open (an unmatched stay is otherwise quiet).
   */
  function startReviewTimer(): void {
    reviewTimerStarted = true;
    ladders++;
    const wait = (input.reviewAlertSeconds ?? DEFAULT_REVIEW_ALERT_SECONDS) * 1000;
    void (async () => {
      const resolved = await condition(() => status !== 'unmatched', wait);
      if (!resolved) await acts.notifyReviewWaiting({ admissionId: input.admissionId });
    })().finally(() => {
      ladders--;
      dirty = true;
    });
  }

  function latestEventAt(): string {
    let latest = '';
    for (const ev of events.values()) if (ev.eventAt > latest) latest = ev.eventAt;
    return latest;
  }

  /**
   * `AdmissionStatus`, and `EscalationStep`: the highest step reached by an alert of this stay that still awaits an
   * acknowledgement (open or unacknowledged, escalating kinds); 0 when none does.
   */
  function updateSearchAttributes(): void {
    let step = 0;
    for (const a of alerts.values()) {
      if ((a.status === 'open' || a.status === 'unacknowledged') && escalates(a.kind)) step = Math.max(step, a.step);
    }
    const next = `${status}|${step}`;
    if (next === searchAttributes) return;
    searchAttributes = next;
    upsertSearchAttributes([
      { key: AdmissionStatusKey, value: status },
      { key: EscalationStepKey, value: step },
    ]);
  }

  for (;;) {
    if (!dirty) {
      if (quiet && ladders === 0) {
        // a finished stay waits a while for late events, then completes; any later event reopens it
        await condition(() => dirty, input.lingerSeconds * 1000);
        if (!dirty) {
          await condition(allHandlersFinished);
          if (!dirty) break;
        }
      } else {
        await condition(() => dirty);
      }
    }
    dirty = false;
    await reconcile();
  }
  return status;
}
