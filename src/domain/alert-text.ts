import type { AckOutcome, AlertKind } from './admission-event.js';

/** Plain words for what happened, used in SMS/email personalisation and pages. No patient data. */
export function eventWords(kind: AlertKind): string {
  switch (kind) {
    case 'admission':
      return 'admitted to hospital';
    case 'discharge':
      return 'discharged from hospital';
    case 'death':
      return 'died in hospital';
    case 'cancellation':
      return 'no longer in hospital: the hospital cancelled the earlier event';
    case 'transfer':
      return 'moved to another ward';
  }
}

/** The outcome recorded when the person acknowledging does not choose one (CONTRACT.md). */
export function defaultOutcome(kind: AlertKind): AckOutcome {
  return kind === 'discharge' ? 'visits-resumed' : kind === 'admission' ? 'visits-paused' : 'noted';
}

export const ACK_OUTCOMES: readonly AckOutcome[] = ['visits-paused', 'visits-resumed', 'not-our-client', 'noted'];
