import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../domain/admission-event.js';
import type { CodeMap } from '../domain/clinical.js';
import { InputError } from '../domain/errors.js';
import { parseAdt, readHeader, readHeaderLenient, toAdmissionEvent, validateHeader } from './adt.js';
import { parseHl7 } from './message.js';

const FIXTURES = new URL('../../test/fixtures/hl7/', import.meta.url);
const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.hl7'));
const fixtureBytes = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const fixture = (name: string): AdmissionEvent => parseAdt(fixtureBytes(name)).event;

type Fields = Record<number, string>;

/** One segment from HL7-numbered fields; absent numbers are empty, trailing ones omitted. */
function seg(name: string, fields: Fields): string {
  const max = Math.max(0, ...Object.keys(fields).map(Number));
  if (name === 'MSH') {
    const parts: string[] = [];
    for (let i = 3; i <= max; i++) parts.push(fields[i] ?? '');
    return ['MSH', '^~\\&', ...parts].join('|');
  }
  const parts = [name];
  for (let i = 1; i <= max; i++) parts.push(fields[i] ?? '');
  return parts.join('|');
}

interface Build {
  msh?: Fields;
  evn?: Fields | null;
  pid?: Fields | null;
  pv1?: Fields | null;
  after?: string[];
}

const BASE = {
  msh: {
    3: 'PAS',
    4: 'RX1',
    5: 'ADMISSION-ALERTS',
    6: 'NHSE',
    7: '20261122093000',
    9: 'ADT^A01^ADT_A01',
    10: 'C1',
    11: 'P',
    12: '2.4',
  },
  evn: { 1: 'A01', 2: '20261122092500' },
  pid: { 1: '1', 3: '9995260182^^^NHS^NH~RX1001234^^^RX1^MR', 5: 'SMITH^MARGARET', 7: '19410312' },
  pv1: { 1: '1', 2: 'I', 3: 'RX1WD12^B3^12^RX1^^^^^Ward 12', 19: 'SPL0001234^^^RX1^VN' },
} satisfies Required<Omit<Build, 'after'>>;

/** A small ADT message: BASE with fields overridden (an override of '' clears a field; null drops a segment). */
function build(b: Build = {}): string {
  const segs = [seg('MSH', { ...BASE.msh, ...b.msh })];
  if (b.evn !== null) segs.push(seg('EVN', { ...BASE.evn, ...b.evn }));
  if (b.pid !== null) segs.push(seg('PID', { ...BASE.pid, ...b.pid }));
  if (b.pv1 !== null) segs.push(seg('PV1', { ...BASE.pv1, ...b.pv1 }));
  return [...segs, ...(b.after ?? [])].join('\r');
}

const eventOf = (b: Build = {}): AdmissionEvent => parseAdt(build(b)).event;

/** The InputError `fn` throws (fails the test when it throws something else or nothing). */
function inputErrorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError, nothing was thrown');
}

const withTrigger = (trigger: string, pv1: Fields = {}): Build => ({
  msh: { 9: `ADT^${trigger}^ADT_A01` },
  evn: { 1: trigger },
  pv1,
});

