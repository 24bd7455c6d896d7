/**
 * The clinical meaning of ADT events (CONTRACT.md "What the provider is told (clinical meaning)"). Pure: imported by
 * ingestion (to classify what a hospital sent), by the workflow (to decide) and by the pages (to say it).
 * Every decision is made on the codes here; words are made from codes, never read back.
 */

/** Where a discharged patient went, from PV1-37 (NHS Data Dictionary "Discharge Destination"). */
export type DestinationCategory = 'home' | 'care-home' | 'hospital' | 'died' | 'unknown';
export const DESTINATION_CATEGORIES: readonly DestinationCategory[] = [
  'home',
  'care-home',
  'hospital',
  'died',
  'unknown',
];

/** What a discharge method (PV1-36) says, where it says anything: only death matters. */
export type MethodCategory = 'died' | 'alive';
export const METHOD_CATEGORIES: readonly MethodCategory[] = ['died', 'alive'];

/** NHS Data Dictionary discharge destination codes by category (CONTRACT.md table). */
const DESTINATION_CODES: Readonly<Record<string, DestinationCategory>> = {
  '19': 'home',
  '29': 'home',
  '54': 'care-home',
  '65': 'care-home',
  '85': 'care-home',
  '88': 'care-home',
  '49': 'hospital',
  '50': 'hospital',
  '51': 'hospital',
  '52': 'hospital',
  '53': 'hospital',
  '84': 'hospital',
  '87': 'hospital',
  '79': 'died',
};

/** NHS Data Dictionary discharge method codes that mean death: 4 (died), 5 (stillbirth). */
const DEATH_METHODS: ReadonlySet<string> = new Set(['4', '5']);

/**
 * A hospital's own codes (`PUT /v1/hospitals/{id}/code-map`), read before the national ones. It applies to messages
 * received after it is set: ingestion classifies each message once, with the map in force then.
 */
export interface CodeMap {
  dischargeMethod?: Record<string, MethodCategory>;
  dischargeDestination?: Record<string, DestinationCategory>;
}

/** `table[key]` when the table itself has it (a code such as `toString` must not find Object.prototype's). */
function own<T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return table !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** PV1-37 → category: the hospital's map first, then the national codes; anything else (or empty) is `unknown`. */
export function destinationCategory(code: string | undefined, map?: CodeMap | null): DestinationCategory {
  if (code === undefined || code.trim() === '') return 'unknown';
  const c = code.trim();
  return own(map?.dischargeDestination, c) ?? own(DESTINATION_CODES, c) ?? 'unknown';
}

/** PV1-36 → true when the method says the patient died (hospital map first, then 4 and 5). */
export function methodSaysDied(code: string | undefined, map?: CodeMap | null): boolean {
  if (code === undefined || code.trim() === '') return false;
  const c = code.trim();
  const mapped = own(map?.dischargeMethod, c);
  if (mapped !== undefined) return mapped === 'died';
  return DEATH_METHODS.has(c);
}

/** Which death signals a message carries (CONTRACT.md "Death"); empty when none. */
export type DeathSignal = 'discharge-method' | 'discharge-destination' | 'death-indicator' | 'death-date';

/**
 * The death signals of one message: PV1-36 4/5 (or mapped `died`), PV1-37 79 (or mapped `died`), PID-30 `Y`,
 * PID-29 present.
 */
export function deathSignals(input: {
  method?: string;
  destination?: string;
  indicator?: string;
  deceasedAt?: string;
  map?: CodeMap | null;
}): DeathSignal[] {
  const out: DeathSignal[] = [];
  if (methodSaysDied(input.method, input.map)) out.push('discharge-method');
  if (input.destination !== undefined && destinationCategory(input.destination, input.map) === 'died') {
    out.push('discharge-destination');
  }
  if (input.indicator?.trim().toUpperCase() === 'Y') out.push('death-indicator');
  if (input.deceasedAt !== undefined && input.deceasedAt !== '') out.push('death-date');
  return out;
}

/**
 * MSH-11 processing ID: `P` (or empty) is live traffic; `T` (training) and `D` (debugging) are stored and
 * acknowledged but never touch a live stay and never alert anyone.
 */
