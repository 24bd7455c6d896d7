/**
 * Which alerts a provider should have for a spell, given the alerts it already has: pure, so the admission
 * workflow only carries the plan out and a unit test can drive every arrival order through it. The plan is
 * re-made after every change until it is empty; each alert has a key (`admission#<cancellations>`,
 * `discharge#<discharge cancellations>`, `transfer:<message id>`, `cancellation#<n>`, `discharge-cancelled#<n>`)
 * that the database keeps unique per provider, so an alert is raised at most once however often the plan runs.
 *
 * The rules (CONTRACT.md "Event meanings"; README "Where the contract is silent"):
 * - admitted and not discharged: one `admission` alert, through the ladder. Moves (A02/A12) known when it is raised
 *   are in its location; a later move gives providers whose admission alert is not withdrawn one informational
 *   `transfer` alert carrying the new location (for the latest move only: a batch of moves is one alert).
 * - discharged: open or unacknowledged admission alerts are withdrawn (superseded) and a `discharge` alert, or a
 *   `death` alert, goes through the ladder.
 * - discharge undone (A13): that discharge alert is withdrawn (even if acknowledged: visits must not resume), the
 *   admission alert it superseded is reopened (its ladder carries on; steps already sent are not sent again),
 *   and whoever was told of the discharge gets an informational `cancellation`.
 * - cancelled (A11): every alert of the admission is withdrawn and an informational `cancellation` goes to whoever
 *   they reached (the policy's first step when they reached nobody); nothing at all when no alert was raised.
 */
import type { AdmissionStatus, AlertKind, AlertStatus, Channel } from './admission-event.js';
import { withdrawnReasonCode, type CancelsCode, type DestinationCategory, type WithdrawnReason } from './clinical.js';
import { spellKeys, type SpellState } from './spell.js';

export interface ContactChannel {
  contactId: string;
  channel: Channel;
}

/** What the plan needs to know of an alert already raised. */
export interface KnownAlert {
  alertId: string;
  providerId: string;
  alertKey: string;
  kind: AlertKind;
  status: AlertStatus;
  /** a {@link WithdrawnReason} code (sentences stored by earlier versions are read as codes) */
  withdrawnReason?: string;
  /** contact and channel pairs a delivery of this alert reached */
  reached: ContactChannel[];
  /** moves (A02/A12 message ids) already reflected in what this alert told */
  coveredMoves: string[];
}

export type AlertAction =
  | {
      type: 'raise';
      alertKey: string;
      kind: AlertKind;
      /** the inbound message whose content the alert carries (location, discharge details) */
      messageId: string | undefined;
      occurredAt: string;
      /** informational alerts: who to tell instead of the policy's first step */
      targets?: ContactChannel[];
      coveredMoves: string[];
      /** cancellation alerts: what they cancel */
      cancels?: CancelsCode;
      /** discharge and death alerts: where the patient went */
      destinationCategory?: DestinationCategory;
    }
  | { type: 'withdraw'; alertId: string; reason: WithdrawnReason }
  | { type: 'reopen'; alertId: string };

/** What the workflow knows besides the spell that changes the plan. */
export interface PlanContext {
  /**
   * The same person has a newer stay that is open (CONTRACT.md "Readmission"): a discharge of this one raises no
   * discharge alert (a death alert still goes).
   */
  newerStayOpen?: boolean;
  /**
   * A later event reopened a stay an operator had closed: its admission alert withdrawn `closed-by-operator` is
   * open again (the patient is still in hospital and the provider must know).
   */
  reopenClosed?: boolean;
}

const awaitingAck = (a: KnownAlert): boolean => a.status === 'open' || a.status === 'unacknowledged';
const reasonOf = (a: KnownAlert): WithdrawnReason | undefined => withdrawnReasonCode(a.withdrawnReason);

/** `discharge#<n>[.<r>]` / `death#<n>[.<r>]`: the discharge-cancellation count and readmission of the key. */
const DISCHARGE_KEY = /^(discharge|death)#(\d+)(?:\.(\d+))?$/;

