/**
 * The state of one hospital spell, folded from its events in event-time order. Pure and deterministic: the
 * admission workflow recomputes it from every event it has seen, so the end state depends only on the set of
 * events, never on the order they arrived in (CONTRACT.md "Event meanings", ARCHITECTURE.md "Order-independence").
 *
 * What each event does (where CONTRACT.md is silent, what a provider would expect):
 * - `admit` (A01, A04 with PV1-2 = I, A06; an A05 becomes an admission only when its A01 follows): the stay is
 *   admitted. An admission after an A11 cancellation is a new admission (a new alert); a second admission
 *   (e.g. a resend under a new MSH-10) changes nothing.
 * - `pre-admit` (A05): location and expected discharge date only; no admission, no alert.
 * - `transfer` (A02) and `cancel-transfer` (A12): the location moves; each is a "move" that providers already told
 *   of the stay hear about. An A12 without PV1-3 returns the patient to where they were before the latest A02.
 * - `discharge` (A03): discharged, with its destination category (src/domain/clinical.ts). A discharge seen without
 *   its admission implies the admission (the stay existed), but no admission alert is due for a stay that is over.
 * - death (CONTRACT.md "Death"): any event of the stay, in any order, that carries a death signal (PV1-36 4/5,
 *   PV1-37 79, PID-30 Y, PID-29, or the hospital's code map) means the patient died. A death seen on a
 *   non-discharge event (an A08 with PID-30 Y) also ends the stay, discharge or not, and no A13 undoes it.
 * - readmission: an `admit` whose event time is later than the discharge in effect reopens the stay as a new
 *   admission (a new alert); an admission at or before the discharge (a resend) changes nothing.
 * - `cancel-discharge` (A13): the discharge is undone and the stay is open again, as before the discharge.
 * - `cancel-admit` (A11): the admission is cancelled (and with it any discharge).
 * - `update` (A08, A04 for a non-inpatient, A28/A31 with a visit): location and PV2-9 expected discharge date.
 * - `leave` (A21) / `return` (A22): leave of absence, while admitted.
 * - `merge` (A40), `identity` (A31 without a visit, A34, A47) and `other` (any other ADT trigger): no effect on the
 *   spell (an identity event may be another stay's, handed here by the relay: its location and PV2-9 are not this
 *   stay's), their death signals excepted (they are about the same person); identity changes are the workflow's
 *   (it matches the stay again).
 */
import type { DischargeDetails, EventSummary, Location } from './admission-event.js';
import { destinationCategory, methodSaysDied, type DestinationCategory } from './clinical.js';

export interface SpellState {
  /** an admission (A01/A04 inpatient/A06) or a discharge has been seen and not cancelled */
  admitted: boolean;
  /** the admission was cancelled (A11) and not re-admitted since */
  cancelled: boolean;
  /** how many times the admission has been cancelled: keys each new admission alert after a re-admission */
  cancellations: number;
  /** discharged (A03) and not undone by an A13 */
  discharged: boolean;
  /** how many discharges have been cancelled (A13): keys each new discharge alert */
  dischargeCancellations: number;
  /** the patient died: a death signal on any event in effect (CONTRACT.md "Death") */
  died: boolean;
  /** a death signal was seen on an event other than the discharge in effect (an A13 cannot undo it) */
  diedOutsideDischarge: boolean;
  /** readmissions after a discharge (an `admit` later than the discharge): keys each readmission's alerts */
  readmissions: number;
  /** on leave of absence (A21, until A22 or discharge) */
  onLeave: boolean;
  /** where the patient is now (PV1-3 of the latest event that says) */
  location?: Location;
  /** message id of the event the current location came from */
  locationMessageId?: string;
  admittedAt?: string;
  dischargedAt?: string;
  discharge?: DischargeDetails;
  /** where the discharged patient went (`unknown` when the destination is missing or not a known code) */
  destinationCategory?: DestinationCategory;
  /** PV2-9, YYYY-MM-DD */
  expectedDischargeDate?: string;
  /** message ids of the location moves (A02, A12) while admitted and not discharged, oldest first */
  moves: string[];
  /** event time of each move, by message id */
  moveAt: Record<string, string>;
  /** message id of the event that admitted, and of the discharge in effect */
  admitMessageId?: string;
  dischargeMessageId?: string;
  /** event time of the admission / discharge in effect */
  admitEventAt?: string;
  dischargeEventAt?: string;
  /** event time of the cancellation in effect (A11) and of the latest undone discharge (A13) */
  cancelledAt?: string;
  dischargeCancelledAt?: string;
}

