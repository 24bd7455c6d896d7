/**
 * HL7 v2 ADT → {@link AdmissionEvent} (CONTRACT.md "Hospitals send ADT events"). Pure: no I/O.
 */
import type { AdmissionEvent, EventKind, Location, PatientIdentity } from '../domain/admission-event.js';
import { deathSignals, destinationCategory, type CodeMap } from '../domain/clinical.js';
import { InputError } from '../domain/errors.js';
import { nhsNumberProblem, normaliseNhsNumber } from '../domain/nhs-number.js';
import { parseHl7Date, parseHl7Timestamp } from './datetime.js';
import type { Cx, Hl7Message, Hl7Segment } from './message.js';
import { decodeHl7Bytes, parseHl7, stripLeadingJunk } from './message.js';

/** What the MSH segment says, as needed to validate the message and to answer it. */
export interface Hl7Header {
  /** MSH-1 */
  fieldSeparator: string;
  /** MSH-2 */
  encodingCharacters: string;
  /** MSH-3.1 */
  sendingApplication: string;
  /** MSH-4.1: the hospital's ODS code, upper-cased (ODS codes are; the registry stores them so) */
  sendingFacility: string;
  /** MSH-5.1 */
  receivingApplication: string;
  /** MSH-6.1 */
  receivingFacility: string;
  /** MSH-7 as an ISO 8601 UTC instant; undefined when empty or not a valid date/time */
  messageAt?: string;
  /** MSH-9.1, e.g. ADT */
  messageType: string;
  /** MSH-9.2, e.g. A01 */
  triggerEvent: string;
  /** MSH-9.3, e.g. ADT_A01 (v2.3.1+) */
  messageStructure: string;
  /** MSH-10 */
  controlId: string;
  /** MSH-11.1, upper-cased: P (production), T (training) or D (debugging); '' when not sent (live) */
  processingId: string;
  /** MSH-12.1 */
  version: string;
  /** MSH-15 accept acknowledgement type (AL, NE, ER, SU); present means enhanced acknowledgement mode */
  acceptAckType?: string;
  /** MSH-16 application acknowledgement type */
  applicationAckType?: string;
  /** MSH-18.1 character set */
  charset?: string;
}

/**
 * MSH-12 versions this service reads: 2.1 to 2.8.2 (CONTRACT.md "Processing ID and version"). v2 is backward
 * compatible; the fields read here keep their place across these versions, and fields not used are ignored.
 */
export const SUPPORTED_VERSIONS: readonly string[] = [
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
];
const SUPPORTED_VERSION_SET: ReadonlySet<string> = new Set(SUPPORTED_VERSIONS);

/** MSH-11.1 processing IDs accepted (HL7 table 0103): P production, T training, D debugging; empty means P. */
export const PROCESSING_IDS: ReadonlySet<string> = new Set(['P', 'T', 'D']);

/** The ID of the NHS number as an assigning authority (HD.2) in CX-4. */
export const NHS_NUMBER_OID = '2.16.840.1.113883.2.1.4.1';

function optional(v: string): string | undefined {
  return v === '' ? undefined : v;
}

/** Reads the MSH segment (see {@link Hl7Header}). Never throws; {@link validateHeader} judges it. */
export function readHeader(msg: Hl7Message): Hl7Header {
  const msh = msg.msh;
  const header: Hl7Header = {
    fieldSeparator: msh.field(1),
    encodingCharacters: msh.field(2),
    sendingApplication: msh.component(3, 1).trim(),
    sendingFacility: msh.component(4, 1).trim().toUpperCase(),
    receivingApplication: msh.component(5, 1).trim(),
    receivingFacility: msh.component(6, 1).trim(),
    messageType: msh.component(9, 1).trim().toUpperCase(),
    triggerEvent: msh.component(9, 2).trim().toUpperCase(),
    messageStructure: msh.component(9, 3).trim().toUpperCase(),
    controlId: msh.field(10).trim(),
    processingId: msh.component(11, 1).trim().toUpperCase(),
    version: msh.component(12, 1).trim(),
  };
  const messageAt = parseHl7Timestamp(msh.component(7, 1));
  if (messageAt !== undefined) header.messageAt = messageAt;
  const accept = optional(msh.field(15).trim().toUpperCase());
  if (accept !== undefined) header.acceptAckType = accept;
  const app = optional(msh.field(16).trim().toUpperCase());
  if (app !== undefined) header.applicationAckType = app;
  const charset = optional(msh.component(18, 1).trim());
  if (charset !== undefined) header.charset = charset;
  return header;
}

