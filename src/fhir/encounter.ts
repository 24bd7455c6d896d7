/**
 * FHIR R4 Encounter → AdmissionEvent (CONTRACT.md "FHIR R4: POST /v1/fhir/Encounter"). Pure: no I/O.
 * Validates (with zod) only the elements it reads; everything else in the resource is ignored, and no raw FHIR
 * ever leaves this module.
 */
import { createHash } from 'node:crypto';
import type { Encounter } from '@medplum/fhirtypes';
import { z } from 'zod';
import type {
  AdmissionEvent,
  DischargeDetails,
  EventKind,
  Location,
  PatientIdentity,
} from '../domain/admission-event.js';
import { deathSignals, destinationCategory, type CodeMap } from '../domain/clinical.js';
import { InputError } from '../domain/errors.js';
import { isValidNhsNumber, nhsNumberProblem, normaliseNhsNumber } from '../domain/nhs-number.js';

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
export const ODS_ORGANIZATION_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** UK Core discharge method (NHS Data Dictionary DISCHARGE METHOD: 1 clinical advice, 2 self, ..., 4 died). */
export const UKCORE_DISCHARGE_METHOD_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DischargeMethod';
/** The older CareConnect (STU3) extension with the same meaning, still sent by some integration engines. */
export const CARECONNECT_DISCHARGE_METHOD_URL =
  'https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-DischargeMethod-1';
/**
 * This service's own extension for the patient's date of birth (`valueDate`, YYYY-MM-DD), on `Encounter.subject`
 * or on the Encounter itself, for senders that cannot contain a Patient resource.
 */
export const BIRTH_DATE_EXTENSION_URL = 'https://fhir.admission-alerts.uk/StructureDefinition/subject-birth-date';
/** HL7 core extension `patient-birthTime` (`valueDateTime`); its date part is taken as the date of birth. */
export const HL7_BIRTH_TIME_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime';
/** FHIR R4 Encounter.hospitalization.dischargeDisposition code system. */
export const R4_DISCHARGE_DISPOSITION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/discharge-disposition';

type EncounterStatus = Encounter['status'];

/** Encounter.status → EventKind; `unknown` (and anything else) is refused. */
const KIND_FOR_STATUS: Record<EncounterStatus, EventKind | undefined> = {
  planned: 'pre-admit',
  arrived: 'pre-admit',
  triaged: 'pre-admit',
  'in-progress': 'admit',
  onleave: 'leave',
  finished: 'discharge',
  cancelled: 'cancel-admit',
  'entered-in-error': 'cancel-admit',
  unknown: undefined,
};

/** Encounter.class (v3 ActCode) → PV1-2 patient class. */
const PATIENT_CLASS_FOR: ReadonlyMap<string, string> = new Map([
  ['IMP', 'I'],
  ['ACUTE', 'I'],
  ['NONAC', 'I'],
  ['EMER', 'E'],
  ['AMB', 'O'],
  ['PRENC', 'P'],
]);

/** R4 discharge-disposition codes that say how (not only where) the patient left. */
const METHOD_FOR_DISPOSITION: ReadonlyMap<string, string> = new Map([
  ['exp', '4'], // expired → died
  ['aadvice', '2'], // left against advice → self-discharge
]);

/** Longest ODS code or spell number accepted (they become part of a workflow id). */
const MAX_ID_LENGTH = 64;
/** Control characters (C0 but tab, and DEL): never part of an identifier. */
const CONTROL = { test: (v: string): boolean => [...v].some((ch) => (ch < ' ' ? ch !== '\t' : ch === '\u007f')) };

// ---- the elements read, as zod schemas (unknown elements are ignored) -------------------------------------

const str = z.string();
const identifier = z.object({ use: str.optional(), system: str.optional(), value: str.optional() });
const identifiers = z.union([identifier, z.array(identifier)]);
const coding = z.object({ system: str.optional(), code: str.optional() });
const codeableConcept = z.object({ coding: z.array(coding).optional(), text: str.optional() });
const extension = z.object({
  url: str,
  valueCodeableConcept: codeableConcept.optional(),
  valueCoding: coding.optional(),
  valueCode: str.optional(),
  valueString: str.optional(),
  valueDate: str.optional(),
  valueDateTime: str.optional(),
});
const extensions = z.array(extension);
const reference = z.object({
  reference: str.optional(),
  identifier: identifiers.optional(),
  display: str.optional(),
  extension: extensions.optional(),
});