describe('fixtures: what each hospital message becomes', () => {
  it('a01-admit: admission with NHS number from PID-3 ^^^NHS^NH, ward from PV1-3.9, spell from PV1-19', () => {
    expect(fixture('a01-admit.hl7')).toEqual({
      source: 'hl7',
      trigger: 'A01',
      kind: 'admit',
      hospitalOds: 'RX1',
      visitNumber: 'SPL0001234',
      messageControlId: 'RX1-000001',
      eventAt: '2026-11-22T09:25:00.000Z',
      messageAt: '2026-11-22T09:30:00.000Z',
      patientClass: 'I',
      patient: {
        nhsNumber: '9995260182',
        nhsNumberValid: true,
        otherIdentifiers: ['RX1001234^RX1'],
        familyName: 'SMITH',
        givenName: 'MARGARET',
        dateOfBirth: '1941-03-12',
        deceased: false,
      },
      processingId: 'P',
      location: {
        pointOfCare: 'RX1WD12',
        room: 'B3',
        bed: '12',
        facility: 'RX1',
        description: 'Ward 12 Elderly Care',
        ward: 'Ward 12 Elderly Care',
      },
      admittedAt: '2026-11-22T09:20:00.000Z',
    });
  });

  it('a01-unknown-patient: still a well-formed admission (emergency patient class)', () => {
    const e = fixture('a01-unknown-patient.hl7');
    expect(e).toMatchObject({ kind: 'admit', patientClass: 'E', visitNumber: 'SPL0009999' });
    expect(e.patient).toMatchObject({ nhsNumber: '9990166137', nhsNumberValid: true, familyName: 'TAYLOR' });
    expect(e.location?.ward).toBe('Emergency Department');
  });

  it('a02-transfer: new ward in PV1-3, prior location in PV1-6 (ward falls back to the point of care)', () => {
    const e = fixture('a02-transfer.hl7');
    expect(e.kind).toBe('transfer');
    expect(e.location).toMatchObject({ pointOfCare: 'RX1WD07', bed: '4', ward: 'Ward 7 Orthopaedics' });
    expect(e.priorLocation).toEqual({
      pointOfCare: 'RX1WD12',
      room: 'B3',
      bed: '12',
      facility: 'RX1',
      ward: 'RX1WD12',
    });
    expect(e.eventAt).toBe('2026-11-23T10:10:00.000Z');
  });

  it('a03-discharge-home: discharge method 1, destination 19, PV1-45 time', () => {
    const e = fixture('a03-discharge-home.hl7');
    expect(e).toMatchObject({
      kind: 'discharge',
      discharge: { method: '1', destination: '19', destinationCategory: 'home' },
      dischargedAt: '2026-11-26T14:00:00.000Z',
      admittedAt: '2026-11-22T09:20:00.000Z',
    });
    expect(e.patient.deceased).toBeUndefined();
  });

  it('a03-discharge-died: PID-29/30 death date and indicator, discharge method 4', () => {
    const e = fixture('a03-discharge-died.hl7');
    expect(e.kind).toBe('discharge');
    expect(e.patient).toMatchObject({
      nhsNumber: '9991590838',
      deceased: true,
      deceasedAt: '2026-11-27T05:30:00.000Z',
      dateOfBirth: '1933-09-07',
    });
    expect(e.patient.deathSignals).toEqual([
      'discharge-method',
      'discharge-destination',
      'death-indicator',
      'death-date',
    ]);
    expect(e.discharge).toEqual({ method: '4', destination: '79', destinationCategory: 'died' });
  });

  it('a08-update: update with PV2-9 expected discharge date', () => {
    const e = fixture('a08-update.hl7');
    expect(e.kind).toBe('update');
    expect(e.expectedDischargeDate).toBe('2026-11-26');
  });

  it('a11-cancel-admit: admission cancelled', () => {
    expect(fixture('a11-cancel-admit.hl7')).toMatchObject({
      kind: 'cancel-admit',
      trigger: 'A11',
      visitNumber: 'SPL0001234',
    });
  });

  it('a13-cancel-discharge: discharge cancelled', () => {
    expect(fixture('a13-cancel-discharge.hl7')).toMatchObject({ kind: 'cancel-discharge', trigger: 'A13' });
  });

  it('malformed-bad-nhs-number: a valid event whose NHS number fails modulus 11 (accepted, later unmatched)', () => {
    const e = fixture('malformed-bad-nhs-number.hl7');
    expect(e.kind).toBe('admit');
    expect(e.patient.nhsNumber).toBe('9995260183');
    expect(e.patient.nhsNumberValid).toBe(false);
    expect(e.patient.nhsNumberProblem).toMatch(/modulus 11/);
  });

  it('malformed-no-msh: refused as no-msh', () => {
    expect(inputErrorOf(() => parseAdt(fixtureBytes('malformed-no-msh.hl7'))).code).toBe('no-msh');
  });

  it.each(fixtureNames.filter((f) => !f.startsWith('malformed-no-msh')))(
    '%s gives the same event with CR and CRLF segment terminators as with LF',
    (name) => {
      const lf = fixtureBytes(name).toString('utf8');
      const expected = parseAdt(lf).event;
      expect(parseAdt(lf.replace(/\n/g, '\r')).event).toEqual(expected);
      expect(parseAdt(lf.replace(/\n/g, '\r\n')).event).toEqual(expected);
    },
  );
});

