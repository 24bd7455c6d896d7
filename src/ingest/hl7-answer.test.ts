import { describe, expect, it } from 'vitest';
import { InputError } from '../domain/errors.js';
import { parseAck } from '../hl7/ack.js';
import { ACCEPTED, notAuthenticated, refused, UNAVAILABLE } from './decision.js';
import { answerHl7, headerToAnswer } from './hl7-answer.js';

const NOW = new Date('2026-11-22T09:30:05.123Z');
const MSH = 'MSH|^~\\&|PAS|RX1|AA|NHSE|20261122093000||ADT^A01^ADT_A01|RX1-000001|P|2.4';
const ENHANCED = `${MSH}|||AL|NE`;

describe('answerHl7', () => {
  it('an accepted message: AA echoing MSH-10, HTTP 200, the stored id', () => {
    const r = answerHl7(headerToAnswer(MSH), ACCEPTED, { now: NOW, messageId: '12' });
    expect(r).toMatchObject({ code: 'AA', httpStatus: 200, sendAck: true, messageId: '12' });
    expect(parseAck(r.ack)).toMatchObject({ code: 'AA', controlId: 'RX1-000001', errors: [] });
  });

  it('enhanced mode (MSH-15 present) answers CA/CE/CR, and MSH-15 NE asks for no accept acknowledgement', () => {
    const header = headerToAnswer(ENHANCED);
    expect(answerHl7(header, ACCEPTED, { now: NOW })).toMatchObject({ code: 'CA', sendAck: true });
    const rejected = answerHl7(header, refused(new InputError('bad-header', 'no MSH-10', 'MSH-10')), { now: NOW });
    expect(rejected).toMatchObject({ code: 'CR', httpStatus: 400 });
  });

  it('"retry later" and a missing key are AR with their status and ERR, even for a body that is no HL7', () => {
    const down = answerHl7(headerToAnswer(Buffer.from('not hl7')), UNAVAILABLE, { now: NOW });
    expect(down.httpStatus).toBe(503);
    expect(parseAck(down.ack)).toMatchObject({ code: 'AR', errors: [expect.stringMatching(/retry later/)] });
    const noKey = answerHl7(headerToAnswer(Buffer.from(MSH)), notAuthenticated(401, 'key please'), { now: NOW });
    expect(noKey.httpStatus).toBe(401);
    expect(parseAck(noKey.ack)).toMatchObject({
      code: 'AR',
      controlId: 'RX1-000001',
      errorDetails: [expect.objectContaining({ hl7Code: '204', message: 'key please' })],
    });
  });

  it('each ACK has a control id of its own', () => {
    const header = headerToAnswer(MSH);
    const a = answerHl7(header, ACCEPTED, { now: NOW }).ack.split('|')[9];
    const b = answerHl7(header, ACCEPTED, { now: NOW }).ack.split('|')[9];
    expect(a).not.toBe(b);
  });
});
