/**
 * The admission workflow's state, in one place, changed only through named transitions (STYLE.md rule 14). The
 * workflow decides what to do from it; ladders report to it (a step sent, a contact reached, given up) instead of
 * changing shared objects; `snapshot()` carries it across continue-as-new. Deterministic: no I/O, no clock.
 */
import type { ContactName, ExistingAlert, MatchResult, ProviderMatch } from '../activities/types.js';
import type { AdmissionStatus, AlertStatus, EventSummary } from '../src/domain/admission-event.js';
import type { ContactChannel, KnownAlert } from '../src/domain/alert-plan.js';
import type { CancelsCode, DestinationCategory, StatusReasonCode, WithdrawnReason } from '../src/domain/clinical.js';

/** An alert as the workflow follows it. */
export interface AlertState extends KnownAlert {
  /** the step last sent (1-based); 0 before the first */
  step: number;
  /** bumped when the alert is reopened: a ladder from before stops */
  run: number;
  cancels?: CancelsCode;
  destinationCategory?: DestinationCategory;
  /** how many times it was resent (`POST /v1/alerts/{id}/resend`) as of its current ladder */
  resend?: number;
  /** who its current ladder tried, in order: what the Temporal UI's current details list */
  tried?: TriedContact[];
  /** while its ladder waits for an acknowledgement: when the wait ends, and the step due then (none after the last) */
  waitingUntil?: { at: string; nextStep?: number };
  acknowledgedBy?: string;
  outcome?: string;
}

/** One delivery a ladder made: contact, channel, step and (once known) what became of it. */
export interface TriedContact extends ContactChannel {
  step: number;
  result?: string;
}

/** Everything a run hands to the next (continue-as-new). Plain data. */
export interface StaySnapshot {
  events: EventSummary[];
  alerts: AlertState[];
  acknowledged: string[];
  match?: MatchResult;
  matchedAtEvents: number;
  matchedAtIdentity: number;
  rematchRequested: boolean;
  providers: ProviderMatch[];
  rounds: [string, number][];
  newerStay: [string, boolean][];
  reviewTimerStarted: boolean;
  /** an operator closed the stay when it had this many events (a later event reopens it) */
  closedAtEvents?: number;
  /** when the first run of this chain started (the maximum stay is counted from it) */
  startedAt: string;
  /** the names and roles of the providers' contacts (for the Temporal UI) */
  contacts?: ContactName[];
}

/** Keys of a provider's alerts after it was dropped by `round` identity corrections carry `~<round>`. */
export const roundSuffix = (round: number): string => (round === 0 ? '' : `~${round}`);

export class StayState {
  readonly events = new Map<string, EventSummary>();
  /** by alert id, in the order raised */
  readonly alerts = new Map<string, AlertState>();
  /** acknowledged through this workflow before the alert was known here (an Update racing its raise) */
  readonly acknowledged = new Set<string>();
  match: MatchResult | undefined;
  matchedAtEvents = -1;
  /** identity-changing events seen when the stay was last matched */
  matchedAtIdentity = 0;
  rematchRequested = false;
  /** the providers matched now */
  providers: ProviderMatch[] = [];
  /** how many identity corrections dropped each provider (keys its later alerts) */
  readonly rounds = new Map<string, number>();
  /** per discharge key: whether the person had a newer open stay when this discharge was first planned */
  readonly newerStay = new Map<string, boolean>();
  reviewTimerStarted = false;
  /** an operator closed the stay when it had this many events; undefined when it is not closed by an operator */
  closedAtEvents: number | undefined;
  status: AdmissionStatus = 'received';
  statusReasonCode: StatusReasonCode | undefined;
  startedAt: string;
  /** contact id → name and role, from the activities that raise, reopen and restart alerts */
  readonly contacts = new Map<string, ContactName>();
  /** provider id → ODS code of every provider matched to the stay (for the Temporal UI) */
  readonly providerOds = new Map<string, string>();

  constructor(startedAt: string) {
    this.startedAt = startedAt;
  }

  static restore(s: StaySnapshot): StayState {
    const state = new StayState(s.startedAt);
    for (const ev of s.events) state.events.set(ev.messageId, ev);
    for (const a of s.alerts) state.alerts.set(a.alertId, a);
    for (const id of s.acknowledged) state.acknowledged.add(id);
    state.match = s.match;
    state.matchedAtEvents = s.matchedAtEvents;
    state.matchedAtIdentity = s.matchedAtIdentity;
    state.rematchRequested = s.rematchRequested;
    state.providers = s.providers;
    for (const p of s.providers) state.providerOds.set(p.providerId, p.providerOds);
    for (const [k, v] of s.rounds) state.rounds.set(k, v);
    for (const [k, v] of s.newerStay) state.newerStay.set(k, v);
    state.reviewTimerStarted = s.reviewTimerStarted;
    state.closedAtEvents = s.closedAtEvents;
    state.contactsKnown(s.contacts);
    return state;
  }

  snapshot(): StaySnapshot {
    return {
      events: [...this.events.values()],
      alerts: [...this.alerts.values()],
      acknowledged: [...this.acknowledged],
      ...(this.match ? { match: this.match } : {}),
      matchedAtEvents: this.matchedAtEvents,
      matchedAtIdentity: this.matchedAtIdentity,
      rematchRequested: this.rematchRequested,
      providers: this.providers,
      rounds: [...this.rounds],
      newerStay: [...this.newerStay],
      reviewTimerStarted: this.reviewTimerStarted,
      ...(this.closedAtEvents !== undefined ? { closedAtEvents: this.closedAtEvents } : {}),
      startedAt: this.startedAt,
      ...(this.contacts.size > 0 ? { contacts: [...this.contacts.values()] } : {}),
    };
  }

