import { describe, expect, it } from 'vitest';
import { InputError } from '../domain/errors.js';
import { ACCEPTED, afterStore, refused } from './decision.js';
import { FHIR_UNAVAILABLE, fhirAfterStore, fhirRefused, fhirStructureProblem } from './fhir-answer.js';

describe('fhir-answer', () => {
  it('a stored Encounter: 200 informational naming the stored message', () => {
    expect(fhirAfterStore(ACCEPTED, '5', 'fhir-enc-1-v1')).toEqual({
      httpStatus: 200,
      messageId: '5',
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'information', code: 'informational', diagnostics: 'Stored as message 5' }],
      },
    });
  });

  it('an id and version sent before with other content: 409 conflict at meta.versionId', () => {
    const { decision } = afterStore({ kind: 'conflict' }, ACCEPTED, 'fhir-enc-1-v1');
    const r = fhirAfterStore(decision, undefined, 'fhir-enc-1-v1');
    expect(r.httpStatus).toBe(409);
    expect(r.outcome.issue?.[0]).toMatchObject({
      code: 'conflict',
      diagnostics: expect.stringMatching(/^Encounter enc-1-v1 was already sent/),
      expression: ['Encounter.meta.versionId'],
      details: { text: 'duplicate-control-id' },
    });
  });

  it('a refused Encounter gets the status of the one mapping and the issue type of its code', () => {
    const err = new InputError('sender-mismatch', 'not yours', 'Encounter.serviceProvider');
    expect(fhirRefused(err)).toMatchObject({
      httpStatus: refused(err).httpStatus,
      outcome: { issue: [{ code: 'forbidden', expression: ['Encounter.serviceProvider'] }] },
    });
    expect(fhirRefused(new InputError('no-visit-number', 'x')).httpStatus).toBe(422);
  });

  it('structure problems are 400 at their expression; "retry later" is 503 transient', () => {
    expect(fhirStructureProblem('The body is not valid JSON', 'Encounter')).toEqual({
      httpStatus: 400,
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'structure',
            diagnostics: 'The body is not valid JSON',
            expression: ['Encounter'],
          },
        ],
      },
    });
    expect(FHIR_UNAVAILABLE).toMatchObject({ httpStatus: 503, outcome: { issue: [{ code: 'transient' }] } });
  });
});
