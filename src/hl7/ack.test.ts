import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { InputErrorCode } from '../domain/errors.js';
import { InputError } from '../domain/errors.js';
import { ackCodeFor, ackErrorFrom, buildAck, errorCodeFor, isEnhancedMode, parseAck, wantsAcceptAck } from './ack.js';
import { parseAdt, readHeaderLenient } from './adt.js';
import { parseHl7 } from './message.js';

const FIXTURES = new URL('../../test/fixtures/hl7/', import.meta.url);
const fixtureText = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const NOW = new Date('2026-11-22T09:30:05.123Z');
const admit = parseAdt(fixtureText('a01-admit.hl7'));

describe('buildAck', () => {
  it('AA: MSH addressed back to the sender, MSA-2 = inbound MSH-10, segments joined by CR', () => {
    const ack = buildAck({ inbound: admit.header, code: 'AA', controlId: 'ACK-1', now: NOW });
    expect(ack).toBe(
      [
        'MSH|^~\\&|ADMISSION-ALERTS|NHSE|PAS|RX1|20261122093005+0000||ACK^A01^ACK|ACK-1|P|2.4',
        'MSA|AA|RX1-000001',
      ].join('\r'),
    );
    expect(ack).not.toContain('\n');
  });

  it('AE: one ERR per error in v2.5 layout (location, 0357 code, severity, user message)', () => {
    const ack = buildAck({
      inbound: admit.header,
      code: 'AE',
      controlId: 'ACK-2',
      now: NOW,
      errors: [ackErrorFrom(new InputError('no-visit-number', 'PV1-19 visit number is missing', 'PV1-19'))],
    });
    expect(ack.split('\r')).toEqual([
      'MSH|^~\\&|ADMISSION-ALERTS|NHSE|PAS|RX1|20261122093005+0000||ACK^A01^ACK|ACK-2|P|2.4',
      'MSA|AE|RX1-000001|PV1-19 visit number is missing',
      'ERR|PV1^1^19^101&Required field missing&HL70357|PV1^1^19|101^Required field missing^HL70357|E||||PV1-19 visit number is missing',
    ]);
    expect(parseAck(ack)).toMatchObject({
      code: 'AE',
      controlId: 'RX1-000001',
      errors: ['PV1-19 visit number is missing'],
      errorDetails: [{ hl7Code: '101', location: 'PV1-19', severity: 'E' }],
    });
  });

  it('writes several ERR segments, component locations and warnings', () => {
    const ack = buildAck({
      inbound: admit.header,
      code: 'AE',
      controlId: 'A',
      now: NOW,
      errors: [
        { hl7Code: '102', location: 'PID-7', message: 'bad date of birth' },
        { hl7Code: '101', location: 'PID-3.1', severity: 'W', message: 'no NHS number' },
      ],
    });
    const errs = ack.split('\r').filter((s) => s.startsWith('ERR'));
    expect(errs).toHaveLength(2);
    expect(errs[1]).toBe(
      'ERR|PID^1^3^101&Required field missing&HL70357|PID^1^3^1^1|101^Required field missing^HL70357|W||||no NHS number',
    );
    expect(parseAck(ack).errors).toEqual(['bad date of birth', 'no NHS number']);
  });

  it('AR for a message with no MSH: MSA-2 empty, defaults for everything the inbound header would give', () => {
    const text = fixtureText('malformed-no-msh.hl7');
    let error: InputError | undefined;
    try {
      parseAdt(text);
    } catch (e) {
      if (e instanceof InputError) error = e;
    }
    expect(error?.code).toBe('no-msh');
    const ack = buildAck({
      inbound: readHeaderLenient(text),
      code: ackCodeFor('reject', false),
      controlId: 'ACK-3',
      now: NOW,
      errors: error ? [ackErrorFrom(error)] : [],
    });
    const [msh, msa, err] = ack.split('\r');
    expect(msh).toBe('MSH|^~\\&|ADMISSION-ALERTS|NHSE|||20261122093005+0000||ACK|ACK-3|P|2.4');
    expect(msa).toBe('MSA|AR||the message does not start with an MSH segment');
    expect(err).toContain('|100^Segment sequence error^HL70357|E|');
    expect(parseAck(ack)).toMatchObject({ code: 'AR', controlId: '' });
  });

  it('CA in enhanced mode (MSH-15 present), echoing the inbound version', () => {
    const { header } = parseAdt(
      fixtureText('a01-admit.hl7').replace('|P|2.4|||||GBR|', '|P|2.5.1|||AL|NE|GBR|').replace('RX1-000001', 'E-1'),
    );
    expect(isEnhancedMode(header)).toBe(true);
    const ack = buildAck({
      inbound: header,
      code: ackCodeFor('accept', isEnhancedMode(header)),
      controlId: 'X',
      now: NOW,
    });
    expect(ack.split('\r')[0]).toMatch(/\|2\.5\.1$/);
    expect(ack.split('\r')[1]).toBe('MSA|CA|E-1');
  });

  it('HL7-escapes every value taken from the inbound message or the error text', () => {
    const ack = buildAck({
      inbound: { ...admit.header, controlId: 'A|B^C', sendingApplication: 'P&S', sendingFacility: 'R~X' },
      code: 'AE',
      controlId: 'ACK\\1',
      now: NOW,
      errors: [{ hl7Code: '102', location: 'EVN-2', message: 'bad | date ^ here\nsecond line' }],
    });
    const msg = parseHl7(ack);
    expect(msg.segments()).toHaveLength(3);
    expect(msg.msh.field(5)).toBe('P&S');
    expect(msg.msh.field(6)).toBe('R~X');
    expect(msg.msh.field(10)).toBe('ACK\\1');
    expect(parseAck(ack)).toMatchObject({ controlId: 'A|B^C', errors: ['bad | date ^ here\nsecond line'] });
  });

  it('keeps MSA-3 within 80 characters and echoes a training processing id', () => {
    const ack = buildAck({
      inbound: { ...admit.header, processingId: 'T' },
      code: 'AE',
      controlId: 'A',
      now: NOW,
      errors: [{ hl7Code: '207', message: 'x'.repeat(200) }],
    });
    expect(parseAck(ack).text).toHaveLength(80);
    expect(parseAck(ack).errors[0]).toHaveLength(200);
    expect(parseHl7(ack).msh.field(11)).toBe('T');
  });
});