describe('header', () => {
  it('readHeader reads MSH-3 to MSH-18 of a fixture', () => {
    expect(readHeader(parseHl7(fixtureBytes('a01-admit.hl7').toString()))).toEqual({
      fieldSeparator: '|',
      encodingCharacters: '^~\\&',
      sendingApplication: 'PAS',
      sendingFacility: 'RX1',
      receivingApplication: 'ADMISSION-ALERTS',
      receivingFacility: 'NHSE',
      messageAt: '2026-11-22T09:30:00.000Z',
      messageType: 'ADT',
      triggerEvent: 'A01',
      messageStructure: 'ADT_A01',
      controlId: 'RX1-000001',
      processingId: 'P',
      version: '2.4',
      charset: 'UNICODE UTF-8',
    });
  });

  it('reads MSH-15/16 (enhanced acknowledgement mode) when present', () => {
    const h = parseAdt(build({ msh: { 15: 'AL', 16: 'NE' } })).header;
    expect(h.acceptAckType).toBe('AL');
    expect(h.applicationAckType).toBe('NE');
  });

  it.each([
    '2.1',
    '2.2',
    '2.3',
    '2.3.1',
    '2.4',
    '2.5',
    '2.5.1',
    '2.6',
    '2.7',
    '2.7.1',
    '2.8',
    '2.8.1',
    '2.8.2',
    '2.5.1^GBR^NHS',
    '2.8.2^GBR',
  ])('accepts MSH-12 version %s', (version) => {
    expect(eventOf({ msh: { 12: version } }).kind).toBe('admit');
  });

  it.each(['2.9', '2.0', '2.8.3', '2.4.1', '3.0', '2', ''])(
    'rejects MSH-12 version %j as unsupported-version at MSH-12, naming the versions taken',
    (version) => {
      const err = inputErrorOf(() => parseAdt(build({ msh: { 12: version } })));
      expect(err).toMatchObject({ code: 'unsupported-version', location: 'MSH-12' });
      expect(err.message).toMatch(
        /is not supported: 2\.1, 2\.2, 2\.3, 2\.3\.1, 2\.4, 2\.5, 2\.5\.1, 2\.6, 2\.7, 2\.7\.1, 2\.8, 2\.8\.1 or 2\.8\.2$/,
      );
    },
  );

  it('rejects a message type other than ADT as unsupported-message-type at MSH-9', () => {
    const err = inputErrorOf(() => parseAdt(build({ msh: { 9: 'ORU^R01^ORU_R01' } })));
    expect(err).toMatchObject({ code: 'unsupported-message-type', location: 'MSH-9' });
  });

  it('rejects a missing MSH-10 control ID or MSH-4 sending facility as bad-header', () => {
    expect(inputErrorOf(() => parseAdt(build({ msh: { 10: '' } })))).toMatchObject({
      code: 'bad-header',
      location: 'MSH-10',
    });
    expect(inputErrorOf(() => parseAdt(build({ msh: { 4: '' } })))).toMatchObject({
      code: 'bad-header',
      location: 'MSH-4',
    });
  });

  it('refuses an MSH-10 or MSH-4 too long to be an identifier, or holding control characters, as bad-header', () => {
    const longId = 'C'.repeat(200);
    expect(inputErrorOf(() => parseAdt(build({ msh: { 10: longId } })))).toMatchObject({
      code: 'bad-header',
      location: 'MSH-10',
    });
    expect(() => parseAdt(build({ msh: { 10: 'C'.repeat(199) } }))).not.toThrow();
    expect(inputErrorOf(() => parseAdt(build({ msh: { 4: 'R'.repeat(65) } })))).toMatchObject({
      code: 'bad-header',
      location: 'MSH-4',
    });
    expect(inputErrorOf(() => parseAdt(build({ msh: { 4: 'RX\\X1C\\1' } })))).toMatchObject({
      code: 'bad-header',
      location: 'MSH-4',
    });
  });

  it('quotes at most 40 characters of a bad MSH-9 or MSH-12 in the error, so an ACK never echoes a huge field', () => {
    const err = inputErrorOf(() => parseAdt(build({ msh: { 9: `${'X'.repeat(5000)}^A01` } })));
    expect(err.code).toBe('unsupported-message-type');
    expect(err.message.length).toBeLessThan(120);
  });

  it('upper-cases MSH-4, as ODS codes are registered', () => {
    expect(readHeader(parseHl7(build({ msh: { 4: 'rx1^Leeds^ODS' } }))).sendingFacility).toBe('RX1');
    expect(readHeaderLenient('MSH|^^|PAS|rx1|AA|NHSE|20261122||ADT^A01|C9|P|2.3').sendingFacility).toBe('RX1');
  });

  it('validateHeader passes a good header', () => {
    expect(() => validateHeader(readHeader(parseHl7(build())))).not.toThrow();
  });

  it('readHeaderLenient still finds MSH-4, MSH-10 and MSH-12 when the encoding characters are broken', () => {
    const text = 'MSH|^^|PAS|RX1|AA|NHSE|20261122||ADT^A01|C9|P|2.3\rPID|1';
    expect(() => parseHl7(text)).toThrow(InputError);
    expect(readHeaderLenient(text)).toMatchObject({
      sendingApplication: 'PAS',
      sendingFacility: 'RX1',
      receivingFacility: 'NHSE',
      messageType: 'ADT',
      triggerEvent: 'A01',
      controlId: 'C9',
      version: '2.3',
    });
  });

  it('readHeaderLenient returns nothing for text with no MSH, and the full header for a parsed message', () => {
    expect(readHeaderLenient('EVN|A01\rPID|1')).toEqual({});
    expect(readHeaderLenient(parseHl7(build())).controlId).toBe('C1');
  });
});