/** The actions that bring one provider's alerts in line with the spell (empty when they already are). */
export function planProviderAlerts(
  spell: SpellState,
  mine: readonly KnownAlert[],
  latestEventAt: string,
  ctx: PlanContext = {},
): AlertAction[] {
  const byKey = new Map(mine.map((a) => [a.alertKey, a]));
  const actions: AlertAction[] = [];
  const keys = spellKeys(spell);

  if (spell.cancelled) {
    const key = `cancellation#${spell.cancellations}`;
    if (byKey.has(key)) return actions;
    const told = mine.filter((a) => a.kind !== 'cancellation' && reasonOf(a) !== 'admission-cancelled');
    if (told.length === 0) return actions;
    for (const a of told)
      if (awaitingAck(a)) actions.push({ type: 'withdraw', alertId: a.alertId, reason: 'admission-cancelled' });
    const reached = dedupe(told.flatMap((a) => a.reached));
    actions.push({
      type: 'raise',
      alertKey: key,
      kind: 'cancellation',
      messageId: undefined,
      occurredAt: spell.cancelledAt ?? latestEventAt,
      ...(reached.length > 0 ? { targets: reached } : {}),
      coveredMoves: [],
      cancels: 'admission',
    });
    return actions;
  }

  // discharges (and deaths reported with them) undone by an A13
  const readmission = String(spell.readmissions);
  for (const a of mine) {
    const m = DISCHARGE_KEY.exec(a.alertKey);
    if (!m || Number(m[2]) >= spell.dischargeCancellations || (m[3] ?? '0') !== readmission) continue;
    const key = `discharge-cancelled#${m[2]}${m[3] ? `.${m[3]}` : ''}`;
    if (byKey.has(key)) continue;
    if (a.status !== 'withdrawn') actions.push({ type: 'withdraw', alertId: a.alertId, reason: 'discharge-cancelled' });
    // tell whoever heard of the discharge; with no delivery yet, wait: a delivery still in flight re-plans
    if (a.reached.length > 0 || a.status === 'acknowledged') {
      actions.push({
        type: 'raise',
        alertKey: key,
        kind: 'cancellation',
        messageId: undefined,
        occurredAt: spell.dischargeCancelledAt ?? latestEventAt,
        ...(a.reached.length > 0 ? { targets: dedupe(a.reached) } : {}),
        coveredMoves: [],
        cancels: 'discharge',
      });
    }
  }

  if (spell.admitted && !spell.discharged) {
    const admission = byKey.get(keys.admission);
    if (!admission) {
      actions.push({
        type: 'raise',
        alertKey: keys.admission,
        kind: 'admission',
        messageId: spell.locationMessageId ?? spell.admitMessageId,
        occurredAt: spell.admitEventAt ?? latestEventAt,
        coveredMoves: [...spell.moves],
      });
    } else if (admission.status === 'withdrawn') {
      const why = reasonOf(admission);
      if (
        why === 'superseded-by-discharge' ||
        why === 'newer-stay-open' ||
        (why === 'closed-by-operator' && ctx.reopenClosed === true)
      ) {
        actions.push({ type: 'reopen', alertId: admission.alertId });
      }
    } else {
      const latest = spell.moves[spell.moves.length - 1];
      if (latest !== undefined && !admission.coveredMoves.includes(latest) && !byKey.has(`transfer:${latest}`)) {
        actions.push({
          type: 'raise',
          alertKey: `transfer:${latest}`,
          kind: 'transfer',
          messageId: spell.locationMessageId ?? latest,
          occurredAt: spell.moveAt[latest] ?? latestEventAt,
          ...(admission.reached.length > 0 ? { targets: dedupe(admission.reached) } : {}),
          coveredMoves: [],
        });
      }
    }
  }

  if (spell.discharged) {
    const suppressed = ctx.newerStayOpen === true && !spell.died && !byKey.has(keys.discharge);
    for (const a of mine) {
      if (a.kind === 'admission' && awaitingAck(a)) {
        actions.push({
          type: 'withdraw',
          alertId: a.alertId,
          reason: suppressed ? 'newer-stay-open' : 'superseded-by-discharge',
        });
      }
    }
    const occurredAt = spell.dischargeEventAt ?? latestEventAt;
    const raised = byKey.get(keys.discharge);
    if (spell.died && raised?.kind === 'discharge') {
      // the discharge alert said something false: replace it with a death alert and tell whoever it reached
      if (raised.status !== 'withdrawn' || reasonOf(raised) !== 'superseded-by-death') {
        if (raised.status !== 'withdrawn')
          actions.push({ type: 'withdraw', alertId: raised.alertId, reason: 'superseded-by-death' });
      }
      if (!byKey.has(keys.death)) {
        actions.push({
          type: 'raise',
          alertKey: keys.death,
          kind: 'death',
          messageId: spell.dischargeMessageId,
          occurredAt,
          coveredMoves: [],
          destinationCategory: 'died',
        });
      }
      if (!byKey.has(keys.replaced) && (raised.reached.length > 0 || raised.status === 'acknowledged')) {
        actions.push({
          type: 'raise',
          alertKey: keys.replaced,
          kind: 'cancellation',
          messageId: spell.dischargeMessageId,
          occurredAt,
          ...(raised.reached.length > 0 ? { targets: dedupe(raised.reached) } : {}),
          coveredMoves: [],
          cancels: 'replaced-by-death',
        });
      }
    } else if (!raised && !suppressed) {
      actions.push({
        type: 'raise',
        alertKey: keys.discharge,
        kind: spell.died ? 'death' : 'discharge',
        messageId: spell.dischargeMessageId,
        occurredAt,
        coveredMoves: [],
        destinationCategory: spell.died ? 'died' : (spell.destinationCategory ?? 'unknown'),
      });
    }
  }
  return actions;
}

