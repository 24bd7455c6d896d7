import { describe, expect, it } from 'vitest';
import { InputError } from '../domain/errors.js';
import {
  BIRTH_DATE_EXTENSION_URL,
  encounterToEvent,
  NHS_NUMBER_SYSTEM,
  ODS_ORGANIZATION_SYSTEM,
  R4_DISCHARGE_DISPOSITION_SYSTEM,
  UKCORE_DISCHARGE_METHOD_URL,
} from './encounter.js';

const receivedAt = new Date('2026-11-22T09:21:00.000Z');

/** A realistic UK Core-style admission: spell number, NHS number, contained Patient, ward, ODS code. */
function admission(): Record<string, unknown> {
  return {
    resourceType: 'Encounter',
    id: 'enc-1',
    meta: { lastUpdated: '2026-11-22T09:20:30Z' },
    contained: [
      {
        resourceType: 'Patient',
        id: 'pat',
        birthDate: '1941-03-12',
        name: [{ use: 'official', family: 'SMITH', given: ['MARGARET', 'ANN'] }],
      },
    ],
    identifier: [
      { system: 'https://fhir.example-trust.nhs.uk/Id/local-mrn', value: 'M123' },
      { system: 'https://fhir.rx1.nhs.uk/Id/spell-number', value: 'V000123' },
    ],
    status: 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject: {
      reference: '#pat',
      identifier: { system: NHS_NUMBER_SYSTEM, value: '999 526 0182' },
    },
    period: { start: '2026-11-22T09:20:00+00:00' },
    location: [
      {
        location: { identifier: { value: 'RX1WD12' }, display: 'Ward 12 Elderly Care' },
        status: 'active',
      },
    ],
    serviceProvider: { identifier: { system: ODS_ORGANIZATION_SYSTEM, value: 'RX1' } },
  };
}

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError, nothing was thrown');
}

function convert(body: unknown) {
  return encounterToEvent(body, { receivedAt });
}