describe('event kinds (MSH-9.2, else EVN-1)', () => {
  it.each([
    ['A01', 'admit'],
    ['A05', 'pre-admit'],
    ['A06', 'admit'],
    ['A02', 'transfer'],
    ['A12', 'cancel-transfer'],
    ['A03', 'discharge'],
    ['A13', 'cancel-discharge'],
    ['A11', 'cancel-admit'],
    ['A08', 'update'],
    ['A21', 'leave'],
    ['A22', 'return'],
    ['A20', 'other'],
    ['A07', 'other'],
  ])('%s is %s', (trigger, kind) => {
    expect(eventOf(withTrigger(trigger)).kind).toBe(kind);
  });

  it('A04 for an inpatient (PV1-2 = I) is an admission', () => {
    expect(eventOf(withTrigger('A04', { 2: 'I' })).kind).toBe('admit');
  });

  it('A04 for an outpatient or emergency patient is only an update', () => {
    expect(eventOf(withTrigger('A04', { 2: 'O' })).kind).toBe('update');
    expect(eventOf(withTrigger('A04', { 2: 'E' })).kind).toBe('update');
  });

  it('A31 is an update of the spell when it carries a PV1-19, else a person-level identity event', () => {
    expect(eventOf(withTrigger('A31')).kind).toBe('update');
    expect(eventOf({ ...withTrigger('A31'), pv1: null })).toMatchObject({ kind: 'identity', visitNumber: '' });
    expect(eventOf(withTrigger('A31', { 19: '' })).kind).toBe('identity');
  });

  it.each(['A34', 'A47'])('%s is a person-level identity event, with or without a PV1-19', (trigger) => {
    expect(eventOf({ ...withTrigger(trigger), pv1: null })).toMatchObject({ kind: 'identity', visitNumber: '' });
    expect(eventOf(withTrigger(trigger))).toMatchObject({ kind: 'identity', visitNumber: 'SPL0001234' });
  });

  it('A40 is a merge with or without a PV1-19', () => {
    expect(eventOf({ ...withTrigger('A40'), pv1: null }).kind).toBe('merge');
    expect(eventOf(withTrigger('A40')).kind).toBe('merge');
  });

  it('A28 is an update only with a PV1-19, else other (it is not an identity correction)', () => {
    expect(eventOf(withTrigger('A28')).kind).toBe('update');
    expect(eventOf({ ...withTrigger('A28'), pv1: null }).kind).toBe('other');
  });

  it('an identity event still needs a PID (it says who)', () => {
    expect(inputErrorOf(() => eventOf({ ...withTrigger('A31'), pid: null, pv1: null }))).toMatchObject({
      code: 'bad-segment',
      location: 'PID',
    });
  });

  it('takes the trigger from EVN-1 when MSH-9 has no second component (v2.2 style)', () => {
    const e = eventOf({ msh: { 9: 'ADT', 12: '2.2' }, evn: { 1: 'A03' } });
    expect(e).toMatchObject({ trigger: 'A03', kind: 'discharge' });
  });

  it('A40 merge collects MRG-1 identifiers (and the bare NHS number) and needs no visit number', () => {
    const e = eventOf({ ...withTrigger('A40'), pv1: null, after: ['MRG|RX1000001^^^RX1^MR~9991590838^^^NHS^NH'] });
    expect(e.kind).toBe('merge');
    expect(e.visitNumber).toBe('');
    expect(e.mergedFrom).toEqual(['RX1000001^RX1', '9991590838^NHS', '9991590838']);
  });

  it('an unknown trigger without PID or PV1 is stored as other, with no patient', () => {
    const e = eventOf({ ...withTrigger('A20'), pid: null, pv1: null });
    expect(e).toMatchObject({ kind: 'other', visitNumber: '' });
    expect(e.patient).toMatchObject({ nhsNumber: null, nhsNumberValid: false });
  });
});

describe('NHS number (PID-3, else PID-2)', () => {
  const nhsOf = (pid: Fields) => eventOf({ pid }).patient;

  it.each([
    ['^^^NHS^NH', '9995260182^^^NHS^NH'],
    ['^^^^NHSNMBR', '9995260182^^^^NHSNMBR'],
    ['^^^2.16.840.1.113883.2.1.4.1', '9995260182^^^2.16.840.1.113883.2.1.4.1'],
    ['^^^&2.16.840.1.113883.2.1.4.1&ISO (HD.2)', '9995260182^^^&2.16.840.1.113883.2.1.4.1&ISO'],
    ['^^^NHS (CX-4 only)', '9995260182^^^NHS'],
    ['after a local id', 'RX1001234^^^RX1^MR~9995260182^^^NHS^NH'],
  ])('finds it in a PID-3 repetition marked %s', (_label, pid3) => {
    expect(nhsOf({ 3: pid3 })).toMatchObject({ nhsNumber: '9995260182', nhsNumberValid: true });
  });

  it('also takes CX-5 NHS (sent by some feeds) as the NHS number', () => {
    const e = eventOf({ pid: { 3: 'RX1001234^^^RX1^MR~9995260182^^^^NHS' } });
    expect(e.patient).toMatchObject({ nhsNumber: '9995260182', nhsNumberValid: true });
  });

  it('ignores spaces inside the number (999 526 0182)', () => {
    const p = nhsOf({ 3: '999 526 0182^^^NHS^NH' });
    expect(p).toMatchObject({ nhsNumber: '9995260182', nhsNumberValid: true });
    expect(p.nhsNumberProblem).toBeUndefined();
  });

  it('falls back to PID-2 (older feeds) when PID-3 has none', () => {
    expect(nhsOf({ 2: '9991590838', 3: '' })).toMatchObject({ nhsNumber: '9991590838', nhsNumberValid: true });
    expect(nhsOf({ 2: '999 159 0838', 3: 'RX1001234^^^RX1^MR' })).toMatchObject({
      nhsNumber: '9991590838',
      otherIdentifiers: ['RX1001234^RX1'],
    });
  });

  it('does not take a PID-2 that says it is a local id (CX-5 MR) as the NHS number', () => {
    expect(nhsOf({ 2: 'X123^^^RX1^MR', 3: '' })).toMatchObject({
      nhsNumber: null,
      nhsNumberProblem: 'no NHS number in PID-3 or PID-2',
      otherIdentifiers: ['X123^RX1'],
    });
  });

  it('a bad check digit is not an error: the event says the number is invalid and why', () => {
    const p = nhsOf({ 3: '9995260183^^^NHS^NH' });
    expect(p).toMatchObject({ nhsNumber: '9995260183', nhsNumberValid: false });
    expect(p.nhsNumberProblem).toMatch(/modulus 11/);
  });

  it('takes the first valid one when several repetitions claim to be NHS numbers', () => {
    expect(nhsOf({ 3: '9995260183^^^NHS^NH~9991590838^^^NHS^NH' }).nhsNumber).toBe('9991590838');
  });

  it('only local ids (MRN) is not an error: no NHS number, local ids kept for operators', () => {
    expect(nhsOf({ 3: 'RX1001234^^^RX1^MR' })).toEqual({
      nhsNumber: null,
      nhsNumberValid: false,
      nhsNumberProblem: 'no NHS number in PID-3 or PID-2',
      otherIdentifiers: ['RX1001234^RX1'],
      familyName: 'SMITH',
      givenName: 'MARGARET',
      dateOfBirth: '1941-03-12',
    });
  });

  it('no identifier at all in PID-3 and PID-2 is no-patient-identifier at PID-3', () => {
    expect(inputErrorOf(() => eventOf({ pid: { 2: '', 3: '' } }))).toMatchObject({
      code: 'no-patient-identifier',
      location: 'PID-3',
    });
    expect(inputErrorOf(() => eventOf({ pid: { 3: '^^^NHS^NH' } })).code).toBe('no-patient-identifier');
  });

  it('a missing PID segment is bad-segment at PID', () => {
    expect(inputErrorOf(() => eventOf({ pid: null }))).toMatchObject({ code: 'bad-segment', location: 'PID' });
  });
});