/**
 * True when the event says the patient died. Events classified at ingestion carry `deceased` (all four signals,
 * with the hospital's code map); events stored before that are read from their discharge method and destination.
 */
export function eventSaysDied(ev: EventSummary): boolean {
  if (ev.deceased === true) return true;
  if (ev.discharge?.destinationCategory !== undefined) return ev.discharge.destinationCategory === 'died';
  return methodSaysDied(ev.discharge?.method) || destinationCategory(ev.discharge?.destination) === 'died';
}

/** The destination category of a discharge event, as classified at ingestion (else from the national codes). */
export function eventDestinationCategory(ev: EventSummary): DestinationCategory {
  if (eventSaysDied(ev)) return 'died';
  return ev.discharge?.destinationCategory ?? destinationCategory(ev.discharge?.destination);
}

/** Orders events by EVN-2 (event time), then MSH-7 (message time), then arrival, then message id. */
export function compareEvents(a: EventSummary, b: EventSummary): number {
  return (
    cmp(a.eventAt, b.eventAt) ||
    cmp(a.messageAt, b.messageAt) ||
    cmp(a.receivedAt, b.receivedAt) ||
    cmpNumeric(a.messageId, b.messageId)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Message ids are bigserial row ids: shorter is smaller. */
function cmpNumeric(a: string, b: string): number {
  return a.length - b.length || cmp(a, b);
}

function hasLocation(loc: Location | undefined): loc is Location {
  return loc !== undefined && Object.keys(loc).length > 0;
}

function sameLocation(a: Location, b: Location | undefined): boolean {
  if (b === undefined) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof Location)[]);
  return [...keys].every((k) => a[k] === b[k]);
}