  /** Names and roles of contacts (an activity's result; results recorded before names carry none). */
  contactsKnown(contacts: readonly ContactName[] | undefined): void {
    for (const c of contacts ?? []) this.contacts.set(c.contactId, c);
  }

  /** A signal's event; false when it was already known (resends, redelivery after a relay crash). */
  eventReceived(ev: EventSummary): boolean {
    if (this.events.has(ev.messageId)) return false;
    this.events.set(ev.messageId, ev);
    return true;
  }

  /**
   * What PostgreSQL recorded of a stay reopened by a late event after its workflow completed: its events, and its
   * alerts with whom they reached; every move it knew of was already told (or reflected in the admission alert).
   */
  opened(priorEvents: readonly EventSummary[], alerts: readonly ExistingAlert[], knownMoves: readonly string[]): void {
    for (const ev of priorEvents) if (!this.events.has(ev.messageId)) this.events.set(ev.messageId, ev);
    for (const a of alerts) {
      this.alerts.set(a.alertId, { ...a, step: a.escalationStep, run: 0, coveredMoves: [...knownMoves] });
    }
  }

  matched(result: MatchResult, identityEvents: number): void {
    this.match = result;
    this.matchedAtEvents = this.events.size;
    this.matchedAtIdentity = identityEvents;
    this.rematchRequested = false;
    this.providers = result.status === 'matched' ? result.providers : [];
    for (const p of this.providers) this.providerOds.set(p.providerId, p.providerOds);
  }

  /** A provider no longer matched (identity correction): its later alerts are keyed by a new round. */
  providerDropped(providerId: string): void {
    this.rounds.set(providerId, (this.rounds.get(providerId) ?? 0) + 1);
  }

  roundOf(providerId: string): number {
    return this.rounds.get(providerId) ?? 0;
  }

  alertRaised(a: Omit<AlertState, 'step' | 'run'>): AlertState {
    const alert: AlertState = {
      ...a,
      status: this.acknowledged.has(a.alertId) ? 'acknowledged' : a.status,
      step: 0,
      run: 0,
    };
    this.alerts.set(alert.alertId, alert);
    return alert;
  }

  /** false when the alert is unknown or already withdrawn (nothing to do) */
  alertWithdrawn(alertId: string, reason: WithdrawnReason): boolean {
    const a = this.alerts.get(alertId);
    if (!a || a.status === 'withdrawn') return false;
    a.status = 'withdrawn';
    a.withdrawnReason = reason;
    return true;
  }

  alertReopened(alertId: string, status: AlertStatus): void {
    const a = this.alerts.get(alertId);
    if (!a) return;
    a.status = status;
    a.withdrawnReason = undefined;
    a.run++;
  }

  acknowledgementRecorded(alertId: string, status: AlertStatus, by?: string | null, outcome?: string | null): void {
    const a = this.alerts.get(alertId);
    if (a) {
      a.status = status;
      if (by) a.acknowledgedBy = by;
      if (outcome) a.outcome = outcome;
      a.waitingUntil = undefined;
    } else if (status === 'acknowledged') this.acknowledged.add(alertId);
  }

  /** Resent: open again at step 0, with a new ladder (the one before stops) numbered `resend`. */
  alertResent(alertId: string, resend: number): void {
    const a = this.alerts.get(alertId);
    if (!a) return;
    a.status = 'open';
    a.step = 0;
    a.run++;
    a.resend = resend;
    a.tried = [];
    a.waitingUntil = undefined;
  }

  // what ladders report

  stepSent(alertId: string, step: number): void {
    const a = this.alerts.get(alertId);
    if (a) a.step = Math.max(a.step, step);
  }

  contactReached(alertId: string, pair: ContactChannel): void {
    const a = this.alerts.get(alertId);
    if (a && !a.reached.some((x) => x.contactId === pair.contactId && x.channel === pair.channel)) a.reached.push(pair);
  }

  /** A delivery of the alert's current ladder was started (`result` undefined) or finished. */
  contactTried(alertId: string, tried: TriedContact): void {
    const a = this.alerts.get(alertId);
    if (!a) return;
    const list = (a.tried ??= []);
    const same = list.find(
      (t) => t.contactId === tried.contactId && t.channel === tried.channel && t.step === tried.step,
    );
    if (same) same.result = tried.result;
    else list.push({ ...tried });
  }

  /** The ladder waits for an acknowledgement until `at`; `undefined`: it no longer waits. */
  waiting(alertId: string, until: { at: string; nextStep?: number } | undefined): void {
    const a = this.alerts.get(alertId);
    if (a) a.waitingUntil = until;
  }

  gaveUp(alertId: string): void {
    const a = this.alerts.get(alertId);
    if (a) {
      a.status = 'unacknowledged';
      a.waitingUntil = undefined;
    }
  }

  /** Acknowledged or withdrawn: its ladder stops. */
  isDone(alertId: string): boolean {
    const s = this.alerts.get(alertId)?.status;
    return s === 'acknowledged' || s === 'withdrawn';
  }

  runOf(alertId: string): number {
    return this.alerts.get(alertId)?.run ?? 0;
  }

  /** The provider's alerts of its current round, keyed as the plan knows them (without the round suffix). */
  alertsOf(providerId: string): KnownAlert[] {
    const suffix = roundSuffix(this.roundOf(providerId));
    const out: KnownAlert[] = [];
    for (const a of this.alerts.values()) {
      if (a.providerId !== providerId) continue;
      const round = /~(\d+)$/.exec(a.alertKey);
      if ((round ? `~${round[1]}` : '') !== suffix) continue;
      out.push(suffix === '' ? a : { ...a, alertKey: a.alertKey.slice(0, -suffix.length) });
    }
    return out;
  }
}
