/**
 * HL7 v2 acknowledgements (HL7 v2.5 section 2.9): MSH + MSA + one ERR per problem (v2.5 layout).
 * CONTRACT.md "Hospitals send ADT events" says which outcome gets which code.
 */
import type { InputError, InputErrorCode } from '../domain/errors.js';
import type { Hl7Header } from './adt.js';
import { DEFAULT_DELIMITERS, escapeHl7, parseHl7 } from './message.js';

/** MSA-1 (HL7 table 0008): original mode AA/AE/AR, enhanced mode CA/CE/CR. */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** What the service decided about a message. */
export type AckOutcome = 'accept' | 'error' | 'reject';

/** HL7 table 0357 (message error condition codes) used by this service. */
export const HL7_ERROR_CODES = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
} as const;

export type Hl7ErrorCode = keyof typeof HL7_ERROR_CODES;

/** One problem, written as an ERR segment. */
export interface AckError {
  /** ERR-3.1: HL7 table 0357 code */
  hl7Code: Hl7ErrorCode;
  /** ERR-2 location as `SEG-field[.component[.subcomponent]]` (`PV1-19`, `MSH-9`) or just `SEG` (`PID`) */
  location?: string;
  /** ERR-4 severity (HL7 table 0516): E error (default), W warning, I information */
  severity?: 'E' | 'W' | 'I';
  /** ERR-8 user message: what a person at the hospital should read */
  message: string;
}

/**
 * The MSA-1 code for an outcome. Enhanced acknowledgement mode (MSH-15 present) answers CA/CE/CR, original mode
 * AA/AE/AR (HL7 v2.5 section 2.9.2 / 2.9.3).
 */
export function ackCodeFor(outcome: AckOutcome, enhanced: boolean): AckCode {
  switch (outcome) {
    case 'accept':
      return enhanced ? 'CA' : 'AA';
    case 'error':
      return enhanced ? 'CE' : 'AE';
    case 'reject':
      return enhanced ? 'CR' : 'AR';
  }
}

/** True when the sender asked for enhanced acknowledgement mode (MSH-15 present). */
export function isEnhancedMode(header: Partial<Hl7Header>): boolean {
  return (header.acceptAckType ?? '') !== '';
}

/**
 * Whether an accept acknowledgement should be sent at all (MSH-15, HL7 table 0155): AL always, NE never,
 * ER only for errors and rejections, SU only on success; original mode always. Over HTTP one is always returned
 * regardless (CONTRACT.md); this is for MLLP.
 */
export function wantsAcceptAck(header: Partial<Hl7Header>, outcome: AckOutcome): boolean {
  switch (header.acceptAckType ?? '') {
    case 'NE':
      return false;
    case 'ER':
      return outcome !== 'accept';
    case 'SU':
      return outcome === 'accept';
    default:
      return true;
  }
}

/** The HL7 table 0357 code for each {@link InputErrorCode}. */
export function errorCodeFor(code: InputErrorCode): { hl7Code: Hl7ErrorCode; text: string } {
  const hl7Code = ((): Hl7ErrorCode => {
    switch (code) {
      case 'no-msh':
        return '100';
      case 'unsupported-message-type':
        return '200';
      case 'unsupported-version':
        return '203';
      case 'unsupported-processing-id':
        return '202';
      case 'bad-header':
        return '101';
      case 'sender-mismatch':
      case 'unknown-sender':
        return '204';
      case 'no-patient-identifier':
      case 'no-visit-number':
        return '101';
      case 'bad-date':
        return '102';
      case 'bad-segment':
        return '100';
      case 'invalid':
        return '102';
    }
  })();
  return { hl7Code, text: HL7_ERROR_CODES[hl7Code] };
}

/** The {@link AckError} for an {@link InputError}: its 0357 code, location and message. */
export function ackErrorFrom(err: InputError): AckError {
  const e: AckError = { hl7Code: errorCodeFor(err.code).hl7Code, message: err.message };
  if (err.location !== undefined) e.location = err.location;
  return e;
}

/** `PV1-19` → `PV1^1^19`, `PID-3.1` → `PID^1^3^1^1`, `PID` → `PID^1` (ERL, HL7 v2.5 section 2A.27). */
function errorLocation(location: string): string[] {
  const m = /^([A-Z][A-Z0-9]{2})(?:-(\d+)(?:\.(\d+)(?:\.(\d+))?)?)?$/.exec(location.trim());
  if (!m) return [];
  const [, seg = '', field, comp, sub] = m;
  const out = [seg, '1'];
  if (field !== undefined) out.push(field);
  if (comp !== undefined) out.push('1', comp);
  if (sub !== undefined) out.push(sub);
  return out;
}

/** MSH-7 style timestamp in UTC: YYYYMMDDHHMMSS+0000. */
function hl7Now(now: Date): string {
  const iso = now.toISOString(); // 2026-11-22T09:20:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
}