/**
 * As much of the header as can be read, for answering a message that could not be parsed or whose header is
 * broken (the ACK still wants MSH-3, MSH-4, MSH-10, MSH-12). Accepts the parsed message or the raw text;
 * returns {} when there is no MSH at all.
 */
export function readHeaderLenient(input: Hl7Message | string): Partial<Hl7Header> {
  if (typeof input !== 'string') return readHeader(input);
  try {
    return readHeader(parseHl7(input));
  } catch {
    // unusable delimiters: split the MSH line on its first character after "MSH" and hope
  }
  const line = stripLeadingJunk(input).split(/\r\n|\r|\n/, 1)[0];
  if (line === undefined || !line.startsWith('MSH') || line.length < 4) return {};
  const fs = line.charAt(3);
  const parts = line.split(fs); // parts[n - 1] is MSH-n
  const comp = /^[^A-Za-z0-9\s]/.test(parts[1] ?? '') ? (parts[1] ?? '^').charAt(0) : '^';
  const first = (n: number): string => (parts[n - 1] ?? '').split(comp)[0]?.trim() ?? '';
  const out: Partial<Hl7Header> = { fieldSeparator: fs, encodingCharacters: parts[1] ?? '' };
  const set = <K extends keyof Hl7Header>(k: K, v: string) => {
    if (v !== '') (out as Record<string, string>)[k] = v;
  };
  set('sendingApplication', first(3));
  set('sendingFacility', first(4).toUpperCase());
  set('receivingApplication', first(5));
  set('receivingFacility', first(6));
  set('messageType', first(9).toUpperCase());
  set('triggerEvent', ((parts[8] ?? '').split(comp)[1] ?? '').trim().toUpperCase());
  set('controlId', (parts[9] ?? '').trim());
  set('processingId', first(11).toUpperCase());
  set('version', first(12));
  set('acceptAckType', first(15).toUpperCase());
  set('applicationAckType', first(16).toUpperCase());
  return out;
}

/** Longest MSH-4.1 accepted (HD.1 is IS(20); ODS codes are 3 to 10 characters). */
export const MAX_SENDING_FACILITY_LENGTH = 64;
/** Longest MSH-10 accepted (ST(20) in v2.4, ST(199) in v2.5). */
export const MAX_CONTROL_ID_LENGTH = 199;
/** Longest PV1-19.1 visit number accepted (CX.1 is ST(15) to ST(20); it becomes part of a workflow id). */
export const MAX_VISIT_NUMBER_LENGTH = 64;

/** A value quoted in an error message, cut short so an ACK never echoes a huge field. */
function shown(v: string): string {
  if (v === '') return '(empty)';
  return v.length > 40 ? `${v.slice(0, 40)}…` : v;
}

