/**
 * Bad input is a typed, non-retryable failure with a code; anything else is thrown as is and retried.
 */
export type InputErrorCode =
  | 'no-msh' // no MSH segment or unreadable header
  | 'unsupported-message-type' // MSH-9 not ADT
  | 'unsupported-version' // MSH-12 outside 2.1 .. 2.8.2
  | 'unsupported-processing-id' // MSH-11 not P, T, D or empty
  | 'bad-header' // other MSH problems (no MSH-10, no MSH-4, bad encoding characters)
  | 'sender-mismatch' // MSH-4 is not this key's hospital
  | 'unknown-sender' // MSH-4 is no registered hospital (MLLP)
  | 'no-patient-identifier' // no usable PID-3 / PID-2
  | 'no-visit-number' // no PV1-19 on an event that needs one
  | 'bad-date' // an unparseable HL7 timestamp
  | 'bad-segment' // a required segment is missing (PID, PV1)
  | 'invalid'; // anything else about the content

/** Header-level errors are answered AR; content errors AE. */
export const HEADER_ERRORS: ReadonlySet<InputErrorCode> = new Set([
  'no-msh',
  'unsupported-message-type',
  'unsupported-version',
  'unsupported-processing-id',
  'bad-header',
  'sender-mismatch',
  'unknown-sender',
]);

export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly code: InputErrorCode,
    message: string,
    /** HL7 location of the problem, e.g. "PV1-19" (ERR-2) */
    readonly location?: string,
  ) {
    super(message);
  }
}