const encounterSchema = z.object({
  id: str.optional(),
  meta: z.object({ versionId: str.optional(), lastUpdated: str.optional() }).optional(),
  extension: extensions.optional(),
  identifier: z.array(identifier).optional(),
  status: str.optional(),
  class: coding.optional(),
  subject: reference.optional(),
  period: z.object({ start: str.optional(), end: str.optional() }).optional(),
  location: z.array(z.object({ location: reference, status: str.optional() })).optional(),
  serviceProvider: reference.optional(),
  hospitalization: z
    .object({ dischargeDisposition: codeableConcept.optional(), extension: extensions.optional() })
    .optional(),
  contained: z.array(z.unknown()).optional(),
});
type ParsedEncounter = z.infer<typeof encounterSchema>;
type Identifier = z.infer<typeof identifier>;
type Extension = z.infer<typeof extension>;

const patientSchema = z.object({
  resourceType: z.literal('Patient'),
  id: str.optional(),
  birthDate: str.optional(),
  name: z.array(z.object({ use: str.optional(), family: str.optional(), given: z.array(str).optional() })).optional(),
  deceasedBoolean: z.boolean().optional(),
  deceasedDateTime: str.optional(),
});

/**
 * Turns a FHIR R4 Encounter (already JSON-parsed) into an AdmissionEvent, or throws InputError.
 *
 * - `resourceType`: not an object, or no resourceType → `invalid`; another resource type →
 *   `unsupported-message-type` (a header-class error, like an HL7 message that is not ADT).
 * - `serviceProvider.identifier` (system `https://fhir.nhs.uk/Id/ods-organization-code`, or no system) →
 *   hospitalOds, upper-cased; missing → `bad-header` at `Encounter.serviceProvider`.
 * - `status` → kind: in-progress admit, finished discharge, entered-in-error and cancelled cancel-admit,
 *   planned/arrived/triaged pre-admit, onleave leave; unknown or missing → `invalid` at `Encounter.status`.
 * - `identifier[]` → visitNumber (the spell number): among identifiers with a system and a value (`use: old`
 *   skipped), the one whose system names the serviceProvider's ODS code, else the `official` one, else the first;
 *   none → `no-visit-number` at `Encounter.identifier`.
 * - `subject.identifier` with system `https://fhir.nhs.uk/Id/nhs-number` → patient.nhsNumber (spaces and hyphens
 *   removed). A number failing the modulus 11 check is not an input error: nhsNumberValid is false and
 *   nhsNumberProblem says why. An identifier of another system is kept in otherIdentifiers (`value^system`) and
 *   nhsNumber is null (the admission ends as unmatched). No subject identifier at all → `no-patient-identifier`
 *   at `Encounter.subject.identifier`.
 * - Date of birth, name and death: the Encounter itself carries none. Accepted from
 *   1. a contained Patient that `subject.reference` (`#id`) points at: `birthDate` (a full YYYY-MM-DD; a partial
 *      date is ignored), the `official` name (else the first) `family` and `given[0]`, `deceasedBoolean` /
 *      `deceasedDateTime`. A `#id` naming no contained Patient → `invalid` at `Encounter.subject.reference`.
 *   2. else, for the date of birth only, an extension on `Encounter.subject` or on the Encounter:
 *      {@link BIRTH_DATE_EXTENSION_URL} (`valueDate`) or HL7 `patient-birthTime` (`valueDateTime`, date part).
 * - `period.start` → admittedAt, `period.end` → dischargedAt. eventAt: for `finished` period.end; for
 *   in-progress/arrived/triaged period.start; then (and for planned, onleave, cancelled, entered-in-error, whose
 *   period says nothing about when the status changed) `meta.lastUpdated`, else `receivedAt`. messageAt is
 *   `meta.lastUpdated`, else `receivedAt`. A dateTime without a full date, or with a time but no zone, →
 *   `bad-date` at the element; a date without time is taken as 00:00 UTC.
 * - Location: the `active` entry of `location[]`, else `location[0]`: `location.display` → ward and description,
 *   `location.identifier.value` → pointOfCare (and ward when there is no display).
 * - Discharge: destination = `hospitalization.dischargeDisposition.coding[0].code`. Method = the UK Core
 *   `Extension-UKCore-DischargeMethod` (or CareConnect `Extension-CareConnect-DischargeMethod-1`), on the
 *   Encounter or on `hospitalization`, NHS Data Dictionary codes (`1`..`5`, `8`, `9`); else derived from an R4
 *   discharge-disposition code that implies one: `exp` → `4` (died), `aadvice` → `2` (self-discharge).
 *   `discharge.destinationCategory` is the destination code's category (the hospital's `codeMap` first, then the NHS
 *   Data Dictionary codes that UK Core's discharge destination uses; anything else `unknown`), on every `finished`
 *   Encounter and on any other that carries a disposition or method.
 * - Death (CONTRACT.md "Death"): method `4`/`5` (or mapped `died`), destination `79` (or mapped `died`), a contained
 *   Patient's `deceasedBoolean: true` (as PID-30 `Y`) or `deceasedDateTime` (as PID-29) make patient.deceased true,
 *   with patient.deathSignals; `deceasedBoolean: false` with no other signal makes it false.
 * - `class.code` IMP/ACUTE/NONAC → I, EMER → E, AMB → O, PRENC → P.
 * - messageControlId: `fhir-<id>/_history/<meta.versionId>` when both are present, else `fhir-` + the sha256 of
 *   the canonical JSON of the body (keys sorted), so an identical resend gets the same id.
 * - trigger `FHIR-<status>`, source `fhir`, processingId `P` (FHIR has no training or debugging traffic).
 */
