import { describe, expect, it } from 'vitest';
import type { EventKind, EventSummary, Location } from './admission-event.js';
import { compareEvents, foldSpell, needsProviders, spellKeys } from './spell.js';

let nextId = 100;
const ward12: Location = { pointOfCare: 'RX1WD12', bed: '12', ward: 'Ward 12 Elderly Care' };
const ward7: Location = { pointOfCare: 'RX1WD07', bed: '4', ward: 'Ward 7 Orthopaedics' };
const ward3: Location = { pointOfCare: 'RX1WD03', ward: 'Ward 3' };

/** An event summary at `eventAt` (EVN-2); MSH-7 and arrival default to the same instant. */
function ev(kind: EventKind, eventAt: string, extra: Partial<EventSummary> = {}): EventSummary {
  const id = String(nextId++);
  return {
    messageId: id,
    messageControlId: `RX1-${id}`,
    trigger: kind,
    kind,
    eventAt,
    messageAt: eventAt,
    receivedAt: eventAt,
    ...extra,
  };
}

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutations(rest)) yield [items[i]!, ...p];
  }
}

const T = (h: number) => `2026-11-22T${String(h).padStart(2, '0')}:00:00.000Z`;

describe('foldSpell: what each event does', () => {
  it('an A01 admits, with its location and PV1-44 admit time', () => {
    const a01 = ev('admit', T(9), { location: ward12, admittedAt: T(8) });
    const s = foldSpell([a01]);
    expect(s).toMatchObject({
      admitted: true,
      discharged: false,
      cancelled: false,
      location: ward12,
      admittedAt: T(8),
    });
    expect(s.admitMessageId).toBe(a01.messageId);
    expect(s.locationMessageId).toBe(a01.messageId);
    expect(needsProviders(s)).toBe(true);
  });

  it('an A05 alone admits nobody and concerns no provider; the A01 that follows admits', () => {
    const a05 = ev('pre-admit', T(7), { location: ward3 });
    expect(foldSpell([a05])).toMatchObject({ admitted: false, location: ward3 });
    expect(needsProviders(foldSpell([a05]))).toBe(false);
    const a01 = ev('admit', T(9), { location: ward12 });
    expect(foldSpell([a05, a01])).toMatchObject({ admitted: true, location: ward12, admitMessageId: a01.messageId });
  });

  it('an A02 moves the location and counts as a move while admitted', () => {
    const a01 = ev('admit', T(9), { location: ward12 });
    const a02 = ev('transfer', T(10), { location: ward7 });
    const s = foldSpell([a01, a02]);
    expect(s.location).toEqual(ward7);
    expect(s.moves).toEqual([a02.messageId]);
    expect(s.moveAt[a02.messageId]).toBe(T(10));
    expect(s.locationMessageId).toBe(a02.messageId);
  });

  it('an A12 moves the patient back: to its PV1-3, or where they were before the A02 when it has none', () => {
    const a01 = ev('admit', T(9), { location: ward12 });
    const a02 = ev('transfer', T(10), { location: ward7 });
    const a12 = ev('cancel-transfer', T(11));
    const s = foldSpell([a01, a02, a12]);
    expect(s.location).toEqual(ward12);
    expect(s.locationMessageId).toBe(a01.messageId);
    expect(s.moves).toEqual([a02.messageId, a12.messageId]);
    const withLocation = ev('cancel-transfer', T(11), { location: ward3 });
    expect(foldSpell([a01, a02, withLocation]).location).toEqual(ward3);
  });

  it('an A03 discharges with PV1-36/37/45 and ends leave; a discharge method of 4 or PID-30 = Y is a death', () => {
    const a01 = ev('admit', T(9));
    const a21 = ev('leave', T(10));
    const a03 = ev('discharge', T(12), { dischargedAt: T(11), discharge: { method: '1', destination: '19' } });
    const s = foldSpell([a01, a21, a03]);
    expect(s).toMatchObject({ discharged: true, died: false, onLeave: false, dischargedAt: T(11) });
    expect(s.discharge).toEqual({ method: '1', destination: '19' });
    expect(s.dischargeMessageId).toBe(a03.messageId);
    expect(foldSpell([a01, ev('discharge', T(12), { discharge: { method: '4' } })]).died).toBe(true);
    expect(foldSpell([a01, ev('discharge', T(12), { deceased: true })]).died).toBe(true);
  });

  it('an A03 without its A01 implies the admission', () => {
    const a03 = ev('discharge', T(12), { admittedAt: T(8) });
    expect(foldSpell([a03])).toMatchObject({ admitted: true, discharged: true, admitEventAt: T(8), admittedAt: T(8) });
  });

  it('an A13 undoes the discharge and the stay is open again; a later A03 is a new discharge', () => {
    const a01 = ev('admit', T(9));
    const a03 = ev('discharge', T(12), { discharge: { method: '4' } });
    const a13 = ev('cancel-discharge', T(13), { location: ward7 });
    const s = foldSpell([a01, a03, a13]);
    expect(s).toMatchObject({ admitted: true, discharged: false, died: false, dischargeCancellations: 1 });
    expect(s.dischargedAt).toBeUndefined();
    expect(s.dischargeCancelledAt).toBe(T(13));
    expect(s.location).toEqual(ward7);
    const again = foldSpell([a01, a03, a13, ev('discharge', T(15))]);
    expect(again).toMatchObject({ discharged: true, dischargeCancellations: 1 });
  });

  it('an A13 with no discharge before it changes nothing', () => {
    const a01 = ev('admit', T(9));
    expect(foldSpell([a01, ev('cancel-discharge', T(10))])).toMatchObject({
      discharged: false,
      dischargeCancellations: 0,
    });
  });

  it('an A11 cancels the admission (and its discharge); a later admission is a new one', () => {
    const a01 = ev('admit', T(9));
    const a02 = ev('transfer', T(10), { location: ward7 });
    const a03 = ev('discharge', T(11));
    const a11 = ev('cancel-admit', T(12), { location: ward3 });
    const s = foldSpell([a01, a02, a03, a11]);
    expect(s).toMatchObject({ cancelled: true, admitted: false, discharged: false, cancellations: 1, moves: [] });
    expect(s.cancelledAt).toBe(T(12));
    expect(s.location).toEqual(ward7); // an A11 says nothing about where the patient is
    expect(needsProviders(s)).toBe(true);
    const readmitted = foldSpell([a01, a11, ev('admit', T(14))]);
    expect(readmitted).toMatchObject({ cancelled: false, admitted: true, cancellations: 1 });
  });

  it('a discharge of a cancelled admission changes nothing', () => {
    const s = foldSpell([ev('admit', T(9)), ev('cancel-admit', T(10)), ev('discharge', T(11))]);
    expect(s).toMatchObject({ cancelled: true, discharged: false });
  });

  it('an A08 updates the location and the PV2-9 expected discharge date', () => {
    const s = foldSpell([
      ev('admit', T(9), { location: ward12 }),
      ev('update', T(10), { location: ward7, expectedDischargeDate: '2026-11-26' }),
    ]);
    expect(s).toMatchObject({ location: ward7, expectedDischargeDate: '2026-11-26', moves: [] });
  });

  it('an A21 starts a leave of absence and an A22 ends it', () => {
    const a01 = ev('admit', T(9));
    expect(foldSpell([a01, ev('leave', T(10))]).onLeave).toBe(true);
    expect(foldSpell([a01, ev('leave', T(10)), ev('return', T(11))]).onLeave).toBe(false);
  });

  it('an unknown ADT event, an A40 and a person-level identity event have no effect at all', () => {
    const a01 = ev('admit', T(9), { location: ward12 });
    const base = foldSpell([a01]);
    const other = ev('other', T(10), { location: ward3, expectedDischargeDate: '2027-01-01' });
    const merge = ev('merge', T(11), { location: ward7 });
    const identity = ev('identity', T(12), { location: ward3, expectedDischargeDate: '2027-02-01' });
    expect(foldSpell([a01, other, merge, identity])).toEqual(base);
  });

  it('a repeated A01 (a resend under a new MSH-10) changes nothing', () => {
    const a01 = ev('admit', T(9), { location: ward12 });
    const resend = ev('admit', T(9), { location: ward12, messageAt: T(10), receivedAt: T(10) });
    expect(foldSpell([a01, resend])).toEqual(foldSpell([a01]));
  });
});