export function isLiveProcessingId(processingId: string | undefined): boolean {
  const p = (processingId ?? '').trim().toUpperCase();
  return p === '' || p === 'P';
}

/**
 * Why an admission is as it is, for operators (admission view `statusReasonCode`). Each has a sentence
 * ({@link statusReasonText}).
 */
export type StatusReasonCode =
  | 'invalid-nhs-number'
  | 'no-nhs-number'
  | 'no-date-of-birth'
  | 'date-of-birth-mismatch'
  | 'newer-stay-open'
  | 'closed-by-operator'
  | 'stay-expired';
export const STATUS_REASON_CODES: readonly StatusReasonCode[] = [
  'invalid-nhs-number',
  'no-nhs-number',
  'no-date-of-birth',
  'date-of-birth-mismatch',
  'newer-stay-open',
  'closed-by-operator',
  'stay-expired',
];

export function statusReasonText(code: StatusReasonCode, detail?: string): string {
  switch (code) {
    case 'invalid-nhs-number':
      return detail ?? 'the NHS number fails the modulus 11 check';
    case 'no-nhs-number':
      return 'no NHS number in PID-3 or PID-2';
    case 'no-date-of-birth':
      return 'no date of birth (PID-7) to confirm the match';
    case 'date-of-birth-mismatch':
      return "the NHS number is a registered client's, but the date of birth differs from the provider's registration";
    case 'newer-stay-open':
      return 'discharged while a newer stay of the same person is open: no discharge alert (the person is in hospital)';
    case 'closed-by-operator':
      return 'closed by an operator';
    case 'stay-expired':
      return 'no discharge arrived within the longest stay the service follows (MAX_STAY_DAYS): closed without one';
  }
}

/** Why an alert was withdrawn (alerts.withdrawn_reason). */
export type WithdrawnReason =
  | 'superseded-by-discharge'
  | 'superseded-by-death'
  | 'admission-cancelled'
  | 'discharge-cancelled'
  | 'wrong-patient'
  | 'newer-stay-open'
  | 'closed-by-operator'
  | 'stay-expired';

/** Sentences stored by earlier versions, read back as codes (histories and rows recorded before codes). */
const LEGACY_WITHDRAWN: Readonly<Record<string, WithdrawnReason>> = {
  'superseded by the discharge (A03)': 'superseded-by-discharge',
  'admission cancelled by the hospital (A11)': 'admission-cancelled',
  'discharge cancelled by the hospital (A13)': 'discharge-cancelled',
};

/** A stored withdrawal reason as a code, whether it was stored as a code or (before codes) as a sentence. */
export function withdrawnReasonCode(stored: string | null | undefined): WithdrawnReason | undefined {
  if (stored === null || stored === undefined || stored === '') return undefined;
  return LEGACY_WITHDRAWN[stored] ?? (stored as WithdrawnReason);
}

export function withdrawnReasonText(code: WithdrawnReason): string {
  switch (code) {
    case 'superseded-by-discharge':
      return 'superseded by the discharge';
    case 'superseded-by-death':
      return 'replaced by a death alert: the hospital reported that the patient died';
    case 'admission-cancelled':
      return 'the hospital cancelled the admission (A11)';
    case 'discharge-cancelled':
      return 'the hospital cancelled the discharge (A13)';
    case 'wrong-patient':
      return "the hospital corrected the patient's details: this alert was about someone else";
    case 'newer-stay-open':
      return 'the person has a newer hospital stay';
    case 'closed-by-operator':
      return 'closed by an operator';
    case 'stay-expired':
      return 'the stay was closed after the longest stay the service follows, with no discharge';
  }
}

/** What a `cancellation` alert cancels (webhook `cancels`, alerts.cancels). */
export type CancelsCode = 'admission' | 'discharge' | 'wrong-patient' | 'replaced-by-death';

/**
 * HL7 triggers that may change who the patient is (NHS number, date of birth): a stay that sees one is matched
 * again (CONTRACT.md "Identity corrections").
 */
export const IDENTITY_TRIGGERS: ReadonlySet<string> = new Set(['A08', 'A31', 'A34', 'A40', 'A47']);