export function encounterToEvent(
  body: unknown,
  opts: {
    receivedAt: Date;
    /** the ODS code of the hospital whose key sent it: another serviceProvider is `sender-mismatch`, checked first */
    senderOds?: string;
    /** the hospital's own discharge codes in force when it arrived (`PUT /v1/hospitals/{id}/code-map`) */
    codeMap?: CodeMap | null;
  },
): AdmissionEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InputError('invalid', 'The body is not a FHIR resource (a JSON object)', 'Encounter');
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string' || resourceType === '') {
    throw new InputError('invalid', 'The body has no resourceType', 'Encounter.resourceType');
  }
  if (resourceType !== 'Encounter') {
    throw new InputError(
      'unsupported-message-type',
      `Expected resourceType Encounter, got ${truncate(resourceType)}`,
      'Encounter.resourceType',
    );
  }
  const enc = parse(encounterSchema, body, 'Encounter');
  const receivedAt = opts.receivedAt.toISOString();

  const hospitalOds = hospitalOdsOf(enc);
  if (opts.senderOds !== undefined && hospitalOds !== opts.senderOds) {
    throw new InputError(
      'sender-mismatch',
      `serviceProvider ${truncate(hospitalOds)} is not the hospital of this API key`,
      'Encounter.serviceProvider',
    );
  }
  const status = enc.status?.trim() ?? '';
  const kind = Object.hasOwn(KIND_FOR_STATUS, status) ? KIND_FOR_STATUS[status as EncounterStatus] : undefined;
  if (kind === undefined) {
    throw new InputError(
      'invalid',
      status === ''
        ? 'Encounter.status is required'
        : `Encounter.status ${truncate(status)} does not say what happened to the stay`,
      'Encounter.status',
    );
  }
  const visitNumber = visitNumberOf(enc.identifier ?? [], hospitalOds);
  const patient = patientOf(enc);

  const admittedAt = instant(enc.period?.start, 'Encounter.period.start');
  const dischargedAt = instant(enc.period?.end, 'Encounter.period.end');
  const lastUpdated = instant(enc.meta?.lastUpdated, 'Encounter.meta.lastUpdated');
  const statusTime =
    status === 'finished'
      ? dischargedAt
      : status === 'in-progress' || status === 'arrived' || status === 'triaged'
        ? admittedAt
        : undefined;

  const discharge: DischargeDetails | undefined = dischargeOf(enc) ?? (kind === 'discharge' ? {} : undefined);
  if (discharge !== undefined) discharge.destinationCategory = destinationCategory(discharge.destination, opts.codeMap);
  const signals = deathSignals({
    ...(discharge?.method !== undefined ? { method: discharge.method } : {}),
    ...(discharge?.destination !== undefined ? { destination: discharge.destination } : {}),
    ...(patient.deceased === true ? { indicator: 'Y' } : {}),
    ...(patient.deceasedAt !== undefined ? { deceasedAt: patient.deceasedAt } : {}),
    map: opts.codeMap ?? null,
  });
  if (signals.length > 0) {
    patient.deceased = true;
    patient.deathSignals = signals;
  }
  const patientClass = enc.class?.code !== undefined ? PATIENT_CLASS_FOR.get(enc.class.code.trim()) : undefined;
  const location = locationOf(enc);

  const event: AdmissionEvent = {
    source: 'fhir',
    trigger: `FHIR-${status}`,
    kind,
    hospitalOds,
    visitNumber,
    messageControlId: messageControlIdOf(body, enc),
    eventAt: statusTime ?? lastUpdated ?? receivedAt,
    messageAt: lastUpdated ?? receivedAt,
    patient,
    processingId: 'P',
  };
  if (patientClass !== undefined) event.patientClass = patientClass;
  if (location !== undefined) event.location = location;
  if (admittedAt !== undefined) event.admittedAt = admittedAt;
  if (dischargedAt !== undefined) event.dischargedAt = dischargedAt;
  if (discharge !== undefined) event.discharge = discharge;
  return event;
}