/** The spell's state after all of `events`, whatever order they are given in. */
export function foldSpell(events: readonly EventSummary[]): SpellState {
  const s: SpellState = {
    admitted: false,
    cancelled: false,
    cancellations: 0,
    discharged: false,
    dischargeCancellations: 0,
    died: false,
    diedOutsideDischarge: false,
    readmissions: 0,
    onLeave: false,
    moves: [],
    moveAt: {},
  };
  /** where the patient was before each A02 still in effect, for an A12 that does not say */
  const before: { location?: Location; messageId?: string }[] = [];
  const setLocation = (ev: EventSummary): void => {
    if (!hasLocation(ev.location) || sameLocation(ev.location, s.location)) return;
    s.location = ev.location;
    s.locationMessageId = ev.messageId;
  };
  const following = (): boolean => s.admitted && !s.discharged;

  /** a death on an event other than a discharge ends the stay (the discharge is implied) */
  const deathOutsideDischarge = (ev: EventSummary): void => {
    s.diedOutsideDischarge = true;
    s.died = true;
    if (s.cancelled) return;
    if (!s.admitted) {
      s.admitted = true;
      s.admitEventAt = ev.admittedAt ?? ev.eventAt;
    }
    if (!s.discharged) {
      s.discharged = true;
      s.dischargeMessageId = ev.messageId;
      s.dischargeEventAt = ev.eventAt;
      s.dischargedAt = ev.deceasedAt ?? ev.dischargedAt ?? ev.eventAt;
      s.onLeave = false;
    }
    s.destinationCategory = 'died';
  };

  /** Nothing admitted or discharged any more (a readmission starts afresh; a cancellation undoes the stay). */
  const endStay = (): void => {
    s.admitted = false;
    s.discharged = false;
    s.dischargeMessageId = undefined;
    s.dischargeEventAt = undefined;
    s.dischargedAt = undefined;
    s.discharge = undefined;
    s.destinationCategory = undefined;
    s.moves = [];
    s.moveAt = {};
    before.length = 0;
  };

  for (const ev of [...events].sort(compareEvents)) {
    if (ev.kind !== 'discharge' && ev.kind !== 'cancel-admit' && eventSaysDied(ev)) deathOutsideDischarge(ev);
    if (ev.kind === 'merge' || ev.kind === 'identity' || ev.kind === 'other') continue;
    if (ev.expectedDischargeDate && ev.kind !== 'cancel-admit') s.expectedDischargeDate = ev.expectedDischargeDate;
    switch (ev.kind) {
      case 'admit':
        s.cancelled = false;
        if (s.discharged && !s.died && s.dischargeEventAt !== undefined && ev.eventAt > s.dischargeEventAt) {
          // readmitted on the same visit number after the discharge: a new admission
          s.readmissions += 1;
          endStay();
          s.admittedAt = undefined;
        }
        if (!s.admitted) {
          s.admitted = true;
          s.admitMessageId = ev.messageId;
          s.admitEventAt = ev.eventAt;
          s.cancelledAt = undefined;
        }
        s.admittedAt = ev.admittedAt ?? s.admittedAt ?? ev.eventAt;
        setLocation(ev);
        break;
      case 'pre-admit':
      case 'update':
        setLocation(ev);
        break;
      case 'transfer':
        if (following()) {
          before.push({ location: s.location, messageId: s.locationMessageId });
          s.moves.push(ev.messageId);
          s.moveAt[ev.messageId] = ev.eventAt;
        }
        setLocation(ev);
        break;
      case 'cancel-transfer': {
        const prior = before.pop();
        if (hasLocation(ev.location)) setLocation(ev);
        else if (prior && hasLocation(prior.location)) {
          s.location = prior.location;
          s.locationMessageId = prior.messageId;
        }
        if (following()) {
          s.moves.push(ev.messageId);
          s.moveAt[ev.messageId] = ev.eventAt;
        }
        break;
      }
      case 'discharge':
        if (s.cancelled) break; // a discharge of a cancelled admission changes nothing
        if (!s.admitted) {
          s.admitted = true;
          s.admitEventAt = ev.admittedAt ?? ev.eventAt;
        }
        s.admittedAt = ev.admittedAt ?? s.admittedAt;
        s.discharged = true;
        s.dischargeMessageId = ev.messageId;
        s.dischargeEventAt = ev.eventAt;
        s.dischargedAt = ev.dischargedAt ?? ev.eventAt;
        s.discharge = ev.discharge;
        s.died = s.diedOutsideDischarge || eventSaysDied(ev);
        s.destinationCategory = s.died ? 'died' : eventDestinationCategory(ev);
        s.onLeave = false;
        setLocation(ev);
        break;
      case 'cancel-discharge':
        if (!s.discharged) break;
        if (s.diedOutsideDischarge) break; // a death reported by another message stands
        s.discharged = false;
        s.died = false;
        s.dischargeCancellations += 1;
        s.dischargeCancelledAt = ev.eventAt;
        s.dischargeMessageId = undefined;
        s.dischargeEventAt = undefined;
        s.dischargedAt = undefined;
        s.discharge = undefined;
        s.destinationCategory = undefined;
        setLocation(ev);
        break;
      case 'cancel-admit':
        if (s.cancelled) break;
        s.cancelled = true;
        s.cancelledAt = ev.eventAt;
        s.cancellations += 1;
        endStay();
        s.died = false;
        s.diedOutsideDischarge = false;
        s.onLeave = false;
        s.admitMessageId = undefined;
        s.admitEventAt = undefined;
        break;
      case 'leave':
        if (following()) s.onLeave = true;
        setLocation(ev);
        break;
      case 'return':
        s.onLeave = false;
        setLocation(ev);
        break;
    }
  }
  return s;
}

/** True when the spell concerns providers: something was admitted, discharged or cancelled. */
export function needsProviders(s: SpellState): boolean {
  return s.admitted || s.discharged || s.cancelled;
}

/** The alert keys of the spell's current admission, discharge and death (readmissions are suffixed `.n`). */
export function spellKeys(s: SpellState): { admission: string; discharge: string; death: string; replaced: string } {
  const r = s.readmissions === 0 ? '' : `.${s.readmissions}`;
  return {
    admission: `admission#${s.cancellations}${r}`,
    discharge: `discharge#${s.dischargeCancellations}${r}`,
    death: `death#${s.dischargeCancellations}${r}`,
    replaced: `discharge-replaced#${s.dischargeCancellations}${r}`,
  };
}
