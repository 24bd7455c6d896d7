/**
 * The one internal shape every inbound ADT message (HL7 v2 or FHIR) becomes. Everything inward of
 * `src/hl7` and `src/fhir` speaks this, never raw HL7 or FHIR.
 */

import type { DeathSignal, DestinationCategory } from './clinical.js';

/** What an event does to a hospital spell (CONTRACT.md "Event meanings"). */
export type EventKind =
  | 'admit' // A01, A04 with PV1-2 = I, A06, FHIR in-progress
  | 'pre-admit' // A05 (no alert on its own; an A01 follows)
  | 'transfer' // A02
  | 'cancel-transfer' // A12
  | 'discharge' // A03, FHIR finished
  | 'cancel-discharge' // A13
  | 'cancel-admit' // A11, FHIR entered-in-error
  | 'update' // A08 (and A04 for a non-inpatient, A31-like demographics updates)
  | 'leave' // A21
  | 'return' // A22
  | 'merge' // A40 merge patient (MRG names the merged patient); no spell effect, the stays follow the survivor
  | 'identity' // A31 without a visit, A34, A47: person identity update or correction; no spell effect
  | 'other'; // any other ADT trigger: stored, no effect

export interface Location {
  /** PV1-3.1 point of care, e.g. RX1WD12 */
  pointOfCare?: string;
  /** PV1-3.2 room */
  room?: string;
  /** PV1-3.3 bed */
  bed?: string;
  /** PV1-3.4 facility */
  facility?: string;
  /** PV1-3.9 location description, e.g. "Ward 12 Elderly Care" */
  description?: string;
  /** what a person would call the ward: description, else point of care */
  ward?: string;
}

export interface PatientIdentity {
  /** NHS number as sent, spaces removed; null when none found */
  nhsNumber: string | null;
  /** true when nhsNumber passes the modulus 11 check */
  nhsNumberValid: boolean;
  /** why the NHS number is unusable (missing, bad check digit, wrong length), for operators */
  nhsNumberProblem?: string;
  /** local identifiers (e.g. MRN) as `value^authority`, for operators; never used for matching */
  otherIdentifiers?: string[];
  familyName?: string;
  givenName?: string;
  /** YYYY-MM-DD (PID-7) */
  dateOfBirth?: string;
  /** ISO 8601 instant (PID-29) */
  deceasedAt?: string;
  /**
   * The message says the patient died (CONTRACT.md "Death"): PV1-36 4/5, PV1-37 79 (or the hospital's code map
   * says `died`), PID-30 `Y`, or PID-29 present. False when PID-30 is `N` and nothing else says so.
   */
  deceased?: boolean;
  /** which of those signals the message carries */
  deathSignals?: DeathSignal[];
}

export interface AdmissionEvent {
  source: 'hl7' | 'fhir';
  /** HL7 trigger event (MSH-9.2 / EVN-1), e.g. "A01"; FHIR: "FHIR-in-progress" etc. */
  trigger: string;
  kind: EventKind;
  /** sending hospital ODS code: MSH-4 (HD.1), FHIR serviceProvider */
  hospitalOds: string;
  /** hospital spell number: PV1-19 (CX.1); FHIR Encounter.identifier.value */
  visitNumber: string;
  /** MSH-10; for FHIR a stable id derived from the resource */
  messageControlId: string;
  /** when it happened, ISO 8601 UTC: EVN-2 (else EVN-6, else MSH-7) */
  eventAt: string;
  /** MSH-7 as ISO 8601 UTC */
  messageAt: string;
  /** PV1-2 patient class (I inpatient, E emergency, O outpatient, ...) */
  patientClass?: string;
  patient: PatientIdentity;
  location?: Location;
  /** A02/A12: PV1-6 prior location */
  priorLocation?: Location;
  /** PV1-44 admit date/time, ISO 8601 UTC */
  admittedAt?: string;
  /** PV1-45 discharge date/time, ISO 8601 UTC */
  dischargedAt?: string;
  /**
   * PV1-36 discharge method (NHS Data Dictionary: 1 clinical advice, 4 died, ...), PV1-37 destination, and the
   * destination's category as classified at ingestion (national codes, or the hospital's code map then in force)
   */
  discharge?: DischargeDetails;
  /** PV2-9 expected discharge date (YYYY-MM-DD) */
  expectedDischargeDate?: string;
  /** A34/A40/A47: the merged (prior) patient's identifiers from MRG-1 (and MRG-2), as `value^authority` or value */
  mergedFrom?: string[];
  /** MSH-11.1 processing ID (`P` live, `T` training, `D` debugging); FHIR: `P` */
  processingId?: string;
}

export interface DischargeDetails {
  method?: string;
  destination?: string;
  destinationCategory?: DestinationCategory;
}

/**
 * The small, patient-free summary of an event that travels to the admission workflow as a signal.
 * No NHS number, name or date of birth: the workflow asks an activity for those when it needs them.
 */
export interface EventSummary {
  /** inbound message row id */
  messageId: string;
  messageControlId: string;
  trigger: string;
  kind: EventKind;
  eventAt: string;
  messageAt: string;
  /** ISO instant the service received it; the last tie-breaker when ordering */
  receivedAt: string;
  patientClass?: string;
  location?: Location;
  admittedAt?: string;
  dischargedAt?: string;
  discharge?: DischargeDetails;
  /** the message says the patient died (any of the four signals) */
  deceased?: boolean;
  /** PID-29 date/time of death, ISO 8601 */
  deceasedAt?: string;
  expectedDischargeDate?: string;
}

/** Admission status as operators and providers see it (CONTRACT.md `GET /v1/admissions/{id}`). */
export type AdmissionStatus =
  | 'received'
  | 'no-care-package'
  | 'unmatched'
  | 'alerting'
  | 'acknowledged'
  | 'unacknowledged'
  | 'discharged'
  | 'closed'
  | 'cancelled';

export type AlertKind = 'admission' | 'discharge' | 'death' | 'cancellation' | 'transfer';
export type AlertStatus = 'open' | 'acknowledged' | 'unacknowledged' | 'withdrawn';
export type AckOutcome = 'visits-paused' | 'visits-resumed' | 'not-our-client' | 'noted' | 'care-ended';
export type Channel = 'sms' | 'email' | 'webhook';
