import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { InputError, InputErrorCode } from '../domain/errors.js';

/** FHIR R4 IssueType (http://hl7.org/fhir/R4/valueset-issue-type.html), e.g. `invalid`, `required`, `conflict`. */
export type IssueType = OperationOutcomeIssue['code'];

/** FHIR R4 IssueSeverity. */
export type IssueSeverity = OperationOutcomeIssue['severity'];

export interface OutcomeIssue {
  severity: IssueSeverity;
  /** FHIR issue-type: invalid, required, structure, value, conflict, duplicate, forbidden, transient, exception, ... */
  code: IssueType;
  /** human-readable; never patient data */
  diagnostics: string;
  /** FHIRPath of the element at fault, e.g. `Encounter.subject.identifier` */
  expression?: string[];
  /** this service's own machine-readable code (InputError code), carried in `issue.details.coding` */
  detailCode?: string;
}

/** `issue.details.coding.system` of the service's own error codes (InputErrorCode). */
export const INPUT_ERROR_CODE_SYSTEM = 'urn:admission-alerts:input-error';

/** Builds a FHIR R4 OperationOutcome (http://hl7.org/fhir/R4/operationoutcome.html) from plain issues. */
export function operationOutcome(issues: OutcomeIssue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i): OperationOutcomeIssue => {
      const issue: OperationOutcomeIssue = { severity: i.severity, code: i.code, diagnostics: i.diagnostics };
      if (i.detailCode !== undefined) {
        issue.details = { coding: [{ system: INPUT_ERROR_CODE_SYSTEM, code: i.detailCode }], text: i.detailCode };
      }
      if (i.expression !== undefined && i.expression.length > 0) issue.expression = [...i.expression];
      return issue;
    }),
  };
}

const ISSUE_TYPE_FOR: Record<InputErrorCode, IssueType> = {
  'no-msh': 'structure',
  'unsupported-message-type': 'not-supported',
  'unsupported-version': 'not-supported',
  'unsupported-processing-id': 'not-supported',
  'bad-header': 'required',
  'sender-mismatch': 'forbidden',
  'unknown-sender': 'forbidden',
  'no-patient-identifier': 'required',
  'no-visit-number': 'required',
  'bad-date': 'value',
  'bad-segment': 'structure',
  invalid: 'invalid',
};

/**
 * The OperationOutcome answering a rejected input: one `error` issue whose type follows the InputError code
 * (missing field → `required`, bad date → `value`, wrong sender → `forbidden`, ...), whose `expression` is the
 * error's location and whose `details.coding` carries the InputError code itself.
 */
export function outcomeForInputError(err: InputError): OperationOutcome {
  return operationOutcome([
    {
      severity: 'error',
      code: ISSUE_TYPE_FOR[err.code],
      diagnostics: err.message,
      ...(err.location !== undefined ? { expression: [err.location] } : {}),
      detailCode: err.code,
    },
  ]);
}

/** The OperationOutcome answering an accepted (durably stored) Encounter: one `information` issue. */
export function acceptedOutcome(message: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', diagnostics: message }]);
}