describe('visit number (PV1-19)', () => {
  it.each(['A01', 'A05', 'A02', 'A12', 'A03', 'A13', 'A11', 'A08', 'A21', 'A22'])(
    '%s without PV1-19 is no-visit-number at PV1-19',
    (trigger) => {
      const err = inputErrorOf(() => eventOf(withTrigger(trigger, { 19: '' })));
      expect(err).toMatchObject({ code: 'no-visit-number', location: 'PV1-19' });
    },
  );

  it('an A01 with no PV1 segment at all is bad-segment at PV1', () => {
    expect(inputErrorOf(() => eventOf({ pv1: null }))).toMatchObject({ code: 'bad-segment', location: 'PV1' });
  });

  it('a visit number longer than 64 characters (it becomes part of a workflow id) is invalid at PV1-19', () => {
    expect(inputErrorOf(() => eventOf({ pv1: { 19: 'V'.repeat(65) } }))).toMatchObject({
      code: 'invalid',
      location: 'PV1-19',
    });
    expect(eventOf({ pv1: { 19: 'V'.repeat(64) } }).visitNumber).toHaveLength(64);
  });

  it('an event of kind other may have no visit number', () => {
    expect(eventOf(withTrigger('A20', { 19: '' })).visitNumber).toBe('');
  });
});

describe('times', () => {
  it('eventAt is EVN-2, else EVN-6, else MSH-7', () => {
    expect(eventOf({ evn: { 2: '20261122092500', 6: '20261122092000' } }).eventAt).toBe('2026-11-22T09:25:00.000Z');
    expect(eventOf({ evn: { 2: '', 6: '20261122092000' } }).eventAt).toBe('2026-11-22T09:20:00.000Z');
    expect(eventOf({ evn: { 2: '' } }).eventAt).toBe('2026-11-22T09:30:00.000Z');
    expect(eventOf({ evn: null }).eventAt).toBe('2026-11-22T09:30:00.000Z');
  });

  it('a summer time without offset is BST (UTC one hour earlier); an explicit offset is honoured', () => {
    const e = eventOf({
      msh: { 7: '20260715093000' },
      evn: { 2: '20260715092500' },
      pv1: { 44: '20260715092000+0000' },
    });
    expect(e.messageAt).toBe('2026-07-15T08:30:00.000Z');
    expect(e.eventAt).toBe('2026-07-15T08:25:00.000Z');
    expect(e.admittedAt).toBe('2026-07-15T09:20:00.000Z');
  });

  it.each([
    ['EVN-2', { evn: { 2: '20261332' } }],
    ['EVN-6', { evn: { 2: '', 6: 'yesterday' } }],
    ['MSH-7', { msh: { 7: '20260230' } }],
    ['PID-7', { pid: { 7: '19411312' } }],
    ['PID-29', { pid: { 29: '2026112' } }],
    ['PV1-44', { pv1: { 44: '2026112209999' } }],
    ['PV1-45', { pv1: { 45: '20261122250000' } }],
  ] as [string, Build][])('a bad date in %s is bad-date naming that field', (field, b) => {
    expect(inputErrorOf(() => eventOf(b))).toMatchObject({ code: 'bad-date', location: field });
  });

  it('a bad PV2-9 is bad-date at PV2-9', () => {
    expect(inputErrorOf(() => eventOf({ after: ['PV2|||||||||20261131'] }))).toMatchObject({
      code: 'bad-date',
      location: 'PV2-9',
    });
  });

  it('no time anywhere (EVN and MSH-7 empty) is bad-date at MSH-7', () => {
    expect(inputErrorOf(() => eventOf({ msh: { 7: '' }, evn: null }))).toMatchObject({
      code: 'bad-date',
      location: 'MSH-7',
    });
  });
});

