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
import { allHandlersFinished, condition, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { AdmissionActivities, MatchResult } from '../activities/types.js';
import type { AdmissionStatus, EventSummary } from '../src/domain/admission-event.js';
import { admissionStatus, isQuiet, planProviderAlerts, type AlertAction } from '../src/domain/alert-plan.js';
import { escalates, type EscalationPolicy } from '../src/domain/escalation.js';
import { foldSpell, needsProviders } from '../src/domain/spell.js';
import { AdmissionStatusKey, EscalationStepKey, ProviderOdsKey } from '../src/temporal/search-attributes.js';
import { runLadder, type AlertState, type LadderContext } from './alert-ladder.js';
import { acknowledgeUpdate, admissionEventSignal, admissionStateQuery, type AdmissionWorkflowInput } from './definitions.js';

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

type Provider = { providerId: string; providerOds: string; clientId: string };

export async function admissionWorkflow(input: AdmissionWorkflowInput): Promise<AdmissionStatus> {
  const events = new Map<string, EventSummary>();
  const alerts = new Map<string, AlertState>(); // by alert id, in the order raised
  const acknowledged = new Set<string>(); // acknowledged through this workflow before its alert was known here
  let ready = false;
  let dirty = true;
  let ladders = 0;
  let match: MatchResult | undefined;
  let matchedAtEvents = -1;
  let status: AdmissionStatus = 'received';
  let quiet = false; // nothing left to follow (see isQuiet), as of the last reconcile
  let recorded = '';
  let searchAttributes = '';

  setHandler(admissionEventSignal, (ev) => {
    if (events.has(ev.messageId)) return;
    events.set(ev.messageId, ev);
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
        const raised = await acts.raiseAlert({
          admissionId: input.admissionId,
          providerId: p.providerId,
          clientId: p.clientId,
          alertKey: action.alertKey,
          kind: action.kind,
          messageId: action.messageId,
          occurredAt: action.occurredAt,
        });
        const a: AlertState = {
          alertId: raised.alertId,
          providerId: p.providerId,
          alertKey: action.alertKey,
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

  async function reconcile(): Promise<void> {
    const spell = foldSpell([...events.values()]);
    if (needsProviders(spell) && match?.status !== 'matched' && matchedAtEvents !== events.size) {
      matchedAtEvents = events.size;
      match = await acts.matchProviders({ admissionId: input.admissionId });
      if (match.status === 'matched') {
        upsertSearchAttributes([{ key: ProviderOdsKey, value: match.providers.map((p) => p.providerOds).sort() }]);
      }
    }
    if (match?.status === 'matched') {
      const latest = latestEventAt();
      for (const p of match.providers) {
        const mine = [...alerts.values()].filter((a) => a.providerId === p.providerId);
        const actions = planProviderAlerts(spell, mine, latest);
        for (const action of actions) await apply(p, action);
        if (actions.length > 0) dirty = true; // re-plan until the plan is empty
      }
    }
    status = admissionStatus(spell, match?.status, [...alerts.values()]);
    const record = {
      admissionId: input.admissionId,
      status,
      statusReason: match?.status === 'unmatched' ? match.reason : undefined,
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
    quiet = isQuiet(status, spell);
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