// ---- parts -----------------------------------------------------------------------------------------------

function hospitalOdsOf(enc: ParsedEncounter): string {
  const ids = asArray(enc.serviceProvider?.identifier);
  const ods = ids.find((i) => (i.system === undefined || i.system === ODS_ORGANIZATION_SYSTEM) && nonEmpty(i.value));
  const value = ods?.value?.trim();
  if (value === undefined || value === '' || value.length > MAX_ID_LENGTH || CONTROL.test(value)) {
    throw new InputError(
      'bad-header',
      `Encounter.serviceProvider needs an identifier with system ${ODS_ORGANIZATION_SYSTEM} (the hospital's ODS code)`,
      'Encounter.serviceProvider',
    );
  }
  return value.toUpperCase();
}

function visitNumberOf(ids: Identifier[], hospitalOds: string): string {
  const usable = ids.filter((i) => nonEmpty(i.system) && nonEmpty(i.value) && i.use !== 'old');
  const namesHospital = (i: Identifier): boolean =>
    (i.system ?? '')
      .toUpperCase()
      .split(/[^A-Z0-9]+/)
      .includes(hospitalOds);
  const chosen = usable.find(namesHospital) ?? usable.find((i) => i.use === 'official') ?? usable[0];
  const value = chosen?.value?.trim();
  if (value === undefined || value === '') {
    throw new InputError(
      'no-visit-number',
      'Encounter.identifier needs the spell number: an identifier with a system naming the hospital and a value',
      'Encounter.identifier',
    );
  }
  if (value.length > MAX_ID_LENGTH || CONTROL.test(value)) {
    throw new InputError(
      'invalid',
      `Encounter.identifier: the spell number must be at most ${MAX_ID_LENGTH} characters, without control characters`,
      'Encounter.identifier',
    );
  }
  return value;
}

