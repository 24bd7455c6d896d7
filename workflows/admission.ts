/**
 * One workflow per hospital spell, id `admission-<ODS>-<visit>`. Events arrive as signals in any order; the
 * spell's state is refolded from all of them in event-time order (src/domain/spell.ts), and the alerts each
 * provider should have are reconciled with the alerts already raised, so late, repeated or out-of-order events
 * reach the same end state. The workflow decides; activities do all I/O.
 */
import { allHandlersFinished, condition, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { AdmissionActivities, MatchResult } from '../activities/types.js';
import type { AdmissionStatus, EventSummary } from '../src/domain/admission-event.js';
import { foldSpell, type SpellState } from '../src/domain/spell.js';
import {
  AdmissionStatusKey,
  EscalationStepKey,
  ProviderOdsKey,
} from '../src/temporal/search-attributes.js';
import { runLadder, type AlertState, type LadderContext } from './alert-ladder.js';
import {
  acknowledgeUpdate,
  admissionEventSignal,
  admissionStateQuery,
  type AdmissionWorkflowInput,
} from './definitions.js';

const acts = proxyActivities<AdmissionActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});
const deliveryActs = proxyActivities<Pick<AdmissionActivities, 'deliver'>>({
  startToCloseTimeout: '60s',
  scheduleToCloseTimeout: '12h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

const FINISHED: ReadonlySet<AdmissionStatus> = new Set(['no-care-package', 'unmatched', 'closed', 'cancelled']);

export async function admissionWorkflow(input: AdmissionWorkflowInput): Promise<AdmissionStatus> {
  const events = new Map<string, EventSummary>();
  const alerts = new Map<string, AlertState>(); // by providerId|alertKey
  const byId = new Map<string, AlertState>();
  const acked = new Set<string>();
  const ladders = new Set<string>();
  let dirty = true;
  let match: MatchResult | undefined;
  let matchedAtEvents = -1;
  let status: AdmissionStatus = 'received';
  let recorded = '';
  let searchAttributes = '';

  setHandler(admissionEventSignal, (ev) => {
    if (events.has(ev.messageId)) return;
    events.set(ev.messageId, ev);
    dirty = true;
  });
  setHandler(acknowledgeUpdate, async (req) => {
    const result = await acts.acknowledgeAlert(req);
    if (result.status === 'acknowledged') {
      acked.add(req.alertId);
      const a = byId.get(req.alertId);
      if (a) a.status = 'acknowledged';
    }
    dirty = true;
    return result;
  });
  setHandler(admissionStateQuery, () => ({
    status,
    events: events.size,
    alerts: [...byId.values()].map((a) => ({
      alertId: a.alertId,
      providerId: a.providerId,
      kind: a.kind,
      status: a.status,
      step: a.step,
    })),
  }));

  // a stay reopened by a late event after its workflow completed carries on from what PostgreSQL recorded
  const opened = await acts.openAdmission({ admissionId: input.admissionId });
  for (const ev of opened.priorEvents) if (!events.has(ev.messageId)) events.set(ev.messageId, ev);
  const knownTransfers = foldSpell([...events.values()]).transfers;
  for (const a of opened.alerts) {
    const state: AlertState = {
      ...a,
      providerOds: '',
      clientId: '',
      step: 0,
      reached: [],
      coveredTransfers: [...knownTransfers],
    };
    alerts.set(`${a.providerId}|${a.alertKey}`, state);
    byId.set(a.alertId, state);
    if (a.status === 'acknowledged') acked.add(a.alertId);
  }

  const ctx: LadderContext = {
    acts,
    deliver: deliveryActs.deliver,
    isDone: (a) => acked.has(a.alertId) || a.status === 'acknowledged' || a.status === 'withdrawn',
    onChange: () => {
      dirty = true;
    },
  };

  async function ensureAlert(
    p: { providerId: string; providerOds: string; clientId: string },
    alertKey: string,
    kind: AlertState['kind'],
    messageId: string | undefined,
    occurredAt: string,
    targets?: AlertState['reached'],
    coveredTransfers: string[] = [],
  ): Promise<AlertState> {
    const existing = alerts.get(`${p.providerId}|${alertKey}`);
    if (existing) return existing;
    const raised = await acts.raiseAlert({
      admissionId: input.admissionId,
      providerId: p.providerId,
      clientId: p.clientId,
      alertKey,
      kind,
      messageId,
      occurredAt,
    });
    const again = alerts.get(`${p.providerId}|${alertKey}`);
    if (again) return again;
    const a: AlertState = {
      alertId: raised.alertId,
      providerId: p.providerId,
      providerOds: p.providerOds,
      clientId: p.clientId,
      alertKey,
      kind,
      status: raised.status,
      step: 0,
      reached: [],
      coveredTransfers: [...coveredTransfers],
    };
    alerts.set(`${p.providerId}|${alertKey}`, a);
    byId.set(a.alertId, a);
    if (a.status === 'acknowledged') acked.add(a.alertId);
    if (a.status === 'open' && !acked.has(a.alertId)) {
      ladders.add(a.alertId);
      void runLadder(ctx, a, raised.policy, targets).finally(() => {
        ladders.delete(a.alertId);
        dirty = true;
      });
    }
    return a;
  }

  async function withdraw(a: AlertState, reason: string): Promise<void> {
    if (a.status !== 'open' && a.status !== 'unacknowledged') return;
    a.status = 'withdrawn';
    await acts.withdrawAlert({ alertId: a.alertId, reason });
  }

  async function reconcile(): Promise<void> {
    const spell = foldSpell([...events.values()]);
    const needsProviders = spell.admitted || spell.cancelled || spell.discharged;
    if (needsProviders && (match?.status !== 'matched' && matchedAtEvents !== events.size)) {
      matchedAtEvents = events.size;
      match = await acts.matchProviders({ admissionId: input.admissionId });
      if (match.status === 'matched') {
        upsertSearchAttributes([{ key: ProviderOdsKey, value: match.providers.map((p) => p.providerOds).sort() }]);
      }
    }
    if (match?.status === 'matched') {
      for (const p of match.providers) await reconcileProvider(p, spell);
    }
    status = computeStatus(spell);
    const record = JSON.stringify({
      status,
      statusReason: match?.status === 'unmatched' ? match.reason : undefined,
      admittedAt: spell.admittedAt,
      dischargedAt: spell.discharged ? spell.dischargedAt : undefined,
      location: spell.location,
      expectedDischargeDate: spell.expectedDischargeDate,
      onLeave: spell.onLeave,
    });
    if (record !== recorded) {
      recorded = record;
      await acts.recordAdmission({ admissionId: input.admissionId, ...JSON.parse(record) });
    }
    updateSearchAttributes();
  }

  async function reconcileProvider(
    p: { providerId: string; providerOds: string; clientId: string },
    spell: SpellState,
  ): Promise<void> {
    const mine = [...alerts.values()].filter((a) => a.providerId === p.providerId);
    const admissionKey = `admission#${spell.cancellations}`;

    if (spell.cancelled) {
      const toCancel = mine.filter(
        (a) => a.kind !== 'cancellation' && !alerts.has(`${p.providerId}|cancellation#${spell.cancellations}`),
      );
      if (toCancel.length === 0) return;
      const reached = toCancel.flatMap((a) => a.reached);
      for (const a of toCancel) await withdraw(a, 'admission cancelled by the hospital (A11)');
      await ensureAlert(
        p,
        `cancellation#${spell.cancellations}`,
        'cancellation',
        undefined,
        latestEventAt(),
        reached.length > 0 ? dedupe(reached) : undefined,
      );
      return;
    }

    if (spell.admitted && !spell.discharged) {
      // transfers known when the admission alert is raised are already in its location: no alert for them
      const a = await ensureAlert(
        p,
        admissionKey,
        'admission',
        spell.admitMessageId,
        spell.admitEventAt ?? latestEventAt(),
        undefined,
        spell.transfers,
      );
      for (const t of spell.transfers) {
        if (a.coveredTransfers.includes(t)) continue;
        a.coveredTransfers.push(t);
        const ev = events.get(t);
        await ensureAlert(p, `transfer:${t}`, 'transfer', t, ev?.eventAt ?? latestEventAt());
      }
    }

    // a discharge that was undone (A13): withdraw its alert and tell whoever was told
    for (const a of mine) {
      const m = /^discharge#(\d+)$/.exec(a.alertKey);
      if (!m || Number(m[1]) >= spell.dischargeCancellations) continue;
      if (alerts.has(`${p.providerId}|discharge-cancelled#${m[1]}`)) continue;
      await withdraw(a, 'discharge cancelled by the hospital (A13)');
      if (a.reached.length > 0 || a.status !== 'withdrawn') {
        await ensureAlert(p, `discharge-cancelled#${m[1]}`, 'cancellation', undefined, latestEventAt(), dedupe(a.reached));
      }
    }

    if (spell.discharged) {
      for (const a of mine) if (a.kind === 'admission' && a.status === 'open') await withdraw(a, 'discharged');
      await ensureAlert(
        p,
        `discharge#${spell.dischargeCancellations}`,
        spell.died ? 'death' : 'discharge',
        spell.dischargeMessageId,
        spell.dischargeEventAt ?? latestEventAt(),
      );
    }
  }

  function latestEventAt(): string {
    let latest = '';
    for (const ev of events.values()) if (ev.eventAt > latest) latest = ev.eventAt;
    return latest;
  }

  function computeStatus(spell: SpellState): AdmissionStatus {
    if (!match) return 'received';
    if (match.status === 'unmatched') return 'unmatched';
    if (match.status === 'no-care-package') return 'no-care-package';
    if (spell.cancelled) return 'cancelled';
    const current = (key: string) => [...alerts.values()].filter((a) => a.alertKey === key);
    if (spell.discharged) {
      const ds = current(`discharge#${spell.dischargeCancellations}`);
      if (ds.some((a) => a.status === 'unacknowledged')) return 'unacknowledged';
      return ds.length > 0 && ds.every((a) => a.status === 'acknowledged') ? 'closed' : 'discharged';
    }
    if (spell.admitted) {
      const as = current(`admission#${spell.cancellations}`);
      if (as.length === 0) return 'received';
      if (as.some((a) => a.status === 'unacknowledged')) return 'unacknowledged';
      return as.every((a) => a.status === 'acknowledged') ? 'acknowledged' : 'alerting';
    }
    return 'received';
  }

  function updateSearchAttributes(): void {
    let step = 0;
    for (const a of byId.values()) if (a.status === 'open' && a.step > step) step = a.step;
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
      if (FINISHED.has(status) && ladders.size === 0) {
        const woke = await condition(() => dirty, input.lingerSeconds * 1000);
        if (!woke) break;
      } else {
        await condition(() => dirty);
      }
    }
    dirty = false;
    await reconcile();
  }
  await condition(allHandlersFinished);
  return status;
}

function dedupe(pairs: AlertState['reached']): AlertState['reached'] {
  const seen = new Set<string>();
  return pairs.filter((p) => {
    const k = `${p.contactId}|${p.channel}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
