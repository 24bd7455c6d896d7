import { describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../domain/admission-event.js';
import { parseAdt } from '../hl7/adt.js';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import type { Db } from '../db/client.js';
import { fansOut, handOverBudget, personIdentifiers, startRelay, waitsToCoalesce } from './relay.js';

/** An ADT message for trigger `trigger`, with an optional PV1-19 and extra segments (MRG). */
function adt(trigger: string, opts: { msh11?: string; visit?: string; pid3?: string; after?: string[] } = {}) {
  const pid3 = opts.pid3 ?? '9995260182^^^NHS^NH~RX1001234^^^RX1^MR';
  return parseAdt(
    [
      `MSH|^~\\&|PAS|RX1|AA|NHSE|20261122093000||ADT^${trigger}|C1|${opts.msh11 ?? 'P'}|2.5`,
      `EVN|${trigger}|20261122092500`,
      `PID|1||${pid3}||SMITH^MARGARET||19410312`,
      ...(opts.visit ? [['PV1', '1', 'I', 'RX1WD12', ...Array<string>(15).fill(''), opts.visit].join('|')] : []),
      ...(opts.after ?? []),
    ].join('\r'),
  ).event;
}

describe('which messages the relay also hands to the patient’s other stays', () => {
  it.each([
    ['A40 (merge)', adt('A40', { after: ['MRG|9991590838^^^NHS^NH'] }), true],
    ['A34 (identity)', adt('A34', { after: ['MRG|9991590838^^^NHS^NH'] }), true],
    ['A47 (identity)', adt('A47', { after: ['MRG|RX1000009^^^RX1^MR'] }), true],
    ['A31 without a visit (identity)', adt('A31'), true],
    ['A47 with a visit (still identity: its own stay and the others)', adt('A47', { visit: 'SPL1' }), true],
    ['A31 with a visit (an update of that stay only)', adt('A31', { visit: 'SPL1' }), false],
    ['A08 (an update of that stay only)', adt('A08', { visit: 'SPL1' }), false],
    ['A01', adt('A01', { visit: 'SPL1' }), false],
    ['A40 in training (MSH-11 T)', adt('A40', { msh11: 'T' }), false],
    ['A31 in debugging (MSH-11 D)', adt('A31', { msh11: 'D' }), false],
  ])('%s: %s', (_what, event, expected) => {
    expect(fansOut(event)).toBe(expected);
  });

  it('an event stored before MSH-11 was recorded (no processingId) counts as live', () => {
    const { processingId: _, ...old } = adt('A40');
    expect(fansOut(old as AdmissionEvent)).toBe(true);
  });
});

describe('personIdentifiers: what a message names its patient by', () => {
  it('the PID NHS number, PID other identifiers and every MRG-1 identifier (NHS number bare too), once each', () => {
    const e = adt('A40', { after: ['MRG|9991590838^^^NHS^NH~RX1000009^^^RX1^MR~RX1001234^^^RX1^MR'] });
    expect(personIdentifiers(e)).toEqual([
      '9995260182',
      'RX1001234^RX1',
      '9991590838^NHS',
      '9991590838',
      'RX1000009^RX1',
    ]);
  });

  it('a patient known only by a local id is found by that id; no identifier at all gives nothing', () => {
    expect(personIdentifiers(adt('A31', { pid3: 'RX1001234^^^RX1^MR' }))).toEqual(['RX1001234^RX1']);
    const none = { ...adt('A31'), patient: { nhsNumber: null, nhsNumberValid: false } } as AdmissionEvent;
    expect(personIdentifiers(none)).toEqual([]);
  });
});

describe('the relay’s lease', () => {
  const deps = {
    db: {} as Db,
    temporal: {} as Client,
    taskQueue: 'q',
    logger: pino({ level: 'silent' }),
    lingerSeconds: 5,
    pollMs: 1000,
  };

  it.each([0, -1, 1.5, 1999])('refuses a lease of %s ms (no room for a call of at least 1 s)', (leaseMs) => {
    expect(() => startRelay({ ...deps, leaseMs })).toThrow(/leaseMs/);
  });

  it('a shorter signal deadline allows a shorter lease (twice the deadline)', () => {
    expect(() => startRelay({ ...deps, leaseMs: 399, signalTimeoutMs: 200 })).toThrow(/at least 400/);
  });
});

describe('when the relay waits to gather a batch', () => {
  it('in a stream (woken within five coalescing waits of its last pass) it waits; after a rest it does not', () => {
    expect(waitsToCoalesce(0, 20)).toBe(true);
    expect(waitsToCoalesce(99, 20)).toBe(true);
    expect(waitsToCoalesce(100, 20)).toBe(false);
    expect(waitsToCoalesce(5_000, 20)).toBe(false);
  });

  it('never, when coalescing is off', () => {
    expect(waitsToCoalesce(0, 0)).toBe(false);
  });
});

describe('how many rows the relay may hand over before it asks Temporal again', () => {
  it('the room the limit leaves in the task queue; none at or over the limit', () => {
    expect(handOverBudget(0, 200)).toBe(200);
    expect(handOverBudget(150, 200)).toBe(50);
    expect(handOverBudget(200, 200)).toBe(0);
    expect(handOverBudget(5_000, 200)).toBe(0);
  });

  it('a backlog Temporal cannot report counts as empty: the relay goes on, and asks again after the limit', () => {
    expect(handOverBudget(undefined, 200)).toBe(200);
  });
});