describe('ack codes', () => {
  it.each([
    ['accept', false, 'AA'],
    ['error', false, 'AE'],
    ['reject', false, 'AR'],
    ['accept', true, 'CA'],
    ['error', true, 'CE'],
    ['reject', true, 'CR'],
  ] as const)('%s in %s enhanced mode is %s', (outcome, enhanced, code) => {
    expect(ackCodeFor(outcome, enhanced)).toBe(code);
  });

  it('MSH-15 decides whether an accept ACK is wanted (AL, NE, ER, SU; absent = always)', () => {
    expect(wantsAcceptAck({}, 'accept')).toBe(true);
    expect(wantsAcceptAck({ acceptAckType: 'AL' }, 'error')).toBe(true);
    expect(wantsAcceptAck({ acceptAckType: 'NE' }, 'reject')).toBe(false);
    expect(wantsAcceptAck({ acceptAckType: 'ER' }, 'accept')).toBe(false);
    expect(wantsAcceptAck({ acceptAckType: 'ER' }, 'error')).toBe(true);
    expect(wantsAcceptAck({ acceptAckType: 'SU' }, 'accept')).toBe(true);
    expect(wantsAcceptAck({ acceptAckType: 'SU' }, 'reject')).toBe(false);
  });

  it.each([
    ['no-msh', '100'],
    ['unsupported-message-type', '200'],
    ['unsupported-version', '203'],
    ['unsupported-processing-id', '202'],
    ['bad-header', '101'],
    ['sender-mismatch', '204'],
    ['unknown-sender', '204'],
    ['no-patient-identifier', '101'],
    ['no-visit-number', '101'],
    ['bad-date', '102'],
    ['bad-segment', '100'],
    ['invalid', '102'],
  ] as [InputErrorCode, string][])('InputError %s maps to HL7 table 0357 code %s', (code, hl7Code) => {
    expect(errorCodeFor(code).hl7Code).toBe(hl7Code);
    expect(errorCodeFor(code).text).not.toBe('');
  });
});

describe('parseAck', () => {
  it('reads an MLLP-framed ACK with LF terminators', () => {
    const ack = '\u000bMSH|^~\\&|X|Y|Z|W|20261122||ACK^A01^ACK|1|P|2.4\nMSA|AA|RX1-000001\u001c\r';
    expect(parseAck(ack)).toEqual({ code: 'AA', controlId: 'RX1-000001', text: '', errors: [], errorDetails: [] });
  });

  it('reads a v2.4-style ERR that only has ERR-1', () => {
    const ack = 'MSH|^~\\&|X|Y|Z|W|20261122||ACK|1|P|2.4\rMSA|AE|C1\rERR|PID^1^3^101&Required field missing&HL70357';
    expect(parseAck(ack).errors).toEqual(['Required field missing']);
    expect(parseAck(ack).errorDetails[0]).toMatchObject({ hl7Code: '101', location: 'PID-3' });
  });
});