describe('compareEvents: EVN-2, then MSH-7, then arrival, then message id', () => {
  it('orders by each key in turn', () => {
    const a = ev('update', T(9), { messageAt: T(12), receivedAt: T(12) });
    const b = ev('update', T(10), { messageAt: T(9), receivedAt: T(9) });
    expect(compareEvents(a, b)).toBeLessThan(0);
    const c = ev('update', T(9), { messageAt: T(11), receivedAt: T(13) });
    expect(compareEvents(c, a)).toBeLessThan(0);
    const d = ev('update', T(9), { messageAt: T(11), receivedAt: T(12) });
    expect(compareEvents(d, c)).toBeLessThan(0);
    const e = { ...d, messageId: '99' };
    const f = { ...d, messageId: '100' };
    expect(compareEvents(e, f)).toBeLessThan(0); // numeric, not string, order of row ids
    expect(compareEvents(f, f)).toBe(0);
  });
});

describe('foldSpell: any arrival order reaches the same state', () => {
  const a05 = ev('pre-admit', T(7), { location: ward3 });
  const a01 = ev('admit', T(9), { location: ward12, admittedAt: T(9) });
  const a01resend = ev('admit', T(9), {
    location: ward12,
    messageAt: T(9).replace('00:00.000', '05:00.000'),
    receivedAt: T(20),
  });
  const a02 = ev('transfer', T(10), { location: ward7 });
  const a08 = ev('update', T(10), { messageAt: T(11), location: ward7, expectedDischargeDate: '2026-11-26' });
  const a12 = ev('cancel-transfer', T(11));
  const a21 = ev('leave', T(11), { messageAt: T(12) });
  const a22 = ev('return', T(11), { messageAt: T(12), receivedAt: T(13) });
  const a03 = ev('discharge', T(12), { discharge: { method: '1', destination: '19' } });
  const death = ev('discharge', T(12), { discharge: { method: '4', destination: '79' }, deceased: true });
  const a13 = ev('cancel-discharge', T(13));
  const a11 = ev('cancel-admit', T(14));
  const unknown = ev('other', T(10), { location: ward3 });

  const sets: Record<string, EventSummary[]> = {
    'full story': [a05, a01, a02, a08, a03],
    'transfer and its cancellation': [a01, a02, a12, a21, a22],
    'discharge undone': [a01, a02, a03, a13],
    death: [a01, a08, death],
    'cancelled after discharge': [a01, a03, a11],
    'resend and an unknown event': [a01, a01resend, unknown, a03],
    'two events at the same EVN-2': [a01, a02, a08, a21, a22],
  };

  for (const [name, events] of Object.entries(sets)) {
    it(`${name}: all ${[...permutations(events)].length} orders fold to the same state`, () => {
      const reference = foldSpell(events);
      for (const order of permutations(events)) expect(foldSpell(order)).toEqual(reference);
    });
  }

  it('random arrival orders of a larger spell (seeded) all fold to the same state', () => {
    const events = [a05, a01, a01resend, a02, a08, a12, a21, a22, unknown, a03, a13];
    const reference = foldSpell(events);
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 500; i++) {
      const order = [...events];
      for (let j = order.length - 1; j > 0; j--) {
        const k = Math.floor(random() * (j + 1));
        [order[j], order[k]] = [order[k]!, order[j]!];
      }
      expect(foldSpell(order)).toEqual(reference);
    }
  });
});

