/**
 * The state of one hospital spell, folded from its events in event-time order. Pure and deterministic: the
 * admission workflow recomputes it after every event, so the end state does not depend on arrival order.
 */
import type { EventSummary, Location } from './admission-event.js';

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
  /** the discharge was a death (PV1-36 = 4, PID-30 = Y) */
  died: boolean;
  onLeave: boolean;
  location?: Location;
  admittedAt?: string;
  dischargedAt?: string;
  discharge?: { method?: string; destination?: string };
  expectedDischargeDate?: string;
  /** message ids of transfers (A02) in effect, oldest first; A12 removes the latest */
  transfers: string[];
  /** message id of the event that admitted, and of the discharge in effect */
  admitMessageId?: string;
  dischargeMessageId?: string;
  /** event time of the admission / discharge in effect */
  admitEventAt?: string;
  dischargeEventAt?: string;
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

function cmpNumeric(a: string, b: string): number {
  return a.length - b.length || cmp(a, b);
}

export function foldSpell(events: readonly EventSummary[]): SpellState {
  const s: SpellState = {
    admitted: false,
    cancelled: false,
    cancellations: 0,
    discharged: false,
    dischargeCancellations: 0,
    died: false,
    onLeave: false,
    transfers: [],
  };
  for (const ev of [...events].sort(compareEvents)) {
    if (ev.location && Object.keys(ev.location).length > 0) s.location = ev.location;
    if (ev.expectedDischargeDate) s.expectedDischargeDate = ev.expectedDischargeDate;
    switch (ev.kind) {
      case 'admit':
        if (s.cancelled) s.cancelled = false;
        if (!s.admitted) {
          s.admitted = true;
          s.admitMessageId = ev.messageId;
          s.admitEventAt = ev.eventAt;
        }
        s.admittedAt = ev.admittedAt ?? s.admittedAt ?? ev.eventAt;
        break;
      case 'pre-admit':
        break;
      case 'transfer':
        if (s.admitted && !s.discharged) s.transfers.push(ev.messageId);
        break;
      case 'cancel-transfer':
        s.transfers.pop();
        break;
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
        s.died = ev.deceased === true || ev.discharge?.method === '4';
        s.onLeave = false;
        break;
      case 'cancel-discharge':
        if (!s.discharged) break;
        s.discharged = false;
        s.died = false;
        s.dischargeCancellations += 1;
        s.dischargeMessageId = undefined;
        s.dischargeEventAt = undefined;
        s.dischargedAt = undefined;
        s.discharge = undefined;
        break;
      case 'cancel-admit':
        if (s.cancelled) break;
        s.cancelled = true;
        s.cancellations += 1;
        s.admitted = false;
        s.discharged = false;
        s.died = false;
        s.transfers = [];
        s.admitMessageId = undefined;
        s.dischargeMessageId = undefined;
        break;
      case 'update':
        if (ev.deceased && s.discharged) s.died = true;
        break;
      case 'leave':
        s.onLeave = true;
        break;
      case 'return':
        s.onLeave = false;
        break;
      case 'merge':
      case 'other':
        break;
    }
  }
  return s;
}