describe('robustness', () => {
  it('Z-segments anywhere change nothing', () => {
    const plain = eventOf();
    const withZ = parseAdt(build().replace('\rPID', '\rZU1|x|y^z\rPID') + '\rZPV|1|anything').event;
    expect(withZ).toEqual(plain);
  });

  it('missing trailing fields read as absent, not as errors', () => {
    const text = [
      'MSH|^~\\&|PAS|RX1||NHSE|20261122093000||ADT^A01|C1|P|2.4',
      'EVN|A01',
      'PID|1||9995260182^^^NHS^NH',
      seg('PV1', { 1: '1', 2: 'I', 19: 'SPL1' }),
    ].join('\r');
    const e = parseAdt(text).event;
    expect(e.visitNumber).toBe('SPL1');
    expect(e.patient.familyName).toBeUndefined();
    expect(e.patient.dateOfBirth).toBeUndefined();
    expect(e.admittedAt).toBeUndefined();
    expect(e.discharge).toBeUndefined();
  });

  it('reads a Latin-1 name (BRONTË) from bytes when MSH-18 is 8859/1', () => {
    const text = build({ msh: { 18: '8859/1' }, pid: { 5: 'BRONTË^ANNE' } });
    const { event } = parseAdt(Buffer.from(text, 'latin1'));
    expect(event.patient.familyName).toBe('BRONTË');
  });

  it('decodes escapes in names and ward descriptions', () => {
    const e = eventOf({
      pid: { 5: 'O\\X27\\BRIEN^MARY\\T\\ANN' },
      pv1: { 3: 'RX1WD12^^^RX1^^^^^Ward 12 \\T\\ Annex' },
    });
    expect(e.patient.familyName).toBe("O'BRIEN");
    expect(e.patient.givenName).toBe('MARY&ANN');
    expect(e.location?.ward).toBe('Ward 12 & Annex');
  });

  it('reads the surname from the first sub-component of XPN.1 (FN type, v2.3+)', () => {
    expect(eventOf({ pid: { 5: 'SMITH&VAN&DER^JO' } }).patient.familyName).toBe('SMITH');
  });

  it('PV1-36 discharge method 4 means the patient died, even without PID-30', () => {
    const e = eventOf({ ...withTrigger('A03'), pv1: { 36: '4', 45: '20261127053000' } });
    expect(e.patient.deceased).toBe(true);
  });

  it('toAdmissionEvent works from a parsed message and header', () => {
    const msg = parseHl7(build());
    expect(toAdmissionEvent(msg, readHeader(msg)).messageControlId).toBe('C1');
  });
});

describe('MRG-1: who was merged or corrected (A34, A40, A47)', () => {
  const merged = (trigger: string, mrg: string[]) =>
    eventOf({ ...withTrigger(trigger), pv1: null, after: mrg }).mergedFrom;

  it.each(['A34', 'A40', 'A47'])('%s: every MRG-1 CX as value^authority, an NHS number also bare', (trigger) => {
    expect(merged(trigger, ['MRG|999 159 0838^^^NHS^NH~RX1000001^^^RX1^MR'])).toEqual([
      '999 159 0838^NHS',
      '9991590838',
      'RX1000001^RX1',
    ]);
  });

  it.each([
    ['CX-5 NHSNMBR', '9991590838^^^^NHSNMBR', ['9991590838', '9991590838']],
    ['CX-5 NHS', '9991590838^^^^NHS', ['9991590838', '9991590838']],
    [
      'CX-4 the NHS number OID',
      '9991590838^^^2.16.840.1.113883.2.1.4.1',
      ['9991590838^2.16.840.1.113883.2.1.4.1', '9991590838'],
    ],
    [
      'CX-4.2 the NHS number OID',
      '9991590838^^^&2.16.840.1.113883.2.1.4.1&ISO',
      ['9991590838^2.16.840.1.113883.2.1.4.1', '9991590838'],
    ],
  ])('an NHS number marked by %s is recognised as in PID-3', (_how, cx, expected) => {
    expect(merged('A40', [`MRG|${cx}`])).toEqual([...new Set(expected)]);
  });

  it('a local id (CX-5 MR) stays only as value^authority; a CX with no authority is its bare value', () => {
    expect(merged('A40', ['MRG|RX1000001^^^RX1^MR~LOCAL7'])).toEqual(['RX1000001^RX1', 'LOCAL7']);
  });

  it('several MRG segments are all read; repeats are kept once; empty repetitions are skipped', () => {
    expect(merged('A40', ['MRG|9991590838^^^NHS^NH~', 'MRG|9991590838^^^NHS^NH~RX2^^^RX1^MR'])).toEqual([
      '9991590838^NHS',
      '9991590838',
      'RX2^RX1',
    ]);
  });

  it('no MRG: an empty list; an A31 or an A08 has no mergedFrom at all', () => {
    expect(merged('A40', [])).toEqual([]);
    expect(
      eventOf({ ...withTrigger('A31'), pv1: null, after: ['MRG|9991590838^^^NHS^NH'] }).mergedFrom,
    ).toBeUndefined();
    expect(eventOf(withTrigger('A08')).mergedFrom).toBeUndefined();
  });
});

