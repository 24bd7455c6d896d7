/**
 * What the service answers about one message, whatever the protocol (pure): accepted, refused (and why), or
 * "retry later". The HL7 adapter (hl7-answer.ts) writes a decision as an ACK, the FHIR adapter (fhir-answer.ts) as
 * an OperationOutcome; CONTRACT.md "Hospitals send ADT events" and "FHIR R4" say which outcome gets which answer.
 */
import type { AdmissionEvent, EventKind } from '../domain/admission-event.js';
import { isLiveProcessingId } from '../domain/clinical.js';
import { HEADER_ERRORS, type InputError, type InputErrorCode } from '../domain/errors.js';
import { admissionWorkflowId } from '../domain/summary.js';
import type { StoreOutcome } from '../db/messages.js';
import { ackErrorFrom, errorCodeFor, type AckError, type AckOutcome } from '../hl7/ack.js';

export interface Decision {
  outcome: AckOutcome;
  httpStatus: number;
  /** the ERR segments of an ACK; an OperationOutcome says the same in its own words */
  errors: AckError[];
}

/** Stored: AA (CA), 200. */
export const ACCEPTED: Decision = { outcome: 'accept', httpStatus: 200, errors: [] };

/** Nothing could be stored now (PostgreSQL is down): AR (CR), 503, ERR 207 "retry later". Never AA. */
export const UNAVAILABLE: Decision = {
  outcome: 'reject',
  httpStatus: 503,
  errors: [{ hl7Code: '207', message: 'The service cannot store messages right now: retry later' }],
};

/** The HTTP status of a refused input: 403 not this key's hospital, 400 other header errors, 422 content errors. */
export function statusForInputError(err: InputError): 400 | 403 | 422 {
  if (err.code === 'sender-mismatch') return 403;
  return HEADER_ERRORS.has(err.code) ? 400 : 422;
}

/** A refused input: a header error is rejected (AR, CR), a content error is an error (AE, CE). */
export function refused(err: InputError): Decision {
  return {
    outcome: HEADER_ERRORS.has(err.code) ? 'reject' : 'error',
    httpStatus: statusForInputError(err),
    errors: [ackErrorFrom(err)],
  };
}

/** A caller without a hospital key (401 none or unknown, 403 another kind): AR (CR), ERR 204. */
export function notAuthenticated(httpStatus: 401 | 403 | 429, message: string): Decision {
  return { outcome: 'reject', httpStatus, errors: [{ hl7Code: '204', message }] };
}

/**
 * The answer once the message was stored (or found stored): what was decided before storing, for a new message;
 * 409 (ERR 205 at MSH-10) for a control id this hospital already used for another message; and for an exact resend,
 * the outcome stored with the first one, so nothing is done twice.
 */
export function afterStore(
  stored: StoreOutcome,
  decided: Decision,
  controlId: string,
): { decision: Decision; messageId?: string } {
  switch (stored.kind) {
    case 'stored':
      return { decision: decided, messageId: stored.id };
    case 'conflict':
      return {
        decision: {
          outcome: 'error',
          httpStatus: 409,
          errors: [
            {
              hl7Code: '205',
              location: 'MSH-10',
              message: `MSH-10 ${controlId} was already used by this hospital for a different message`,
            },
          ],
        },
      };
    case 'resend':
      if (stored.accepted) return { decision: ACCEPTED, messageId: stored.id };
      return {
        decision: {
          outcome: 'error',
          httpStatus: stored.httpStatus,
          errors: [
            {
              hl7Code: stored.errorCode ? errorCodeFor(stored.errorCode as InputErrorCode).hl7Code : '207',
              message: stored.errorReason ?? 'rejected',
              ...(stored.errorLocation ? { location: stored.errorLocation } : {}),
            },
          ],
        },
        messageId: stored.id,
      };
  }
}

/**
 * Person-level kinds (A31 without a visit, A34, A40, A47) that the relay hands to the patient's other open stays
 * at the hospital; they are relayed even without a PV1-19 stay of their own.
 */
export const FAN_OUT_KINDS: ReadonlySet<EventKind> = new Set<EventKind>(['identity', 'merge']);

/**
 * What the relay gets of an accepted event: a live one (MSH-11 `P` or empty) with a PV1-19 belongs to its spell's
 * stay (whose admission row is upserted with the message); a live identity or merge event without one is
 * person-level (handed to the patient's other open stays). Training (`T`) and debugging (`D`) messages reach no
 * stay.
 */
export function relayRoute(
  event: AdmissionEvent | undefined,
  processingId: string,
): { stay: { hospitalOds: string; visitNumber: string; workflowId: string } | null; personLevel: boolean } {
  const live = isLiveProcessingId(processingId);
  if (!live || event === undefined) return { stay: null, personLevel: false };
  const visit = event.visitNumber || null;
  return {
    stay: visit
      ? {
          hospitalOds: event.hospitalOds,
          visitNumber: visit,
          workflowId: admissionWorkflowId(event.hospitalOds, visit),
        }
      : null,
    personLevel: FAN_OUT_KINDS.has(event.kind),
  };
}