function patientOf(enc: ParsedEncounter): PatientIdentity {
  const ids = asArray(enc.subject?.identifier).filter((i) => nonEmpty(i.value));
  const nhs = ids.find((i) => i.system?.trim() === NHS_NUMBER_SYSTEM);
  if (ids.length === 0 || (nhs !== undefined && normaliseNhsNumber(nhs.value ?? '') === '')) {
    throw new InputError(
      'no-patient-identifier',
      `Encounter.subject.identifier with system ${NHS_NUMBER_SYSTEM} is required`,
      'Encounter.subject.identifier',
    );
  }
  const others = ids.filter((i) => i !== nhs).map((i) => `${(i.value ?? '').trim()}^${i.system?.trim() ?? ''}`);
  let patient: PatientIdentity;
  if (nhs === undefined) {
    patient = {
      nhsNumber: null,
      nhsNumberValid: false,
      nhsNumberProblem: `No NHS number: Encounter.subject.identifier has no ${NHS_NUMBER_SYSTEM} identifier`,
    };
  } else {
    const nhsNumber = normaliseNhsNumber(nhs.value ?? '');
    const valid = isValidNhsNumber(nhsNumber);
    patient = { nhsNumber, nhsNumberValid: valid };
    if (!valid) patient.nhsNumberProblem = nhsNumberProblem(nhsNumber) ?? 'NHS number is not valid';
  }
  if (others.length > 0) patient.otherIdentifiers = others;

  const contained = containedPatientOf(enc);
  if (contained !== undefined) {
    const { resource: p, path } = contained;
    const dob = birthDate(p.birthDate, `${path}.birthDate`);
    if (dob !== undefined) patient.dateOfBirth = dob;
    const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
    const family = name?.family?.trim();
    const given = name?.given?.[0]?.trim();
    if (family) patient.familyName = family;
    if (given) patient.givenName = given;
    // deceased[x]: the date is a death signal (as PID-29), the boolean one too when true (as PID-30); the caller
    // adds the signals of the discharge and decides `deceased` from all of them
    const deceasedAt = instant(p.deceasedDateTime, `${path}.deceasedDateTime`);
    if (deceasedAt !== undefined) patient.deceasedAt = deceasedAt;
    else if (p.deceasedBoolean !== undefined) patient.deceased = p.deceasedBoolean;
  }
  if (patient.dateOfBirth === undefined) {
    const dob = birthDateFromExtensions(enc);
    if (dob !== undefined) patient.dateOfBirth = dob;
  }
  return patient;
}

function containedPatientOf(
  enc: ParsedEncounter,
): { resource: z.infer<typeof patientSchema>; path: string } | undefined {
  const ref = enc.subject?.reference?.trim();
  if (ref === undefined || !ref.startsWith('#')) return undefined;
  const id = ref.slice(1);
  const index = (enc.contained ?? []).findIndex(
    (r) =>
      typeof r === 'object' &&
      r !== null &&
      (r as { resourceType?: unknown }).resourceType === 'Patient' &&
      (r as { id?: unknown }).id === id,
  );
  if (index < 0) {
    throw new InputError(
      'invalid',
      'Encounter.subject.reference points at a contained Patient that is not there',
      'Encounter.subject.reference',
    );
  }
  const path = `Encounter.contained[${index}]`;
  return { resource: parse(patientSchema, enc.contained?.[index], path), path };
}

function birthDateFromExtensions(enc: ParsedEncounter): string | undefined {
  const places: [Extension[] | undefined, string][] = [
    [enc.subject?.extension, 'Encounter.subject.extension'],
    [enc.extension, 'Encounter.extension'],
  ];
  for (const [exts, path] of places) {
    for (const [i, ext] of (exts ?? []).entries()) {
      if (ext.url === BIRTH_DATE_EXTENSION_URL && ext.valueDate !== undefined) {
        return birthDate(ext.valueDate, `${path}[${i}].valueDate`);
      }
      if (ext.url === HL7_BIRTH_TIME_URL && ext.valueDateTime !== undefined) {
        const where = `${path}[${i}].valueDateTime`;
        instant(ext.valueDateTime, where); // validates it
        return birthDate(ext.valueDateTime.trim().slice(0, 10), where);
      }
    }
  }
  return undefined;
}

function locationOf(enc: ParsedEncounter): Location | undefined {
  const entries = enc.location ?? [];
  const entry = entries.find((l) => l.status === 'active') ?? entries[0];
  if (entry === undefined) return undefined;
  const display = entry.location.display?.trim();
  const pointOfCare = asArray(entry.location.identifier)
    .find((i) => nonEmpty(i.value))
    ?.value?.trim();
  const location: Location = {};
  if (pointOfCare) location.pointOfCare = pointOfCare;
  if (display) location.description = display;
  const ward = display || pointOfCare;
  if (ward) location.ward = ward;
  return Object.keys(location).length > 0 ? location : undefined;
}