const d = DEFAULT_DELIMITERS;
const esc = (v: string | undefined): string => escapeHl7(v ?? '', d);
/** Joins escaped components with `^`, dropping trailing empties. */
const composite = (parts: string[], sep: string): string => {
  let end = parts.length;
  while (end > 0 && parts[end - 1] === '') end--;
  return parts.slice(0, end).join(sep);
};
const segment = (fields: string[]): string => composite(fields, d.field);

export interface BuildAckInput {
  /** the inbound header, as far as it could be read ({} when there was no MSH) */
  inbound: Partial<Hl7Header>;
  code: AckCode;
  errors?: AckError[];
  /** MSH-10 of the ACK itself */
  controlId: string;
  now: Date;
  /** MSA-3 text; defaults to the first error's message (at most 80 characters, as MSA-3 allows) */
  text?: string;
}

/**
 * An HL7 ACK for an inbound message, segments joined by CR:
 * `MSH|^~\&|ADMISSION-ALERTS|<inbound MSH-6 or NHSE>|<inbound MSH-3>|<inbound MSH-4>|<now>||ACK^<trigger>^ACK|<controlId>|<inbound MSH-11 or P>|<inbound MSH-12 or 2.4>`,
 * `MSA|<code>|<inbound MSH-10>|<text>`, then one ERR per error: ERR-1 (v2.4 ELD, kept for older receivers),
 * ERR-2 location, ERR-3 table 0357 code, ERR-4 severity, ERR-8 message. Every value is HL7-escaped.
 */
export function buildAck(input: BuildAckInput): string {
  const { inbound, code, errors = [], controlId, now } = input;
  const trigger = inbound.triggerEvent ?? '';
  const processingId = /^[PTD]$/.test(inbound.processingId ?? '') ? (inbound.processingId ?? 'P') : 'P';
  const msh = segment([
    'MSH',
    '^~\\&',
    'ADMISSION-ALERTS',
    esc(inbound.receivingFacility || 'NHSE'),
    esc(inbound.sendingApplication),
    esc(inbound.sendingFacility),
    hl7Now(now),
    '',
    trigger === '' ? 'ACK' : composite(['ACK', esc(trigger), 'ACK'], d.component),
    esc(controlId),
    processingId,
    esc(inbound.version || '2.4'),
  ]);
  const text = (input.text ?? errors[0]?.message ?? '').slice(0, 80);
  const msa = segment(['MSA', code, esc(inbound.controlId), esc(text)]);
  const errs = errors.map((e) => {
    const { hl7Code } = e;
    const codeText = HL7_ERROR_CODES[hl7Code];
    const loc = e.location ? errorLocation(e.location) : [];
    // ERR-1 (ELD, v2.4): segment^sequence^field^code&text&HL70357
    const eld = composite(
      [esc(loc[0]), esc(loc[1]), esc(loc[2]), composite([hl7Code, esc(codeText), 'HL70357'], d.subComponent)],
      d.component,
    );
    return segment([
      'ERR',
      eld,
      composite(loc.map(esc), d.component),
      composite([hl7Code, esc(codeText), 'HL70357'], d.component),
      e.severity ?? 'E',
      '',
      '',
      '',
      esc(e.message),
    ]);
  });
  return [msh, msa, ...errs].join('\r');
}

/** What an ACK says, as read by tests and by anyone who receives ours. */
export interface ParsedAck {
  /** MSA-1 */
  code: string;
  /** MSA-2: the control ID of the message acknowledged */
  controlId: string;
  /** MSA-3 */
  text: string;
  /** one per ERR: ERR-8, else ERR-3.2, else ERR-1.4.2 */
  errors: string[];
  /** one per ERR, structured */
  errorDetails: { hl7Code: string; location: string; severity: string; message: string }[];
}

/** Reads an ACK (any segment terminator, MLLP framing tolerated). Throws InputError('no-msh') when it has no MSH. */
export function parseAck(text: string): ParsedAck {
  const msg = parseHl7(text);
  const msa = msg.segment('MSA');
  const errorDetails = msg.segments('ERR').map((err) => {
    const hl7Code = err.component(3, 1) || err.subComponent(1, 4, 1);
    // ERR-2 (v2.5) else ERR-1 (v2.4 ELD): both start segment^sequence^field
    const at = err.raw(2) ? 2 : 1;
    const location = [err.component(at, 1), err.component(at, 3)].filter(Boolean).join('-');
    const message = err.field(8) || err.component(3, 2) || err.subComponent(1, 4, 2);
    return { hl7Code, location, severity: err.field(4), message };
  });
  return {
    code: msa?.field(1) ?? '',
    controlId: msa?.field(2) ?? '',
    text: msa?.field(3) ?? '',
    errors: errorDetails.map((e) => e.message),
    errorDetails,
  };
}