/** True when `v` holds a control character (C0 other than tab, or DEL): never valid in an identifier. */
function hasControl(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * Refuses headers this service cannot take (answered AR): MSH-9.1 not ADT, MSH-12 outside 2.1–2.8.2, MSH-11.1 not
 * P, T, D or empty, no MSH-10 control ID, no MSH-4 sending facility, or either of them too long or holding control
 * characters.
 */
export function validateHeader(header: Hl7Header): void {
  if (header.messageType !== 'ADT') {
    throw new InputError(
      'unsupported-message-type',
      `MSH-9 message type ${shown(header.messageType)} is not supported: only ADT`,
      'MSH-9',
    );
  }
  if (!SUPPORTED_VERSION_SET.has(header.version)) {
    throw new InputError(
      'unsupported-version',
      `MSH-12 version ${shown(header.version)} is not supported: ${SUPPORTED_VERSIONS.slice(0, -1).join(', ')} or ${SUPPORTED_VERSIONS.at(-1)}`,
      'MSH-12',
    );
  }
  if (header.processingId !== '' && !PROCESSING_IDS.has(header.processingId)) {
    throw new InputError(
      'unsupported-processing-id',
      `MSH-11 processing ID ${shown(header.processingId)} is not supported: P (production), T (training) or D (debugging)`,
      'MSH-11',
    );
  }
  if (header.controlId === '') throw new InputError('bad-header', 'MSH-10 message control ID is missing', 'MSH-10');
  if (header.controlId.length > MAX_CONTROL_ID_LENGTH || hasControl(header.controlId)) {
    throw new InputError(
      'bad-header',
      `MSH-10 message control ID must be at most ${MAX_CONTROL_ID_LENGTH} characters, without control characters`,
      'MSH-10',
    );
  }
  if (header.sendingFacility === '') {
    throw new InputError('bad-header', 'MSH-4 sending facility (hospital ODS code) is missing', 'MSH-4');
  }
  if (header.sendingFacility.length > MAX_SENDING_FACILITY_LENGTH || hasControl(header.sendingFacility)) {
    throw new InputError(
      'bad-header',
      `MSH-4 sending facility must be an ODS code (at most ${MAX_SENDING_FACILITY_LENGTH} characters, without control characters)`,
      'MSH-4',
    );
  }
}

/** Person-level updates that concern a stay only when they carry a PV1 with a visit number. */
const PERSON_UPDATES: ReadonlySet<string> = new Set(['A28', 'A31']);

/** Triggers whose MRG segment names the prior patient: A34 (merge patient ID), A40 (merge patient), A47 (change ID). */
export const MERGE_TRIGGERS: ReadonlySet<string> = new Set(['A34', 'A40', 'A47']);

/**
 * The event kind of a trigger (CONTRACT.md "Event meanings"). Identity corrections: an A31 with a PV1-19 is an
 * `update` of that spell; an A31 without one, an A34 and an A47 are `identity` (person level); an A40 is `merge`.
 * Neither `identity` nor `merge` needs PV1-19.
 */
export function eventKindFor(trigger: string, pv1: Hl7Segment | undefined): EventKind {
  switch (trigger) {
    case 'A01':
    case 'A06':
      return 'admit';
    case 'A04':
      return pv1?.field(2).trim().toUpperCase() === 'I' ? 'admit' : 'update';
    case 'A05':
      return 'pre-admit';
    case 'A02':
      return 'transfer';
    case 'A12':
      return 'cancel-transfer';
    case 'A03':
      return 'discharge';
    case 'A13':
      return 'cancel-discharge';
    case 'A11':
      return 'cancel-admit';
    case 'A08':
      return 'update';
    case 'A21':
      return 'leave';
    case 'A22':
      return 'return';
    case 'A40':
      return 'merge';
    case 'A34':
    case 'A47':
      return 'identity';
    default: {
      const hasVisit = pv1 !== undefined && pv1.component(19, 1).trim() !== '';
      if (PERSON_UPDATES.has(trigger) && hasVisit) return 'update';
      if (trigger === 'A31') return 'identity';
      return 'other';
    }
  }
}

/** Kinds that belong to a hospital spell and so need PV1-19. */
const NEEDS_VISIT: ReadonlySet<EventKind> = new Set<EventKind>([
  'admit',
  'pre-admit',
  'transfer',
  'cancel-transfer',
  'discharge',
  'cancel-discharge',
  'cancel-admit',
  'update',
  'leave',
  'return',
]);

function isNhsNumberCx(cx: Cx): boolean {
  const type = cx.identifierType.toUpperCase();
  const authority = cx.assigningAuthority.toUpperCase();
  return (
    type === 'NH' ||
    type === 'NHSNMBR' ||
    type === 'NHS' ||
    authority === 'NHS' ||
    authority === NHS_NUMBER_OID ||
    cx.assigningAuthorityId.toUpperCase() === 'NHS' ||
    cx.assigningAuthorityId === NHS_NUMBER_OID
  );
}

/** An identifier as operators see it: `value^authority` (authority: CX-4, else CX-6), or just the value. */
function describeCx(cx: Cx): string {
  const authority = cx.assigningAuthority || cx.assigningAuthorityId || cx.assigningFacility;
  return authority === '' ? cx.id : `${cx.id}^${authority}`;
}

/**
 * The patient's NHS number (CONTRACT.md): a PID-3 repetition with CX-5 `NH`/`NHSNMBR` (or `NHS`, which some feeds
 * send) or CX-4 `NHS`/the NHS number OID; else PID-2 unless it says it is something else. Spaces ignored. Throws `no-patient-identifier`
 * when PID-3 and PID-2 hold no identifier at all.
 */
function readPatientIds(
  pid: Hl7Segment,
): Pick<PatientIdentity, 'nhsNumber' | 'nhsNumberValid' | 'nhsNumberProblem' | 'otherIdentifiers'> {
  const pid3 = pid.cx(3).filter((cx) => cx.id !== '');
  const pid2 = pid.cx(2).filter((cx) => cx.id !== '')[0];
  if (pid3.length === 0 && pid2 === undefined) {
    throw new InputError('no-patient-identifier', 'no patient identifier in PID-3 or PID-2', 'PID-3');
  }
  const candidates = pid3.filter(isNhsNumberCx).map((cx) => normaliseNhsNumber(cx.id));
  const others = pid3.filter((cx) => !isNhsNumberCx(cx)).map(describeCx);
  if (pid2 !== undefined) {
    // older feeds put the NHS number in PID-2 (v2.2/2.3 "external ID"), usually with no type at all
    const saysOther = (pid2.identifierType !== '' || pid2.assigningAuthority !== '') && !isNhsNumberCx(pid2);
    if (candidates.length === 0 && !saysOther) candidates.push(normaliseNhsNumber(pid2.id));
    else if (saysOther || !candidates.includes(normaliseNhsNumber(pid2.id))) others.push(describeCx(pid2));
  }
  const ids: ReturnType<typeof readPatientIds> = { nhsNumber: null, nhsNumberValid: false };
  if (others.length > 0) ids.otherIdentifiers = others;
  if (candidates.length === 0) {
    ids.nhsNumberProblem = 'no NHS number in PID-3 or PID-2';
    return ids;
  }
  // several NHS numbers: the first that passes the check, else the first
  const chosen = candidates.find((n) => nhsNumberProblem(n) === undefined) ?? candidates[0] ?? null;
  ids.nhsNumber = chosen;
  const problem = chosen === null ? 'no NHS number in PID-3 or PID-2' : nhsNumberProblem(chosen);
  ids.nhsNumberValid = problem === undefined;
  if (problem !== undefined) ids.nhsNumberProblem = problem;
  return ids;
}

/** PV1-36 discharge method: IS up to v2.6, CWE from v2.7 (its code is CWE.1). '' when absent. */
function dischargeMethodOf(pv1: Hl7Segment | undefined): string {
  return pv1?.subComponent(36, 1, 1).trim() ?? '';
}

/** PV1-37.1 discharge destination: DLD.1 is IS up to v2.6, CWE from v2.7 (its code is CWE.1). '' when absent. */
function dischargeDestinationOf(pv1: Hl7Segment | undefined): string {
  return pv1?.subComponent(37, 1, 1).trim() ?? '';
}

/**
 * The patient (PID) and whether the message says they died (CONTRACT.md "Death"): any of PV1-36 `4`/`5` (or the
 * hospital's map says `died`), PV1-37 `79` (or mapped `died`), PID-30 `Y`, PID-29 present makes `deceased` true
 * with the signals listed, even when PID-30 says `N`; `deceased` is false only when PID-30 is `N` and nothing else
 * says died, and absent when nothing is said at all.
 */
function readPatient(pid: Hl7Segment, pv1: Hl7Segment | undefined, codeMap?: CodeMap | null): PatientIdentity {
  const patient: PatientIdentity = readPatientIds(pid);
  const name = pid.repetitions(5).find((r) => r.component(1) !== '' || r.component(2) !== '');
  if (name) {
    // XPN.1 is FN (surname&prefix&...) from v2.3: its first sub-component is the family name
    const family = name.subComponent(1, 1).trim();
    const given = name.component(2).trim();
    if (family !== '') patient.familyName = family;
    if (given !== '') patient.givenName = given;
  }
  const dob = parseHl7Date(pid.component(7, 1), 'PID-7');
  if (dob !== undefined) patient.dateOfBirth = dob;
  const deceasedAt = parseHl7Timestamp(pid.component(29, 1), 'PID-29');
  if (deceasedAt !== undefined) patient.deceasedAt = deceasedAt;
  const indicator = pid.field(30).trim().toUpperCase();
  const method = dischargeMethodOf(pv1);
  const destination = dischargeDestinationOf(pv1);
  const signals = deathSignals({
    ...(method !== '' ? { method } : {}),
    ...(destination !== '' ? { destination } : {}),
    indicator,
    ...(deceasedAt !== undefined ? { deceasedAt } : {}),
    map: codeMap ?? null,
  });
  if (signals.length > 0) {
    patient.deceased = true;
    patient.deathSignals = signals;
  } else if (indicator === 'N') patient.deceased = false;
  return patient;
}

/** A PL (person location) field: PV1-3, PV1-6. Undefined when empty. */
function readLocation(seg: Hl7Segment, n: number): Location | undefined {
  const loc: Location = {};
  const put = (k: keyof Location, v: string) => {
    const t = v.trim();
    if (t !== '') loc[k] = t;
  };
  put('pointOfCare', seg.component(n, 1));
  put('room', seg.component(n, 2));
  put('bed', seg.component(n, 3));
  put('facility', seg.subComponent(n, 4, 1));
  put('description', seg.component(n, 9));
  const ward = loc.description ?? loc.pointOfCare;
  if (ward !== undefined) loc.ward = ward;
  return Object.keys(loc).length === 0 ? undefined : loc;
}

/**
 * MRG-1 (prior patient identifier list) of every MRG segment, for A34, A40 and A47: each repetition as
 * `value^authority` (as PID-3's other identifiers are kept), and, when the repetition is an NHS number (the PID-3
 * rule: CX-5 `NH`/`NHSNMBR`/`NHS`, CX-4 `NHS` or the NHS number OID), the bare number too (spaces removed), so
 * that it meets a stay's `nhsNumber`. Duplicates dropped, order kept.
 */
export function readMergedFrom(msg: Hl7Message): string[] {
  const out: string[] = [];
  for (const mrg of msg.segments('MRG')) {
    for (const cx of mrg.cx(1)) {
      if (cx.id.trim() === '') continue;
      out.push(describeCx(cx));
      if (isNhsNumberCx(cx)) {
        const bare = normaliseNhsNumber(cx.id);
        if (bare !== '') out.push(bare);
      }
    }
  }
  return [...new Set(out)];
}

/**
 * Turns a parsed ADT message into an {@link AdmissionEvent}. Throws {@link InputError} for content problems
 * (answered AE): missing PID (`bad-segment`), no identifier in PID-3/PID-2 (`no-patient-identifier`), no PV1-19 on
 * an event that belongs to a spell (`no-visit-number`), bad dates (`bad-date`). An NHS number that fails the
 * modulus 11 check is not an error: the event says so (`nhsNumberValid: false`, `nhsNumberProblem`).
 *
 * `codeMap` is the sending hospital's own discharge codes (`PUT /v1/hospitals/{id}/code-map`) in force when the
 * message arrived: read before the national ones for the death signals and `discharge.destinationCategory`
 * (PV1-37), which is set on every event that carries PV1-36/PV1-37 and on every discharge. `processingId` is
 * MSH-11.1 (`P` when empty).
 */
export function toAdmissionEvent(msg: Hl7Message, header: Hl7Header, codeMap?: CodeMap | null): AdmissionEvent {
  const evn = msg.segment('EVN');
  const pid = msg.segment('PID');
  const pv1 = msg.segment('PV1');
  const pv2 = msg.segment('PV2');
  const trigger = header.triggerEvent || (evn?.field(1).trim().toUpperCase() ?? '');
  const kind = eventKindFor(trigger, pv1);

  const messageAt = parseHl7Timestamp(msg.msh.component(7, 1), 'MSH-7');
  const eventAt =
    (evn && parseHl7Timestamp(evn.component(2, 1), 'EVN-2')) ??
    (evn && parseHl7Timestamp(evn.component(6, 1), 'EVN-6')) ??
    messageAt;
  if (eventAt === undefined) {
    throw new InputError('bad-date', 'no event date/time: EVN-2, EVN-6 and MSH-7 are all empty', 'MSH-7');
  }

  let patient: PatientIdentity;
  if (pid) patient = readPatient(pid, pv1, codeMap);
  else if (kind === 'other') patient = { nhsNumber: null, nhsNumberValid: false, nhsNumberProblem: 'no PID segment' };
  else throw new InputError('bad-segment', `an ${shown(trigger)} message needs a PID segment`, 'PID');

  const visitNumber = pv1?.component(19, 1).trim() ?? '';
  if (NEEDS_VISIT.has(kind) && visitNumber === '') {
    if (!pv1) throw new InputError('bad-segment', `an ${shown(trigger)} message needs a PV1 segment`, 'PV1');
    throw new InputError('no-visit-number', 'PV1-19 visit number (hospital spell) is missing', 'PV1-19');
  }
  if (visitNumber.length > MAX_VISIT_NUMBER_LENGTH || hasControl(visitNumber)) {
    throw new InputError(
      'invalid',
      `PV1-19 visit number must be at most ${MAX_VISIT_NUMBER_LENGTH} characters, without control characters`,
      'PV1-19',
    );
  }

  const event: AdmissionEvent = {
    source: 'hl7',
    trigger,
    kind,
    hospitalOds: header.sendingFacility,
    visitNumber,
    messageControlId: header.controlId,
    eventAt,
    messageAt: messageAt ?? eventAt,
    patient,
    processingId: header.processingId === '' ? 'P' : header.processingId,
  };

  if (pv1) {
    const patientClass = pv1.field(2).trim();
    if (patientClass !== '') event.patientClass = patientClass;
    const location = readLocation(pv1, 3);
    if (location) event.location = location;
    const prior = readLocation(pv1, 6);
    if (prior) event.priorLocation = prior;
    const admittedAt = parseHl7Timestamp(pv1.component(44, 1), 'PV1-44');
    if (admittedAt !== undefined) event.admittedAt = admittedAt;
    const dischargedAt = parseHl7Timestamp(pv1.component(45, 1), 'PV1-45');
    if (dischargedAt !== undefined) event.dischargedAt = dischargedAt;
    const method = dischargeMethodOf(pv1);
    const destination = dischargeDestinationOf(pv1);
    if (method !== '' || destination !== '') {
      event.discharge = {};
      if (method !== '') event.discharge.method = method;
      if (destination !== '') event.discharge.destination = destination;
    }
  }
  if (kind === 'discharge') event.discharge ??= {};
  if (event.discharge) {
    event.discharge.destinationCategory = destinationCategory(event.discharge.destination, codeMap);
  }
  if (pv2) {
    const expected = parseHl7Date(pv2.component(9, 1), 'PV2-9');
    if (expected !== undefined) event.expectedDischargeDate = expected;
  }
  if (MERGE_TRIGGERS.has(trigger)) event.mergedFrom = readMergedFrom(msg);
  return event;
}

/**
 * Decode → parse → read and validate the header → build the event (with the hospital's code map, if given). Throws
 * {@link InputError} on bad input.
 */
export function parseAdt(
  input: Buffer | string,
  codeMap?: CodeMap | null,
): { message: Hl7Message; header: Hl7Header; event: AdmissionEvent } {
  const text = typeof input === 'string' ? input : decodeHl7Bytes(input);
  const message = parseHl7(text);
  const header = readHeader(message);
  validateHeader(header);
  const event = toAdmissionEvent(message, header, codeMap);
  return { message, header, event };
}