function dischargeOf(enc: ParsedEncounter): { method?: string; destination?: string } | undefined {
  const disposition = enc.hospitalization?.dischargeDisposition?.coding?.[0];
  const destination = disposition?.code?.trim() || undefined;
  let method: string | undefined;
  for (const ext of [...(enc.extension ?? []), ...(enc.hospitalization?.extension ?? [])]) {
    if (ext.url !== UKCORE_DISCHARGE_METHOD_URL && ext.url !== CARECONNECT_DISCHARGE_METHOD_URL) continue;
    const code =
      ext.valueCodeableConcept?.coding?.find((c) => nonEmpty(c.code))?.code ??
      ext.valueCoding?.code ??
      ext.valueCode ??
      ext.valueString;
    if (nonEmpty(code)) {
      method = code.trim();
      break;
    }
  }
  if (method === undefined && destination !== undefined) {
    const system = disposition?.system?.trim();
    if (system === undefined || system === R4_DISCHARGE_DISPOSITION_SYSTEM)
      method = METHOD_FOR_DISPOSITION.get(destination);
  }
  if (method === undefined && destination === undefined) return undefined;
  const discharge: { method?: string; destination?: string } = {};
  if (method !== undefined) discharge.method = method;
  if (destination !== undefined) discharge.destination = destination;
  return discharge;
}

/** A FHIR R4 `id` (and `meta.versionId`, an id too): 1 to 64 of A-Z a-z 0-9 - . */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * `fhir-<id>/_history/<versionId>` (a FHIR id never contains `/`), else `fhir-<sha256 of canonical JSON>`.
 * An id or versionId that is not a FHIR id is `invalid`.
 */
function messageControlIdOf(body: object, enc: ParsedEncounter): string {
  const id = enc.id?.trim();
  const version = enc.meta?.versionId?.trim();
  if (id && !FHIR_ID.test(id)) throw new InputError('invalid', 'Encounter.id is not a FHIR id', 'Encounter.id');
  if (version && !FHIR_ID.test(version)) {
    throw new InputError('invalid', 'Encounter.meta.versionId is not a FHIR id', 'Encounter.meta.versionId');
  }
  if (id && version) return `fhir-${id}/_history/${version}`;
  return `fhir-${createHash('sha256').update(canonicalJson(body)).digest('hex')}`;
}

/**
 * JSON with object keys sorted at every depth, so key order and whitespace do not change it: what an exact resend
 * of a resource is recognised by.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---- dates -----------------------------------------------------------------------------------------------

/** FHIR dateTime with at least a full date; with a time it must carry a zone (FHIR R4 `dateTime`). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;
const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/** A FHIR dateTime as an ISO 8601 UTC instant; undefined when absent; InputError `bad-date` when unusable. */
function instant(value: string | undefined, where: string): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const s = value.trim();
  const m = DATE_TIME.exec(s);
  const bad = (): InputError =>
    new InputError('bad-date', `${where} is not a FHIR dateTime with a full date (and a zone when timed)`, where);
  if (!m || !isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw bad();
  if (m[4] !== undefined) {
    if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) throw bad();
    if (m[7] !== undefined && (Number(m[7]) > 14 || Number(m[8]) > 59)) throw bad();
  }
  const date = new Date(m[4] === undefined ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(date.getTime())) throw bad();
  return date.toISOString();
}

/** A FHIR date as YYYY-MM-DD; a partial date (YYYY, YYYY-MM) gives undefined; anything else `bad-date`. */
function birthDate(value: string | undefined, where: string): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const s = value.trim();
  const m = DATE.exec(s);
  if (!m) throw new InputError('bad-date', `${where} is not a FHIR date (YYYY-MM-DD)`, where);
  if (m[2] === undefined || m[3] === undefined) return undefined;
  if (!isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    throw new InputError('bad-date', `${where} is not a calendar date`, where);
  }
  return s;
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// ---- helpers ---------------------------------------------------------------------------------------------

function parse<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? fhirPath(root, issue.path) : root;
  throw new InputError('invalid', `${where}: ${issue?.message ?? 'invalid'}`, where);
}

function fhirPath(root: string, path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${p}`), root);
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function nonEmpty(s: string | undefined): s is string {
  return s !== undefined && s.trim() !== '';
}

function truncate(s: string): string {
  const t = JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
  return t;
}