/**
 * A provider no longer matched to the stay (an identity correction, CONTRACT.md "Identity corrections"): its
 * alerts are withdrawn and whoever they reached is told once, with a `cancellation` that says `wrong-patient`.
 * `round` numbers the corrections that dropped this provider, so each is told once.
 */
export function planWrongPatient(mine: readonly KnownAlert[], round: number, at: string): AlertAction[] {
  const key = `wrong-patient#${round}`;
  if (mine.some((a) => a.alertKey === key)) return [];
  const told = mine.filter((a) => a.kind !== 'cancellation' && a.status !== 'withdrawn');
  const actions: AlertAction[] = told.map((a) => ({ type: 'withdraw', alertId: a.alertId, reason: 'wrong-patient' }));
  const reached = dedupe(told.flatMap((a) => a.reached));
  if (reached.length > 0 || told.some((a) => a.status === 'acknowledged')) {
    actions.push({
      type: 'raise',
      alertKey: key,
      kind: 'cancellation',
      messageId: undefined,
      occurredAt: at,
      ...(reached.length > 0 ? { targets: reached } : {}),
      coveredMoves: [],
      cancels: 'wrong-patient',
    });
  }
  return actions;
}

/** The result of matching a spell's patient to providers' clients. */
export type MatchStatus = 'matched' | 'no-care-package' | 'unmatched';

/**
 * The admission's status (CONTRACT.md `GET /v1/admissions/{id}`) from the spell and the alerts of its current
 * admission or discharge: `alerting` until every provider acknowledges, `unacknowledged` when any ladder ran out,
 * `closed` when every provider acknowledged the discharge. `received` while nothing is known to be admitted.
 */
export function admissionStatus(
  spell: SpellState,
  match: MatchStatus | undefined,
  alerts: readonly Pick<KnownAlert, 'alertKey' | 'status'>[],
): AdmissionStatus {
  if (match === undefined) return 'received';
  if (match !== 'matched') return match;
  if (spell.cancelled) return 'cancelled';
  const current = (key: string) => alerts.filter((a) => a.alertKey === key);
  const keys = spellKeys(spell);
  if (spell.discharged) {
    // the discharge or death alerts in force (a discharge alert replaced by a death alert is withdrawn)
    const ds = alerts.filter(
      (a) => (a.alertKey === keys.discharge || a.alertKey === keys.death) && a.status !== 'withdrawn',
    );
    if (ds.some((a) => a.status === 'unacknowledged')) return 'unacknowledged';
    return ds.length > 0 && ds.every((a) => a.status === 'acknowledged') ? 'closed' : 'discharged';
  }
  if (spell.admitted) {
    const as = current(keys.admission);
    if (as.length === 0) return 'received';
    if (as.some((a) => a.status === 'unacknowledged')) return 'unacknowledged';
    return as.every((a) => a.status === 'acknowledged') ? 'acknowledged' : 'alerting';
  }
  return 'received';
}

/**
 * Nothing left to follow: the workflow may wait for late events a while and complete (a later event reopens the
 * stay from PostgreSQL). True for a finished stay (closed, cancelled, nobody's client, unmatched) and for a spell
 * with nothing admitted (e.g. an A05 alone).
 */
export function isQuiet(status: AdmissionStatus, spell: SpellState): boolean {
  if (status === 'closed' || status === 'cancelled' || status === 'no-care-package' || status === 'unmatched')
    return true;
  return status === 'received' && !spell.admitted && !spell.discharged && !spell.cancelled;
}

export function dedupe(pairs: readonly ContactChannel[]): ContactChannel[] {
  const seen = new Set<string>();
  return pairs.filter((p) => {
    const k = `${p.contactId}|${p.channel}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
