/**
 * The words providers are told (CONTRACT.md "What the provider is told" and "Words"), made from codes: the alert
 * kind, what a cancellation cancels and where a discharged patient went. Nothing here is read back to decide.
 */
import type { AckOutcome, AlertKind } from './admission-event.js';
import type { CancelsCode, DestinationCategory } from './clinical.js';

/** What an alert says beyond its kind. */
export interface AlertMeaning {
  /** cancellation alerts: what they cancel */
  cancels?: CancelsCode | null;
  /** discharge alerts: where the patient went (missing: not known) */
  destinationCategory?: DestinationCategory | null;
}

/**
 * What a `cancellation` alert cancels, from the alert key it was raised under: for alerts stored before
 * `cancels` was recorded (src/domain/alert-plan.ts keys). Undefined for any other key.
 */
export function cancelledEvent(alertKey: string): CancelsCode | undefined {
  if (alertKey.startsWith('discharge-cancelled#')) return 'discharge';
  if (alertKey.startsWith('cancellation#')) return 'admission';
  if (alertKey.startsWith('wrong-patient#')) return 'wrong-patient';
  if (alertKey.startsWith('discharge-replaced#')) return 'replaced-by-death';
  return undefined;
}

/**
 * What a stored alert means: its codes, or for alerts stored before codes, what its key says. A death alert's
 * destination is `died`.
 */
export function meaningOfAlert(a: {
  kind: AlertKind;
  alertKey: string;
  cancels: CancelsCode | null;
  destinationCategory: DestinationCategory | null;
}): AlertMeaning {
  return {
    cancels: a.cancels ?? (a.kind === 'cancellation' ? (cancelledEvent(a.alertKey) ?? null) : null),
    destinationCategory: a.kind === 'death' ? 'died' : a.destinationCategory,
  };
}

/**
 * Plain words that complete the sentence "Your client was …" (SMS and email `event` personalisation, pages), and
 * read on with "at <hospital>". No patient data.
 */
export function eventWords(kind: AlertKind, meaning: AlertMeaning = {}): string {
  switch (kind) {
    case 'admission':
      return 'admitted to hospital';
    case 'discharge':
      switch (meaning.destinationCategory ?? 'unknown') {
        case 'home':
          return 'discharged home';
        case 'care-home':
          return 'discharged to a care home or hospice';
        case 'hospital':
          return 'moved to another hospital';
        case 'died':
          return 'reported to have died in hospital';
        case 'unknown':
          return 'discharged, destination not known: check before resuming visits';
      }
      break;
    case 'death':
      return 'reported to have died in hospital';
    case 'cancellation':
      switch (meaning.cancels) {
        case 'admission':
          return 'not admitted after all: the hospital cancelled the admission';
        case 'discharge':
          return 'not discharged after all (still in hospital): the hospital cancelled the discharge';
        case 'wrong-patient':
          return "named in an alert sent in error: the hospital corrected the patient's details";
        case 'replaced-by-death':
          return 'reported to have died in hospital: this replaces the earlier discharge alert';
        case null:
        case undefined:
          return 'the subject of a hospital message that has been cancelled: see the earlier alert';
      }
      break;
    case 'transfer':
      return 'moved to another ward';
  }
}

/**
 * What the link page and the alert view say next, for a person deciding what to do: the consequence for visits.
 * Undefined when the event words say enough.
 */
export function adviceWords(kind: AlertKind, meaning: AlertMeaning = {}): string | undefined {
  if (kind === 'death') return 'Care at home has ended. Do not resume visits.';
  if (kind === 'discharge') {
    switch (meaning.destinationCategory ?? 'unknown') {
      case 'home':
        return 'Your client is going home: resume visits as agreed with the hospital.';
      case 'care-home':
        return 'Care at home may not resume: check with the hospital or the care home before visiting.';
      case 'hospital':
        return 'Your client is still an inpatient, at another hospital: keep visits paused.';
      case 'died':
        return 'Care at home has ended. Do not resume visits.';
      case 'unknown':
        return 'The hospital did not say where your client went: check before resuming visits.';
    }
  }
  if (kind === 'cancellation') {
    switch (meaning.cancels) {
      case 'discharge':
        return 'Your client is still in hospital: keep visits paused.';
      case 'wrong-patient':
        return 'The earlier alert was not about your client: disregard it.';
      case 'replaced-by-death':
        return 'The earlier discharge alert was wrong. Do not resume visits.';
      case 'admission':
      case null:
      case undefined:
        return undefined;
    }
  }
  return undefined;
}

/** The outcome recorded (and pre-selected on the link page) when the person acknowledging does not choose one. */
export function defaultOutcome(kind: AlertKind, meaning: AlertMeaning = {}): AckOutcome {
  switch (kind) {
    case 'admission':
      return 'visits-paused';
    case 'death':
      return 'care-ended';
    case 'discharge':
      switch (meaning.destinationCategory ?? 'unknown') {
        case 'home':
          return 'visits-resumed';
        case 'hospital':
          return 'visits-paused';
        case 'died':
          return 'care-ended';
        case 'care-home':
        case 'unknown':
          return 'noted';
      }
      break;
    case 'cancellation':
    case 'transfer':
      return 'noted';
  }
}

/** Every outcome the API knows, in the order pages offer them. */
export const ACK_OUTCOMES: readonly AckOutcome[] = [
  'visits-paused',
  'visits-resumed',
  'not-our-client',
  'noted',
  'care-ended',
];

/**
 * The outcomes a person may record for an alert: a death alert never offers "visits resumed" (only `care-ended`
 * and `noted`); a move to another hospital never offers "visits resumed" (the person is still an inpatient).
 */
export function allowedOutcomes(kind: AlertKind, meaning: AlertMeaning = {}): readonly AckOutcome[] {
  if (kind === 'death' || (kind === 'discharge' && meaning.destinationCategory === 'died'))
    return ['care-ended', 'noted'];
  if (kind === 'discharge' && meaning.destinationCategory === 'hospital') {
    return ['visits-paused', 'care-ended', 'not-our-client', 'noted'];
  }
  if (kind === 'cancellation' && meaning.cancels === 'replaced-by-death') return ['care-ended', 'noted'];
  if (kind === 'cancellation' && meaning.cancels === 'discharge') return ['visits-paused', 'not-our-client', 'noted'];
  // an admission or a move: care has not ended (the person is in hospital)
  if (kind === 'admission' || kind === 'transfer') return ACK_OUTCOMES.filter((o) => o !== 'care-ended');
  return ACK_OUTCOMES;
}

/** Plain words for an outcome (pages, reports). */
export function outcomeWords(outcome: AckOutcome): string {
  switch (outcome) {
    case 'visits-paused':
      return 'Visits paused';
    case 'visits-resumed':
      return 'Visits resumed';
    case 'care-ended':
      return 'Care ended';
    case 'not-our-client':
      return 'Not our client';
    case 'noted':
      return 'Noted';
  }
}