describe('MSH-11 processing ID', () => {
  it.each([
    ['P', 'P'],
    ['', 'P'],
    ['T', 'T'],
    ['D', 'D'],
    ['t', 'T'],
    ['P^T', 'P'],
    ['T^A', 'T'],
  ])('MSH-11 %j is accepted as processing ID %s', (sent, expected) => {
    const { header, event } = parseAdt(build({ msh: { 11: sent } }));
    expect(event.processingId).toBe(expected);
    expect(header.processingId).toBe(sent === '' ? '' : expected);
  });

  it.each(['X', 'PT', 'Q^T', 'TRAINING'])('MSH-11 %j is unsupported-processing-id at MSH-11 (answered AR)', (sent) => {
    const err = inputErrorOf(() => parseAdt(build({ msh: { 11: sent } })));
    expect(err).toMatchObject({ code: 'unsupported-processing-id', location: 'MSH-11' });
    expect(err.message).toMatch(
      /^MSH-11 processing ID .+ is not supported: P \(production\), T \(training\) or D \(debugging\)$/,
    );
  });

  it('readHeaderLenient reads (and upper-cases) MSH-11 too', () => {
    expect(readHeaderLenient('MSH|^^|PAS|RX1|AA|NHSE|20261122||ADT^A01|C9|d|2.3').processingId).toBe('D');
  });
});

describe('death signals (CONTRACT.md "Death")', () => {
  const a03 = (pv1: Fields = {}, pid: Fields = {}): Build => ({
    ...withTrigger('A03', { 45: '20261127053000', ...pv1 }),
    pid,
  });
  const patientOf = (b: Build, map?: CodeMap) => parseAdt(build(b), map).event.patient;

  it.each([
    ['PV1-36 4 (died)', a03({ 36: '4' }), ['discharge-method']],
    ['PV1-36 5 (stillbirth)', a03({ 36: '5' }), ['discharge-method']],
    ['PV1-36 4 as a v2.7 CWE', a03({ 36: '4^Patient died^NHSDD' }), ['discharge-method']],
    ['PV1-37 79', a03({ 37: '79' }), ['discharge-destination']],
    [
      'PV1-37 79 as a v2.7 CWE in DLD.1',
      a03({ 37: '79&Not applicable - died&NHSDD^20261127' }),
      ['discharge-destination'],
    ],
    ['PID-30 Y', a03({}, { 30: 'Y' }), ['death-indicator']],
    ['PID-30 y', a03({}, { 30: 'y' }), ['death-indicator']],
    ['PID-29 present', a03({}, { 29: '20261127053000' }), ['death-date']],
    ['PID-29 present even when PID-30 says N', a03({}, { 29: '20261127053000', 30: 'N' }), ['death-date']],
    ['PV1-36 4 even when PID-30 says N', a03({ 36: '4' }, { 30: 'N' }), ['discharge-method']],
    ['PV1-37 79 even when PID-30 says N', a03({ 37: '79' }, { 30: 'N' }), ['discharge-destination']],
  ])('%s alone: deceased, with that signal', (_what, b, signals) => {
    const p = patientOf(b);
    expect(p.deceased).toBe(true);
    expect(p.deathSignals).toEqual(signals);
  });

  it('a death signal on an event that is not a discharge counts too (an A08 with PID-29)', () => {
    const p = eventOf({ ...withTrigger('A08'), pid: { 29: '20261127053000' } }).patient;
    expect(p).toMatchObject({ deceased: true, deathSignals: ['death-date'], deceasedAt: '2026-11-27T05:30:00.000Z' });
  });

  it('PID-30 N and nothing else: deceased false, no signals', () => {
    const p = patientOf(a03({ 36: '1', 37: '19' }, { 30: 'N' }));
    expect(p.deceased).toBe(false);
    expect(p.deathSignals).toBeUndefined();
  });

  it.each([
    ['method 1, destination 19', a03({ 36: '1', 37: '19' })],
    ['method 2 (self-discharge), destination 54', a03({ 36: '2', 37: '54' })],
    ['nothing at all', a03()],
    ['PID-30 empty', a03({}, { 30: '' })],
  ])('%s: deceased not said, no signals', (_what, b) => {
    const p = patientOf(b);
    expect(p.deceased).toBeUndefined();
    expect(p.deathSignals).toBeUndefined();
  });

  it("a hospital's code map: a method mapped died is a death signal, even though 20 is no national code", () => {
    const map: CodeMap = { dischargeMethod: { '20': 'died' } };
    expect(patientOf(a03({ 36: '20' }), map)).toMatchObject({ deceased: true, deathSignals: ['discharge-method'] });
    expect(patientOf(a03({ 36: '20' })).deceased).toBeUndefined();
  });

  it("a hospital's code map overrides the national method: 4 mapped alive is no death signal", () => {
    const map: CodeMap = { dischargeMethod: { '4': 'alive' } };
    expect(patientOf(a03({ 36: '4' }), map).deathSignals).toBeUndefined();
    expect(patientOf(a03({ 36: '4' }, { 30: 'Y' }), map)).toMatchObject({
      deceased: true,
      deathSignals: ['death-indicator'],
    });
  });

  it("a hospital's code map: a destination mapped died is a death signal; 79 mapped elsewhere is not", () => {
    expect(patientOf(a03({ 37: 'D9' }), { dischargeDestination: { D9: 'died' } })).toMatchObject({
      deceased: true,
      deathSignals: ['discharge-destination'],
    });
    expect(patientOf(a03({ 37: '79' }), { dischargeDestination: { '79': 'home' } }).deathSignals).toBeUndefined();
  });

  it('every signal at once is listed in order: method, destination, indicator, date', () => {
    const p = patientOf(a03({ 36: '4', 37: '79' }, { 29: '20261127053000', 30: 'Y' }));
    expect(p.deathSignals).toEqual(['discharge-method', 'discharge-destination', 'death-indicator', 'death-date']);
  });
});

