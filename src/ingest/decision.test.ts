import { describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../domain/admission-event.js';
import { InputError } from '../domain/errors.js';
import {
  ACCEPTED,
  afterStore,
  notAuthenticated,
  refused,
  relayRoute,
  statusForInputError,
  UNAVAILABLE,
} from './decision.js';

describe('refused: the one mapping from an input error to an outcome and an HTTP status', () => {
  it.each([
    ['sender-mismatch', 'reject', 403],
    ['unknown-sender', 'reject', 400],
    ['no-msh', 'reject', 400],
    ['unsupported-processing-id', 'reject', 400],
    ['bad-header', 'reject', 400],
    ['no-visit-number', 'error', 422],
    ['bad-date', 'error', 422],
    ['invalid', 'error', 422],
  ] as const)('%s is %s, HTTP %i', (code, outcome, status) => {
    const err = new InputError(code, 'why', 'MSH-4');
    expect(statusForInputError(err)).toBe(status);
    expect(refused(err)).toEqual({
      outcome,
      httpStatus: status,
      errors: [expect.objectContaining({ message: 'why', location: 'MSH-4' })],
    });
  });

  it('a wrong hospital is ERR 204, a missing visit number ERR 101', () => {
    expect(refused(new InputError('sender-mismatch', 'x')).errors[0]?.hl7Code).toBe('204');
    expect(refused(new InputError('no-visit-number', 'x')).errors[0]?.hl7Code).toBe('101');
  });
});

describe('the answers that need no message', () => {
  it('"retry later" is a rejection with HTTP 503 and ERR 207, never an acceptance', () => {
    expect(UNAVAILABLE).toEqual({
      outcome: 'reject',
      httpStatus: 503,
      errors: [{ hl7Code: '207', message: expect.stringMatching(/retry later/) }],
    });
  });

  it('a caller without a hospital key is rejected with ERR 204 and its status', () => {
    expect(notAuthenticated(401, 'no key')).toEqual({
      outcome: 'reject',
      httpStatus: 401,
      errors: [{ hl7Code: '204', message: 'no key' }],
    });
  });
});

describe('afterStore', () => {
  const contentError = refused(new InputError('no-visit-number', 'PV1-19 is missing', 'PV1-19'));

  it('a newly stored message gets what was decided before storing, and its id', () => {
    expect(afterStore({ kind: 'stored', id: '7' }, ACCEPTED, 'C1')).toEqual({ decision: ACCEPTED, messageId: '7' });
    expect(afterStore({ kind: 'stored', id: '8' }, contentError, 'C1')).toEqual({
      decision: contentError,
      messageId: '8',
    });
  });

  it('a control id this hospital used for another message is 409, ERR 205 at MSH-10, whatever was decided', () => {
    expect(afterStore({ kind: 'conflict' }, ACCEPTED, 'RX1-42')).toEqual({
      decision: {
        outcome: 'error',
        httpStatus: 409,
        errors: [
          {
            hl7Code: '205',
            location: 'MSH-10',
            message: 'MSH-10 RX1-42 was already used by this hospital for a different message',
          },
        ],
      },
    });
  });

  const resend = {
    kind: 'resend' as const,
    id: '3',
    accepted: false,
    httpStatus: 422,
    errorCode: 'no-visit-number',
    errorReason: 'PV1-19 is missing',
    errorLocation: 'PV1-19',
  };

  it('an exact resend of an accepted message is accepted again, naming the first', () => {
    expect(afterStore({ ...resend, accepted: true, httpStatus: 200 }, contentError, 'C1')).toEqual({
      decision: ACCEPTED,
      messageId: '3',
    });
  });

  it('an exact resend of a refused message gets the stored refusal again (code, reason, location)', () => {
    expect(afterStore(resend, ACCEPTED, 'C1')).toEqual({
      decision: {
        outcome: 'error',
        httpStatus: 422,
        errors: [{ hl7Code: '101', message: 'PV1-19 is missing', location: 'PV1-19' }],
      },
      messageId: '3',
    });
    expect(
      afterStore({ ...resend, errorCode: null, errorReason: null, errorLocation: null }, ACCEPTED, 'C1').decision
        .errors,
    ).toEqual([{ hl7Code: '207', message: 'rejected' }]);
  });
});

describe('relayRoute: what the relay gets of an event', () => {
  const event = (kind: AdmissionEvent['kind'], visitNumber: string) =>
    ({ kind, hospitalOds: 'RX1', visitNumber }) as AdmissionEvent;

  it('a live event with a PV1-19 belongs to its stay (workflow id from hospital and visit)', () => {
    expect(relayRoute(event('admit', 'V1'), 'P')).toEqual({
      stay: { hospitalOds: 'RX1', visitNumber: 'V1', workflowId: 'admission-RX1-V1' },
      personLevel: false,
    });
    expect(relayRoute(event('admit', 'V1'), '').stay?.visitNumber).toBe('V1');
  });

  it('a live identity correction or merge is person-level, with or without a stay', () => {
    expect(relayRoute(event('identity', ''), 'P')).toEqual({ stay: null, personLevel: true });
    expect(relayRoute(event('merge', 'V2'), 'P')).toMatchObject({ stay: { visitNumber: 'V2' }, personLevel: true });
  });

  it('training and debugging messages, and refused ones, reach no stay', () => {
    expect(relayRoute(event('admit', 'V1'), 'T')).toEqual({ stay: null, personLevel: false });
    expect(relayRoute(event('identity', ''), 'D')).toEqual({ stay: null, personLevel: false });
    expect(relayRoute(undefined, 'P')).toEqual({ stay: null, personLevel: false });
  });
});