describe('encounterToEvent', () => {
  it('turns an in-progress Encounter into an admission with the spell, patient, ward and times', () => {
    const event = convert(admission());
    expect(event).toMatchObject({
      source: 'fhir',
      trigger: 'FHIR-in-progress',
      kind: 'admit',
      hospitalOds: 'RX1',
      visitNumber: 'V000123',
      eventAt: '2026-11-22T09:20:00.000Z',
      messageAt: '2026-11-22T09:20:30.000Z',
      admittedAt: '2026-11-22T09:20:00.000Z',
      patientClass: 'I',
      patient: {
        nhsNumber: '9995260182',
        nhsNumberValid: true,
        familyName: 'SMITH',
        givenName: 'MARGARET',
        dateOfBirth: '1941-03-12',
      },
      location: { pointOfCare: 'RX1WD12', ward: 'Ward 12 Elderly Care', description: 'Ward 12 Elderly Care' },
    });
    expect(event.patient.nhsNumberProblem).toBeUndefined();
    expect(event.messageControlId).toMatch(/^fhir-[0-9a-f]{64}$/);
    expect(event.dischargedAt).toBeUndefined();
    expect(event.discharge).toBeUndefined();
  });

  it('never carries raw FHIR: only AdmissionEvent fields come out', () => {
    const event = convert(admission());
    const json = JSON.stringify(event);
    expect(json).not.toContain('resourceType');
    expect(json).not.toContain('contained');
    expect(json).not.toContain(NHS_NUMBER_SYSTEM);
  });

  it('turns a finished Encounter into a discharge timed at period.end, with method and destination', () => {
    const body = admission();
    body.status = 'finished';
    body.period = { start: '2026-11-22T09:20:00Z', end: '2026-11-29T14:05:00+00:00' };
    body.hospitalization = { dischargeDisposition: { coding: [{ code: '19' }] } };
    body.extension = [
      {
        url: UKCORE_DISCHARGE_METHOD_URL,
        valueCodeableConcept: {
          coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeMethodEngland', code: '1' }],
        },
      },
    ];
    const event = convert(body);
    expect(event).toMatchObject({
      kind: 'discharge',
      trigger: 'FHIR-finished',
      eventAt: '2026-11-29T14:05:00.000Z',
      admittedAt: '2026-11-22T09:20:00.000Z',
      dischargedAt: '2026-11-29T14:05:00.000Z',
      discharge: { method: '1', destination: '19', destinationCategory: 'home' },
      processingId: 'P',
    });
    expect(event.patient.deceased).toBeUndefined();
  });

  it('reads a death from an R4 "expired" discharge disposition: method 4 and a deceased patient', () => {
    const body = admission();
    body.status = 'finished';
    body.hospitalization = {
      dischargeDisposition: { coding: [{ system: R4_DISCHARGE_DISPOSITION_SYSTEM, code: 'exp' }] },
    };
    const event = convert(body);
    expect(event.discharge).toEqual({ method: '4', destination: 'exp', destinationCategory: 'unknown' });
    expect(event.patient).toMatchObject({ deceased: true, deathSignals: ['discharge-method'] });
  });

  describe('destination category and death signals (CONTRACT.md "What the provider is told")', () => {
    const finished = (code?: string, contained?: Record<string, unknown>) => {
      const body = admission();
      body.status = 'finished';
      if (code !== undefined) body.hospitalization = { dischargeDisposition: { coding: [{ code }] } };
      if (contained) body.contained = [{ resourceType: 'Patient', id: 'pat', ...contained }];
      return body;
    };

    it.each([
      ['19', 'home'],
      ['54', 'care-home'],
      ['51', 'hospital'],
      ['79', 'died'],
      ['XX', 'unknown'],
    ])('dischargeDisposition %s is %s', (code, category) => {
      expect(convert(finished(code)).discharge?.destinationCategory).toBe(category);
    });

    it('a finished Encounter with no disposition is destination unknown; an admission has no discharge details', () => {
      expect(convert(finished()).discharge).toEqual({ destinationCategory: 'unknown' });
      expect(convert(admission()).discharge).toBeUndefined();
    });

    it("the hospital's code map is read first, for destination and for the death signals", () => {
      const codeMap = {
        dischargeDestination: { H1: 'care-home' as const, D1: 'died' as const, '19': 'unknown' as const },
      };
      const run = (body: unknown) => encounterToEvent(body, { receivedAt, codeMap });
      expect(run(finished('H1')).discharge?.destinationCategory).toBe('care-home');
      expect(run(finished('19')).discharge?.destinationCategory).toBe('unknown');
      expect(run(finished('D1')).patient).toMatchObject({ deceased: true, deathSignals: ['discharge-destination'] });
      expect(convert(finished('D1')).patient.deceased).toBeUndefined();
    });

    it('destination 79 alone is a death signal', () => {
      expect(convert(finished('79')).patient).toMatchObject({
        deceased: true,
        deathSignals: ['discharge-destination'],
      });
    });

    it('deceasedBoolean true is a death signal (as PID-30 Y); false with nothing else is not deceased', () => {
      expect(convert(finished('19', { deceasedBoolean: true })).patient).toMatchObject({
        deceased: true,
        deathSignals: ['death-indicator'],
      });
      const alive = convert(finished('19', { deceasedBoolean: false })).patient;
      expect(alive.deceased).toBe(false);
      expect(alive.deathSignals).toBeUndefined();
    });

    it('deceasedBoolean false does not outweigh another signal (destination 79)', () => {
      expect(convert(finished('79', { deceasedBoolean: false })).patient).toMatchObject({
        deceased: true,
        deathSignals: ['discharge-destination'],
      });
    });
  });

  it('a finished Encounter without period.end is timed at meta.lastUpdated, not at the admission', () => {
    const body = admission();
    body.status = 'finished';
    expect(convert(body).eventAt).toBe('2026-11-22T09:20:30.000Z');
  });

  it('turns entered-in-error into a cancelled admission timed when the record changed', () => {
    const body = admission();
    body.status = 'entered-in-error';
    const event = convert(body);
    expect(event.kind).toBe('cancel-admit');
    expect(event.trigger).toBe('FHIR-entered-in-error');
    expect(event.eventAt).toBe('2026-11-22T09:20:30.000Z');
  });

  it.each([
    ['planned', 'pre-admit'],
    ['arrived', 'pre-admit'],
    ['triaged', 'pre-admit'],
    ['onleave', 'leave'],
    ['cancelled', 'cancel-admit'],
  ])('maps status %s to kind %s', (status, kind) => {
    const body = admission();
    body.status = status;
    expect(convert(body).kind).toBe(kind);
  });

  it('with neither a status time nor meta.lastUpdated, the event is timed when it was received', () => {
    const body = admission();
    body.status = 'cancelled';
    delete body.meta;
    const event = convert(body);
    expect(event.eventAt).toBe('2026-11-22T09:21:00.000Z');
    expect(event.messageAt).toBe('2026-11-22T09:21:00.000Z');
  });

  it('an NHS number failing the modulus 11 check still gives an event, marked invalid with the reason', () => {
    const body = admission();
    body.subject = { reference: '#pat', identifier: { system: NHS_NUMBER_SYSTEM, value: '9995260183' } };
    const event = convert(body);
    expect(event.kind).toBe('admit');
    expect(event.patient.nhsNumber).toBe('9995260183');
    expect(event.patient.nhsNumberValid).toBe(false);
    expect(event.patient.nhsNumberProblem).toMatch(/modulus 11/);
    expect(event.patient.nhsNumberProblem).not.toContain('9995260183');
  });

  it('a subject identified only by a local number gives an event with no NHS number, kept for operators', () => {
    const body = admission();
    body.subject = { identifier: { system: 'https://fhir.rx1.nhs.uk/Id/mrn', value: 'M123' } };
    const event = convert(body);
    expect(event.patient).toMatchObject({
      nhsNumber: null,
      nhsNumberValid: false,
      otherIdentifiers: ['M123^https://fhir.rx1.nhs.uk/Id/mrn'],
    });
    expect(event.patient.nhsNumberProblem).toMatch(/No NHS number/);
  });

  it('prefers the identifier whose system names the hospital, whatever its position', () => {
    const body = admission();
    body.identifier = [
      { system: 'https://fhir.rx1.nhs.uk/Id/spell-number', value: 'V1' },
      { system: 'https://integration.example.org/encounter', value: 'X9' },
    ];
    expect(convert(body).visitNumber).toBe('V1');
    body.identifier = [
      { system: 'https://integration.example.org/encounter', value: 'X9' },
      { system: 'https://fhir.rx1.nhs.uk/Id/spell-number', value: 'V1' },
    ];
    expect(convert(body).visitNumber).toBe('V1');
  });

  it('falls back to any identifier with a system when none names the hospital', () => {
    const body = admission();
    body.identifier = [{ value: 'no-system' }, { system: 'https://pas.example.org/spell', value: 'S42' }];
    expect(convert(body).visitNumber).toBe('S42');
  });

  it('takes the date of birth from the birth-date extension when no Patient is contained', () => {
    const body = admission();
    delete body.contained;
    body.subject = {
      identifier: { system: NHS_NUMBER_SYSTEM, value: '9995260182' },
      extension: [{ url: BIRTH_DATE_EXTENSION_URL, valueDate: '1941-03-12' }],
    };
    const event = convert(body);
    expect(event.patient.dateOfBirth).toBe('1941-03-12');
    expect(event.patient.familyName).toBeUndefined();
  });

  it('reads a death recorded on the contained Patient', () => {
    const body = admission();
    body.contained = [{ resourceType: 'Patient', id: 'pat', deceasedDateTime: '2026-11-29T13:00:00Z' }];
    expect(convert(body).patient).toMatchObject({
      deceased: true,
      deceasedAt: '2026-11-29T13:00:00.000Z',
      deathSignals: ['death-date'],
    });
  });

  it.each([
    ['EMER', 'E'],
    ['AMB', 'O'],
  ])('maps class %s to patient class %s', (code, patientClass) => {
    const body = admission();
    body.class = { code };
    expect(convert(body).patientClass).toBe(patientClass);
  });

  describe('message control id', () => {
    it('is the same for the same body sent twice, whatever the key order', () => {
      const a = admission();
      const b = JSON.parse(JSON.stringify(admission())) as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(b).reverse());
      expect(convert(reordered).messageControlId).toBe(convert(a).messageControlId);
    });

    it('differs when the body differs', () => {
      const a = admission();
      const b = admission();
      b.period = { start: '2026-11-22T09:25:00Z' };
      expect(convert(b).messageControlId).not.toBe(convert(a).messageControlId);
    });

    it('is built from id and meta.versionId when the sender versions its resources', () => {
      const body = admission();
      body.meta = { versionId: '3', lastUpdated: '2026-11-22T09:20:30Z' };
      expect(convert(body).messageControlId).toBe('fhir-enc-1/_history/3');
    });
  });

  describe('rejections', () => {
    it.each<[string, (b: Record<string, unknown>) => void, string, string]>([
      ['no identifier', (b) => delete b.identifier, 'no-visit-number', 'Encounter.identifier'],
      [
        'identifiers without a system',
        (b) => (b.identifier = [{ value: 'V1' }]),
        'no-visit-number',
        'Encounter.identifier',
      ],
      ['no subject', (b) => delete b.subject, 'no-patient-identifier', 'Encounter.subject.identifier'],
      [
        'a subject without identifier',
        (b) => (b.subject = { reference: '#pat' }),
        'no-patient-identifier',
        'Encounter.subject.identifier',
      ],
      [
        'an empty NHS number',
        (b) => (b.subject = { identifier: { system: NHS_NUMBER_SYSTEM, value: '  ' } }),
        'no-patient-identifier',
        'Encounter.subject.identifier',
      ],
      ['no serviceProvider', (b) => delete b.serviceProvider, 'bad-header', 'Encounter.serviceProvider'],
      [
        'a serviceProvider without an ODS code',
        (b) => (b.serviceProvider = { display: 'Royal Infirmary' }),
        'bad-header',
        'Encounter.serviceProvider',
      ],
      ['no status', (b) => delete b.status, 'invalid', 'Encounter.status'],
      ['status unknown', (b) => (b.status = 'unknown'), 'invalid', 'Encounter.status'],
      ['a made-up status', (b) => (b.status = 'toString'), 'invalid', 'Encounter.status'],
      [
        'an unparseable period.start',
        (b) => (b.period = { start: '22/11/2026 09:20' }),
        'bad-date',
        'Encounter.period.start',
      ],
      [
        'a period.start without a zone',
        (b) => (b.period = { start: '2026-11-22T09:20:00' }),
        'bad-date',
        'Encounter.period.start',
      ],
      ['a 30th of February', (b) => (b.period = { start: '2026-02-30' }), 'bad-date', 'Encounter.period.start'],
      [
        'an unparseable period.end',
        (b) => (b.period = { start: '2026-11-22T09:20:00Z', end: 'soon' }),
        'bad-date',
        'Encounter.period.end',
      ],
      [
        'an unparseable meta.lastUpdated',
        (b) => (b.meta = { lastUpdated: 'yesterday' }),
        'bad-date',
        'Encounter.meta.lastUpdated',
      ],
      [
        'an unparseable birthDate on the contained Patient',
        (b) => (b.contained = [{ resourceType: 'Patient', id: 'pat', birthDate: '12/03/1941' }]),
        'bad-date',
        'Encounter.contained[0].birthDate',
      ],
      [
        'a subject reference to a Patient that is not contained',
        (b) => delete b.contained,
        'invalid',
        'Encounter.subject.reference',
      ],
      ['identifier that is not a list', (b) => (b.identifier = 'V1'), 'invalid', 'Encounter.identifier'],
      ['a number where a string belongs', (b) => (b.period = { start: 20261122 }), 'invalid', 'Encounter.period.start'],
    ])('%s → %s at %s', (_what, mutate, code, location) => {
      const body = admission();
      mutate(body);
      const err = inputError(() => convert(body));
      expect(err.code).toBe(code);
      expect(err.location).toBe(location);
    });

    it('a resource other than an Encounter is refused as unsupported', () => {
      const err = inputError(() => convert({ resourceType: 'Patient', id: 'p' }));
      expect(err.code).toBe('unsupported-message-type');
      expect(err.location).toBe('Encounter.resourceType');
    });

    it.each([
      ['null', null],
      ['a string', 'MSH|^~\\&|'],
      ['an array', [admission()]],
      ['a number', 42],
      ['an object without resourceType', { status: 'in-progress' }],
    ])('garbage (%s) is refused as invalid', (_what, body) => {
      const err = inputError(() => convert(body));
      expect(err.code).toBe('invalid');
    });

    it('a serviceProvider other than the sending hospital is sender-mismatch, before any content check', () => {
      const body = admission();
      body.status = 'not-a-status';
      const err = inputError(() => encounterToEvent(body, { receivedAt, senderOds: 'RR8' }));
      expect(err).toMatchObject({ code: 'sender-mismatch', location: 'Encounter.serviceProvider' });
      expect(() => encounterToEvent(admission(), { receivedAt, senderOds: 'RX1' })).not.toThrow();
    });

    it('an id or versionId that is not a FHIR id, or a spell number over 64 characters, is invalid', () => {
      const badId = { ...admission(), id: 'x/'.repeat(50), meta: { versionId: '1' } };
      expect(inputError(() => convert(badId))).toMatchObject({ code: 'invalid', location: 'Encounter.id' });
      const badVersion = { ...admission(), meta: { versionId: 'v 1' } };
      expect(inputError(() => convert(badVersion))).toMatchObject({
        code: 'invalid',
        location: 'Encounter.meta.versionId',
      });
      const longSpell = {
        ...admission(),
        identifier: [{ system: 'https://fhir.rx1.nhs.uk/Id/spell-number', value: 'V'.repeat(65) }],
      };
      expect(inputError(() => convert(longSpell))).toMatchObject({ code: 'invalid', location: 'Encounter.identifier' });
    });

    it('error messages repeat no NHS number or date of birth', () => {
      const body = admission();
      body.contained = [{ resourceType: 'Patient', id: 'pat', birthDate: '1941-13-12' }];
      const err = inputError(() => convert(body));
      expect(err.code).toBe('bad-date');
      expect(err.message).not.toContain('1941');
    });
  });
});
