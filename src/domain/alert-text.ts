import type { AckOutcome, AlertKind } from './admission-event.js';

/**
 * What a `cancellation` alert cancels, from its alert key (src/domain/alert-plan.ts): `cancellation#<n>` is an
 * admission cancelled by an A11 (the client is not in hospital), `discharge-cancelled#<n>` a discharge undone by an
 * A13 (the client is still in hospital: visits must not resume). Undefined for any other key.
 */
export function cancelledEvent(alertKey: string): 'admission' | 'discharge' | undefined {
  if (alertKey.startsWith('discharge-cancelled#')) return 'discharge';
  if (alertKey.startsWith('cancellation#')) return 'admission';
  return undefined;
}

/**
 * Plain words for what happened, used in SMS/email personalisation and pages, to read after "Your client was" and
 * before "at <hospital>". No patient data. A cancellation says what it cancels when given the alert key; without
 * it the words are true of both kinds of cancellation (an A11 and an A13 mean opposite things for visits).
 */
export function eventWords(kind: AlertKind, alertKey?: string): string {
  switch (kind) {
    case 'admission':
      return 'admitted to hospital';
    case 'discharge':
      return 'discharged from hospital';
    case 'death':
      return 'died in hospital';
    case 'cancellation': {
      const cancels = alertKey === undefined ? undefined : cancelledEvent(alertKey);
      if (cancels === 'admission') return 'not admitted after all: the hospital cancelled the admission';
      if (cancels === 'discharge') return 'not discharged after all (still in hospital): the hospital cancelled the discharge';
      return 'the subject of a hospital message that has been cancelled: see the earlier alert';
    }
    case 'transfer':
      return 'moved to another ward';
  }
}

/** The outcome recorded when the person acknowledging does not choose one (CONTRACT.md). */
export function defaultOutcome(kind: AlertKind): AckOutcome {
  return kind === 'discharge' ? 'visits-resumed' : kind === 'admission' ? 'visits-paused' : 'noted';
}

export const ACK_OUTCOMES: readonly AckOutcome[] = ['visits-paused', 'visits-resumed', 'not-our-client', 'noted'];
