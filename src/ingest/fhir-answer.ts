/** The FHIR R4 adapter: a {@link Decision} (and FHIR's own refusals) written as the OperationOutcome a sender gets. */
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { InputError } from '../domain/errors.js';
import { acceptedOutcome, operationOutcome, outcomeForInputError, type IssueType } from '../fhir/outcome.js';
import { statusForInputError, type Decision } from './decision.js';

export interface FhirResult {
  httpStatus: number;
  outcome: OperationOutcome;
  messageId?: string;
}

/** One `error` issue with this status. */
export function fhirError(httpStatus: number, code: IssueType, diagnostics: string, expression?: string): FhirResult {
  return {
    httpStatus,
    outcome: operationOutcome([
      { severity: 'error', code, diagnostics, ...(expression !== undefined ? { expression: [expression] } : {}) },
    ]),
  };
}

/** Nothing could be stored now: 503 `transient`, "retry later". */
export const FHIR_UNAVAILABLE: FhirResult = fhirError(
  503,
  'transient',
  'The service cannot store messages right now: retry later',
);

/** Something unexpected (logged): 500 `exception`. */
export const FHIR_EXCEPTION: FhirResult = fhirError(500, 'exception', 'Something went wrong; it has been logged');

/** A body that is no readable resource: 400 `structure` at `expression`. */
export function fhirStructureProblem(diagnostics: string, expression: string): FhirResult {
  return fhirError(400, 'structure', diagnostics, expression);
}

/** An Encounter refused for what it says: the status of {@link statusForInputError}, the issue of its code. */
export function fhirRefused(err: InputError): FhirResult {
  return { httpStatus: statusForInputError(err), outcome: outcomeForInputError(err) };
}

/**
 * The answer once the Encounter was stored (or found stored): 200 `informational` naming the stored message; 409
 * `conflict` for an id and version this hospital sent before with other content; else what the stored first one got.
 */
export function fhirAfterStore(d: Decision, messageId: string | undefined, controlId: string): FhirResult {
  if (d.outcome === 'accept') {
    return { httpStatus: 200, outcome: acceptedOutcome(`Stored as message ${messageId}`), messageId };
  }
  if (d.httpStatus === 409) {
    return {
      httpStatus: 409,
      outcome: operationOutcome([
        {
          severity: 'error',
          code: 'conflict',
          diagnostics: `Encounter ${controlId.replace(/^fhir-/, '')} was already sent by this hospital with different content: give a changed resource a new meta.versionId`,
          expression: ['Encounter.meta.versionId'],
          detailCode: 'duplicate-control-id',
        },
      ]),
    };
  }
  return fhirError(d.httpStatus, 'invalid', d.errors[0]?.message ?? 'rejected');
}