describe('discharge destination category (PV1-37)', () => {
  const discharge = (pv1: Fields, map?: CodeMap) => parseAdt(build(withTrigger('A03', pv1)), map).event.discharge;

  it.each([
    ['19', 'home'],
    ['29', 'home'],
    ['54', 'care-home'],
    ['65', 'care-home'],
    ['85', 'care-home'],
    ['88', 'care-home'],
    ['49', 'hospital'],
    ['50', 'hospital'],
    ['51', 'hospital'],
    ['52', 'hospital'],
    ['53', 'hospital'],
    ['84', 'hospital'],
    ['87', 'hospital'],
    ['79', 'died'],
    ['98', 'unknown'],
    ['01', 'unknown'],
  ])('PV1-37 %s is %s', (code, category) => {
    expect(discharge({ 37: code })).toEqual({ destination: code, destinationCategory: category });
  });

  it('a code that names a property of every JavaScript object (toString, constructor) is unknown, not a death', () => {
    expect(discharge({ 37: 'toString' })).toEqual({ destination: 'toString', destinationCategory: 'unknown' });
    expect(discharge({ 37: 'constructor' }, { dischargeDestination: { '01': 'home' } })?.destinationCategory).toBe(
      'unknown',
    );
    const p = parseAdt(build(withTrigger('A03', { 36: 'constructor' })), { dischargeMethod: {} }).event.patient;
    expect(p.deathSignals).toBeUndefined();
  });

  it('a discharge with no PV1-36/37 at all is destination unknown', () => {
    expect(discharge({})).toEqual({ destinationCategory: 'unknown' });
    expect(discharge({ 36: '1' })).toEqual({ method: '1', destinationCategory: 'unknown' });
  });

  it("the hospital's map is read before the national codes, and only for the codes it names", () => {
    const map: CodeMap = {
      dischargeDestination: { '01': 'home', '03': 'care-home', '02': 'hospital', '19': 'unknown' },
    };
    expect(discharge({ 37: '01' }, map)?.destinationCategory).toBe('home');
    expect(discharge({ 37: '03' }, map)?.destinationCategory).toBe('care-home');
    expect(discharge({ 37: '02' }, map)?.destinationCategory).toBe('hospital');
    expect(discharge({ 37: '19' }, map)?.destinationCategory).toBe('unknown');
    expect(discharge({ 37: '54' }, map)?.destinationCategory).toBe('care-home');
    expect(discharge({ 37: '01' })?.destinationCategory).toBe('unknown');
  });

  it('any event carrying PV1-36/37 gets a category (an A08); one carrying neither gets no discharge details', () => {
    expect(eventOf(withTrigger('A08', { 37: '54' })).discharge).toEqual({
      destination: '54',
      destinationCategory: 'care-home',
    });
    expect(eventOf(withTrigger('A08')).discharge).toBeUndefined();
    expect(eventOf().discharge).toBeUndefined();
  });

  it('the code map reaches toAdmissionEvent as its third argument', () => {
    const msg = parseHl7(build(withTrigger('A03', { 37: '01' })));
    expect(toAdmissionEvent(msg, readHeader(msg), { dischargeDestination: { '01': 'care-home' } }).discharge).toEqual({
      destination: '01',
      destinationCategory: 'care-home',
    });
  });
});