describe('foldSpell: clinical meaning (CONTRACT.md "Death", "Discharge destination", "Readmission")', () => {
  it('a death signal on any event, in any arrival order, makes the stay a death; the discharge stays in force', () => {
    const a01 = ev('admit', T(9));
    const a03 = ev('discharge', T(12), { discharge: { method: '1', destination: '19', destinationCategory: 'home' } });
    const a08 = ev('update', T(13), { deceased: true });
    for (const order of permutations([a01, a03, a08])) {
      const s = foldSpell(order);
      expect(s).toMatchObject({
        discharged: true,
        died: true,
        destinationCategory: 'died',
        dischargeMessageId: a03.messageId,
      });
    }
  });

  it('a death on a non-discharge event ends the stay without an A03, and an A13 does not undo it', () => {
    const s = foldSpell([
      ev('admit', T(9)),
      ev('update', T(10), { deceased: true, deceasedAt: T(10) }),
      ev('cancel-discharge', T(11)),
    ]);
    expect(s).toMatchObject({ discharged: true, died: true, diedOutsideDischarge: true, dischargedAt: T(10) });
  });

  it('an A13 undoes a death reported only on the discharge it cancels', () => {
    const s = foldSpell([ev('admit', T(9)), ev('discharge', T(10), { deceased: true }), ev('cancel-discharge', T(11))]);
    expect(s).toMatchObject({ discharged: false, died: false });
  });

  it('messages stored before classification are read from their codes: destination 79 and method 4/5 are deaths', () => {
    expect(foldSpell([ev('discharge', T(10), { discharge: { destination: '79' } })]).died).toBe(true);
    expect(foldSpell([ev('discharge', T(10), { discharge: { method: '5' } })]).died).toBe(true);
    expect(foldSpell([ev('discharge', T(10), { discharge: { destination: '54' } })]).destinationCategory).toBe(
      'care-home',
    );
  });

  it('an admission later than the discharge is a readmission (new keys); one at or before it changes nothing', () => {
    const a01 = ev('admit', T(9));
    const a03 = ev('discharge', T(12));
    const resend = ev('admit', T(9));
    expect(foldSpell([a01, a03, resend])).toMatchObject({ discharged: true, readmissions: 0 });
    const again = foldSpell([a01, a03, ev('admit', T(15))]);
    expect(again).toMatchObject({ admitted: true, discharged: false, readmissions: 1, admittedAt: T(15) });
    expect(spellKeys(again)).toEqual({
      admission: 'admission#0.1',
      discharge: 'discharge#0.1',
      death: 'death#0.1',
      replaced: 'discharge-replaced#0.1',
    });
    expect(spellKeys(foldSpell([a01]))).toMatchObject({ admission: 'admission#0', discharge: 'discharge#0' });
  });
});
